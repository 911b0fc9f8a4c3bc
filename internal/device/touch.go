package device

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// toucher batches heartbeats: the check of each one's secret and the write of
// their last-seen times. A heartbeat that arrives while no batch is being written
// writes at once, with every one that queued meanwhile, in one transaction and one
// statement per table; then it hands the turn to the first heartbeat that queued
// during its write, if any, and returns. Each caller returns once the batch holding
// its write has committed, so batching costs no durability: an acknowledged
// heartbeat is on disk. Under load, batches grow by themselves; alone, a heartbeat
// is written at once. Handing the turn on, rather than writing batches until the
// queue runs dry, keeps one caller from waiting out a steady stream of others.
//
// The secret is checked on the writer's own connection, inside the batch, rather
// than on a read before it: under a steady stream of writes a reading connection
// finds the database changed at every read and starts from an empty page cache
// (SQLite's WAL mode does so), where the writer's pages stay cached. The check is
// also exact: no revocation can commit between it and the write.
type toucher struct {
	store Store

	mu       sync.Mutex
	pending  []*touch
	flushing bool
}

type touch struct {
	id, token string
	at        time.Time
	done      chan error    // the batch's own failure, or nil
	turn      chan struct{} // this heartbeat is to write the next batch

	r      *Registration // the registration, when the secret matched
	refuse error         // why the heartbeat is refused otherwise
}

// maxTouchBatch bounds one batch, so that one transaction stays short.
const maxTouchBatch = 1000

// touch authenticates a heartbeat for registration id with token, and moves its
// registration's and device's last-seen times to at (or later, see write).
func (b *toucher) touch(
	ctx context.Context, id, token string, at time.Time,
) (*Registration, error) {
	t := &touch{id: id, token: token, at: at, done: make(chan error, 1),
		turn: make(chan struct{}, 1)}
	b.mu.Lock()
	b.pending = append(b.pending, t)
	if b.flushing {
		b.mu.Unlock()
		select {
		case err := <-t.done:
			return t.result(err)
		case <-t.turn: // the last writer handed this heartbeat the next batch
		}
		b.mu.Lock()
	}
	b.flushing = true
	for {
		batch := b.pending[:min(len(b.pending), maxTouchBatch)]
		b.pending = b.pending[len(batch):]
		b.mu.Unlock()
		err := b.write(context.WithoutCancel(ctx), batch)
		for _, x := range batch {
			x.done <- err
		}
		b.mu.Lock()
		if !slices.Contains(b.pending, t) {
			break
		}
	}
	if len(b.pending) > 0 {
		b.pending[0].turn <- struct{}{}
	} else {
		b.flushing = false
	}
	b.mu.Unlock()
	return t.result(<-t.done)
}

func (t *touch) result(err error) (*Registration, error) {
	if err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	return t.r, t.refuse
}

// write checks and stores one batch. Its heartbeats arrived within one write's time
// of each other; they share the latest of their times. A refused heartbeat does not
// fail the others; a failure to read or write fails them all. The registrations are
// read in one statement, so the batch costs one round trip to PostgreSQL, not one
// per heartbeat.
func (b *toucher) write(ctx context.Context, batch []*touch) error {
	ids := make([]string, len(batch))
	for i, t := range batch {
		ids[i] = t.id
	}
	return b.store.Update(ctx, func(tx Tx) error {
		found, err := tx.RegistrationsByID(ctx, ids)
		if err != nil {
			return fmt.Errorf("read registrations: %w", err)
		}
		byID := make(map[string]*Registration, len(found))
		for i := range found {
			byID[found[i].ID] = &found[i]
		}
		rs := make([]*Registration, 0, len(batch))
		var at time.Time
		for _, t := range batch {
			t.r, t.refuse = clientCheck(byID[t.id], t.token)
			if t.refuse != nil {
				continue
			}
			r := *t.r // heartbeats of one registration get a copy each
			t.r = &r
			rs = append(rs, t.r)
			if t.at.After(at) {
				at = t.at
			}
		}
		if len(rs) == 0 {
			return nil
		}
		return tx.TouchRegistrations(ctx, rs, at)
	})
}
