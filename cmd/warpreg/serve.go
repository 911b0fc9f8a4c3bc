package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"time"

	"github.com/warpreg/warpreg/internal/config"
	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/httpapi"
)

// serverLimits bound what one client can hold: a stalled or slow client cannot keep
// a connection, a goroutine or a buffer for ever.
type serverLimits struct {
	readHeader time.Duration // request line and headers: what slowloris dribbles
	read       time.Duration // the whole request, body included
	write      time.Duration // from the end of the headers to the end of the response
	idle       time.Duration // a keep-alive connection between requests
	drain      time.Duration // in-flight requests at shutdown

	// headerBytes caps the request line and headers. The longest legitimate one is a
	// bulk call's query (200 ids of 36 characters, about 8 KiB) with a credential;
	// 64 KiB leaves eight times that, where Go's default of 1 MiB lets each of many
	// connections pin a megabyte. A request over it gets a 431.
	headerBytes int
}

// limits are serve's; a variable, not constants, so that tests can shorten them.
var limits = serverLimits{
	readHeader:  10 * time.Second,
	read:        30 * time.Second,
	write:       60 * time.Second,
	idle:        120 * time.Second,
	drain:       30 * time.Second,
	headerBytes: 64 << 10,
}

func serveCommand(fs *flag.FlagSet, c *config.Config) func(context.Context, *env) error {
	c.RegisterServe(fs)
	return func(ctx context.Context, e *env) error {
		tuneGC()
		svc, closeFn, err := openService(ctx, e)
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", e.cfg.Addr)
		if err != nil {
			closeFn()
			return err
		}
		return closeAfterServe(ctx, e, serve(ctx, e, svc, ln, nil), closeFn)
	}
}

// errCutOff is what serve returns when a second signal cut its drain short.
var errCutOff = errors.New("stopped by a second signal")

// closeAfterServe closes the store once serve has returned err, unless a second
// signal ended serve or comes while the store closes. Closing waits for the writes
// under way, and one may be waiting for another process's lock (up to the busy
// timeout); an operator who signals twice wants out now. Both engines recover from
// an exit without it: what committed is durable, and what did not was never
// acknowledged.
func closeAfterServe(ctx context.Context, e *env, err error, closeFn func()) error {
	if errors.Is(err, errCutOff) {
		return err
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		closeFn()
	}()
	select {
	case <-closed:
		return err
	case sig := <-interruptedAgain(ctx):
		e.log.Warn("interrupted again; exiting without waiting for the database to close",
			"signal", sig.String())
		return errors.Join(err, fmt.Errorf("%w (%v) while the database closed", errCutOff, sig))
	}
}

// Garbage collection settings for serve, where GOGC and GOMEMLIMIT do not set
// their own. The server's live Go heap is a few megabytes (SQLite's page caches
// are allocated outside it), so Go's default, a collection whenever the heap has
// doubled, collects every few megabytes of allocation: at 64 connections of gets,
// a collection every 40 ms and a tenth of the throughput. Five times the live heap
// spaces them out; the soft limit brings them back before the heap can grow large
// under heavier requests (lists of a thousand rows, imports).
const (
	gcPercent     = 400
	gcMemoryLimit = 96 << 20
)

// tuneGC applies gcPercent and gcMemoryLimit, each unless its environment
// variable is set.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(gcMemoryLimit)
	}
}

