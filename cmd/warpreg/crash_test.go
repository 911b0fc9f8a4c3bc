package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/store/testdb"
)

// crashSeedEnv replays a run of TestCrashLosesNoAcknowledgedWrite: the seed picks
// every operation, key and kill time (thread timing still varies).
const crashSeedEnv = "WARPREG_TEST_CRASH_SEED"

// The crash test's size. Each round kills the server after a random number of
// acknowledged writes, or after crashWindow on a machine too slow to reach it.
const (
	crashKills     = 5
	crashWorkers   = 4
	crashMinWrites = 50
	crashMaxWrites = 400
	crashWindow    = 4 * time.Second
)

// TestCrashLosesNoAcknowledgedWrite runs enrolments, key rotations, revokes and
// deletes against a server process and kills it with SIGKILL at a random moment,
// several times. After each restart every acknowledged write is there, no change
// is half applied (each registration's row agrees with its change log, which has no
// gaps), the account's counters agree with its rows, and a write that was in flight
// at the kill either happened whole or not at all.
func TestCrashLosesNoAcknowledgedWrite(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(crashSeedEnv); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("%s=%q is not a number", crashSeedEnv, v)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with %s=%d (engine %s)", crashSeedEnv, seed, testdb.Engine())
		}
	})
	kills := crashKills
	if testing.Short() {
		kills = 2
	}

	x := newCrashTest(t, seed)
	start := time.Now()
	for round := range kills {
		in := startInstance(t, x.cli.db, "--rate-limit", "0")
		x.loadAndKill(t, in, round)
		in = startInstance(t, x.cli.db, "--rate-limit", "0")
		x.verify(t, in.base)
		if t.Failed() {
			return
		}
	}
	t.Logf("engine %s, seed %d: %d SIGKILLs in %v; %d acknowledged writes checked after "+
		"every restart (%d enrolments, %d rotations, %d revokes, %d deletes); "+
		"%d writes cut off by a kill (%d of them applied); %d changes in the log",
		testdb.Engine(), seed, kills, time.Since(start).Round(time.Millisecond), x.acked(),
		x.count["enrol"], x.count["rotate"], x.count["revoke"], x.count["delete"],
		x.cutOff, x.applied, x.changes)
}

// regState is what the test checks of a registration.
type regState struct {
	key              string
	revoked, deleted bool
}

// crashReg is the test's record of one registration.
type crashReg struct {
	id, token, hw string
	want          regState  // as of the last acknowledged write
	next          *regState // the state if an unanswered write applied
}

// crashWorker owns its registrations: only it writes to them, so that its record
// of each is exact.
type crashWorker struct {
	n       int
	regs    []*crashReg
	pending *struct{ hw, key string } // an enrolment the kill left unanswered
	count   map[string]int            // acknowledged writes by kind
}

// testAccount is an account with a write token and a reusable enrolment key.
type testAccount struct {
	cli    *cliRun
	acct   string
	token  string
	enroll string
}

func newTestAccount(t *testing.T, c *cliRun) testAccount {
	t.Helper()
	a := testAccount{cli: c}
	a.acct = c.json("account", "create", "--name", "test")["id"].(string)
	a.token = c.json("token", "create", "--account", a.acct)["value"].(string)
	a.enroll = c.json("enrollment-key", "create", "--account", a.acct,
		"--reusable")["value"].(string)
	return a
}

type crashTest struct {
	testAccount
	seed    uint64
	workers []*crashWorker

	// The round's kill comes when its acknowledged writes reach killAt.
	roundAcks atomic.Int64
	killAt    int64
	killNow   chan struct{}

	tombstones map[string]bool // deleted registrations already read back
	count      map[string]int
	cutOff     int
	applied    int
	changes    int
}

func newCrashTest(t *testing.T, seed uint64) *crashTest {
	x := &crashTest{testAccount: newTestAccount(t, newCLI(t)), seed: seed,
		tombstones: map[string]bool{}, count: map[string]int{}}
	for n := range crashWorkers {
		x.workers = append(x.workers, &crashWorker{n: n, count: map[string]int{}})
	}
	return x
}

func (x *crashTest) acked() int {
	n := 0
	for _, k := range []string{"enrol", "rotate", "revoke", "delete"} {
		n += x.count[k]
	}
	return n
}

// loadAndKill runs the workers against in and kills it at a random moment.
func (x *crashTest) loadAndKill(t *testing.T, in *instance, round int) {
	rng := rand.New(rand.NewPCG(x.seed, uint64(round)))
	x.roundAcks.Store(0)
	x.killAt = int64(crashMinWrites + rng.IntN(crashMaxWrites-crashMinWrites))
	x.killNow = make(chan struct{})
	tr := &http.Transport{MaxIdleConnsPerHost: crashWorkers}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for _, w := range x.workers {
		wrng := rand.New(rand.NewPCG(x.seed, uint64(round*crashWorkers+w.n+1)<<32))
		wg.Go(func() {
			if err := w.run(x, client, in.base, round, wrng); err != nil {
				t.Errorf("worker %d, round %d: %v", w.n, round, err)
			}
		})
	}
	select {
	case <-x.killNow:
	case <-time.After(crashWindow):
	}
	in.cmd.Process.Kill()
	in.cmd.Wait()
	wg.Wait()
	for _, w := range x.workers {
		for k, n := range w.count {
			x.count[k] += n
		}
		clear(w.count)
	}
}

