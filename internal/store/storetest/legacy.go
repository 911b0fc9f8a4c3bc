package storetest

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warpreg/warpreg/internal/device"
)

func legacyTests() []behaviour {
	return []behaviour{
		{"device view carries the device's facts", testDeviceViewFacts},
		{"device view of a deleted registration is a tombstone", testDeviceViewTombstone},
		{"device views page by id over live rows of one account", testDeviceViewsPaging},
		{"deprecated endpoints refuse a multi-user account", testLegacyMultiUser},
		{"deprecated revoke and unrevoke are registration revokes", testLegacyRevoke},
	}
}

func overrideTests() []behaviour {
	return []behaviour{
		{"enrolment writes an override secret", testOverrideSecretAtEnrol},
		{"re-enrolment replaces the override secret", testOverrideSecretReplaced},
		{"a token roll replaces the override secret", testOverrideSecretRolled},
		{"put override secret inserts and replaces", testPutOverrideSecret},
		{"override codes refused without mode switching", testOverrideNoModeSwitch},
		{"override codes refused for revoked and deleted registrations", testOverrideRefusals},
		{"each issue of override codes takes the next counter", testOverrideIssues},
		{"concurrent issues of override codes never share a counter", testOverrideRace},
		{"a registration without an override secret gets no codes", testOverrideNoSecret},
	}
}

func testDeviceViewFacts(t *testing.T, e *env) {
	a, ens := e.enrollN(t, false, 1)
	r := ens[0].Registration
	got, err := e.store.DeviceView(e.ctx, a.ID, r.ID)
	if err != nil {
		t.Fatalf("DeviceView: %v", err)
	}
	req := enrollRequest("hw-a", "hw-a@example.com")
	want := req.Device
	want.HardwareID = "" // not part of the view
	if diff := cmp.Diff(want, got.Facts); diff != "" {
		t.Errorf("facts (-want +got):\n%s", diff)
	}
	if got.ID != r.ID || got.DeviceID != r.DeviceID || got.Key != r.Key ||
		got.KeyType != r.KeyType || got.TunnelType != r.TunnelType {
		t.Errorf("registration fields = %+v, want those of %+v", got.Registration, r)
	}
	if !got.CreatedAt.Equal(r.CreatedAt) || !got.LastSeenAt.Equal(r.LastSeenAt) {
		t.Errorf("times = created %s seen %s, want %s %s", got.CreatedAt, got.LastSeenAt,
			r.CreatedAt, r.LastSeenAt)
	}
	if got.User == nil || got.User.Email != "hw-a@example.com" || got.User.Name != req.UserName {
		t.Errorf("user = %+v, want hw-a@example.com", got.User)
	}
	checkUTC(t, "DeviceView", got)

	_, err = e.store.DeviceView(e.ctx, e.newAccount(t, false).ID, r.ID)
	wantIs(t, "DeviceView from another account", err, device.ErrNotFound)
}

func testDeviceViewTombstone(t *testing.T, e *env) {
	a, ens := e.enrollN(t, false, 2)
	r := ens[0].Registration
	if err := e.svc.Delete(e.ctx, a.ID, []string{r.ID}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	got, err := e.store.DeviceView(e.ctx, a.ID, r.ID)
	if err != nil {
		t.Fatalf("DeviceView of a deleted registration: %v", err)
	}
	if got.DeletedAt.IsZero() || got.Facts.Model != "MacBookPro18,3" || got.Facts.Name == "" {
		t.Errorf("tombstone = deleted %s, facts %+v; want a deletion time and the facts",
			got.DeletedAt, got.Facts)
	}
	views, err := e.store.DeviceViews(e.ctx, a.ID, "", 10)
	if err != nil {
		t.Fatalf("DeviceViews: %v", err)
	}
	if len(views) != 1 || views[0].ID != ens[1].Registration.ID {
		t.Errorf("DeviceViews = %v, want only %s", viewIDs(views), ens[1].Registration.ID)
	}
}

func testDeviceViewsPaging(t *testing.T, e *env) {
	a, ens := e.enrollN(t, false, 7)
	e.enrollN(t, false, 2) // another account's rows never show
	var ids []string
	for _, en := range ens {
		ids = append(ids, en.Registration.ID)
	}
	if err := e.svc.Revoke(e.ctx, a.ID, ids[2:3]); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if err := e.svc.Delete(e.ctx, a.ID, ids[4:5]); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	want := slices.Concat(ids[:4], ids[5:])
	slices.Sort(want)

	var got []string
	after := ""
	for range 10 {
		page, err := e.store.DeviceViews(e.ctx, a.ID, after, 2)
		if err != nil {
			t.Fatalf("DeviceViews(after %q): %v", after, err)
		}
		if len(page) > 2 {
			t.Fatalf("DeviceViews returned %d rows, limit 2", len(page))
		}
		if len(page) == 0 {
			break
		}
		got = append(got, viewIDs(page)...)
		after = page[len(page)-1].ID
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids streamed (-want +got):\n%s", diff)
	}
	revoked, err := e.store.DeviceView(e.ctx, a.ID, ids[2])
	if err != nil || revoked.RevokedAt.IsZero() {
		t.Errorf("revoked row: %+v, %v; want a revocation time", revoked, err)
	}
}

func viewIDs(vs []device.DeviceView) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.ID)
	}
	return out
}

