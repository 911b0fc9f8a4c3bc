package storetest

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

func retryTests() []behaviour {
	return []behaviour{
		{"retried transactions give the same results", testRetriedTransactions},
	}
}

// retryStore runs each transaction twice, as an engine that retries serialisation
// failures may: the first run is rolled back and the second commits. A service whose
// transaction functions keep state outside the transaction counts twice under it.
type retryStore struct{ device.Store }

type retryError struct{}

func (retryError) Error() string { return "storetest: simulated serialisation failure" }

func (s retryStore) Update(ctx context.Context, fn func(tx device.Tx) error) error {
	err := s.Store.Update(ctx, func(tx device.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return retryError{}
	})
	if !errors.As(err, new(retryError)) {
		return err
	}
	return s.Store.Update(ctx, fn)
}

func testRetriedTransactions(t *testing.T, e *env) {
	e.svc = device.NewService(retryStore{e.store}, e.clock.Now, slog.New(slog.DiscardHandler))
	a := e.newAccount(t, false)
	secret := e.newEnrollKey(t, a.ID, false)
	en := e.enroll(t, secret, enrollRequest("hw-1", "bob@example.com"))
	e.wantListed(t, a.ID, device.ListQuery{Status: device.StatusAll}, en.Registration.ID)

	e.clock.Advance(time.Minute)
	now := e.svc.Now()
	if _, err := e.svc.Heartbeat(e.ctx, en.Registration.ID, en.Token, "2025.1.0"); err != nil {
		t.Fatalf("Heartbeat: %v", err)
	}
	must(t, "Delete", e.svc.Delete(e.ctx, a.ID, []string{en.Registration.ID}))
	if d := e.device(t, a.ID, en.Registration.DeviceID); !d.DeletedAt.Equal(now) {
		t.Errorf("device DeletedAt = %s, want %s", d.DeletedAt, now)
	}

	sum, err := e.svc.Import(e.ctx, a.ID, importBatch(newImportIDs(), "imported-key-"))
	want := device.ImportSummary{Registrations: 4, Devices: 4, Users: 1, Profiles: 2}
	if err != nil || sum != want {
		t.Errorf("Import = %+v, %v; want %+v", sum, err, want)
	}
}