// run writes until the server stops answering, which leaves at most one write of
// the worker's unanswered. A write the server refuses is an error: every one the
// worker picks is valid.
func (w *crashWorker) run(
	x *crashTest, client *http.Client, base string, round int, rng *rand.Rand,
) error {
	for i := 0; ; i++ {
		var live, revocable, rotatable []*crashReg
		for _, r := range w.regs {
			if !r.want.deleted {
				live = append(live, r)
				if !r.want.revoked {
					revocable = append(revocable, r)
					if r.token != "" {
						rotatable = append(rotatable, r)
					}
				}
			}
		}
		var err error
		switch p := rng.IntN(100); {
		case p < 35 || len(live) == 0:
			err = w.enrol(x, client, base, fmt.Sprintf("r%d-w%d-%d", round, w.n, i), rng)
		case p < 65 && len(rotatable) > 0:
			err = w.rotate(x, client, base, rotatable[rng.IntN(len(rotatable))], rng)
		case p < 85 && len(revocable) > 0:
			r := revocable[rng.IntN(len(revocable))]
			err = w.admin(x, client, "POST", base, "/revoke?id=", r)
		default:
			err = w.admin(x, client, "DELETE", base, "/", live[rng.IntN(len(live))])
		}
		if errors.Is(err, errNoAnswer) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// errNoAnswer means the server died before answering.
var errNoAnswer = errors.New("no answer")

func (w *crashWorker) enrol(
	x *crashTest, client *http.Client, base, hw string, rng *rand.Rand,
) error {
	key := randomKey(rng)
	var res struct{ ID, Token string }
	err := send(client, "POST", base+"/enroll/v1/registrations", x.enroll,
		enrolment(hw, key), http.StatusCreated, &res)
	if errors.Is(err, errNoAnswer) {
		w.pending = &struct{ hw, key string }{hw, key}
	}
	if err != nil {
		return err
	}
	w.regs = append(w.regs, &crashReg{id: res.ID, token: res.Token, hw: hw,
		want: regState{key: key}})
	w.count["enrol"]++
	x.ack()
	return nil
}

func (w *crashWorker) rotate(
	x *crashTest, client *http.Client, base string, r *crashReg, rng *rand.Rand,
) error {
	next := r.want
	next.key = randomKey(rng)
	err := send(client, "PATCH", base+"/enroll/v1/registrations/"+r.id, r.token,
		map[string]string{"key": next.key}, http.StatusOK, nil)
	return w.settle(x, r, next, "rotate", err)
}

// admin revokes (path "/revoke?id=") or deletes (path "/") r.
func (w *crashWorker) admin(
	x *crashTest, client *http.Client, method, base, path string, r *crashReg,
) error {
	next, kind := r.want, "delete"
	if method == "POST" {
		next.revoked, kind = true, "revoke"
	} else {
		next.deleted = true
	}
	url := base + "/client/v4/accounts/" + x.acct + "/devices/registrations" + path + r.id
	err := send(client, method, url, x.token, nil, http.StatusOK, nil)
	return w.settle(x, r, next, kind, err)
}

// settle records the outcome of a write that would take r to next.
func (w *crashWorker) settle(
	x *crashTest, r *crashReg, next regState, kind string, err error,
) error {
	switch {
	case errors.Is(err, errNoAnswer):
		r.next = &next
	case err == nil:
		r.want = next
		w.count[kind]++
		x.ack()
	}
	return err
}

// ack counts an acknowledged write and calls for the kill at the round's mark.
func (x *crashTest) ack() {
	if x.roundAcks.Add(1) == x.killAt {
		close(x.killNow)
	}
}

// send makes one request and decodes the result on the expected status. It
// returns errNoAnswer when no response arrived.
func send(client *http.Client, method, url, bearer string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w: %v", method, url, errNoAnswer, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w: %v", method, url, errNoAnswer, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, url, resp.StatusCode, want, raw)
	}
	if out == nil {
		return nil
	}
	var env struct{ Result json.RawMessage }
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("%s %s: %v", method, url, err)
	}
	return json.Unmarshal(env.Result, out)
}

// enrolment is the body of an enrolment of a device named hw with key.
func enrolment(hw, key string) map[string]any {
	return map[string]any{
		"key": key, "key_type": "curve25519",
		"device": map[string]string{"name": hw, "hardware_id": hw},
		"user":   map[string]string{"email": hw + "@example.com"},
	}
}

func randomKey(rng *rand.Rand) string {
	var b [32]byte
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return base64.StdEncoding.EncodeToString(b[:])
}
