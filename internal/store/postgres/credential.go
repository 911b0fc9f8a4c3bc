package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

func (r reader) APITokens(ctx context.Context, accountID string) ([]device.APIToken, error) {
	return listCredentials(ctx, r, `SELECT `+row.APITokenColumns+` FROM api_tokens
		WHERE account_id = $1`+row.CredentialOrder, accountID, row.APIToken)
}

func (r reader) GlobalKeys(ctx context.Context, accountID string) ([]device.GlobalKey, error) {
	return listCredentials(ctx, r, `SELECT `+row.GlobalKeyColumns+` FROM global_keys
		WHERE account_id = $1`+row.CredentialOrder, accountID, row.GlobalKey)
}

func (r reader) EnrollmentKeys(
	ctx context.Context, accountID string,
) ([]device.EnrollmentKey, error) {
	return listCredentials(ctx, r, `SELECT `+row.EnrollmentKeyColumns+` FROM enrollment_keys
		WHERE account_id = $1`+row.CredentialOrder, accountID, row.EnrollmentKey)
}

func listCredentials[T any](
	ctx context.Context, r reader, query, accountID string, scan func(row.Scanner) (T, error),
) ([]T, error) {
	rows, err := r.q.Query(ctx, query, accountID)
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	defer rows.Close()
	out, err := row.All(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	return out, nil
}

func (t *tx) DeleteCredential(
	ctx context.Context, kind device.CredentialKind, accountID, id string,
) error {
	table, err := row.CredentialTable(kind)
	if err != nil {
		return err
	}
	tag, err := t.exec(ctx, "delete "+string(kind), `DELETE FROM `+table+`
		WHERE id = $1 AND account_id = $2`, id, accountID)
	return oneRow(tag, err, "delete "+string(kind))
}

func (t *tx) SetCredentialHash(
	ctx context.Context, kind device.CredentialKind, accountID, id string, hash []byte,
) error {
	table, err := row.CredentialTable(kind)
	if err != nil {
		return err
	}
	tag, err := t.exec(ctx, "roll "+string(kind), `UPDATE `+table+` SET hash = $1
		WHERE id = $2 AND account_id = $3`, hash, id, accountID)
	return oneRow(tag, err, "roll "+string(kind))
}

// oneRow turns a statement that touched no row into ErrNotFound.
func oneRow(tag pgconn.CommandTag, err error, what string) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", what, device.ErrNotFound)
	}
	return nil
}
