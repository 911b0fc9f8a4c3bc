package notify

import (
	"context"
	"testing"
)

func TestHubFansOutAndCloses(t *testing.T) {
	h := NewHub()
	ctx, cancel := context.WithCancel(t.Context())
	a, b := h.Subscribe(ctx), h.Subscribe(t.Context())
	h.Publish("acct")
	if got := <-a; got != "acct" {
		t.Errorf("a got %q", got)
	}
	if got := <-b; got != "acct" {
		t.Errorf("b got %q", got)
	}
	cancel()
	if _, ok := <-a; ok {
		t.Error("channel still open after its context ended")
	}
	for range subscriberBuffer + 10 { // a full subscriber never blocks Publish
		h.Publish("x")
	}
	if len(b) != subscriberBuffer {
		t.Errorf("buffered %d wake-ups, want %d", len(b), subscriberBuffer)
	}
}
