package conformance

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/zero_trust"
	gocmp "github.com/google/go-cmp/cmp"
)

// referenceGetPath is the example response of Cloudflare's reference page for
// getting a registration (a revoked and deleted MASQUE registration with its
// policy), kept once, beside the CLI's own import test.
const referenceGetPath = "../cmd/warpreg/testdata/cloudflare-get-registration.json"

// importFile writes body to a file and imports it into account A with the CLI.
func importFile(t *testing.T, tn *tenant, body []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "registrations.json")
	mustSucceed(t, os.WriteFile(path, body, 0o600), "write import file")
	runCLI(t, tn.db, nil, "import", "--account", tn.accountID, path)
}

// TestImportReferenceExample imports Cloudflare's own example and expects the get
// endpoint to give every field back as Cloudflare sent it.
func TestImportReferenceExample(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, false)
	referenceGet, err := os.ReadFile(referenceGetPath)
	mustSucceed(t, err, "read the reference example")
	importFile(t, tn, referenceGet)
	var ref struct{ Result wireRegistration }
	mustSucceed(t, json.Unmarshal(referenceGet, &ref), "decode reference")
	want := ref.Result

	c := tn.client(t)
	got := getRegistration(t, c, tn, want.ID, true)
	diff := gocmp.Diff(want, got, gocmp.Transformer("instant", func(s string) string {
		if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return ts.UTC().Format(time.RFC3339Nano)
		}
		return s
	}))
	if diff != "" {
		t.Errorf("get of the imported example (-reference +got):\n%s", diff)
	}
	withoutPolicy := getRegistration(t, c, tn, want.ID, false)
	if withoutPolicy.DeletedAt == nil || withoutPolicy.RevokedAt == nil {
		t.Errorf("deleted_at %s, revoked_at %s; want both set",
			deref(withoutPolicy.DeletedAt), deref(withoutPolicy.RevokedAt))
	}
	items := listAll(t, c, listParams{
		AccountID: cloudflare.F(tn.accountID),
		PerPage:   cloudflare.F(int64(10)),
		Status:    cloudflare.F(statusAll),
	})
	if len(items) != 0 {
		t.Errorf("the imported example is deleted, but status=all lists %v", itemIDs(items))
	}
}

// TestListTimestampTies imports registrations that share created_at and
// last_seen_at values, which enrolment cannot produce, and expects the ties broken
// by id in the direction of the sort, across page boundaries.
func TestListTimestampTies(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, false)
	const (
		mar, feb, jan = "2025-03-01T10:00:00Z", "2025-02-01T10:00:00Z", "2025-01-05T07:30:00Z"
		at8, at9, day = "2025-04-01T08:00:00Z", "2025-04-01T09:00:00Z", "2025-04-02T00:00:00Z"
	)
	created := []string{mar, mar, mar, feb, feb, feb, jan}
	seen := []string{at8, at9, at8, at9, at8, day, at8}
	regs := importTimed(t, tn, created, seen)
	c := tn.client(t)

	for _, key := range []string{"created_at", "last_seen_at"} {
		stamps := map[string][]string{"created_at": created, "last_seen_at": seen}[key]
		for _, order := range []zero_trust.DeviceRegistrationListParamsSortOrder{asc, desc} {
			t.Run(key+"/"+string(order), func(t *testing.T) {
				want := orderByStamp(regs, stamps, order == desc)
				items := listAll(t, c, listParams{
					AccountID: cloudflare.F(tn.accountID),
					PerPage:   cloudflare.F(int64(2)),
					SortBy:    cloudflare.F(zero_trust.DeviceRegistrationListParamsSortBy(key)),
					SortOrder: cloudflare.F(order),
				})
				if diff := gocmp.Diff(want, itemIDs(items)); diff != "" {
					t.Errorf("ids (-want +got):\n%s", diff)
				}
				checkImportedTimes(t, regs, items)
			})
		}
	}
}

// importTimed imports one registration per pair of created and seen timestamps,
// each with its own device and user, and returns what it imported.
func importTimed(t *testing.T, tn *tenant, created, seen []string) []map[string]any {
	t.Helper()
	var regs []map[string]any
	for i := range created {
		regs = append(regs, map[string]any{
			"id": newUUID(t), "created_at": created[i], "updated_at": created[i],
			"last_seen_at": seen[i], "deleted_at": nil, "revoked_at": nil,
			"device": map[string]any{
				"id": newUUID(t), "name": fmt.Sprintf("Imported %d", i), "client_version": "1.0.0",
			},
			"key": wireguardDevice(t, "", "", "").Key, "key_type": "curve25519",
			"tunnel_type": "wireguard",
			"user": map[string]any{
				"id": newUUID(t), "email": fmt.Sprintf("u%d@example.com", i),
				"name": fmt.Sprintf("User %d", i),
			},
		})
	}
	body, err := json.Marshal(map[string]any{
		"success": true, "errors": []any{}, "messages": []any{}, "result": regs,
		"result_info": map[string]any{"count": len(regs), "cursor": "", "per_page": 50},
	})
	mustSucceed(t, err, "encode list page")
	importFile(t, tn, body)
	return regs
}

// checkImportedTimes checks that listed registrations keep the timestamps they
// were imported with.
func checkImportedTimes(t *testing.T, regs []map[string]any, items []listItem) {
	t.Helper()
	byID := map[string]map[string]any{}
	for _, r := range regs {
		byID[r["id"].(string)] = r
	}
	for _, it := range items {
		r := byID[it.ID]
		if r == nil {
			continue // reported as an order difference
		}
		for name, got := range map[string]string{
			"created_at": it.CreatedAt, "last_seen_at": it.LastSeenAt, "updated_at": it.UpdatedAt,
		} {
			want := parseUTC(t, "imported "+name, r[name].(string))
			if !parseUTC(t, it.ID+" "+name, got).Equal(want) {
				t.Errorf("registration %s: %s = %s, imported as %s", it.ID, name, got, r[name])
			}
		}
	}
}

// orderByStamp returns the ids of regs ordered by (stamp, id), reversed if desc.
func orderByStamp(regs []map[string]any, stamps []string, desc bool) []string {
	idx := make([]int, len(regs))
	for i := range idx {
		idx[i] = i
	}
	id := func(i int) string { return regs[i]["id"].(string) }
	slices.SortFunc(idx, func(a, b int) int {
		return cmp.Or(strings.Compare(stamps[a], stamps[b]), strings.Compare(id(a), id(b)))
	})
	ids := make([]string, len(idx))
	for i, j := range idx {
		ids[i] = id(j)
	}
	if desc {
		slices.Reverse(ids)
	}
	return ids
}
