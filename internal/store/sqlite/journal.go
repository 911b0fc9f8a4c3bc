package sqlite

import (
	"context"
	"fmt"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

// The log entries a job appends wait in its row.Journal, a fork of its batch's
// (held), which takes them over when the job succeeds; the batch's are written just
// before its commit (commitBatch). A job writes them sooner when its own many wait
// (row.JournalFlushAt) and before it reads the log (writeLog).

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
	return t.writeLog(ctx)
}

// writeLog writes the entries that wait: first those of the jobs before this one in
// the batch, then this job's own. The log's rows are then always the first of their
// numbers, as a job that reads them, or prunes them, expects; written out of order, a
// prune could set an account's horizon past a number whose row came after it.
//
// In a batch run bare, writing the earlier jobs' entries counts as this job's write,
// so its failure runs the batch again, guarded; in a guarded batch they were written
// before this job's savepoint (commitBatch), and none wait here.
func (t *tx) writeLog(ctx context.Context) error {
	if t.held != nil {
		if err := t.reader.writeJournal(ctx, t.held); err != nil {
			return err
		}
	}
	return t.reader.writeJournal(ctx, &t.log)
}

// AuditLog reads the audit log as the jobs before this one left it.
func (t *tx) AuditLog(
	ctx context.Context, accountID string, q device.AuditQuery,
) ([]device.AuditEntry, error) {
	if err := t.writeLog(ctx); err != nil {
		return nil, err
	}
	return t.reader.AuditLog(ctx, accountID, q)
}

// writeJournal writes j's waiting entries and the counters they advanced.
func (r reader) writeJournal(ctx context.Context, j *row.Journal) error {
	return j.Flush(row.QuestionParam, func(what, query string, args ...any) error {
		_, err := r.execStmt(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("%s: %w", what, mapError(err))
		}
		return nil
	})
}
