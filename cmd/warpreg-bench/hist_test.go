package main

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestHistQuantilesOfKnownData(t *testing.T) {
	var h hist
	// 1 µs to 100 ms in 1 µs steps, shuffled: the q-quantile is q × 100 ms.
	values := rand.New(rand.NewPCG(1, 2)).Perm(100000)
	for _, v := range values {
		h.record(time.Duration(v+1) * time.Microsecond)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 50 * time.Millisecond},
		{0.99, 99 * time.Millisecond},
		{0.999, 99900 * time.Microsecond},
		{1, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		got := h.quantile(tt.q)
		// Buckets are 1/128 wide, and a quantile is its bucket's highest value.
		if got < tt.want || float64(got-tt.want) > float64(tt.want)/subCount {
			t.Errorf("quantile(%v) = %v, want %v to %v", tt.q, got, tt.want,
				tt.want+tt.want/subCount)
		}
	}
	if h.n != 100000 || h.min != int64(time.Microsecond) || h.max != int64(100*time.Millisecond) {
		t.Errorf("n, min, max = %d, %d, %d", h.n, h.min, h.max)
	}
	if got, want := h.mean(), 50000500*time.Nanosecond; got != want {
		t.Errorf("mean = %v, want %v", got, want)
	}
}

func TestHistSmallValuesAreExact(t *testing.T) {
	var h hist
	for _, v := range []time.Duration{3, 3, 7, 100, 200} {
		h.record(v)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{{0.2, 3}, {0.4, 3}, {0.6, 7}, {0.8, 100}, {1, 200}}
	for _, tt := range tests {
		if got := h.quantile(tt.q); got != tt.want {
			t.Errorf("quantile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
}

func TestHistEmpty(t *testing.T) {
	var h hist
	if got := h.quantile(0.99); got != 0 {
		t.Errorf("quantile of nothing = %v, want 0", got)
	}
	if got := h.mean(); got != 0 {
		t.Errorf("mean of nothing = %v, want 0", got)
	}
}

// Every value falls in a bucket that holds it, buckets follow one another without
// gaps, and none is wider than 1/128 of its values.
func TestHistBuckets(t *testing.T) {
	prevEnd := int64(0)
	for i := range numBuckets {
		low, width := bucketRange(i)
		if low != prevEnd {
			t.Fatalf("bucket %d starts at %d, want %d", i, low, prevEnd)
		}
		if low >= 2*subCount && width*subCount > low {
			t.Fatalf("bucket %d [%d, +%d) is wider than 1/%d", i, low, width, subCount)
		}
		for _, v := range []int64{low, low + width - 1} {
			if got := bucketOf(v); got != i {
				t.Fatalf("bucketOf(%d) = %d, want %d", v, got, i)
			}
		}
		prevEnd = low + width
	}
	if bucketOf(1<<62) != numBuckets-1 || bucketOf(-5) != 0 {
		t.Errorf("out-of-range values are not clamped")
	}
}

func TestHistMergeEqualsRecordingAll(t *testing.T) {
	var all, a, b hist
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 10000 {
		v := time.Duration(rng.Int64N(int64(time.Second)))
		all.record(v)
		if i%3 == 0 {
			a.record(v)
		} else {
			b.record(v)
		}
	}
	var m hist
	m.merge(&a)
	m.merge(&b)
	if m != all {
		t.Errorf("merged histogram differs from the one that recorded everything")
	}
}
