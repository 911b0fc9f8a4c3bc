// Package row reads warpreg's rows into domain types and holds the parts of the
// SQL that both storage adapters share: column lists, the registration query, the
// list sort keys and the encoding of times. Each adapter keeps its own dialect
// (placeholders, functions, upserts) and maps its driver's errors; what is the same
// in both lives here once, so the engines cannot drift apart.
package row

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

// Scanner is what database/sql's and pgx's rows share.
type Scanner interface{ Scan(dest ...any) error }

// UserColumns are read by User, in order.
const UserColumns = `id, account_id, email, name, groups, created_at, updated_at`

// DeviceColumns are a device's stored columns, the ones its writes set.
const DeviceColumns = `id, account_id, name, model, manufacturer, device_type, os_version,
	os_version_extra, serial_number, hardware_id, mac_address, client_version,
	last_seen_at, created_at, updated_at, deleted_at`

// deviceColumns are a device's own columns in DeviceSelect's order: its stored
// fields, then the counts and last seen user that triggers keep on its row.
const deviceColumns = `SELECT d.id, d.account_id, d.name, d.model, d.manufacturer,
	d.device_type, d.os_version, d.os_version_extra, d.serial_number, d.hardware_id,
	d.mac_address, d.client_version, d.last_seen_at, d.created_at, d.updated_at,
	d.deleted_at, d.active_count, d.last_seen_registration_id, d.last_seen_user_id,
	d.last_seen_user_email, d.last_seen_user_name`

// DeviceSelect reads a device with its read views, its last seen registration's
// profile included. Callers add the WHERE clause, on the alias d.
const DeviceSelect = deviceColumns + `, r.policy_updated_at, r.profile_id,
	p.name, p.is_default, p.deleted_at, p.created_at, p.updated_at
	FROM devices d
	LEFT JOIN registrations r ON r.id = d.last_seen_registration_id
	LEFT JOIN profiles p ON p.id = r.profile_id`

// DeviceSelectNoPolicy is DeviceSelect without the profile, which it reads as
// NULLs: a device's own row then holds all it reads, so a list page does not
// visit a registration per row.
const DeviceSelectNoPolicy = deviceColumns + `, CAST(NULL AS BIGINT), CAST(NULL AS TEXT),
	CAST(NULL AS TEXT), CAST(NULL AS BOOLEAN), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT),
	CAST(NULL AS BIGINT)
	FROM devices d`

// DeviceListSelect returns the select of a device list: with the profile only when
// q asks for it.
func DeviceListSelect(q *device.DeviceListQuery) string {
	if q.WithPolicy {
		return DeviceSelect
	}
	return DeviceSelectNoPolicy
}

// RegistrationSelect reads a registration with its device, user and profile views
// from its own row, where triggers keep copies of the device's name and client
// version and the user's name and email, and the small profiles table. Callers add
// the WHERE clause.
const RegistrationSelect = `SELECT ` + registrationColumns + `
	FROM registrations r
	JOIN profiles p ON p.id = r.profile_id`

// registrationColumns are what Registration scans, in order.
const registrationColumns = `r.id, r.account_id, r.device_id, r.user_id, r.profile_id,
	r.slot, r.key, r.key_type, r.tunnel_type, r.secret_hash, r.created_at, r.updated_at,
	r.last_seen_at, r.revoked_at, r.deleted_at, r.policy_updated_at,
	r.device_name, r.client_version, r.user_email, r.user_name,
	p.name, p.is_default, p.deleted_at, p.created_at, p.updated_at`

// registrationViewColumns are what a get or a list shows of a registration, in the
// order that RegistrationView scans them: not its account (the caller knows it),
// slot or secret's hash, nor its profile's creation and update times. Gets and
// lists are the hottest reads, and each column read costs the SQLite driver
// several calls into SQLite, each under the connection's mutex; the full row
// (registrationColumns) is 25 columns, this one 20.
const registrationViewColumns = `r.id, r.device_id, r.user_id, r.profile_id, r.key,
	r.key_type, r.tunnel_type, r.created_at, r.updated_at, r.last_seen_at, r.revoked_at,
	r.deleted_at, r.policy_updated_at, r.device_name, r.client_version, r.user_email,
	r.user_name, p.name, p.is_default, p.deleted_at`

