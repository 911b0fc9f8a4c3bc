package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/sqlite"
)

// TestMain lets the test binary stand in for warpreg-bench when a run starts the
// static baseline server as a subprocess of os.Executable().
func TestMain(m *testing.M) {
	if os.Getenv(subprocessEnv) == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// bench runs the tool in-process and returns its stdout, failing the test on a
// non-zero exit.
func bench(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if code := run(ctx, args, func(string) string { return "" }, &stdout, &stderr); code != exitOK {
		t.Fatalf("warpreg-bench %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
	}
	return stdout.String()
}

// startWarpreg builds warpreg and serves db on a free loopback port until the test
// ends.
func startWarpreg(t *testing.T, db string) (*child, string) {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "warpreg")
	build := exec.Command("go", "build", "-o", exe, "github.com/warpreg/warpreg/cmd/warpreg")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build warpreg: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	c, err := startChild(t.Context(), exec.Command(exe, "serve", "--database", db, "--addr",
		strings.TrimPrefix(base, "http://"), "--rate-limit", "0"), base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.stop(); err != nil {
			t.Errorf("stop warpreg: %v", err)
		}
	})
	return c, exe
}

func decodeResult(t *testing.T, out string) *result {
	t.Helper()
	var r result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("decode result: %v\n%s", err, out)
	}
	return &r
}

// TestEndToEnd seeds a small database, serves it with a real warpreg, and runs
// every workload for a second at four connections. It checks that requests were
// made and none failed; it asserts no timings, which vary from machine to machine.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a server; skipped with -short")
	}
	dir := t.TempDir()
	db, creds := filepath.Join(dir, "bench.db"), filepath.Join(dir, "creds.json")
	var seeded seedResult
	out := bench(t, "seed", "--database", db, "--registrations", "2000", "--accounts", "3",
		"--batch", "500", "--creds", creds, "--json", "--save", filepath.Join(dir, "seed.json"))
	if err := json.Unmarshal([]byte(out), &seeded); err != nil {
		t.Fatalf("decode seed result: %v\n%s", err, out)
	}
	if seeded.Registrations != 2000 || len(seeded.Accounts) != 3 || seeded.Accounts[0].Token == "" {
		t.Fatalf("seed result = %+v", seeded)
	}
	if seeded.CustomProfiles != len(benchProfiles) || seeded.OnCustomProfiles == 0 ||
		seeded.OnCustomProfiles >= seeded.Registrations {
		t.Errorf("seed result: %d custom profiles, %d registrations on them; want %d, some",
			seeded.CustomProfiles, seeded.OnCustomProfiles, len(benchProfiles))
	}
	checkSeededAssignments(t, db, seeded.Accounts)
	srv, exe := startWarpreg(t, db)

	var saved []string
	for _, w := range workloadNames {
		t.Run(w, func(t *testing.T) {
			file := filepath.Join(dir, w+".json")
			r := decodeResult(t, bench(t, "run", "--url", srv.base, "--creds", creds, "--workload", w,
				"--duration", "1s", "--connections", "4", "--heartbeat-devices", "40",
				"--deep-pages", "5", "--deep-samples", "3", "--json", "--save", file))
			checkResult(t, r, w, srv.pid())
			saved = append(saved, file)
		})
	}
	t.Run("baseline", func(t *testing.T) {
		file := filepath.Join(dir, "get-baseline.json")
		r := decodeResult(t, bench(t, "run", "--url", srv.base, "--creds", creds, "--workload", "get",
			"--duration", "1s", "--connections", "4", "--baseline", "--client", "net/http",
			"--json", "--save", file))
		checkResult(t, r, "get", srv.pid())
		if r.Baseline == nil || r.Baseline.Requests == 0 || len(r.Baseline.Errors) > 0 || r.Ratio <= 0 {
			t.Errorf("baseline = %+v, ratio %v", r.Baseline, r.Ratio)
		}
		saved = append(saved, file)
	})
	t.Run("report", func(t *testing.T) {
		startup := filepath.Join(dir, "startup.json")
		bench(t, "startup", "--exec", exe, "--database", db, "--runs", "1", "--save", startup)
		md := filepath.Join(dir, "BENCHMARKS.md")
		args := append([]string{"report", "--out", md, filepath.Join(dir, "seed.json"), startup}, saved...)
		bench(t, args...)
		data, err := os.ReadFile(md)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"| get | sqlite | 4 |", "## Targets", "## Deep pages",
			"warpreg-bench run --url", "Start to ready"} {
			if !strings.Contains(string(data), want) {
				t.Errorf("BENCHMARKS.md lacks %q:\n%s", want, data)
			}
		}
	})
}

func checkResult(t *testing.T, r *result, workload string, pid int) {
	t.Helper()
	if r.Workload != workload || r.Engine != "sqlite" || r.Requests == 0 {
		t.Errorf("result = %s on %s with %d requests", r.Workload, r.Engine, r.Requests)
	}
	if len(r.Errors) > 0 {
		t.Errorf("%s: errors %v", workload, r.Errors)
	}
	if r.Server == nil || r.Server.PID != pid || r.Server.PeakRSSMB <= 0 {
		t.Errorf("%s: server stats %+v, want the server's (pid %d)", workload, r.Server, pid)
	}
	if workload == "list-deep" && (len(r.Deep) != len(deepSorts) || r.Deep[0].Depth != 5) {
		t.Errorf("list-deep: deep results %+v", r.Deep)
	}
}

// checkSeededAssignments re-evaluates every seeded registration's profile as the
// server would after a profile change, and fails if any moves: the seed's bulk
// path must assign exactly what enrolment would.
func checkSeededAssignments(t *testing.T, db string, accounts []credAccount) {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, a := range accounts {
		err := st.Update(ctx, func(tx device.Tx) error { return tx.StartReassignment(ctx, a.ID) })
		if err != nil {
			t.Fatal(err)
		}
	}
	svc := device.NewService(st, nil, slog.New(slog.DiscardHandler))
	if err := svc.ResumeReassignments(ctx); err != nil {
		t.Fatal(err)
	}
	for _, a := range accounts {
		changes, err := svc.Changes(ctx, a.ID, 0, device.MaxChangesLimit)
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 0 {
			t.Errorf("account %s: re-evaluating the seeded fleet moved %d registrations, "+
				"first %+v", a.ID, len(changes), changes[0])
		}
	}
}
