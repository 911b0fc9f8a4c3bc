package conformance

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/zero_trust"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var sortKeys = []zero_trust.DeviceRegistrationListParamsSortBy{
	zero_trust.DeviceRegistrationListParamsSortByID,
	zero_trust.DeviceRegistrationListParamsSortByUserName,
	zero_trust.DeviceRegistrationListParamsSortByUserEmail,
	zero_trust.DeviceRegistrationListParamsSortByLastSeenAt,
	zero_trust.DeviceRegistrationListParamsSortByCreatedAt,
}

const (
	asc  = zero_trust.DeviceRegistrationListParamsSortOrderAsc
	desc = zero_trust.DeviceRegistrationListParamsSortOrderDesc
)

// TestListSortOrders pages through 20 registrations three at a time for every sort
// key in both directions, by hand and with the SDK's auto-pager, and expects each
// registration exactly once, ordered by (key, id) in the requested direction.
func TestListSortOrders(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, false)
	f := enrollFleet(t, tn, 20)
	c := tn.client(t)

	for _, key := range sortKeys {
		for _, order := range []zero_trust.DeviceRegistrationListParamsSortOrder{asc, desc} {
			t.Run(string(key)+"/"+string(order), func(t *testing.T) {
				p := listParams{
					AccountID: cloudflare.F(tn.accountID),
					PerPage:   cloudflare.F(int64(3)),
					SortBy:    cloudflare.F(key),
					SortOrder: cloudflare.F(order),
				}
				want := f.expectedOrder(string(key), order == desc)
				items := listAll(t, c, p)
				if diff := cmp.Diff(want, itemIDs(items)); diff != "" {
					t.Errorf("ids by hand-paging (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(want, listAuto(t, c, p)); diff != "" {
					t.Errorf("ids by auto-paging (-want +got):\n%s", diff)
				}
				checkVisibleOrder(t, items, string(key), order == desc)
			})
		}
	}
}

// checkVisibleOrder checks that the sort key as the server reports it never goes
// against the order of the list. Timestamps may be reported more coarsely than
// they are kept, so ties in them say nothing about the ids.
func checkVisibleOrder(t *testing.T, items []listItem, key string, desc bool) {
	t.Helper()
	for i := 1; i < len(items); i++ {
		a, b := items[i-1], items[i]
		if desc {
			a, b = b, a
		}
		var c int
		switch key {
		case "user.name":
			c = strings.Compare(a.User.Name, b.User.Name)
		case "user.email":
			c = strings.Compare(a.User.Email, b.User.Email)
		case "created_at":
			c = parseUTC(t, a.ID, a.CreatedAt).Compare(parseUTC(t, b.ID, b.CreatedAt))
		case "last_seen_at":
			c = parseUTC(t, a.ID, a.LastSeenAt).Compare(parseUTC(t, b.ID, b.LastSeenAt))
		}
		if c > 0 {
			t.Errorf("items %d and %d are out of %s order: %s then %s", i-1, i, key, a.ID, b.ID)
		}
	}
}

// filterFleet is a fleet in which some registrations are revoked and one is
// deleted, with the predicates that say which of them a filter must list.
type filterFleet struct {
	*fleet
	revoked map[string]bool
	deleted string
	userIDs map[string]string // by email, as the server reports them
}

func (ff *filterFleet) live(m *member) bool   { return m.reg.ID != ff.deleted }
func (ff *filterFleet) active(m *member) bool { return ff.live(m) && !ff.revoked[m.reg.ID] }

// search is what a case-insensitive search for q over registration id, device
// name, user email and user name must list, by default status.
func (ff *filterFleet) search(q string) func(m *member) bool {
	q = strings.ToLower(q)
	return func(m *member) bool {
		for _, s := range []string{m.reg.ID, m.req.Device.Name, m.req.User.Email, m.req.User.Name} {
			if strings.Contains(strings.ToLower(s), q) {
				return ff.active(m)
			}
		}
		return false
	}
}

