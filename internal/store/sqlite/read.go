package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

// reader runs the read queries, through a statement cache, on its pool or in a
// transaction: the writer's batch, or a list's read transaction.
type reader struct {
	cache  *stmtCache     // nil in the writer's batch, which prepares on batch
	tx     *sql.Tx        // a list's read transaction, or nil
	batch  *batchConn     // the writer's connection, in its batch (see within), or nil
	grams  *trigramStats  // nil where searches go without statistics; see searchMatch
	sets   *candidateSets // nil where walkIndexed reads its candidates in SQL
	counts *countMemo     // the list connection's totals; nil elsewhere
	point  *pointPool     // for pointRow outside a transaction, with cache's gate; or nil
}

func (r reader) Account(ctx context.Context, id string) (*device.Account, error) {
	var a device.Account
	var created int64
	var def sql.NullString
	err := r.queryRow(ctx, `SELECT id, name, multi_user, default_profile_id, created_at
		FROM accounts WHERE id = ?`, id).Scan(&a.ID, &a.Name, &a.MultiUser, &def, &created)
	if err != nil {
		return nil, fmt.Errorf("read account: %w", mapError(err))
	}
	a.DefaultProfileID, a.CreatedAt = def.String, row.FromMicros(created)
	return &a, nil
}

func (r reader) Profile(ctx context.Context, accountID, id string) (*device.Profile, error) {
	p, err := row.Profile(r.queryRow(ctx, `SELECT `+row.ProfileColumns+` FROM profiles
		WHERE account_id = ? AND id = ?`, accountID, id))
	return p, mapError(err)
}

