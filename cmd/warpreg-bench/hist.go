package main

import (
	"math"
	"math/bits"
	"time"
)

// The histogram's shape: every power of two is split into subCount linear buckets,
// so a value is kept to within 1/subCount of itself (under 1 %) at any magnitude,
// in a fixed array, as HdrHistogram does. Values are nanoseconds up to 2^maxBits
// (about 18 minutes); anything longer is counted as that.
const (
	subBits    = 7
	subCount   = 1 << subBits
	maxBits    = 40
	numBuckets = (maxBits-subBits)*subCount + subCount
)

// hist is a log-linear latency histogram. It is not safe for concurrent use: each
// worker keeps its own, and they are merged at the end.
type hist struct {
	counts   [numBuckets]int64
	n        int64
	sum      int64
	min, max int64
}

// bucketOf returns the bucket that holds v nanoseconds. Values below 2*subCount
// have a bucket each; above, the top subBits+1 bits of v pick the bucket.
func bucketOf(v int64) int {
	v = min(max(v, 0), 1<<maxBits-1)
	u := uint64(v)
	if u < 2*subCount {
		return int(u)
	}
	shift := bits.Len64(u) - subBits - 1
	return shift*subCount + int(u>>shift)
}

// bucketRange returns the lowest value of bucket i and its width.
func bucketRange(i int) (low, width int64) {
	if i < 2*subCount {
		return int64(i), 1
	}
	shift := i/subCount - 1
	top := int64(i%subCount + subCount)
	return top << shift, 1 << shift
}

// record adds one observation.
func (h *hist) record(d time.Duration) {
	v := int64(d)
	if h.n == 0 || v < h.min {
		h.min = v
	}
	h.max = max(h.max, v)
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += v
}

// merge adds o's observations to h.
func (h *hist) merge(o *hist) {
	if o.n == 0 {
		return
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
}

// quantile returns the value below or at which a fraction q of the observations
// lie, as the highest value of the bucket that holds that rank (so it errs high,
// never low), clamped to the exact minimum and maximum seen.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := max(int64(math.Ceil(q*float64(h.n))), 1)
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := bucketRange(i)
			return time.Duration(min(max(low+width-1, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// mean returns the exact mean.
func (h *hist) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / h.n)
}