func testLegacyMultiUser(t *testing.T, e *env) {
	a, ens := e.enrollN(t, true, 1)
	id := ens[0].Registration.ID
	_, err := e.svc.LegacyDevices(e.ctx, a.ID, "", 10)
	wantKind(t, "LegacyDevices", err, device.KindInvalid)
	_, _, err = e.svc.LegacyDevice(e.ctx, a.ID, id)
	wantKind(t, "LegacyDevice", err, device.KindInvalid)
	wantKind(t, "LegacyRevoke", e.svc.LegacyRevoke(e.ctx, a.ID, []string{id}), device.KindInvalid)
	wantKind(t, "LegacyUnrevoke", e.svc.LegacyUnrevoke(e.ctx, a.ID, []string{id}),
		device.KindInvalid)
	_, err = e.svc.LegacyIssueOverride(e.ctx, a.ID, id)
	wantKind(t, "LegacyIssueOverride", err, device.KindInvalid)
	if got := e.registration(t, a.ID, id); !got.RevokedAt.IsZero() {
		t.Error("a refused revoke revoked the registration")
	}
}

func testLegacyRevoke(t *testing.T, e *env) {
	a, ens := e.enrollN(t, false, 3)
	ids := []string{ens[0].Registration.ID, ens[1].Registration.ID}
	if err := e.svc.LegacyRevoke(e.ctx, a.ID, ids); err != nil {
		t.Fatalf("LegacyRevoke: %v", err)
	}
	e.wantListed(t, a.ID, device.ListQuery{Status: device.StatusRevoked}, ids...)

	unknown := device.NewID()
	err := e.svc.LegacyUnrevoke(e.ctx, a.ID, []string{ids[0], unknown})
	wantKind(t, "LegacyUnrevoke with an unknown id", err, device.KindNotFound)
	e.wantListed(t, a.ID, device.ListQuery{Status: device.StatusRevoked}, ids...)

	wantKind(t, "LegacyRevoke of nothing", e.svc.LegacyRevoke(e.ctx, a.ID, nil), device.KindInvalid)
	if err := e.svc.LegacyUnrevoke(e.ctx, a.ID, ids); err != nil {
		t.Fatalf("LegacyUnrevoke: %v", err)
	}
	e.wantListed(t, a.ID, device.ListQuery{Status: device.StatusRevoked})
}

func testOverrideSecretAtEnrol(t *testing.T, e *env) {
	_, ens := e.enrollN(t, false, 1)
	en := ens[0]
	if len(en.OverrideSecret) != device.OverrideSecretSize {
		t.Fatalf("Enrollment.OverrideSecret has %d bytes, want %d", len(en.OverrideSecret),
			device.OverrideSecretSize)
	}
	got, err := e.store.OverrideSecret(e.ctx, en.Registration.ID)
	if err != nil {
		t.Fatalf("OverrideSecret: %v", err)
	}
	if !bytes.Equal(got.Secret, en.OverrideSecret) || got.Counter != 0 {
		t.Errorf("stored secret %x counter %d, want %x and 0", got.Secret, got.Counter,
			en.OverrideSecret)
	}
	_, err = e.store.OverrideSecret(e.ctx, device.NewID())
	wantIs(t, "OverrideSecret of an unknown registration", err, device.ErrNotFound)
}

