package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/warpreg/warpreg/internal/config"
	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/httpapi"
)

// Server timeouts: a slow or stalled client cannot hold a connection for ever.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	drainTimeout      = 30 * time.Second
)

func serveCommand(fs *flag.FlagSet, c *config.Config) func(context.Context, *env) error {
	c.RegisterServe(fs)
	return func(ctx context.Context, e *env) error {
		svc, closeFn, err := openService(ctx, e)
		if err != nil {
			return err
		}
		defer closeFn()
		ln, err := net.Listen("tcp", e.cfg.Addr)
		if err != nil {
			return err
		}
		return serve(ctx, e, svc, ln, nil)
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
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout}
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
	api := httpapi.New(svc, e.log, httpapi.Options{CursorKey: key})
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
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
	e.log.Info("shutting down; draining in-flight requests")
	drainCtx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	// Change streams never finish on their own: end them so that the drain can.
	srv.RegisterOnShutdown(api.CloseStreams)
	if err := srv.Shutdown(drainCtx); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	e.log.Info("stopped")
	return nil
}
