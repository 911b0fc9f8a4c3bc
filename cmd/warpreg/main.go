// Command warpreg serves a self-hosted, wire-compatible implementation of
// Cloudflare's Zero Trust WARP device registration API, and administers its data.
//
// main only wires: run does the work, so that tests can call it in-process.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
