package ratelimit

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func fiveInTen() *Limiter {
	return New(Policy{Name: "test", Limit: 5, Window: 10 * time.Second}, 0)
}

func TestBurstThenSustainedRate(t *testing.T) {
	l := fiveInTen()
	for i := range 5 {
		d := l.Allow("k", t0)
		if !d.Allowed || d.Remaining != 4-i {
			t.Fatalf("request %d: %+v; want allowed with %d remaining", i+1, d, 4-i)
		}
	}
	d := l.Allow("k", t0)
	want := Decision{Allowed: false, Remaining: 0, Reset: 10 * time.Second,
		RetryAfter: 2 * time.Second}
	if d != want {
		t.Fatalf("sixth request: %+v; want %+v", d, want)
	}

	// One request comes back every Window/Limit, not sooner.
	if d := l.Allow("k", t0.Add(2*time.Second-time.Nanosecond)); d.Allowed {
		t.Errorf("a nanosecond early: %+v; want refused", d)
	}
	if d := l.Allow("k", t0.Add(2*time.Second)); !d.Allowed || d.Remaining != 0 {
		t.Errorf("after one interval: %+v; want allowed with none remaining", d)
	}
	if d := l.Allow("k", t0.Add(2*time.Second)); d.Allowed {
		t.Errorf("twice after one interval: %+v; want refused", d)
	}

	// A full window later the whole budget is back.
	later := t0.Add(12 * time.Second)
	if d := l.Peek("k", later); !d.Allowed || d.Remaining != 5 || d.Reset != 0 {
		t.Errorf("a window later: %+v; want the full budget", d)
	}
}

func TestKeysAreIndependent(t *testing.T) {
	l := fiveInTen()
	for range 6 {
		l.Allow("spent", t0)
	}
	if d := l.Allow("spent", t0); d.Allowed {
		t.Fatalf("spent key allowed: %+v", d)
	}
	if d := l.Allow("other", t0); !d.Allowed || d.Remaining != 4 {
		t.Errorf("another key: %+v; want allowed with 4 remaining", d)
	}
}

func TestPeekDoesNotSpend(t *testing.T) {
	l := fiveInTen()
	for range 20 {
		if d := l.Peek("k", t0); !d.Allowed || d.Remaining != 5 {
			t.Fatalf("peek: %+v; want allowed with 5 remaining", d)
		}
	}
	if n := l.Len(); n != 0 {
		t.Errorf("peeks stored %d keys, want 0", n)
	}
}

func TestTakeSpendsAnEmptyBudgetWithoutDebt(t *testing.T) {
	l := fiveInTen()
	for range 100 {
		l.Take("k", t0)
	}
	d := l.Peek("k", t0)
	if d.Allowed || d.RetryAfter != 2*time.Second {
		t.Fatalf("after 100 takes: %+v; want refused for one interval", d)
	}
	if d := l.Peek("k", t0.Add(10*time.Second)); !d.Allowed || d.Remaining != 5 {
		t.Errorf("a window after 100 takes: %+v; want the full budget", d)
	}
}

func TestConcurrentCallersShareOneBudget(t *testing.T) {
	l := New(Policy{Limit: 100, Window: time.Minute}, 0)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if l.Allow("k", t0).Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 100 {
		t.Errorf("%d of 400 concurrent requests allowed, want exactly 100", n)
	}
}

func TestMemoryIsBounded(t *testing.T) {
	const maxKeys = 16 * 8
	l := New(Policy{Limit: 5, Window: 10 * time.Second}, maxKeys)
	for i := range 10_000 {
		l.Allow(fmt.Sprint("addr-", i), t0)
		if n := l.Len(); n > maxKeys {
			t.Fatalf("after %d keys the limiter holds %d, over its bound of %d", i+1, n, maxKeys)
		}
	}

	// Keys whose budget has refilled are forgotten first.
	later := t0.Add(time.Minute)
	for i := range maxKeys {
		l.Allow(fmt.Sprint("new-", i), later)
	}
	if n := l.Len(); n > maxKeys {
		t.Errorf("holds %d keys, over its bound of %d", n, maxKeys)
	}
}

func TestEvictionSparesSpentBudgets(t *testing.T) {
	l := New(Policy{Limit: 5, Window: 10 * time.Second}, 16*4)
	for range 5 {
		l.Allow("attacker", t0)
	}
	// A crowd of keys that each spent one request fills every shard many times over;
	// the spent key is the last any shard would drop.
	for i := range 5_000 {
		l.Allow(fmt.Sprint("crowd-", i), t0)
	}
	if d := l.Allow("attacker", t0); d.Allowed {
		t.Errorf("the spent key was forgotten under pressure: %+v", d)
	}
}

// BenchmarkAllow measures one request against a budget among many keys, in
// parallel, as a server's handlers spend them.
func BenchmarkAllow(b *testing.B) {
	l := New(Policy{Limit: 1200, Window: 5 * time.Minute}, 0)
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("registration:%08d-0000-4000-8000-000000000000", i)
	}
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1000))
		for pb.Next() {
			l.Allow(keys[i%len(keys)], t0)
			i++
		}
	})
}
