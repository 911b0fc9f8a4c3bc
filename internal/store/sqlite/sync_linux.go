package sqlite

import (
	"os"

	"golang.org/x/sys/unix"
)

// writebackChunk is how much of the database file pacedSync writes back at a time.
const writebackChunk = 4 << 20

// pacedSync syncs f a range at a time, waiting for each range's writes before it
// starts the next, and then syncs the whole file. One sync of a checkpoint's pages
// (a few hundred megabytes under a stream of revokes at a million registrations)
// fills the disk's queue, and the writer's commit, which syncs the log meanwhile,
// waits behind all of it (about 170 ms on the project's machine). Range by range,
// the queue holds a few megabytes at most and the commit's sync passes between two
// ranges. The final sync writes what is left (little) and the file's metadata, and
// flushes the disk's cache, so durability is that of a plain sync.
func pacedSync(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	fd := int(f.Fd())
	const flags = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE |
		unix.SYNC_FILE_RANGE_WAIT_AFTER
	for off := int64(0); off < fi.Size(); off += writebackChunk {
		if err := unix.SyncFileRange(fd, off, writebackChunk, flags); err != nil {
			return f.Sync() // a file system without it: sync at once
		}
	}
	return f.Sync()
}
