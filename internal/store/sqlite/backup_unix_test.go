//go:build unix

package sqlite

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestBackupRemovesWhatKilledBackupsLeft: the temporary copies (and their journals)
// of backups that were killed are removed by the next backup to the same output;
// one that a running backup holds locked is not.
func TestBackupRemovesWhatKilledBackupsLeft(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "w.db")
	st, err := Open(t.Context(), src, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	dst := filepath.Join(dir, "out.db")
	stale := filepath.Join(dir, ".out.db.tmp-123")
	running := filepath.Join(dir, ".out.db.tmp-456")
	other := filepath.Join(dir, ".other.db.tmp-789") // another output's
	for _, p := range []string{stale, stale + "-journal", running, other} {
		if err := os.WriteFile(p, []byte("partial copy"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(running)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := lockTemp(f); err != nil {
		t.Fatal(err)
	}

	_, err = Backup(t.Context(), src, dst, BackupOptions{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var left []string // and none of this backup's own
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := []string{".other.db.tmp-789", ".out.db.tmp-456", "out.db", "w.db"}
	if !slices.Equal(left, want) {
		t.Errorf("files left %v, want %v", left, want)
	}
}
