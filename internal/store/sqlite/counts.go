package sqlite

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

// A list filtered by more than its status counts its matches, up to row.CountCap, on
// every page: for a common search term or a wide last seen window that is a thousand
// rows read, as long as the page itself or longer, and the pages that follow by
// cursor, or another sort of the same filter, count the same rows again. A list by
// created_at of a last seen window also counts the window, up to seenCandidates, to
// choose its plan (see seenPlan). Each connection of the lists' pool remembers the
// totals it counted for as long as the database is as it was: SQLite's data_version,
// read in the list's own read transaction, changes whenever any other connection, of
// this process or another, commits. The totals stay exact.

// countMemo is the totals one list connection counted at one data_version. A
// connection runs one list at a time, so its memo needs no lock.
type countMemo struct {
	version int64
	totals  map[string]int // by countKey
	bytes   int            // of the keys in totals
}

// countMemoBytes bounds the keys a memo holds, about 700 filters with short search
// terms; a full memo starts again. A key holds at most a search term (256
// characters) besides its fixed parts: filters by ids are not remembered.
const countMemoBytes = 64 << 10

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
	if m.version != version || m.bytes+len(key) > countMemoBytes {
		m.version, m.totals, m.bytes = version, map[string]int{}, 0
	}
	if _, ok := m.totals[key]; !ok {
		m.bytes += len(key)
	}
	m.totals[key] = n
}

// countMemos are the memos of the lists' pool, one per connection, at most as many
// as the pool holds. The pool replaces a connection that fails; a connection new to
// the memos gets a new memo in place of the one least lately used, which is usually
// the closed connection's (if it is a live one's instead, that one counts again).
type countMemos struct {
	mu    sync.Mutex
	memos []connMemo
	uses  uint64
}

type connMemo struct {
	conn any // the driver's connection
	memo *countMemo
	used uint64
}

// of returns the memo of conn, a driver connection of the lists' pool.
func (c *countMemos) of(conn any) *countMemo {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.uses++
	oldest := 0
	for i := range c.memos {
		if c.memos[i].conn == conn {
			c.memos[i].used = c.uses
			return c.memos[i].memo
		}
		if c.memos[i].used < c.memos[oldest].used {
			oldest = i
		}
	}
	m := connMemo{conn: conn, memo: &countMemo{}, used: c.uses}
	if len(c.memos) < listConns+1 {
		c.memos = append(c.memos, m)
	} else {
		c.memos[oldest] = m
	}
	return m.memo
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
	count := func() (int, error) {
		query, args := countQuery(accountID, q, match)
		var n int
		if err := r.queryRow(ctx, query, args...).Scan(&n); err != nil {
			return 0, err
		}
		return row.CappedTotal(n), nil
	}
	if selectiveFilter(q) {
		return count() // an index names the few rows; and the key could be 40 KB
	}
	return r.remembered(ctx, countKey(accountID, q), count)
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
