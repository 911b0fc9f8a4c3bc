package sqlite

import (
	"crypto/rand"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/warpreg/warpreg/internal/device"
)

// TestPrefetchGoesOnOnlyFromTheDisk checks the probe that decides whether a read
// ahead is worth it: with the registrations' pages in memory it stops after the
// probe, and with the database dropped from the page cache it reads the rest.
func TestPrefetchGoesOnOnlyFromTheDisk(t *testing.T) {
	st, svc, acct := openWithAccount(t)
	ids := enrollSome(t, svc, acct, 12)
	var fs unix.Statfs_t
	if err := unix.Statfs(st.path, &fs); err != nil || fs.Type == unix.TMPFS_MAGIC {
		t.Skipf("the test directory is in memory (statfs: %v), so nothing is read from a disk",
			err)
	}
	run := func(what string, want int) {
		t.Helper()
		// A write first, so that every read-ahead connection starts from an empty
		// page cache of its own, as under a server's load.
		err := st.Update(t.Context(), func(tx device.Tx) error {
			return tx.PutSettingIfAbsent(t.Context(), rand.Text(), []byte("x"))
		})
		if err != nil {
			t.Fatal(err)
		}
		if what == "cold" {
			dropFromPageCache(t, st.path, st.path+"-wal")
		}
		n, err := st.prefetch.run(t.Context(), acct.ID, ids)
		st.prefetch.reads.Wait()
		if err != nil || n != want {
			t.Errorf("%s: read ahead %d ids after the probe (%v), want %d", what, n, err, want)
		}
	}

	run("warm", 0)
	run("cold", len(ids)-prefetchProbe)
	run("warm again", 0)
}

// dropFromPageCache writes the files' pages back and asks the kernel to drop them
// from its page cache, so that the next reads go to the disk.
func dropFromPageCache(t *testing.T, paths ...string) {
	t.Helper()
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		err = f.Sync()
		if err == nil {
			err = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		}
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}
