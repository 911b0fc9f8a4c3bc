package main

import (
	"bytes"
	"context"
	"encoding/json"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/warpreg/warpreg/internal/cli"
)

// listPerPage is the page size every list request asks for.
const listPerPage = 50

// sortFields are the sort keys of Cloudflare's list registrations endpoint.
var sortFields = []string{"id", "user.name", "user.email", "last_seen_at", "created_at"}

// weighted is a choice and how often it is drawn, relative to the others.
type weighted struct {
	name   string
	weight int
}

// listFilters are the list workload's filters and how often each is drawn, in
// percent. "search" looks for a common name or model, "search-rare" for one
// user's email, which only that user's rows match.
var listFilters = []weighted{
	{"plain", 35}, {"search", 10}, {"search-rare", 10}, {"status-all", 10},
	{"status-revoked", 10}, {"seen-after", 15}, {"user-id", 10},
}

// chooseFilters returns the listFilters named in the comma-separated list, or all
// of them when it is empty.
func chooseFilters(list string) ([]weighted, error) {
	if list == "" {
		return listFilters, nil
	}
	var out []weighted
	for _, name := range strings.Split(list, ",") {
		i := slices.IndexFunc(listFilters, func(f weighted) bool { return f.name == name })
		if i < 0 {
			return nil, cli.Usagef("--list-filters: unknown filter %q", name)
		}
		out = append(out, listFilters[i])
	}
	return out, nil
}

// maxFollow bounds how many cursors one list session follows after its first page.
const maxFollow = 4

// listWorker pages through lists as a console or a script does: a first page with
// a random sort, order and filter, then zero to maxFollow further pages by cursor.
type listWorker struct {
	p      *plan
	rng    *mrand.Rand
	query  string // the session's query, without a cursor
	filter string
	cursor string
	left   int // pages the session will still follow
}

func (w *listWorker) next() *op {
	o := &op{method: http.MethodGet, token: w.p.c.main().Token}
	if w.cursor != "" && w.left > 0 {
		o.name = "list/" + w.filter + "/cursor"
		o.path = w.p.regsPath() + "?" + w.query + "&cursor=" + url.QueryEscape(w.cursor)
		return o
	}
	w.filter = draw(w.rng, w.p.filters)
	w.query = listQuery(w.p.c, w.rng, w.filter).Encode()
	w.left = w.rng.IntN(maxFollow + 1)
	o.name, o.path = "list/"+w.filter, w.p.regsPath()+"?"+w.query
	return o
}

func (w *listWorker) done(_ *op, status int, body []byte) {
	w.left--
	w.cursor = ""
	if status == http.StatusOK {
		w.cursor = nextCursor(body)
	}
}

// draw picks one of choices, each as often as its weight says.
func draw(rng *mrand.Rand, choices []weighted) string {
	total := 0
	for _, c := range choices {
		total += c.weight
	}
	x := rng.IntN(total)
	for _, c := range choices {
		if x < c.weight {
			return c.name
		}
		x -= c.weight
	}
	panic("unreachable: x is below the total weight")
}

// listQuery returns a first page's query with a random sort and order and filter f.
func listQuery(c *creds, rng *mrand.Rand, f string) url.Values {
	q := url.Values{}
	q.Set("per_page", strconv.Itoa(listPerPage))
	q.Set("sort_by", sortFields[rng.IntN(len(sortFields))])
	q.Set("sort_order", []string{"asc", "desc"}[rng.IntN(2)])
	switch f {
	case "search":
		q.Set("search", c.CommonSearches[rng.IntN(len(c.CommonSearches))])
	case "search-rare":
		q.Set("search", c.RareSearches[rng.IntN(len(c.RareSearches))])
	case "status-all":
		q.Set("status", "all")
	case "status-revoked":
		q.Set("status", "revoked")
	case "seen-after":
		ago := time.Duration(rng.Int64N(int64(seenSpan-time.Hour))) + time.Hour
		q.Set("seen_after", c.SeededAt.Add(-ago).UTC().Format(time.RFC3339))
	case "user-id":
		for range 1 + rng.IntN(3) {
			q.Add("user.id", c.UserIDs[rng.IntN(len(c.UserIDs))])
		}
	}
	return q
}

// nextCursor returns result_info.cursor of a list response, or "" on the last page.
// It decodes only result_info, which follows the rows, to spare the load
// generator's CPU the 50 rows it does not need.
func nextCursor(body []byte) string {
	const key = `"result_info":`
	i := bytes.LastIndex(body, []byte(key))
	if i < 0 {
		return ""
	}
	var info struct {
		Cursor string `json:"cursor"`
	}
	if err := json.NewDecoder(bytes.NewReader(body[i+len(key):])).Decode(&info); err != nil {
		return ""
	}
	return info.Cursor
}

