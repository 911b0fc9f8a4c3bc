package row

import (
	"database/sql"
	"fmt"

	"github.com/warpreg/warpreg/internal/device"
)

// Column lists of the credential tables, read by APIToken, GlobalKey and
// EnrollmentKey, in order.
const (
	APITokenColumns      = `id, account_id, name, read_only, hash, created_at`
	GlobalKeyColumns     = `id, account_id, email, hash, created_at`
	EnrollmentKeyColumns = `id, account_id, reusable, expires_at, used_at, hash, created_at`
)

// CredentialOrder is the order of credential lists: oldest first, ties by id.
const CredentialOrder = ` ORDER BY created_at, id`

// CredentialTable returns the table that holds credentials of kind. It is the only
// way a kind reaches SQL text, so an unknown kind can never be spliced in.
func CredentialTable(kind device.CredentialKind) (string, error) {
	switch kind {
	case device.CredentialAPIToken:
		return "api_tokens", nil
	case device.CredentialGlobalKey:
		return "global_keys", nil
	case device.CredentialEnrollmentKey:
		return "enrollment_keys", nil
	}
	return "", fmt.Errorf("unknown credential kind %q", kind)
}

// APIToken scans a row of APITokenColumns.
func APIToken(s Scanner) (device.APIToken, error) {
	var t device.APIToken
	var created int64
	err := s.Scan(&t.ID, &t.AccountID, &t.Name, &t.ReadOnly, &t.Hash, &created)
	if err != nil {
		return t, fmt.Errorf("read api token: %w", err)
	}
	t.CreatedAt = FromMicros(created)
	return t, nil
}

// GlobalKey scans a row of GlobalKeyColumns.
func GlobalKey(s Scanner) (device.GlobalKey, error) {
	var k device.GlobalKey
	var created int64
	err := s.Scan(&k.ID, &k.AccountID, &k.Email, &k.Hash, &created)
	if err != nil {
		return k, fmt.Errorf("read global key: %w", err)
	}
	k.CreatedAt = FromMicros(created)
	return k, nil
}

// EnrollmentKey scans a row of EnrollmentKeyColumns.
func EnrollmentKey(s Scanner) (device.EnrollmentKey, error) {
	var k device.EnrollmentKey
	var expires, used sql.NullInt64
	var created int64
	err := s.Scan(&k.ID, &k.AccountID, &k.Reusable, &expires, &used, &k.Hash, &created)
	if err != nil {
		return k, fmt.Errorf("read enrollment key: %w", err)
	}
	k.ExpiresAt, k.UsedAt = NullMicros(expires), NullMicros(used)
	k.CreatedAt = FromMicros(created)
	return k, nil
}

// Rows is what database/sql's and pgx's result sets share.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// Value scans a row of one column into a T, for All.
func Value[T any](s Scanner) (T, error) {
	var v T
	err := s.Scan(&v)
	return v, err
}

// All scans every row of rows with scan. The caller closes rows.
func All[T any](rows Rows, scan func(Scanner) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
