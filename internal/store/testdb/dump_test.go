package testdb_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/testdb"
)

// TestDumpSeesEveryWrite checks that a dump lists every table, and that a committed
// write, even one that changes a single column, changes it.
func TestDumpSeesEveryWrite(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	db := testdb.New(t, log)
	svc := device.NewService(db.Store, nil, log)
	empty := db.Dump(t)
	for _, table := range []string{"accounts", "registrations", "schema_migrations", "users"} {
		if !strings.Contains(empty, "\n"+table+": ") && !strings.HasPrefix(empty, table+": ") {
			t.Errorf("the dump has no table %s:\n%s", table, empty)
		}
	}
	if db.Dump(t) != empty {
		t.Fatal("two dumps of an unchanged database differ")
	}

	acct, err := svc.CreateAccount(t.Context(), "test", false)
	if err != nil {
		t.Fatal(err)
	}
	created := db.Dump(t)
	if created == empty || !strings.Contains(created, acct.ID) {
		t.Fatalf("the dump does not show a new account:\n%s", created)
	}
	if _, _, err := svc.CreateAPIToken(t.Context(), acct.ID, "ci", true); err != nil {
		t.Fatal(err)
	}
	if db.Dump(t) == created {
		t.Error("the dump does not show a new API token")
	}
}
