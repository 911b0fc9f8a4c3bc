package sqlite

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

// searchText is a registration's search text, computed from its own row as
// migration 0009 indexes it in registrations_search: id, device name, user email
// and user name, lower-cased and joined by U+001F, which no search term contains.
// The list rechecks a search term against it on every candidate row.
const searchText = `go_lower(` + rawSearchText + `)`

// rawSearchText is searchText before lower-casing.
const rawSearchText = `r.id || char(31) || r.device_name || char(31) || ` +
	`r.user_email || char(31) || r.user_name`

// searchCondition returns the recheck of a search term against a row, and its
// arguments. For a term in ASCII it lets SQLite's own LIKE fold the case, which
// folds ASCII letters only, instead of calling go_lower on every row (half the
// recheck's cost): the two agree on every text except one holding U+0130 or
// U+212A, the only other letters that Go lower-cases to ASCII ('i' and 'k'), and
// such a text goes through go_lower as before. That LIKE reads each column on its
// own rather than the joined search text: a term holds no control character
// (device.Service checks), so it cannot match across the U+001F between two
// columns, and building the joined text cost more than the LIKE itself. A walk
// through the sort index rechecks every row it passes, so this took about a
// quarter off a walk's CPU. Ids are lowercase hex, so only the other columns are
// looked through for the two letters.
func searchCondition(term string) (string, []any) {
	pattern := row.LikePattern(term)
	for i := range len(term) {
		if term[i] >= utf8.RuneSelf {
			return searchText + ` LIKE ` + likeParam, []any{pattern}
		}
	}
	var b strings.Builder
	b.WriteString("(")
	for _, col := range searchColumns {
		b.WriteString(col + " LIKE " + likeParam + " OR ")
	}
	b.WriteString("(")
	for i, col := range searchColumns[1:] {
		if i > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString("instr(" + col + ", char(304)) > 0 OR instr(" + col + ", char(8490)) > 0")
	}
	b.WriteString(") AND " + searchText + " LIKE " + likeParam + ")")
	args := make([]any, len(searchColumns)+1)
	for i := range args {
		args[i] = pattern
	}
	return b.String(), args
}

// searchColumns are the columns that rawSearchText joins, in its order.
var searchColumns = []string{"r.id", "r.device_name", "r.user_email", "r.user_name"}

// likeParam is the pattern of a LIKE, bound as a parameter, with its escape. The
// pattern is an expression, not the bare parameter: when it is the parameter
// itself, SQLite weighs its value for the LIKE index optimization (useless to
// a pattern that starts with %) and so prepares the statement again whenever a
// new value is bound, which cost a search about 4 % of its CPU.
const likeParam = `(? || '') ESCAPE '\'`

// listPlan is how a list page finds its rows when a filter is not the sort key's
// own: a search term, or a last seen window under another sort.
type listPlan int

const (
	// walkSort walks the sort key's index and rechecks each row: for no search, a
	// term too short for trigrams, a term so common that the next rows match
	// soon, or a search narrowed by a selective filter with its own index.
	walkSort listPlan = iota

	// walkIndexed walks the sort key's index too, but skips the rows that are not
	// among the search index's candidates without reading them: for a term with
	// more candidates than fromIndex sorts, yet too few to find 51 soon by walkSort.
	walkIndexed

	// fromIndex reads the search index's candidates, rechecks and sorts them: for
	// a rare term, whose matches are too sparse in any sort order to walk to.
	fromIndex

	// fromSeen reads a last seen window from registrations_live_seen alone, which
	// also holds created_at, sorts it by created_at, and reads the page's rows:
	// for a created_at sort and a window of at most seenCandidates rows.
	fromSeen
)