func testOverrideSecretReplaced(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	key := e.newEnrollKey(t, a.ID, true)
	first := e.enroll(t, key, enrollRequest("hw-1", "ada@example.com"))
	id := first.Registration.ID
	e.update(t, func(tx device.Tx) error {
		s, err := tx.OverrideSecret(e.ctx, id)
		if err != nil {
			return err
		}
		s.Counter = 9
		return tx.PutOverrideSecret(e.ctx, s)
	})

	second := e.enroll(t, key, enrollRequest("hw-1", "ada@example.com"))
	if second.Registration.ID != id {
		t.Fatalf("re-enrolment made registration %s, want %s", second.Registration.ID, id)
	}
	if bytes.Equal(second.OverrideSecret, first.OverrideSecret) {
		t.Error("re-enrolment handed out the same override secret")
	}
	got, err := e.store.OverrideSecret(e.ctx, id)
	if err != nil {
		t.Fatalf("OverrideSecret: %v", err)
	}
	if !bytes.Equal(got.Secret, second.OverrideSecret) || got.Counter != 0 {
		t.Errorf("after re-enrolment: secret %x counter %d, want the new secret and 0",
			got.Secret, got.Counter)
	}
}

func testOverrideSecretRolled(t *testing.T, e *env) {
	_, ens := e.enrollN(t, false, 1)
	en := ens[0]
	id := en.Registration.ID
	e.update(t, func(tx device.Tx) error {
		s, err := tx.OverrideSecret(e.ctx, id)
		if err != nil {
			return err
		}
		s.Counter = 4
		return tx.PutOverrideSecret(e.ctx, s)
	})
	_, _, err := e.svc.RollClientToken(e.ctx, id, "not the token")
	wantKind(t, "RollClientToken with a wrong token", err, device.KindUnauthorized)
	_, override, err := e.svc.RollClientToken(e.ctx, id, en.Token)
	if err != nil {
		t.Fatalf("RollClientToken: %v", err)
	}
	if len(override) != device.OverrideSecretSize || bytes.Equal(override, en.OverrideSecret) {
		t.Fatalf("rolled override secret %x, want %d new bytes", override,
			device.OverrideSecretSize)
	}
	got, err := e.store.OverrideSecret(e.ctx, id)
	if err != nil {
		t.Fatalf("OverrideSecret: %v", err)
	}
	if !bytes.Equal(got.Secret, override) || got.Counter != 0 {
		t.Errorf("after the roll: secret %x counter %d, want the rolled secret and 0",
			got.Secret, got.Counter)
	}
}

func testPutOverrideSecret(t *testing.T, e *env) {
	_, ens := e.enrollN(t, false, 1)
	id := ens[0].Registration.ID
	before, err := e.store.OverrideSecret(e.ctx, id)
	if err != nil {
		t.Fatalf("OverrideSecret: %v", err)
	}
	e.clock.Advance(time.Hour)
	now := e.svc.Now()
	want := &device.OverrideSecret{
		RegistrationID: id, Secret: randomBytes(32), Counter: 1 << 40,
		CreatedAt: now, UpdatedAt: now,
	}
	e.update(t, func(tx device.Tx) error { return tx.PutOverrideSecret(e.ctx, want) })
	got, err := e.store.OverrideSecret(e.ctx, id)
	if err != nil {
		t.Fatalf("OverrideSecret: %v", err)
	}
	want.CreatedAt = before.CreatedAt // a replace keeps the row's creation time
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("override secret (-want +got):\n%s", diff)
	}
	checkUTC(t, "OverrideSecret", got)
}

func testOverrideNoModeSwitch(t *testing.T, e *env) {
	a, ens := e.enrollN(t, false, 1)
	id := ens[0].Registration.ID
	_, err := e.svc.IssueOverride(e.ctx, a.ID, id)
	wantKind(t, "IssueOverride under the default profile", err, device.KindInvalid)
	got, err := e.store.OverrideSecret(e.ctx, id)
	if err != nil || got.Counter != 0 {
		t.Errorf("a refused issue moved the counter: %+v, %v", got, err)
	}
}

// allowModeSwitch turns allow_mode_switch on or off in the account's default profile.
func (e *env) allowModeSwitch(t *testing.T, accountID string, on bool) {
	t.Helper()
	_, err := e.svc.EditDefaultProfile(e.ctx, accountID, func(p *device.Profile) error {
		p.Settings.AllowModeSwitch = on
		return nil
	})
	if err != nil {
		t.Fatalf("EditDefaultProfile: %v", err)
	}
}

