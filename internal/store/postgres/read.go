package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/warpreg/warpreg/internal/device"
)

// queryer is what *pgxpool.Pool and pgx.Tx share, so that every query runs the same
// inside and outside a transaction.
type queryer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type reader struct{ q queryer }

// scanner is what pgx.Row and pgx.Rows share.
type scanner interface{ Scan(dest ...any) error }

func (r reader) Account(ctx context.Context, id string) (*device.Account, error) {
	var a device.Account
	var created int64
	var def sql.NullString
	err := r.q.QueryRow(ctx, `SELECT id, name, multi_user, default_profile_id, created_at
		FROM accounts WHERE id = $1`, id).Scan(&a.ID, &a.Name, &a.MultiUser, &def, &created)
	if err != nil {
		return nil, fmt.Errorf("read account: %w", mapError(err))
	}
	a.DefaultProfileID, a.CreatedAt = def.String, fromMicros(created)
	return &a, nil
}

func (r reader) Profile(ctx context.Context, accountID, id string) (*device.Profile, error) {
	var p device.Profile
	var deleted sql.NullInt64
	var created, updated int64
	err := r.q.QueryRow(ctx, `SELECT id, account_id, name, is_default, deleted_at,
		created_at, updated_at FROM profiles WHERE account_id = $1 AND id = $2`, accountID, id).
		Scan(&p.ID, &p.AccountID, &p.Name, &p.Default, &deleted, &created, &updated)
	if err != nil {
		return nil, fmt.Errorf("read profile: %w", mapError(err))
	}
	p.DeletedAt, p.CreatedAt, p.UpdatedAt = nullMicros(deleted), fromMicros(created), fromMicros(updated)
	return &p, nil
}

const userColumns = `id, account_id, email, name, groups, created_at, updated_at`

func (r reader) User(ctx context.Context, accountID, id string) (*device.User, error) {
	row := r.q.QueryRow(ctx, `SELECT `+userColumns+` FROM users
		WHERE account_id = $1 AND id = $2`, accountID, id)
	return scanUser(row)
}

// UserByEmail repeats the users_email index's own condition, a non-empty email: the
// planner uses a partial index only when the query implies its WHERE clause.
func (r reader) UserByEmail(ctx context.Context, accountID, email string) (*device.User, error) {
	row := r.q.QueryRow(ctx, `SELECT `+userColumns+` FROM users
		WHERE account_id = $1 AND email = $2 AND email <> ''`, accountID, email)
	return scanUser(row)
}

func scanUser(row scanner) (*device.User, error) {
	var u device.User
	var groups string
	var created, updated int64
	err := row.Scan(&u.ID, &u.AccountID, &u.Email, &u.Name, &groups, &created, &updated)
	if err != nil {
		return nil, fmt.Errorf("read user: %w", mapError(err))
	}
	if err := json.Unmarshal([]byte(groups), &u.Groups); err != nil {
		return nil, fmt.Errorf("read user %s: groups: %w", u.ID, err)
	}
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &u, nil
}

const deviceColumns = `id, account_id, name, model, manufacturer, device_type, os_version,
	os_version_extra, serial_number, hardware_id, mac_address, client_version,
	last_seen_at, created_at, updated_at, deleted_at`

func (r reader) Device(ctx context.Context, accountID, id string) (*device.Device, error) {
	return scanDevice(r.q.QueryRow(ctx, `SELECT `+deviceColumns+` FROM devices
		WHERE account_id = $1 AND id = $2`, accountID, id))
}

func (r reader) DeviceByHardwareID(
	ctx context.Context, accountID, hardwareID string,
) (*device.Device, error) {
	return scanDevice(r.q.QueryRow(ctx, `SELECT `+deviceColumns+` FROM devices
		WHERE account_id = $1 AND hardware_id = $2 AND hardware_id <> '' AND deleted_at IS NULL`,
		accountID, hardwareID))
}

// DeviceBySerial prefers the most recently seen device when, having no hardware id to
// tell them apart, several live devices report one serial number.
func (r reader) DeviceBySerial(
	ctx context.Context, accountID, serial string,
) (*device.Device, error) {
	return scanDevice(r.q.QueryRow(ctx, `SELECT `+deviceColumns+` FROM devices
		WHERE account_id = $1 AND serial_number = $2 AND serial_number <> ''
		AND deleted_at IS NULL ORDER BY last_seen_at DESC, id LIMIT 1`, accountID, serial))
}

func scanDevice(row scanner) (*device.Device, error) {
	var d device.Device
	f := &d.Facts
	var seen, created, updated int64
	var deleted sql.NullInt64
	err := row.Scan(&d.ID, &d.AccountID, &f.Name, &f.Model, &f.Manufacturer, &f.DeviceType,
		&f.OSVersion, &f.OSVersionExtra, &f.SerialNumber, &f.HardwareID, &f.MACAddress,
		&f.ClientVersion, &seen, &created, &updated, &deleted)
	if err != nil {
		return nil, fmt.Errorf("read device: %w", mapError(err))
	}
	d.LastSeenAt, d.CreatedAt, d.UpdatedAt = fromMicros(seen), fromMicros(created), fromMicros(updated)
	d.DeletedAt = nullMicros(deleted)
	return &d, nil
}

