package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

// queryer is what *pgxpool.Pool and pgx.Tx share, so that every query runs the same
// inside and outside a transaction.
type queryer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type reader struct{ q queryer }

func (r reader) Account(ctx context.Context, id string) (*device.Account, error) {
	var a device.Account
	var created int64
	var def sql.NullString
	err := r.q.QueryRow(ctx, `SELECT id, name, multi_user, default_profile_id, created_at
		FROM accounts WHERE id = $1`, id).Scan(&a.ID, &a.Name, &a.MultiUser, &def, &created)
	if err != nil {
		return nil, fmt.Errorf("read account: %w", mapError(err))
	}
	a.DefaultProfileID, a.CreatedAt = def.String, row.FromMicros(created)
	return &a, nil
}

func (r reader) Profile(ctx context.Context, accountID, id string) (*device.Profile, error) {
	p, err := row.Profile(r.q.QueryRow(ctx, `SELECT `+row.ProfileColumns+` FROM profiles
		WHERE account_id = $1 AND id = $2`, accountID, id))
	return p, mapError(err)
}

func (r reader) Profiles(ctx context.Context, accountID string) ([]device.Profile, error) {
	rows, err := r.q.Query(ctx, `SELECT `+row.ProfileColumns+` FROM profiles
		WHERE account_id = $1 AND deleted_at IS NULL `+row.ProfileOrder, accountID)
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	return collect(rows, "list profiles", func(s row.Scanner) (device.Profile, error) {
		p, err := row.Profile(s)
		if err != nil {
			return device.Profile{}, err
		}
		return *p, nil
	})
}

func (r reader) Rules(ctx context.Context, accountID string) ([]device.Rule, error) {
	rows, err := r.q.Query(ctx, `SELECT `+row.RuleColumns+` FROM profiles
		WHERE account_id = $1 AND deleted_at IS NULL `+row.ProfileOrder, accountID)
	if err != nil {
		return nil, fmt.Errorf("read profile rules: %w", err)
	}
	return collect(rows, "read profile rules", row.Rule)
}

// candidatesQuery pages through the registrations_live_id index.
const candidatesQuery = row.CandidateSelect + `
	WHERE r.account_id = $1 AND r.deleted_at IS NULL AND r.id > $2
	ORDER BY r.id LIMIT $3`

func (r reader) Candidates(
	ctx context.Context, accountID, after string, limit int,
) ([]device.Candidate, error) {
	rows, err := r.q.Query(ctx, candidatesQuery, accountID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read candidates: %w", err)
	}
	return collect(rows, "read candidates", row.Candidate)
}

func (r reader) CandidatesByID(
	ctx context.Context, accountID string, ids []string,
) ([]device.Candidate, error) {
	rows, err := r.q.Query(ctx, row.CandidateSelect+`
		WHERE r.account_id = $1 AND r.deleted_at IS NULL AND r.id = ANY($2)
		ORDER BY r.id`, accountID, ids)
	if err != nil {
		return nil, fmt.Errorf("read candidates: %w", err)
	}
	return collect(rows, "read candidates", row.Candidate)
}

func (r reader) Reassignment(ctx context.Context, accountID string) (device.Reassignment, error) {
	var ra device.Reassignment
	err := r.q.QueryRow(ctx, `SELECT generation, after_id FROM profile_reassignments
		WHERE account_id = $1 AND after_id IS NOT NULL`, accountID).Scan(&ra.Generation, &ra.After)
	if err != nil {
		return ra, fmt.Errorf("read reassignment: %w", mapError(err))
	}
	return ra, nil
}

func (r reader) PendingReassignments(ctx context.Context) ([]string, error) {
	rows, err := r.q.Query(ctx, `SELECT account_id FROM profile_reassignments
		WHERE after_id IS NOT NULL ORDER BY account_id`)
	if err != nil {
		return nil, fmt.Errorf("list reassignments: %w", err)
	}
	return collect(rows, "list reassignments", func(s row.Scanner) (string, error) {
		var id string
		return id, s.Scan(&id)
	})
}

