package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strings"
)

// workloadNames lists the workloads run accepts.
var workloadNames = []string{"get", "list", "list-deep", "heartbeat", "enroll", "revoke", "mixed"}

// mixWeights is the mixed workload's blend, in percent: mostly reads, as an admin
// console and inventory scripts make them, with the fleet's check-ins, some new
// devices and the odd revocation.
var mixWeights = []weighted{{"get", 70}, {"list", 15}, {"heartbeat", 10}, {"enroll", 4},
	{"revoke", 1}}

// plan is what the workers of one measurement share: the seeded data and whether
// the server is the static baseline, which needs no setup and returns no cursors.
type plan struct {
	c       *creds
	static  bool
	o       runOptions
	filters []weighted // the list filters to draw from
	enrolls []enrolled // devices enrolled for the heartbeat workload
}

func (p *plan) regsPath() string {
	return "/client/v4/accounts/" + p.c.main().ID + "/devices/registrations"
}

// Streams of the generators that are not a worker's.
const (
	streamStatic = 1 << 40
	streamEnroll = 1 << 41 // plus the connection number
)

// newRand returns the generator of one stream (a worker's is its number): seeded,
// so that two runs ask the same things.
func (p *plan) newRand(stream uint64) *mrand.Rand {
	return mrand.New(mrand.NewPCG(p.o.seed, stream))
}

// buildWorkers does the workload's setup and returns one worker per connection.
func buildWorkers(ctx context.Context, d *driver, p *plan) ([]worker, error) {
	needs := p.o.workload == "heartbeat" || p.o.workload == "mixed"
	if needs {
		if err := enrollForHeartbeats(ctx, d, p); err != nil {
			return nil, err
		}
	}
	workers := make([]worker, d.conns)
	for i := range workers {
		workers[i] = newWorker(p, p.o.workload, i, d.conns)
	}
	return workers, nil
}

func newWorker(p *plan, name string, i, n int) worker {
	rng := p.newRand(uint64(i))
	switch name {
	case "get":
		return &getWorker{p: p, rng: rng}
	case "list":
		return &listWorker{p: p, rng: rng}
	case "heartbeat":
		return &heartbeatWorker{p: p, rng: rng}
	case "enroll":
		return &enrollWorker{p: p, rng: rng}
	case "revoke":
		return newRevokeWorker(p, i, n)
	default:
		m := &mixedWorker{rng: rng}
		for _, w := range mixWeights {
			m.subs = append(m.subs, newWorker(p, w.name, i, n))
		}
		return m
	}
}

// getWorker reads random sampled registrations, half of them with their policy.
type getWorker struct {
	p   *plan
	rng *mrand.Rand
}

func (w *getWorker) next() *op {
	ids := w.p.c.RegistrationIDs
	o := &op{name: "get", method: http.MethodGet, token: w.p.c.main().Token,
		path: w.p.regsPath() + "/" + ids[w.rng.IntN(len(ids))]}
	if w.rng.IntN(2) == 0 {
		o.name, o.path = "get?include=policy", o.path+"?include=policy"
	}
	return o
}

func (w *getWorker) done(*op, int, []byte) {}

// revokeBatch is how many ids one revoke call carries, as the target says.
const revokeBatch = 100

// revokeWorker revokes a batch of sampled active registrations, then unrevokes it,
// and so on, so that the data stays as seeded. Workers take turns over the
// batches; two on one batch do no harm, since revoking a revoked registration is
// not an error.
type revokeWorker struct {
	p       *plan
	batches [][]string
	i       int
	pending []string // revoked by this worker and not yet unrevoked
}

func newRevokeWorker(p *plan, i, n int) *revokeWorker {
	var all [][]string
	ids := p.c.RevokeIDs
	for len(ids) > 0 {
		k := min(revokeBatch, len(ids))
		all, ids = append(all, ids[:k]), ids[k:]
	}
	w := &revokeWorker{p: p}
	for j := i; j < len(all); j += n {
		w.batches = append(w.batches, all[j])
	}
	if len(w.batches) == 0 && len(all) > 0 {
		w.batches = [][]string{all[i%len(all)]}
	}
	return w
}

func (w *revokeWorker) next() *op {
	if w.pending != nil {
		return w.call("unrevoke", w.pending)
	}
	b := w.batches[w.i%len(w.batches)]
	w.i++
	return w.call("revoke", b)
}

func (w *revokeWorker) call(action string, ids []string) *op {
	var q strings.Builder
	for i, id := range ids {
		if i > 0 {
			q.WriteByte('&')
		}
		q.WriteString("id=" + id)
	}
	return &op{name: action, method: http.MethodPost, token: w.p.c.main().Token,
		path: w.p.regsPath() + "/" + action + "?" + q.String(), data: ids}
}

// done tracks what is revoked. A revoke whose answer was lost may have happened,
// so its batch is unrevoked all the same: unrevoking an active registration is no
// error.
func (w *revokeWorker) done(o *op, status int, _ []byte) {
	switch {
	case o.name == "revoke" && (status == http.StatusOK || status == 0):
		w.pending = o.data.([]string)
	case o.name == "unrevoke" && status == http.StatusOK:
		w.pending = nil
	}
}

// cleanup unrevokes what the worker left revoked when the clock ran out.
func (w *revokeWorker) cleanup(ctx context.Context, d *driver) error {
	if w.pending == nil || len(w.batches) == 0 {
		return nil
	}
	var buf bytes.Buffer
	s := d.session(ctx)
	defer s.close()
	status, err := s.do(w.call("unrevoke", w.pending), &buf)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("unrevoke answered %d: %s", status, firstLine(buf.Bytes()))
	}
	w.pending = nil
	return nil
}

// mixedWorker draws each request from one of its workers by mixWeights.
type mixedWorker struct {
	rng  *mrand.Rand
	subs []worker
}

func (w *mixedWorker) next() *op {
	name := draw(w.rng, mixWeights)
	i := slices.IndexFunc(mixWeights, func(m weighted) bool { return m.name == name })
	o := w.subs[i].next()
	o.from = w.subs[i]
	return o
}

func (w *mixedWorker) done(o *op, status int, body []byte) { o.from.done(o, status, body) }

func (w *mixedWorker) cleanup(ctx context.Context, d *driver) error {
	for _, s := range w.subs {
		if c, ok := s.(cleaner); ok {
			if err := c.cleanup(ctx, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// cleaner is a worker that must undo something after the clock stops.
type cleaner interface {
	cleanup(ctx context.Context, d *driver) error
}

// cleanupWorkers lets every worker undo what it left behind.
func cleanupWorkers(ctx context.Context, d *driver, workers []worker) error {
	for _, w := range workers {
		if c, ok := w.(cleaner); ok {
			if err := c.cleanup(ctx, d); err != nil {
				return fmt.Errorf("clean up: %w", err)
			}
		}
	}
	return nil
}

func randomUUID(rng *mrand.Rand) string {
	h := randomHex(rng, 16)
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:]
}

func randomHex(rng *mrand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return hex.EncodeToString(b)
}

// firstLine returns the start of a response body, for error messages.
func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
