package main

import (
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"time"
)

// result is one measurement, as run and baseline print it with --json and report
// reads it back.
type result struct {
	Kind          string              `json:"kind"` // "run"
	Command       string              `json:"command"`
	StartedAt     time.Time           `json:"started_at"`
	Workload      string              `json:"workload"`
	ListFilters   string              `json:"list_filters,omitempty"` // empty: all of them
	Engine        string              `json:"engine"`                 // sqlite, postgres or static
	Registrations int                 `json:"registrations,omitempty"`
	URL           string              `json:"url"`
	Connections   int                 `json:"connections"`
	Client        string              `json:"client"`
	Seconds       float64             `json:"seconds"`
	Requests      int64               `json:"requests"`
	RPS           float64             `json:"requests_per_second"`
	Latency       latency             `json:"latency_ms"`
	Errors        map[string]int64    `json:"errors"`
	Ops           map[string]opResult `json:"ops"`
	Deep          []deepResult        `json:"deep,omitempty"`
	Server        *serverStats        `json:"server,omitempty"`
	Baseline      *result             `json:"baseline,omitempty"`
	Ratio         float64             `json:"ratio_to_baseline,omitempty"`
	Machine       machine             `json:"machine"`
}

// latency is a histogram's summary, in milliseconds.
type latency struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

type opResult struct {
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	Latency  latency `json:"latency_ms"`
}

// serverStats is what /proc told of the server over a measurement.
type serverStats struct {
	PID        int     `json:"pid"`
	PeakRSSMB  float64 `json:"peak_rss_mb"` // VmHWM: the peak since the server started
	RSSMB      float64 `json:"rss_mb"`      // VmRSS at the end
	CPUSeconds float64 `json:"cpu_seconds"` // user and system time during the run
	CPUPercent float64 `json:"cpu_percent"` // of one core, during the run
}

type machine struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go_version"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func summarize(h *hist) latency {
	return latency{P50: ms(h.quantile(0.50)), P99: ms(h.quantile(0.99)),
		P999: ms(h.quantile(0.999)), Max: ms(time.Duration(h.max)), Mean: ms(h.mean())}
}

// newResult summarises merged stats taken over took.
func newResult(e *env, o runOptions, base string, st *stats, took time.Duration) *result {
	total := st.total()
	r := &result{Kind: "run", Command: e.commandLine(), Workload: o.workload,
		ListFilters: o.listFilters, URL: base,
		Connections: o.conns, Client: o.client, Seconds: took.Seconds(), Requests: total.n,
		RPS: float64(total.n) / took.Seconds(), Latency: summarize(total), Errors: st.errors,
		Ops:     map[string]opResult{},
		Machine: machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}}
	for name, s := range st.ops {
		r.Ops[name] = opResult{Requests: s.h.n, Errors: s.errors, Latency: summarize(&s.h)}
	}
	return r
}

// serverDelta turns two samples of the server taken took apart into its stats.
func serverDelta(pid int, before, after procSample, took time.Duration) *serverStats {
	cpu := float64(after.cpuTicks-before.cpuTicks) / clockTicks
	return &serverStats{PID: pid, PeakRSSMB: float64(after.hwmKB) / 1024,
		RSSMB: float64(after.rssKB) / 1024, CPUSeconds: cpu, CPUPercent: 100 * cpu / took.Seconds()}
}

// errorText renders errors by status, e.g. "none" or "3 × 500, 1 × transport".
func errorText(errs map[string]int64) string {
	if len(errs) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(errs)) {
		parts = append(parts, fmt.Sprintf("%d × %s", errs[k], k))
	}
	return strings.Join(parts, ", ")
}

func latencyText(l latency) string {
	return fmt.Sprintf("p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms  max %.1f ms", l.P50, l.P99, l.P999, l.Max)
}

// label names r's workload, with its list filters when they were chosen.
func (r *result) label() string {
	if r.ListFilters == "" || (r.Workload != "list" && r.Workload != "mixed") {
		return r.Workload
	}
	return r.Workload + " (" + r.ListFilters + ")"
}

// printResult writes r for people.
func printResult(w io.Writer, r *result) {
	fmt.Fprintf(w, "%s on %s (%s), %d connections, %.1f s\n", r.label(), r.Engine, r.URL,
		r.Connections, r.Seconds)
	fmt.Fprintf(w, "  requests  %d, %.0f/s; errors: %s\n", r.Requests, r.RPS, errorText(r.Errors))
	if r.Errors["429"] > 0 {
		fmt.Fprintf(w, "  note      the server rate-limited this run: serve it with --rate-limit 0\n")
	}
	fmt.Fprintf(w, "  latency   %s\n", latencyText(r.Latency))
	if s := r.Server; s != nil {
		fmt.Fprintf(w, "  server    pid %d, peak RSS %.1f MB (RSS now %.1f MB), "+
			"CPU %.1f s (%.0f %% of a core)\n",
			s.PID, s.PeakRSSMB, s.RSSMB, s.CPUSeconds, s.CPUPercent)
	}
	if b := r.Baseline; b != nil {
		fmt.Fprintf(w, "  baseline  %.0f/s, %s; ratio %.2f\n", b.RPS, latencyText(b.Latency), r.Ratio)
	}
	if len(r.Ops) > 1 {
		fmt.Fprintf(w, "  by request:\n")
		for _, name := range slices.Sorted(maps.Keys(r.Ops)) {
			o := r.Ops[name]
			fmt.Fprintf(w, "    %-28s %8d  errors %-5d %s\n", name, o.Requests, o.Errors,
				latencyText(o.Latency))
		}
	}
	for _, d := range r.Deep {
		fmt.Fprintf(w, "  deep %s %s: %d cursors deep in %.1f s; first p50 %.2f ms p99 %.2f ms, "+
			"deep p50 %.2f ms p99 %.2f ms; ratio p50 %.2f p99 %.2f\n", d.Sort, d.Order, d.Depth,
			d.WalkS, d.First.P50, d.First.P99, d.Deep.P50, d.Deep.P99, d.RatioP50, d.RatioP99)
	}
}
