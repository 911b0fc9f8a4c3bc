//go:build !linux

package sqlite

import "os"

// pacedSync syncs f at once: writing it back a range at a time (see the Linux
// version) needs sync_file_range, which only Linux has.
func pacedSync(f *os.File) error { return f.Sync() }
