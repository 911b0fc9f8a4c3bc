package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/warpreg/warpreg/internal/device"
)

// searchText is a registration's search text, computed from its own row as
// migration 0009 indexes it in registrations_search: id, device name, user email
// and user name, lower-cased and joined by U+001F, which no search term contains.
// The list rechecks a search term against it on every candidate row.
const searchText = `go_lower(r.id || char(31) || r.device_name || char(31) || ` +
	`r.user_email || char(31) || r.user_name)`

// searchPlan is how a list page finds the rows a search term matches.
type searchPlan int

const (
	// walkSort walks the sort key's index and rechecks each row: for no search, a
	// term too short for trigrams, a term so common that the next rows match
	// soon, or a search narrowed by a selective filter with its own index.
	walkSort searchPlan = iota

	// walkIndexed walks the sort key's index too, but skips the rows that are not
	// among the search index's candidates without reading them: for a term with
	// more candidates than fromIndex sorts and few enough to hold in memory.
	walkIndexed

	// fromIndex reads the search index's candidates, rechecks and sorts them: for
	// a rare term, whose matches are too sparse in any sort order to walk to.
	fromIndex
)

// Thresholds of the search plans, in candidates of the search index (over every
// account: the index does not know them). fromIndex sorts at most rareCandidates
// rows; walkIndexed holds at most indexedCandidates rowids.
const (
	rareCandidates    = 2000
	indexedCandidates = 50000
)

// searchPlan chooses the plan for q's search by counting the index's candidates
// for it, up to the thresholds.
func (r reader) searchPlan(ctx context.Context, q *device.ListQuery) (searchPlan, error) {
	match := trigramQuery(q.Search)
	if match == "" || selectiveFilter(q) {
		return walkSort, nil
	}
	n, err := r.countCandidates(ctx, match, rareCandidates)
	if err != nil || n <= rareCandidates {
		return fromIndex, err
	}
	n, err = r.countCandidates(ctx, match, indexedCandidates)
	if err != nil || n <= indexedCandidates {
		return walkIndexed, err
	}
	return walkSort, nil
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
// term, the AND of the lower-cased term's distinct trigrams, each quoted; or ""
// when the term has fewer than three characters, which no trigram index answers.
// (The index keeps no positions, so it cannot ask for the trigrams in sequence:
// the recheck does.)
func trigramQuery(term string) string {
	runes := []rune(strings.ToLower(term))
	if len(runes) < 3 {
		return ""
	}
	seen := map[string]bool{}
	var parts []string
	for i := range len(runes) - 2 {
		t := string(runes[i : i+3])
		if seen[t] {
			continue
		}
		seen[t] = true
		parts = append(parts, `"`+strings.ReplaceAll(t, `"`, `""`)+`"`)
	}
	return strings.Join(parts, " AND ")
}
