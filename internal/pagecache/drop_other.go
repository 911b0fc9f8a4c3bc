//go:build !linux

package pagecache

import "errors"

// Drop is Linux's posix_fadvise(DONTNEED), which this system lacks.
func Drop(...string) error {
	return errors.New("dropping a file from the page cache needs Linux")
}
