package device

import (
	"context"
	"time"
)

// ActorKind names the kind of credential behind a change.
type ActorKind string

// The actors the audit log knows. System covers work no caller asked for directly,
// such as re-evaluating profile assignments after a restart.
const (
	ActorAPIToken      ActorKind = "api_token"
	ActorGlobalKey     ActorKind = "global_key"
	ActorEnrollmentKey ActorKind = "enrollment_key"
	ActorRegistration  ActorKind = "registration"
	ActorCLI           ActorKind = "cli"
	ActorSystem        ActorKind = "system"
)

// Actor is who made a change and from where. ID names the credential (a token id, an
// enrolment key id, a registration id, a global key's email); it is never a secret.
// Addr is the client's network address as the server saw it, empty for the CLI.
type Actor struct {
	Kind ActorKind
	ID   string
	Addr string
}

type actorKey struct{}

// WithActor returns ctx carrying a as the author of the writes made under it.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor ctx carries. A context without one, or with only an
// address, is the system's.
func ActorFrom(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	if a.Kind == "" {
		a.Kind = ActorSystem
	}
	return a
}

// actingAs makes the writes that follow in tx carry the given credential as their
// actor, for calls that learn who the caller is only inside the transaction (an
// enrolment key is looked up there).
func actingAs(tx Tx, kind ActorKind, id string) {
	if t, ok := tx.(*auditTx); ok {
		t.actor.Kind, t.actor.ID = kind, id
	}
}

// actAs returns ctx with the actor's kind and id replaced, keeping the address the
// transport recorded: the client API learns who is calling only once the service has
// checked the credential.
func actAs(ctx context.Context, kind ActorKind, id string) context.Context {
	a, _ := ctx.Value(actorKey{}).(Actor)
	a.Kind, a.ID = kind, id
	return WithActor(ctx, a)
}

// Snapshot is the audited state of one object: field names as the API spells them,
// values as text. Secrets and their hashes are never part of one, nor fields that
// change on every heartbeat.
type Snapshot map[string]string

// AuditEntry is one change to one object of an account. Seq numbers the account's
// entries from 1 without gaps, in commit order. Before is nil for a created object.
type AuditEntry struct {
	AccountID  string
	Seq        int64
	At         time.Time
	Actor      Actor
	Action     string // "<target type>.<verb>", such as "registration.revoke"
	TargetType string
	TargetID   string
	Before     Snapshot
	After      Snapshot
}

// AuditQuery selects entries of one account, newest first.
type AuditQuery struct {
	Before     int64  // only entries with Seq < Before; 0 means from the newest
	Limit      int    // at most this many
	TargetID   string // only entries about this object, when set
	TargetType string // only entries about objects of this type, when set
}

// AuditLog returns one page of an account's audit log, newest first.
func (s *Service) AuditLog(
	ctx context.Context, accountID string, q AuditQuery,
) ([]AuditEntry, error) {
	if q.Limit < 1 || q.Limit > MaxPerPage {
		return nil, Errorf(KindInvalid, "per_page must be between 1 and %d", MaxPerPage)
	}
	if q.Before < 0 {
		return nil, Errorf(KindInvalid, "cursor is not valid")
	}
	if _, err := s.Account(ctx, accountID); err != nil {
		return nil, err
	}
	return s.store.AuditLog(ctx, accountID, q)
}
