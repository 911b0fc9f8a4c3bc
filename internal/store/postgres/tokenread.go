package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

// maxTokenBatch bounds how many gets share one statement, so that one batch's rows
// stay a few kilobytes and a get that joins a full queue waits for at most a few
// batches.
const maxTokenBatch = 32

// tokenBatchSelect is TokenRegistrationSelect for many gets at once: each get is one
// element of three parallel arrays (registration id, token hash, account id), and its
// position in them (n, from 1) comes back first in each row it yields. The explicit
// collation matches the id columns', so the joins use their indexes.
const tokenBatchSelect = `SELECT q.n, ` + row.TokenRegistrationColumns + `
	FROM unnest($1::text[], $2::bytea[], $3::text[]) WITH ORDINALITY AS q(id, hash, account_id, n)
	JOIN api_tokens t ON t.hash = q.hash AND t.account_id = q.account_id COLLATE "C"
	JOIN registrations r ON r.account_id = t.account_id AND r.id = q.id COLLATE "C"
	JOIN profiles p ON p.id = r.profile_id`

// tokenReads coalesces concurrent TokenRegistration reads (the read behind every
// admin get) into one statement for each batch.
//
// On PostgreSQL a get's cost is mostly per statement, not per row: the round trip's
// two socket writes and wake-ups on each side, and the backend's bind, executor start
// and protocol messages. Gets share a few slots, each good for one statement at a
// time. A get that finds a slot free runs the one-row statement itself, as if there
// were no batching, so a lone get waits for nothing and costs no hand-off. A get that
// finds every slot taken queues; a worker takes it, waits for a slot, then takes every
// other get queued by then (up to maxTokenBatch) and answers them all with one
// statement. Slots are at most half the pool's connections (see getSlots), so gets
// leave connections to lists and writes.
type tokenReads struct {
	pool  *pgxpool.Pool
	life  context.Context // done once the store closes
	slots chan struct{}   // a statement in flight holds one
	queue chan *tokenRead
	wg    sync.WaitGroup

	// queued counts the gets that have gone to the queue; batched, when not nil, is
	// told each statement's number of gets before it runs. Both are for tests.
	queued  atomic.Int64
	batched func(n int)
}

// tokenRead is one get waiting for its batch: what it asks, then what it got.
type tokenRead struct {
	ctx           context.Context // the caller's
	id, accountID string
	hash          []byte

	token *device.APIToken
	reg   *device.Registration
	err   error
	done  chan struct{} // receives once the result is set
}

// errStoreClosed is what a get receives once the store has closed.
var errStoreClosed = errors.New("read registration: store closed")

// startTokenReads makes slots slots and starts as many workers, which serve queued
// gets until life is done.
func startTokenReads(
	life context.Context, pool *pgxpool.Pool, slots int, batched func(int),
) *tokenReads {
	b := &tokenReads{pool: pool, life: life, slots: make(chan struct{}, slots),
		queue: make(chan *tokenRead, maxTokenBatch), batched: batched}
	for range slots {
		b.wg.Add(1)
		go b.work()
	}
	return b
}

// read answers one get: at once when a slot is free, otherwise with a batch. It
// returns early when ctx is done or the store has closed.
func (b *tokenReads) read(
	ctx context.Context, tokenHash []byte, accountID, id string,
) (*device.APIToken, *device.Registration, error) {
	if b.life.Err() != nil {
		return nil, nil, errStoreClosed
	}
	if !storable(accountID) || !storable(id) {
		// PostgreSQL refuses such text outright: no row can hold it, and in a batch
		// the refusal would fail every other get of the statement.
		return nil, nil, fmt.Errorf("read registration: %w", device.ErrNotFound)
	}
	select {
	case b.slots <- struct{}{}:
		return b.readAlone(ctx, tokenHash, accountID, id)
	default:
	}

	q := &tokenRead{ctx: ctx, id: id, accountID: accountID, hash: tokenHash,
		done: make(chan struct{}, 1)}
	select {
	case b.queue <- q:
		b.queued.Add(1)
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	case <-b.life.Done():
		return nil, nil, errStoreClosed
	}
	select {
	case <-q.done:
		return q.token, q.reg, q.err
	case <-ctx.Done():
		return nil, nil, ctx.Err() // the batch goes on without q, or skips it
	case <-b.life.Done():
		return nil, nil, errStoreClosed // the workers have stopped, or are stopping
	}
}

