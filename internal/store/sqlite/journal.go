package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

// journal holds the audit entries and changes that one job appended and has not
// written yet. They are written when the job's fn returns (commitBatch), or sooner
// when many are waiting: one multi-row INSERT per table and one counter update per
// account, instead of an UPDATE ... RETURNING and an INSERT for each entry. A bulk
// revoke of 100 registrations appended 200 entries one statement pair at a time.
//
// Sequence numbers are still taken in append order from the account's counters,
// read once per job, and written back with the entries, inside the job's savepoint:
// what is recorded, and when it commits, is as before. Nothing reads the log or the
// counters inside the job that appends to them.
type journal struct {
	seqs    map[string]*logSeqs // by account id
	audit   [][]any             // the values of row.AuditInsert
	changes [][]any             // the values of changeInsert
}

// logSeqs are an account's last audit and change numbers as the job has taken them.
type logSeqs struct{ audit, change int64 }

// journalFlushAt is how many entries wait before they are written mid-job, so that
// an import of many registrations holds few in memory.
const journalFlushAt = 500

// journalChunk bounds the rows of one INSERT, under SQLite's limit on parameters.
// Chunks are powers of two, so that few statement texts reach the statement cache.
const journalChunk = 128

const changeInsert = `account_id, seq, kind, at, registration_id, device_id, user_id, key,
	key_type, tunnel_type, previous_key, active, profile_id`

// nextSeqs returns the job's numbers for accountID, read at its first entry.
func (t *tx) nextSeqs(ctx context.Context, accountID string) (*logSeqs, error) {
	if s, ok := t.log.seqs[accountID]; ok {
		return s, nil
	}
	s := &logSeqs{}
	err := t.queryRow(ctx, `SELECT audit_seq, change_seq FROM accounts WHERE id = ?`,
		accountID).Scan(&s.audit, &s.change)
	if err != nil {
		return nil, mapError(err)
	}
	if t.log.seqs == nil {
		t.log.seqs = map[string]*logSeqs{}
	}
	t.log.seqs[accountID] = s
	return s, nil
}

func (t *tx) AppendAudit(ctx context.Context, e *device.AuditEntry) error {
	s, err := t.nextSeqs(ctx, e.AccountID)
	if err != nil {
		return fmt.Errorf("next audit number: %w", err)
	}
	e.Seq = s.audit + 1
	args, err := row.AuditArgs(e)
	if err != nil {
		return err
	}
	s.audit++
	t.log.audit = append(t.log.audit, args)
	return t.flushIfFull(ctx)
}

func (t *tx) AppendChange(ctx context.Context, c *device.Change) error {
	s, err := t.nextSeqs(ctx, c.AccountID)
	if err != nil {
		return fmt.Errorf("next change number: %w", err)
	}
	s.change++
	c.Seq = s.change
	t.log.changes = append(t.log.changes, []any{
		c.AccountID, c.Seq, string(c.Kind), c.At.UnixMicro(), c.RegistrationID, c.DeviceID,
		row.NullString(c.UserID), c.Key, row.NullString(string(c.KeyType)),
		row.NullString(string(c.TunnelType)), row.NullString(c.PreviousKey), c.Active,
		c.ProfileID,
	})
	t.changed[c.AccountID] = true
	return t.flushIfFull(ctx)
}

func (t *tx) flushIfFull(ctx context.Context) error {
	if len(t.log.audit)+len(t.log.changes) < journalFlushAt {
		return nil
	}
	return t.flushJournal(ctx)
}

// flushJournal writes the waiting entries and the counters they advanced.
func (t *tx) flushJournal(ctx context.Context) error {
	for id, s := range t.log.seqs {
		_, err := t.exec(ctx, "advance log numbers", `UPDATE accounts
			SET audit_seq = ?, change_seq = ? WHERE id = ?`, s.audit, s.change, id)
		if err != nil {
			return err
		}
	}
	err := t.insertRows(ctx, "append audit entries", "audit_log", row.AuditInsert, t.log.audit)
	if err != nil {
		return err
	}
	err = t.insertRows(ctx, "append changes", "registration_changes", changeInsert, t.log.changes)
	if err != nil {
		return err
	}
	t.log.audit, t.log.changes = t.log.audit[:0], t.log.changes[:0]
	return nil
}

// insertRows inserts rows into table in chunks of journalChunk rows or of the powers
// of two below it (100 rows go in as 64, 32 and 4).
func (t *tx) insertRows(ctx context.Context, what, table, columns string, rows [][]any) error {
	for len(rows) > 0 {
		n := journalChunk
		for n > len(rows) {
			n /= 2
		}
		one := "(" + placeholders(len(rows[0])) + ")"
		values := strings.TrimSuffix(strings.Repeat(one+", ", n), ", ")
		var args []any
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		_, err := t.exec(ctx, what, `INSERT INTO `+table+` (`+columns+`) VALUES `+values, args...)
		if err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}
