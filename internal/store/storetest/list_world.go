package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

// listWorld is a multi-user account populated for list tests, with the truth about
// every registration read back by id. Its rows tie often on every sort key: users
// share names, a user holds several registrations, and registrations share their
// created and last-seen times. Times differ in their sub-second digits only, so an
// engine that compares timestamps as text of varying length sorts them wrongly.
type listWorld struct {
	acct    *device.Account
	base    time.Time
	ids     map[string]string // registration id by label (hardware id / email local part)
	users   map[string]string // user id by email local part
	devices map[string]string // device id by hardware id
	tokens  map[string]string // client token by label
	otherID string            // a registration of another account
}

// worldPeople are the users of a listWorld, by email local part.
func worldPeople() map[string]string {
	return map[string]string{
		"ann": "Sam Lee", "bob": "Sam Lee", "cy": "Sam Lee", "dee": "sam lee",
		"eve": "", "fay": "100% Pure", "gus": "a_b", "hal": `back\slash`, "ivy": "Zoë",
	}
}

func (e *env) newListWorld(t *testing.T) *listWorld {
	t.Helper()
	w := &listWorld{
		acct: e.newAccount(t, true), base: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC),
		ids: map[string]string{}, users: map[string]string{}, devices: map[string]string{},
		tokens: map[string]string{},
	}
	secret := e.newEnrollKey(t, w.acct.ID, true)
	batches := []struct {
		at    time.Duration
		seats []string
	}{
		{0, []string{"hw-1/ann", "hw-2/bob", "hw-3/cy", "hw-1/dee"}},
		{100 * time.Millisecond, []string{"hw-4/ann", "hw-5/eve", "hw-2/fay"}},
		{123456 * time.Microsecond, []string{"hw-6/gus", "hw-7/hal", "hw-3/ann"}},
		{time.Second, []string{"hw-8/ivy", "hw-4/bob", "hw-9/cy"}},
	}
	for _, b := range batches {
		e.clock.Set(w.base.Add(b.at))
		for _, label := range b.seats {
			w.enroll(t, e, secret, label)
		}
	}
	w.importNoUser(t, e, "imp-1", "imp-2")
	w.revoke(t, e, "hw-2/bob", "hw-6/gus", "imp-1", "hw-9/cy")
	if err := e.svc.Delete(e.ctx, w.acct.ID, []string{w.ids["hw-9/cy"]}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	e.clock.Set(w.base.Add(2 * time.Second))
	for _, label := range []string{"hw-5/eve", "hw-8/ivy"} {
		if _, err := e.svc.Heartbeat(e.ctx, w.ids[label], w.tokens[label], ""); err != nil {
			t.Fatalf("Heartbeat(%s): %v", label, err)
		}
	}

	other := e.newAccount(t, true)
	en := e.enroll(t, e.newEnrollKey(t, other.ID, true), enrollRequest("hw-1", "ann@example.com"))
	w.otherID = en.Registration.ID
	return w
}

func (w *listWorld) enroll(t *testing.T, e *env, secret, label string) {
	t.Helper()
	hw, local, _ := strings.Cut(label, "/")
	req := enrollRequest(hw, local+"@example.com")
	req.UserName = worldPeople()[local]
	en := e.enroll(t, secret, req)
	w.ids[label], w.tokens[label] = en.Registration.ID, en.Token
	w.users[local], w.devices[hw] = en.Registration.UserID, en.Registration.DeviceID
}

func (w *listWorld) importNoUser(t *testing.T, e *env, labels ...string) {
	t.Helper()
	var regs []device.Registration
	for i, label := range labels {
		r := device.Registration{
			ID: device.NewID(), DeviceID: device.NewID(), Key: newCurve25519Key(),
			KeyType: device.KeyCurve25519, TunnelType: device.TunnelWireGuard,
			CreatedAt: w.base, UpdatedAt: w.base, LastSeenAt: w.base,
			DeviceName: "Imported Laptop " + string(rune('A'+i)),
		}
		w.ids[label] = r.ID
		regs = append(regs, r)
	}
	if _, err := e.svc.Import(e.ctx, w.acct.ID, regs); err != nil {
		t.Fatalf("Import: %v", err)
	}
}

func (w *listWorld) revoke(t *testing.T, e *env, labels ...string) {
	t.Helper()
	var ids []string
	for _, l := range labels {
		ids = append(ids, w.ids[l])
	}
	if err := e.svc.Revoke(e.ctx, w.acct.ID, ids); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
}

// truth reads every registration of the world back by id, tombstones included.
func (w *listWorld) truth(t *testing.T, e *env) []device.Registration {
	t.Helper()
	var out []device.Registration
	for _, id := range w.ids {
		out = append(out, *e.registration(t, w.acct.ID, id))
	}
	return out
}

