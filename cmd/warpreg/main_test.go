package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"
)

// reexecEnv, when set, makes the test binary act as the warpreg command with the
// given arguments, so that tests can run real server processes without a build step.
const reexecEnv = "WARPREG_TEST_REEXEC"

func TestMain(m *testing.M) {
	if os.Getenv(reexecEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}