// RegistrationViewSelect reads registrations as a list shows them (see
// registrationViewColumns), for RegistrationView. Callers add the WHERE clause.
const RegistrationViewSelect = `SELECT ` + registrationViewColumns + `
	FROM registrations r
	JOIN profiles p ON p.id = r.profile_id`

// TokenRegistrationColumns are what TokenRegistration scans, in order, of an API token
// t and a registration r with its profile p.
const TokenRegistrationColumns = `t.id, t.read_only, ` + registrationViewColumns

// TokenRegistrationSelect reads an API token and a registration of its account in
// one statement, for TokenRegistration. Its parameters are, in order, the
// registration id, the token hash and the account id; each adapter swaps in its own
// placeholders. Only a token of that account that names a registration of it yields
// a row, so a row proves both at once. Of the token it reads what a principal
// needs, of the registration what a get shows.
const TokenRegistrationSelect = `SELECT ` + TokenRegistrationColumns + `
	FROM api_tokens t
	JOIN registrations r ON r.account_id = t.account_id AND r.id = ?
	JOIN profiles p ON p.id = r.profile_id
	WHERE t.hash = ? AND t.account_id = ?`

// Registrations scans every row of a RegistrationSelect result. The caller closes
// rows.
func Registrations(rows Rows) ([]device.Registration, error) {
	return All(rows, func(s Scanner) (device.Registration, error) {
		r, err := Registration(s)
		if err != nil {
			return device.Registration{}, err
		}
		return *r, nil
	})
}

// TokenRegistration scans a row of TokenRegistrationSelect, read for accountID:
// the token's id, account and read-only flag, and the registration as a get shows
// it (see registrationViewColumns).
func TokenRegistration(s Scanner, accountID string) (*device.APIToken, *device.Registration,
	error,
) {
	var x tokenRow
	if err := x.scan(s, nil); err != nil {
		return nil, nil, err
	}
	t, g := x.finish(accountID)
	return t, g, nil
}

// NumberedTokenRegistration scans a row of an adapter's statement that answers
// several gets at once: first the position n (from 1) of the get the row answers,
// then TokenRegistrationColumns. accountOf returns get n's account id, or false when
// no get has that position.
func NumberedTokenRegistration(
	s Scanner, accountOf func(n int64) (string, bool),
) (int64, *device.APIToken, *device.Registration, error) {
	var x tokenRow
	var n int64
	if err := x.scan(s, &n); err != nil {
		return 0, nil, nil, err
	}
	accountID, ok := accountOf(n)
	if !ok {
		return 0, nil, nil, fmt.Errorf("read registration: a row for get %d, not asked", n)
	}
	t, g := x.finish(accountID)
	return n, t, g, nil
}

// tokenRow is one row of TokenRegistrationColumns as scanned, before its account is
// known.
type tokenRow struct {
	t device.APIToken
	g device.Registration
	v registrationScan
}

// scan reads TokenRegistrationColumns, after lead when it is not nil.
func (x *tokenRow) scan(s Scanner, lead *int64) error {
	dests := make([]any, 0, 3+viewColumnCount) // one allocation for every destination
	if lead != nil {
		dests = append(dests, lead)
	}
	dests = append(dests, &x.t.ID, &x.t.ReadOnly)
	if err := s.Scan(x.v.appendViewDests(dests, &x.g)...); err != nil {
		return fmt.Errorf("read registration: %w", err)
	}
	return nil
}

// finish sets the token's and registration's account and converts what scan read.
func (x *tokenRow) finish(accountID string) (*device.APIToken, *device.Registration) {
	x.t.AccountID, x.g.AccountID = accountID, accountID
	x.v.fill(&x.g)
	return &x.t, &x.g
}

