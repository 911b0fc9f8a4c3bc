package postgres_test

import (
	"context"
	"errors"
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
	st, sizes, release := holdSlot(t, nil)
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
		{acct.ID, otherToken, otherIDs[0], false}, // another account's token and row
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
	if n := within(t, sizes, "first statement"); n != 1 {
		t.Fatalf("first statement: %d gets, want 1", n)
	}
	for i := 1; i < len(gets); i++ {
		start(i)
	}
	waitQueued(t, st, len(gets)-1)
	close(release)
	if n := within(t, sizes, "second statement"); n != len(gets)-1 {
		t.Errorf("second statement: %d gets, want %d", n, len(gets)-1)
	}

	for range gets {
		r := within(t, results, "answer")
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

// holdSlot opens a store with one statement slot for gets and a hook that holds the
// slot on the first get until release is closed; later statements report their
// number of gets on sizes and run when hook (if not nil) returns.
func holdSlot(t *testing.T, hook func(n int)) (st *postgres.Store, sizes chan int,
	release chan struct{},
) {
	t.Helper()
	sizes, release = make(chan int, 16), make(chan struct{})
	first := true
	st, err := postgres.OpenBatching(t.Context(), testdb.PostgresURL(t),
		slog.New(slog.DiscardHandler), 1, func(n int) {
			sizes <- n
			if first {
				first = false
				<-release
			} else if hook != nil {
				hook(n)
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	return st, sizes, release
}

// waitQueued waits until n gets have gone to the queue.
func waitQueued(t *testing.T, st *postgres.Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); postgres.QueuedGets(st) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d gets queued", postgres.QueuedGets(st), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestQueuedGetsReturnWhenTheStoreCloses closes the store while a get waits in the
// queue: it returns, and so does a get that arrives after the close.
func TestQueuedGetsReturnWhenTheStoreCloses(t *testing.T) {
	st, sizes, release := holdSlot(t, nil)
	defer close(release)
	hash := device.HashSecret("any")
	id := device.NewID()
	go st.TokenRegistration(t.Context(), hash, "a", id) // holds the slot
	within(t, sizes, "first statement")
	queued := make(chan error, 1)
	go func() {
		_, _, err := st.TokenRegistration(context.Background(), hash, "a", id)
		queued <- err
	}()
	waitQueued(t, st, 1)

	st.Close()
	select {
	case err := <-queued:
		if err == nil {
			t.Error("a queued get answered after the store closed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a queued get still waits 10 s after the store closed")
	}
	if _, _, err := st.TokenRegistration(context.Background(), hash, "a", id); err == nil {
		t.Error("a get after the store closed answered")
	}
}

// TestBatchEndsWithItsCallers blocks a batch's statement on a table lock, then
// cancels every get in it: the statement must be cancelled too (its lock request
// withdrawn), as a lone get's is, rather than hold its slot and connection.
func TestBatchEndsWithItsCallers(t *testing.T) {
	proceed, quit := make(chan struct{}), make(chan struct{})
	st, sizes, release := holdSlot(t, func(int) {
		select {
		case <-proceed:
		case <-quit:
		}
	})
	defer st.Close()
	defer close(quit) // before Close, which waits for the worker
	hash := device.HashSecret("any")
	go st.TokenRegistration(t.Context(), hash, "a", device.NewID()) // holds the slot
	within(t, sizes, "first statement")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, _, err := st.TokenRegistration(ctx, hash, "a", device.NewID())
			errs <- err
		}()
	}
	waitQueued(t, st, 2)
	close(release)
	if n := within(t, sizes, "batch"); n != 2 {
		t.Fatalf("batch of %d gets, want 2", n)
	}

	// The batch has formed and waits in the hook: lock the table its statement reads.
	lock, err := st.Pool().Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(context.Background()) // before Close, which waits for connections
	_, err = lock.Exec(t.Context(), "LOCK TABLE registrations IN ACCESS EXCLUSIVE MODE")
	if err != nil {
		t.Fatal(err)
	}
	close(proceed)
	waiters := func() int {
		var n int
		err := lock.QueryRow(t.Context(), `SELECT count(*) FROM pg_locks
			WHERE NOT granted AND relation = 'registrations'::regclass`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for deadline := time.Now().Add(10 * time.Second); waiters() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the batch's statement never waited for the lock")
		}
		time.Sleep(time.Millisecond)
	}

	cancel()
	for range 2 {
		if err := within(t, errs, "cancelled get's return"); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled get: %v", err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); waiters() > 0; {
		if time.Now().After(deadline) {
			t.Fatal("the batch's statement still waits 10 s after its gets were cancelled")
		}
		time.Sleep(time.Millisecond)
	}
}

// within receives from ch, or fails the test after 10 s, so that a regression fails
// rather than hangs.
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10 s", what)
		panic("unreachable")
	}
}