// deepSorts are the orders the deep-page probe walks, one per sort key.
var deepSorts = []struct{ sort, order string }{
	{"id", "asc"}, {"last_seen_at", "desc"}, {"created_at", "asc"}, {"user.name", "asc"},
	{"user.email", "desc"},
}

// deepResult compares a first page with one reached by following many cursors,
// for one sort.
type deepResult struct {
	Sort       string  `json:"sort"`
	Order      string  `json:"order"`
	Depth      int     `json:"depth"` // cursors followed to reach the deep page
	WalkS      float64 `json:"walk_seconds"`
	First      latency `json:"first_page_ms"`
	Deep       latency `json:"deep_page_ms"`
	RatioP50   float64 `json:"ratio_p50"`
	RatioP99   float64 `json:"ratio_p99"`
	deepCursor string
}

// runDeep is the list-deep workload. It walks each sort of deepSorts by cursor up
// to --deep-pages deep (the walks share the connections, bounded by --duration),
// then, on one connection so that the two see the same server, asks for the first
// and the deep page in turn --deep-samples times each (bounded by --duration
// again), and compares their latencies.
func runDeep(ctx context.Context, d *driver, p *plan) (*stats, time.Duration, []deepResult) {
	start := time.Now()
	out := newStats()
	results := make([]deepResult, len(deepSorts))
	walkers := newStats()
	deadline := start.Add(p.o.duration)
	sem := make(chan struct{}, d.conns)
	done := make(chan *stats, len(deepSorts))
	for i, s := range deepSorts {
		results[i] = deepResult{Sort: s.sort, Order: s.order}
		go func() {
			sem <- struct{}{}
			done <- walk(ctx, d, p, &results[i], deadline)
			<-sem
		}()
	}
	for range deepSorts {
		walkers.merge(<-done)
	}
	out.merge(walkers)
	out.merge(compareDeep(ctx, d, p, results, time.Now().Add(p.o.duration)))
	return out, time.Since(start), results
}

// walk follows cursors from the first page of r's sort until --deep-pages cursors
// deep, the last page, or the deadline, and keeps the cursor of the deepest page.
func walk(ctx context.Context, d *driver, p *plan, r *deepResult, deadline time.Time) *stats {
	st := newStats()
	q := deepQuery(r)
	start := time.Now()
	var buf bytes.Buffer
	s := d.session(ctx)
	defer s.close()
	cursor := ""
	for r.Depth < p.o.deepPages && ctx.Err() == nil && time.Now().Before(deadline) {
		path := p.regsPath() + "?" + q + "&cursor=" + url.QueryEscape(cursor)
		if cursor == "" {
			path = p.regsPath() + "?" + q
		}
		t := time.Now()
		status, _ := s.do(&op{method: http.MethodGet, path: path, token: p.c.main().Token}, &buf)
		st.record("list-deep/walk", time.Since(t), status)
		d.count(status)
		next := ""
		if status == http.StatusOK {
			next = nextCursor(buf.Bytes())
		}
		if next == "" {
			break
		}
		cursor = next
		r.Depth++
	}
	r.WalkS, r.deepCursor = time.Since(start).Seconds(), cursor
	return st
}

func deepQuery(r *deepResult) string {
	q := url.Values{}
	q.Set("per_page", strconv.Itoa(listPerPage))
	q.Set("sort_by", r.Sort)
	q.Set("sort_order", r.Order)
	return q.Encode()
}

// compareDeep times the first and the deep page of each sort, alternately.
func compareDeep(
	ctx context.Context, d *driver, p *plan, results []deepResult, deadline time.Time,
) *stats {
	st := newStats()
	first := make([]hist, len(results))
	deep := make([]hist, len(results))
	var buf bytes.Buffer
	s := d.session(ctx)
	defer s.close()
	for n := 0; n < p.o.deepSamples && ctx.Err() == nil && time.Now().Before(deadline); n++ {
		for i := range results {
			base := p.regsPath() + "?" + deepQuery(&results[i])
			timeOne(d, s, p, base, "list-deep/first", st, &first[i], &buf)
			if c := results[i].deepCursor; c != "" {
				timeOne(d, s, p, base+"&cursor="+url.QueryEscape(c), "list-deep/deep", st,
					&deep[i], &buf)
			}
		}
	}
	for i := range results {
		r := &results[i]
		r.First, r.Deep = summarize(&first[i]), summarize(&deep[i])
		if r.First.P50 > 0 && r.Deep.P50 > 0 {
			r.RatioP50, r.RatioP99 = r.Deep.P50/r.First.P50, r.Deep.P99/r.First.P99
		}
	}
	return st
}

func timeOne(d *driver, s session, p *plan, path, name string, st *stats, h *hist, buf *bytes.Buffer) {
	t := time.Now()
	status, _ := s.do(&op{method: http.MethodGet, path: path, token: p.c.main().Token}, buf)
	took := time.Since(t)
	st.record(name, took, status)
	d.count(status)
	if status == http.StatusOK {
		h.record(took)
	}
}
