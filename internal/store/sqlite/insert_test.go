package sqlite

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
)

// TestNewRegistrationCarriesNames enrols devices, which insert registrations with
// their user's and device's columns in the INSERT itself (migration 0015), and
// checks those columns against the users and devices tables and the search index
// against them: each registration is found by its own user's email.
func TestNewRegistrationCarriesNames(t *testing.T) {
	st := openEmpty(t)
	svc := device.NewService(st, nil, slog.New(slog.DiscardHandler))
	ctx := t.Context()
	acct, err := svc.CreateAccount(ctx, "names", true)
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := svc.CreateEnrollmentKey(ctx, acct.ID, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	emails := []string{"ann.quill@example.com", "bob.zephyr@example.com", "cy.oxbow@example.com"}
	for i, email := range emails {
		key := make([]byte, 32)
		rand.Read(key)
		req := device.EnrollRequest{
			Key: base64.StdEncoding.EncodeToString(key), KeyType: device.KeyCurve25519,
			Device: device.DeviceFacts{Name: fmt.Sprintf("Desk %d", i), DeviceType: "linux",
				HardwareID: fmt.Sprintf("hw-%d", i), ClientVersion: "2025.1.0"},
			UserEmail: email, UserName: fmt.Sprintf("User %d", i),
		}
		if i == 2 {
			req.Device.ClientVersion = ""
		}
		if _, err := svc.Enroll(ctx, secret, req); err != nil {
			t.Fatal(err)
		}
	}

	var wrong int
	err = st.read.QueryRowContext(ctx, `SELECT count(*) FROM registrations r
		JOIN users u ON u.id = r.user_id JOIN devices d ON d.id = r.device_id
		WHERE r.user_name IS NOT u.name OR r.user_email IS NOT u.email
			OR r.device_name IS NOT d.name OR r.client_version IS NOT d.client_version`).
		Scan(&wrong)
	if err != nil || wrong != 0 {
		t.Fatalf("%d registrations whose columns differ from their user's and device's (%v)",
			wrong, err)
	}
	for _, email := range emails {
		var n int
		err := st.read.QueryRowContext(ctx, `SELECT count(*) FROM registrations_search s
			JOIN registrations r ON r.rowid = s.rowid
			WHERE registrations_search MATCH ? AND r.user_email = ?`,
			trigramQuery(email), email).Scan(&n)
		if err != nil || n != 1 {
			t.Errorf("the search index finds %d registrations of %s (%v), want 1", n, email, err)
		}
	}
}
