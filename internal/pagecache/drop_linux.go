// Package pagecache drops files from the kernel's page cache, for measurements
// and tests whose reads must come from the disk, as they do on a server whose rows
// nobody has read for a while.
package pagecache

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// Drop writes back the files' pages and asks the kernel to drop them from its page
// cache (posix_fadvise DONTNEED), so that what next reads them reads the disk.
// Unlike dropping every cache (/proc/sys/vm/drop_caches), it needs no privilege and
// leaves the rest of the machine alone. A path that does not exist is skipped: a
// database may have no write-ahead log yet.
func Drop(paths ...string) error {
	for _, path := range paths {
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		err = f.Sync()
		if err == nil {
			err = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		}
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
