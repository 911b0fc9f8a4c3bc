//go:build !linux

package main

import "errors"

// dropFromPageCache is Linux's posix_fadvise(DONTNEED), which this system lacks.
func dropFromPageCache(...string) error {
	return errors.New("dropping a file from the page cache needs Linux")
}
