package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/warpreg/warpreg/internal/device"
)

func profileTests() []behaviour {
	return []behaviour{
		{"a profile reads back with every setting", testProfileRoundTrip},
		{"profiles list default first, then by precedence", testProfileOrder},
		{"two live profiles of an account never share a precedence", testPrecedenceUnique},
		{"AssignProfile moves only the named registrations of the account", testAssignProfile},
		{"candidates read by id or page, with their user and device facts", testCandidates},
		{"reassignment progress is kept per account", testReassignmentProgress},
	}
}

// fullProfile returns a custom profile with every setting away from its default.
func fullProfile(accountID string, precedence int) *device.Profile {
	return &device.Profile{
		ID: device.NewID(), AccountID: accountID, Name: "Field staff",
		Description: "laptops outside the office", Match: `os.name == "windows"`,
		Precedence: precedence, Enabled: false,
		Settings: device.Settings{
			AllowModeSwitch: true, AllowUpdates: true, AllowedToLeave: false, AutoConnect: 900,
			CaptivePortal: 30, DisableAutoFallback: true, ExcludeOfficeIPs: true,
			LANAllowMinutes: ptr(0), LANAllowSubnetSize: ptr(24),
			RegisterInterfaceIPWithDNS: false, SCCMVPNBoundarySupport: true,
			ServiceMode: device.ModeProxy, ServicePort: 40000,
			SupportURL: "mailto:help@example.com", SwitchLocked: true,
			TunnelProtocol: device.ProtocolMASQUE, SplitMode: device.SplitInclude,
			Exclude: []device.Route{{Address: "192.168.0.0/16", Description: "home"}},
			Include: []device.Route{{Host: "*.corp.example", Description: "corp"},
				{Address: "10.0.0.1"}},
			FallbackDomains: []device.FallbackDomain{
				{Suffix: "corp.example", Description: "HQ", DNSServers: []string{"10.0.0.53"}},
				{Suffix: "lan"},
			},
		},
		CreatedAt: rowTime(1), UpdatedAt: rowTime(2),
	}
}

func (e *env) putProfile(t *testing.T, p *device.Profile) {
	t.Helper()
	e.update(t, func(tx device.Tx) error { return tx.PutProfile(e.ctx, p) })
}

func testProfileRoundTrip(t *testing.T, e *env) {
	a := e.seedAccount(t, false)
	p := fullProfile(a.ID, 7)
	e.putProfile(t, p)
	got, err := e.store.Profile(e.ctx, a.ID, p.ID)
	check(t, "Profile", got, p, err)
	if got.Settings.FallbackDomains[1].DNSServers == nil {
		t.Errorf("a fallback domain without servers read back nil servers, want []")
	}

	p.Settings = device.DefaultSettings()
	p.Settings.Include = []device.Route{}
	p.Match, p.Precedence, p.UpdatedAt = "", 0, rowTime(3)
	e.putProfile(t, p)
	got, err = e.store.Profile(e.ctx, a.ID, p.ID)
	check(t, "Profile after replacing every setting", got, p, err)
	if got.Settings.LANAllowMinutes != nil || got.Settings.Include == nil {
		t.Errorf("unset LAN minutes or empty include read back as %v, %v",
			got.Settings.LANAllowMinutes, got.Settings.Include)
	}

	def := e.defaultProfile(t, a)
	want := device.DefaultSettings()
	if diff := cmp.Diff(want, def.Settings); diff != "" || !def.Enabled || !def.Default {
		t.Errorf("a new account's default profile is not Cloudflare's default (-want +got):\n%s",
			diff)
	}
}