// registrationSelect reads a registration with its device, user and profile views
// from its own row, where triggers keep copies of the device's name and client
// version and the user's name and email, and the small profiles table.
const registrationSelect = `SELECT r.id, r.account_id, r.device_id, r.user_id, r.profile_id,
	r.slot, r.key, r.key_type, r.tunnel_type, r.secret_hash, r.created_at, r.updated_at,
	r.last_seen_at, r.revoked_at, r.deleted_at, r.policy_updated_at,
	r.device_name, r.client_version, r.user_email, r.user_name,
	p.name, p.is_default, p.deleted_at, p.created_at, p.updated_at
	FROM registrations r
	JOIN profiles p ON p.id = r.profile_id`

func (r reader) Registration(
	ctx context.Context, accountID, id string,
) (*device.Registration, error) {
	return scanRegistration(r.q.QueryRow(ctx, registrationSelect+`
		WHERE r.account_id = $1 AND r.id = $2`, accountID, id))
}

func (r reader) RegistrationByID(ctx context.Context, id string) (*device.Registration, error) {
	return scanRegistration(r.q.QueryRow(ctx, registrationSelect+` WHERE r.id = $1`, id))
}

func (r reader) LiveRegistration(
	ctx context.Context, deviceID, slot string,
) (*device.Registration, error) {
	return scanRegistration(r.q.QueryRow(ctx, registrationSelect+`
		WHERE r.device_id = $1 AND r.slot = $2 AND r.deleted_at IS NULL`, deviceID, slot))
}

func scanRegistration(row scanner) (*device.Registration, error) {
	var g device.Registration
	var userID, keyType, tunnelType sql.NullString
	var created, updated, seen, policyUpdated int64
	var revoked, deleted sql.NullInt64
	var uEmail, uName string
	var p device.Profile
	var pDeleted sql.NullInt64
	var pCreated, pUpdated int64
	err := row.Scan(&g.ID, &g.AccountID, &g.DeviceID, &userID, &g.ProfileID, &g.Slot, &g.Key,
		&keyType, &tunnelType, &g.SecretHash, &created, &updated, &seen, &revoked, &deleted,
		&policyUpdated, &g.DeviceName, &g.ClientVersion, &uEmail, &uName,
		&p.Name, &p.Default, &pDeleted, &pCreated, &pUpdated)
	if err != nil {
		return nil, fmt.Errorf("read registration: %w", mapError(err))
	}
	g.UserID, g.KeyType, g.TunnelType = userID.String, device.KeyType(keyType.String),
		device.TunnelType(tunnelType.String)
	g.CreatedAt, g.UpdatedAt, g.LastSeenAt = fromMicros(created), fromMicros(updated), fromMicros(seen)
	g.RevokedAt, g.DeletedAt = nullMicros(revoked), nullMicros(deleted)
	g.PolicyUpdatedAt = fromMicros(policyUpdated)
	if userID.Valid {
		g.User = &device.User{ID: userID.String, AccountID: g.AccountID, Email: uEmail, Name: uName}
	}
	p.ID, p.AccountID = g.ProfileID, g.AccountID
	p.DeletedAt, p.CreatedAt, p.UpdatedAt = nullMicros(pDeleted), fromMicros(pCreated), fromMicros(pUpdated)
	g.Policy = &p
	return &g, nil
}

func (r reader) APITokenByHash(ctx context.Context, hash []byte) (*device.APIToken, error) {
	var t device.APIToken
	var created int64
	err := r.q.QueryRow(ctx, `SELECT id, account_id, name, read_only, hash, created_at
		FROM api_tokens WHERE hash = $1`, hash).
		Scan(&t.ID, &t.AccountID, &t.Name, &t.ReadOnly, &t.Hash, &created)
	if err != nil {
		return nil, fmt.Errorf("read api token: %w", mapError(err))
	}
	t.CreatedAt = fromMicros(created)
	return &t, nil
}

func (r reader) GlobalKeyByHash(
	ctx context.Context, email string, hash []byte,
) (*device.GlobalKey, error) {
	var k device.GlobalKey
	var created int64
	err := r.q.QueryRow(ctx, `SELECT id, account_id, email, hash, created_at
		FROM global_keys WHERE hash = $1 AND email = $2`, hash, email).
		Scan(&k.ID, &k.AccountID, &k.Email, &k.Hash, &created)
	if err != nil {
		return nil, fmt.Errorf("read global key: %w", mapError(err))
	}
	k.CreatedAt = fromMicros(created)
	return &k, nil
}

func (r reader) EnrollmentKeyByHash(
	ctx context.Context, hash []byte,
) (*device.EnrollmentKey, error) {
	var k device.EnrollmentKey
	var expires, used sql.NullInt64
	var created int64
	err := r.q.QueryRow(ctx, `SELECT id, account_id, reusable, expires_at, used_at, hash,
		created_at FROM enrollment_keys WHERE hash = $1`, hash).
		Scan(&k.ID, &k.AccountID, &k.Reusable, &expires, &used, &k.Hash, &created)
	if err != nil {
		return nil, fmt.Errorf("read enrollment key: %w", mapError(err))
	}
	k.ExpiresAt, k.UsedAt, k.CreatedAt = nullMicros(expires), nullMicros(used), fromMicros(created)
	return &k, nil
}

func (r reader) Setting(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := r.q.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	if err != nil {
		return nil, fmt.Errorf("read setting %s: %w", name, mapError(err))
	}
	return v, nil
}

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nullMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
}

// micros returns t as Unix microseconds, or NULL for the zero time.
func micros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}