// expect is the reference answer to q over rows: the matching rows in q's order.
func expect(rows []device.Registration, q device.ListQuery) []device.Registration {
	var out []device.Registration
	for _, r := range rows {
		if matches(&r, q) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b device.Registration) int {
		return compareRows(&a, &b, q.Sort, q.Desc)
	})
	return out
}

func matches(r *device.Registration, q device.ListQuery) bool {
	revoked := !r.RevokedAt.IsZero()
	switch {
	case !r.DeletedAt.IsZero(),
		(q.Status == device.StatusActive || q.Status == "") && revoked,
		q.Status == device.StatusRevoked && !revoked,
		len(q.IDs) > 0 && !slices.Contains(q.IDs, r.ID),
		q.DeviceID != "" && q.DeviceID != r.DeviceID,
		len(q.UserIDs) > 0 && !slices.Contains(q.UserIDs, r.UserID),
		!q.SeenAfter.IsZero() && !r.LastSeenAt.After(q.SeenAfter),
		!q.SeenBefore.IsZero() && !r.LastSeenAt.Before(q.SeenBefore):
		return false
	}
	if q.Search == "" {
		return true
	}
	hay := []string{r.ID, r.DeviceName}
	if r.User != nil {
		hay = append(hay, r.User.Email, r.User.Name)
	}
	return slices.ContainsFunc(hay, func(s string) bool {
		return strings.Contains(strings.ToLower(s), strings.ToLower(q.Search))
	})
}

// compareRows orders registrations as the suite requires: by the sort key (strings
// by their bytes, times by time), then by id; descending reverses both.
func compareRows(a, b *device.Registration, f device.SortField, desc bool) int {
	var c int
	switch f {
	case device.SortByLastSeenAt:
		c = a.LastSeenAt.Compare(b.LastSeenAt)
	case device.SortByCreatedAt:
		c = a.CreatedAt.Compare(b.CreatedAt)
	default:
		c = strings.Compare(device.SortValue(a, f), device.SortValue(b, f))
	}
	if c == 0 {
		c = strings.Compare(a.ID, b.ID)
	}
	if desc {
		return -c
	}
	return c
}

// listAll pages through q with q.Limit rows a page, from q.After on, checking each
// page against the paging contract, and returns every row it was given.
func (e *env) listAll(t *testing.T, accountID string, q device.ListQuery) []device.Registration {
	t.Helper()
	if q.Sort == "" {
		q.Sort = device.SortByID
	}
	fromStart := q.After == nil
	var all []device.Registration
	total := -1
	for pages := 1; ; pages++ {
		page, err := e.svc.List(e.ctx, accountID, q)
		if err != nil {
			t.Fatalf("List %s page %d: %v", describe(q), pages, err)
		}
		if total >= 0 && page.Total != total {
			t.Errorf("List %s page %d: Total %d, want %d as on page 1",
				describe(q), pages, page.Total, total)
		}
		total = page.Total
		n := len(page.Registrations)
		if n > q.Limit || (pages > 1 && n == 0) {
			t.Fatalf("List %s page %d: got %d rows with limit %d after a page that set Next",
				describe(q), pages, n, q.Limit)
		}
		all = append(all, page.Registrations...)
		if page.Next == nil {
			break
		}
		if n == 0 {
			t.Fatalf("List %s page %d: empty page sets Next", describe(q), pages)
		}
		if n < q.Limit {
			t.Errorf("List %s page %d: short page of %d rows still sets Next",
				describe(q), pages, n)
		}
		last := page.Registrations[n-1]
		want := device.Position{Value: device.SortValue(&last, q.Sort), ID: last.ID}
		if *page.Next != want {
			t.Errorf("List %s page %d: Next = %+v, want the last row's position %+v",
				describe(q), pages, *page.Next, want)
		}
		if pages > len(all)+1 {
			t.Fatalf("List %s: %d pages for %d rows; the cursor does not advance",
				describe(q), pages, len(all))
		}
		q.After = page.Next
	}
	if fromStart && total != len(all) {
		t.Errorf("List %s: Total %d, but paging gave %d rows", describe(q), total, len(all))
	}
	return all
}

func describe(q device.ListQuery) string {
	dir := "asc"
	if q.Desc {
		dir = "desc"
	}
	return fmt.Sprintf("(sort %s %s, status %q, search %q, limit %d)",
		q.Sort, dir, q.Status, q.Search, q.Limit)
}

func ids(rows []device.Registration) []string {
	out := make([]string, len(rows))
	for i := range rows {
		out[i] = rows[i].ID
	}
	return out
}
