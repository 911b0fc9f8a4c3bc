package sqlite

import (
	"log/slog"
	"path/filepath"
	"testing"
)

// openEmpty opens a new store in the test's own directory, closed when the test
// ends.
func openEmpty(t *testing.T) *Store {
	t.Helper()
	st, err := Open(t.Context(), filepath.Join(t.TempDir(), "t.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
