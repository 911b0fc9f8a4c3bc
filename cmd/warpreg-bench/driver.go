package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// op is one request a workload wants made.
type op struct {
	name   string // what the result groups it under, e.g. "get" or "list/search"
	method string
	path   string // with its query string
	body   []byte
	token  string // sent as "Authorization: Bearer"
	from   worker // the worker that made it, for mixed workloads
	data   any    // the worker's own bookkeeping, handed back to done
}

// worker makes one connection's requests, back to back. It is used by one
// goroutine only.
type worker interface {
	next() *op
	// done reports the answer to o: its status (0 for a transport error) and body.
	done(o *op, status int, body []byte)
}

// Clients the driver can send requests with.
const (
	clientRaw     = "raw"
	clientNetHTTP = "net/http"
)

// driver sends requests to one server, over keep-alive connections.
type driver struct {
	base    string // http://host:port
	addr    string // host:port
	conns   int
	timeout time.Duration
	client  *http.Client // nil with the raw client

	requests atomic.Int64 // for the progress line
	failures atomic.Int64
}

// newDriver returns a driver with the raw client, or with one net/http client
// whose transport keeps conns connections open to the server.
func newDriver(base string, conns int, timeout time.Duration, kind string) *driver {
	d := &driver{base: base, addr: strings.TrimPrefix(base, "http://"), conns: conns, timeout: timeout}
	if kind == clientNetHTTP {
		tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
			IdleConnTimeout: time.Minute, DisableCompression: true}
		d.client = &http.Client{Transport: tr, Timeout: timeout}
	}
	return d
}

func (d *driver) close() {
	if d.client != nil {
		d.client.CloseIdleConnections()
	}
}

// session is one goroutine's way to the server: a connection of its own with the
// raw client, the shared pool with net/http's. Requests end early when ctx does.
type session interface {
	do(o *op, buf *bytes.Buffer) (int, error)
	close()
}

func (d *driver) session(ctx context.Context) session {
	if d.client != nil {
		return &httpSession{ctx: ctx, d: d}
	}
	rc := newRawConn(d.addr, d.timeout)
	stop := context.AfterFunc(ctx, rc.abort)
	return &rawSession{rc: rc, stop: stop}
}

type rawSession struct {
	rc   *rawConn
	stop func() bool
}

func (s *rawSession) do(o *op, buf *bytes.Buffer) (int, error) { return s.rc.do(o, buf) }

func (s *rawSession) close() {
	s.stop()
	s.rc.close()
}

type httpSession struct {
	ctx context.Context
	d   *driver
}

func (s *httpSession) close() {}

// do sends o and reads the whole answer into buf, so that the connection can be
// reused. It returns the status, or 0 with the error of a failed exchange.
func (s *httpSession) do(o *op, buf *bytes.Buffer) (int, error) {
	var body io.Reader
	if o.body != nil {
		body = bytes.NewReader(o.body)
	}
	req, err := http.NewRequestWithContext(s.ctx, o.method, s.d.base+o.path, body)
	if err != nil {
		return 0, err
	}
	if o.token != "" {
		req.Header.Set("Authorization", "Bearer "+o.token)
	}
	if o.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.d.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// stats are one worker's observations, merged at the end.
type stats struct {
	ops    map[string]*opStats
	errors map[string]int64
}

type opStats struct {
	h      hist
	errors int64
}

func newStats() *stats {
	return &stats{ops: map[string]*opStats{}, errors: map[string]int64{}}
}

// record adds one answer. Any status outside 2xx is an error, counted by status;
// a failed exchange is counted as "transport".
func (s *stats) record(name string, took time.Duration, status int) {
	o := s.ops[name]
	if o == nil {
		o = &opStats{}
		s.ops[name] = o
	}
	o.h.record(took)
	if status >= 200 && status < 300 {
		return
	}
	o.errors++
	key := "transport"
	if status != 0 {
		key = strconv.Itoa(status)
	}
	s.errors[key]++
}

func (s *stats) merge(o *stats) {
	for name, src := range o.ops {
		mine := s.ops[name]
		if mine == nil {
			mine = &opStats{}
			s.ops[name] = mine
		}
		mine.h.merge(&src.h)
		mine.errors += src.errors
	}
	for k, n := range o.errors {
		s.errors[k] += n
	}
}

// total returns every op's observations in one histogram.
func (s *stats) total() *hist {
	var h hist
	for _, o := range s.ops {
		h.merge(&o.h)
	}
	return &h
}

// measure runs one worker per connection, each sending requests back to back until
// the duration is over, and returns their merged stats and the time it took. A
// request under way at the end finishes and counts.
func (d *driver) measure(
	ctx context.Context, workers []worker, dur time.Duration,
) (*stats, time.Duration) {
	deadline := time.Now().Add(dur)
	all := make([]*stats, len(workers))
	var wg sync.WaitGroup
	start := time.Now()
	for i, w := range workers {
		all[i] = newStats()
		wg.Go(func() { d.work(ctx, w, all[i], deadline) })
	}
	wg.Wait()
	took := time.Since(start)
	out := newStats()
	for _, s := range all {
		out.merge(s)
	}
	return out, took
}

// count counts an answer for the progress line; status 0 is a transport error.
func (d *driver) count(status int) {
	d.requests.Add(1)
	if status < 200 || status >= 300 {
		d.failures.Add(1)
	}
}

func (d *driver) work(ctx context.Context, w worker, st *stats, deadline time.Time) {
	var buf bytes.Buffer
	s := d.session(ctx)
	defer s.close()
	for ctx.Err() == nil && time.Now().Before(deadline) {
		o := w.next()
		start := time.Now()
		status, _ := s.do(o, &buf)
		took := time.Since(start)
		if ctx.Err() != nil {
			// Interrupted: the answer says nothing about the server, but the worker
			// must still learn of it to undo what it did.
			w.done(o, status, buf.Bytes())
			return
		}
		st.record(o.name, took, status)
		d.count(status)
		w.done(o, status, buf.Bytes())
	}
}
