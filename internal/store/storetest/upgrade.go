package storetest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/warpreg/warpreg/internal/device"
)

// Version3Fixture is a small multi-user account written as schema version 3 knew
// it, in SQL that both engines accept, for the test that upgrades a database to
// the current version: devices whose last seen registration is revoked, or
// deleted, or missing, and a deleted device. Each adapter applies its own
// migrations up to version 3, runs these statements, then opens the store.
var Version3Fixture = []string{
	`INSERT INTO accounts (id, name, multi_user, default_profile_id, created_at) VALUES
		('0123456789abcdef0123456789abcdef', 'Upgraded', TRUE, NULL, 1)`,
	`INSERT INTO profiles (id, account_id, name, is_default, deleted_at, created_at, updated_at)
		VALUES ('00000000-0000-4000-8000-0000000000f1', '0123456789abcdef0123456789abcdef',
		'Default', TRUE, NULL, 1, 1)`,
	`UPDATE accounts SET default_profile_id = '00000000-0000-4000-8000-0000000000f1'`,
	`INSERT INTO users (id, account_id, email, name, groups, created_at, updated_at) VALUES
		('00000000-0000-4000-8000-0000000000a1', '0123456789abcdef0123456789abcdef',
		 'ann@example.com', 'Ann', '[]', 1, 1),
		('00000000-0000-4000-8000-0000000000b2', '0123456789abcdef0123456789abcdef',
		 'bob@example.com', 'Bob', '[]', 1, 1)`,
	`INSERT INTO devices (id, account_id, name, model, manufacturer, device_type, os_version,
		os_version_extra, serial_number, hardware_id, mac_address, client_version,
		last_seen_at, created_at, updated_at, deleted_at) VALUES
		('00000000-0000-4000-8000-000000000d01', '0123456789abcdef0123456789abcdef', 'Laptop',
		 'X1', 'Lenovo', 'windows', '11', '', 'SN-1', 'hw-1', '', '2024.1', 300, 100, 300, NULL),
		('00000000-0000-4000-8000-000000000d02', '0123456789abcdef0123456789abcdef', 'Desk',
		 'M1', 'Apple', 'mac', '14', '', 'SN-2', 'hw-2', '', '2024.2', 500, 110, 500, NULL),
		('00000000-0000-4000-8000-000000000d03', '0123456789abcdef0123456789abcdef', 'Spare',
		 'M2', 'Apple', 'mac', '14', '', 'SN-3', 'hw-3', '', '2024.2', 120, 120, 120, NULL),
		('00000000-0000-4000-8000-000000000d04', '0123456789abcdef0123456789abcdef', 'Gone',
		 'M3', 'Apple', 'mac', '14', '', 'SN-4', 'hw-4', '', '2024.2', 450, 130, 600, 600)`,
	`INSERT INTO registrations (id, account_id, device_id, user_id, profile_id, slot, key,
		key_type, tunnel_type, secret_hash, created_at, updated_at, last_seen_at, revoked_at,
		deleted_at, policy_updated_at) VALUES
		('00000000-0000-4000-8000-000000000e01', '0123456789abcdef0123456789abcdef',
		 '00000000-0000-4000-8000-000000000d01', '00000000-0000-4000-8000-0000000000a1',
		 '00000000-0000-4000-8000-0000000000f1', '00000000-0000-4000-8000-0000000000a1',
		 'key-1', NULL, NULL, NULL, 100, 100, 200, NULL, NULL, 100),
		('00000000-0000-4000-8000-000000000e02', '0123456789abcdef0123456789abcdef',
		 '00000000-0000-4000-8000-000000000d01', '00000000-0000-4000-8000-0000000000b2',
		 '00000000-0000-4000-8000-0000000000f1', '00000000-0000-4000-8000-0000000000b2',
		 'key-2', NULL, NULL, NULL, 100, 350, 300, 350, NULL, 100),
		('00000000-0000-4000-8000-000000000e03', '0123456789abcdef0123456789abcdef',
		 '00000000-0000-4000-8000-000000000d02', '00000000-0000-4000-8000-0000000000a1',
		 '00000000-0000-4000-8000-0000000000f1', '00000000-0000-4000-8000-0000000000a1',
		 'key-3', NULL, NULL, NULL, 110, 550, 500, NULL, 550, 110),
		('00000000-0000-4000-8000-000000000e04', '0123456789abcdef0123456789abcdef',
		 '00000000-0000-4000-8000-000000000d02', '00000000-0000-4000-8000-0000000000b2',
		 '00000000-0000-4000-8000-0000000000f1', '00000000-0000-4000-8000-0000000000b2',
		 'key-4', NULL, NULL, NULL, 110, 560, 400, NULL, 560, 110),
		('00000000-0000-4000-8000-000000000e05', '0123456789abcdef0123456789abcdef',
		 '00000000-0000-4000-8000-000000000d04', '00000000-0000-4000-8000-0000000000b2',
		 '00000000-0000-4000-8000-0000000000f1', '00000000-0000-4000-8000-0000000000b2',
		 'key-5', NULL, NULL, NULL, 130, 600, 450, NULL, 600, 130)`,
}

