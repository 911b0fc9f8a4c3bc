package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warpreg/warpreg/internal/device"
)

func assignTests() []behaviour {
	return []behaviour{
		{"enrolment takes the first matching enabled profile", testEnrolChoosesProfile},
		{"re-enrolment re-evaluates all of the user's registrations", testReEnrolReassigns},
		{"new device facts re-evaluate the device's registrations", testFactsReassign},
		{"profile changes re-evaluate every registration", testProfileChangesReassign},
		{"a settings-only edit moves nobody", testSettingsEditMovesNobody},
		{"re-evaluation runs in batches and resumes where it stopped", testReassignResumes},
		{"an imported profile without a rule keeps its registrations", testImportedProfileKeeps},
		{"profile changes and the moves they cause are audited", testProfileAudit},
		{"concurrent profile changes leave every registration where the rules put it",
			testConcurrentProfileChanges},
	}
}

// createProfile creates a custom profile through the service.
func (e *env) createProfile(t *testing.T, accountID, name, match string, precedence int) *device.Profile {
	t.Helper()
	p, err := e.svc.CreateProfile(e.ctx, accountID, func(p *device.Profile) error {
		p.Name, p.Match, p.Precedence = name, match, precedence
		return nil
	})
	if err != nil {
		t.Fatalf("CreateProfile(%s): %v", name, err)
	}
	return p
}

func (e *env) editProfile(t *testing.T, accountID, id string, edit device.ProfileEdit) {
	t.Helper()
	if _, err := e.svc.EditProfile(e.ctx, accountID, id, edit); err != nil {
		t.Fatalf("EditProfile(%s): %v", id, err)
	}
}

// assignment is what a registration shows of its profile.
type assignment struct {
	ProfileID string
	At        time.Time
	Deleted   bool
}

func (e *env) assignment(t *testing.T, accountID, regID string) assignment {
	t.Helper()
	r := e.registration(t, accountID, regID)
	if r.Policy == nil || r.Policy.ID != r.ProfileID {
		t.Fatalf("registration %s: policy view %+v does not match profile %s", regID, r.Policy,
			r.ProfileID)
	}
	return assignment{r.ProfileID, r.PolicyUpdatedAt, !r.Policy.DeletedAt.IsZero()}
}

// wantAssigned checks the assignment of each registration.
func (e *env) wantAssigned(t *testing.T, step, accountID string, want map[string]assignment) {
	t.Helper()
	for id, w := range want {
		if got := e.assignment(t, accountID, id); got != w {
			t.Errorf("%s: registration %s is on %+v, want %+v", step, id, got, w)
		}
	}
}

// reassigned returns the ids of the profile_reassigned changes after seq, in order,
// with the profile each names.
func (e *env) reassigned(t *testing.T, accountID string, after int64) [][2]string {
	t.Helper()
	var out [][2]string
	for {
		cs := e.changes(t, accountID, after)
		for _, c := range cs {
			if c.Kind == device.ChangeReassigned {
				out = append(out, [2]string{c.RegistrationID, c.ProfileID})
			}
		}
		if len(cs) < device.MaxChangesLimit {
			return out
		}
		after = cs[len(cs)-1].Seq
	}
}

func (e *env) lastSeq(t *testing.T, accountID string) int64 {
	t.Helper()
	cs := e.changes(t, accountID, 0)
	if len(cs) == 0 {
		return 0
	}
	return cs[len(cs)-1].Seq
}

func testEnrolChoosesProfile(t *testing.T, e *env) {
	a := e.newAccount(t, true)
	key := e.newEnrollKey(t, a.ID, true)
	macs := e.createProfile(t, a.ID, "Macs", `os.name == "mac"`, 20)
	ann := e.createProfile(t, a.ID, "Ann", `identity.email == "ann@example.com"`, 10)
	off := e.createProfile(t, a.ID, "Off", `device.manufacturer == "Apple Inc."`, 1)
	e.editProfile(t, a.ID, off.ID, func(p *device.Profile) error { p.Enabled = false; return nil })

	e.clock.Advance(time.Minute)
	now := e.svc.Now()
	linux := enrollRequest("hw-3", "carl@example.com")
	linux.Device.DeviceType = "linux"
	got := map[string]string{
		ann.ID:             e.enroll(t, key, enrollRequest("hw-1", "ann@example.com")).Registration.ID,
		macs.ID:            e.enroll(t, key, enrollRequest("hw-2", "bob@example.com")).Registration.ID,
		a.DefaultProfileID: e.enroll(t, key, linux).Registration.ID,
	}
	for profile, reg := range got {
		e.wantAssigned(t, "enrolment", a.ID, map[string]assignment{reg: {profile, now, false}})
	}
	if cs := e.reassigned(t, a.ID, 0); len(cs) != 0 {
		t.Errorf("enrolments logged profile_reassigned changes: %v", cs)
	}
}

