package sqlite

import (
	"crypto/rand"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/pagecache"
)

// TestPrefetchGoesOnOnlyFromTheDisk checks the probe that decides whether a read
// ahead is worth it, and the read ahead itself: with the registrations' pages in
// memory it stops after the probe; with the database dropped from the page cache
// (all but the pages any query reads) it reads the rest, after which reading every
// registration the change names touches the disk no more. The registrations are
// spaced out so that each one's row is on a page of its own.
func TestPrefetchGoesOnOnlyFromTheDisk(t *testing.T) {
	st, svc, acct := openWithAccount(t)
	var fs unix.Statfs_t
	if err := unix.Statfs(st.path, &fs); err != nil || fs.Type == unix.TMPFS_MAGIC {
		t.Skipf("the test directory is in memory (statfs: %v), so nothing is read from a disk",
			err)
	}
	all := enrollSome(t, svc, acct, 300)
	var ids []string
	for i := 0; i < len(all); i += 25 {
		ids = append(ids, all[i])
	}
	fromDisk := func() bool {
		t.Helper()
		cold, err := readsStorage(func() error {
			_, err := st.prefetch.read(t.Context(), acct.ID, ids)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return cold
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
			if err := pagecache.Drop(st.path, st.path+"-wal"); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Account(t.Context(), acct.ID); err != nil {
				t.Fatal(err) // the schema and the account: read by every query
			}
		} else {
			// This machine's kernel reclaims pages unused for a few seconds, and a
			// loaded test run is slow: read them all just before.
			fromDisk()
		}
		n, err := st.prefetch.run(t.Context(), acct.ID, ids)
		st.prefetch.reads.Wait()
		if err != nil || n != want {
			t.Errorf("%s: read ahead %d ids after the probe (%v), want %d", what, n, err, want)
		}
		if what == "cold" && fromDisk() {
			t.Errorf("%s: after the read ahead, the registrations are read from the disk", what)
		}
	}

	run("warm", 0)
	run("cold", len(ids)-prefetchProbe)
	run("warm again", 0)
}
