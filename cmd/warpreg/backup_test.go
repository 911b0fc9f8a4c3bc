package main

import (
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/store/testdb"
)

// sqliteCLI is newCLI on a fresh SQLite file whatever the run's engine: backup is
// SQLite's. It skips on the PostgreSQL run, which would only repeat the SQLite one.
func sqliteCLI(t *testing.T) *cliRun {
	t.Helper()
	if testdb.Engine() == "postgres" {
		t.Skip("backup copies SQLite databases; this run is on PostgreSQL")
	}
	return &cliRun{t: t, db: filepath.Join(t.TempDir(), "warpreg.db")}
}

// TestBackupUnderWriteLoad backs up a database while a server process enrols
// devices into it as fast as four clients can: every enrolment acknowledged before
// the backup began is in the copy, the copy's change log has no gap and matches its
// registrations, and a server started on the copy serves them.
func TestBackupUnderWriteLoad(t *testing.T) {
	c := sqliteCLI(t)
	f := &fleet{c: c}
	f.acct = c.json("account", "create", "--name", "backup")["id"].(string)
	f.token = c.json("token", "create", "--account", f.acct)["value"].(string)
	f.enrollKey = c.json("enrollment-key", "create", "--account", f.acct,
		"--reusable")["value"].(string)
	in := startInstance(t, c.db, "--rate-limit", "0")

	type ack struct {
		id string
		at time.Time
	}
	var mu sync.Mutex
	var acks []ack
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				status, id := f.enrollQuiet(in, fmt.Sprintf("w%d-%d", w, i))
				if status != http.StatusCreated {
					t.Errorf("enrolment during the backup: status %d", status)
					return
				}
				mu.Lock()
				acks = append(acks, ack{id, time.Now()})
				mu.Unlock()
			}
		})
	}
	time.Sleep(300 * time.Millisecond)

	out := filepath.Join(t.TempDir(), "copy.db")
	began := time.Now()
	sum := c.json("backup", "--output", out)
	took := time.Since(began)
	time.Sleep(100 * time.Millisecond) // writes go on after the backup, too
	close(stop)
	wg.Wait()
	if files, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "*")); len(files) != 1 {
		t.Errorf("files where the copy was written: %v, want the copy alone", files)
	}

	var before []string
	for _, a := range acks {
		if a.at.Before(began) {
			before = append(before, a.id)
		}
	}
	t.Logf("backup of %v registrations took %v; %d enrolments acknowledged before it, %d in all",
		sum["registrations"], took, len(before), len(acks))
	if len(before) == 0 || len(acks) == len(before) {
		t.Fatalf("the load did not overlap the backup: %d acknowledged before, %d in all",
			len(before), len(acks))
	}

	restored := &cliRun{t: t, db: out}
	base, _ := restored.serveLogged("--rate-limit", "0")
	for _, id := range before {
		status, env := call(t, "GET", base+"/client/v4/accounts/"+f.acct+
			"/devices/registrations/"+id, nil, "Authorization", "Bearer "+f.token)
		if status != http.StatusOK {
			t.Errorf("registration %s, acknowledged before the backup, in the copy: %d %v",
				id, status, env)
		}
	}
	changes := readChanges(t, base, f.acct, f.token)
	for i, ch := range changes {
		if ch.Seq != int64(i+1) || ch.Kind != "enrolled" {
			t.Fatalf("the copy's change %d is %+v, want seq %d enrolled", i, ch, i+1)
		}
	}
	if float64(len(changes)) != sum["registrations"] {
		t.Errorf("the copy holds %v registrations and %d changes", sum["registrations"],
			len(changes))
	}
}

// TestBackupRefusals checks what backup refuses, each with a one-line reason and
// nothing written: it never replaces a file unless told, never the database
// itself, and copies only warpreg's SQLite databases.
func TestBackupRefusals(t *testing.T) {
	c := sqliteCLI(t)
	c.json("account", "create", "--name", "a")
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.db")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "foreign.db")
	execSQL(t, foreign, "CREATE TABLE t (x)")
	newer := filepath.Join(dir, "newer.db")
	(&cliRun{t: t, db: newer}).json("account", "create", "--name", "n")
	execSQL(t, newer, "INSERT INTO schema_migrations VALUES (9999, 'future.sql', '')")

	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--output", existing}, exitError, "exists; pass --force"},
		{[]string{"--output", c.db, "--force"}, exitError, "is the database being backed up"},
		{[]string{}, exitUsage, "--output is required"},
		{[]string{"--database", "postgres://u@127.0.0.1/db", "--output", "x"}, exitUsage,
			"pg_dump"},
		{[]string{"--database", filepath.Join(dir, "none.db"), "--output", "x"}, exitError,
			"does not exist"},
		{[]string{"--database", foreign, "--output", filepath.Join(dir, "f.out")}, exitError,
			"not a warpreg database"},
		{[]string{"--database", newer, "--output", filepath.Join(dir, "n.out")}, exitError,
			"newer than this warpreg's"},
	}
	for _, tt := range tests {
		_, errOut, code := c.run(append([]string{"backup"}, tt.args...)...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("backup %v: exit %d, stderr %q; want exit %d mentioning %q",
				tt.args, code, errOut, tt.code, tt.want)
		}
		if strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("backup %v: stderr is more than one line: %q", tt.args, errOut)
		}
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Errorf("the refused backup changed %s", existing)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(left) != 3 {
		t.Errorf("files after the refusals: %v, want existing, foreign and newer only", left)
	}

	if sum := c.json("backup", "--output", existing, "--force"); sum["accounts"] != 1.0 {
		t.Errorf("backup --force over a file: %v, want 1 account", sum)
	}
	if sum := (&cliRun{t: t, db: existing}).json("backup", "--output",
		filepath.Join(dir, "again.db")); sum["accounts"] != 1.0 {
		t.Errorf("backup of the forced copy: %v, want 1 account", sum)
	}
}

func execSQL(t *testing.T, path, stmt string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}
