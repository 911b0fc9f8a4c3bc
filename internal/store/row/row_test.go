package row

import (
	"strings"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
)

// TestViewColumnCount keeps viewColumnCount, which sizes the scan destinations,
// equal to the columns registrationViewColumns names and to the destinations
// appendViewDests appends.
func TestViewColumnCount(t *testing.T) {
	columns := strings.Count(registrationViewColumns, ",") + 1
	var v registrationScan
	dests := v.appendViewDests(nil, &device.Registration{})
	if columns != viewColumnCount || len(dests) != viewColumnCount {
		t.Fatalf("viewColumnCount %d, columns %d, destinations %d", viewColumnCount, columns,
			len(dests))
	}
}