// readAlone runs one get's own statement in the slot it holds, and frees the slot.
func (b *tokenReads) readAlone(
	ctx context.Context, tokenHash []byte, accountID, id string,
) (*device.APIToken, *device.Registration, error) {
	defer func() { <-b.slots }()
	if b.batched != nil {
		b.batched(1)
	}
	return reader{q: b.pool}.TokenRegistration(ctx, tokenHash, accountID, id)
}

// storable reports whether PostgreSQL can hold s as text: valid UTF-8 without NUL.
func storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// work takes a queued get, waits for a slot, then takes every other get queued by
// then (up to maxTokenBatch) and answers them together.
func (b *tokenReads) work() {
	defer b.wg.Done()
	batch := make([]*tokenRead, 0, maxTokenBatch)
	for {
		select {
		case <-b.life.Done():
			return
		case q := <-b.queue:
			batch = append(batch[:0], q)
		}
		select {
		case <-b.life.Done():
			return // its get returns on the store's closing
		case b.slots <- struct{}{}:
		}

	more:
		for len(batch) < maxTokenBatch {
			select {
			case q := <-b.queue:
				batch = append(batch, q)
			default:
				break more
			}
		}

		if b.batched != nil {
			b.batched(len(batch))
		}
		b.answerOrFail(batch)
		<-b.slots
		for _, q := range batch {
			q.done <- struct{}{}
		}
		clear(batch) // drop the answered gets' rows until the next batch
	}
}

// answerOrFail is answer, with a panic turned into every get's error: without a
// batch it would have been one request's, recovered by the HTTP server, and on a
// worker nothing recovers it but the end of the process.
func (b *tokenReads) answerOrFail(batch []*tokenRead) {
	defer func() {
		if r := recover(); r != nil {
			for _, q := range batch {
				q.token, q.reg, q.err = nil, nil, fmt.Errorf("read registration: panic: %v", r)
			}
		}
	}()
	b.answer(batch)
}

// answer sets each get's result. A get that no row answers gets ErrNotFound, as
// from the one-row statement. Gets whose callers have gone are left out, and the
// statement is cancelled if all of them go while it runs, as a lone get's is.
func (b *tokenReads) answer(batch []*tokenRead) {
	live := make([]*tokenRead, 0, len(batch))
	for _, q := range batch {
		if err := q.ctx.Err(); err != nil {
			q.err = err
			continue
		}
		live = append(live, q)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(b.life)
	defer cancel()
	var waiting atomic.Int64
	waiting.Store(int64(len(live)))
	for _, q := range live {
		stop := context.AfterFunc(q.ctx, func() {
			if waiting.Add(-1) == 0 {
				cancel()
			}
		})
		defer stop()
	}

	if len(live) == 1 {
		q := live[0]
		q.token, q.reg, q.err = reader{q: b.pool}.TokenRegistration(ctx, q.hash, q.accountID, q.id)
		return
	}
	err := b.scan(ctx, live)
	for _, q := range live {
		switch {
		case err != nil:
			q.token, q.reg, q.err = nil, nil, err
		case q.reg == nil:
			q.err = fmt.Errorf("read registration: %w", device.ErrNotFound)
		}
	}
}

// scan runs one batch's statement and hands each row to the get it answers.
func (b *tokenReads) scan(ctx context.Context, batch []*tokenRead) error {
	ids := make([]string, len(batch))
	hashes := make([][]byte, len(batch))
	accounts := make([]string, len(batch))
	for i, q := range batch {
		ids[i], hashes[i], accounts[i] = q.id, q.hash, q.accountID
	}
	rows, err := b.pool.Query(ctx, tokenBatchSelect, ids, hashes, accounts)
	if err != nil {
		return fmt.Errorf("read registrations: %w", err)
	}
	defer rows.Close()
	accountOf := func(n int64) (string, bool) {
		if n < 1 || n > int64(len(batch)) {
			return "", false
		}
		return batch[n-1].accountID, true
	}
	for rows.Next() {
		n, token, reg, err := row.NumberedTokenRegistration(rows, accountOf)
		if err != nil {
			return err
		}
		batch[n-1].token, batch[n-1].reg = token, reg
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read registrations: %w", err)
	}
	return nil
}
