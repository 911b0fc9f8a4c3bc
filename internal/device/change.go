package device

import (
	"context"
	"time"
)

// ChangeKind names what happened to a registration.
type ChangeKind string

// The kinds of change the feed carries.
const (
	ChangeEnrolled   ChangeKind = "enrolled"    // a new registration, or one imported
	ChangeKeyRotated ChangeKind = "key_rotated" // the key (and maybe its type) changed
	ChangeRevoked    ChangeKind = "revoked"
	ChangeUnrevoked  ChangeKind = "unrevoked"
	ChangeDeleted    ChangeKind = "deleted"
	ChangeReassigned ChangeKind = "profile_reassigned"
)

// Change is one entry of an account's change feed. Seq numbers the account's
// changes from 1 without gaps, in commit order. The entry carries what a gateway
// needs to act without a second lookup: the key, whether the registration may be
// used now, and the key it replaced.
type Change struct {
	AccountID      string
	Seq            int64
	Kind           ChangeKind
	At             time.Time
	RegistrationID string
	DeviceID       string
	UserID         string
	Key            string
	KeyType        KeyType
	TunnelType     TunnelType
	PreviousKey    string // set on key_rotated
	Active         bool
	ProfileID      string
}

// changeFor describes r's current state as a change of kind k.
func changeFor(k ChangeKind, r *Registration, at time.Time) *Change {
	return &Change{
		AccountID: r.AccountID, Kind: k, At: at, RegistrationID: r.ID, DeviceID: r.DeviceID,
		UserID: r.UserID, Key: r.Key, KeyType: r.KeyType, TunnelType: r.TunnelType,
		Active: r.Active(), ProfileID: r.ProfileID,
	}
}

// ChangeFeed is the part of a store that keeps and announces the change log.
type ChangeFeed interface {
	// Changes returns up to limit changes of the account with Seq > after, in order.
	// It returns an error of kind KindGone when after is older than the retained
	// log, since changes the client has not seen were pruned, and one of kind
	// KindInvalid when after is beyond the newest change, since following from there
	// would silently skip the changes to come.
	Changes(ctx context.Context, accountID string, after int64, limit int) ([]Change, error)

	// Subscribe returns a channel that receives an account id, at least once, after
	// each commit that appended changes to that account's log. Which commits count is
	// the engine's to say: every instance's on PostgreSQL, this process's on SQLite;
	// readers also poll to catch the rest. An empty id wakes readers of every
	// account. The channel may drop wake-ups for a slow reader, but never the last
	// one: a reader that wakes and reads the log misses nothing. It closes when ctx
	// is done.
	Subscribe(ctx context.Context) <-chan string

	// PruneChanges deletes changes committed before cutoff and returns how many.
	PruneChanges(ctx context.Context, cutoff time.Time) (int64, error)
}
