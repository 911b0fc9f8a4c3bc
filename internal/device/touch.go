package device

import (
	"context"
	"sync"
	"time"
)

// toucher batches heartbeats' last-seen writes. The first heartbeat to arrive while
// none is being written writes its own, and then every one that queued meanwhile, in
// one transaction and one statement per table, until the queue is empty. Each caller
// returns once the batch holding its write has committed, so batching costs no
// durability: an acknowledged heartbeat is on disk. Under load, batches grow by
// themselves; alone, a heartbeat is written at once.
type toucher struct {
	store Store

	mu       sync.Mutex
	pending  []*touch
	flushing bool
}

type touch struct {
	r    *Registration
	at   time.Time
	done chan error
}

// maxTouchBatch bounds one batch, so that one transaction stays short.
const maxTouchBatch = 1000

func (b *toucher) touch(ctx context.Context, r *Registration, at time.Time) error {
	t := &touch{r: r, at: at, done: make(chan error, 1)}
	b.mu.Lock()
	b.pending = append(b.pending, t)
	if b.flushing {
		b.mu.Unlock()
		return <-t.done
	}
	b.flushing = true
	for len(b.pending) > 0 {
		batch := b.pending[:min(len(b.pending), maxTouchBatch)]
		b.pending = b.pending[len(batch):]
		b.mu.Unlock()
		err := b.write(context.WithoutCancel(ctx), batch)
		for _, x := range batch {
			x.done <- err
		}
		b.mu.Lock()
	}
	b.flushing = false
	b.mu.Unlock()
	return <-t.done
}

// write stores one batch. Its heartbeats arrived within one write's time of each
// other; they share the latest of their times.
func (b *toucher) write(ctx context.Context, batch []*touch) error {
	rs := make([]*Registration, len(batch))
	var at time.Time
	for i, t := range batch {
		rs[i] = t.r
		if t.at.After(at) {
			at = t.at
		}
	}
	return b.store.Update(ctx, func(tx Tx) error { return tx.TouchRegistrations(ctx, rs, at) })
}
