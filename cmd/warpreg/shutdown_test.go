package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/store/testdb"
)

// heldEnrolment is an enrolment whose body the client has only half sent: its
// request is in flight on the server until the client sends the rest.
type heldEnrolment struct {
	conn net.Conn
	rest string
}

func holdEnrolment(t *testing.T, base, enrollKey string) *heldEnrolment {
	t.Helper()
	body := fmt.Sprintf(`{"key":%q,"key_type":"curve25519","device":{"name":"held",`+
		`"hardware_id":"hw-held"},"user":{"email":"held@example.com"}}`, wgKeyValue())
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	half := len(body) / 2
	fmt.Fprintf(conn, "POST /enroll/v1/registrations HTTP/1.1\r\nHost: warpreg\r\n"+
		"Authorization: Bearer %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\n\r\n%s", enrollKey, len(body), body[:half])
	return &heldEnrolment{conn: conn, rest: body[half:]}
}

// finish sends the rest of the body and returns the response's status.
func (h *heldEnrolment) finish(t *testing.T) int {
	t.Helper()
	if _, err := io.WriteString(h.conn, h.rest); err != nil {
		t.Fatalf("send the rest of the held request: %v", err)
	}
	h.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(h.conn), nil)
	if err != nil {
		t.Fatalf("read the held request's response: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitRefusing waits until the server at base stops accepting connections, as it
// does once it has begun to drain.
func waitRefusing(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second)
		if err != nil {
			return
		}
		conn.Close()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the server still accepts connections 5s after SIGTERM")
}

// exitWithin waits for the process to exit and returns its status, failing the
// test if it takes longer than d.
func exitWithin(t *testing.T, in *instance, d time.Duration) int {
	t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- in.cmd.Wait() }()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("wait for the server: %v", err)
		}
		return 0
	case <-time.After(d):
		t.Fatalf("the server has not exited %v after the signal; logs:\n%s", d, in.logs.String())
		return -1
	}
}

// TestSIGTERMDrainsInFlightRequests sends SIGTERM to a server process while an
// enrolment is in flight: the server stops accepting connections, lets the
// enrolment finish, and exits 0 with the registration stored.
func TestSIGTERMDrainsInFlightRequests(t *testing.T) {
	c := newCLI(t)
	acct := c.json("account", "create", "--name", "drain")["id"].(string)
	ek := c.json("enrollment-key", "create", "--account", acct)["value"].(string)
	in := startInstance(t, c.db, "--rate-limit", "0")
	held := holdEnrolment(t, in.base, ek)
	time.Sleep(50 * time.Millisecond) // let the server read the headers

	in.cmd.Process.Signal(syscall.SIGTERM)
	waitRefusing(t, in.base)
	if status := held.finish(t); status != http.StatusCreated {
		t.Errorf("enrolment in flight at SIGTERM: status %d, want 201", status)
	}
	if code := exitWithin(t, in, 10*time.Second); code != 0 {
		t.Errorf("exit status %d after draining, want 0; logs:\n%s", code, in.logs.String())
	}
	if !strings.Contains(in.logs.String(), `"msg":"stopped"`) {
		t.Errorf("no stopped line in the logs:\n%s", in.logs.String())
	}
	tok := c.json("token", "create", "--account", acct, "--read-only")["value"].(string)
	base := c.serve()
	_, env := call(t, "GET", base+"/client/v4/accounts/"+acct+"/devices/registrations",
		nil, "Authorization", "Bearer "+tok)
	if n := len(env["result"].([]any)); n != 1 {
		t.Errorf("%d registrations after the drained enrolment, want 1", n)
	}
}

// TestSecondSignalStopsAtOnce sends SIGTERM twice to a server process whose drain
// waits on a request that never finishes: the second signal ends it at once with
// a non-zero status and a log line saying why, instead of waiting out the drain.
func TestSecondSignalStopsAtOnce(t *testing.T) {
	c := newCLI(t)
	acct := c.json("account", "create", "--name", "stop")["id"].(string)
	ek := c.json("enrollment-key", "create", "--account", acct)["value"].(string)
	in := startInstance(t, c.db, "--rate-limit", "0")
	held := holdEnrolment(t, in.base, ek)
	time.Sleep(50 * time.Millisecond)

	signalTwice(t, in, 100*time.Millisecond) // still draining: the request is held
	logs := in.logs.String()
	if !strings.Contains(logs, "interrupted again") ||
		!strings.Contains(logs, "stopped by a second signal (terminated)") {
		t.Errorf("the logs do not say that a second signal cut the drain short:\n%s", logs)
	}
	held.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := held.conn.Read(make([]byte, 1)); err == nil {
		t.Error("the held request's connection is still open after the forced stop")
	}
}

