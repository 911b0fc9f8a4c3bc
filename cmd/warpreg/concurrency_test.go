package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentWritersNeverSeeBusy runs many writers at once against a server
// process (heartbeats on shared registrations, enrolments, key rotations,
// revokes and unrevokes) while the CLI writes to the same database from this
// process. Every request must succeed: no "database is locked" or busy error may
// reach a client on SQLite, and no writer may run out of serialization retries on
// PostgreSQL. A reader checks all the while that last_seen_at never moves backwards,
// and at the end that it holds the latest heartbeat acknowledged.
func TestConcurrentWritersNeverSeeBusy(t *testing.T) {
	duration := 2 * time.Second
	if testing.Short() {
		duration = 500 * time.Millisecond
	}
	x := newTestAccount(t, newCLI(t))
	in := startInstance(t, x.cli.db, "--rate-limit", "0")
	client := &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	defer client.CloseIdleConnections()
	enrol := func(hw string) *crashReg {
		var res struct{ ID, Token string }
		err := send(client, "POST", in.base+"/enroll/v1/registrations", x.enroll,
			enrolment(hw, wgKeyValue()), http.StatusCreated, &res)
		if err != nil {
			t.Fatal(err)
		}
		return &crashReg{id: res.ID, token: res.Token, hw: hw}
	}
	var shared, toggled []*crashReg
	for i := range 4 {
		shared = append(shared, enrol(fmt.Sprintf("shared-%d", i)))
		toggled = append(toggled, enrol(fmt.Sprintf("toggled-%d", i)))
	}

	var requests atomic.Int64
	var mu sync.Mutex
	var failures []string
	check := func(err error) bool {
		requests.Add(1)
		if err != nil {
			mu.Lock()
			failures = append(failures, err.Error())
			mu.Unlock()
		}
		return err == nil
	}
	latest := make([]time.Time, len(shared)) // newest last_seen_at a heartbeat answered
	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				n := (g + i) % len(shared)
				r := shared[n]
				var res wireReg
				err := send(client, "POST", in.base+"/enroll/v1/registrations/"+r.id+"/heartbeat",
					r.token, nil, http.StatusOK, &res)
				if check(err) {
					seen := parseSeen(t, res.LastSeenAt)
					mu.Lock()
					if seen.After(latest[n]) {
						latest[n] = seen
					}
					mu.Unlock()
				}
			}
		})
	}
	for g := range 2 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				hw := fmt.Sprintf("new-%d-%d", g, i)
				var res struct{ ID, Token string }
				err := send(client, "POST", in.base+"/enroll/v1/registrations", x.enroll,
					enrolment(hw, wgKeyValue()), http.StatusCreated, &res)
				if !check(err) {
					continue
				}
				err = send(client, "PATCH", in.base+"/enroll/v1/registrations/"+res.ID,
					res.Token, map[string]string{"key": wgKeyValue()}, http.StatusOK, nil)
				check(err)
			}
		})
	}
	wg.Go(func() {
		for i := 0; time.Now().Before(deadline); i++ {
			op := "/revoke?id="
			if i/len(toggled)%2 == 1 {
				op = "/unrevoke?id="
			}
			check(send(client, "POST", in.base+"/client/v4/accounts/"+x.acct+
				"/devices/registrations"+op+toggled[i%len(toggled)].id, x.token, nil,
				http.StatusOK, nil))
		}
	})
	wg.Go(func() {
		// An admin script's pace: a write every 20 ms, each from a store of its own,
		// which on SQLite takes the database's write lock from outside the server.
		for ; time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			_, errOut, code := x.cli.run("token", "create", "--account", x.acct)
			if code != 0 {
				check(fmt.Errorf("warpreg token create: exit %d: %s", code, errOut))
			} else {
				check(nil)
			}
		}
	})
	last := make([]time.Time, len(shared))
	wg.Go(func() {
		for time.Now().Before(deadline) {
			for n, r := range shared {
				seen := x.lastSeen(t, client, in.base, r.id)
				if seen.Before(last[n]) {
					check(fmt.Errorf("last_seen_at of %s went back from %v to %v",
						r.id, last[n], seen))
				}
				last[n] = seen
			}
		}
	})
	wg.Wait()

	for n, r := range shared {
		if seen := x.lastSeen(t, client, in.base, r.id); seen.Before(latest[n]) {
			t.Errorf("last_seen_at of %s is %v, before the %v a heartbeat answered",
				r.id, seen, latest[n])
		}
	}
	t.Logf("%d requests and CLI writes in %v, %d failed", requests.Load(), duration, len(failures))
	for i, f := range failures {
		if i == 10 {
			t.Errorf("... and %d more", len(failures)-i)
			break
		}
		t.Error(f)
	}
	for _, f := range failures {
		if l := strings.ToLower(f); strings.Contains(l, "locked") || strings.Contains(l, "busy") {
			t.Errorf("a client saw the database busy: %s", f)
			break
		}
	}
}

// wireReg is the part of a registration the concurrency test reads.
type wireReg struct {
	LastSeenAt string `json:"last_seen_at"`
}

func (x *testAccount) lastSeen(t *testing.T, client *http.Client, base, id string) time.Time {
	var r wireReg
	err := send(client, "GET", base+"/client/v4/accounts/"+x.acct+"/devices/registrations/"+id,
		x.token, nil, http.StatusOK, &r)
	if err != nil {
		t.Error(err)
		return time.Time{}
	}
	return parseSeen(t, r.LastSeenAt)
}

func parseSeen(t *testing.T, s string) time.Time {
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Errorf("last_seen_at %q: %v", s, err)
	}
	return at
}