func testReEnrolReassigns(t *testing.T, e *env) {
	a := e.newAccount(t, true)
	key := e.newEnrollKey(t, a.ID, true)
	eng := e.createProfile(t, a.ID, "Eng", `any(identity.groups.name[*] == "eng")`, 1)
	r1 := e.enroll(t, key, enrollRequest("hw-1", "ann@example.com")).Registration
	r2 := e.enroll(t, key, enrollRequest("hw-2", "ann@example.com")).Registration
	carl := e.enroll(t, key, enrollRequest("hw-1", "carl@example.com")).Registration
	enrolled := e.svc.Now()
	seq := e.lastSeq(t, a.ID)

	e.clock.Advance(time.Minute)
	now := e.svc.Now()
	req := enrollRequest("hw-1", "ann@example.com")
	req.UserGroups = []string{"staff", "eng"}
	e.enroll(t, key, req)
	e.wantAssigned(t, "after ann joined eng", a.ID, map[string]assignment{
		r1.ID: {eng.ID, now, false}, r2.ID: {eng.ID, now, false},
		carl.ID: {a.DefaultProfileID, enrolled, false},
	})
	var kinds []device.ChangeKind
	for _, c := range e.changes(t, a.ID, seq) {
		kinds = append(kinds, c.Kind)
		if c.ProfileID != eng.ID {
			t.Errorf("change %d (%s of %s) names profile %s, want %s", c.Seq, c.Kind,
				c.RegistrationID, c.ProfileID, eng.ID)
		}
	}
	wantKinds := []device.ChangeKind{device.ChangeKeyRotated, device.ChangeReassigned,
		device.ChangeReassigned}
	if diff := cmp.Diff(wantKinds, kinds); diff != "" {
		t.Errorf("changes of the re-enrolment (-want +got):\n%s", diff)
	}
}

func testFactsReassign(t *testing.T, e *env) {
	a := e.newAccount(t, true)
	key := e.newEnrollKey(t, a.ID, true)
	lin := e.createProfile(t, a.ID, "Linux", `os.name == "linux"`, 1)
	ann := e.enroll(t, key, enrollRequest("hw-1", "ann@example.com"))
	bob := e.enroll(t, key, enrollRequest("hw-1", "bob@example.com")).Registration

	e.clock.Advance(time.Minute)
	now := e.svc.Now()
	_, err := e.svc.UpdateClient(e.ctx, ann.Registration.ID, ann.Token,
		device.ClientUpdate{Device: &device.DeviceFacts{DeviceType: "linux"}})
	if err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	want := map[string]assignment{ann.Registration.ID: {lin.ID, now, false},
		bob.ID: {lin.ID, now, false}}
	e.wantAssigned(t, "after the device became linux", a.ID, want)

	seq := e.lastSeq(t, a.ID)
	e.clock.Advance(time.Minute)
	_, err = e.svc.UpdateClient(e.ctx, ann.Registration.ID, ann.Token,
		device.ClientUpdate{Device: &device.DeviceFacts{OSVersion: "6.9", Name: "renamed"}})
	if err != nil {
		t.Fatalf("UpdateClient: %v", err)
	}
	if _, err := e.svc.Heartbeat(e.ctx, ann.Registration.ID, ann.Token, "2025.1.0"); err != nil {
		t.Fatalf("Heartbeat: %v", err)
	}
	e.wantAssigned(t, "after facts that no rule reads", a.ID, want)
	if cs := e.reassigned(t, a.ID, seq); len(cs) != 0 {
		t.Errorf("unchanged assignments logged changes: %v", cs)
	}
}

