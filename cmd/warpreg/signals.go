package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// interruptSignals are the signals that stop warpreg.
var interruptSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// againKey is the context key of the channel that reports a second interrupt.
type againKey struct{}

// notifyInterrupts returns a context that ends at the first SIGINT or SIGTERM, so
// that serve drains in-flight requests. A second signal is sent on the channel that
// interruptedAgain finds in the context, so that serve can stop waiting for them;
// after it, the signals' default action is restored, and a third ends the process
// even if something hangs. stop releases the signals.
func notifyInterrupts(parent context.Context) (ctx context.Context, stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, interruptSignals...)
	again := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancelCause(parent)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			cancel(fmt.Errorf("received %v", s))
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			signal.Reset(interruptSignals...)
			again <- s
		case <-done:
		}
	}()
	ctx = context.WithValue(ctx, againKey{}, (<-chan os.Signal)(again))
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// interruptedAgain returns the channel that reports a second interrupt, or nil
// (which never delivers) when ctx did not come from notifyInterrupts.
func interruptedAgain(ctx context.Context) <-chan os.Signal {
	ch, _ := ctx.Value(againKey{}).(<-chan os.Signal)
	return ch
}

// runMain runs the command line of this process with its signals and environment.
func runMain() int {
	ctx, stop := notifyInterrupts(context.Background())
	defer stop()
	return run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
}