func newFilterFleet(t *testing.T, tn *tenant, c *cloudflare.Client) *filterFleet {
	t.Helper()
	ff := &filterFleet{fleet: enrollFleet(t, tn, 16)}
	ms := ff.members
	a := newAdmin(tn, c)
	ff.revoked = map[string]bool{ms[2].reg.ID: true, ms[9].reg.ID: true}
	mustSucceed(t, a.revoke(t, ms[2].reg.ID, ms[9].reg.ID), "revoke")
	ff.deleted = ms[5].reg.ID
	mustSucceed(t, a.delete(t, ff.deleted), "delete")
	ff.userIDs = userIDsByEmail(t, c, tn.accountID)
	return ff
}

type filterCase struct {
	name string
	p    listParams
	want func(m *member) bool
}

// filterCases lists each filter with what it must select from ff.
func filterCases(ff *filterFleet) []filterCase {
	ms := ff.members
	in := func(set ...*member) func(m *member) bool {
		return func(m *member) bool { return slices.Contains(set, m) }
	}
	usersIn := func(emails ...string) func(m *member) bool {
		return func(m *member) bool { return slices.Contains(emails, m.req.User.Email) }
	}
	amelia, bruno, chiara := fleetUsers[0].email, fleetUsers[1].email, fleetUsers[2].email
	idQuery := strings.ToUpper(ms[7].reg.ID[4:18])
	mid, midPlus2 := stamp(ff.mid, time.UTC), stamp(ff.mid, time.FixedZone("", 2*3600))
	everyStatus := cloudflare.F(statusAll)

	return []filterCase{
		{"no filter lists active", listParams{}, ff.active},
		{"status active", listParams{Status: cloudflare.F(statusActive)}, ff.active},
		{"status revoked", listParams{Status: cloudflare.F(statusRevoked)},
			func(m *member) bool { return ff.revoked[m.reg.ID] }},
		{"status all", listParams{Status: everyStatus}, ff.live},
		{"id repeated", listParams{ID: cloudflare.F(regIDs(ms[1], ms[3], ms[11], ms[14]))},
			in(ms[1], ms[3], ms[11], ms[14])},
		{"id of a revoked one with status all",
			listParams{ID: cloudflare.F(regIDs(ms[2], ms[4])), Status: everyStatus},
			in(ms[2], ms[4])},
		{"id of a revoked one is not active",
			listParams{ID: cloudflare.F(regIDs(ms[2], ms[4]))}, in(ms[4])},
		{"id of the deleted one",
			listParams{ID: cloudflare.F(regIDs(ms[5])), Status: everyStatus}, none},
		{"device.id", listParams{Device: cloudflare.F(deviceFilter(ms[6].reg.DeviceID))},
			in(ms[6])},
		{"user.id repeated",
			listParams{User: cloudflare.F(userFilter(ff.userIDs[amelia], ff.userIDs[bruno]))},
			both(ff.active, usersIn(amelia, bruno))},
		{"search device name", listParams{Search: cloudflare.F("tHINKPAD")},
			ff.search("thinkpad")},
		{"search user name", listParams{Search: cloudflare.F("LIND")}, ff.search("lind")},
		{"search user email", listParams{Search: cloudflare.F("EXAMPLE.ORG")},
			ff.search("example.org")},
		{"search registration id", listParams{Search: cloudflare.F(idQuery)},
			ff.search(idQuery)},
		{"search without a match", listParams{Search: cloudflare.F("zz-no-such-thing")}, none},
		{"seen_after", listParams{SeenAfter: cloudflare.F(mid)}, both(ff.active, late)},
		{"seen_before", listParams{SeenBefore: cloudflare.F(mid)}, both(ff.active, early)},
		{"seen_after with an offset", listParams{SeenAfter: cloudflare.F(midPlus2)},
			both(ff.active, late)},
		{"seen window", listParams{SeenAfter: cloudflare.F(farPast),
			SeenBefore: cloudflare.F(farFuture)}, ff.active},
		{"seen_after the future", listParams{SeenAfter: cloudflare.F(farFuture)}, none},
		{"seen_before the past", listParams{SeenBefore: cloudflare.F(farPast)}, none},
		{"filters combined", listParams{
			Status:    everyStatus,
			User:      cloudflare.F(userFilter(ff.userIDs[chiara])),
			SeenAfter: cloudflare.F(mid),
		}, both(ff.live, both(late, usersIn(chiara)))},
	}
}

const (
	farPast   = "2001-01-01T00:00:00Z"
	farFuture = "2999-01-01T00:00:00Z"
)

