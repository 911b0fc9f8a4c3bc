package postgres_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/postgres"
	"github.com/warpreg/warpreg/internal/store/testdb"
)

// TestConcurrentEnrolmentsNeverDeadlock enrols devices of one account from many
// goroutines at once. Serialization failures may make a write retry, but a deadlock
// means two writers lock the account row in orders that cross, which costs a
// second of PostgreSQL's deadlock timeout each time: none may happen. (Taking the
// row FOR UPDATE after a foreign-key check had taken it FOR KEY SHARE did.)
func TestConcurrentEnrolmentsNeverDeadlock(t *testing.T) {
	states := &sqlStates{seen: map[string]int{}}
	log := slog.New(states)
	st, err := postgres.Open(t.Context(), testdb.PostgresURL(t), log)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := device.NewService(st, nil, slog.New(slog.DiscardHandler))
	acct, err := svc.CreateAccount(t.Context(), "deadlocks", false)
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := svc.CreateEnrollmentKey(t.Context(), acct.ID, true, 0)
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 8 {
		wg.Go(func() {
			for i := range 8 {
				hw := fmt.Sprintf("hw-%d-%d", w, i)
				_, err := svc.Enroll(t.Context(), key, device.EnrollRequest{
					Key: x25519Key(t), KeyType: device.KeyCurve25519,
					Device:    device.DeviceFacts{Name: hw, HardwareID: hw},
					UserEmail: hw + "@example.com",
				})
				if err != nil {
					errs <- fmt.Errorf("enrol %s: %w", hw, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := states.count("40P01"); n > 0 {
		t.Errorf("%d deadlocks among 64 concurrent enrolments (retries by SQLSTATE: %v)",
			n, states.snapshot())
	}
}

func x25519Key(t *testing.T) string {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k.PublicKey().Bytes())
}

// sqlStates is a log handler that counts the store's retries by SQLSTATE.
type sqlStates struct {
	mu   sync.Mutex
	seen map[string]int
}

func (h *sqlStates) Enabled(context.Context, slog.Level) bool { return true }
func (h *sqlStates) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *sqlStates) WithGroup(string) slog.Handler            { return h }

func (h *sqlStates) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "sqlstate" {
			h.mu.Lock()
			h.seen[a.Value.String()]++
			h.mu.Unlock()
		}
		return true
	})
	return nil
}

func (h *sqlStates) count(state string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen[state]
}

func (h *sqlStates) snapshot() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for k, v := range h.seen {
		out[k] = v
	}
	return out
}
