package postgres_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/postgres"
	"github.com/warpreg/warpreg/internal/store/testdb"
)

// TestGetsWaitingTogetherShareAStatement holds the one statement slot with a first
// get until ten more are queued behind it, then checks that those ten went out as
// one statement, and that each got its own answer: its registration, or none for a
// wrong token, another account's registration or an unknown id.
func TestGetsWaitingTogetherShareAStatement(t *testing.T) {
	sizes := make(chan int, 16)
	release := make(chan struct{})
	st, err := postgres.OpenBatching(t.Context(), testdb.PostgresURL(t),
		slog.New(slog.DiscardHandler), 1, func(n int) {
			sizes <- n
			<-release
		})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := device.NewService(st, nil, slog.New(slog.DiscardHandler))
	acct, token, ids := seedGets(t, svc, 6)
	other, otherToken, otherIDs := seedGets(t, svc, 1)

	type get struct {
		account, token, id string
		want               bool
	}
	gets := []get{
		{acct.ID, token, ids[0], true}, // the one that holds the slot
		{acct.ID, token, ids[1], true},
		{acct.ID, "wrong", ids[2], false},
		{acct.ID, token, ids[3], true},
		{acct.ID, otherToken, ids[4], false},
		{other.ID, otherToken, otherIDs[0], true},
		{acct.ID, token, otherIDs[0], false},
		{acct.ID, token, device.NewID(), false},
		{acct.ID, token, ids[5], true},
		{other.ID, token, otherIDs[0], false},
		{acct.ID, token, ids[2], true},
	}
	type result struct {
		i     int
		reg   *device.Registration
		found bool
		err   error
	}
	results := make(chan result, len(gets))
	start := func(i int) {
		go func() {
			g := gets[i]
			_, reg, found, err := svc.RegistrationForToken(t.Context(), g.token, g.account, g.id)
			results <- result{i, reg, found, err}
		}()
	}

	start(0)
	if n := <-sizes; n != 1 {
		t.Fatalf("first statement: %d gets, want 1", n)
	}
	for i := 1; i < len(gets); i++ {
		start(i)
	}
	for deadline := time.Now().Add(10 * time.Second); postgres.QueuedGets(st) < len(gets)-1; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d gets queued", postgres.QueuedGets(st), len(gets)-1)
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	if n := <-sizes; n != len(gets)-1 {
		t.Errorf("second statement: %d gets, want %d", n, len(gets)-1)
	}

	for range gets {
		r := <-results
		g := gets[r.i]
		switch {
		case r.err != nil:
			t.Errorf("get %d: %v", r.i, r.err)
		case r.found != g.want:
			t.Errorf("get %d (%+v): found %v", r.i, g, r.found)
		case r.found && (r.reg.ID != g.id || r.reg.AccountID != g.account ||
			r.reg.Policy.AccountID != g.account):
			t.Errorf("get %d: registration %s of %s, want %s of %s", r.i, r.reg.ID,
				r.reg.AccountID, g.id, g.account)
		}
	}
}

// seedGets makes an account with an API token and n enrolled registrations.
func seedGets(t *testing.T, svc *device.Service, n int) (*device.Account, string, []string) {
	t.Helper()
	ctx := t.Context()
	acct, err := svc.CreateAccount(ctx, "gets", false)
	if err != nil {
		t.Fatal(err)
	}
	_, token, err := svc.CreateAPIToken(ctx, acct.ID, "reader", true)
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := svc.CreateEnrollmentKey(ctx, acct.ID, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for i := range ids {
		hw := fmt.Sprintf("laptop-%d", i)
		e, err := svc.Enroll(ctx, key, device.EnrollRequest{Key: x25519Key(t),
			KeyType: device.KeyCurve25519, Device: device.DeviceFacts{Name: hw, HardwareID: hw},
			UserEmail: hw + "@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = e.Registration.ID
	}
	return acct, token, ids
}