// RegistrationViews scans every row of a RegistrationViewSelect result, read for
// accountID. The caller closes rows.
func RegistrationViews(rows Rows, accountID string) ([]device.Registration, error) {
	return All(rows, func(s Scanner) (device.Registration, error) {
		var v registrationScan
		g := device.Registration{AccountID: accountID}
		if err := s.Scan(v.appendViewDests(make([]any, 0, viewColumnCount), &g)...); err != nil {
			return g, fmt.Errorf("read registration: %w", err)
		}
		v.fill(&g)
		return g, nil
	})
}

// ChangeColumns are read by Change, in order.
const ChangeColumns = `account_id, seq, kind, at, registration_id, device_id, user_id, key,
	key_type, tunnel_type, previous_key, active, profile_id`

// User scans a row of UserColumns. Errors come back wrapped, for the adapter to map.
func User(s Scanner) (*device.User, error) {
	var u device.User
	var groups string
	var created, updated int64
	err := s.Scan(&u.ID, &u.AccountID, &u.Email, &u.Name, &groups, &created, &updated)
	if err != nil {
		return nil, fmt.Errorf("read user: %w", err)
	}
	if err := json.Unmarshal([]byte(groups), &u.Groups); err != nil {
		return nil, fmt.Errorf("read user %s: groups: %w", u.ID, err)
	}
	u.CreatedAt, u.UpdatedAt = FromMicros(created), FromMicros(updated)
	return &u, nil
}

// Device scans a row of DeviceSelect or DeviceSelectNoPolicy.
func Device(s Scanner) (*device.Device, error) {
	var d device.Device
	f := &d.Facts
	var seen, created, updated int64
	var deleted, policyUpdated, pDeleted, pCreated, pUpdated sql.NullInt64
	var active int64
	var regID, userID, profileID, pName sql.NullString
	var uEmail, uName string
	var pDefault sql.NullBool
	err := s.Scan(&d.ID, &d.AccountID, &f.Name, &f.Model, &f.Manufacturer, &f.DeviceType,
		&f.OSVersion, &f.OSVersionExtra, &f.SerialNumber, &f.HardwareID, &f.MACAddress,
		&f.ClientVersion, &seen, &created, &updated, &deleted, &active, &regID, &userID,
		&uEmail, &uName, &policyUpdated, &profileID,
		&pName, &pDefault, &pDeleted, &pCreated, &pUpdated)
	if err != nil {
		return nil, fmt.Errorf("read device: %w", err)
	}
	d.LastSeenAt, d.CreatedAt, d.UpdatedAt = FromMicros(seen), FromMicros(created), FromMicros(updated)
	d.DeletedAt = NullMicros(deleted)
	d.ActiveRegistrations = int(active)
	if userID.Valid {
		d.LastSeenUser = &device.User{ID: userID.String, AccountID: d.AccountID,
			Email: uEmail, Name: uName}
	}
	if regID.Valid {
		d.LastSeen = &device.RegistrationSummary{ID: regID.String}
	}
	if regID.Valid && profileID.Valid {
		d.LastSeen.PolicyUpdatedAt = NullMicros(policyUpdated)
		d.LastSeen.Policy = &device.Profile{
			ID: profileID.String, AccountID: d.AccountID, Name: pName.String,
			Default: pDefault.Bool, DeletedAt: NullMicros(pDeleted),
			CreatedAt: NullMicros(pCreated), UpdatedAt: NullMicros(pUpdated),
		}
	}
	return &d, nil
}

// Registration scans a row of RegistrationSelect.
func Registration(s Scanner) (*device.Registration, error) {
	var g device.Registration
	var v registrationScan
	var policyCreated, policyUpdated int64
	err := s.Scan(&g.ID, &g.AccountID, &g.DeviceID, &v.userID, &g.ProfileID, &g.Slot, &g.Key,
		&v.keyType, &v.tunnelType, &g.SecretHash, &v.created, &v.updated, &v.seen, &v.revoked,
		&v.deleted, &v.policyUpdated, &g.DeviceName, &g.ClientVersion, &v.userEmail,
		&v.userName, &v.policy.Name, &v.policy.Default, &v.policyDeleted, &policyCreated,
		&policyUpdated)
	if err != nil {
		return nil, fmt.Errorf("read registration: %w", err)
	}
	v.policy.CreatedAt, v.policy.UpdatedAt = FromMicros(policyCreated), FromMicros(policyUpdated)
	v.fill(&g)
	return &g, nil
}

