package sqlite

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

// inOneBatch makes each call, which queues one write, in turn behind a job that holds
// the writer, and then lets the writer go: their writes run as one batch, in the
// calls' order. It returns the calls' errors.
func inOneBatch(t *testing.T, st *Store, calls ...func() error) []error {
	t.Helper()
	release := holdWriter(t, st)
	errs := make([]error, len(calls))
	done := make(chan struct{}, len(calls))
	for i, call := range calls {
		go func() {
			errs[i] = call()
			done <- struct{}{}
		}()
		for len(st.jobs) < i+1 {
			time.Sleep(time.Millisecond)
		}
	}
	release()
	for range calls {
		<-done
	}
	return errs
}

// newAccount stores an account with no log.
func newAccount(t *testing.T, st *Store, id string) {
	t.Helper()
	err := st.Update(t.Context(), func(tx device.Tx) error {
		return tx.InsertAccount(t.Context(), &device.Account{ID: id, Name: id, CreatedAt: time.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func appendChange(t *testing.T, tx device.Tx, account, registration string, at time.Time) error {
	return tx.AppendChange(t.Context(), &device.Change{AccountID: account,
		Kind: device.ChangeEnrolled, RegistrationID: registration, At: at})
}

// logsChange is a call for inOneBatch: a write that appends a change of registration
// to account "a", seen now.
func logsChange(t *testing.T, st *Store, registration string) func() error {
	return func() error {
		return st.Update(t.Context(), func(tx device.Tx) error {
			return appendChange(t, tx, "a", registration, time.Now())
		})
	}
}

// TestLogReadersSeeTheBatchBefore: a job that reads the audit log, or prunes the
// change log, sees the entries of the jobs before it in its batch, which wait to be
// written at the batch's end.
func TestLogReadersSeeTheBatchBefore(t *testing.T) {
	st := openEmpty(t)
	ctx := t.Context()
	newAccount(t, st, "a")
	old := time.Now().Add(-2 * time.Hour)

	var audited int
	var pruned int64
	errs := inOneBatch(t, st,
		func() error {
			return st.Update(ctx, func(tx device.Tx) error {
				if err := appendChange(t, tx, "a", "r1", old); err != nil {
					return err
				}
				return tx.AppendAudit(ctx, &device.AuditEntry{AccountID: "a", At: old,
					Action: "registration.revoke", TargetType: "registration", TargetID: "r1"})
			})
		},
		func() error {
			return st.Update(ctx, func(tx device.Tx) error {
				es, err := tx.AuditLog(ctx, "a", device.AuditQuery{Limit: 10})
				audited = len(es)
				return err
			})
		},
		func() (err error) {
			pruned, err = st.PruneChanges(ctx, time.Now().Add(-time.Hour))
			return err
		},
	)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if audited != 1 || pruned != 1 {
		t.Errorf("the later jobs saw %d audit entries and pruned %d changes, want 1 and 1",
			audited, pruned)
	}
	if _, err := st.Changes(ctx, "a", 0, 10); device.KindOf(err) != device.KindGone {
		t.Errorf("changes after 0 = %v, want them gone", err)
	}
}

// TestEarlyWriteKeepsNumberOrder: a job whose own entries fill the journal writes the
// entries of the jobs before it first, so the log's rows are always the first of
// their numbers, which a prune relies on.
func TestEarlyWriteKeepsNumberOrder(t *testing.T) {
	st := openEmpty(t)
	ctx := t.Context()
	newAccount(t, st, "a")

	want := []string{"first"}
	var rows, last int64
	errs := inOneBatch(t, st,
		logsChange(t, st, "first"),
		func() error {
			return st.Update(ctx, func(dt device.Tx) error {
				for i := range row.JournalFlushAt {
					id := fmt.Sprint("many-", i)
					if err := appendChange(t, dt, "a", id, time.Now()); err != nil {
						return err
					}
				}
				return dt.(*tx).queryRow(ctx, `SELECT count(*), coalesce(max(seq), 0)
					FROM registration_changes WHERE account_id = 'a'`).Scan(&rows, &last)
			})
		},
	)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if rows != last || rows == 0 {
		t.Errorf("after the early write: %d rows up to number %d, want the first %d", rows,
			last, last)
	}
	for i := range row.JournalFlushAt {
		want = append(want, fmt.Sprint("many-", i))
	}
	checkChanges(t, st, "a", want)
}

// TestPruneHorizonOnlyMovesOn: a change numbered after a pruned one but dated before
// it (the clock stepped back) is pruned later; the horizon must not go back to it,
// which would hide that the changes between were pruned.
func TestPruneHorizonOnlyMovesOn(t *testing.T) {
	st := openEmpty(t)
	ctx := t.Context()
	newAccount(t, st, "a")
	now := time.Now()
	for _, at := range []time.Time{now, now.Add(-2 * time.Hour)} {
		err := st.Update(ctx, func(tx device.Tx) error {
			return appendChange(t, tx, "a", "r", at)
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	for _, cutoff := range []time.Time{now.Add(-time.Hour), now.Add(time.Hour)} {
		if n, err := st.PruneChanges(ctx, cutoff); err != nil || n != 1 {
			t.Fatalf("prune before %v: %d, %v; want 1", cutoff, n, err)
		}
		var horizon int64
		err := st.read.QueryRow(`SELECT pruned_seq FROM accounts WHERE id = 'a'`).Scan(&horizon)
		if err != nil || horizon != 2 {
			t.Errorf("prune before %v: horizon %d (%v), want 2", cutoff, horizon, err)
		}
	}
}

// TestFailedReaderKeepsTheBatchLog: a job that reads the log, so writing the entries
// of the jobs before it, and then fails after writing, sends its batch round again
// with savepoints; its failure must not take those entries with it.
func TestFailedReaderKeepsTheBatchLog(t *testing.T) {
	st := openEmpty(t)
	ctx := t.Context()
	newAccount(t, st, "a")
	refused := errors.New("refused")

	errs := inOneBatch(t, st,
		logsChange(t, st, "kept"),
		func() error {
			return st.Update(ctx, func(tx device.Tx) error {
				if _, err := tx.AuditLog(ctx, "a", device.AuditQuery{Limit: 1}); err != nil {
					return err
				}
				if err := appendChange(t, tx, "a", "dropped", time.Now()); err != nil {
					return err
				}
				if err := tx.PutSettingIfAbsent(ctx, "s", []byte("v")); err != nil {
					return err
				}
				return refused
			})
		},
		logsChange(t, st, "after"),
	)
	if errs[0] != nil || !errors.Is(errs[1], refused) || errs[2] != nil {
		t.Fatalf("Update = %v, want nil, %v, nil", errs, refused)
	}
	checkChanges(t, st, "a", []string{"kept", "after"})
}