func stamp(ts time.Time, loc *time.Location) string {
	return ts.In(loc).Format(time.RFC3339Nano)
}

func regIDs(ms ...*member) []string {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.reg.ID
	}
	return ids
}

func deviceFilter(id string) zero_trust.DeviceRegistrationListParamsDevice {
	return zero_trust.DeviceRegistrationListParamsDevice{ID: cloudflare.F(id)}
}

func userFilter(ids ...string) zero_trust.DeviceRegistrationListParamsUser {
	return zero_trust.DeviceRegistrationListParamsUser{ID: cloudflare.F(ids)}
}

func none(*member) bool    { return false }
func late(m *member) bool  { return m.late }
func early(m *member) bool { return !m.late }

func both(a, b func(*member) bool) func(*member) bool {
	return func(m *member) bool { return a(m) && b(m) }
}

// TestListFilters applies each filter, paging four at a time, to a fleet in which
// some registrations are revoked and one is deleted.
func TestListFilters(t *testing.T) {
	t.Parallel()
	tn := newTenant(t, false)
	c := tn.client(t)
	ff := newFilterFleet(t, tn, c)

	for _, tt := range filterCases(ff) {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			p.AccountID = cloudflare.F(tn.accountID)
			p.PerPage = cloudflare.F(int64(4))
			p.SortBy = cloudflare.F(zero_trust.DeviceRegistrationListParamsSortByID)
			p.SortOrder = cloudflare.F(asc)
			got := itemIDs(listAll(t, c, p))
			if diff := cmp.Diff(ff.sortedIDs(tt.want), got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}

	for _, include := range []bool{false, true} {
		t.Run(fmt.Sprintf("item shape with include=policy %v", include), func(t *testing.T) {
			testListedShape(t, c, tn, ff, include)
		})
	}
}

// testListedShape checks each listed registration's JSON, with or without the
// policy, and its revocation state.
func testListedShape(t *testing.T, c *cloudflare.Client, tn *tenant, ff *filterFleet,
	include bool,
) {
	p := listParams{
		AccountID: cloudflare.F(tn.accountID),
		PerPage:   cloudflare.F(int64(4)),
		Status:    cloudflare.F(statusAll),
	}
	if include {
		p.Include = cloudflare.F("policy")
	}
	items := listAll(t, c, p)
	for _, it := range items {
		r := decodeRegistration(t, it.JSON.RawJSON(), include)
		if wantRevoked := ff.revoked[r.ID]; (r.RevokedAt != nil) != wantRevoked {
			t.Errorf("registration %s: revoked_at = %v, want set %v",
				r.ID, deref(r.RevokedAt), wantRevoked)
		}
		if r.DeletedAt != nil {
			t.Errorf("registration %s: listed with deleted_at %s", r.ID, *r.DeletedAt)
		}
	}
	if want := len(ff.ids(ff.live)); len(items) != want {
		t.Errorf("listed %d registrations, want %d", len(items), want)
	}
}

func deref(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

type listStatus = zero_trust.DeviceRegistrationListParamsStatus

const (
	statusActive  = zero_trust.DeviceRegistrationListParamsStatusActive
	statusRevoked = zero_trust.DeviceRegistrationListParamsStatusRevoked
	statusAll     = zero_trust.DeviceRegistrationListParamsStatusAll
)

// userIDsByEmail maps each user's email to the user id the server reports.
func userIDsByEmail(t *testing.T, c *cloudflare.Client, accountID string) map[string]string {
	t.Helper()
	items := listAll(t, c, listParams{
		AccountID: cloudflare.F(accountID),
		PerPage:   cloudflare.F(int64(1000)),
		Status:    cloudflare.F(statusAll),
	})
	ids := map[string]string{}
	for _, it := range items {
		if !uuidPattern.MatchString(it.User.ID) {
			t.Fatalf("registration %s: user.id %q is not a UUID", it.ID, it.User.ID)
		}
		if prev, ok := ids[it.User.Email]; ok && prev != it.User.ID {
			t.Errorf("user %s has two ids: %s and %s", it.User.Email, prev, it.User.ID)
		}
		ids[it.User.Email] = it.User.ID
	}
	return ids
}
