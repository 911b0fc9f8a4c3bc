package device

import (
	"errors"
	"fmt"
)

// Kind classifies an error for callers that map it to a protocol status. The list is
// short on purpose: a new kind is a new row in every adapter's mapping table.
type Kind int

// The kinds of domain error.
const (
	KindInternal     Kind = iota // a fault of ours; details stay in the logs
	KindInvalid                  // the request is malformed or violates a rule
	KindNotFound                 // no such object visible to the caller
	KindConflict                 // a uniqueness rule would be broken
	KindRevoked                  // the registration is revoked and may not be used
	KindUnauthorized             // missing, unknown or insufficient credentials
	KindGone                     // asked-for history was pruned; the client must resync
	KindUnavailable              // the store is busy for now; the same request may succeed later
)

// Error is a domain error with a message that is safe to show to clients.
type Error struct {
	Kind    Kind
	Message string
	Err     error // optional cause, for logs; never shown to clients
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind k with a formatted client-safe message.
func Errorf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of the first *Error in err's chain, or KindInternal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// MessageOf returns the client-safe message of err, or a generic one for faults.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != KindInternal {
		return e.Message
	}
	return "internal error"
}

// ErrNotFound is returned by stores when a looked-up row does not exist. Services turn
// it into messages that name the object.
var ErrNotFound = &Error{Kind: KindNotFound, Message: "not found"}

// ErrConflict is returned by stores when a unique constraint would be violated.
var ErrConflict = &Error{Kind: KindConflict, Message: "conflict"}

// ErrBusy is returned by stores when another holder of the database's write lock
// kept it past the wait the store allows (SQLite's busy timeout): nothing was
// written, and the request may be sent again.
var ErrBusy = &Error{Kind: KindUnavailable, Message: "the database is busy; try again shortly"}
