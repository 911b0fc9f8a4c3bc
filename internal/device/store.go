package device

import (
	"context"
	"time"
)

// Reader holds the queries that a store answers outside and inside transactions.
// Unless said otherwise, a lookup that finds nothing returns an error for which
// errors.Is(err, ErrNotFound) holds.
type Reader interface {
	Account(ctx context.Context, id string) (*Account, error)
	Profile(ctx context.Context, accountID, id string) (*Profile, error)

	// Profiles returns the account's profiles that are not deleted: the default
	// first, then the custom ones by precedence (those without one last), then id.
	Profiles(ctx context.Context, accountID string) ([]Profile, error)

	// Rules returns the rule of each of the account's profiles that is not deleted,
	// in the order of Profiles.
	Rules(ctx context.Context, accountID string) ([]Rule, error)

	// Candidates returns up to limit of the account's registrations that are not
	// deleted, revoked ones included, with ids after after, in id order.
	Candidates(ctx context.Context, accountID, after string, limit int) ([]Candidate, error)

	// CandidatesByID returns those of the given registrations of the account that
	// are not deleted, in id order.
	CandidatesByID(ctx context.Context, accountID string, ids []string) ([]Candidate, error)

	// Reassignment returns the account's pending re-evaluation of profile
	// assignments. It returns ErrNotFound when none is pending.
	Reassignment(ctx context.Context, accountID string) (Reassignment, error)

	// PendingReassignments returns the accounts that have a re-evaluation pending.
	PendingReassignments(ctx context.Context) ([]string, error)
	User(ctx context.Context, accountID, id string) (*User, error)
	UserByEmail(ctx context.Context, accountID, email string) (*User, error)

	// Device returns a device with its read views filled, a deleted one (a
	// tombstone) included.
	Device(ctx context.Context, accountID, id string) (*Device, error)

	// DeviceByHardwareID and DeviceBySerial find the live (not deleted) device that
	// carries the given identifier. Hardware ids are unique among live devices;
	// serial numbers need not be, so DeviceBySerial returns ErrConflict when more
	// than one live device carries serial. With bare, it looks only among the
	// devices without a hardware id.
	DeviceByHardwareID(ctx context.Context, accountID, hardwareID string) (*Device, error)
	DeviceBySerial(ctx context.Context, accountID, serial string, bare bool) (*Device, error)

	// Registration returns a registration with its read views filled, including a
	// deleted one (a tombstone). It never returns another account's row.
	Registration(ctx context.Context, accountID, id string) (*Registration, error)

	// RegistrationByID is Registration without the account scope, for the client API,
	// where the registration's own secret is the credential.
	RegistrationByID(ctx context.Context, id string) (*Registration, error)

	// RegistrationsByID is RegistrationByID for many ids in one read: the rows found,
	// deleted ones included, in no particular order; an id without a row is left out.
	RegistrationsByID(ctx context.Context, ids []string) ([]Registration, error)

	// LiveRegistration returns the registration that is not deleted in the seat
	// (deviceID, slot); see Registration.Slot.
	LiveRegistration(ctx context.Context, deviceID, slot string) (*Registration, error)

	// ListRegistrations returns one page of q. It validates nothing: the service does.
	// Its registrations are as a list shows them, as TokenRegistration's are: without
	// slot, secret hash or their profile's times.
	ListRegistrations(ctx context.Context, accountID string, q ListQuery) (Page, error)

	// ListDevices returns one page of q, devices with their read views. It
	// validates nothing: the service does.
	ListDevices(ctx context.Context, accountID string, q DeviceListQuery) (DevicePage, error)

	// DeviceRegistrations returns the registrations of the account's device
	// deviceID that are not deleted, ordered by id, with their read views.
	DeviceRegistrations(ctx context.Context, accountID, deviceID string) ([]Registration, error)

	APITokenByHash(ctx context.Context, hash []byte) (*APIToken, error)

	// TokenRegistration reads, in one round trip, the API token whose hash is
	// tokenHash and the registration id of accountID, a tombstone included. It
	// returns ErrNotFound unless the token exists, belongs to accountID and the
	// registration does too: the caller then tells those cases apart the slow way.
	// It reads what a get answers and no more: the token's id, account and
	// read-only flag, and the registration without its slot, its secret's hash or
	// its profile's creation and update times (a registration's "view").
	TokenRegistration(
		ctx context.Context, tokenHash []byte, accountID, id string,
	) (*APIToken, *Registration, error)

	GlobalKeyByHash(ctx context.Context, email string, hash []byte) (*GlobalKey, error)
	EnrollmentKeyByHash(ctx context.Context, hash []byte) (*EnrollmentKey, error)

	// APITokens, GlobalKeys and EnrollmentKeys list an account's credentials, oldest
	// first (by creation time, then id). An unknown account has none.
	APITokens(ctx context.Context, accountID string) ([]APIToken, error)
	GlobalKeys(ctx context.Context, accountID string) ([]GlobalKey, error)
	EnrollmentKeys(ctx context.Context, accountID string) ([]EnrollmentKey, error)

	// Setting returns a server-wide value stored under name.
	Setting(ctx context.Context, name string) ([]byte, error)

	// RegistrationByKey returns the live (not deleted) registration of the account
	// that holds key, with its read views.
	RegistrationByKey(ctx context.Context, accountID, key string) (*Registration, error)

	// DeviceView returns a registration of the account with its device's facts,
	// including a deleted one.
	DeviceView(ctx context.Context, accountID, id string) (*DeviceView, error)

	// DeviceViews returns up to limit live (not deleted) registrations of the account
	// with an id greater than after, in id order, each with its device's facts.
	DeviceViews(ctx context.Context, accountID, after string, limit int) ([]DeviceView, error)

	// OverrideSecret returns the override secret of a registration.
	OverrideSecret(ctx context.Context, registrationID string) (*OverrideSecret, error)

	// AuditLog returns the account's audit entries that q selects, newest first.
	AuditLog(ctx context.Context, accountID string, q AuditQuery) ([]AuditEntry, error)
}