func testOverrideIssues(t *testing.T, e *env) {
	a, ens := e.enrollN(t, false, 1)
	en := ens[0]
	e.allowModeSwitch(t, a.ID, true)
	admin := device.WithActor(e.ctx, device.Actor{Kind: device.ActorAPIToken, ID: "tok-1"})
	for want := uint64(1); want <= 3; want++ {
		is, err := e.svc.IssueOverride(admin, a.ID, en.Registration.ID)
		if err != nil {
			t.Fatalf("IssueOverride %d: %v", want, err)
		}
		if is.Counter != want || !bytes.Equal(is.Secret, en.OverrideSecret) ||
			is.RegistrationID != en.Registration.ID {
			t.Errorf("issue %d: counter %d, secret %x; want counter %d and the enrolment's",
				want, is.Counter, is.Secret, want)
		}
	}
	if got, err := e.store.OverrideSecret(e.ctx, en.Registration.ID); err != nil ||
		got.Counter != 3 {
		t.Errorf("stored counter after three issues: %+v, %v; want 3", got, err)
	}

	log := e.auditLog(t, a.ID, device.AuditQuery{TargetID: en.Registration.ID})
	issued := 0
	for _, entry := range log {
		if entry.Action != "registration.issue_override_codes" {
			continue
		}
		issued++
		n := entry.After["override_codes_issued"]
		if entry.Actor.ID != "tok-1" || len(entry.After) != 1 || n == "" || n == "0" {
			t.Errorf("audit entry %+v: want the token as actor and only the issue number", entry)
		}
	}
	if issued != 3 {
		t.Errorf("%d issue_override_codes audit entries, want 3", issued)
	}

	e.allowModeSwitch(t, a.ID, false)
	_, err := e.svc.IssueOverride(e.ctx, a.ID, en.Registration.ID)
	wantKind(t, "IssueOverride after mode switching was turned off", err, device.KindInvalid)
}

func testOverrideRace(t *testing.T, e *env) {
	a, ens := e.enrollN(t, false, 1)
	id := ens[0].Registration.ID
	e.allowModeSwitch(t, a.ID, true)
	counters := make([]uint64, raceWorkers)
	errs := make([]error, raceWorkers)
	race(raceWorkers, func(i int) {
		is, err := e.svc.IssueOverride(e.ctx, a.ID, id)
		errs[i] = err
		if err == nil {
			counters[i] = is.Counter
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("IssueOverride %d: %v", i, err)
		}
	}
	slices.Sort(counters)
	for i, c := range counters {
		if c != uint64(i+1) {
			t.Fatalf("counters %v, want 1 to %d, each once", counters, raceWorkers)
		}
	}
}

// testOverrideNoSecret stands for a registration enrolled before override codes
// existed: an imported one, which has no secret either.
func testOverrideNoSecret(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	ids := newImportIDs()
	e.importBatch(t, a, importBatch(ids, "imported-key-"))
	e.allowModeSwitch(t, a.ID, true) // the imported default profile's
	_, err := e.svc.IssueOverride(e.ctx, a.ID, ids.regs[0])
	wantKind(t, "IssueOverride without a secret", err, device.KindInvalid)
	if !strings.Contains(device.MessageOf(err), "no override secret") {
		t.Errorf("message %q does not say the secret is missing", device.MessageOf(err))
	}
}

func testOverrideRefusals(t *testing.T, e *env) {
	a, ens := e.enrollN(t, false, 2)
	revoked, deleted := ens[0].Registration.ID, ens[1].Registration.ID
	if err := e.svc.Revoke(e.ctx, a.ID, []string{revoked}); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if err := e.svc.Delete(e.ctx, a.ID, []string{deleted}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := e.svc.IssueOverride(e.ctx, a.ID, revoked)
	wantKind(t, "IssueOverride of a revoked registration", err, device.KindRevoked)
	_, err = e.svc.IssueOverride(e.ctx, a.ID, deleted)
	wantKind(t, "IssueOverride of a deleted registration", err, device.KindNotFound)
	_, err = e.svc.IssueOverride(e.ctx, a.ID, device.NewID())
	wantKind(t, "IssueOverride of an unknown registration", err, device.KindNotFound)
	_, err = e.svc.IssueOverride(e.ctx, e.newAccount(t, false).ID, revoked)
	wantKind(t, "IssueOverride from another account", err, device.KindNotFound)
}
