package sqlite_test

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/sqlite"
)

// BenchmarkAuthenticateToken is a whole credential check on SQLite: hash the
// presented token and look it up by its unique index.
func BenchmarkAuthenticateToken(b *testing.B) {
	st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "b.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	svc := device.NewService(st, nil, slog.New(slog.DiscardHandler))
	a, err := svc.CreateAccount(b.Context(), "bench", false)
	if err != nil {
		b.Fatal(err)
	}
	_, secret, err := svc.CreateAPIToken(b.Context(), a.ID, "b", true)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := svc.AuthenticateToken(b.Context(), secret); err != nil {
				b.Fatal(err)
			}
		}
	})
}
