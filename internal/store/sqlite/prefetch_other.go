//go:build !linux

package sqlite

// readsStorage runs fn. Without a per-thread count of block input to tell whether
// fn read from storage, it reports true, so that every bulk change is read ahead.
func readsStorage(fn func() error) (bool, error) {
	return true, fn()
}