func (r reader) Profiles(ctx context.Context, accountID string) ([]device.Profile, error) {
	rows, err := r.query(ctx, `SELECT `+row.ProfileColumns+` FROM profiles
		WHERE account_id = ? AND deleted_at IS NULL `+row.ProfileOrder, accountID)
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	defer rows.Close()
	var out []device.Profile
	for rows.Next() {
		p, err := row.Profile(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	return out, nil
}

func (r reader) Rules(ctx context.Context, accountID string) ([]device.Rule, error) {
	rows, err := r.query(ctx, `SELECT `+row.RuleColumns+` FROM profiles
		WHERE account_id = ? AND deleted_at IS NULL `+row.ProfileOrder, accountID)
	if err != nil {
		return nil, fmt.Errorf("read profile rules: %w", err)
	}
	defer rows.Close()
	var out []device.Rule
	for rows.Next() {
		rule, err := row.Rule(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, rule)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read profile rules: %w", err)
	}
	return out, nil
}

// candidatesQuery pages through the registrations_live_id index.
var candidatesQuery = candidateSelect + `
	WHERE r.account_id = ` + accountNum + ` AND r.deleted_at IS NULL AND r.id > ?
	ORDER BY r.id LIMIT ?`

func (r reader) Candidates(
	ctx context.Context, accountID, after string, limit int,
) ([]device.Candidate, error) {
	rows, err := r.query(ctx, candidatesQuery, accountID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read candidates: %w", err)
	}
	defer rows.Close()
	var out []device.Candidate
	for rows.Next() {
		c, err := row.Candidate(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read candidates: %w", err)
	}
	return out, nil
}

func (r reader) CandidatesByID(
	ctx context.Context, accountID string, ids []string,
) ([]device.Candidate, error) {
	var out []device.Candidate
	for len(ids) > 0 {
		n := min(len(ids), touchChunk)
		args := append([]any{accountID}, anySlice(ids[:n])...)
		rows, err := r.query(ctx, candidateSelect+`
			WHERE r.account_id = `+accountNum+` AND r.deleted_at IS NULL
				AND r.id IN (`+placeholders(n)+`)
			ORDER BY r.id`, args...)
		if err != nil {
			return nil, fmt.Errorf("read candidates: %w", err)
		}
		for rows.Next() {
			c, err := row.Candidate(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, c)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read candidates: %w", err)
		}
		ids = ids[n:]
	}
	slices.SortFunc(out, func(a, b device.Candidate) int {
		return strings.Compare(a.Registration.ID, b.Registration.ID)
	})
	return out, nil
}

func (r reader) Reassignment(ctx context.Context, accountID string) (device.Reassignment, error) {
	var ra device.Reassignment
	err := r.queryRow(ctx, `SELECT generation, after_id FROM profile_reassignments
		WHERE account_id = ? AND after_id IS NOT NULL`, accountID).Scan(&ra.Generation, &ra.After)
	if err != nil {
		return ra, fmt.Errorf("read reassignment: %w", mapError(err))
	}
	return ra, nil
}

func (r reader) PendingReassignments(ctx context.Context) ([]string, error) {
	rows, err := r.query(ctx, `SELECT account_id FROM profile_reassignments
		WHERE after_id IS NOT NULL ORDER BY account_id`)
	if err != nil {
		return nil, fmt.Errorf("list reassignments: %w", err)
	}
	defer rows.Close()
	out, err := row.All(rows, row.Value[string])
	if err != nil {
		return nil, fmt.Errorf("list reassignments: %w", err)
	}
	return out, nil
}

func (r reader) User(ctx context.Context, accountID, id string) (*device.User, error) {
	rw := r.queryRow(ctx, `SELECT `+row.UserColumns+` FROM users
		WHERE account_id = ? AND id = ?`, accountID, id)
	return scanUser(rw)
}

// UserByEmail repeats the users_email index's own condition, a non-empty email: the
// planner uses a partial index only when the query implies its WHERE clause.
func (r reader) UserByEmail(ctx context.Context, accountID, email string) (*device.User, error) {
	rw := r.queryRow(ctx, `SELECT `+row.UserColumns+` FROM users
		WHERE account_id = ? AND email = ? AND email <> ''`, accountID, email)
	return scanUser(rw)
}

func (r reader) Device(ctx context.Context, accountID, id string) (*device.Device, error) {
	return scanDevice(r.queryRow(ctx, deviceSelect+`
		WHERE d.account_id = `+accountNum+` AND d.id = ?`, accountID, id))
}

func (r reader) DeviceByHardwareID(
	ctx context.Context, accountID, hardwareID string,
) (*device.Device, error) {
	return scanDevice(r.queryRow(ctx, deviceSelect+`
		WHERE d.account_id = `+accountNum+` AND d.hardware_id = ? AND d.hardware_id <> ''
		AND d.deleted_at IS NULL`, accountID, hardwareID))
}

// DeviceBySerial reads at most two matches: a second is enough to refuse the guess.
func (r reader) DeviceBySerial(
	ctx context.Context, accountID, serial string, bare bool,
) (*device.Device, error) {
	query := serialQueries[0]
	if bare {
		query = serialQueries[1]
	}
	rows, err := r.query(ctx, query, accountID, serial)
	if err != nil {
		return nil, fmt.Errorf("read device by serial number: %w", mapError(err))
	}
	defer rows.Close()
	d, err := row.OnlyDevice(rows)
	return d, mapError(err)
}

// serialQueries are DeviceBySerial's queries: among all live devices
// (devices_live_serial), and among those without a hardware id
// (devices_live_serial_bare).
var serialQueries = func() [2]string {
	all := deviceSelect + `
		WHERE d.account_id = ` + accountNum + ` AND d.serial_number = ?
		AND d.serial_number <> '' AND d.deleted_at IS NULL`
	return [2]string{all + ` LIMIT 2`, all + ` AND d.hardware_id = '' LIMIT 2`}
}()

func (r reader) Registration(
	ctx context.Context, accountID, id string,
) (*device.Registration, error) {
	return scanRegistration(r.queryRow(ctx, registrationSelect+`
		WHERE r.account_id = `+accountNum+` AND r.id = ?`, accountID, id))
}

func (r reader) RegistrationByID(ctx context.Context, id string) (*device.Registration, error) {
	return scanRegistration(r.queryRow(ctx, registrationSelect+` WHERE r.id = ?`, id))
}

func (r reader) RegistrationsByID(
	ctx context.Context, ids []string,
) ([]device.Registration, error) {
	var out []device.Registration
	for len(ids) > 0 {
		n := min(len(ids), touchChunk)
		rows, err := r.query(ctx, registrationSelect+` WHERE r.id IN (`+placeholders(n)+`)`,
			anySlice(ids[:n])...)
		if err != nil {
			return nil, fmt.Errorf("read registrations: %w", err)
		}
		chunk, err := row.Registrations(rows)
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read registrations: %w", err)
		}
		out, ids = append(out, chunk...), ids[n:]
	}
	return out, nil
}

func (r reader) LiveRegistration(
	ctx context.Context, deviceID, slot string,
) (*device.Registration, error) {
	return scanRegistration(r.queryRow(ctx, registrationSelect+`
		WHERE r.device_id = ? AND r.slot = ? AND r.deleted_at IS NULL`, deviceID, slot))
}

func (r reader) TokenRegistration(
	ctx context.Context, tokenHash []byte, accountID, id string,
) (*device.APIToken, *device.Registration, error) {
	t, reg, err := row.TokenRegistration(
		r.pointRow(ctx, tokenRegistrationSelect, id, tokenHash, accountID), accountID)
	return t, reg, mapError(err)
}

func (r reader) APITokenByHash(ctx context.Context, hash []byte) (*device.APIToken, error) {
	var t device.APIToken
	var created int64
	err := r.queryRow(ctx, `SELECT id, account_id, name, read_only, hash, created_at
		FROM api_tokens WHERE hash = ?`, hash).
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
	err := r.queryRow(ctx, `SELECT id, account_id, email, hash, created_at
		FROM global_keys WHERE hash = ? AND email = ?`, hash, email).
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
	err := r.queryRow(ctx, `SELECT id, account_id, reusable, expires_at, used_at, hash,
		created_at FROM enrollment_keys WHERE hash = ?`, hash).
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
	err := r.queryRow(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
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
