package sqlite

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
)

// TestPrefetchReadsWhatARevocationWrites checks that the read ahead seeks, down to
// the id, in every index that a revocation or unrevocation moves an entry in, as
// the schema stands: each registrations index on revoked_at, each devices index on
// active_count (the triggers keep it), each audit log index on target_id, and the
// two id lookups. A new index on one of those columns fails here until
// prefetchQuery reads it too.
func TestPrefetchReadsWhatARevocationWrites(t *testing.T) {
	st := openEmpty(t)
	rows, err := st.read.QueryContext(t.Context(), `SELECT m.name FROM sqlite_master m
		WHERE m.type = 'index' AND (
			m.tbl_name = 'registrations' AND (m.sql LIKE '%revoked_at%' OR EXISTS (
				SELECT 1 FROM pragma_index_info(m.name) WHERE name = 'revoked_at'))
			OR m.tbl_name = 'devices' AND (m.sql LIKE '%active_count%' OR EXISTS (
				SELECT 1 FROM pragma_index_info(m.name) WHERE name = 'active_count'))
			OR m.tbl_name = 'audit_log' AND EXISTS (
				SELECT 1 FROM pragma_index_info(m.name) WHERE name = 'target_id'))`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"sqlite_autoindex_registrations_1", "sqlite_autoindex_devices_1"}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		want = append(want, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(want) < 6 {
		t.Fatalf("indexes a revocation writes: %q; the schema query found too few", want)
	}

	plan, _ := badPlan(t, st, prefetchQuery, []any{"a", "[]"}, false)
	for _, index := range want {
		seeks := false
		for _, step := range plan {
			seeks = seeks || strings.Contains(step, " INDEX "+index+" (") &&
				(strings.HasSuffix(step, "(id=?)") || strings.HasSuffix(step, " id=?)") ||
					strings.HasSuffix(step, " target_id=?)"))
		}
		if !seeks {
			t.Errorf("the read ahead does not seek an id in %s; plan: %s",
				index, strings.Join(plan, "; "))
		}
	}
}

// TestPrefetchSkipsWhatItCannotFind reads ahead ids that a change would refuse:
// unknown, another account's, not an id. The read finds nothing for them and fails
// on none (a deleted registration is read: a deletion may name it again), and the
// service's revocation still refuses them. Once the read ahead's pool is
// closed, as Close does, a read ahead says so.
func TestPrefetchSkipsWhatItCannotFind(t *testing.T) {
	st, svc, acct := openWithAccount(t)
	ctx := t.Context()
	ids := enrollSome(t, svc, acct, 3)
	other, err := svc.CreateAccount(ctx, "other", false)
	if err != nil {
		t.Fatal(err)
	}
	foreign := enrollSome(t, svc, other, 1)[0]
	if err := svc.Delete(ctx, acct.ID, ids[2:]); err != nil {
		t.Fatal(err)
	}

	odd := []string{strings.Repeat("f", 32), foreign, ids[2], `"]`, "\xff", ids[0]}
	if found, err := st.prefetch.read(ctx, acct.ID, odd); err != nil || found != 2 {
		t.Fatalf("read ahead of %q: found %d (%v), want 2", odd, found, err)
	}
	if err := st.PrefetchRegistrations(ctx, acct.ID, odd); err != nil {
		t.Fatalf("read ahead of %q: %v", odd, err)
	}
	err = svc.Revoke(ctx, acct.ID, []string{ids[0], foreign})
	if device.KindOf(err) != device.KindNotFound {
		t.Errorf("revoking another account's registration: %v, want not found", err)
	}
	if err := svc.Revoke(ctx, acct.ID, ids[:2]); err != nil {
		t.Fatal(err)
	}

	if err := st.prefetch.close(); err != nil {
		t.Fatal(err)
	}
	if err := st.PrefetchRegistrations(ctx, acct.ID, ids); !errors.Is(err, errPrefetchClosed) {
		t.Errorf("read ahead after Close: %v, want %v", err, errPrefetchClosed)
	}
}

// enrollSome enrols n new devices in acct and returns their registrations' ids.
func enrollSome(t *testing.T, svc *device.Service, acct *device.Account, n int) []string {
	t.Helper()
	_, secret, err := svc.CreateEnrollmentKey(t.Context(), acct.ID, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range n {
		key := make([]byte, 32)
		rand.Read(key)
		out, err := svc.Enroll(t.Context(), secret, device.EnrollRequest{
			Key: base64.StdEncoding.EncodeToString(key), KeyType: device.KeyCurve25519,
			Device: device.DeviceFacts{Name: fmt.Sprintf("Desk %d", i), DeviceType: "linux",
				HardwareID: rand.Text()},
			UserEmail: fmt.Sprintf("u%d@example.com", i),
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, out.Registration.ID)
	}
	return ids
}
