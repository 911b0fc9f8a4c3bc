package row

import (
	"fmt"
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
