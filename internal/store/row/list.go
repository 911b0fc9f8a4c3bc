package row

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/warpreg/warpreg/internal/device"
)

// SortColumns maps each sort key to the column it orders by; each has an index on
// (account_id, column, id) over live rows. The user's name and email are copied onto
// the registration by triggers, empty when it has no user; text compares bytewise on
// both engines (SQLite's BINARY, PostgreSQL's "C" collation).
var SortColumns = map[device.SortField]string{
	device.SortByID:         "r.id",
	device.SortByUserName:   "r.user_name",
	device.SortByUserEmail:  "r.user_email",
	device.SortByLastSeenAt: "r.last_seen_at",
	device.SortByCreatedAt:  "r.created_at",
}

// CountColumn returns the accounts column expression that holds the number of
// registrations with status s; see OnlyStatus.
func CountColumn(s device.Status) string {
	switch s {
	case device.StatusRevoked:
		return "revoked_count"
	case device.StatusAll:
		return "live_count"
	default:
		return "live_count - revoked_count"
	}
}

// OnlyStatus reports whether q filters on nothing but the status, so that its
// total comes from the account's counters instead of counting rows.
func OnlyStatus(q *device.ListQuery) bool {
	return len(q.IDs) == 0 && q.DeviceID == "" && len(q.UserIDs) == 0 && q.Search == "" &&
		q.SeenAfter.IsZero() && q.SeenBefore.IsZero()
}

// PositionArg returns the SQL argument for a keyset position's sort value.
func PositionArg(f device.SortField, v string) (any, error) {
	if f != device.SortByLastSeenAt && f != device.SortByCreatedAt {
		return v, nil
	}
	t, err := device.ParseMicros(v)
	if err != nil {
		return nil, fmt.Errorf("list registrations: %w", err)
	}
	return t.UnixMicro(), nil
}

// LikePattern turns a search term into a case-folded substring pattern in which
// the term's own % and _ match only themselves (escaped with a backslash).
func LikePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

// DeviceSortColumns maps each device sort key to the column it orders by; each has
// an index on (account_id, column, id) over live devices. The last seen user's
// email is kept on the device's row by triggers, empty when it has none.
var DeviceSortColumns = map[device.DeviceSortField]string{
	device.DeviceSortByName:                "d.name",
	device.DeviceSortByID:                  "d.id",
	device.DeviceSortByClientVersion:       "d.client_version",
	device.DeviceSortByLastSeenUserEmail:   "d.last_seen_user_email",
	device.DeviceSortByLastSeenAt:          "d.last_seen_at",
	device.DeviceSortByActiveRegistrations: "d.active_count",
	device.DeviceSortByCreatedAt:           "d.created_at",
}

// DeviceCountColumn returns the accounts column expression that holds the number
// of live devices that filter a selects; see OnlyActive.
func DeviceCountColumn(a device.ActiveFilter) string {
	switch a {
	case device.ActiveInclude:
		return "live_device_count"
	case device.ActiveExclude:
		return "live_device_count - active_device_count"
	default:
		return "active_device_count"
	}
}

// OnlyActive reports whether q filters on nothing but active registrations, so
// that its total comes from the account's counters instead of counting rows.
func OnlyActive(q *device.DeviceListQuery) bool {
	return len(q.IDs) == 0 && q.LastSeenUserEmail == "" && q.Search == "" &&
		q.SeenAfter.IsZero() && q.SeenBefore.IsZero()
}

// ActiveCondition returns the condition on the alias d that filter a adds, or "".
func ActiveCondition(a device.ActiveFilter) string {
	switch a {
	case device.ActiveOnly:
		return "d.active_count > 0"
	case device.ActiveExclude:
		return "d.active_count = 0"
	default:
		return ""
	}
}

// DevicePositionArg returns the SQL argument for a device keyset position's sort
// value.
func DevicePositionArg(f device.DeviceSortField, v string) (any, error) {
	switch f {
	case device.DeviceSortByLastSeenAt, device.DeviceSortByCreatedAt:
		t, err := device.ParseMicros(v)
		if err != nil {
			return nil, fmt.Errorf("list devices: %w", err)
		}
		return t.UnixMicro(), nil
	case device.DeviceSortByActiveRegistrations:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("list devices: parse count position: %w", err)
		}
		return n, nil
	}
	return v, nil
}

// CountCap is how many matches a list counts, at most, for a filter that the
// account's counters do not answer. Counting every match of a broad filter reads
// every matching row, hundreds of milliseconds at a million; past the cap the store
// reports device.TotalUnknown instead.
const CountCap = 1000

// PageTotal returns the total of q's matches when the rows its page read tell it
// (got counts them, one more than q.Limit when another page follows): a first page
// with room to spare holds every match, and needs no count.
func PageTotal(q *device.ListQuery, got int) (int, bool) {
	return got, q.After == nil && got <= q.Limit
}

// Page makes q's page of the rows read for it, one more than q.Limit when another
// page follows, and its total.
func Page(q *device.ListQuery, regs []device.Registration, total int) device.Page {
	page := device.Page{Registrations: regs, Total: total}
	if len(regs) > q.Limit {
		page.Registrations = regs[:q.Limit]
		last := &page.Registrations[q.Limit-1]
		page.Next = &device.Position{Value: device.SortValue(last, q.Sort), ID: last.ID}
	}
	return page
}

// CappedTotal turns a count of at most CountCap+1 rows into a page's Total.
func CappedTotal(n int) int {
	if n > CountCap {
		return device.TotalUnknown
	}
	return n
}