func testProfileChangesReassign(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	key := e.newEnrollKey(t, a.ID, true)
	def := a.DefaultProfileID
	ann := e.enroll(t, key, enrollRequest("hw-1", "ann@example.com")).Registration.ID
	bob := e.enroll(t, key, enrollRequest("hw-2", "bob@example.com")).Registration.ID
	carl := e.enroll(t, key, enrollRequest("hw-3", "carl@example.com")).Registration.ID
	gone := e.enroll(t, key, enrollRequest("hw-4", "dora@example.com")).Registration.ID
	if err := e.svc.Revoke(e.ctx, a.ID, []string{carl}); err != nil {
		t.Fatal(err)
	}

	// step runs do and checks where each registration is: one that moved was
	// stamped with the step's time, one that stayed kept its stamp.
	step := func(name string, do func(), want func() map[string]string) {
		t.Helper()
		before := map[string]assignment{}
		for _, id := range []string{ann, bob, carl} {
			before[id] = e.assignment(t, a.ID, id)
		}
		e.clock.Advance(time.Minute)
		now := e.svc.Now()
		do()
		for id, p := range want() {
			w := assignment{ProfileID: p, At: now}
			if p == before[id].ProfileID {
				w.At = before[id].At
			}
			e.wantAssigned(t, name, a.ID, map[string]assignment{id: w})
		}
	}
	var macs, annP *device.Profile
	seq := e.lastSeq(t, a.ID)
	step("create Macs", func() {
		macs = e.createProfile(t, a.ID, "Macs", `os.name == "mac"`, 10)
	}, func() map[string]string {
		return map[string]string{ann: macs.ID, bob: macs.ID, carl: macs.ID, gone: macs.ID}
	})
	revokedMoved := false
	for _, c := range e.changes(t, a.ID, seq) {
		if c.RegistrationID == carl && c.Kind == device.ChangeReassigned {
			revokedMoved = !c.Active
		}
	}
	if !revokedMoved {
		t.Errorf("the revoked registration's move was not logged as an inactive change")
	}
	if err := e.svc.Delete(e.ctx, a.ID, []string{gone}); err != nil {
		t.Fatal(err)
	}

	step("create Ann behind Macs", func() {
		annP = e.createProfile(t, a.ID, "Ann", `identity.email == "ann@example.com"`, 20)
	}, func() map[string]string { return map[string]string{ann: macs.ID, bob: macs.ID} })
	step("move Ann before Macs", func() {
		e.editProfile(t, a.ID, annP.ID, func(p *device.Profile) error { p.Precedence = 5; return nil })
	}, func() map[string]string { return map[string]string{ann: annP.ID, bob: macs.ID} })
	step("disable Ann", func() {
		e.editProfile(t, a.ID, annP.ID, func(p *device.Profile) error { p.Enabled = false; return nil })
	}, func() map[string]string { return map[string]string{ann: macs.ID, carl: macs.ID} })
	step("delete Macs", func() {
		if _, err := e.svc.DeleteProfile(e.ctx, a.ID, macs.ID); err != nil {
			t.Fatal(err)
		}
	}, func() map[string]string { return map[string]string{ann: def, bob: def, carl: def} })
	if got := e.assignment(t, a.ID, gone); got.ProfileID != macs.ID || !got.Deleted {
		t.Errorf("the deleted registration shows %+v, want the deleted profile %s", got, macs.ID)
	}
	if _, err := e.store.Reassignment(e.ctx, a.ID); !isNotFound(err) {
		t.Errorf("a re-evaluation is still pending after the calls returned: %v", err)
	}
}

func isNotFound(err error) bool { return device.KindOf(err) == device.KindNotFound }

