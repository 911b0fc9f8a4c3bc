package sqlite

import (
	"context"
	"fmt"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

func (r reader) AuditLog(
	ctx context.Context, accountID string, q device.AuditQuery,
) ([]device.AuditEntry, error) {
	where, args := row.AuditWhere(accountID, q, func(int) string { return "?" })
	rows, err := r.query(ctx, `SELECT `+row.AuditColumns+` FROM audit_log WHERE `+where+`
		ORDER BY seq DESC LIMIT `+fmt.Sprint(q.Limit), args...)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	out := []device.AuditEntry{}
	for rows.Next() {
		e, err := row.Audit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return out, nil
}
