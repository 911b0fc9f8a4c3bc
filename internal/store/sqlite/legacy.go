package sqlite

import (
	"context"
	"fmt"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

func (r reader) DeviceView(ctx context.Context, accountID, id string) (*device.DeviceView, error) {
	v, err := row.DeviceView(r.queryRow(ctx, deviceViewSelect+`
		WHERE r.account_id = `+accountNum+` AND r.id = ?`, accountID, id))
	return v, mapError(err)
}

// DeviceViews reads from the live id index, so a million-row account streams in
// pages that each cost the same.
func (r reader) DeviceViews(
	ctx context.Context, accountID, after string, limit int,
) ([]device.DeviceView, error) {
	rows, err := r.query(ctx, deviceViewsQuery, accountID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list device views: %w", err)
	}
	defer rows.Close()
	var out []device.DeviceView
	for rows.Next() {
		v, err := row.DeviceView(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list device views: %w", err)
	}
	return out, nil
}

var deviceViewsQuery = deviceViewSelect + `
	WHERE r.account_id = ` + accountNum + ` AND r.deleted_at IS NULL AND r.id > ?
	ORDER BY r.id LIMIT ?`

// DeviceViews runs on the lists' own pool, in turn.
func (s *Store) DeviceViews(
	ctx context.Context, accountID, after string, limit int,
) ([]device.DeviceView, error) {
	if err := s.listTurn(ctx); err != nil {
		return nil, err
	}
	defer s.listDone()
	return s.lists.DeviceViews(ctx, accountID, after, limit)
}

func (r reader) OverrideSecret(
	ctx context.Context, registrationID string,
) (*device.OverrideSecret, error) {
	o, err := row.OverrideSecret(r.queryRow(ctx, `SELECT `+row.OverrideSecretColumns+`
		FROM override_secrets WHERE registration_id = ?`, registrationID))
	return o, mapError(err)
}

func (t *tx) PutOverrideSecret(ctx context.Context, o *device.OverrideSecret) error {
	_, err := t.exec(ctx, "put override secret", `INSERT INTO override_secrets
		(`+row.OverrideSecretColumns+`) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (registration_id) DO UPDATE SET secret = excluded.secret,
			counter = excluded.counter, updated_at = excluded.updated_at`,
		o.RegistrationID, o.Secret, o.Counter, o.CreatedAt.UnixMicro(), o.UpdatedAt.UnixMicro())
	return err
}
