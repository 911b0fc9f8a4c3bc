package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Reading ahead for bulk changes.
//
// The writer runs one transaction at a time, and in it a revocation of a hundred
// registrations reads about eight leaf pages for each: the id's index entry, the
// row, its entries in two list indexes, the device's index entry, row and entry in
// devices_live_active, the audit log's target index. When those pages are in memory
// that is about 15 ms of work; when they are not (registrations nobody has touched
// for weeks, on a machine whose page cache holds a fraction of the file) the writer
// waits on some 800 disk reads one after the other, and every other write waits
// with it: 50-160 ms on the project's machine, whose disk takes about 70 µs a read
// one at a time and serves about four times as many a second sixteen at a time.
//
// So before such a change takes the writer, PrefetchRegistrations starts reading
// those pages on connections of its own, prefetchConns at a time; the writer then
// finds each page read, or being read. It first reads a few of the registrations on
// one thread and asks the kernel whether that touched the disk. Reading ahead pages
// that are in memory only costs CPU (about 6 ms for a hundred ids, since every read
// transaction on a database that another connection has written starts with an
// empty page cache), so it goes on only when they were not. On a cold page cache,
// revoking a hundred of a million registrations went from p50 44-47 ms, p99 136-156 ms
// to p50 27-40 ms, p99 80-97 ms; warm, it stays at p50 19 ms.

// prefetchConns is how many reads a read ahead has in flight at once.
const prefetchConns = 8

// prefetchIdle is how long a read-ahead connection stays open unused.
const prefetchIdle = 30 * time.Second

// prefetchProbe is how many registrations the first, one-thread read covers.
const prefetchProbe = 4

// prefetchCacheKiB is each read-ahead connection's page cache. The read ahead is
// for the operating system's cache, which the writer reads from; pages kept here
// would only add to the server's memory.
const prefetchCacheKiB = 64

// prefetchQuery reads, for each registration id in the JSON array ?2 of the account
// ?1, the pages that revoking or unrevoking it writes: the id's entry and the row,
// the two list indexes that hold revoked_at, the device's row and its entries in
// devices_live_active at the active counts a change can leave, and the end of the
// registration's entries in the audit log's target index (one seek, however long
// its history), where the change's entry goes. Each index is named, so
// the reads are the ones the write makes and not the planner's cheapest;
// TestPrefetchReadsWhatARevocationWrites keeps the list in step with the schema.
// The sums only give every subquery a use.
const prefetchQuery = `SELECT count(*),
	sum((SELECT count(*) FROM registrations INDEXED BY registrations_live_seen
		WHERE account_id = r.account_id AND last_seen_at = r.last_seen_at AND id = r.id
		AND deleted_at IS NULL)
	+ (SELECT count(*) FROM registrations INDEXED BY registrations_live_created
		WHERE account_id = r.account_id AND created_at = r.created_at AND id = r.id
		AND deleted_at IS NULL)
	+ (SELECT count(*) FROM devices INDEXED BY devices_live_active
		WHERE account_id = d.account_id
		AND active_count IN (d.active_count - 1, d.active_count, d.active_count + 1)
		AND id = d.id AND deleted_at IS NULL)
	+ coalesce((SELECT max(seq) FROM audit_log INDEXED BY audit_log_target
		WHERE account_id = ?1 AND target_id = r.id), 0))
	FROM json_each(?2) AS ids CROSS JOIN registrations r ON r.id = ids.value
	JOIN devices d ON d.id = r.device_id
	WHERE r.account_id = (SELECT num FROM accounts WHERE id = ?1)`

// errPrefetchClosed is what a read ahead returns once the store has closed.
var errPrefetchClosed = errors.New("sqlite read ahead: the store is closed")

// prefetcher runs prefetchQuery on a pool of its own, so that a read ahead never
// waits for, or holds up, the connections that serve requests. The pool opens its
// connections when first used.
type prefetcher struct {
	db    *sql.DB
	stmts *stmtCache
	log   *slog.Logger

	mu     sync.Mutex
	closed bool
	reads  sync.WaitGroup // the reads going on beside a change; see run
}

func openPrefetcher(path string, log *slog.Logger) (*prefetcher, error) {
	db, err := openDB(path, "deferred", prefetchConns, prefetchCacheKiB, false)
	if err != nil {
		return nil, err
	}
	// Each connection holds about 0.3 MB (the parsed schema, SQLite's allocations)
	// whether or not it reads; most servers read ahead now and then.
	db.SetConnMaxIdleTime(prefetchIdle)
	return &prefetcher{db: db, stmts: &stmtCache{db: db}, log: log}, nil
}

// PrefetchRegistrations implements device.Prefetcher: it starts reading the pages
// that revoking or unrevoking the registrations ids of the account will write (see
// the top of this file), and returns once it has read the first few. The rest go on
// beside the change, which finds each page read or being read; they stop when ctx
// ends. A deletion writes more index entries than these, every live index of the
// row, and finds the rest where they are. Unknown ids are skipped: the change
// itself reports them.
func (s *Store) PrefetchRegistrations(ctx context.Context, accountID string, ids []string) error {
	_, err := s.prefetch.run(ctx, accountID, ids)
	return err
}

// run reads ahead for ids and returns how many of them it started to read after
// the probe: none when the probe found its pages in memory.
func (p *prefetcher) run(ctx context.Context, accountID string, ids []string) (int, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return 0, errPrefetchClosed
	}

	probe, rest := ids[:min(len(ids), prefetchProbe)], ids[min(len(ids), prefetchProbe):]
	cold, err := readsStorage(func() error {
		_, err := p.read(ctx, accountID, probe)
		return err
	})
	if err != nil || !cold || len(rest) == 0 {
		return 0, err
	}

	// Share i takes ids i, i+n, i+2n...: the ids the writer reaches first are read
	// first.
	shares := make([][]string, min(prefetchConns, len(rest)))
	for i, id := range rest {
		shares[i%len(shares)] = append(shares[i%len(shares)], id)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, errPrefetchClosed
	}
	for _, share := range shares {
		p.reads.Go(func() {
			_, err := p.read(ctx, accountID, share)
			if err != nil && ctx.Err() == nil {
				p.log.Warn("read ahead in the background", "account_id", accountID, "err", err)
			}
		})
	}
	return len(rest), nil
}

// read runs prefetchQuery over ids, in one statement and so in one read
// transaction: the index pages above the leaves are read once for all of them. It
// returns how many of the ids are the account's registrations.
func (p *prefetcher) read(ctx context.Context, accountID string, ids []string) (int, error) {
	list, err := json.Marshal(ids)
	if err != nil {
		return 0, err
	}
	stmt, err := p.stmts.get(ctx, prefetchQuery)
	if err != nil {
		return 0, fmt.Errorf("prepare the read ahead: %w", err)
	}
	var found int
	var sum sql.NullInt64
	if err := stmt.QueryRowContext(ctx, accountID, string(list)).Scan(&found, &sum); err != nil {
		return 0, fmt.Errorf("read ahead registrations: %w", err)
	}
	return found, nil
}

// close waits for the reads under way, then closes the pool. A read ahead that
// starts later does nothing.
func (p *prefetcher) close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.reads.Wait()
	p.stmts.close()
	return p.db.Close()
}
