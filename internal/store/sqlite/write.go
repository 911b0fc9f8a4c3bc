package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

// tx is a device.Tx on one SQLite transaction.
type tx struct {
	reader
	changed map[string]bool // accounts whose change log this transaction appended to
	log     row.Journal     // audit entries and changes not written yet
	held    *row.Journal    // those of the jobs before it in the batch, if any
}

// exec runs a statement and maps driver errors to domain kinds.
func (t *tx) exec(ctx context.Context, what, query string, args ...any) (sql.Result, error) {
	res, err := t.execStmt(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, mapError(err))
	}
	return res, nil
}

// put runs an upsert whose update is guarded by the account id, and reports a
// conflict when the guard stopped it: the id belongs to another account.
func (t *tx) put(ctx context.Context, what, query string, args ...any) error {
	res, err := t.exec(ctx, what, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: id held by another account: %w", what, device.ErrConflict)
	}
	return nil
}

// InsertAccount numbers the account after the greatest number so far (see
// accountNum); writes run one at a time, so two accounts never draw the same.
func (t *tx) InsertAccount(ctx context.Context, a *device.Account) error {
	_, err := t.exec(ctx, "insert account", `INSERT INTO accounts
		(id, name, multi_user, default_profile_id, created_at, num)
		VALUES (?, ?, ?, ?, ?, (SELECT coalesce(max(num), 0) + 1 FROM accounts))`,
		a.ID, a.Name, a.MultiUser, row.NullString(a.DefaultProfileID), a.CreatedAt.UnixMicro())
	return err
}

func (t *tx) SetDefaultProfile(ctx context.Context, accountID, profileID string) error {
	_, err := t.exec(ctx, "set default profile",
		`UPDATE accounts SET default_profile_id = ? WHERE id = ?`, profileID, accountID)
	return err
}

func (t *tx) PutProfile(ctx context.Context, p *device.Profile) error {
	values, err := row.ProfileValues(p)
	if err != nil {
		return fmt.Errorf("put profile: %w", err)
	}
	return t.put(ctx, "put profile", `INSERT INTO profiles (`+row.ProfileColumns+`)
		VALUES (`+placeholders(len(values))+`)
		ON CONFLICT (id) DO UPDATE SET `+row.ProfileUpdates+`
		WHERE profiles.account_id = excluded.account_id`, values...)
}

func (t *tx) AssignProfile(
	ctx context.Context, profileID string, rs []*device.Registration, at time.Time,
) error {
	for len(rs) > 0 {
		n := min(len(rs), touchChunk)
		args := []any{profileID, at.UnixMicro(), rs[0].AccountID}
		for _, r := range rs[:n] {
			args = append(args, r.ID)
		}
		_, err := t.exec(ctx, "assign profile", `UPDATE registrations
			SET profile_id = ?, policy_updated_at = ?
			WHERE account_id = `+accountNum+` AND id IN (`+placeholders(n)+`)`, args...)
		if err != nil {
			return err
		}
		rs = rs[n:]
	}
	return nil
}

func (t *tx) StartReassignment(ctx context.Context, accountID string) error {
	_, err := t.exec(ctx, "start reassignment", `INSERT INTO profile_reassignments
		(account_id, generation, after_id) VALUES (?, 1, '')
		ON CONFLICT (account_id) DO UPDATE
		SET generation = profile_reassignments.generation + 1, after_id = ''`, accountID)
	return err
}

func (t *tx) AdvanceReassignment(
	ctx context.Context, accountID string, r device.Reassignment, after string,
) error {
	return t.casReassignment(ctx, "advance reassignment", after, accountID, r)
}

func (t *tx) FinishReassignment(ctx context.Context, accountID string, r device.Reassignment) error {
	return t.casReassignment(ctx, "finish reassignment", nil, accountID, r)
}

// casReassignment sets the progress of r to after, if r is still the stored state.
func (t *tx) casReassignment(
	ctx context.Context, what string, after any, accountID string, r device.Reassignment,
) error {
	res, err := t.exec(ctx, what, `UPDATE profile_reassignments SET after_id = ?
		WHERE account_id = ? AND generation = ? AND after_id = ?`,
		after, accountID, r.Generation, r.After)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("%s: overtaken: %w", what, device.ErrConflict)
	}
	return nil
}

