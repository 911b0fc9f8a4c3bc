package sqlite

import (
	"context"
	"fmt"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

// The log entries a job appends wait in its row.Journal, a fork of its batch's, which
// takes them over when the job succeeds; the batch's are written just before its
// commit (commitBatch), or a job's sooner when many wait (row.JournalFlushAt).

func (t *tx) logSeqs(ctx context.Context, accountID string) (*row.LogSeqs, error) {
	return t.log.Seqs(accountID, func() (row.LogSeqs, error) {
		var s row.LogSeqs
		err := t.queryRow(ctx, `SELECT audit_seq, change_seq FROM accounts WHERE id = ?`,
			accountID).Scan(&s.Audit, &s.Change)
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
	t.changed[c.AccountID] = true
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
	return t.log.Flush(row.QuestionParam, func(what, query string, args ...any) error {
		_, err := t.exec(ctx, what, query, args...)
		return err
	})
}
