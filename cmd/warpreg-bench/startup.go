package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"time"

	"github.com/warpreg/warpreg/internal/cli"
	"github.com/warpreg/warpreg/internal/config"
)

const startupAbout = `Starts EXEC serve --database DATABASE --addr 127.0.0.1:PORT --rate-limit 0
on a free loopback port, measures the time from starting the process to its first
HTTP answer, stops it with SIGTERM, and repeats --runs times. Build the binary first
(go build -o /tmp/warpreg ./cmd/warpreg) so that compiling is not counted. A server
that has migrations to apply applies them in this time.
`

// startupResult is what startup prints.
type startupResult struct {
	Kind     string    `json:"kind"` // "startup"
	Command  string    `json:"command"`
	Engine   string    `json:"engine"`
	Database string    `json:"database"`
	RunsMS   []float64 `json:"runs_ms"`
	MedianMS float64   `json:"median_ms"`
	MaxMS    float64   `json:"max_ms"`
}

func startupCommand(fs *flag.FlagSet, e *env) func(context.Context, *env) error {
	exe := fs.String("exec", "", "the warpreg binary to start (required)")
	database := fs.String("database", "", "the database to serve (required)")
	runs := fs.Int("runs", 3, "how many times to start it")
	timeout := fs.Duration("timeout", time.Minute, "give up on one start after this long")
	save := fs.String("save", "", "also write the JSON result to this file")
	fs.BoolVar(&e.json, "json", false, "print the result as JSON")
	return func(ctx context.Context, e *env) error {
		if *exe == "" || *database == "" {
			return cli.Usagef("--exec and --database are required")
		}
		if *runs < 1 || *runs > 100 {
			return cli.Usagef("--runs must be from 1 to 100")
		}
		engine, _, err := config.ParseDatabase(*database)
		if err != nil {
			return cli.Usagef("%v", err)
		}
		r := startupResult{Kind: "startup", Command: e.commandLine(), Engine: string(engine),
			Database: *database}
		for range *runs {
			took, err := timeStart(ctx, *exe, *database, *timeout)
			if err != nil {
				return err
			}
			r.RunsMS = append(r.RunsMS, ms(took))
		}
		sorted := slices.Sorted(slices.Values(r.RunsMS))
		r.MedianMS, r.MaxMS = sorted[len(sorted)/2], sorted[len(sorted)-1]
		return emitStartup(e, *save, r)
	}
}

// timeStart starts one server and returns how long it took to answer.
func timeStart(
	ctx context.Context, exe, database string, timeout time.Duration,
) (time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(exe, "serve", "--database", database, "--addr", addr, "--rate-limit", "0")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", exe, err)
	}
	c := &child{cmd: cmd, base: "http://" + addr, exited: make(chan error, 1)}
	go func() { c.exited <- cmd.Wait() }()
	_, err = waitReady(ctx, c.base, timeout)
	took := time.Since(start)
	if stopErr := c.stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return 0, fmt.Errorf("start %s: %w", exe, err)
	}
	return took, nil
}

func emitStartup(e *env, save string, r startupResult) error {
	if save != "" {
		if err := saveJSON(save, r, 0o644); err != nil {
			return fmt.Errorf("save result: %w", err)
		}
	}
	if e.json {
		return printJSON(e.stdout, r)
	}
	fmt.Fprintf(e.stdout, "start to ready on %s: median %.0f ms, max %.0f ms over %d runs\n",
		r.Database, r.MedianMS, r.MaxMS, len(r.RunsMS))
	return nil
}
