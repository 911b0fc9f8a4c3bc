package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

// TestBatchWithoutSavepoints queues jobs behind one that holds the writer, so that
// they share a batch, and checks the ways a batch can end: with every job
// succeeding, or one failing before it wrote anything, each fn runs once (no
// savepoints, no second run); with one failing after it wrote, the batch runs
// again under savepoints. Either way the failed job's write is gone, it alone gets
// its error, and the others commit. Each job also appends a change: the failed
// job's is gone with it, and the others' are numbered on without a gap.
func TestBatchWithoutSavepoints(t *testing.T) {
	st := openEmpty(t)
	const account = "batch"
	err := st.Update(t.Context(), func(tx device.Tx) error {
		return tx.InsertAccount(t.Context(),
			&device.Account{ID: account, Name: "a", CreatedAt: time.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	var logged []string // the registration ids of the changes, in order of number

	for _, tc := range []struct {
		failing int  // the job that fails, -1 for none
		wrote   bool // whether it wrote before failing
	}{{-1, false}, {2, true}, {2, false}} {
		failing := tc.failing
		t.Run(fmt.Sprintf("failing job %d, wrote %t", failing, tc.wrote), func(t *testing.T) {
			const n = 5
			refused := errors.New("refused")
			var mu sync.Mutex
			var order []int // the jobs' runs, in the writer's order
			errs := make([]error, n)
			release := holdWriter(t, st)

			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					errs[i] = st.Update(t.Context(), func(tx device.Tx) error {
						mu.Lock()
						order = append(order, i)
						mu.Unlock()
						name := fmt.Sprintf("batch-%d-%t-%d", failing, tc.wrote, i)
						err := tx.AppendChange(t.Context(), &device.Change{
							AccountID: account, Kind: device.ChangeEnrolled,
							RegistrationID: name, At: time.Now()})
						if err != nil {
							return err
						}
						if i == failing && !tc.wrote {
							return refused
						}
						err = tx.PutSettingIfAbsent(t.Context(), name, []byte("v"))
						if err == nil && i == failing {
							return refused
						}
						return err
					})
				})
			}
			for len(st.jobs) < n {
				time.Sleep(time.Millisecond)
			}
			release()
			wg.Wait()

			// The writer runs the queue in its order, which is not i's: the bare run
			// stops at the failing job, and the guarded one runs the queue again.
			bare := len(order) - n
			if !tc.wrote && bare != 0 || tc.wrote && (bare < 1 || order[bare-1] != failing) {
				t.Fatalf("runs %v: want every job once, or a bare run to job %d and then "+
					"every job once", order, failing)
			}
			if !slices.Equal(order[:bare], order[bare:2*bare]) {
				t.Errorf("runs %v: the guarded run did not keep the queue's order", order)
			}
			for i := range n {
				wantErr := error(nil)
				if i == failing {
					wantErr = refused
				}
				if !slices.Contains(order[bare:], i) {
					t.Errorf("runs %v: job %d did not run in the last pass", order, i)
				}
				if !errors.Is(errs[i], wantErr) {
					t.Errorf("job %d: Update = %v, want %v", i, errs[i], wantErr)
				}
				name := fmt.Sprintf("batch-%d-%t-%d", failing, tc.wrote, i)
				_, err := st.Setting(t.Context(), name)
				if stored := err == nil; stored != (i != failing) {
					t.Errorf("job %d: setting stored = %t (%v), want %t", i, stored, err,
						i != failing)
				}
			}
			var want []string
			for _, i := range order[bare:] {
				if i != failing {
					want = append(want, fmt.Sprintf("batch-%d-%t-%d", failing, tc.wrote, i))
				}
			}
			logged = append(logged, want...)
			checkChanges(t, st, account, logged)
		})
	}
}

// checkChanges fails t unless account's change log holds changes of the registrations
// want, numbered 1, 2, ... in that order, and the account's counter is at the last.
func checkChanges(t *testing.T, st *Store, account string, want []string) {
	t.Helper()
	rows, err := st.read.Query(`SELECT seq, registration_id FROM registration_changes
		WHERE account_id = ? ORDER BY seq`, account)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var seq int64
		var id string
		if err := rows.Scan(&seq, &id); err != nil {
			t.Fatal(err)
		}
		if seq != int64(len(got)+1) {
			t.Errorf("change %d of %s is numbered %d", len(got)+1, id, seq)
		}
		got = append(got, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("changes logged %v, want %v", got, want)
	}
	var head int64
	err = st.read.QueryRow(`SELECT change_seq FROM accounts WHERE id = ?`, account).Scan(&head)
	if err != nil || head != int64(len(want)) {
		t.Errorf("change_seq = %d (%v), want %d", head, err, len(want))
	}
}

// holdWriter runs a job that holds st's writer until release is called, and
// returns once the writer runs it: jobs queued meanwhile share the next batch.
func holdWriter(t *testing.T, st *Store) (release func()) {
	hold, held := make(chan struct{}), make(chan struct{})
	go st.Update(t.Context(), func(device.Tx) error {
		close(held)
		<-hold
		return nil
	})
	<-held
	return func() { close(hold) }
}

// TestGiveUpInsideABatch queues two jobs behind one that holds the writer, so that
// they share the next batch, the first slow and the second with a short deadline:
// the second returns at its deadline, while the first still runs, and never runs.
func TestGiveUpInsideABatch(t *testing.T) {
	st := openEmpty(t)
	release := holdWriter(t, st)

	slow, started := make(chan struct{}), make(chan struct{})
	var slowDone, quickRan atomic.Bool
	go st.Update(t.Context(), func(device.Tx) error {
		close(started)
		select { // at the latest after 10 s, so that a failure does not hang
		case <-slow:
		case <-time.After(10 * time.Second):
		}
		slowDone.Store(true)
		return nil
	})
	for len(st.jobs) < 1 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	quick := make(chan error, 1)
	go func() {
		quick <- st.Update(ctx, func(device.Tx) error {
			quickRan.Store(true)
			return nil
		})
	}()
	for len(st.jobs) < 2 {
		time.Sleep(time.Millisecond)
	}
	release()
	<-started
	err := <-quick
	waited := slowDone.Load()
	close(slow)

	if !errors.Is(err, context.DeadlineExceeded) || waited {
		t.Errorf("the job behind a slow one in its batch: %v, after the slow one ended: %v; "+
			"want its deadline's error before that", err, waited)
	}
	if err := st.Update(t.Context(), func(device.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if quickRan.Load() {
		t.Error("the job whose caller gave up ran")
	}
}

// TestDeadlineMidStatement gives the middle of three jobs in one batch a long
// statement and a deadline that passes while it runs. SQLite rolls a whole
// transaction back when a write statement is interrupted, so the caller's deadline
// must not reach it: each job's answer says whether its writes landed, and the
// job after it lands whole, in the batch's one transaction.
func TestDeadlineMidStatement(t *testing.T) {
	st := openEmpty(t)
	if _, err := st.write.Exec(`CREATE TABLE t_marks (id TEXT PRIMARY KEY);
		CREATE TABLE t_bulk (n INTEGER)`); err != nil {
		t.Fatal(err)
	}
	mark := func(id string) func(device.Tx) error {
		return func(dt device.Tx) error {
			_, err := dt.(*tx).exec(t.Context(), "mark", `INSERT INTO t_marks VALUES (?)`, id)
			return err
		}
	}
	landed := func(id string) bool {
		var n int
		err := st.write.QueryRow(`SELECT count(*) FROM t_marks WHERE id = ?`, id).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	release := holdWriter(t, st)

	errs := make([]chan error, 3)
	for i := range errs {
		errs[i] = make(chan error, 1)
	}
	go func() { errs[0] <- st.Update(t.Context(), mark("first")) }()
	for len(st.jobs) < 1 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	go func() {
		errs[1] <- st.Update(ctx, func(dt device.Tx) error {
			_, err := dt.(*tx).exec(ctx, "bulk", `INSERT INTO t_bulk
				WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300000)
				SELECT i FROM c`)
			if err == nil {
				err = mark("middle")(dt)
			}
			return err
		})
	}()
	for len(st.jobs) < 2 {
		time.Sleep(time.Millisecond)
	}
	go func() {
		errs[2] <- st.Update(t.Context(), func(dt device.Tx) error {
			if err := mark("last-a")(dt); err != nil {
				return err
			}
			return mark("last-b")(dt)
		})
	}()
	for len(st.jobs) < 3 {
		time.Sleep(time.Millisecond)
	}
	release()

	for i, name := range []string{"first", "middle", "last-a"} {
		err := <-errs[i]
		if got := landed(name); got != (err == nil) {
			t.Errorf("job %d: answered %v, its write landed: %v", i, err, got)
		}
	}
	if landed("last-a") != landed("last-b") {
		t.Error("the last job landed in part")
	}
}

// TestListsWaitForATurn holds every list turn and checks that a list waits for
// one until its context ends, then runs once a turn is free.
func TestListsWaitForATurn(t *testing.T) {
	st := openEmpty(t)
	for range listConns {
		st.listGate <- struct{}{}
	}

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	q := device.ListQuery{Limit: 10, Sort: device.SortByID}
	if _, err := st.ListRegistrations(ctx, "none", q); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("list with every turn taken: %v, want its deadline", err)
	}
	if _, err := st.ListDevices(ctx, "none", device.DeviceListQuery{Limit: 10}); err == nil {
		t.Error("device list with every turn taken: no error, want its deadline")
	}

	st.listDone()
	if _, err := st.ListRegistrations(t.Context(), "none", q); err != nil {
		t.Errorf("list with a turn free: %v", err)
	}
	if len(st.listGate) != listConns-1 {
		t.Errorf("turns taken after the list: %d, want %d", len(st.listGate), listConns-1)
	}
}

// TestListsPrepareBesideOthers runs a list, on a store that has prepared none of
// its statements yet, while every other list turn holds its read transaction: the
// list's own transaction holds a connection too, and its statements are prepared
// on the pool's spare one, not waited for until the deadline.
func TestListsPrepareBesideOthers(t *testing.T) {
	st := openEmpty(t)
	for range listConns - 1 {
		st.listGate <- struct{}{}
		tx, err := st.listDB.BeginTx(t.Context(), &sql.TxOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM accounts`).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	q := device.ListQuery{Limit: 10, Sort: device.SortByUserName, Search: "someone"}
	if _, err := st.ListRegistrations(ctx, "none", q); err != nil {
		t.Errorf("list beside %d others: %v", listConns-1, err)
	}
}

// TestUpdateAfterClose checks that a write that comes while or after the store
// closes gets errClosed rather than waiting for a writer that has stopped.
func TestUpdateAfterClose(t *testing.T) {
	st, err := Open(t.Context(), filepath.Join(t.TempDir(), "c.db"),
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	for range 50 {
		done := make(chan error, 1)
		go func() { done <- st.Update(t.Context(), func(device.Tx) error { return nil }) }()
		select {
		case err := <-done:
			if !errors.Is(err, errClosed) {
				t.Fatalf("Update after Close = %v, want errClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Update after Close did not return")
		}
	}
}

// TestSearchLevelsPassSixteenSegments checks migration 0016. Twenty commits of one
// index row each must leave twenty segments, where at FTS5's default crisismerge
// (16) the sixteenth commit would have merged the whole level at once: small here,
// such a merge of a level of large segments held one enrolment's commit for 2.6 s
// at a million registrations. Merging still happens, in automerge's steps: by
// seventy commits (past 64 pages written) the level has been merged. The commits go
// through a connection of their own, after the store has closed, so that the
// writer's idle merging stays out of the count.
func TestSearchLevelsPassSixteenSegments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	st, err := Open(t.Context(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	db, err := openDB(path, "immediate", 1, 1024, true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	config := map[string]int{}
	rows, err := db.QueryContext(t.Context(), `SELECT k, v FROM registrations_search_config
		WHERE k IN ('automerge', 'crisismerge')`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		var v int
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		config[k] = v
	}
	rows.Close()
	if config["automerge"] != 16 || config["crisismerge"] != 64 {
		t.Fatalf("search index config %v, want automerge 16 and crisismerge 64", config)
	}

	commit := func(n int) {
		_, err := db.ExecContext(t.Context(), `INSERT INTO registrations_search (rowid, text)
			VALUES (?, ?)`, n, "searchable "+rand.Text())
		if err != nil {
			t.Fatal(err)
		}
	}
	segments := func() int {
		var n int
		err := db.QueryRowContext(t.Context(),
			`SELECT count(DISTINCT segid) FROM registrations_search_idx`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for n := 1; n <= 20; n++ {
		commit(n)
	}
	if got := segments(); got != 20 {
		t.Errorf("%d segments after 20 one-row commits, want 20: a commit merged a "+
			"whole level", got)
	}
	for n := 21; n <= 70; n++ {
		commit(n)
	}
	if got := segments(); got >= 20 {
		t.Errorf("%d segments after 70 one-row commits: nothing merged them", got)
	}
}

// TestIdleWriterMergesSearchIndex checks that migration 0014 set the search index's
// automerge to 16, then commits index rows one transaction at a time, each of which
// adds a segment (FTS5 merges inside commits only once they have written 64 pages,
// or when a level holds 16 segments), and checks that the writer, once idle,
// merges them in several steps of a few pages, stops when there is nothing left to
// merge, and that every row is still found.
func TestIdleWriterMergesSearchIndex(t *testing.T) {
	t.Cleanup(func(pages int) func() {
		return func() { searchMergePages = pages } // after the store's Close
	}(searchMergePages))
	searchMergePages = 2
	st := openEmpty(t)
	segments := func() int {
		var n int
		err := st.read.QueryRowContext(t.Context(),
			`SELECT count(DISTINCT segid) FROM registrations_search_idx`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	var automerge int
	err := st.read.QueryRowContext(t.Context(), `SELECT v FROM registrations_search_config
		WHERE k = 'automerge'`).Scan(&automerge)
	if err != nil || automerge != 16 {
		t.Fatalf("automerge %d (%v), want 16", automerge, err)
	}

	// Fifteen commits of 40 rows of random text: segments of several pages each, so
	// that merging them takes several steps of two pages.
	const commits, perCommit = 15, 40
	for c := range commits {
		err := st.Update(t.Context(), func(dtx device.Tx) error {
			for i := range perCommit {
				_, err := dtx.(*tx).exec(t.Context(), "index", `INSERT INTO registrations_search
					(rowid, text) VALUES (?, ?)`, c*perCommit+i+1, "searchable "+rand.Text()+rand.Text())
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	const rows = commits * perCommit
	busy := segments()
	if busy < 12 {
		t.Fatalf("%d segments after %d commits, want 12 or more", busy, commits)
	}

	// Merging is over when no step has run for a while: the last one found nothing.
	deadline := time.Now().Add(10 * time.Second)
	steps := st.mergeSteps.Load()
	for time.Now().Before(deadline) {
		time.Sleep(4 * searchMergeAfter)
		now := st.mergeSteps.Load()
		if now == steps && now > 0 {
			break
		}
		steps = now
	}
	if idle := segments(); idle >= busy/2 || steps < 3 {
		t.Errorf("%d segments after the writer was idle, %d before, in %d merge steps: "+
			"want fewer than half, in several steps", idle, busy, steps)
	}
	time.Sleep(4 * searchMergeAfter)
	if again := st.mergeSteps.Load(); again != steps {
		t.Errorf("%d merge steps, then %d with nothing written: the merging did not stop",
			steps, again)
	}
	var found int
	err = st.read.QueryRowContext(t.Context(), `SELECT count(*) FROM registrations_search
		WHERE registrations_search MATCH '"sea" AND "ble"'`).Scan(&found)
	if err != nil || found != rows {
		t.Errorf("search finds %d rows (%v), want %d", found, err, rows)
	}
}

// TestCloseTwice: a second Close is an error, not a panic on closed channels.
func TestCloseTwice(t *testing.T) {
	st, err := Open(t.Context(), filepath.Join(t.TempDir(), "c.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err == nil {
		t.Error("a second Close: no error")
	}
}
