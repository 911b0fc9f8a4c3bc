package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/warpreg/warpreg/internal/device"
)

// searchText is a registration's search text, computed from its own row as
// migration 0009 indexes it in registrations_search: id, device name, user email
// and user name, lower-cased and joined by U+001F, which no search term contains.
// The list rechecks a search term against it on every candidate row.
const searchText = `go_lower(r.id || char(31) || r.device_name || char(31) || ` +
	`r.user_email || char(31) || r.user_name)`

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
// rows; walkIndexed holds at most indexedCandidates rowids, which costs about as
// much as walkSort reading the 100 rows a term that common needs for a page, on
// average, at a million registrations. Each probe costs what it counts.
const (
	rareCandidates    = 2000
	indexedCandidates = 10000
)

// seenCandidates bounds the window that fromSeen sorts: an index-only read of
// this many entries costs a few milliseconds.
const seenCandidates = 20000

// listPlan chooses the plan for q's search by counting the index's candidates
// for it, up to the thresholds.
func (r reader) choosePlan(
	ctx context.Context, accountID string, q *device.ListQuery,
) (listPlan, error) {
	if selectiveFilter(q) {
		return walkSort, nil
	}
	match := trigramQuery(q.Search)
	if match == "" {
		return r.seenPlan(ctx, accountID, q)
	}
	// One probe answers both thresholds: it stops at what it counts, so a rare
	// term costs what its few candidates do and a common one at most the larger.
	n, err := r.countCandidates(ctx, match, indexedCandidates)
	switch {
	case err != nil:
		return walkSort, err
	case n <= rareCandidates:
		return fromIndex, nil
	case n <= indexedCandidates:
		return walkIndexed, nil
	}
	return walkSort, nil
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
	_, where, args := listFilter(accountID, &window, walkSort)
	var n int
	err := r.queryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM registrations r
		INDEXED BY registrations_live_seen WHERE `+where+` LIMIT ?)`,
		append(args, seenCandidates+1)...).Scan(&n)
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

// selectiveFilter reports whether q names registrations, a device or users: each
// has an index that selects a few rows, better than any search plan.
func selectiveFilter(q *device.ListQuery) bool {
	return len(q.IDs) > 0 || q.DeviceID != "" || len(q.UserIDs) > 0
}

// trigramQuery returns the FTS5 query that finds the candidates for a search
// term: the AND of trigrams of the lower-cased term, each quoted; or "" when the
// term has fewer than three characters, which no trigram index answers. It takes
// every third trigram and the last, which cover the term without overlapping: a
// query reads every doclist it names, and the others add little selectivity for
// their cost (a third of the time, on a million rows). The index keeps no
// positions, so it cannot ask for the trigrams in sequence: the recheck does.
func trigramQuery(term string) string {
	runes := []rune(strings.ToLower(term))
	if len(runes) < 3 {
		return ""
	}
	var parts []string
	for i := 0; i+3 <= len(runes); i += 3 {
		parts = appendTrigram(parts, string(runes[i:i+3]))
	}
	return strings.Join(appendTrigram(parts, string(runes[len(runes)-3:])), " AND ")
}

// appendTrigram appends t to parts as an FTS5 string, unless it is there already.
func appendTrigram(parts []string, t string) []string {
	q := `"` + strings.ReplaceAll(t, `"`, `""`) + `"`
	if slices.Contains(parts, q) {
		return parts
	}
	return append(parts, q)
}