func (t *tx) PutUser(ctx context.Context, u *device.User) error {
	groups := u.Groups
	if groups == nil {
		groups = []string{}
	}
	g, err := json.Marshal(groups)
	if err != nil {
		return fmt.Errorf("put user: groups: %w", err)
	}
	return t.put(ctx, "put user", `INSERT INTO users
		(id, account_id, email, name, groups, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET email = excluded.email, name = excluded.name,
			groups = excluded.groups, updated_at = excluded.updated_at
		WHERE users.account_id = excluded.account_id`,
		u.ID, u.AccountID, u.Email, u.Name, string(g),
		u.CreatedAt.UnixMicro(), u.UpdatedAt.UnixMicro())
}

// PutDevice writes a new device's search text with the row, as devices_search_insert
// would have by writing the row a second time; a new device has no last seen user.
func (t *tx) PutDevice(ctx context.Context, d *device.Device) error {
	f := &d.Facts
	return t.put(ctx, "put device", `INSERT INTO devices (`+row.DeviceColumns+`, search_text)
		VALUES (?1, (SELECT num FROM accounts WHERE id = ?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9,
			?10, ?11, ?12, ?13, ?14, ?15, ?16,
			go_lower(?1 || char(31) || ?3 || char(31) || ?4 || char(31) || ?5 || char(31) ||
				?9 || char(31) || ?10 || char(31) || ?11 || char(31) || char(31)))
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, model = excluded.model,
			manufacturer = excluded.manufacturer, device_type = excluded.device_type,
			os_version = excluded.os_version, os_version_extra = excluded.os_version_extra,
			serial_number = excluded.serial_number, hardware_id = excluded.hardware_id,
			mac_address = excluded.mac_address, client_version = excluded.client_version,
			last_seen_at = max(devices.last_seen_at, excluded.last_seen_at),
			updated_at = excluded.updated_at, deleted_at = excluded.deleted_at
		WHERE devices.account_id = excluded.account_id`,
		d.ID, d.AccountID, f.Name, f.Model, f.Manufacturer, f.DeviceType, f.OSVersion,
		f.OSVersionExtra, f.SerialNumber, f.HardwareID, f.MACAddress, f.ClientVersion,
		d.LastSeenAt.UnixMicro(), d.CreatedAt.UnixMicro(), d.UpdatedAt.UnixMicro(),
		row.Micros(d.DeletedAt))
}

// PutRegistration writes a new registration with its user's and device's columns,
// read in the same statement (migration 0015): its row is written once. The upsert
// needs "WHERE true" after the joins, which SQLite would otherwise read as the
// start of a join's ON clause.
func (t *tx) PutRegistration(ctx context.Context, r *device.Registration) error {
	return t.put(ctx, "put registration", `INSERT INTO registrations
		(id, account_id, device_id, user_id, profile_id, slot, key, key_type, tunnel_type,
		 secret_hash, created_at, updated_at, last_seen_at, revoked_at, deleted_at,
		 policy_updated_at, user_name, user_email, device_name, client_version)
		SELECT ?1, (SELECT num FROM accounts WHERE id = ?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,
			?11, ?12, ?13, ?14, ?15, ?16, coalesce(u.name, ''), coalesce(u.email, ''),
			coalesce(d.name, ''), coalesce(d.client_version, '')
		FROM (SELECT 1) LEFT JOIN users u ON u.id = ?4 LEFT JOIN devices d ON d.id = ?3
		WHERE true
		ON CONFLICT (id) DO UPDATE SET device_id = excluded.device_id,
			user_id = excluded.user_id, profile_id = excluded.profile_id, slot = excluded.slot,
			key = excluded.key, key_type = excluded.key_type,
			tunnel_type = excluded.tunnel_type, secret_hash = excluded.secret_hash,
			updated_at = excluded.updated_at,
			last_seen_at = max(registrations.last_seen_at, excluded.last_seen_at),
			revoked_at = excluded.revoked_at, deleted_at = excluded.deleted_at,
			policy_updated_at = excluded.policy_updated_at
		WHERE registrations.account_id = excluded.account_id`,
		r.ID, r.AccountID, r.DeviceID, row.NullString(r.UserID), r.ProfileID, r.Slot, r.Key,
		row.NullString(string(r.KeyType)), row.NullString(string(r.TunnelType)), r.SecretHash,
		r.CreatedAt.UnixMicro(), r.UpdatedAt.UnixMicro(), r.LastSeenAt.UnixMicro(),
		row.Micros(r.RevokedAt), row.Micros(r.DeletedAt), r.PolicyUpdatedAt.UnixMicro())
}

