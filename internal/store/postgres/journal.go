package postgres

import (
	"context"
	"fmt"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

// The log entries a transaction appends wait in its row.Journal and are written
// when its fn returns (updateOnce): a statement is a round trip to the server.

// logSeqs reads the account's numbers at its first entry, locking the row as the
// UPDATE that took each number did, so that concurrent writers queue on it the
// same way. The lock is FOR NO KEY UPDATE, an UPDATE's own: FOR UPDATE would also
// wait for the key-share locks that foreign-key checks take on the account row, so
// two enrolments that had each inserted a row referring to the account would wait
// for each other until PostgreSQL broke the deadlock a second later.
func (t *tx) logSeqs(ctx context.Context, accountID string) (*row.LogSeqs, error) {
	return t.log.Seqs(accountID, func() (row.LogSeqs, error) {
		var s row.LogSeqs
		err := t.tx.QueryRow(ctx, `SELECT audit_seq, change_seq FROM accounts
			WHERE id = $1 FOR NO KEY UPDATE`, accountID).Scan(&s.Audit, &s.Change)
		return s, mapError(err)
	})
}

func (t *tx) AppendAudit(ctx context.Context, e *device.AuditEntry) error {
	s, err := t.logSeqs(ctx, e.AccountID)
	if err != nil {
		return fmt.Errorf("next audit number: %w", err)
	}
	if err := t.log.AddAudit(e, s); err != nil {
		return err
	}
	return t.flushIfFull(ctx)
}

func (t *tx) AppendChange(ctx context.Context, c *device.Change) error {
	s, err := t.logSeqs(ctx, c.AccountID)
	if err != nil {
		return fmt.Errorf("next change number: %w", err)
	}
	t.log.AddChange(c, s)
	if !t.notified[c.AccountID] {
		// Delivered to every listener when, and only if, the transaction commits.
		if _, err := t.exec(ctx, "notify change", `SELECT pg_notify($1, $2)`,
			notifyChannel, c.AccountID); err != nil {
			return err
		}
		t.notified[c.AccountID] = true
	}
	return t.flushIfFull(ctx)
}

func (t *tx) flushIfFull(ctx context.Context) error {
	if !t.log.Full() {
		return nil
	}
	return t.flushJournal(ctx)
}

// flushJournal writes the waiting entries and the counters they advanced.
func (t *tx) flushJournal(ctx context.Context) error {
	return t.log.Flush(row.DollarParam, func(what, query string, args ...any) error {
		_, err := t.exec(ctx, what, query, args...)
		return err
	})
}
