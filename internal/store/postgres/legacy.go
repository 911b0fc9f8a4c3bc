package postgres

import (
	"context"
	"fmt"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

func (r reader) DeviceView(ctx context.Context, accountID, id string) (*device.DeviceView, error) {
	v, err := row.DeviceView(r.q.QueryRow(ctx, row.DeviceViewSelect+`
		WHERE r.account_id = $1 AND r.id = $2`, accountID, id))
	return v, mapError(err)
}

// DeviceViews reads from the live id index, so a million-row account streams in
// pages that each cost the same.
func (r reader) DeviceViews(
	ctx context.Context, accountID, after string, limit int,
) ([]device.DeviceView, error) {
	rows, err := r.q.Query(ctx, deviceViewsQuery, accountID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list device views: %w", mapError(err))
	}
	defer rows.Close()
	var out []device.DeviceView
	for rows.Next() {
		v, err := row.DeviceView(rows)
		if err != nil {
			return nil, mapError(err)
		}
		out = append(out, *v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list device views: %w", mapError(err))
	}
	return out, nil
}

const deviceViewsQuery = row.DeviceViewSelect + `
	WHERE r.account_id = $1 AND r.deleted_at IS NULL AND r.id > $2
	ORDER BY r.id LIMIT $3`

func (r reader) OverrideSecret(
	ctx context.Context, registrationID string,
) (*device.OverrideSecret, error) {
	o, err := row.OverrideSecret(r.q.QueryRow(ctx, `SELECT `+row.OverrideSecretColumns+`
		FROM override_secrets WHERE registration_id = $1`, registrationID))
	return o, mapError(err)
}

func (t *tx) PutOverrideSecret(ctx context.Context, o *device.OverrideSecret) error {
	_, err := t.exec(ctx, "put override secret", `INSERT INTO override_secrets
		(`+row.OverrideSecretColumns+`) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (registration_id) DO UPDATE SET secret = excluded.secret,
			counter = excluded.counter, updated_at = excluded.updated_at`,
		o.RegistrationID, o.Secret, o.Counter, o.CreatedAt.UnixMicro(), o.UpdatedAt.UnixMicro())
	return err
}
