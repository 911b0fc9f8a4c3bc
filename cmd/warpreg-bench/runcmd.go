package main

import (
	"context"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/warpreg/warpreg/internal/cli"
	"github.com/warpreg/warpreg/internal/pagecache"
)

const runAbout = `Sends the workload's requests back to back on --connections keep-alive
connections for --duration, then reports requests per second, latency percentiles
(p50, p99, p99.9, from a log-linear histogram), errors by HTTP status, and the
server's peak RSS and CPU time, read from /proc (the pid of --pid, or of the process
listening on the URL's port). Serve the target with --rate-limit 0: every workload
goes far past the default rate limits, on purpose.

Workloads:
  get        GET a sampled registration by id, half of them with ?include=policy
  list       list pages of 50 with every sort_by in both orders, plain or with search,
             status, seen_after or user.id filters; first pages and up to 4 pages
             more by cursor
  list-deep  walk each sort 1,000 cursors deep (--deep-pages), then time the deep
             page against the first; takes up to twice --duration
  heartbeat  POST .../heartbeat for devices the tool enrols first (seeded rows have
             no secret), with the registration's token
  enroll     enrol new devices with fresh curve25519 and P-256 keys
  revoke     revoke 100 sampled active registrations per call, then unrevoke them
  mixed      70 % get, 15 % list, 10 % heartbeat, 4 % enroll, 1 % revoke

With --baseline, the same workload first runs against a static server that answers
a pre-encoded registration to everything, and the result carries the ratio of the
two throughputs. Only loopback URLs are accepted.
`

const baselineAbout = `Starts the static server (a process of its own, on a free loopback port, that
answers every request with one pre-encoded registration of about 700 bytes), drives
it with the workload, and stops it: the ceiling that run's figures are compared
with. Without --creds the ids and tokens are made up.
`

// Bounds that keep a run from loading the machine for long by mistake.
const (
	maxDuration    = 10 * time.Minute
	maxConnections = 1024
)

// runOptions are the flags of run and baseline.
type runOptions struct {
	url              string
	credsPath        string
	workload         string
	duration         time.Duration
	timeout          time.Duration
	conns            int
	pid              int
	baseline         bool
	save             string
	deepPages        int
	deepSamples      int
	heartbeatDevices int
	seed             uint64
	client           string
	listFilters      string
	cold             string // see runCommand
}

func (o *runOptions) register(fs *flag.FlagSet, e *env) {
	fs.StringVar(&o.workload, "workload", "", "one of "+strings.Join(workloadNames, ", ")+" (required)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to send requests (at most 10m)")
	fs.IntVar(&o.conns, "connections", 16, "keep-alive connections, each with one request in flight")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up on one request after this long")
	fs.IntVar(&o.deepPages, "deep-pages", 1000, "list-deep: cursors to follow before timing the deep page")
	fs.IntVar(&o.deepSamples, "deep-samples", 50, "list-deep: timings of each first and deep page")
	fs.IntVar(&o.heartbeatDevices, "heartbeat-devices", 1000,
		"heartbeat and mixed: devices to enrol before the clock starts")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the requests' random choices")
	fs.StringVar(&o.client, "client", clientRaw, "HTTP client: raw (a lean HTTP/1.1 client, one "+
		"connection per worker) or net/http (one http.Client)")
	fs.StringVar(&o.listFilters, "list-filters", "", "list and mixed: only these filters, comma-"+
		"separated, of plain, search, search-rare, status-all, status-revoked, seen-after, user-id")
	fs.StringVar(&o.save, "save", "", "also write the JSON result to this file")
	fs.BoolVar(&e.json, "json", false, "print the result as JSON")
}

