package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/store/testdb"
)

// instance is a `warpreg serve` process of its own.
type instance struct {
	base string
	cmd  *exec.Cmd
	logs *syncBuffer
}

// startInstance runs warpreg serve in a child process on db, with extra flags, and
// waits until it answers. It is killed when the test ends, if it is still running.
func startInstance(t *testing.T, db string, extra ...string) *instance {
	t.Helper()
	addr := freeAddr(t)
	args := append([]string{"serve", "--addr", addr, "--database", db, "--log-format", "json"},
		extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), reexecEnv+"=1")
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("instance %s logs:\n%s", addr, logs.String())
		}
	})
	in := &instance{base: "http://" + addr, cmd: cmd, logs: logs}
	waitReady(t, in.base)
	return in
}

// fleet is one PostgreSQL database with an account, credentials and several
// instances serving it.
type fleet struct {
	c         *cliRun
	acct      string
	token     string
	enrollKey string
	instances []*instance
}

func newFleet(t *testing.T, n int) *fleet {
	t.Helper()
	c := &cliRun{t: t, db: testdb.PostgresURL(t)}
	f := &fleet{c: c}
	f.acct = c.json("account", "create", "--name", "fleet")["id"].(string)
	f.token = c.json("token", "create", "--account", f.acct)["value"].(string)
	f.enrollKey = c.json("enrollment-key", "create", "--account", f.acct, "--reusable")["value"].(string)
	for range n {
		// The fleet's tests load and kill servers from one address with one token:
		// rate limits would only get in their way (they are tested on their own).
		f.instances = append(f.instances, startInstance(t, c.db, "--rate-limit", "0"))
	}
	return f
}

func (f *fleet) enroll(t *testing.T, in *instance, hw string) (int, string) {
	t.Helper()
	status, env := call(t, "POST", in.base+"/enroll/v1/registrations", map[string]any{
		"key": wgKey(t), "key_type": "curve25519",
		"device": map[string]string{"name": hw, "hardware_id": hw},
		"user":   map[string]any{"email": hw + "@example.com", "name": hw},
	}, "Authorization", "Bearer "+f.enrollKey)
	if status != http.StatusCreated {
		return status, ""
	}
	return status, env["result"].(map[string]any)["id"].(string)
}

func (f *fleet) admin(t *testing.T, in *instance, method, path string) (int, map[string]any) {
	t.Helper()
	return call(t, method, in.base+"/client/v4/accounts/"+f.acct+"/devices/registrations"+path,
		nil, "Authorization", "Bearer "+f.token)
}

// TestInstancesShareOneDatabase runs three instances on one PostgreSQL database: a
// revoke through one is seen by the others at once, on reads and on their change
// streams, and a cursor from one continues on another.
func TestInstancesShareOneDatabase(t *testing.T) {
	f := newFleet(t, 3)
	a, b, c := f.instances[0], f.instances[1], f.instances[2]
	var ids []string
	for i := range 12 {
		_, id := f.enroll(t, a, fmt.Sprintf("hw-%02d", i))
		ids = append(ids, id)
	}

	events := f.subscribe(t, c, 12)
	if status, env := f.admin(t, b, "POST", "/revoke?id="+ids[3]); status != 200 {
		t.Fatalf("revoke through b: %d %v", status, env)
	}
	_, env := f.admin(t, c, "GET", "/"+ids[3])
	if env["result"].(map[string]any)["revoked_at"] == nil {
		t.Error("c does not see the revoke made through b")
	}
	select {
	case e := <-events:
		if e.kind != "revoked" || e.seq != 13 {
			t.Errorf("c's stream got %+v, want seq 13 revoked", e)
		}
	case <-time.After(5 * time.Second):
		t.Error("c's change stream did not see the revoke made through b within 5s")
	}

	// Page through a with per_page 5, continuing each cursor on the next instance.
	var seen []string
	cursor := ""
	for i := 0; ; i++ {
		in := f.instances[i%3]
		_, env := f.admin(t, in, "GET", "?per_page=5&status=all&cursor="+cursor)
		for _, r := range env["result"].([]any) {
			seen = append(seen, r.(map[string]any)["id"].(string))
		}
		cursor = env["result_info"].(map[string]any)["cursor"].(string)
		if cursor == "" {
			break
		}
	}
	want := slices.Sorted(slices.Values(ids))
	if !slices.Equal(seen, want) {
		t.Errorf("paging across instances saw %d ids %v, want %v", len(seen), seen, want)
	}
}

// TestKilledInstanceLosesNoAcknowledgedWrite enrols devices through one instance
// and kills it with SIGKILL mid-stream: every enrolment it acknowledged is there
// when read through another instance.
func TestKilledInstanceLosesNoAcknowledgedWrite(t *testing.T) {
	f := newFleet(t, 2)
	victim, survivor := f.instances[0], f.instances[1]
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				status, id := f.enrollQuiet(victim, fmt.Sprintf("w%d-%d", w, i))
				if status != http.StatusCreated {
					return // the victim is gone
				}
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	victim.cmd.Process.Signal(syscall.SIGKILL)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no enrolment was acknowledged before the kill")
	}
	for _, id := range acked {
		if status, env := f.admin(t, survivor, "GET", "/"+id); status != http.StatusOK {
			t.Errorf("acknowledged registration %s: %d %v", id, status, env)
		}
	}
	t.Logf("%d acknowledged enrolments before SIGKILL, all present", len(acked))
}

// enrollQuiet is enroll for goroutines: it reports failure as a zero status.
func (f *fleet) enrollQuiet(in *instance, hw string) (int, string) {
	body := fmt.Sprintf(`{"key":%q,"key_type":"curve25519","device":{"name":%q,"hardware_id":%q},`+
		`"user":{"email":"%s@example.com"}}`, wgKeyValue(), hw, hw, hw)
	req, _ := http.NewRequest("POST", in.base+"/enroll/v1/registrations", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+f.enrollKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	var env struct{ Result struct{ ID string } }
	if resp.StatusCode != http.StatusCreated || decodeJSON(resp, &env) != nil {
		return resp.StatusCode, ""
	}
	return resp.StatusCode, env.Result.ID
}

type event struct {
	seq  int64
	kind string
	at   time.Time
}

// subscribe follows the account's change stream on in, after sequence number after,
// and delivers each event with the time it arrived.
func (f *fleet) subscribe(t *testing.T, in *instance, after int64) <-chan event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", in.base+"/api/v1/accounts/"+f.acct+
		"/registrations/changes/stream?after="+strconv.FormatInt(after, 10), nil)
	req.Header.Set("Authorization", "Bearer "+f.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		cancel()
		t.Fatalf("subscribe: %v %v", err, resp)
	}
	out := make(chan event, 4096)
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); resp.Body.Close(); <-done })
	go func() {
		defer close(done)
		sc := bufio.NewScanner(resp.Body)
		var e event
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				e.seq, _ = strconv.ParseInt(line[4:], 10, 64)
			case strings.HasPrefix(line, "data: "):
				if i := strings.Index(line, `"kind":"`); i >= 0 {
					rest := line[i+8:]
					e.kind = rest[:strings.IndexByte(rest, '"')]
				}
			case line == "" && e.seq != 0:
				e.at = time.Now()
				out <- e
				e = event{}
			}
		}
	}()
	return out
}