func testProfileOrder(t *testing.T, e *env) {
	a := e.seedAccount(t, false)
	b := e.seedAccount(t, false)
	ten, five, none := fullProfile(a.ID, 10), fullProfile(a.ID, 5), fullProfile(a.ID, 0)
	none.Match = ""
	gone := fullProfile(a.ID, 1)
	gone.DeletedAt = rowTime(4)
	for _, p := range []*device.Profile{ten, none, gone, five, fullProfile(b.ID, 2)} {
		e.putProfile(t, p)
	}
	ps, err := e.store.Profiles(e.ctx, a.ID)
	if err != nil {
		t.Fatalf("Profiles: %v", err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.ID)
	}
	want := []string{a.DefaultProfileID, five.ID, ten.ID, none.ID}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Profiles order (-want +got):\n%s", diff)
	}

	rules, err := e.store.Rules(e.ctx, a.ID)
	if err != nil {
		t.Fatalf("Rules: %v", err)
	}
	def := e.defaultProfile(t, a)
	wantRules := []device.Rule{
		{ProfileID: def.ID, Default: true, Enabled: true, UpdatedAt: def.UpdatedAt},
		{ProfileID: five.ID, Match: five.Match, Precedence: 5, UpdatedAt: five.UpdatedAt},
		{ProfileID: ten.ID, Match: ten.Match, Precedence: 10, UpdatedAt: ten.UpdatedAt},
		{ProfileID: none.ID, UpdatedAt: none.UpdatedAt},
	}
	check(t, "Rules", rules, wantRules, nil)
}

func testPrecedenceUnique(t *testing.T, e *env) {
	a := e.seedAccount(t, false)
	b := e.seedAccount(t, false)
	first := fullProfile(a.ID, 3)
	e.putProfile(t, first)
	e.wantConflict(t, "PutProfile with a taken precedence", func(tx device.Tx) error {
		return tx.PutProfile(e.ctx, fullProfile(a.ID, 3))
	})
	e.putProfile(t, fullProfile(b.ID, 3))
	for range 2 {
		p := fullProfile(a.ID, 0)
		p.Match = ""
		e.putProfile(t, p)
	}
	first.DeletedAt = rowTime(5)
	e.putProfile(t, first)
	e.putProfile(t, fullProfile(a.ID, 3))
}

func testAssignProfile(t *testing.T, e *env) {
	a := e.seedAccount(t, false)
	b := e.seedAccount(t, false)
	p := fullProfile(a.ID, 1)
	e.putProfile(t, p)
	var regs []*device.Registration
	for _, hw := range []string{"hw-1", "hw-2", "hw-3"} {
		regs = append(regs, e.seedRegistration(t, a, e.seedDevice(t, a.ID, hw), nil))
	}
	other := e.seedRegistration(t, b, e.seedDevice(t, b.ID, "hw-b"), nil)

	// The last names another account's registration as if it were a's: the account
	// scopes the update, so it must not move.
	rs := []*device.Registration{regs[0], regs[2], {ID: other.ID, AccountID: a.ID}}
	e.update(t, func(tx device.Tx) error {
		return tx.AssignProfile(e.ctx, p.ID, rs, rowTime(40))
	})
	for i, r := range regs {
		want := storedFields(r)
		if i != 1 {
			want.ProfileID, want.PolicyUpdatedAt = p.ID, rowTime(40)
		}
		got := storedFields(e.registration(t, a.ID, r.ID))
		check(t, "registration "+r.ID, got, want, nil)
	}
	check(t, "another account's registration", storedFields(e.registration(t, b.ID, other.ID)),
		storedFields(other), nil)
	if got := e.registration(t, a.ID, regs[0].ID).Policy; got.ID != p.ID || got.Name != p.Name {
		t.Errorf("policy view after AssignProfile = %+v, want profile %s", got, p.ID)
	}
}

