package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

// Changes reads the pruning horizon and the entries in one read transaction, so a
// prune committing between the two cannot open an unnoticed gap.
func (s *Store) Changes(
	ctx context.Context, accountID string, after int64, limit int,
) ([]device.Change, error) {
	rtx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("read changes: begin: %w", err)
	}
	defer rtx.Rollback()
	return reader{cache: s.cache, tx: rtx}.Changes(ctx, accountID, after, limit)
}

func (r reader) Changes(
	ctx context.Context, accountID string, after int64, limit int,
) ([]device.Change, error) {
	var pruned, head int64
	err := r.queryRow(ctx, `SELECT pruned_seq, change_seq FROM accounts WHERE id = ?`,
		accountID).Scan(&pruned, &head)
	if err != nil {
		return nil, fmt.Errorf("read changes: %w", mapError(err))
	}
	if after < pruned {
		return nil, device.Errorf(device.KindGone, "changes after %d were pruned (the log "+
			"starts after %d); list the registrations again and follow from the newest change",
			after, pruned)
	}
	if after > head {
		return nil, device.Errorf(device.KindInvalid, "after %d is beyond the newest change "+
			"(%d); a position from another account or an older copy of the database would "+
			"skip changes, so list the registrations again and follow from the newest change",
			after, head)
	}
	rows, err := r.query(ctx, `SELECT `+row.ChangeColumns+`
		FROM registration_changes WHERE account_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
		accountID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	defer rows.Close()
	var out []device.Change
	for rows.Next() {
		c, err := row.Change(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	return out, nil
}

// Subscribe wakes on commits of this process. Writes by another process on the same
// file (the CLI's import, say) wake no one; readers also poll to catch those.
func (s *Store) Subscribe(ctx context.Context) <-chan string { return s.hub.Subscribe(ctx) }

func (s *Store) PruneChanges(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := s.Update(ctx, func(dtx device.Tx) error {
		t := dtx.(*tx)
		if err := t.writeLog(ctx); err != nil { // the batch's changes so far are pruned too
			return err
		}
		// The horizon only moves on: a change older than another that is already
		// pruned, but numbered after it, must not pull it back and reopen the gap.
		us := cutoff.UnixMicro()
		_, err := t.exec(ctx, "record pruned changes", `UPDATE accounts
			SET pruned_seq = max(pruned_seq, coalesce((SELECT max(seq)
				FROM registration_changes c WHERE c.account_id = accounts.id AND c.at < ?), 0))
			WHERE id IN (SELECT account_id FROM registration_changes WHERE at < ?)`, us, us)
		if err != nil {
			return err
		}
		res, err := t.exec(ctx, "prune changes", `DELETE FROM registration_changes
			WHERE at < ?`, us)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

func (r reader) RegistrationByKey(
	ctx context.Context, accountID, key string,
) (*device.Registration, error) {
	return scanRegistration(r.queryRow(ctx, registrationSelect+`
		WHERE r.account_id = `+accountNum+` AND r.key = ? AND r.deleted_at IS NULL`,
		accountID, key))
}
