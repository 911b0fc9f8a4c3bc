package storetest

import (
	"context"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
)

// bulkLoader is the bulk mode both adapters offer the bench seed.
type bulkLoader interface {
	BulkLoad(ctx context.Context, load func(ctx context.Context) error) error
}

func bulkTests() []behaviour {
	return []behaviour{
		{"a bulk load leaves rows and indexes as ordinary writes do", testBulkLoad},
		{"a bulk load that breaks a unique index fails", testBulkLoadUnique},
	}
}

// testBulkLoad writes through Update inside BulkLoad, with the sort indexes set
// aside, and checks that the rows, the triggers' work and the lookups that the
// indexes serve are all there afterwards.
func testBulkLoad(t *testing.T, e *env) {
	b, ok := e.store.(bulkLoader)
	if !ok {
		t.Skip("this store has no bulk mode")
	}
	a := e.seedAccount(t, false)
	var d *device.Device
	var r *device.Registration
	err := b.BulkLoad(e.ctx, func(ctx context.Context) error {
		d = e.seedDevice(t, a.ID, "hw-bulk")
		r = e.seedRegistration(t, a, d, nil)
		return nil
	})
	if err != nil {
		t.Fatalf("BulkLoad: %v", err)
	}

	q := device.ListQuery{Status: device.StatusAll, Sort: device.SortByLastSeenAt, Limit: 10}
	page, err := e.store.ListRegistrations(e.ctx, a.ID, q)
	if err != nil {
		t.Fatalf("ListRegistrations: %v", err)
	}
	if page.Total != 1 || len(page.Registrations) != 1 || page.Registrations[0].ID != r.ID {
		t.Errorf("after the bulk load the list holds %d of %d, want %s alone",
			len(page.Registrations), page.Total, r.ID)
	}
	got, err := e.store.DeviceByHardwareID(e.ctx, a.ID, "hw-bulk")
	if err != nil || got.ID != d.ID {
		t.Fatalf("DeviceByHardwareID after the bulk load: %v, %v", got, err)
	}
	if got.ActiveRegistrations != 1 {
		t.Errorf("device's active count after the bulk load: %d, want 1",
			got.ActiveRegistrations)
	}
	dup := newRegistration(a, e.seedDevice(t, a.ID, "hw-other"), nil)
	dup.Key = r.Key
	e.wantConflict(t, "the key of a bulk-loaded registration", func(tx device.Tx) error {
		return tx.PutRegistration(e.ctx, dup)
	})
}

// testBulkLoadUnique writes two live registrations with one key while the unique
// index is set aside: building it again must fail, and BulkLoad say so.
func testBulkLoadUnique(t *testing.T, e *env) {
	b, ok := e.store.(bulkLoader)
	if !ok {
		t.Skip("this store has no bulk mode")
	}
	a := e.seedAccount(t, false)
	err := b.BulkLoad(e.ctx, func(ctx context.Context) error {
		r := e.seedRegistration(t, a, e.seedDevice(t, a.ID, "hw-1"), nil)
		twin := newRegistration(a, e.seedDevice(t, a.ID, "hw-2"), nil)
		twin.Key = r.Key
		e.update(t, func(tx device.Tx) error { return tx.PutRegistration(e.ctx, twin) })
		return nil
	})
	if err == nil {
		t.Error("BulkLoad of two live registrations with one key succeeded")
	}
}
