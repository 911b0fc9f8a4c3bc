package sqlite

import (
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warpreg/warpreg/internal/device"
)

// upgradeAccounts are the accounts of TestUpgradeNumbersAccounts, in the order they
// are inserted, which is not the order of their ids: a number is not an id's rank.
var upgradeAccounts = []string{
	"cccccccccccccccccccccccccccccccc",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
}

// accountFixture is one account of a version 11 database: a user, a live device
// with a live and a revoked registration (the live one with an override secret),
// and a deleted device with a deleted registration. Ids end in the account's
// letter.
func accountFixture(acct string) []string {
	c := acct[:1]
	id := func(kind string, n int) string {
		return fmt.Sprintf("00000000-0000-4000-8000-%s%010d%s", kind, n, c)
	}
	prof, user := id("f", 0), id("a", 0)
	dev := func(n int, deleted string) string {
		return fmt.Sprintf(`INSERT INTO devices (id, account_id, name, model, manufacturer,
			device_type, os_version, os_version_extra, serial_number, hardware_id, mac_address,
			client_version, last_seen_at, created_at, updated_at, deleted_at) VALUES
			('%s', '%s', 'Box %d%s', 'M', 'Acme', 'linux', '6', '', 'SN-%d%s', 'hw-%d%s', '',
			'1.0', 100, 100, 100, %s)`, id("d", n), acct, n, c, n, c, n, c, deleted)
	}
	reg := func(n, device int, revoked, deleted string) string {
		return fmt.Sprintf(`INSERT INTO registrations (id, account_id, device_id, user_id,
			profile_id, slot, key, created_at, updated_at, last_seen_at, revoked_at, deleted_at,
			policy_updated_at) VALUES ('%s', '%s', '%s', '%s', '%s', '%s', 'key-%d%s', %d, %d,
			%d, %s, %s, 1)`, id("e", n), acct, id("d", device), user, prof, id("e", n), n, c,
			10+n, 10+n, 20+n, revoked, deleted)
	}
	return []string{
		fmt.Sprintf(`INSERT INTO accounts (id, name, multi_user, created_at)
			VALUES ('%s', 'Account %s', 1, 1)`, acct, c),
		fmt.Sprintf(`INSERT INTO profiles (id, account_id, name, is_default, created_at,
			updated_at) VALUES ('%s', '%s', 'Default', 1, 1, 1)`, prof, acct),
		fmt.Sprintf(`UPDATE accounts SET default_profile_id = '%s' WHERE id = '%s'`, prof, acct),
		fmt.Sprintf(`INSERT INTO users (id, account_id, email, name, groups, created_at,
			updated_at) VALUES ('%s', '%s', '%s@example.com', 'User %s', '[]', 1, 1)`,
			user, acct, c, c),
		dev(1, "NULL"), dev(2, "500"),
		reg(1, 1, "NULL", "NULL"), reg(2, 1, "300", "NULL"), reg(3, 2, "NULL", "500"),
		fmt.Sprintf(`INSERT INTO override_secrets (registration_id, secret, counter,
			created_at, updated_at) VALUES ('%s', x'0102', 7, 1, 1)`, id("e", 1)),
	}
}

// upgradeDumps read every row that migration 0012 copies, and the account
// counters; ACCOUNT stands for the expression that reads a row's account id.
var upgradeDumps = map[string]string{
	"registrations": `SELECT rowid, id, ACCOUNT, device_id, user_id, profile_id, slot, key,
		key_type, tunnel_type, secret_hash, created_at, updated_at, last_seen_at, revoked_at,
		deleted_at, policy_updated_at, user_name, user_email, device_name, client_version
		FROM registrations ORDER BY id`,
	"devices": `SELECT rowid, id, ACCOUNT, name, model, manufacturer, device_type, os_version,
		os_version_extra, serial_number, hardware_id, mac_address, client_version,
		last_seen_at, created_at, updated_at, deleted_at, active_count,
		last_seen_registration_id, last_seen_user_id, last_seen_user_email,
		last_seen_user_name, search_text FROM devices ORDER BY id`,
	"override secrets": `SELECT registration_id, secret, counter, created_at, updated_at
		FROM override_secrets ORDER BY registration_id`,
	"accounts": `SELECT id, live_count, revoked_count, live_device_count,
		active_device_count FROM accounts ORDER BY id`,
}

// TestUpgradeNumbersAccounts upgrades a version 11 database of several accounts:
// migration 0012 must keep every registration, device and override secret as it
// was, under the same account, and the store must answer each account with its
// own rows only. An account created afterwards takes the next number.
func TestUpgradeNumbersAccounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v11.db")
	var fixture []string
	for _, acct := range upgradeAccounts {
		fixture = append(fixture, accountFixture(acct)...)
	}
	migrateTo(t, path, 11, fixture)
	before := dumpUpgrade(t, path, "account_id")

	st, err := Open(t.Context(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open the version 11 database: %v", err)
	}
	defer st.Close()
	after := dumpUpgrade(t, path, "(SELECT id FROM accounts WHERE num = account_id)")
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("rows after the upgrade (-before +after):\n%s", diff)
	}
	for _, pragma := range []string{"foreign_key_check", "integrity_check"} {
		if got := queryLines(t, st.read, "PRAGMA "+pragma); !cmp.Equal(got, []string{"ok"}) &&
			!(pragma == "foreign_key_check" && len(got) == 0) {
			t.Errorf("PRAGMA %s: %v", pragma, got)
		}
	}
	for _, acct := range upgradeAccounts {
		checkAccountRows(t, st, acct)
	}
	checkNewAccount(t, st)
}

