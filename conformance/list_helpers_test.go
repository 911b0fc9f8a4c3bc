package conformance

import (
	"encoding/json"
	"testing"

	"github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/packages/pagination"
	"github.com/cloudflare/cloudflare-go/v6/zero_trust"
)

type (
	listParams = zero_trust.DeviceRegistrationListParams
	listItem   = zero_trust.DeviceRegistrationListResponse
	listPage   = pagination.CursorPagination[listItem]
)

// maxPages bounds every paging loop, so that a server whose cursors never end
// fails the test instead of hanging it.
const maxPages = 200

// listAll pages through a list by hand with p (whose PerPage must be set) and
// returns every item. It checks each page: count agrees with the items, per_page
// echoes the request, only the last page is short, and total_count, when given,
// agrees with what the pages hold.
func listAll(t *testing.T, c *cloudflare.Client, p listParams) []listItem {
	t.Helper()
	perPage := p.PerPage.Value
	page, err := c.ZeroTrust.Devices.Registrations.List(testContext(t), p)
	mustSucceed(t, err, "list registrations")

	var items []listItem
	var totals []int64
	for n := 0; page != nil; n++ {
		if n == maxPages {
			t.Fatalf("list did not end after %d pages", maxPages)
		}
		info := page.ResultInfo
		if info.Count != int64(len(page.Result)) || info.PerPage != perPage {
			t.Errorf("page %d: result_info count=%d per_page=%d, want %d and %d",
				n, info.Count, info.PerPage, len(page.Result), perPage)
		}
		if int64(len(page.Result)) > perPage {
			t.Errorf("page %d holds %d items, more than per_page %d", n, len(page.Result), perPage)
		}
		if info.Cursor != "" && int64(len(page.Result)) < perPage && len(page.Result) > 0 {
			t.Errorf("page %d holds %d items, fewer than per_page %d, but has a next cursor",
				n, len(page.Result), perPage)
		}
		checkResultArray(t, page)
		if total, ok := totalCount(t, page); ok {
			totals = append(totals, total)
		}
		items = append(items, page.Result...)
		page, err = page.GetNextPage()
		mustSucceed(t, err, "get next page")
	}
	for _, total := range totals {
		if total != int64(len(items)) {
			t.Errorf("result_info.total_count = %d, but the pages hold %d items",
				total, len(items))
		}
	}
	return items
}

// listAuto lists with the SDK's auto-pager and returns the ids it yields.
func listAuto(t *testing.T, c *cloudflare.Client, p listParams) []string {
	t.Helper()
	iter := c.ZeroTrust.Devices.Registrations.ListAutoPaging(testContext(t), p)
	var ids []string
	for iter.Next() {
		if len(ids) == maxPages*int(p.PerPage.Value) {
			t.Fatalf("auto-pager did not end after %d items", len(ids))
		}
		ids = append(ids, iter.Current().ID)
	}
	mustSucceed(t, iter.Err(), "auto-page registrations")
	return ids
}

// checkResultArray fails t unless the page's result is a JSON array: Cloudflare
// sends [] for an empty page, never null.
func checkResultArray(t *testing.T, page *listPage) {
	t.Helper()
	var body map[string]json.RawMessage
	if err := json.Unmarshal([]byte(page.JSON.RawJSON()), &body); err != nil {
		t.Errorf("list page is not a JSON object: %v", err)
		return
	}
	if firstByte(body["result"]) != '[' {
		t.Errorf("list result is %s, want an array", describe(body["result"]))
	}
	var info map[string]json.RawMessage
	if err := json.Unmarshal(body["result_info"], &info); err != nil {
		t.Errorf("list result_info is %s, want an object", describe(body["result_info"]))
		return
	}
	for _, name := range []string{"count", "cursor", "per_page"} {
		if _, ok := info[name]; !ok {
			t.Errorf("list result_info has no %q: %s", name, body["result_info"])
		}
	}
}

// totalCount returns result_info.total_count when the page carries a number there.
func totalCount(t *testing.T, page *listPage) (int64, bool) {
	t.Helper()
	var body struct {
		ResultInfo struct {
			TotalCount *int64 `json:"total_count"`
		} `json:"result_info"`
	}
	if err := json.Unmarshal([]byte(page.JSON.RawJSON()), &body); err != nil {
		t.Errorf("decode result_info.total_count: %v", err)
		return 0, false
	}
	if body.ResultInfo.TotalCount == nil {
		return 0, false
	}
	return *body.ResultInfo.TotalCount, true
}

func itemIDs(items []listItem) []string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	return ids
}
