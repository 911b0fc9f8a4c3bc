package sqlite

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

// A list filtered by more than its status counts its matches, up to
// row.CountCap, on every page: for a common search term or a wide last seen
// window that is a thousand rows read, as long as the page itself or longer, and
// the pages that follow by cursor, or another sort of the same filter, count the
// same rows again. A list by created_at of a last seen window also counts the
// window, up to seenCandidates, to choose its plan (see seenPlan). Each connection of the lists' pool remembers the totals it
// counted for as long as the database is as it was: SQLite's data_version, read in
// the list's own read transaction, changes whenever any other connection, of this
// process or another, commits. The totals stay exact.

// countMemo is the totals one list connection counted at one data_version. A
// connection runs one list at a time, so its memo needs no lock.
type countMemo struct {
	version int64
	totals  map[string]int // by countKey
}

// countMemoEntries bounds the totals a memo holds; a full memo starts again.
const countMemoEntries = 1024

// total returns the remembered total of key at version.
func (m *countMemo) total(version int64, key string) (int, bool) {
	if m.version != version {
		return 0, false
	}
	n, ok := m.totals[key]
	return n, ok
}

// keep remembers total n of key, counted at version.
func (m *countMemo) keep(version int64, key string, n int) {
	if m.version != version || len(m.totals) >= countMemoEntries {
		m.version, m.totals = version, map[string]int{}
	}
	m.totals[key] = n
}

// countKey names what decides q's total in an account: its filters, not its sort,
// order, position or page size. Each part is quoted or a number, so no two
// filters share a key.
func countKey(accountID string, q *device.ListQuery) string {
	var b strings.Builder
	b.WriteString(accountID)
	for _, s := range []string{string(q.Status), q.Search, q.DeviceID} {
		b.WriteString(" " + strconv.Quote(s))
	}
	for _, t := range []time.Time{q.SeenAfter, q.SeenBefore} {
		b.WriteString(" " + strconv.FormatInt(t.UnixMicro(), 10))
	}
	for _, ids := range [][]string{q.IDs, q.UserIDs} {
		b.WriteString(" " + strconv.Itoa(len(ids)))
		for _, id := range ids {
			b.WriteString(" " + strconv.Quote(id))
		}
	}
	return b.String()
}

// countMatches counts q's matches up to row.CountCap+1 (see countQuery).
func (r reader) countMatches(
	ctx context.Context, accountID string, q *device.ListQuery, match string,
) (int, error) {
	return r.remembered(ctx, countKey(accountID, q), func() (int, error) {
		query, args := countQuery(accountID, q, match)
		var n int
		if err := r.queryRow(ctx, query, args...).Scan(&n); err != nil {
			return 0, err
		}
		return row.CappedTotal(n), nil
	})
}

// remembered returns the count that key names from the connection's memo, when the
// reader has one and the data has not changed since, or else what count says,
// remembered for next time.
func (r reader) remembered(
	ctx context.Context, key string, count func() (int, error),
) (int, error) {
	if r.counts == nil {
		return count()
	}
	var version int64
	if err := r.queryRow(ctx, `PRAGMA data_version`).Scan(&version); err != nil {
		return 0, fmt.Errorf("read the data version: %w", err)
	}
	if n, ok := r.counts.total(version, key); ok {
		return n, nil
	}
	n, err := count()
	if err != nil {
		return 0, err
	}
	r.counts.keep(version, key, n)
	return n, nil
}