// checkAccountRows lists an upgraded account's registrations and devices, and reads
// its live registration under every account: only its own may answer.
func checkAccountRows(t *testing.T, st *Store, acct string) {
	t.Helper()
	c := acct[:1]
	id := func(kind string, n int) string {
		return fmt.Sprintf("00000000-0000-4000-8000-%s%010d%s", kind, n, c)
	}
	page, err := st.ListRegistrations(t.Context(), acct, device.ListQuery{
		Status: device.StatusAll, Sort: device.SortByID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var regs []string
	for _, r := range page.Registrations {
		regs = append(regs, r.ID+" "+r.AccountID+" "+r.User.Email)
	}
	want := []string{id("e", 1) + " " + acct + " " + c + "@example.com",
		id("e", 2) + " " + acct + " " + c + "@example.com"}
	if diff := cmp.Diff(want, regs); diff != "" || page.Total != 2 {
		t.Errorf("account %s: registrations, total %d (-want +got):\n%s", c, page.Total, diff)
	}
	devs, err := st.ListDevices(t.Context(), acct, device.DeviceListQuery{
		Active: device.ActiveInclude, Sort: device.DeviceSortByID, Limit: 10, Search: "BOX"})
	if err != nil {
		t.Fatal(err)
	}
	if len(devs.Devices) != 1 || devs.Devices[0].ID != id("d", 1) ||
		devs.Devices[0].AccountID != acct || devs.Devices[0].ActiveRegistrations != 1 {
		t.Errorf("account %s: devices %+v", c, devs.Devices)
	}
	for _, other := range upgradeAccounts {
		r, err := st.Registration(t.Context(), other, id("e", 1))
		switch {
		case other == acct && (err != nil || r.AccountID != acct):
			t.Errorf("account %s: own registration: %v", c, err)
		case other != acct && !errors.Is(err, device.ErrNotFound):
			t.Errorf("account %s: registration read as account %s: %v", c, other[:1], err)
		}
	}
}

// checkNewAccount creates an account after the upgrade and enrols a device in it:
// the account takes the number after the greatest, and its rows are its own.
func checkNewAccount(t *testing.T, st *Store) {
	t.Helper()
	ctx := t.Context()
	svc := device.NewService(st, time.Now, slog.New(slog.DiscardHandler))
	a, err := svc.CreateAccount(ctx, "After", false)
	if err != nil {
		t.Fatal(err)
	}
	nums := queryLines(t, st.read, `SELECT id || ' ' || num FROM accounts ORDER BY num`)
	want := []string{upgradeAccounts[0] + " 1", upgradeAccounts[1] + " 2",
		upgradeAccounts[2] + " 3", a.ID + " 4"}
	if diff := cmp.Diff(want, nums); diff != "" {
		t.Errorf("account numbers (-want +got):\n%s", diff)
	}
	_, secret, err := svc.CreateEnrollmentKey(ctx, a.ID, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	en, err := svc.Enroll(ctx, secret, device.EnrollRequest{
		Key: base64.StdEncoding.EncodeToString(key), KeyType: device.KeyCurve25519,
		Device:    device.DeviceFacts{Name: "New box", DeviceType: "linux", HardwareID: "hw-1a"},
		UserEmail: "new@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	page, err := st.ListRegistrations(ctx, a.ID, device.ListQuery{
		Status: device.StatusAll, Sort: device.SortByID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Registrations) != 1 || page.Registrations[0].ID != en.Registration.ID ||
		page.Total != 1 {
		t.Errorf("new account's registrations: %+v, total %d", page.Registrations, page.Total)
	}
	// hw-1a is the hardware id of account a's first device too: each account finds
	// its own.
	old, err := st.DeviceByHardwareID(ctx, upgradeAccounts[1], "hw-1a")
	if err != nil || old.ID != "00000000-0000-4000-8000-d0000000001a" {
		t.Errorf("account a's device hw-1a: %v, %v", old, err)
	}
	d, err := st.DeviceByHardwareID(ctx, a.ID, "hw-1a")
	if err != nil || d.ID != en.Registration.DeviceID || d.AccountID != a.ID {
		t.Errorf("the new account's device hw-1a: %v, %v", d, err)
	}
}

// dumpUpgrade reads upgradeDumps from the database at path, with account for
// ACCOUNT.
func dumpUpgrade(t *testing.T, path, account string) map[string][]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string][]string{}
	for what, q := range upgradeDumps {
		out[what] = queryLines(t, db, strings.ReplaceAll(q, "ACCOUNT", account))
	}
	return out
}

// queryLines runs query and returns its rows, one line each.
func queryLines(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("%v\n%s", err, query)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = fmt.Sprintf("%x", b)
			}
			parts[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
