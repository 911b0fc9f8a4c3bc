// Package device is warpreg's domain: accounts, users, physical devices, WARP
// registrations and the rules that govern enrolment, revocation and deletion.
//
// It knows nothing of HTTP, JSON or SQL. Adapters translate to and from these types;
// the Service holds every rule, so that each storage engine behaves the same way.
package device

import "time"

// Account is one Zero Trust organisation. Its ID is 32 lowercase hex characters, as
// Cloudflare account ids are.
type Account struct {
	ID   string
	Name string

	// MultiUser lets one physical device hold a registration per user; otherwise a
	// device holds exactly one registration, whose id equals the device id.
	MultiUser bool

	// DefaultProfileID names the profile that new registrations receive.
	DefaultProfileID string
	CreatedAt        time.Time
}

// User is an identity that enrolled at least one device.
type User struct {
	ID        string
	AccountID string
	Email     string
	Name      string
	Groups    []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DeviceFacts are the hardware and software facts a WARP client reports about its
// machine at enrolment and later.
type DeviceFacts struct {
	Name           string
	Model          string
	Manufacturer   string
	DeviceType     string
	OSVersion      string
	OSVersionExtra string
	SerialNumber   string
	HardwareID     string
	MACAddress     string
	ClientVersion  string
}

// Device is one physical machine. It is recognised within its account by HardwareID,
// else by SerialNumber.
//
// The read views below it are kept by the store as the device's registrations
// change; they are filled when a device is read and ignored on writes.
type Device struct {
	ID         string
	AccountID  string
	Facts      DeviceFacts
	LastSeenAt time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
	DeletedAt  time.Time // zero while the device exists

	// ActiveRegistrations counts the device's registrations that are neither
	// revoked nor deleted.
	ActiveRegistrations int

	// LastSeen is the device's registration seen most recently, preferring one that
	// is not deleted, ties broken by the greater id; nil when it has none. A revoked
	// registration still counts: it was seen when it was. LastSeenUser is that
	// registration's user, a summary like Registration.User; nil when it has none.
	LastSeen     *RegistrationSummary
	LastSeenUser *User
}

// RegistrationSummary is what a device shows of its last seen registration: the id
// and the settings profile assigned to it, with when the assignment last changed.
type RegistrationSummary struct {
	ID              string
	Policy          *Profile
	PolicyUpdatedAt time.Time
}

// Registration is one WARP client's enrolment: a public key bound to a device and a
// user, with a settings profile assigned.
//
// The embedded views (DeviceName, User, Policy...) are filled when a registration is
// read; on writes the store uses the ID fields.
type Registration struct {
	ID        string
	AccountID string
	DeviceID  string
	UserID    string // empty for a registration imported without a user
	ProfileID string

	// Slot names the registration's seat on its device: empty in a single-user
	// account, the user id in a multi-user one. A device holds at most one live
	// registration per slot, a rule the database enforces.
	Slot string

	Key        string
	KeyType    KeyType    // empty when unknown (imported without it)
	TunnelType TunnelType // empty when unknown

	// SecretHash authenticates the client's own calls; nil for imported rows, whose
	// clients must enrol again.
	SecretHash []byte

	CreatedAt       time.Time
	UpdatedAt       time.Time
	LastSeenAt      time.Time
	RevokedAt       time.Time // zero unless revoked
	DeletedAt       time.Time // zero unless deleted
	PolicyUpdatedAt time.Time // when the profile assignment last changed

	// Read views. User is a summary, its ID, AccountID, Email and Name: a
	// registration is read from its own row, where the store keeps copies of those.
	DeviceName    string
	ClientVersion string
	User          *User
	Policy        *Profile
}

// Active reports whether the registration may be used by its client.
func (r *Registration) Active() bool {
	return r.RevokedAt.IsZero() && r.DeletedAt.IsZero()
}

// CredentialKind names a kind of stored credential: what a store must find, delete
// or roll.
type CredentialKind string

// The kinds of stored credential. A registration's secret is not among them: it
// lives on its registration and goes with it.
const (
	CredentialAPIToken      CredentialKind = "api token"
	CredentialGlobalKey     CredentialKind = "global key"
	CredentialEnrollmentKey CredentialKind = "enrollment key"
)

// APIToken is an admin credential for one account, sent as "Authorization: Bearer".
type APIToken struct {
	ID        string
	AccountID string
	Name      string
	ReadOnly  bool
	Hash      []byte
	CreatedAt time.Time
}

// GlobalKey is a user's global API key, sent as X-Auth-Email with X-Auth-Key. It
// grants read and write on the account it belongs to.
type GlobalKey struct {
	ID        string
	AccountID string
	Email     string
	Hash      []byte
	CreatedAt time.Time
}

// EnrollmentKey is what a device presents to enrol. A single-use key is spent by the
// first enrolment that succeeds with it.
type EnrollmentKey struct {
	ID        string
	AccountID string
	Reusable  bool
	ExpiresAt time.Time // zero when it never expires
	UsedAt    time.Time // zero until a single-use key is spent
	Hash      []byte
	CreatedAt time.Time
}

// Usable reports whether the key may enrol a device at now.
func (k *EnrollmentKey) Usable(now time.Time) bool {
	if !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) {
		return false
	}
	return k.Reusable || k.UsedAt.IsZero()
}
