package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"time"
)

// everySecond calls fn once a second with the time since it started, until stop is
// called or ctx is done; stop waits for a call in progress. With on unset it does
// nothing, since progress lines are for people at a terminal, not for logs.
func everySecond(ctx context.Context, on bool, fn func(elapsed time.Duration)) (stop func()) {
	if !on {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	start := time.Now()
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				fn(time.Since(start))
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}

// startProfile writes a CPU profile to path until stop is called; with no path it
// does nothing.
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