// TestSecondSignalStopsWhileAWriteWaits holds the database's write lock from
// another connection, as another process might, while a revoke waits for it: the
// second signal ends the server at once, without waiting for that write (up to the
// 10 s busy timeout) as closing the store would.
func TestSecondSignalStopsWhileAWriteWaits(t *testing.T) {
	c, acct, tok := lockFixture(t)
	in := startInstance(t, c.db, "--rate-limit", "0")
	holdWriteLock(t, c.db)

	answered := make(chan struct{})
	go func() {
		defer close(answered)
		url := in.base + "/client/v4/accounts/" + acct +
			"/devices/registrations/revoke?id=00000000-0000-4000-8000-000000000000"
		req, _ := http.NewRequest("POST", url, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	time.Sleep(200 * time.Millisecond)
	select {
	case <-answered:
		t.Fatal("the revoke was answered while another connection held the write lock")
	default: // it waits for the lock, as it must for the test to mean anything
	}

	signalTwice(t, in, 0)
}

// signalTwice sends in SIGTERM, waits until it refuses connections and then for
// pause, sends SIGTERM again, and fails the test unless it exits within 3 s with a
// non-zero status.
func signalTwice(t *testing.T, in *instance, pause time.Duration) {
	t.Helper()
	in.cmd.Process.Signal(syscall.SIGTERM)
	waitRefusing(t, in.base)
	time.Sleep(pause)
	start := time.Now()
	in.cmd.Process.Signal(syscall.SIGTERM)
	code := exitWithin(t, in, 3*time.Second)
	t.Logf("exited %v after the second signal, status %d", time.Since(start), code)
	if code == 0 {
		t.Errorf("exit status 0 after a forced stop, want non-zero")
	}
}

// lockFixture is a SQLite database with an account and a write token, for the
// tests that hold SQLite's write lock (they skip on PostgreSQL, which locks rows).
func lockFixture(t *testing.T) (c *cliRun, acct, token string) {
	t.Helper()
	if testdb.Engine() == "postgres" {
		t.Skip("holds SQLite's write lock")
	}
	c = newCLI(t)
	acct = c.json("account", "create", "--name", "locked")["id"].(string)
	token = c.json("token", "create", "--account", acct)["value"].(string)
	return c, acct, token
}

// holdWriteLock takes SQLite's write lock on the database at path, as another
// process might, until the returned function or the end of the test lets it go.
func holdWriteLock(t *testing.T, path string) (unlock func()) {
	t.Helper()
	// The server writes too (the change feed's pruning, at start): wait for it.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	lock, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	unlock = sync.OnceFunc(func() {
		lock.ExecContext(context.Background(), "ROLLBACK")
		lock.Close()
		db.Close()
	})
	t.Cleanup(unlock)
	return unlock
}

// TestWriteLockedElsewhereIsABusy503 keeps SQLite's write lock from another
// connection past the server's 10 s busy timeout: a write then gets a 503 with code
// 1007 and a Retry-After, not a 500, and the next write, once the lock is free,
// succeeds.
func TestWriteLockedElsewhereIsABusy503(t *testing.T) {
	c, acct, tok := lockFixture(t)
	base := c.serve()
	unlock := holdWriteLock(t, c.db)

	const missing = "00000000-0000-4000-8000-000000000000"
	url := base + "/client/v4/accounts/" + acct + "/devices/registrations/revoke?id=" + missing
	req, _ := http.NewRequest("POST", url, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(string(body), `"code":1007`) {
		t.Errorf("write under another's lock: %d, Retry-After %q, %s; want 503, 1007",
			resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}

	unlock()
	if code, env := call(t, "POST", url, nil, "Authorization", "Bearer "+tok); code != 404 {
		t.Errorf("the same revoke once the lock is free: %d %v, want 404 (no such id)", code, env)
	}
}

// TestCloseAfterServe checks the end of serve and demo: a drain cut short by a
// second signal leaves the store unclosed, and a second signal while the store
// closes (a write may wait for another process's lock) stops the wait; otherwise
// the store is closed and serve's own result returned.
func TestCloseAfterServe(t *testing.T) {
	e := &env{log: slog.New(slog.DiscardHandler)}
	again := make(chan os.Signal, 1)
	ctx := context.WithValue(t.Context(), againKey{}, (<-chan os.Signal)(again))

	closed := false
	err := closeAfterServe(ctx, e, fmt.Errorf("%w (test)", errCutOff), func() { closed = true })
	if !errors.Is(err, errCutOff) || closed {
		t.Errorf("after a cut-off drain: %v, store closed %v; want errCutOff, not closed", err, closed)
	}

	if err := closeAfterServe(ctx, e, nil, func() { closed = true }); err != nil || !closed {
		t.Errorf("after a clean drain: %v, store closed %v; want nil, closed", err, closed)
	}

	stuck := make(chan struct{})
	defer close(stuck)
	again <- syscall.SIGTERM
	done := make(chan error, 1)
	go func() { done <- closeAfterServe(ctx, e, nil, func() { <-stuck }) }()
	select {
	case err := <-done:
		if !errors.Is(err, errCutOff) {
			t.Errorf("a second signal while the store closes: %v, want errCutOff", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a second signal did not stop the wait for the store to close")
	}
}

// TestReadsBesideAHeldLock runs a read-only command while another connection holds
// the write lock: opening the store reads which migrations are applied instead of
// taking the lock to check each one, so the command answers instead of failing
// after the busy timeout.
func TestReadsBesideAHeldLock(t *testing.T) {
	c, acct, _ := lockFixture(t)
	holdWriteLock(t, c.db)

	out, errOut, code := c.run("token", "list", "--account", acct)
	if code != 0 || out == "" || errOut != "" {
		t.Errorf("token list beside a held lock: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