// servePprof serves net/http/pprof on the configured loopback address, on a mux of
// its own so the profiler never shows up on the API's listener.
func servePprof(e *env) (stop func(), err error) {
	ln, err := net.Listen("tcp", e.cfg.Pprof)
	if err != nil {
		return nil, fmt.Errorf("pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: limits.readHeader}
	go srv.Serve(ln)
	e.log.Info("profiler listening", "addr", ln.Addr().String())
	return func() { srv.Close() }, nil
}

// pruneEvery is how often serve drops change-feed entries past their retention.
const pruneEvery = time.Minute

// prune applies the change feed's retention until ctx is done. Every instance runs
// it; pruning is idempotent, so instances racing each other do no harm.
func prune(ctx context.Context, e *env, svc *device.Service) {
	if e.cfg.Retention == 0 {
		return
	}
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		n, err := svc.PruneChanges(ctx, e.cfg.Retention)
		if err != nil && ctx.Err() == nil {
			e.log.Error("prune change feed", "err", err)
		} else if n > 0 {
			e.log.Info("pruned change feed", "entries", n, "retention", e.cfg.Retention.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reassignEvery is how often serve looks for profile re-evaluations left pending,
// by a process that died midway or one that gave up on a database error.
const reassignEvery = time.Minute

// finishReassignments completes pending profile re-evaluations at start and then
// every reassignEvery until ctx is done. Every instance runs it; instances that
// work on one account at once share its batches (see device.Service).
func finishReassignments(ctx context.Context, e *env, svc *device.Service) {
	t := time.NewTicker(reassignEvery)
	defer t.Stop()
	for {
		if err := svc.ResumeReassignments(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("finish profile reassignments", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// rateLimits turns the configuration into the HTTP layer's limits: --rate-limit 0
// turns them all off.
func rateLimits(c config.Config) httpapi.RateLimits {
	if c.RateLimit == 0 {
		return httpapi.RateLimits{}
	}
	return httpapi.RateLimits{PerCredential: c.RateLimit, PerAddress: c.RateLimitAddress,
		AuthFailures: c.RateLimitFailures}
}

// serve serves the APIs on ln until ctx is done, then drains in-flight requests.
// ready, if set, runs once the server accepts connections.
func serve(
	ctx context.Context, e *env, svc *device.Service, ln net.Listener, ready func(base string),
) error {
	key, err := svc.SharedSecret(ctx, "cursor_key")
	if err != nil {
		ln.Close()
		return err
	}
	api := httpapi.New(svc, e.log, httpapi.Options{CursorKey: key, RateLimits: rateLimits(e.cfg)})
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: limits.readHeader,
		ReadTimeout:       limits.read,
		WriteTimeout:      limits.write,
		IdleTimeout:       limits.idle,
		MaxHeaderBytes:    limits.headerBytes,
	}
	if e.cfg.Pprof != "" {
		stopPprof, err := servePprof(e)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopPprof()
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	pruneCtx, stopPruning := context.WithCancel(ctx)
	defer stopPruning()
	go prune(pruneCtx, e, svc)
	go finishReassignments(pruneCtx, e, svc)
	base := "http://" + ln.Addr().String()
	e.log.Info("serving", "addr", ln.Addr().String(), "admin_api", base+"/client/v4",
		"enrollment_api", base+"/enroll/v1")
	if ready != nil {
		ready(base)
	}

	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	return drain(ctx, e, srv, api, done)
}

// drain stops srv after ctx ended: it refuses new connections and waits for the
// requests in flight, up to limits.drain. A second interrupt stops the wait: the
// open connections are closed at once and serve fails, so that the exit status
// tells an operator that requests were cut off.
func drain(
	ctx context.Context, e *env, srv *http.Server, api *httpapi.API, done <-chan error,
) error {
	e.log.Info("shutting down; draining in-flight requests; interrupt again to stop at once",
		"cause", context.Cause(ctx).Error())
	drainCtx, cancel := context.WithTimeout(context.Background(), limits.drain)
	defer cancel()
	// Change streams never finish on their own: end them so that the drain can.
	srv.RegisterOnShutdown(api.CloseStreams)
	drained := make(chan error, 1)
	go func() { drained <- srv.Shutdown(drainCtx) }()

	select {
	case err := <-drained:
		if err != nil {
			return fmt.Errorf("drain: %w", err)
		}
	case sig := <-interruptedAgain(ctx):
		e.log.Warn("interrupted again; closing in-flight requests without draining",
			"signal", sig.String())
		srv.Close()
		return fmt.Errorf("%w (%v) before in-flight requests finished", errCutOff, sig)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	e.log.Info("stopped")
	return nil
}