// Thresholds of the search plans, in candidates of the search index (over every
// account: the index does not know them). fromIndex sorts at most rareCandidates
// rows; walkIndexed reads up to indexedCandidates rowids, which costs about as
// much as walkSort reading the 100 rows a term that common needs for a page, on
// average, at a million registrations. Each probe costs what it counts.
//
// Up to boundedCandidates, walkIndexed is still taken, by the statistics, when the
// probe finds more than indexedCandidates: reading that many rowids costs up to
// 14 ms at a million rows, more than an average walk, but the walk has no bound.
// The lists keep what they read while the search index is unchanged (see
// candidateSets), so under few writes a common term pays that once.
// The counts are over every account: a term common in one account and absent
// from another would make a walk of the second read every row it holds.
// A term that names a group of users (a first name, a surname) is found in one
// stretch of the user.email and user.name sorts, and walkSort reads every row
// before it: 40 to 80 ms a page for a term in 3 % of the rows.
const (
	rareCandidates    = 2000
	indexedCandidates = 10000
	boundedCandidates = 40000
)

// seenCandidates bounds the window that fromSeen sorts: an index-only read of
// this many entries costs a few milliseconds.
const seenCandidates = 20000

// choosePlan chooses the plan for q's search, and the full-text query that finds
// its candidates ("" when the plan needs none). A term whose rarest trigrams
// together name few rows goes to fromIndex with those alone; otherwise one probe of
// the spread trigrams counts the candidates, up to the thresholds.
func (r reader) choosePlan(
	ctx context.Context, accountID string, q *device.ListQuery,
) (listPlan, string, error) {
	if selectiveFilter(q) {
		return walkSort, "", nil
	}
	spread := trigramQuery(q.Search)
	if spread == "" {
		plan, err := r.seenPlan(ctx, accountID, q)
		return plan, "", err
	}
	budget := countsPerSearch
	rarest, err := r.rarestTrigrams(ctx, q.Search, &budget)
	if err != nil {
		return walkSort, spread, err
	}
	if rarest != "" && rarest != spread {
		n, err := r.probe(ctx, rarest, rareCandidates)
		if err != nil || n <= rareCandidates {
			return fromIndex, rarest, err
		}
	}
	// One probe answers both thresholds: it stops at what it counts, so a rare
	// term costs what its few candidates do and a common one at most the larger.
	n, err := r.probe(ctx, spread, indexedCandidates)
	switch {
	case err != nil:
		return walkSort, spread, err
	case n <= rareCandidates:
		return fromIndex, spread, nil
	case n <= indexedCandidates:
		return walkIndexed, spread, nil
	}
	// The spread trigrams' AND names no more rows than the rarest of them.
	least, err := r.leastSpreadCount(ctx, q.Search, &budget)
	if err != nil || least > boundedCandidates {
		return walkSort, spread, err
	}
	return walkIndexed, spread, nil
}

// leastSpreadCount returns the statistics' count of the rarest spread trigram of
// term; statCap without statistics. It counts at most *budget trigrams.
func (r reader) leastSpreadCount(ctx context.Context, term string, budget *int) (int, error) {
	least := statCap
	if r.grams == nil {
		return least, nil
	}
	for _, t := range spreadTrigrams(term) {
		n, err := r.grams.trigram(ctx, r, t, budget)
		if err != nil {
			return 0, err
		}
		least = min(least, n)
	}
	return least, nil
}

// seenPlan chooses fromSeen for a created_at sort of a last seen window that
// holds at most seenCandidates rows, and walkSort otherwise; q has no search.
func (r reader) seenPlan(
	ctx context.Context, accountID string, q *device.ListQuery,
) (listPlan, error) {
	if q.Search != "" || q.Sort != device.SortByCreatedAt ||
		q.SeenAfter.IsZero() && q.SeenBefore.IsZero() {
		return walkSort, nil
	}
	window := device.ListQuery{SeenAfter: q.SeenAfter, SeenBefore: q.SeenBefore,
		Status: device.StatusAll}
	_, where, args := listFilter(accountID, &window, walkSort, "", 0)
	n, err := r.remembered(ctx, "window "+countKey(accountID, &window), func() (int, error) {
		var n int
		err := r.queryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM registrations r
			INDEXED BY registrations_live_seen WHERE `+where+` LIMIT ?)`,
			append(args, seenCandidates+1)...).Scan(&n)
		return n, err
	})
	if err != nil {
		return walkSort, fmt.Errorf("count the last seen window: %w", err)
	}
	if n > seenCandidates {
		return walkSort, nil
	}
	return fromSeen, nil
}

// countCandidates counts the search index's rows for match, up to max+1.
func (r reader) countCandidates(ctx context.Context, match string, max int) (int, error) {
	var n int
	err := r.queryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM registrations_search
		WHERE registrations_search MATCH ? LIMIT ?)`, match, max+1).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count search candidates: %w", err)
	}
	return n, nil
}

