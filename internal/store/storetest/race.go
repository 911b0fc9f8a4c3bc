package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

// raceWorkers is how many goroutines each race test runs at once: enough to
// overlap transactions on every engine, few enough for a two-core machine.
const raceWorkers = 12

// race runs fn(i) for i in [0, n) on n goroutines released together.
func race(n int, fn func(i int)) {
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			fn(i)
		}()
	}
	start.Done()
	done.Wait()
}

func raceTests() []behaviour {
	return []behaviour{
		{"a write that waits past its deadline changes nothing", func(t *testing.T, e *env) {
			a := e.newAccount(t, false)
			en := e.enroll(t, e.newEnrollKey(t, a.ID, true), enrollRequest("hw-1", "u@example.com"))
			held, release, holder := make(chan struct{}), make(chan struct{}), make(chan error, 1)
			var ended atomic.Bool // the transaction ahead has ended
			go func() {
				// Rewriting the row holds it: the one writer on SQLite, a row lock on
				// PostgreSQL.
				holder <- e.store.Update(e.ctx, func(tx device.Tx) error {
					r, err := tx.Registration(e.ctx, a.ID, en.Registration.ID)
					if err == nil {
						err = tx.PutRegistration(e.ctx, r)
					}
					close(held)
					select { // at the latest after 10 s, so that a failure does not hang
					case <-release:
					case <-time.After(10 * time.Second):
					}
					ended.Store(true)
					return err
				})
			}()
			<-held
			ctx, cancel := context.WithTimeout(e.ctx, 100*time.Millisecond)
			err := e.svc.Revoke(ctx, a.ID, []string{en.Registration.ID})
			cancel()
			waited := ended.Load()
			close(release)
			if herr := <-holder; herr != nil {
				t.Fatal(herr)
			}

			if waited {
				t.Error("the revoke waited for the transaction ahead of it, past its deadline")
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("revoke past its deadline: %v, want the deadline's error", err)
			}
			if r := e.registration(t, a.ID, en.Registration.ID); !r.RevokedAt.IsZero() {
				t.Errorf("the revoke that gave up was made later, at %v", r.RevokedAt)
			}
		}},
		{"concurrent enrolments of one device make one registration", func(t *testing.T, e *env) {
			a := e.newAccount(t, false)
			key := e.newEnrollKey(t, a.ID, true)
			ids := make([]string, raceWorkers)
			errs := make([]error, raceWorkers)
			race(raceWorkers, func(i int) {
				en, err := e.svc.Enroll(e.ctx, key, enrollRequest("hw-same", "u@example.com"))
				errs[i] = err
				if err == nil {
					ids[i] = en.Registration.ID
				}
			})
			for i, err := range errs {
				if err != nil {
					t.Errorf("enrolment %d: %v", i, err)
				} else if ids[i] != ids[0] {
					t.Errorf("enrolment %d made registration %s, another made %s", i, ids[i], ids[0])
				}
			}
			page, err := e.svc.List(e.ctx, a.ID, device.ListQuery{Status: device.StatusAll})
			if err != nil || page.Total != 1 {
				t.Errorf("after the race: %d registrations (%v), want 1", page.Total, err)
			}
		}},
		{"one key enrolled on many devices at once is taken once", func(t *testing.T, e *env) {
			a := e.newAccount(t, false)
			key := e.newEnrollKey(t, a.ID, true)
			shared := newCurve25519Key()
			errs := make([]error, raceWorkers)
			race(raceWorkers, func(i int) {
				req := enrollRequest(fmt.Sprintf("hw-%d", i), "u@example.com")
				req.Key = shared
				_, errs[i] = e.svc.Enroll(e.ctx, key, req)
			})
			ok := 0
			for _, err := range errs {
				switch device.KindOf(err) {
				case device.KindConflict:
				default:
					if err != nil {
						t.Errorf("enrolment: %v, want success or a conflict", err)
					} else {
						ok++
					}
				}
			}
			if ok != 1 {
				t.Errorf("%d enrolments took the key, want exactly 1", ok)
			}
		}},
		{"a revoke racing re-enrolments is never lost", func(t *testing.T, e *env) {
			a := e.newAccount(t, false)
			key := e.newEnrollKey(t, a.ID, true)
			en := e.enroll(t, key, enrollRequest("hw-r", "u@example.com"))
			race(raceWorkers, func(i int) {
				if i == 0 {
					if err := e.svc.Revoke(e.ctx, a.ID, []string{en.Registration.ID}); err != nil {
						t.Errorf("revoke: %v", err)
					}
					return
				}
				_, err := e.svc.Enroll(e.ctx, key, enrollRequest("hw-r", "u@example.com"))
				if err != nil && device.KindOf(err) != device.KindRevoked {
					t.Errorf("re-enrolment: %v, want success or revoked", err)
				}
			})
			if r := e.registration(t, a.ID, en.Registration.ID); r.RevokedAt.IsZero() {
				t.Error("the revocation was lost to a concurrent re-enrolment")
			}
		}},
		{"concurrent heartbeats all land", func(t *testing.T, e *env) {
			a := e.newAccount(t, false)
			key := e.newEnrollKey(t, a.ID, true)
			ens := make([]*device.Enrollment, raceWorkers)
			for i := range ens {
				ens[i] = e.enroll(t, key, enrollRequest(fmt.Sprintf("hw-%d", i), "u@example.com"))
			}
			e.clock.Advance(time.Hour)
			race(raceWorkers, func(i int) {
				r := ens[i].Registration
				if _, err := e.svc.Heartbeat(e.ctx, r.ID, ens[i].Token, ""); err != nil {
					t.Errorf("heartbeat %d: %v", i, err)
				}
			})
			for i, en := range ens {
				r := e.registration(t, a.ID, en.Registration.ID)
				d := e.device(t, a.ID, r.DeviceID)
				if !r.LastSeenAt.Equal(e.clock.Now().UTC().Truncate(time.Microsecond)) ||
					!d.LastSeenAt.Equal(r.LastSeenAt) {
					t.Errorf("heartbeat %d: registration seen %s, device %s; want both at %s",
						i, r.LastSeenAt, d.LastSeenAt, e.clock.Now())
				}
			}
		}},
		{"concurrent writers number the change log without gaps", func(t *testing.T, e *env) {
			a := e.newAccount(t, false)
			key := e.newEnrollKey(t, a.ID, true)
			race(raceWorkers, func(i int) {
				en, err := e.svc.Enroll(e.ctx, key, enrollRequest(fmt.Sprintf("hw-%d", i), "u@example.com"))
				if err != nil {
					t.Errorf("enrol: %v", err)
					return
				}
				if err := e.svc.Revoke(e.ctx, a.ID, []string{en.Registration.ID}); err != nil {
					t.Errorf("revoke: %v", err)
				}
			})
			cs, err := e.svc.Changes(e.ctx, a.ID, 0, device.MaxChangesLimit)
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) != 2*raceWorkers {
				t.Errorf("%d changes logged, want %d", len(cs), 2*raceWorkers)
			}
			for i, c := range cs {
				if c.Seq != int64(i+1) {
					t.Fatalf("change %d has seq %d: the log has a gap or a repeat", i, c.Seq)
				}
			}
		}},
	}
}
