package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

// TestServeFinishesPendingReassignment leaves the database as a process that died
// in the middle of re-evaluating profile assignments would, and checks that the
// next serve finishes the work without being asked.
func TestServeFinishesPendingReassignment(t *testing.T) {
	c := newCLI(t)
	acct := c.json("account", "create", "--name", "acme")["id"].(string)
	tok := c.json("token", "create", "--account", acct, "--name", "ci")["value"].(string)
	ek := c.json("enrollment-key", "create", "--account", acct, "--reusable")["value"].(string)

	st := storeOf(t, c.db)
	svc := device.NewService(st, nil, slog.New(slog.DiscardHandler))
	var regs []string
	for i := range 3 {
		en, err := svc.Enroll(t.Context(), ek, device.EnrollRequest{
			Key: wgKeyFor(i), KeyType: device.KeyCurve25519,
			Device: device.DeviceFacts{Name: "mac", HardwareID: fmt.Sprint("hw-", i),
				DeviceType: "mac"},
			UserEmail: fmt.Sprintf("u%d@example.com", i),
		})
		if err != nil {
			t.Fatal(err)
		}
		regs = append(regs, en.Registration.ID)
	}
	p := &device.Profile{ID: device.NewID(), AccountID: acct, Name: "Macs",
		Match: `os.name == "mac"`, Precedence: 1, Enabled: true, Settings: device.DefaultSettings(),
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	p.UpdatedAt = p.CreatedAt
	err := st.Update(t.Context(), func(tx device.Tx) error {
		if err := tx.PutProfile(t.Context(), p); err != nil {
			return err
		}
		return tx.StartReassignment(t.Context(), acct)
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}

	base := c.serve()
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range regs {
		url := fmt.Sprintf("%s/client/v4/accounts/%s/devices/registrations/%s?include=policy",
			base, acct, id)
		for {
			status, env := call(t, "GET", url, nil, "Authorization", "Bearer "+tok)
			if status != http.StatusOK {
				t.Fatalf("get %s: %d %v", id, status, env)
			}
			got := env["result"].(map[string]any)["policy"].(map[string]any)["id"]
			if got == p.ID {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("registration %s is still on %v, want the pending profile %s", id, got, p.ID)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func wgKeyFor(i int) string {
	return fmt.Sprintf("%042dA=", i)
}

// storeOf opens the database at dsn directly, for planting state.
func storeOf(t *testing.T, dsn string) device.Store {
	t.Helper()
	st, err := openStore(context.Background(), dsn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return st
}