func testSettingsEditMovesNobody(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	key := e.newEnrollKey(t, a.ID, true)
	p := e.createProfile(t, a.ID, "Macs", `os.name == "mac"`, 10)
	r := e.enroll(t, key, enrollRequest("hw-1", "ann@example.com")).Registration.ID
	before := e.assignment(t, a.ID, r)
	seq := e.lastSeq(t, a.ID)

	e.clock.Advance(time.Minute)
	e.editProfile(t, a.ID, p.ID, func(p *device.Profile) error {
		p.Description, p.Settings.SwitchLocked = "locked down", true
		p.Settings.Include = []device.Route{{Host: "a.example"}}
		p.Settings.SplitMode = device.SplitInclude
		return nil
	})
	if _, err := e.svc.EditDefaultProfile(e.ctx, a.ID, func(p *device.Profile) error {
		p.Settings.AutoConnect = 60
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := e.assignment(t, a.ID, r); got != before {
		t.Errorf("assignment after settings edits = %+v, want %+v", got, before)
	}
	if n := len(e.changes(t, a.ID, seq)); n != 0 {
		t.Errorf("settings edits logged %d changes", n)
	}
}

func testReassignResumes(t *testing.T, e *env) {
	const n = 1001 // three batches
	a := e.newAccount(t, false)
	var ids []string
	e.update(t, func(tx device.Tx) error {
		ids = ids[:0]
		for i := range n {
			d := newDevice(a.ID, "hw-"+string(rune('a'+i%26))+device.NewID())
			r := newRegistration(a, d, nil)
			r.ID = d.ID
			if err := tx.PutDevice(e.ctx, d); err != nil {
				return err
			}
			if err := tx.PutRegistration(e.ctx, r); err != nil {
				return err
			}
			ids = append(ids, r.ID)
		}
		return nil
	})
	slices.Sort(ids)

	// A profile change whose run died after the first 600 registrations.
	p := &device.Profile{ID: device.NewID(), AccountID: a.ID, Name: "Windows",
		Match: `os.name == "windows"`, Precedence: 1, Enabled: true,
		Settings: device.DefaultSettings(), CreatedAt: rowTime(1), UpdatedAt: rowTime(1)}
	e.update(t, func(tx device.Tx) error {
		if err := tx.PutProfile(e.ctx, p); err != nil {
			return err
		}
		if err := tx.StartReassignment(e.ctx, a.ID); err != nil {
			return err
		}
		ra, err := tx.Reassignment(e.ctx, a.ID)
		if err != nil {
			return err
		}
		return tx.AdvanceReassignment(e.ctx, a.ID, ra, ids[599])
	})
	if err := e.svc.ResumeReassignments(e.ctx); err != nil {
		t.Fatalf("ResumeReassignments: %v", err)
	}
	onProfile := func() int {
		t.Helper()
		moved := 0
		for i, id := range ids {
			got := e.assignment(t, a.ID, id).ProfileID
			if got == p.ID {
				moved++
			} else if i >= 600 {
				t.Fatalf("registration %d of %d (%s) was not re-evaluated", i, n, id)
			}
		}
		return moved
	}
	if got := onProfile(); got != n-600 {
		t.Errorf("after resuming: %d registrations moved, want the %d after the stop", got, n-600)
	}
	if pending, err := e.store.PendingReassignments(e.ctx); err != nil || len(pending) != 0 {
		t.Errorf("PendingReassignments after resuming = %v, %v; want none", pending, err)
	}

	e.editProfile(t, a.ID, p.ID, func(p *device.Profile) error { p.Precedence = 2; return nil })
	if got := onProfile(); got != n {
		t.Errorf("after a full run: %d registrations moved, want %d", got, n)
	}
	if got := len(e.reassigned(t, a.ID, 0)); got != n {
		t.Errorf("%d profile_reassigned changes logged, want %d", got, n)
	}
}

func testImportedProfileKeeps(t *testing.T, e *env) {
	a := e.seedAccount(t, false)
	ids := newImportIDs()
	e.importBatch(t, a, importBatch(ids, "imported-key-"))
	contractors := ids.profiles[1]

	eng := e.createProfile(t, a.ID, "Eng", `any(identity.groups.name[*] == "engineering")`, 1)
	if got := e.assignment(t, a.ID, ids.regs[0]).ProfileID; got != eng.ID {
		t.Errorf("a registration on the imported default is on %s, want %s", got, eng.ID)
	}
	if got := e.assignment(t, a.ID, ids.regs[1]).ProfileID; got != contractors {
		t.Errorf("a registration on an imported profile without a rule moved to %s", got)
	}
	e.editProfile(t, a.ID, contractors, func(p *device.Profile) error {
		p.Match, p.Precedence = `identity.email == "nobody@example.com"`, 50
		return nil
	})
	if got := e.assignment(t, a.ID, ids.regs[1]).ProfileID; got != eng.ID {
		t.Errorf("after the imported profile got a rule, its registration is on %s, want %s",
			got, eng.ID)
	}
}

func testProfileAudit(t *testing.T, e *env) {
	a := e.newAccount(t, false)
	r := e.enroll(t, e.newEnrollKey(t, a.ID, true), enrollRequest("hw-1", "ann@example.com"))
	admin := device.WithActor(e.ctx, device.Actor{Kind: device.ActorAPIToken, ID: "tok-1"})
	p, err := e.svc.CreateProfile(admin, a.ID, func(p *device.Profile) error {
		p.Name, p.Match, p.Precedence = "Macs", `os.name == "mac"`, 3
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.EditProfile(admin, a.ID, p.ID, func(p *device.Profile) error {
		p.Settings.SupportURL = "https://help.example.com"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	log := e.auditLog(t, a.ID, device.AuditQuery{})
	got := auditActions(log, "")
	want := []string{"profile.create", "registration.reassign", "profile.update"}
	if len(got) < 3 || !slices.Equal(got[len(got)-3:], want) {
		t.Fatalf("last audit actions = %v, want them to end with %v", got, want)
	}
	move, update := log[1], log[0]
	if move.TargetID != r.Registration.ID || move.Actor.ID != "tok-1" ||
		move.Before["profile_id"] != a.DefaultProfileID || move.After["profile_id"] != p.ID {
		t.Errorf("reassignment entry = %+v", move)
	}
	if update.Before["support_url"] != "" || update.After["support_url"] != "https://help.example.com" {
		t.Errorf("profile update entry = %+v; want support_url before and after", update)
	}
}

func testConcurrentProfileChanges(t *testing.T, e *env) {
	a := e.newAccount(t, true)
	key := e.newEnrollKey(t, a.ID, true)
	types := []string{"mac", "windows", "linux"}
	for i := range 30 {
		req := enrollRequest(fmt.Sprintf("hw-%d", i%10), fmt.Sprintf("u%d@example.com", i/10))
		req.Device.DeviceType = types[i%3]
		e.enroll(t, key, req)
	}
	matches := []string{`os.name == "mac"`, `os.name != "linux"`,
		`identity.email == "u1@example.com"`, `os.name in {"linux" "mac"}`}
	var wg sync.WaitGroup
	errs := make(chan error, len(matches))
	for w, m := range matches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- e.churnProfile(a.ID, w, m)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	rules, err := e.store.Rules(e.ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	asg := device.NewAssigner(a.DefaultProfileID, rules)
	cands, err := e.store.Candidates(e.ctx, a.ID, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cands {
		r := c.Registration
		if want := asg.Choose(r.ProfileID, &c.User, &c.Facts); want != r.ProfileID {
			t.Errorf("registration %s is on %s; the final rules choose %s", r.ID, r.ProfileID, want)
		}
	}
	if _, err := e.store.Reassignment(e.ctx, a.ID); !isNotFound(err) {
		t.Errorf("a re-evaluation is still pending after every call returned: %v", err)
	}
}

// churnProfile creates a profile, moves and toggles it, and leaves it enabled or
// deleted, as worker w of a concurrent test.
func (e *env) churnProfile(accountID string, w int, match string) error {
	p, err := e.svc.CreateProfile(e.ctx, accountID, func(p *device.Profile) error {
		p.Name, p.Match, p.Precedence = fmt.Sprint("w", w), match, 10+w
		return nil
	})
	if err != nil {
		return err
	}
	for i, edit := range []device.ProfileEdit{
		func(p *device.Profile) error { p.Precedence = 100 + w; return nil },
		func(p *device.Profile) error { p.Enabled = false; return nil },
		func(p *device.Profile) error { p.Enabled = true; p.Precedence = 50 - w; return nil },
	} {
		if _, err := e.svc.EditProfile(e.ctx, accountID, p.ID, edit); err != nil {
			return fmt.Errorf("worker %d, edit %d: %w", w, i, err)
		}
	}
	if w%2 == 1 {
		_, err = e.svc.DeleteProfile(e.ctx, accountID, p.ID)
	}
	return err
}
