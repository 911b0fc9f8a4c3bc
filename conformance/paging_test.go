package conformance

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"slices"
	"testing"

	"github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/option"
	"github.com/cloudflare/cloudflare-go/v6/zero_trust"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestListRejectsBadParameters expects 400 for values out of range or malformed,
// rather than a silently clamped or ignored parameter.
func TestListRejectsBadParameters(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, false)
	f := enrollFleet(t, tn, 7)
	c := tn.client(t)

	tests := []struct {
		name string
		p    listParams
	}{
		{"per_page 0", listParams{PerPage: cloudflare.F(int64(0))}},
		{"per_page 1001", listParams{PerPage: cloudflare.F(int64(1001))}},
		{"per_page negative", listParams{PerPage: cloudflare.F(int64(-1))}},
		{"unknown sort_by", listParams{
			SortBy: cloudflare.F(zero_trust.DeviceRegistrationListParamsSortBy("device.name"))}},
		{"unknown sort_order", listParams{
			SortOrder: cloudflare.F(zero_trust.DeviceRegistrationListParamsSortOrder("up"))}},
		{"unknown status", listParams{
			Status: cloudflare.F(zero_trust.DeviceRegistrationListParamsStatus("gone"))}},
		{"seen_after not a timestamp", listParams{SeenAfter: cloudflare.F("yesterday")}},
		{"seen_before not a timestamp", listParams{SeenBefore: cloudflare.F("2025-13-45")}},
		{"id not a UUID", listParams{ID: cloudflare.F([]string{"not-a-uuid"})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			p.AccountID = cloudflare.F(tn.accountID)
			_, err := c.ZeroTrust.Devices.Registrations.List(testContext(t), p)
			wantAPIError(t, err, http.StatusBadRequest)
		})
	}

	t.Run("per_page 1000", func(t *testing.T) {
		items := listAll(t, c, listParams{
			AccountID: cloudflare.F(tn.accountID), PerPage: cloudflare.F(int64(1000)),
		})
		if diff := cmp.Diff(f.sortedIDs(all), sortedItemIDs(items)); diff != "" {
			t.Errorf("ids (-want +got):\n%s", diff)
		}
	})
}

// TestListCursors checks that a cursor is opaque and guarded, and that paging goes
// on correctly when rows vanish between pages.
func TestListCursors(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, false)
	f := enrollFleet(t, tn, 7)
	c := tn.client(t)
	ids := f.sortedIDs(all)
	p := listParams{
		AccountID: cloudflare.F(tn.accountID),
		PerPage:   cloudflare.F(int64(2)),
		SortBy:    cloudflare.F(zero_trust.DeviceRegistrationListParamsSortByID),
		SortOrder: cloudflare.F(asc),
	}
	first, err := c.ZeroTrust.Devices.Registrations.List(testContext(t), p)
	mustSucceed(t, err, "list first page")
	cursor := first.ResultInfo.Cursor
	if cursor == "" {
		t.Fatalf("first page of %d items with per_page 2 has no cursor", len(ids))
	}

	tampered := []struct{ name, cursor string }{
		{"one character changed", flipChar(cursor, len(cursor)/2)},
		{"first character changed", flipChar(cursor, 0)},
		{"truncated", cursor[:len(cursor)/2]},
		{"extended", cursor + "AAAA"},
		{"garbage", "not-a-cursor!"},
	}
	for _, tt := range tampered {
		t.Run("tampered/"+tt.name, func(t *testing.T) {
			_, err := c.ZeroTrust.Devices.Registrations.List(testContext(t), p,
				option.WithQuery("cursor", tt.cursor))
			wantAPIError(t, err, http.StatusBadRequest)
		})
	}

	// A cursor that names another position must be refused too, or a client could
	// page from any row it likes. Where the cursor carries the last id in plain
	// text under base64, swap in another id and encode it the same way.
	t.Run("tampered/other position", func(t *testing.T) {
		forged, ok := forgeCursor(cursor, ids[1], ids[4])
		if !ok {
			t.Skip("the cursor does not carry the id in plain text under base64")
		}
		_, err := c.ZeroTrust.Devices.Registrations.List(testContext(t), p,
			option.WithQuery("cursor", forged))
		wantAPIError(t, err, http.StatusBadRequest)
	})

	t.Run("exact page size", func(t *testing.T) {
		q := p
		q.PerPage = cloudflare.F(int64(len(ids)))
		if diff := cmp.Diff(ids, itemIDs(listAll(t, c, q))); diff != "" {
			t.Errorf("ids (-want +got):\n%s", diff)
		}
	})

	t.Run("empty page", func(t *testing.T) {
		q := p
		q.Search = cloudflare.F("zz-matches-nothing")
		page, err := c.ZeroTrust.Devices.Registrations.List(testContext(t), q)
		mustSucceed(t, err, "list")
		checkResultArray(t, page)
		if len(page.Result) != 0 || page.ResultInfo.Count != 0 || page.ResultInfo.Cursor != "" {
			t.Errorf("empty list: %d items, count %d, cursor %q; want 0, 0, empty",
				len(page.Result), page.ResultInfo.Count, page.ResultInfo.Cursor)
		}
	})

	// Delete the row the first page ended on and the one after it: the cursor must
	// still lead on to the rows that remain, each once.
	t.Run("rows deleted between pages", func(t *testing.T) {
		if got := itemIDs(first.Result); !cmp.Equal(got, ids[:2]) {
			t.Fatalf("first page = %v, want %v", got, ids[:2])
		}
		_, err := c.ZeroTrust.Devices.Registrations.BulkDelete(testContext(t),
			zero_trust.DeviceRegistrationBulkDeleteParams{
				AccountID: cloudflare.F(tn.accountID), ID: cloudflare.F(ids[1:3]),
			})
		mustSucceed(t, err, "bulk delete")
		var rest []string
		page, err := first.GetNextPage()
		for n := 0; page != nil && err == nil; n++ {
			if n == maxPages {
				t.Fatalf("list did not end after %d pages", maxPages)
			}
			rest = append(rest, itemIDs(page.Result)...)
			page, err = page.GetNextPage()
		}
		mustSucceed(t, err, "get next page")
		if diff := cmp.Diff(ids[3:], rest, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ids after the first page (-want +got):\n%s", diff)
		}
	})
}

// forgeCursor decodes cursor with whichever base64 alphabet it uses, replaces id
// with other, and encodes it again the same way.
func forgeCursor(cursor, id, other string) (string, bool) {
	for _, enc := range []*base64.Encoding{
		base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding,
	} {
		raw, err := enc.DecodeString(cursor)
		if err != nil || !bytes.Contains(raw, []byte(id)) {
			continue
		}
		return enc.EncodeToString(bytes.ReplaceAll(raw, []byte(id), []byte(other))), true
	}
	return "", false
}

// flipChar replaces the character at i with another one of the base64url alphabet.
// The last character of unpadded base64 may carry unused bits, so tests flip others.
func flipChar(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func sortedItemIDs(items []listItem) []string {
	ids := itemIDs(items)
	slices.Sort(ids)
	return ids
}