// probe is countCandidates for choosing a plan, remembered with the trigram
// statistics for probeTTL: the pages that follow a first page by cursor ask the
// same, and each probe costs what it counts, up to 2 ms. A stale probe that still
// finds a term rare sends it to fromIndex, which reads every candidate: the short
// life bounds how long a term that grew common (an import) can cost that.
func (r reader) probe(ctx context.Context, match string, max int) (int, error) {
	if r.grams == nil {
		return r.countCandidates(ctx, match, max)
	}
	return r.grams.count(ctx, r, match, max, probeTTL, nil)
}

// selectiveFilter reports whether q names registrations, a device or users: each
// has an index that selects a few rows, better than any search plan.
func selectiveFilter(q *device.ListQuery) bool {
	return len(q.IDs) > 0 || q.DeviceID != "" || len(q.UserIDs) > 0
}

// trigramQuery returns the FTS5 query that finds the candidates for a search
// term without statistics: the AND of its spread trigrams, each quoted; or "" when
// the term has fewer than three characters, which no trigram index answers. The
// index keeps no positions, so it cannot ask for the trigrams in sequence: the
// recheck does.
func trigramQuery(term string) string {
	var parts []string
	for _, t := range spreadTrigrams(term) {
		parts = appendTrigram(parts, t)
	}
	return strings.Join(parts, " AND ")
}

