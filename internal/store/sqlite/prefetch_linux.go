package sqlite

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// readsStorage runs fn and reports whether it read from storage: whether the
// kernel counted block input for the thread that ran it. fn runs on one locked
// thread, so the count is fn's own and not the other requests'. Where the count
// cannot be read, it reports true: reading ahead is then the safe side. A file
// system that does not count block input (some network and FUSE ones) reads as
// memory: the change then runs as it would without a read ahead.
func readsStorage(fn func() error) (bool, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	var before, after unix.Rusage
	if unix.Getrusage(unix.RUSAGE_THREAD, &before) != nil {
		return true, fn()
	}
	err := fn()
	if unix.Getrusage(unix.RUSAGE_THREAD, &after) != nil {
		return true, err
	}
	return after.Inblock > before.Inblock, err
}
