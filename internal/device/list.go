package device

import "time"

// Status selects registrations by their revocation state. Deleted registrations are
// never listed, whatever the status.
type Status string

// The statuses a list can filter on; StatusActive is the default.
const (
	StatusActive  Status = "active"
	StatusRevoked Status = "revoked"
	StatusAll     Status = "all"
)

// SortField is a key that registration lists can be ordered by. Every sort is made
// total by the registration id, so ties never lose or repeat a row across pages.
type SortField string

// The sort keys that Cloudflare's list registrations endpoint accepts.
const (
	SortByID         SortField = "id"
	SortByUserName   SortField = "user.name"
	SortByUserEmail  SortField = "user.email"
	SortByLastSeenAt SortField = "last_seen_at"
	SortByCreatedAt  SortField = "created_at"
)

// SortFields lists every sort key, in documentation order.
var SortFields = []SortField{
	SortByID, SortByUserName, SortByUserEmail, SortByLastSeenAt, SortByCreatedAt,
}

// Position is a keyset position in a sorted list: the sort key of the last row seen
// and its id. Value holds the key as text (timestamps as Unix microseconds).
type Position struct {
	Value string
	ID    string
}

// ListQuery selects and orders registrations of one account. Zero values mean "no
// filter", except Status, which the service defaults to active.
type ListQuery struct {
	IDs        []string
	DeviceID   string
	UserIDs    []string
	Status     Status
	Search     string    // case-insensitive substring of id, device name, user email or name
	SeenAfter  time.Time // last seen strictly after this; zero for no bound
	SeenBefore time.Time // last seen strictly before this; zero for no bound
	Sort       SortField
	Desc       bool
	Limit      int
	After      *Position // continue after this row; nil for the first page
}

// Page is one page of a list. Rows are ordered by the sort key, then id, both in the
// query's direction, so a descending list is the exact reverse of the ascending one.
// Total counts every row that matches the filters, whatever the position, or is
// TotalUnknown when more rows match than the store will count. Next is nil on the
// last page.
type Page struct {
	Registrations []Registration
	Total         int
	Next          *Position
}

// TotalUnknown is a page's Total when more rows match than the store counts. A
// store counts the matches of a filter its counters do not answer only up to a cap,
// so that a broad filter costs a bounded read rather than one of every match; past
// the cap it says it does not know rather than report a wrong number.
const TotalUnknown = -1

// SortValue returns r's key for field f, in the form Position.Value uses.
func SortValue(r *Registration, f SortField) string {
	switch f {
	case SortByUserName:
		if r.User == nil {
			return ""
		}
		return r.User.Name
	case SortByUserEmail:
		if r.User == nil {
			return ""
		}
		return r.User.Email
	case SortByLastSeenAt:
		return formatMicros(r.LastSeenAt)
	case SortByCreatedAt:
		return formatMicros(r.CreatedAt)
	default:
		return r.ID
	}
}