// collect scans every row with scan and closes rows.
func collect[T any](rows pgx.Rows, what string, scan func(row.Scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

func (r reader) User(ctx context.Context, accountID, id string) (*device.User, error) {
	rw := r.q.QueryRow(ctx, `SELECT `+row.UserColumns+` FROM users
		WHERE account_id = $1 AND id = $2`, accountID, id)
	return scanUser(rw)
}

// UserByEmail repeats the users_email index's own condition, a non-empty email: the
// planner uses a partial index only when the query implies its WHERE clause.
func (r reader) UserByEmail(ctx context.Context, accountID, email string) (*device.User, error) {
	rw := r.q.QueryRow(ctx, `SELECT `+row.UserColumns+` FROM users
		WHERE account_id = $1 AND email = $2 AND email <> ''`, accountID, email)
	return scanUser(rw)
}

func (r reader) Device(ctx context.Context, accountID, id string) (*device.Device, error) {
	return scanDevice(r.q.QueryRow(ctx, row.DeviceSelect+`
		WHERE d.account_id = $1 AND d.id = $2`, accountID, id))
}

func (r reader) DeviceByHardwareID(
	ctx context.Context, accountID, hardwareID string,
) (*device.Device, error) {
	return scanDevice(r.q.QueryRow(ctx, row.DeviceSelect+`
		WHERE d.account_id = $1 AND d.hardware_id = $2 AND d.hardware_id <> ''
		AND d.deleted_at IS NULL`, accountID, hardwareID))
}

// DeviceBySerial reads at most two matches: a second is enough to refuse the guess.
func (r reader) DeviceBySerial(
	ctx context.Context, accountID, serial string, bare bool,
) (*device.Device, error) {
	among := ""
	if bare {
		among = ` AND d.hardware_id = ''` // devices_live_serial_bare
	}
	rows, err := r.q.Query(ctx, row.DeviceSelect+`
		WHERE d.account_id = $1 AND d.serial_number = $2 AND d.serial_number <> ''
		AND d.deleted_at IS NULL`+among+` LIMIT 2`, accountID, serial)
	if err != nil {
		return nil, fmt.Errorf("read device by serial number: %w", mapError(err))
	}
	defer rows.Close()
	d, err := row.OnlyDevice(rows)
	return d, mapError(err)
}

func (r reader) Registration(
	ctx context.Context, accountID, id string,
) (*device.Registration, error) {
	return scanRegistration(r.q.QueryRow(ctx, row.RegistrationSelect+`
		WHERE r.account_id = $1 AND r.id = $2`, accountID, id))
}

func (r reader) RegistrationByID(ctx context.Context, id string) (*device.Registration, error) {
	return scanRegistration(r.q.QueryRow(ctx, row.RegistrationSelect+` WHERE r.id = $1`, id))
}

func (r reader) RegistrationsByID(
	ctx context.Context, ids []string,
) ([]device.Registration, error) {
	rows, err := r.q.Query(ctx, row.RegistrationSelect+` WHERE r.id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("read registrations: %w", err)
	}
	defer rows.Close()
	out, err := row.Registrations(rows)
	if err != nil {
		return nil, fmt.Errorf("read registrations: %w", err)
	}
	return out, nil
}

func (r reader) LiveRegistration(
	ctx context.Context, deviceID, slot string,
) (*device.Registration, error) {
	return scanRegistration(r.q.QueryRow(ctx, row.RegistrationSelect+`
		WHERE r.device_id = $1 AND r.slot = $2 AND r.deleted_at IS NULL`, deviceID, slot))
}

// tokenRegistrationSelect is row.TokenRegistrationSelect with PostgreSQL's numbered
// placeholders.
var tokenRegistrationSelect = numberPlaceholders(row.TokenRegistrationSelect)

func (r reader) TokenRegistration(
	ctx context.Context, tokenHash []byte, accountID, id string,
) (*device.APIToken, *device.Registration, error) {
	t, reg, err := row.TokenRegistration(
		r.q.QueryRow(ctx, tokenRegistrationSelect, id, tokenHash, accountID), accountID)
	return t, reg, mapError(err)
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
	t.CreatedAt = row.FromMicros(created)
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
	k.CreatedAt = row.FromMicros(created)
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
	k.ExpiresAt, k.UsedAt = row.NullMicros(expires), row.NullMicros(used)
	k.CreatedAt = row.FromMicros(created)
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

// scanUser, scanDevice and scanRegistration read rows with the shared scanners and
// map this driver's errors to the domain's.
func scanUser(s row.Scanner) (*device.User, error) {
	u, err := row.User(s)
	return u, mapError(err)
}

func scanDevice(s row.Scanner) (*device.Device, error) {
	d, err := row.Device(s)
	return d, mapError(err)
}

func scanRegistration(s row.Scanner) (*device.Registration, error) {
	r, err := row.Registration(s)
	return r, mapError(err)
}

// numberPlaceholders turns the ? placeholders of SQL shared with SQLite into $1, $2,
// ... in order. The shared text holds no other question mark.
func numberPlaceholders(query string) string {
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c != '?' {
			b.WriteRune(c)
			continue
		}
		n++
		b.WriteString("$" + strconv.Itoa(n))
	}
	return b.String()
}