// revokeQuery is SetRegistrationState when the deletion does not change.
const revokeQuery = `UPDATE registrations SET revoked_at = ?, updated_at = ?
	WHERE id = ? AND account_id = ` + accountNum + ` AND deleted_at IS ?`

// SetRegistrationState names deleted_at in its SET clause only when the deletion
// changes: SQLite rewrites the entries of every index whose columns or WHERE clause
// name a column set, changed or not, and eight of the registration indexes are
// partial on deleted_at IS NULL. A revocation then moves one index entry, not nine.
func (t *tx) SetRegistrationState(ctx context.Context, r *device.Registration) error {
	deleted := row.Micros(r.DeletedAt)
	res, err := t.exec(ctx, "set registration state", revokeQuery,
		row.Micros(r.RevokedAt), r.UpdatedAt.UnixMicro(), r.ID, r.AccountID, deleted)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n > 0 {
		return nil
	}
	res, err = t.exec(ctx, "set registration state", `UPDATE registrations
		SET revoked_at = ?, deleted_at = ?, updated_at = ?
		WHERE id = ? AND account_id = `+accountNum,
		row.Micros(r.RevokedAt), deleted, r.UpdatedAt.UnixMicro(), r.ID, r.AccountID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("set registration state: %w", device.ErrNotFound)
	}
	return nil
}

// touchChunk bounds the ids of one UPDATE, under SQLite's limit on parameters.
const touchChunk = 400

func (t *tx) TouchRegistrations(
	ctx context.Context, rs []*device.Registration, at time.Time,
) error {
	regs, devs := make([]string, len(rs)), make([]string, len(rs))
	for i, r := range rs {
		regs[i], devs[i] = r.ID, r.DeviceID
	}
	us := at.UnixMicro()
	for _, c := range []struct {
		table, what string
		ids         []string
	}{
		{"registrations", "touch registrations", regs}, {"devices", "touch devices", devs},
	} {
		for len(c.ids) > 0 {
			n := min(len(c.ids), touchChunk)
			_, err := t.exec(ctx, c.what, touchQuery(c.table, n),
				append([]any{us}, anySlice(c.ids[:n])...)...)
			if err != nil {
				return err
			}
			c.ids = c.ids[n:]
		}
	}
	return nil
}

// touchQuery moves the last-seen time of n rows of table forward. Rows already seen
// as late are left alone rather than rewritten.
func touchQuery(table string, n int) string {
	return `UPDATE ` + table + ` SET last_seen_at = ?1
		WHERE last_seen_at < ?1 AND id IN (` + placeholders(n) + `)`
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func (t *tx) InsertAPIToken(ctx context.Context, k *device.APIToken) error {
	_, err := t.exec(ctx, "insert api token", `INSERT INTO api_tokens
		(id, account_id, name, read_only, hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, k.AccountID, k.Name, k.ReadOnly, k.Hash, k.CreatedAt.UnixMicro())
	return err
}

func (t *tx) InsertGlobalKey(ctx context.Context, k *device.GlobalKey) error {
	_, err := t.exec(ctx, "insert global key", `INSERT INTO global_keys
		(id, account_id, email, hash, created_at) VALUES (?, ?, ?, ?, ?)`,
		k.ID, k.AccountID, k.Email, k.Hash, k.CreatedAt.UnixMicro())
	return err
}

func (t *tx) InsertEnrollmentKey(ctx context.Context, k *device.EnrollmentKey) error {
	_, err := t.exec(ctx, "insert enrollment key", `INSERT INTO enrollment_keys
		(id, account_id, reusable, expires_at, used_at, hash, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.AccountID, k.Reusable, row.Micros(k.ExpiresAt), row.Micros(k.UsedAt), k.Hash,
		k.CreatedAt.UnixMicro())
	return err
}

func (t *tx) SpendEnrollmentKey(ctx context.Context, id string, at time.Time) error {
	res, err := t.exec(ctx, "spend enrollment key", `UPDATE enrollment_keys SET used_at = ?
		WHERE id = ? AND used_at IS NULL`, at.UnixMicro(), id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("spend enrollment key: already used: %w", device.ErrConflict)
	}
	return nil
}

func (t *tx) PutSettingIfAbsent(ctx context.Context, name string, value []byte) error {
	_, err := t.exec(ctx, "put setting", `INSERT INTO settings (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO NOTHING`, name, value)
	return err
}