// Tx is a write transaction. Writes that would break a uniqueness rule return an
// error for which errors.Is(err, ErrConflict) holds. The Put methods insert a row or
// replace the one with the same id; an id held by another account is a conflict,
// never an overwrite. A replace keeps the row's CreatedAt, and LastSeenAt never
// moves backwards.
type Tx interface {
	Reader

	InsertAccount(ctx context.Context, a *Account) error
	SetDefaultProfile(ctx context.Context, accountID, profileID string) error

	// PutProfile inserts or replaces a profile by id. Two live profiles of an
	// account never share a precedence (ErrConflict).
	PutProfile(ctx context.Context, p *Profile) error

	// AssignProfile moves the registrations rs of one account (named by their
	// AccountID and ID) to the profile, stamping their PolicyUpdatedAt with at, and
	// writes nothing else. Their other fields must be as read in this transaction:
	// the audit log records them as the state before the move.
	AssignProfile(ctx context.Context, profileID string, rs []*Registration, at time.Time) error

	// StartReassignment starts a re-evaluation of the account's profile
	// assignments from its first registration, under a generation greater than any
	// before, whether or not one was pending.
	StartReassignment(ctx context.Context, accountID string) error

	// AdvanceReassignment records that the pending re-evaluation r has got to
	// after; FinishReassignment that r is done. Both compare and set: they return
	// ErrConflict, and change nothing, unless the account's pending re-evaluation is
	// still exactly r (same generation, same progress).
	AdvanceReassignment(ctx context.Context, accountID string, r Reassignment, after string) error
	FinishReassignment(ctx context.Context, accountID string, r Reassignment) error

	// PutUser inserts or replaces a user by id.
	PutUser(ctx context.Context, u *User) error

	// PutDevice inserts or replaces a device by id. Only the stored fields are
	// written; the read views are ignored.
	PutDevice(ctx context.Context, d *Device) error

	// PutRegistration inserts or replaces a registration by id. Only the stored
	// fields are written; the read views are ignored.
	PutRegistration(ctx context.Context, r *Registration) error

	// SetRegistrationState writes r's RevokedAt, DeletedAt and UpdatedAt and nothing
	// else: revocations and deletions touch no index but the ones they must.
	SetRegistrationState(ctx context.Context, r *Registration) error

	// TouchRegistrations moves the last-seen time of the registrations and their
	// devices forward to at; it never moves one backwards.
	TouchRegistrations(ctx context.Context, rs []*Registration, at time.Time) error

	InsertAPIToken(ctx context.Context, t *APIToken) error
	InsertGlobalKey(ctx context.Context, k *GlobalKey) error
	InsertEnrollmentKey(ctx context.Context, k *EnrollmentKey) error

	// DeleteCredential deletes the credential of kind with id in accountID, so that
	// its secret authenticates nothing from the moment the transaction commits. It
	// returns ErrNotFound when the account holds no such credential.
	DeleteCredential(ctx context.Context, kind CredentialKind, accountID, id string) error

	// SetCredentialHash replaces the stored hash of the credential of kind with id in
	// accountID: the old secret stops working and the new one starts, in one step. It
	// returns ErrNotFound when the account holds no such credential.
	SetCredentialHash(
		ctx context.Context, kind CredentialKind, accountID, id string, hash []byte,
	) error

	// SpendEnrollmentKey marks a single-use key used at at. It returns ErrConflict when
	// another enrolment spent it first.
	SpendEnrollmentKey(ctx context.Context, id string, at time.Time) error

	// PutSettingIfAbsent stores value under name unless a value is there already.
	PutSettingIfAbsent(ctx context.Context, name string, value []byte) error

	// AppendChange appends c to its account's change log, setting c.Seq to the next
	// number of that account. The entry commits, or not, with the transaction.
	AppendChange(ctx context.Context, c *Change) error

	// PutOverrideSecret inserts or replaces a registration's override secret. The
	// registration must exist.
	PutOverrideSecret(ctx context.Context, s *OverrideSecret) error

	// AppendAudit appends e to its account's audit log, setting e.Seq to the next
	// number of that account. The entry commits, or not, with the transaction.
	AppendAudit(ctx context.Context, e *AuditEntry) error
}

// Store is a storage engine. Update runs fn in one write transaction, committed if fn
// returns nil and rolled back otherwise; writers are serialised as the engine needs,
// so that no caller sees a busy or lock error. fn may run more than once when the
// engine retries a transaction that lost a race, so it must keep no state outside
// the transaction between runs. When ctx ends while the transaction still waits
// for others (a queue, a lock), Update returns an error wrapping ctx's and fn's
// changes are not made: a request past its deadline neither holds its caller nor
// lands later.
type Store interface {
	Reader
	ChangeFeed
	Update(ctx context.Context, fn func(tx Tx) error) error
	Close() error
}

// Prefetcher is a Store that can read ahead what a change of registrations' state
// (revoke, unrevoke, delete) will write. An engine whose writes run one at a time
// reads each page a write touches while every other write waits; when those pages
// are not in memory, a batch of a hundred spends most of its time waiting on the
// disk in turn. Reading them in parallel, started before the write, turns those
// waits into a few. PrefetchRegistrations may return before its reads are done;
// they end with ctx. It changes nothing, and a failure costs only the speed-up.
type Prefetcher interface {
	PrefetchRegistrations(ctx context.Context, accountID string, ids []string) error
}
