package sqlite

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

// TestNewRegistrationCarriesNames enrols devices, which insert registrations with
// their user's and device's columns in the INSERT itself (migration 0015), and
// checks those columns against the users and devices tables and the search index
// against them: each registration is found by its own user's email.
func TestNewRegistrationCarriesNames(t *testing.T) {
	st, svc, acct := openWithAccount(t)
	ctx := t.Context()
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

	checkNames(t, st)
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

// openWithAccount opens a new store, closed when the test ends, with a service over
// it and a multi-user account.
func openWithAccount(t *testing.T) (*Store, *device.Service, *device.Account) {
	t.Helper()
	st := openEmpty(t)
	svc := device.NewService(st, nil, slog.New(slog.DiscardHandler))
	acct, err := svc.CreateAccount(t.Context(), "names", true)
	if err != nil {
		t.Fatal(err)
	}
	return st, svc, acct
}

// checkNames fails the test if a registration's user and device columns differ
// from its user's and device's, or if the search index does not hold exactly one
// entry for each registration.
func checkNames(t *testing.T, st *Store) {
	t.Helper()
	var wrong, regs, indexed int
	err := st.read.QueryRowContext(t.Context(), `SELECT count(*) FROM registrations r
		LEFT JOIN users u ON u.id = r.user_id JOIN devices d ON d.id = r.device_id
		WHERE r.user_name IS NOT coalesce(u.name, '')
			OR r.user_email IS NOT coalesce(u.email, '')
			OR r.device_name IS NOT d.name OR r.client_version IS NOT d.client_version`).
		Scan(&wrong)
	if err != nil || wrong != 0 {
		t.Fatalf("%d registrations whose columns differ from their user's and device's (%v)",
			wrong, err)
	}
	err = st.read.QueryRowContext(t.Context(), `SELECT
		(SELECT count(*) FROM registrations), (SELECT count(*) FROM registrations_search_docsize)`).
		Scan(&regs, &indexed)
	if err != nil || regs != indexed {
		t.Fatalf("%d registrations, %d in the search index (%v)", regs, indexed, err)
	}
}

// TestRegistrationRowWrittenOnce puts two registrations in one transaction, one
// whose user and device have names and one whose user and device have none, and
// counts the rows each INSERT changes: the first is written once with its names;
// the second, whose four columns are all empty, takes the trigger that fills them
// (one UPDATE more), and both come out right and indexed once.
func TestRegistrationRowWrittenOnce(t *testing.T) {
	st, _, acct := openWithAccount(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	changes := map[bool]int64{} // by whether the user and device have names
	err := st.Update(ctx, func(dtx device.Tx) error {
		w := dtx.(*tx)
		for i, named := range []bool{true, false} {
			u := &device.User{ID: device.NewID(), AccountID: acct.ID, CreatedAt: now, UpdatedAt: now}
			d := &device.Device{ID: device.NewID(), AccountID: acct.ID, LastSeenAt: now,
				CreatedAt: now, UpdatedAt: now}
			if named {
				u.Email, u.Name = "named@example.com", "Named"
				d.Facts = device.DeviceFacts{Name: "Named desk", ClientVersion: "2025.1.0"}
			}
			d.Facts.HardwareID = fmt.Sprintf("hw-once-%d", i)
			r := &device.Registration{ID: device.NewID(), AccountID: acct.ID, DeviceID: d.ID,
				UserID: u.ID, ProfileID: acct.DefaultProfileID, Slot: u.ID,
				Key: fmt.Sprintf("key-once-%d", i), CreatedAt: now, UpdatedAt: now,
				LastSeenAt: now, PolicyUpdatedAt: now}
			if err := w.PutUser(ctx, u); err != nil {
				return err
			}
			if err := w.PutDevice(ctx, d); err != nil {
				return err
			}
			before := w.totalChanges(ctx)
			if err := w.PutRegistration(ctx, r); err != nil {
				return err
			}
			changes[named] = w.totalChanges(ctx) - before
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if changes[false]-changes[true] != 1 {
		t.Errorf("an INSERT with names changed %d rows, one without %d: want one fewer "+
			"with names (no UPDATE of the row just written)", changes[true], changes[false])
	}
	checkNames(t, st)
}
