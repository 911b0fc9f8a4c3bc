package main

import (
	"fmt"
	"io"
)

// check is one of the targets set against the figures.
type check struct {
	target   string
	measured string
	met      *bool // nil when nothing measured it
}

func verdict(c check) string {
	switch {
	case c.met == nil:
		return "not measured"
	case *c.met:
		return "met"
	default:
		return "**not met**"
	}
}

func writeTargets(w io.Writer, rs *results) {
	fmt.Fprintf(w, "\n## Targets\n\nThe targets of the performance issue, for SQLite at 1,000,000 "+
		"registrations on this machine, checked against the figures above.\n\n")
	fmt.Fprintln(w, "| target | measured | verdict |")
	fmt.Fprintln(w, "| --- | --- | --- |")
	for _, c := range targetChecks(rs) {
		fmt.Fprintf(w, "| %s | %s | %s |\n", c.target, c.measured, verdict(c))
	}
}

func targetChecks(rs *results) []check {
	return []check{
		checkRun(rs, "get", 64, "`get` at 64 connections: ≥ 30 % of the baseline, p99 ≤ 10 ms",
			func(r *result) (string, bool) {
				return fmt.Sprintf("ratio %.2f, p99 %.2f ms", r.Ratio, r.Latency.P99),
					r.Baseline != nil && r.Ratio >= 0.30 && r.Latency.P99 <= 10
			}),
		checkRun(rs, "get", 1, "`get` at 1 connection: p99 ≤ 1 ms", func(r *result) (string, bool) {
			return fmt.Sprintf("p99 %.2f ms", r.Latency.P99), r.Latency.P99 <= 1
		}),
		checkRun(rs, "list", 16, "`list` at 16 connections: p99 ≤ 25 ms", func(r *result) (string, bool) {
			measured := fmt.Sprintf("p99 %.2f ms", r.Latency.P99)
			if some := rs.findFiltered("list", 16); some != nil {
				measured += fmt.Sprintf("; with only %s: p99 %.2f ms", some.ListFilters, some.Latency.P99)
			}
			return measured, r.Latency.P99 <= 25
		}),
		checkDeep(rs),
		checkRun(rs, "heartbeat", 64, "`heartbeat` at 64 connections: ≥ 10,000/s, no errors",
			func(r *result) (string, bool) {
				return fmt.Sprintf("%.0f/s, errors: %s", r.RPS, errorText(r.Errors)),
					r.RPS >= 10000 && len(r.Errors) == 0
			}),
		checkRun(rs, "enroll", 16, "`enroll` at 16 connections: ≥ 2,000/s, keys validated",
			func(r *result) (string, bool) {
				return fmt.Sprintf("%.0f/s, errors: %s", r.RPS, errorText(r.Errors)),
					r.RPS >= 2000 && len(r.Errors) == 0
			}),
		checkRun(rs, "revoke", 1, "`revoke` of 100 ids, one call at a time: p99 ≤ 50 ms",
			func(r *result) (string, bool) {
				p99 := r.Ops["revoke"].Latency.P99
				return fmt.Sprintf("p99 %.2f ms (%d in flight)", p99, r.Connections), p99 <= 50
			}),
		checkMemory(rs),
		checkSize(rs),
		checkStartup(rs),
		checkPostgres(rs),
	}
}

// find returns the last run on engine of workload at conns connections (any when 0),
// with every list filter: a run restricted to some says nothing of the target.
func (rs *results) find(engine, workload string, conns int) *result {
	var found *result
	for _, r := range rs.runs {
		if r.Engine == engine && r.Workload == workload && r.ListFilters == "" &&
			(conns == 0 || r.Connections == conns) {
			found = r
		}
	}
	return found
}

// findFiltered returns the last SQLite run of workload at conns connections that
// was restricted to some list filters.
func (rs *results) findFiltered(workload string, conns int) *result {
	var found *result
	for _, r := range rs.runs {
		if r.Engine == "sqlite" && r.Workload == workload && r.ListFilters != "" && r.Connections == conns {
			found = r
		}
	}
	return found
}

func checkRun(
	rs *results, workload string, conns int, target string, f func(*result) (string, bool),
) check {
	r := rs.find("sqlite", workload, conns)
	if r == nil {
		return check{target: target}
	}
	measured, met := f(r)
	return check{target: target, measured: measured, met: &met}
}

func checkDeep(rs *results) check {
	c := check{target: "a page 1,000 cursors deep within 1.5× of the first (p50)"}
	r := rs.find("sqlite", "list-deep", 0)
	if r == nil || len(r.Deep) == 0 {
		return c
	}
	worst, depth, met := r.Deep[0], r.Deep[0].Depth, true
	for _, d := range r.Deep {
		depth = min(depth, d.Depth)
		if d.RatioP50 > worst.RatioP50 {
			worst = d
		}
		met = met && d.Depth >= 1000 && d.RatioP50 > 0 && d.RatioP50 <= 1.5
	}
	c.measured = fmt.Sprintf("worst %.2f× (%s %s); shallowest walk %d cursors", worst.RatioP50,
		worst.Sort, worst.Order, depth)
	c.met = &met
	return c
}

func checkMemory(rs *results) check {
	c := check{target: "server peak RSS ≤ 200 MB under all of the above"}
	peak := -1.0
	for _, r := range rs.runs {
		if r.Engine == "sqlite" && r.Server != nil {
			peak = max(peak, r.Server.PeakRSSMB)
		}
	}
	if peak < 0 {
		return c
	}
	met := peak <= 200
	c.measured, c.met = fmt.Sprintf("%.0f MB", peak), &met
	return c
}

func checkSize(rs *results) check {
	c := check{target: "database ≤ 2 KB per registration, indexes included"}
	for _, s := range rs.seeds {
		if s.Engine == "sqlite" && s.BytesPerRegistration > 0 {
			met := s.BytesPerRegistration <= 2048
			c.measured, c.met = fmt.Sprintf("%.0f bytes", s.BytesPerRegistration), &met
		}
	}
	return c
}

// checkStartup takes the slowest start of all, which is the first after seeding,
// when the planner's statistics are gathered.
func checkStartup(rs *results) check {
	c := check{target: "start to ready on the seeded database ≤ 2 s"}
	slowest, n := -1.0, 0
	for _, s := range rs.startups {
		if s.Engine == "sqlite" {
			slowest, n = max(slowest, s.MaxMS), n+len(s.RunsMS)
		}
	}
	if slowest >= 0 {
		met := slowest <= 2000
		c.measured, c.met = fmt.Sprintf("slowest of %d starts %.0f ms", n, slowest), &met
	}
	return c
}

func checkPostgres(rs *results) check {
	c := check{target: "`get` on PostgreSQL ≥ 50 % of SQLite's (64 connections)"}
	pg, lite := rs.find("postgres", "get", 64), rs.find("sqlite", "get", 64)
	if pg == nil || lite == nil {
		return c
	}
	ratio := pg.RPS / lite.RPS
	met := ratio >= 0.5
	c.measured, c.met = fmt.Sprintf("%.0f/s vs %.0f/s: %.2f", pg.RPS, lite.RPS, ratio), &met
	return c
}
