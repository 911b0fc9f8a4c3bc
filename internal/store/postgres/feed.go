package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

// Changes reads the pruning horizon and the entries in one snapshot, so a prune
// committing between the two cannot open an unnoticed gap.
func (s *Store) Changes(
	ctx context.Context, accountID string, after int64, limit int,
) ([]device.Change, error) {
	rtx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("read changes: begin: %w", err)
	}
	defer rtx.Rollback(context.WithoutCancel(ctx))
	return reader{q: rtx}.Changes(ctx, accountID, after, limit)
}

func (r reader) Changes(
	ctx context.Context, accountID string, after int64, limit int,
) ([]device.Change, error) {
	var pruned, head int64
	err := r.q.QueryRow(ctx, `SELECT pruned_seq, change_seq FROM accounts WHERE id = $1`,
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
	rows, err := r.q.Query(ctx, `SELECT `+row.ChangeColumns+`
		FROM registration_changes WHERE account_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
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

// Subscribe wakes on commits of every instance, through LISTEN/NOTIFY.
func (s *Store) Subscribe(ctx context.Context) <-chan string { return s.hub.Subscribe(ctx) }

func (s *Store) PruneChanges(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := s.Update(ctx, func(dtx device.Tx) error {
		t := dtx.(*tx)
		us := cutoff.UnixMicro()
		_, err := t.exec(ctx, "record pruned changes", `UPDATE accounts a SET pruned_seq =
				greatest(a.pruned_seq, c.seq)
			FROM (SELECT account_id, max(seq) AS seq FROM registration_changes
				WHERE at < $1 GROUP BY account_id) c
			WHERE a.id = c.account_id`, us)
		if err != nil {
			return err
		}
		tag, err := t.exec(ctx, "prune changes", `DELETE FROM registration_changes
			WHERE at < $1`, us)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

func (r reader) RegistrationByKey(
	ctx context.Context, accountID, key string,
) (*device.Registration, error) {
	return scanRegistration(r.q.QueryRow(ctx, row.RegistrationSelect+`
		WHERE r.account_id = $1 AND r.key = $2 AND r.deleted_at IS NULL`, accountID, key))
}
