// Package notify fans change announcements out to the subscribers in one process.
// Storage adapters feed it: SQLite after its own commits, PostgreSQL from LISTEN.
package notify

import (
	"context"
	"sync"
)

// Hub broadcasts account ids to subscribers. Sends never block: a subscriber whose
// buffer is full misses that wake-up, which is harmless because one is still
// pending and a woken reader re-reads the log from its last position.
type Hub struct {
	mu   sync.Mutex
	subs map[chan string]struct{}
}

// subscriberBuffer is how many wake-ups may queue for one slow subscriber.
const subscriberBuffer = 64

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{subs: map[chan string]struct{}{}} }

// Subscribe returns a channel of account ids that closes when ctx is done.
func (h *Hub) Subscribe(ctx context.Context) <-chan string {
	ch := make(chan string, subscriberBuffer)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	context.AfterFunc(ctx, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
		close(ch)
	})
	return ch
}

// Publish wakes every subscriber for accountID.
func (h *Hub) Publish(accountID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- accountID:
		default:
		}
	}
}
