//go:build unix

package sqlite

import (
	"os"
	"syscall"
)

// lockTemp takes an exclusive lock on f, a backup's temporary file, held until f is
// closed or the process ends, however it ends: the lock is what tells a later backup
// that the file is another's work in progress rather than one a killed backup left.
func lockTemp(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