func (o *runOptions) validate() error {
	switch {
	case !slices.Contains(workloadNames, o.workload):
		return cli.Usagef("--workload must be one of %s", strings.Join(workloadNames, ", "))
	case o.duration <= 0 || o.duration > maxDuration:
		return cli.Usagef("--duration must be positive and at most %s", maxDuration)
	case o.conns < 1 || o.conns > maxConnections:
		return cli.Usagef("--connections must be from 1 to %d", maxConnections)
	case o.timeout <= 0:
		return cli.Usagef("--timeout must be positive")
	case o.deepPages < 1 || o.deepSamples < 1:
		return cli.Usagef("--deep-pages and --deep-samples must be positive")
	case o.heartbeatDevices < 1 || o.heartbeatDevices > 100000:
		return cli.Usagef("--heartbeat-devices must be from 1 to 100000")
	case o.client != clientRaw && o.client != clientNetHTTP:
		return cli.Usagef("--client must be raw or net/http")
	}
	_, err := chooseFilters(o.listFilters)
	return err
}

// newPlan returns the plan of a measurement; o is valid.
func newPlan(c *creds, o runOptions, static bool) *plan {
	filters, _ := chooseFilters(o.listFilters)
	return &plan{c: c, o: o, static: static, filters: filters}
}

func runCommand(fs *flag.FlagSet, e *env) func(context.Context, *env) error {
	var o runOptions
	o.register(fs, e)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8787", "the server's loopback base URL")
	fs.StringVar(&o.credsPath, "creds", defaultCredsPath("warpreg.db"), "credentials file written by seed")
	fs.IntVar(&o.pid, "pid", 0, "the server's pid, for its memory and CPU (default: the port's listener)")
	fs.BoolVar(&o.baseline, "baseline", false, "measure the static baseline first and report the ratio")
	fs.StringVar(&o.cold, "cold", "", "a SQLite database file (and its -wal) to drop from the "+
		"kernel's page cache just before the run, after any baseline (Linux)")
	return func(ctx context.Context, e *env) error {
		if err := o.validate(); err != nil {
			return err
		}
		base, port, err := loopbackBase(o.url)
		if err != nil {
			return err
		}
		c, err := loadCreds(o.credsPath)
		if err != nil {
			return err
		}
		if o.baseline && o.workload == "list-deep" {
			return cli.Usagef("list-deep has no baseline: the static server returns no cursors")
		}
		return runTarget(ctx, e, o, c, base, port)
	}
}

func runTarget(ctx context.Context, e *env, o runOptions, c *creds, base string, port int) error {
	var b *result
	if o.baseline {
		var err error
		if b, err = measureBaseline(ctx, e, o, c); err != nil {
			return err
		}
	}
	pid := o.pid
	if pid == 0 {
		var err error
		if pid, err = findListener(port); err != nil {
			e.log.Warn("no server stats", "err", err)
		}
	}
	if o.cold != "" {
		if err := pagecache.Drop(o.cold, o.cold+"-wal"); err != nil {
			return fmt.Errorf("--cold: %w", err)
		}
	}
	r, err := measure(ctx, e, o, newPlan(c, o, false), base, pid)
	if err != nil {
		return err
	}
	r.Engine, r.Registrations = c.Engine, c.Registrations
	if b != nil {
		r.Baseline, r.Ratio = b, r.RPS/b.RPS
	}
	return emit(e, o, r)
}

func baselineCommand(fs *flag.FlagSet, e *env) func(context.Context, *env) error {
	var o runOptions
	o.register(fs, e)
	fs.StringVar(&o.credsPath, "creds", "", "credentials file written by seed (default: made-up ids)")
	return func(ctx context.Context, e *env) error {
		if err := o.validate(); err != nil {
			return err
		}
		if o.workload == "list-deep" {
			return cli.Usagef("list-deep has no baseline: the static server returns no cursors")
		}
		c := syntheticCreds()
		if o.credsPath != "" {
			var err error
			if c, err = loadCreds(o.credsPath); err != nil {
				return err
			}
		}
		r, err := measureBaseline(ctx, e, o, c)
		if err != nil {
			return err
		}
		return emit(e, o, r)
	}
}