// spreadTrigrams returns every third trigram of the lower-cased term and its last,
// without repeats: they cover the term without overlapping, and the trigrams in
// between add little selectivity for their cost (a query reads every doclist it
// names).
func spreadTrigrams(term string) []string {
	runes := []rune(strings.ToLower(term))
	var out []string
	add := func(t string) {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	for i := 0; i+3 <= len(runes); i += 3 {
		add(string(runes[i : i+3]))
	}
	if len(runes) >= 3 {
		add(string(runes[len(runes)-3:]))
	}
	return out
}

// trigrams returns every trigram of the lower-cased term, in order, repeats included.
func trigrams(term string) []string {
	runes := []rune(strings.ToLower(term))
	var out []string
	for i := 0; i+3 <= len(runes); i++ {
		out = append(out, string(runes[i:i+3]))
	}
	return out
}

// appendTrigram appends t to parts as an FTS5 string, unless it is there already.
func appendTrigram(parts []string, t string) []string {
	q := `"` + strings.ReplaceAll(t, `"`, `""`) + `"`
	if slices.Contains(parts, q) {
		return parts
	}
	return append(parts, q)
}

// rarestTrigrams returns the FTS5 query that names the rarest trigrams of term,
// up to three that do not overlap in it, by the statistics; "" without them. Every
// trigram named costs a read of its doclist, so a long term's spread trigrams cost
// four times what its rarest three do (2.2 against 0.5 ms at a million rows), and
// the rarest select about as well. A subset may name many more rows than the term
// matches, so only a count of what it names (a probe, at most probeTTL old) may
// send a search to fromIndex; the other plans are chosen by the spread trigrams'
// count.
func (r reader) rarestTrigrams(ctx context.Context, term string, budget *int) (string, error) {
	if r.grams == nil {
		return "", nil
	}
	var gs []gramCount
	for i, t := range trigrams(term) {
		if slices.ContainsFunc(gs, func(g gramCount) bool { return g.text == t }) {
			continue
		}
		n, err := r.grams.trigram(ctx, r, t, budget)
		if err != nil {
			return "", err
		}
		gs = append(gs, gramCount{text: t, at: i, n: n})
	}
	slices.SortStableFunc(gs, func(a, b gramCount) int { return a.n - b.n })
	var parts []string
	var taken []int
	for _, g := range gs {
		if len(parts) == 3 {
			break
		}
		if !slices.ContainsFunc(taken, func(at int) bool { return abs(at-g.at) < 3 }) {
			parts = appendTrigram(parts, g.text)
			taken = append(taken, g.at)
		}
	}
	return strings.Join(parts, " AND "), nil
}

// gramCount is a trigram of a term, where it starts in the term, and its rows.
type gramCount struct {
	text  string
	at, n int
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// Statistics of trigrams: how many rows of the search index hold each, counted up
// to statCap and kept for statTTL; with them, plan probes (see probe), kept for
// probeTTL; statEntries of the two at most (a million registrations hold about
// 7,000 distinct trigrams). A count stops at the cap, past boundedCandidates,
// where the choice no longer depends on it, and so costs at most about 2 ms, paid
// once per trigram by the first search that uses it. One
// search counts at most countsPerSearch trigrams that are not known yet, so that a
// long term of unseen trigrams (a search may be 256 characters) costs a bounded
// time; a trigram left uncounted counts as common, and a later search counts it.
const (
	statCap         = boundedCandidates + 1
	statTTL         = 10 * time.Minute
	probeTTL        = time.Minute
	statEntries     = 50000
	countsPerSearch = 12
)

// trigramStats remembers counts of full-text queries: of single trigrams, and of
// the probes that choose a plan. They only steer which trigrams a query names and
// which plan it takes, never which rows it returns: the recheck on every
// candidate keeps results exact, so a stale count costs time, not correctness.
type trigramStats struct {
	mu     sync.Mutex
	counts map[uint64]trigramCount // by key: a probe's query may be a kilobyte
	seed   maphash.Seed
}

type trigramCount struct {
	n  int
	at time.Time
}

func newTrigramStats() *trigramStats {
	return &trigramStats{counts: map[uint64]trigramCount{}, seed: maphash.MakeSeed()}
}

// trigram returns how many rows hold trigram t, up to statCap: see count.
func (s *trigramStats) trigram(
	ctx context.Context, r reader, t string, budget *int,
) (int, error) {
	return s.count(ctx, r, trigramMatch(t), statCap-1, statTTL, budget)
}

// trigramMatch is the full-text query for trigram t alone.
func trigramMatch(t string) string {
	return strings.Join(appendTrigram(nil, t), "")
}

// key is the statistics' key for the count of match up to max+1: a 64-bit hash,
// whose rare collision can only steer a plan.
func (s *trigramStats) key(match string, max int) uint64 {
	return maphash.String(s.seed, match+"\x00"+strconv.Itoa(max))
}

// count returns how many rows the full-text query match names, up to max+1,
// counting them with r when unknown or older than ttl and *budget allows (a
// nil budget always does); otherwise the last count, or max+1 when there is none.
// When the statistics are full, an eighth of them, picked at random, make room.
func (s *trigramStats) count(
	ctx context.Context, r reader, match string, max int, ttl time.Duration, budget *int,
) (int, error) {
	key := s.key(match, max)
	now := time.Now()
	s.mu.Lock()
	c, ok := s.counts[key]
	s.mu.Unlock()
	limited := budget != nil && *budget <= 0
	switch {
	case ok && now.Sub(c.at) < ttl:
		return c.n, nil
	case limited && ok:
		return c.n, nil
	case limited:
		return max + 1, nil
	}
	if budget != nil {
		*budget--
	}
	n, err := r.countCandidates(ctx, match, max)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.counts) >= statEntries {
		for k := range s.counts { // map order is random
			delete(s.counts, k)
			if len(s.counts) <= statEntries*7/8 {
				break
			}
		}
	}
	s.counts[key] = trigramCount{n: n, at: now}
	return n, nil
}
