// Command warpreg-bench seeds a warpreg database with a realistic fleet and drives a
// running server with named workloads, so that the performance targets can be
// checked with figures anyone can rerun. Every figure can be measured beside a
// static server's ceiling in the same run, because absolute numbers drift on shared
// machines while ratios hold.
//
// A session on one machine:
//
//	go build -o /tmp/warpreg ./cmd/warpreg
//	go run ./cmd/warpreg-bench seed --database /tmp/bench.db --registrations 1000000 \
//	    --save seed.json
//	go run ./cmd/warpreg-bench startup --exec /tmp/warpreg --database /tmp/bench.db \
//	    --save startup.json
//	/tmp/warpreg serve --database /tmp/bench.db --addr 127.0.0.1:8787 --rate-limit 0 &
//	go run ./cmd/warpreg-bench run --url http://127.0.0.1:8787 \
//	    --creds /tmp/bench.db.bench.json --workload get --connections 64 \
//	    --duration 15s --baseline --save get-64.json
//	go run ./cmd/warpreg-bench report --out BENCHMARKS.md seed.json startup.json get-64.json
//
// seed writes rows straight through the store, without change-log entries or client
// secrets, and leaves the credentials and id samples that run needs in a file
// beside the database. run only ever sends to loopback addresses and stops by
// itself after --duration (at most ten minutes).
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