// CheckUpgrade checks what the upgrade from Version3Fixture must have filled in:
// each device's views, the account's device counts, and the search text.
func CheckUpgrade(t *testing.T, s device.Store) {
	t.Helper()
	ctx := context.Background()
	const acct = "0123456789abcdef0123456789abcdef"
	id := func(suffix string) string { return "00000000-0000-4000-8000-000000000" + suffix }
	type view struct {
		Active         int
		LastSeen, User string
		Deleted        bool
	}
	want := map[string]view{
		id("d01"): {1, id("e02"), "bob@example.com", false}, // revoked, but seen last
		id("d02"): {0, id("e03"), "ann@example.com", false}, // every registration deleted
		id("d03"): {0, "", "", false},
		id("d04"): {0, id("e05"), "bob@example.com", true},
	}
	for dev, w := range want {
		d, err := s.Device(ctx, acct, dev)
		if err != nil {
			t.Fatalf("Device(%s): %v", dev, err)
		}
		got := view{Active: d.ActiveRegistrations, Deleted: !d.DeletedAt.IsZero()}
		if d.LastSeen != nil {
			got.LastSeen = d.LastSeen.ID
		}
		if d.LastSeenUser != nil {
			got.User = d.LastSeenUser.Email
		}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("device %s after the upgrade (-want +got):\n%s", dev, diff)
		}
	}

	lists := map[string]struct {
		q    device.DeviceListQuery
		want []string
	}{
		"only":     {device.DeviceListQuery{Active: device.ActiveOnly}, []string{id("d01")}},
		"exclude":  {device.DeviceListQuery{Active: device.ActiveExclude}, []string{id("d02"), id("d03")}},
		"search":   {device.DeviceListQuery{Active: device.ActiveInclude, Search: "BOB"}, []string{id("d01")}},
		"no users": {device.DeviceListQuery{Active: device.ActiveInclude, Search: "hw-3"}, []string{id("d03")}},
	}
	checkUpgradedSearch(t, s, acct, id)
	for name, l := range lists {
		q := l.q
		q.Sort, q.Limit = device.DeviceSortByID, 10
		page, err := s.ListDevices(ctx, acct, q)
		if err != nil {
			t.Fatalf("ListDevices %s: %v", name, err)
		}
		if diff := cmp.Diff(l.want, deviceIDs(page.Devices)); diff != "" || page.Total != len(l.want) {
			t.Errorf("ListDevices %s after the upgrade: total %d, ids (-want +got):\n%s",
				name, page.Total, diff)
		}
	}
}

// checkUpgradedSearch lists the registrations of the upgraded fixture by search
// terms in every field of the search text, which migration 9 moved into a trigram
// index (on SQLite) built from the rows written before it.
func checkUpgradedSearch(t *testing.T, s device.Store, acct string, id func(string) string) {
	t.Helper()
	searches := map[string][]string{
		"BOB@":    {id("e02")},
		"ann":     {id("e01")},
		"laptop":  {id("e01"), id("e02")},
		"000e02":  {id("e02")},
		"hw":      nil,
		"no such": nil,
	}
	for term, want := range searches {
		q := device.ListQuery{Search: term, Status: device.StatusAll, Sort: device.SortByID,
			Limit: 10}
		page, err := s.ListRegistrations(context.Background(), acct, q)
		if err != nil {
			t.Fatalf("ListRegistrations %q: %v", term, err)
		}
		var got []string
		for _, r := range page.Registrations {
			got = append(got, r.ID)
		}
		if diff := cmp.Diff(want, got); diff != "" || page.Total != len(want) {
			t.Errorf("search %q after the upgrade: total %d, ids (-want +got):\n%s",
				term, page.Total, diff)
		}
	}
}
