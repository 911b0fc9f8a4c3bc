package sqlite

import (
	"bytes"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"modernc.org/sqlite"

	"github.com/warpreg/warpreg/internal/store/row"
)

// A walkIndexed page skips the rows of its sort index that the search index does
// not name. SQLite can read those candidates itself (an IN subquery), but then it
// copies them into a temporary B-tree for every statement: for a common term of
// 30,000 candidates that copy was 10 of the page's 11 ms, and the pages that
// follow by cursor, or another sort of the same term, paid it again. The lists keep
// each term's candidates instead, as sorted rowids, for as long as the search index
// stays as it was, and the page asks go_candidate about each row of its walk.
//
// "As it was" is the index's structure record (the row of id 10 in
// registrations_search_data): FTS5 rewrites it at every commit that changes the index,
// by this process or any other. New text writes a segment, which the record lists; a
// deletion, with contentless_delete, writes a tombstone, which the record counts; and
// a merge rewrites the segments it lists. A list reads the record and the rows in one
// read transaction, so a set is only used with the index it was read from. A merge
// changes the record without changing what the index holds; the sets are then read
// again, which costs time, not correctness.

// candidateSets are the candidate rowids of recent full-text queries, all read
// from the search index as its structure record says (stamp).
type candidateSets struct {
	mu    sync.Mutex
	stamp []byte
	sets  map[string][]int64 // by full-text query: rowids, ascending
	held  int                // rowids in sets
}

// candidateRowsKept bounds the rowids candidateSets keeps, over all of its sets:
// 2 MB, about eight terms of 30,000 candidates. A set larger than that is used by
// its page and not kept.
const candidateRowsKept = 1 << 18

func newCandidateSets() *candidateSets {
	return &candidateSets{sets: map[string][]int64{}}
}

// read returns the candidates of match as r's transaction sees the search index,
// from the sets when they were read from the same index.
func (c *candidateSets) read(ctx context.Context, r reader, match string) ([]int64, error) {
	var stamp []byte
	err := r.queryRow(ctx, `SELECT block FROM registrations_search_data WHERE id = 10`).
		Scan(&stamp)
	if err != nil {
		return nil, fmt.Errorf("read the search index's structure: %w", err)
	}
	c.mu.Lock()
	kept, ok := c.sets[match]
	ok = ok && bytes.Equal(stamp, c.stamp)
	c.mu.Unlock()
	if ok {
		return kept, nil
	}

	rows, err := r.query(ctx, `SELECT rowid FROM registrations_search
		WHERE registrations_search MATCH ? ORDER BY rowid`, match)
	if err != nil {
		return nil, fmt.Errorf("read search candidates: %w", err)
	}
	defer rows.Close()
	// A new slice: a kept set is never written again, as other lists may read it.
	set, err := row.All(rows, row.Value[int64])
	if err != nil {
		return nil, fmt.Errorf("read search candidates: %w", err)
	}
	c.keep(stamp, match, set)
	return set, nil
}

// keep adds set, read from the index that stamp describes, to the sets: in place
// of every set when the index has changed since they were read, and in place of
// others, picked at random, when the sets would hold too many rowids.
func (c *candidateSets) keep(stamp []byte, match string, set []int64) {
	if len(set) > candidateRowsKept {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !bytes.Equal(stamp, c.stamp) {
		// Usually the index has changed. It may instead be a list that began its read
		// transaction before that change: stamps do not say which is newer, so the
		// sets follow the last one kept, and every term's next list on the newer
		// index reads its set once more.
		clear(c.sets)
		c.stamp, c.held = stamp, 0
	}
	if old, ok := c.sets[match]; ok { // two lists read the same set at once
		delete(c.sets, match)
		c.held -= len(old)
	}
	for k, s := range c.sets { // map order is random
		if c.held+len(set) <= candidateRowsKept {
			break
		}
		delete(c.sets, k)
		c.held -= len(s)
	}
	c.sets[match] = set
	c.held += len(set)
}

// Sets in use by a statement, by handle: go_candidate finds its set by the handle
// the statement binds, as SQLite passes a function only SQL values.
var (
	pinnedSets  sync.Map // int64 -> []int64
	lastPinned  atomic.Int64
	errUnpinned = errors.New("go_candidate: no candidate set has that handle")
)

// pin makes set available to go_candidate under the handle it returns until unpin
// is called.
func pin(set []int64) (handle int64, unpin func()) {
	handle = lastPinned.Add(1)
	pinnedSets.Store(handle, set)
	return handle, func() { pinnedSets.Delete(handle) }
}

// goCandidate is go_candidate(handle, rowid): 1 when the pinned set holds rowid.
func goCandidate(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	handle, _ := args[0].(int64)
	set, pinned := pinnedSets.Load(handle)
	if !pinned {
		return nil, errUnpinned
	}
	id, ok := args[1].(int64)
	if !ok {
		return nil, fmt.Errorf("go_candidate: rowid %v is not an integer", args[1])
	}
	if _, found := slices.BinarySearch(set.([]int64), id); found {
		return int64(1), nil
	}
	return int64(0), nil
}
