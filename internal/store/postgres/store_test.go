package postgres_test

import (
	"log/slog"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/postgres"
	"github.com/warpreg/warpreg/internal/store/storetest"
	"github.com/warpreg/warpreg/internal/store/testdb"
)

// TestConformance runs the storage conformance suite on PostgreSQL, each subtest in
// a schema of its own.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) device.Store {
		s, err := postgres.Open(t.Context(), testdb.PostgresURL(t), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