// measureBaseline runs the workload against a static server started for it.
func measureBaseline(ctx context.Context, e *env, o runOptions, c *creds) (*result, error) {
	s, err := startStatic(ctx)
	if err != nil {
		return nil, err
	}
	r, err := measure(ctx, e, o, newPlan(c, o, true), s.base, s.pid())
	if stopErr := s.stop(); err == nil && stopErr != nil {
		return nil, stopErr
	}
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	r.Engine = "static"
	return r, nil
}

// measure sets the workload up, runs it for the duration and undoes what it must.
// The server's stats cover the timed part only.
func measure(
	ctx context.Context, e *env, o runOptions, p *plan, base string, pid int,
) (*result, error) {
	d := newDriver(base, o.conns, o.timeout, o.client)
	defer d.close()
	var workers []worker
	if o.workload != "list-deep" {
		var err error
		if workers, err = buildWorkers(ctx, d, p); err != nil {
			return nil, err
		}
	}
	before, procErr := sampleServer(pid)
	stop := showProgress(ctx, e, d, o.workload, base)
	st, took, deep := timed(ctx, d, p, workers)
	stop()
	after, _ := sampleServer(pid)
	// Even an interrupted run unrevokes what it revoked, so the data stays as seeded.
	cleanCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := cleanupWorkers(cleanCtx, d, workers); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("interrupted: %w", ctx.Err())
	}
	r := newResult(e, o, base, st, took)
	r.Deep = deep
	if pid > 0 && procErr == nil {
		r.Server = serverDelta(pid, before, after, took)
	}
	return r, nil
}

// timed is the part of a measurement the clock runs over.
func timed(
	ctx context.Context, d *driver, p *plan, workers []worker,
) (*stats, time.Duration, []deepResult) {
	if p.o.workload == "list-deep" {
		return runDeep(ctx, d, p)
	}
	st, took := d.measure(ctx, workers, p.o.duration)
	return st, took, nil
}

func sampleServer(pid int) (procSample, error) {
	if pid <= 0 {
		return procSample{}, fmt.Errorf("no server pid")
	}
	return readProc(pid)
}

// showProgress prints a line a second on a terminal.
func showProgress(ctx context.Context, e *env, d *driver, workload, base string) func() {
	var last int64
	return everySecond(ctx, isTerminal(e.stderr), func(elapsed time.Duration) {
		n := d.requests.Load()
		fmt.Fprintf(e.stderr, "%s %s: %3.0f s  %d requests  %d/s  %d errors\n", workload, base,
			elapsed.Seconds(), n, n-last, d.failures.Load())
		last = n
	})
}

func emit(e *env, o runOptions, r *result) error {
	r.StartedAt = time.Now().UTC().Add(-time.Duration(r.Seconds * float64(time.Second))).Truncate(time.Second)
	if o.save != "" {
		if err := saveJSON(o.save, r, 0o644); err != nil {
			return fmt.Errorf("save result: %w", err)
		}
	}
	if e.json {
		return printJSON(e.stdout, r)
	}
	printResult(e.stdout, r)
	return nil
}

// syntheticCreds makes up an account, credentials and ids for a baseline run
// without a seeded database: the static server checks none of them.
func syntheticCreds() *creds {
	rng := mrand.New(mrand.NewPCG(1, 2))
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = randomUUID(rng)
		}
		return out
	}
	return &creds{Version: credsVersion, Engine: "static", SeededAt: time.Now().UTC(),
		Accounts: []credAccount{{ID: randomHex(rng, 16),
			Token: randomHex(rng, 20), EnrollmentKey: randomHex(rng, 20)}},
		RegistrationIDs: ids(1000), RevokeIDs: ids(1000), UserIDs: ids(100),
		CommonSearches: commonSearches, RareSearches: []string{"ada.lovelace.1@"}}
}