// registrationScan holds the columns of a registration read that need converting
// before they are fields.
type registrationScan struct {
	userID, keyType, tunnelType           sql.NullString
	created, updated, seen, policyUpdated int64
	revoked, deleted, policyDeleted       sql.NullInt64
	userEmail, userName                   string
	policy                                device.Profile // its name, default flag and times
}

// viewColumnCount is how many columns registrationViewColumns names.
const viewColumnCount = 20

// appendViewDests appends the scan destinations of registrationViewColumns, into g
// and v, to dests.
func (v *registrationScan) appendViewDests(dests []any, g *device.Registration) []any {
	return append(dests, &g.ID, &g.DeviceID, &v.userID, &g.ProfileID, &g.Key, &v.keyType,
		&v.tunnelType, &v.created, &v.updated, &v.seen, &v.revoked, &v.deleted,
		&v.policyUpdated, &g.DeviceName, &g.ClientVersion, &v.userEmail, &v.userName,
		&v.policy.Name, &v.policy.Default, &v.policyDeleted)
}

// fill sets g's converted fields, its user and its policy from v; g's id, account
// and profile id are already read.
func (v *registrationScan) fill(g *device.Registration) {
	g.UserID, g.KeyType, g.TunnelType = v.userID.String, device.KeyType(v.keyType.String),
		device.TunnelType(v.tunnelType.String)
	g.CreatedAt, g.UpdatedAt = FromMicros(v.created), FromMicros(v.updated)
	g.LastSeenAt, g.PolicyUpdatedAt = FromMicros(v.seen), FromMicros(v.policyUpdated)
	g.RevokedAt, g.DeletedAt = NullMicros(v.revoked), NullMicros(v.deleted)
	if v.userID.Valid {
		g.User = &device.User{ID: v.userID.String, AccountID: g.AccountID, Email: v.userEmail,
			Name: v.userName}
	}
	p := v.policy
	p.ID, p.AccountID, p.DeletedAt = g.ProfileID, g.AccountID, NullMicros(v.policyDeleted)
	g.Policy = &p
}

// Change scans a row of ChangeColumns.
func Change(s Scanner) (device.Change, error) {
	var c device.Change
	var at int64
	var kind string
	var user, keyType, tunnel, prev sql.NullString
	err := s.Scan(&c.AccountID, &c.Seq, &kind, &at, &c.RegistrationID, &c.DeviceID,
		&user, &c.Key, &keyType, &tunnel, &prev, &c.Active, &c.ProfileID)
	if err != nil {
		return c, fmt.Errorf("read change: %w", err)
	}
	c.Kind, c.At, c.UserID, c.PreviousKey = device.ChangeKind(kind), FromMicros(at), user.String,
		prev.String
	c.KeyType, c.TunnelType = device.KeyType(keyType.String), device.TunnelType(tunnel.String)
	return c, nil
}

// FromMicros reads a stored time: Unix microseconds, UTC.
func FromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// NullMicros reads a nullable stored time; NULL is the zero time.
func NullMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return FromMicros(v.Int64)
}

// Micros returns t as Unix microseconds, or NULL for the zero time.
func Micros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// NullString stores the empty string as NULL.
func NullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// OnlyDevice returns the one device that rows hold, ErrNotFound when they hold
// none and ErrConflict when they hold more: a lookup that must not guess. The
// caller closes rows.
func OnlyDevice(rows Rows) (*device.Device, error) {
	ds, err := All(rows, Device)
	switch {
	case err != nil:
		return nil, err
	case len(ds) == 0:
		return nil, device.ErrNotFound
	case len(ds) > 1:
		return nil, device.ErrConflict
	}
	return ds[0], nil
}

// FewNames names the first few of names, and how many more there are, for an error
// message such as the one that refuses another application's database.
func FewNames(names []string) string {
	const shown = 3
	if len(names) <= shown {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:shown], ", "), len(names)-shown)
}
