package sqlite

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestPacedSync syncs a file larger than a few write-back ranges, whose size is not
// a multiple of one, keeps its content, and reports an error on a closed file
// instead of claiming a sync.
func TestPacedSync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Repeat([]byte("warpreg!"), (3*(4<<20)+12345)/8)
	if _, err := f.Write(want); err != nil {
		t.Fatal(err)
	}
	if err := pacedSync(f); err != nil {
		t.Fatalf("pacedSync: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("content changed: %d bytes, want %d", len(got), len(want))
	}
	if err := pacedSync(f); err == nil {
		t.Fatal("pacedSync of a closed file: no error")
	}
}
