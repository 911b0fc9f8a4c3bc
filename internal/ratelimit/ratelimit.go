// Package ratelimit keeps a request budget per key (a credential, a client address)
// with the generic cell rate algorithm, GCRA: a budget of Limit requests refills
// evenly over Window, so a client may spend it at once and then gets one request
// every Window/Limit. Each key costs one timestamp, the time at which its budget
// would be full again, and keys whose budget is full are forgotten, so memory is
// bounded by the number of keys that are actually spending.
//
// Times are passed in by the caller, which keeps the arithmetic testable with a
// fake clock and free of sleeps.
package ratelimit

import (
	"hash/maphash"
	"sync"
	"time"
)

// Policy is a budget: Limit requests per Window.
type Policy struct {
	Name   string // how the RateLimit headers name it
	Limit  int
	Window time.Duration
}

// Decision is the outcome of one request against its key's budget.
type Decision struct {
	Allowed bool

	// Remaining is how many more requests the budget allows right now.
	Remaining int

	// Reset is how long until the budget is full again.
	Reset time.Duration

	// RetryAfter is how long until the next request is allowed; zero when it is.
	RetryAfter time.Duration
}

// DefaultMaxKeys bounds the keys one Limiter remembers: about 120 bytes each, so
// at most some 6 MB per limiter however many clients turn up.
const DefaultMaxKeys = 50_000

const shards = 16

// Limiter applies one Policy to many keys. It is safe for concurrent use.
type Limiter struct {
	policy   Policy
	interval int64 // nanoseconds between requests at the sustained rate
	window   int64
	perShard int
	seed     maphash.Seed
	shards   [shards]shard
}

type shard struct {
	mu        sync.Mutex
	full      map[string]int64 // key -> Unix ns at which its budget is full again
	lastSweep int64
}

// New returns a Limiter for p that remembers at most maxKeys keys (DefaultMaxKeys if
// maxKeys <= 0). p.Limit and p.Window must be positive.
func New(p Policy, maxKeys int) *Limiter {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	l := &Limiter{
		policy: p, window: int64(p.Window), interval: max(1, int64(p.Window)/int64(p.Limit)),
		perShard: max(1, maxKeys/shards), seed: maphash.MakeSeed(),
	}
	for i := range l.shards {
		l.shards[i].full = make(map[string]int64)
	}
	return l
}

// Policy returns the limiter's policy.
func (l *Limiter) Policy() Policy { return l.policy }

// Allow spends one request of key's budget if there is one left.
func (l *Limiter) Allow(key string, now time.Time) Decision {
	return l.apply(key, now, true, false)
}

// Peek says whether key's budget allows a request now, without spending it.
func (l *Limiter) Peek(key string, now time.Time) Decision {
	return l.apply(key, now, false, false)
}

// Take spends one request of key's budget even when it is empty, for requests
// counted after the fact (a failed authentication). An empty budget stays empty
// for at most one interval: debt never builds up beyond one Window.
func (l *Limiter) Take(key string, now time.Time) Decision {
	return l.apply(key, now, true, true)
}

func (l *Limiter) apply(key string, now time.Time, spend, force bool) Decision {
	t := now.UnixNano()
	s := &l.shards[maphash.String(l.seed, key)%shards]
	s.mu.Lock()
	defer s.mu.Unlock()

	full, known := s.full[key]
	full = max(full, t)
	next := full + l.interval
	earliest := next - l.window // the budget has room once t reaches this
	allowed := t >= earliest
	if spend && (allowed || force) {
		if !known {
			s.makeRoom(t, l.perShard)
		}
		s.full[key] = min(next, t+l.window)
	}

	d := Decision{Allowed: allowed}
	if !allowed {
		d.RetryAfter = time.Duration(earliest - t)
	}
	stored := full
	if spend && allowed {
		stored = next
	}
	d.Reset = time.Duration(stored - t)
	d.Remaining = int((t + l.window - stored) / l.interval)
	return d
}

// makeRoom keeps the shard within max keys before one is added. Keys whose
// budget is full are dropped first (forgetting them changes nothing); if every key
// is spending, the one of a few sampled that is closest to full goes.
func (s *shard) makeRoom(now int64, max int) {
	if len(s.full) < max {
		return
	}
	if now-s.lastSweep >= int64(time.Second) {
		s.lastSweep = now
		for k, full := range s.full {
			if full <= now {
				delete(s.full, k)
			}
		}
	}
	for len(s.full) >= max {
		victim, soonest, n := "", int64(0), 0
		for k, full := range s.full {
			if n == 0 || full < soonest {
				victim, soonest = k, full
			}
			if n++; n == 8 {
				break
			}
		}
		delete(s.full, victim)
	}
}

// Len returns how many keys the limiter remembers.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.full)
		s.mu.Unlock()
	}
	return n
}