func testCandidates(t *testing.T, e *env) {
	a := e.seedAccount(t, true)
	u := e.seedUser(t, a.ID, "ann@example.com")
	var want []device.Candidate
	var deleted string
	for i, hw := range []string{"hw-1", "hw-2", "hw-3", "hw-4"} {
		d := e.seedDevice(t, a.ID, hw)
		var ru *device.User
		if i != 1 {
			ru = u
		}
		r := newRegistration(a, d, ru)
		switch i {
		case 2:
			r.RevokedAt = rowTime(20)
		case 3:
			r.DeletedAt = rowTime(21)
		}
		e.update(t, func(tx device.Tx) error { return tx.PutRegistration(e.ctx, r) })
		if i == 3 {
			deleted = r.ID
			continue
		}
		c := device.Candidate{
			Registration: device.Registration{ID: r.ID, AccountID: r.AccountID,
				DeviceID: r.DeviceID, UserID: r.UserID, ProfileID: r.ProfileID, Slot: r.Slot,
				Key: r.Key, KeyType: r.KeyType, TunnelType: r.TunnelType, RevokedAt: r.RevokedAt,
				PolicyUpdatedAt: r.PolicyUpdatedAt},
			User: device.User{AccountID: a.ID, Groups: []string{}},
			Facts: device.DeviceFacts{DeviceType: d.Facts.DeviceType, OSVersion: d.Facts.OSVersion,
				Model: d.Facts.Model, Manufacturer: d.Facts.Manufacturer},
		}
		if ru != nil {
			c.User = device.User{ID: u.ID, AccountID: a.ID, Email: u.Email, Name: u.Name,
				Groups: u.Groups}
		}
		want = append(want, c)
	}
	slices.SortFunc(want, func(x, y device.Candidate) int {
		return strings.Compare(x.Registration.ID, y.Registration.ID)
	})

	var got []device.Candidate
	after := ""
	for {
		page, err := e.store.Candidates(e.ctx, a.ID, after, 2)
		if err != nil {
			t.Fatalf("Candidates(after %q): %v", after, err)
		}
		got = append(got, page...)
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].Registration.ID
	}
	check(t, "Candidates", got, want, nil)
	if got[0].User.Groups == nil {
		t.Errorf("a candidate's groups read back nil, want non-nil")
	}

	b := e.seedAccount(t, false)
	other := e.seedRegistration(t, b, e.seedDevice(t, b.ID, "hw-b"), nil)
	ids := []string{want[2].Registration.ID, other.ID, device.NewID(), want[0].Registration.ID,
		deleted}
	byID, err := e.store.CandidatesByID(e.ctx, a.ID, ids)
	check(t, "CandidatesByID", byID, []device.Candidate{want[0], want[2]}, err)
}

func testReassignmentProgress(t *testing.T, e *env) {
	a := e.seedAccount(t, false)
	b := e.seedAccount(t, false)
	_, err := e.store.Reassignment(e.ctx, a.ID)
	wantIs(t, "Reassignment before any", err, device.ErrNotFound)

	start := func(id string) {
		e.update(t, func(tx device.Tx) error { return tx.StartReassignment(e.ctx, id) })
	}
	start(a.ID)
	start(b.ID)
	start(a.ID)
	ra, err := e.store.Reassignment(e.ctx, a.ID)
	check(t, "Reassignment after two starts", ra, device.Reassignment{Generation: 2}, err)

	e.update(t, func(tx device.Tx) error { return tx.AdvanceReassignment(e.ctx, a.ID, ra, "m") })
	ra, err = e.store.Reassignment(e.ctx, a.ID)
	check(t, "Reassignment after advancing", ra, device.Reassignment{Generation: 2, After: "m"}, err)
	for name, stale := range map[string]device.Reassignment{
		"old progress": {Generation: 2}, "old generation": {Generation: 1, After: "m"},
	} {
		e.wantConflict(t, "AdvanceReassignment from "+name, func(tx device.Tx) error {
			return tx.AdvanceReassignment(e.ctx, a.ID, stale, "z")
		})
		e.wantConflict(t, "FinishReassignment from "+name, func(tx device.Tx) error {
			return tx.FinishReassignment(e.ctx, a.ID, stale)
		})
	}
	pending, err := e.store.PendingReassignments(e.ctx)
	wantPending := []string{a.ID, b.ID}
	slices.Sort(wantPending)
	check(t, "PendingReassignments", pending, wantPending, err)

	e.update(t, func(tx device.Tx) error { return tx.FinishReassignment(e.ctx, a.ID, ra) })
	_, err = e.store.Reassignment(e.ctx, a.ID)
	wantIs(t, "Reassignment after finishing", err, device.ErrNotFound)
	pending, err = e.store.PendingReassignments(e.ctx)
	check(t, "PendingReassignments after finishing one", pending, []string{b.ID}, err)
	start(a.ID)
	ra, err = e.store.Reassignment(e.ctx, a.ID)
	check(t, "a restart after the end takes a new generation", ra,
		device.Reassignment{Generation: 3}, err)
	ra, err = e.store.Reassignment(e.ctx, b.ID)
	check(t, "the other account's reassignment", ra, device.Reassignment{Generation: 1}, err)
}
