package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestReadGateQueuesAndGivesBack checks the reads' gate: a read waits while every
// token is out, gives up when its context ends, and each scanned read returns its
// token, so that the gate never runs dry.
func TestReadGateQueuesAndGivesBack(t *testing.T) {
	st := openEmpty(t)
	gate := st.cache.gate
	for range cap(gate) * 3 {
		var n int
		if err := st.queryRow(t.Context(), `SELECT 1`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("read: %d, %v", n, err)
		}
	}
	if len(gate) != 0 {
		t.Fatalf("%d gate tokens still out after every read was scanned", len(gate))
	}

	for range cap(gate) {
		gate <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	var n int
	err := st.queryRow(ctx, `SELECT 1`).Scan(&n)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("read with every token out: %v, want the context's deadline", err)
	}

	done := make(chan error, 1)
	go func() { done <- st.queryRow(t.Context(), `SELECT 1`).Scan(&n) }()
	<-gate // one token comes back: the waiting read goes ahead
	if err := <-done; err != nil {
		t.Errorf("read after a token came back: %v", err)
	}
}
