package postgres

import (
	"context"
	"fmt"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

func (t *tx) AppendAudit(ctx context.Context, e *device.AuditEntry) error {
	err := t.tx.QueryRow(ctx, `UPDATE accounts SET audit_seq = audit_seq + 1
		WHERE id = $1 RETURNING audit_seq`, e.AccountID).Scan(&e.Seq)
	if err != nil {
		return fmt.Errorf("next audit number: %w", mapError(err))
	}
	args, err := row.AuditArgs(e)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "append audit entry", `INSERT INTO audit_log (`+row.AuditInsert+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, args...)
	return err
}

func (r reader) AuditLog(
	ctx context.Context, accountID string, q device.AuditQuery,
) ([]device.AuditEntry, error) {
	where, args := row.AuditWhere(accountID, q, func(n int) string { return fmt.Sprintf("$%d", n) })
	rows, err := r.q.Query(ctx, `SELECT `+row.AuditColumns+` FROM audit_log WHERE `+where+`
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
