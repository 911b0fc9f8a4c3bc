package sqlite_test

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/sqlite"
	"github.com/warpreg/warpreg/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) device.Store {
		path := filepath.Join(t.TempDir(), "warpreg.db")
		s, err := sqlite.Open(t.Context(), path, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close %s: %v", path, err)
			}
		})
		return s
	})
}
