package row

import (
	"fmt"
	"strings"

	"github.com/warpreg/warpreg/internal/device"
)

// Journal holds the audit entries and changes that one write transaction appended
// and its adapter has not written yet. The adapters write them when the
// transaction's fn returns (SQLite: when its batch ends), or sooner when many wait
// (JournalFlushAt): one multi-row INSERT per table and one counter update per
// account, instead of an UPDATE ... RETURNING and an INSERT for each entry. A bulk revoke of 100
// registrations appended 200 entries one statement pair at a time.
//
// Sequence numbers are still taken in append order from the account's counters,
// read once per transaction, and written back with the entries in the same
// transaction: what is recorded, and when it commits, is as before. On SQLite the
// jobs of one batch share a journal (see Fork), and the counters are read once per
// batch; a job that reads or prunes the log first writes what waits (the SQLite
// adapter's writeLog), so that it sees the log as the jobs before it left it.
type Journal struct {
	seqs    map[string]*LogSeqs // by account id
	Audit   [][]any             // the values of AuditInsert
	Changes [][]any             // the values of ChangeInsert
}

// LogSeqs are an account's last audit and change numbers as the transaction has
// taken them.
type LogSeqs struct{ Audit, Change int64 }

// JournalFlushAt is how many entries of one transaction wait before they are written
// mid-transaction, so that an import of many registrations holds few in memory. (A
// SQLite batch may hold up to this many from each of its jobs until its end.)
const JournalFlushAt = 500

// JournalChunk bounds the rows of one INSERT. Chunks are powers of two, so that few
// statement texts reach the statement caches.
const JournalChunk = 128

// ChangeInsert is the column list of a change's row.
const ChangeInsert = `account_id, seq, kind, at, registration_id, device_id, user_id, key,
	key_type, tunnel_type, previous_key, active, profile_id`

// Seqs returns the numbers of accountID, reading them with read at the account's
// first entry.
func (j *Journal) Seqs(accountID string, read func() (LogSeqs, error)) (*LogSeqs, error) {
	if s, ok := j.seqs[accountID]; ok {
		return s, nil
	}
	s, err := read()
	if err != nil {
		return nil, err
	}
	if j.seqs == nil {
		j.seqs = map[string]*LogSeqs{}
	}
	j.seqs[accountID] = &s
	return &s, nil
}

// Fork returns an empty journal that numbers on from j's counters without moving
// them. SQLite's writer gives each job of a batch a fork of the batch's journal, takes
// its entries back with Absorb when the job succeeds and drops them when it fails, and
// writes the batch's entries with one Flush before the commit: a batch of enrolments
// wrote two single-row INSERTs and a counter update for each job before.
func (j *Journal) Fork() Journal {
	seqs := make(map[string]*LogSeqs, len(j.seqs))
	for id, s := range j.seqs {
		c := *s
		seqs[id] = &c
	}
	return Journal{seqs: seqs}
}

// Absorb takes over the entries of job, a fork of j, and the numbers it reached;
// job must not be used after.
func (j *Journal) Absorb(job *Journal) {
	if j.seqs == nil {
		j.seqs = map[string]*LogSeqs{}
	}
	for id, s := range job.seqs {
		j.seqs[id] = s
	}
	j.Audit = append(j.Audit, job.Audit...)
	j.Changes = append(j.Changes, job.Changes...)
}

// AddAudit numbers e and queues its row.
func (j *Journal) AddAudit(e *device.AuditEntry, s *LogSeqs) error {
	e.Seq = s.Audit + 1
	args, err := AuditArgs(e)
	if err != nil {
		return err
	}
	s.Audit++
	j.Audit = append(j.Audit, args)
	return nil
}

// AddChange numbers c and queues its row.
func (j *Journal) AddChange(c *device.Change, s *LogSeqs) {
	s.Change++
	c.Seq = s.Change
	j.Changes = append(j.Changes, []any{
		c.AccountID, c.Seq, string(c.Kind), c.At.UnixMicro(), c.RegistrationID, c.DeviceID,
		NullString(c.UserID), c.Key, NullString(string(c.KeyType)),
		NullString(string(c.TunnelType)), NullString(c.PreviousKey), c.Active, c.ProfileID,
	})
}

// Full reports whether enough entries wait to be written now.
func (j *Journal) Full() bool { return len(j.Audit)+len(j.Changes) >= JournalFlushAt }

// Flush writes the waiting entries and the counters they advanced through exec, in
// the adapter's transaction, spelling the n-th parameter with param, and then
// forgets the entries.
func (j *Journal) Flush(
	param func(n int) string, exec func(what, query string, args ...any) error,
) error {
	if len(j.Audit)+len(j.Changes) == 0 {
		return nil // the counters move only with entries, and were written with them
	}
	counters := `UPDATE accounts SET audit_seq = ` + param(1) + `, change_seq = ` + param(2) +
		` WHERE id = ` + param(3)
	for id, s := range j.seqs {
		if err := exec("advance log numbers", counters, s.Audit, s.Change, id); err != nil {
			return err
		}
	}
	for _, x := range []struct {
		what, table, columns string
		rows                 [][]any
	}{
		{"append audit entries", "audit_log", AuditInsert, j.Audit},
		{"append changes", "registration_changes", ChangeInsert, j.Changes},
	} {
		err := Chunks(x.rows, param, func(v string, args []any) error {
			return exec(x.what, `INSERT INTO `+x.table+` (`+x.columns+`) VALUES `+v, args...)
		})
		if err != nil {
			return err
		}
	}
	j.Audit, j.Changes = j.Audit[:0], j.Changes[:0] // the numbers stay
	return nil
}

// QuestionParam spells SQLite's parameters, which need no number.
func QuestionParam(int) string { return "?" }

// Chunks splits rows into JournalChunk rows or the powers of two below it (100 rows
// go in as 64, 32 and 4) and calls insert with each chunk's VALUES list, spelt by
// param (the n-th parameter, from 1), and its arguments.
func Chunks(
	rows [][]any, param func(n int) string, insert func(values string, args []any) error,
) error {
	for len(rows) > 0 {
		n := JournalChunk
		for n > len(rows) {
			n /= 2
		}
		var b strings.Builder
		var args []any
		for i, r := range rows[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(")
			for k := range r {
				if k > 0 {
					b.WriteString(", ")
				}
				b.WriteString(param(len(args) + k + 1))
			}
			b.WriteString(")")
			args = append(args, r...)
		}
		if err := insert(b.String(), args); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// DollarParam spells PostgreSQL's n-th parameter.
func DollarParam(n int) string { return fmt.Sprintf("$%d", n) }
