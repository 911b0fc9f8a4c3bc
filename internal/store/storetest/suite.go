// Package storetest is the conformance suite that every device.Store engine must
// pass. It drives a store directly through the Reader and Tx contract, and through
// device.Service with a fake clock, so that every rule holds the same way on every
// engine.
//
// Where the domain leaves a choice open, the suite pins one, so that two engines
// cannot disagree:
//   - strings sort by their bytes (SQLite's BINARY collation, PostgreSQL's "C");
//   - a descending list is the exact reverse of the ascending one, ties included;
//   - Page.Total counts every row that matches the filter, whatever the cursor,
//     or is device.TotalUnknown when a filter the counters do not answer matches
//     more than row.CountCap rows;
//   - User.Groups never reads back nil: a user written with nil or empty groups
//     reads back with an empty, non-nil slice, so that the wire shows [] not null.
package storetest

import (
	"testing"

	"github.com/warpreg/warpreg/internal/device"
)

// Run runs the suite against the engine that open provides. open must return a fresh,
// empty, migrated store on every call and close it with t.Cleanup. It is called from
// parallel subtests, one store per subtest.
func Run(t *testing.T, open func(t *testing.T) device.Store) {
	groups := []struct {
		name  string
		tests []behaviour
	}{
		{"contract", contractTests()},
		{"uniqueness", uniquenessTests()},
		{"state", stateTests()},
		{"enroll", enrollTests()},
		{"enroll refusals", refusalTests()},
		{"client", clientTests()},
		{"admin", adminTests()},
		{"credentials", credentialTests()},
		{"list", listTests()},
		{"list paging", pagingTests()},
		{"device lists", deviceListTests()},
		{"device admin", deviceAdminTests()},
		{"import", importTests()},
		{"profiles", profileTests()},
		{"assignment", assignTests()},
		{"change feed", feedTests()},
		{"legacy devices", legacyTests()},
		{"override codes", overrideTests()},
		{"audit log", auditTests()},
		{"races", raceTests()},
		{"retries", retryTests()},
		{"bulk load", bulkTests()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, b := range g.tests {
				t.Run(b.name, func(t *testing.T) {
					t.Parallel()
					b.run(t, newEnv(t, open(t)))
				})
			}
		})
	}
}

// behaviour is one named rule of the contract, checked on a fresh store.
type behaviour struct {
	name string
	run  func(t *testing.T, e *env)
}
