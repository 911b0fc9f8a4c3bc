package device

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/warpreg/warpreg/internal/match"
)

// EnrollRequest is what a WARP client sends to enrol: its public key, its machine's
// facts and the identity of its user.
type EnrollRequest struct {
	Key        string
	KeyType    KeyType
	TunnelType TunnelType
	Device     DeviceFacts
	UserEmail  string
	UserName   string
	UserGroups []string
}

// Enrollment is the result of a successful enrolment. Token is the registration's
// own secret; only its hash is stored. OverrideSecret is what the client checks
// admin override codes with (package override); every enrolment replaces it.
type Enrollment struct {
	Registration   *Registration
	Token          string
	OverrideSecret []byte
}

// ClientUpdate is a client's change to its own registration: a key rotation and
// new device facts. Nil fields are left as they are.
type ClientUpdate struct {
	Key        *string
	KeyType    *KeyType
	TunnelType *TunnelType
	Device     *DeviceFacts
}

// errEnrollKey refuses an enrolment key: the same answer whether it is unknown,
// used up or expired.
var errEnrollKey = Errorf(KindUnauthorized, "enrollment key is unknown, used up or expired")

// CheckEnrollmentKey refuses an enrolment key that could not enrol a device now,
// with one read outside any write transaction, so that a caller can answer a bad
// key before it reads the request body. A key it accepts may still be refused by
// Enroll, which checks it again in its transaction: a single-use key may be spent
// in between, and a reusable key revoked (see usableKeys).
func (s *Service) CheckEnrollmentKey(ctx context.Context, keySecret string) error {
	hash := HashSecret(keySecret)
	now := s.Now()
	if s.usable.fresh(hash, now) {
		return nil
	}
	ek, err := s.store.EnrollmentKeyByHash(ctx, hash)
	if ek, err = usableKey(ek, err, now); err != nil {
		return err
	}
	if ek.Reusable {
		s.usable.remember(hash, ek, now)
	}
	return nil
}

// usableKey judges a lookup of an enrolment key at now: the key when it could enrol a
// device, errEnrollKey when it could not, or the lookup's own error. Both the early
// check and the transaction's go through it, so they refuse alike.
func usableKey(ek *EnrollmentKey, err error, now time.Time) (*EnrollmentKey, error) {
	if errors.Is(err, ErrNotFound) || (err == nil && !ek.Usable(now)) {
		return nil, errEnrollKey
	}
	if err != nil {
		return nil, fmt.Errorf("look up enrollment key: %w", err)
	}
	return ek, nil
}

// usableKeys remembers, for usableKeyTTL, reusable enrolment keys that
// CheckEnrollmentKey found usable. A fleet enrols with one such key, and reading
// it again for every enrolment, beside the read in the transaction, cost about a
// tenth of the enrolment rate on two cores. A key revoked meanwhile passes the
// early check for at most usableKeyTTL and is refused by the transaction instead,
// after the body is read: the answer is the same 401.
type usableKeys struct {
	mu    sync.Mutex
	until map[string]time.Time // by key hash: when to read the key again
}

const (
	usableKeyTTL  = time.Second
	maxUsableKeys = 1024 // past this, the remembered keys are forgotten together
)

func (u *usableKeys) fresh(hash []byte, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return now.Before(u.until[string(hash)])
}

// remember keeps ek usable until usableKeyTTL from now, or its expiry if sooner.
func (u *usableKeys) remember(hash []byte, ek *EnrollmentKey, now time.Time) {
	until := now.Add(usableKeyTTL)
	if !ek.ExpiresAt.IsZero() && ek.ExpiresAt.Before(until) {
		until = ek.ExpiresAt
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.until == nil || len(u.until) >= maxUsableKeys {
		u.until = map[string]time.Time{}
	}
	u.until[string(hash)] = until
}

// Enroll enrols a device with an enrolment key's secret value.
//
// The device is recognised by hardware id, else serial number (see
// Reader.DeviceBySerial, whose ambiguity is a conflict). Re-enrolling a seat
// (the device in a single-user account, the device and user in a multi-user one)
// that holds an active registration replaces its key, user and secret in place. A
// revoked seat stays revoked until an admin unrevokes it. Every refusal leaves the
// database as it was, the enrolment key included.
func (s *Service) Enroll(
	ctx context.Context, keySecret string, req EnrollRequest,
) (*Enrollment, error) {
	if err := normalizeEnroll(&req); err != nil {
		return nil, err
	}
	token, override := NewSecret(), newOverrideSecret()
	var out *Registration
	err := s.store.Update(ctx, func(tx Tx) error {
		ek, err := tx.EnrollmentKeyByHash(ctx, HashSecret(keySecret))
		now := s.Now()
		if ek, err = usableKey(ek, err, now); err != nil {
			return err
		}
		actingAs(tx, ActorEnrollmentKey, ek.ID)
		acct, err := tx.Account(ctx, ek.AccountID)
		if err != nil {
			return fmt.Errorf("read account: %w", err)
		}
		out, err = s.enrollTx(ctx, tx, acct, &req, token, override)
		if err != nil {
			return err
		}
		if ek.Reusable {
			return nil
		}
		if err := tx.SpendEnrollmentKey(ctx, ek.ID, now); errors.Is(err, ErrConflict) {
			return errEnrollKey
		} else if err != nil {
			return fmt.Errorf("spend enrollment key: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, conflictMessage(err)
	}
	s.log.InfoContext(ctx, "device enrolled", "registration_id", out.ID,
		"account_id", out.AccountID, "key_fingerprint", Fingerprint(out.Key))
	return &Enrollment{Registration: out, Token: token, OverrideSecret: override}, nil
}

func (s *Service) enrollTx(
	ctx context.Context, tx Tx, acct *Account, req *EnrollRequest, token string, override []byte,
) (*Registration, error) {
	now := s.Now()
	user, userChanged, err := s.upsertUser(ctx, tx, acct.ID, req)
	if err != nil {
		return nil, err
	}
	dev, factsChanged, err := s.upsertDevice(ctx, tx, acct, &req.Device)
	if err != nil {
		return nil, err
	}
	asg, err := s.assigner(ctx, tx, acct)
	if err != nil {
		return nil, err
	}
	slot := ""
	if acct.MultiUser {
		slot = user.ID
	}

	r, err := tx.LiveRegistration(ctx, dev.ID, slot)
	kind, previous := ChangeEnrolled, ""
	switch {
	case errors.Is(err, ErrNotFound):
		r = &Registration{
			ID: NewID(), AccountID: acct.ID, DeviceID: dev.ID, Slot: slot,
			CreatedAt: now, PolicyUpdatedAt: now,
		}
		if !acct.MultiUser {
			r.ID = dev.ID // a deleted registration may hold it
		} else {
			markFresh(tx, r.AccountID, r.ID)
		}
	case err != nil:
		return nil, fmt.Errorf("read seat: %w", err)
	case !r.RevokedAt.IsZero():
		return nil, Errorf(KindRevoked, "this device's registration is revoked; "+
			"an administrator must unrevoke it before the device can enrol again")
	case r.Key != req.Key:
		kind, previous = ChangeKeyRotated, r.Key
	}

	r.UserID, r.Key, r.KeyType, r.TunnelType = user.ID, req.Key, req.KeyType, req.TunnelType
	r.SecretHash = HashSecret(token)
	r.UpdatedAt, r.LastSeenAt = now, now
	reassigned := s.choose(asg, r, subjectOf(user, &dev.Facts), now)
	if err := tx.PutRegistration(ctx, r); err != nil {
		return nil, fmt.Errorf("write registration: %w", err)
	}
	sec := &OverrideSecret{RegistrationID: r.ID, Secret: override, CreatedAt: now, UpdatedAt: now}
	if err := tx.PutOverrideSecret(ctx, sec); err != nil {
		return nil, fmt.Errorf("write override secret: %w", err)
	}
	c := changeFor(kind, r, now)
	c.PreviousKey = previous
	if err := tx.AppendChange(ctx, c); err != nil {
		return nil, fmt.Errorf("log change: %w", err)
	}
	if reassigned {
		if err := tx.AppendChange(ctx, changeFor(ChangeReassigned, r, now)); err != nil {
			return nil, fmt.Errorf("log change: %w", err)
		}
	}
	// The user's name and groups and the device's facts are shared with the
	// user's other registrations and, in a multi-user account, the device's.
	if userChanged {
		err := s.reevaluate(ctx, tx, asg, acct.ID, ListQuery{UserIDs: []string{user.ID}}, r.ID)
		if err != nil {
			return nil, err
		}
	}
	if factsChanged {
		if err := s.reevaluate(ctx, tx, asg, acct.ID, ListQuery{DeviceID: dev.ID}, r.ID); err != nil {
			return nil, err
		}
	}
	return tx.Registration(ctx, acct.ID, r.ID)
}

// choose sets r's profile to the one asg chooses for subj, stamping the change
// with now, and reports whether an existing assignment changed.
func (s *Service) choose(asg *Assigner, r *Registration, subj match.Subject, now time.Time) bool {
	to := asg.choose(r.ProfileID, subj)
	if to == r.ProfileID {
		return false
	}
	existing := r.ProfileID != ""
	r.ProfileID, r.PolicyUpdatedAt = to, now
	return existing
}

// upsertUser writes the enrolling user and reports whether an existing user's
// name or groups changed.
func (s *Service) upsertUser(
	ctx context.Context, tx Tx, accountID string, req *EnrollRequest,
) (*User, bool, error) {
	now := s.Now()
	u, err := tx.UserByEmail(ctx, accountID, req.UserEmail)
	if errors.Is(err, ErrNotFound) {
		u = &User{ID: NewID(), AccountID: accountID, Email: req.UserEmail, CreatedAt: now}
		markFresh(tx, accountID, u.ID)
	} else if err != nil {
		return nil, false, fmt.Errorf("read user: %w", err)
	}
	if u.Name == req.UserName && slices.Equal(u.Groups, req.UserGroups) && !u.UpdatedAt.IsZero() {
		return u, false, nil
	}
	existed := !u.UpdatedAt.IsZero()
	u.Name, u.Groups, u.UpdatedAt = req.UserName, req.UserGroups, now
	if err := tx.PutUser(ctx, u); err != nil {
		return nil, false, fmt.Errorf("write user: %w", err)
	}
	return u, existed, nil
}

// upsertDevice writes the enrolling device and reports whether an existing
// device's facts that match expressions see changed.
func (s *Service) upsertDevice(
	ctx context.Context, tx Tx, acct *Account, facts *DeviceFacts,
) (*Device, bool, error) {
	now := s.Now()
	var d *Device
	var err error
	switch {
	case facts.HardwareID != "":
		d, err = tx.DeviceByHardwareID(ctx, acct.ID, facts.HardwareID)
	case facts.SerialNumber != "":
		// A client that sends no hardware id is most likely the device that never had
		// one; a serial number shared by machines told apart by hardware ids names
		// none of them (ErrConflict), as it would take over another's registration.
		d, err = tx.DeviceBySerial(ctx, acct.ID, facts.SerialNumber, true)
		if errors.Is(err, ErrNotFound) {
			d, err = tx.DeviceBySerial(ctx, acct.ID, facts.SerialNumber, false)
		}
	default:
		err = ErrNotFound
	}
	existed := err == nil
	switch {
	case errors.Is(err, ErrNotFound):
		d = &Device{ID: NewID(), AccountID: acct.ID, CreatedAt: now}
		markFresh(tx, acct.ID, d.ID)
	case errors.Is(err, ErrConflict):
		// Replacing one of them would be a guess, and the wrong guess takes over
		// another machine's registration.
		return nil, false, Errorf(KindConflict, "device.serial_number is reported by more "+
			"than one device; send device.hardware_id to say which")
	case err != nil:
		return nil, false, fmt.Errorf("read device: %w", err)
	}
	// Facts the client left out keep their values: a device enrolled with both
	// identifiers stays recognisable by either after enrolling with one.
	before := d.Facts
	copyFacts(&d.Facts, facts)
	d.UpdatedAt, d.LastSeenAt = now, now
	if err := tx.PutDevice(ctx, d); err != nil {
		return nil, false, fmt.Errorf("write device: %w", err)
	}
	return d, existed && subjectFactsChanged(&before, &d.Facts), nil
}

// CheckClientToken refuses a client call that UpdateClient would refuse for its id
// and token, with one read outside any write transaction, so that a caller can
// answer it before it reads the request body. A call it lets through is checked
// again in UpdateClient's transaction: the registration may be revoked in between.
func (s *Service) CheckClientToken(ctx context.Context, id, token string) error {
	_, err := clientRegistration(ctx, s.store, id, token)
	return err
}

// UpdateClient applies a client's key rotation or new device facts to its own
// registration, authenticated by the registration's secret.
func (s *Service) UpdateClient(
	ctx context.Context, id, token string, u ClientUpdate,
) (*Registration, error) {
	var newKey *checkedKey
	if u.Key != nil {
		newKey = checkKey(*u.Key)
	}
	var out *Registration
	ctx = actAs(ctx, ActorRegistration, id) // writes happen only once token is checked
	err := s.store.Update(ctx, func(tx Tx) error {
		r, err := clientRegistration(ctx, tx, id, token)
		if err != nil {
			return err
		}
		previous := r.Key
		if err := applyClientUpdate(r, &u, newKey); err != nil {
			return err
		}
		now := s.Now()
		var moved *Device // the device, when facts that choose profiles changed
		if u.Device != nil {
			if moved, err = s.updateFacts(ctx, tx, r, u.Device, now); err != nil {
				return err
			}
		}
		r.UpdatedAt = now
		var asg *Assigner
		reassigned := false
		if moved != nil {
			if asg, reassigned, err = s.rechoose(ctx, tx, r, moved, now); err != nil {
				return err
			}
		}
		if err := tx.PutRegistration(ctx, r); err != nil {
			return fmt.Errorf("write registration: %w", err)
		}
		if r.Key != previous {
			c := changeFor(ChangeKeyRotated, r, now)
			c.PreviousKey = previous
			if err := tx.AppendChange(ctx, c); err != nil {
				return fmt.Errorf("log change: %w", err)
			}
		}
		if reassigned {
			if err := tx.AppendChange(ctx, changeFor(ChangeReassigned, r, now)); err != nil {
				return fmt.Errorf("log change: %w", err)
			}
		}
		if moved != nil {
			q := ListQuery{DeviceID: moved.ID}
			if err := s.reevaluate(ctx, tx, asg, r.AccountID, q, r.ID); err != nil {
				return err
			}
		}
		out, err = tx.Registration(ctx, r.AccountID, r.ID)
		return err
	})
	if err != nil {
		return nil, conflictMessage(err)
	}
	return out, nil
}

// updateFacts merges a client's new device facts into its device. It returns the
// device when facts that match expressions see changed, else nil.
func (s *Service) updateFacts(
	ctx context.Context, tx Tx, r *Registration, facts *DeviceFacts, now time.Time,
) (*Device, error) {
	if err := normalizeFacts(facts); err != nil {
		return nil, err
	}
	d, err := tx.Device(ctx, r.AccountID, r.DeviceID)
	if err != nil {
		return nil, fmt.Errorf("read device: %w", err)
	}
	before := d.Facts
	if err := mergeFacts(&d.Facts, facts); err != nil {
		return nil, err
	}
	if err := hardwareIDFree(ctx, tx, d); err != nil {
		return nil, err
	}
	d.UpdatedAt = now
	if err := tx.PutDevice(ctx, d); err != nil {
		return nil, fmt.Errorf("write device: %w", err)
	}
	if !subjectFactsChanged(&before, &d.Facts) {
		return nil, nil
	}
	return d, nil
}

// rechoose chooses r's profile again after its device d changed, and returns the
// account's assigner for the device's other registrations.
func (s *Service) rechoose(
	ctx context.Context, tx Tx, r *Registration, d *Device, now time.Time,
) (*Assigner, bool, error) {
	acct, err := tx.Account(ctx, r.AccountID)
	if err != nil {
		return nil, false, fmt.Errorf("read account: %w", err)
	}
	asg, err := s.assigner(ctx, tx, acct)
	if err != nil {
		return nil, false, err
	}
	var u *User
	if r.UserID != "" {
		if u, err = tx.User(ctx, r.AccountID, r.UserID); err != nil {
			return nil, false, fmt.Errorf("read user: %w", err)
		}
	}
	return asg, s.choose(asg, r, subjectOf(u, &d.Facts), now), nil
}

// RollClientToken gives a registration a new secret, authenticated by the current
// one, and returns it; only its hash is stored. The old secret is refused from the
// moment this returns. The override secret is rolled with it, since a client whose
// token leaked lost both, and returned too: this is also how a registration enrolled
// before override codes existed gets one without enrolling again. Nothing else about
// the registration changes, and the change feed does not record it: gateways never
// see client secrets.
func (s *Service) RollClientToken(
	ctx context.Context, id, token string,
) (newToken string, overrideSecret []byte, err error) {
	secret, override := NewSecret(), newOverrideSecret()
	ctx = actAs(ctx, ActorRegistration, id) // writes happen only once token is checked
	err = s.store.Update(ctx, func(tx Tx) error {
		r, err := clientRegistration(ctx, tx, id, token)
		if err != nil {
			return err
		}
		r.SecretHash = HashSecret(secret)
		if err := tx.PutRegistration(ctx, r); err != nil {
			return fmt.Errorf("write registration: %w", err)
		}
		now := s.Now()
		sec := &OverrideSecret{RegistrationID: r.ID, Secret: override, CreatedAt: now,
			UpdatedAt: now}
		if err := tx.PutOverrideSecret(ctx, sec); err != nil {
			return fmt.Errorf("write override secret: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	s.log.InfoContext(ctx, "registration token rolled", "registration_id", id)
	return secret, override, nil
}

// applyClientUpdate applies u's key and types to r. newKey is u.Key as checked
// before the transaction, nil when u has no key; a key left as it is was checked
// when it was stored.
func applyClientUpdate(r *Registration, u *ClientUpdate, newKey *checkedKey) error {
	kt, tt := r.KeyType, r.TunnelType
	if u.KeyType != nil {
		kt = *u.KeyType
	}
	if u.TunnelType != nil {
		tt = *u.TunnelType
	} else if u.KeyType != nil {
		tt = TunnelFor(kt)
	}
	if newKey == nil && kt != r.KeyType {
		return Errorf(KindInvalid, "a new key_type needs a new key")
	}
	if err := checkTypes(kt, tt); err != nil {
		return err
	}
	key := r.Key
	if newKey != nil {
		var err error
		if key, err = newKey.as(kt); err != nil {
			return err
		}
	}
	r.Key, r.KeyType, r.TunnelType = key, kt, tt
	return nil
}

// checkedKey is a client's new key checked as either key type. A rotation may
// leave the type to the registration, which only the write transaction reads; the
// checks cost a curve operation, which the single writer should not spend, so
// they run before it and the transaction picks the verdict that applies.
type checkedKey struct {
	curve25519, secp256r1 string
	curveErr, p256Err     error
}

// checkKey checks key as both types. Their encodings differ in length, so one of
// the two fails at once and the pair costs about as much as one check.
func checkKey(key string) *checkedKey {
	var c checkedKey
	c.curve25519, c.curveErr = CanonicalKey(KeyCurve25519, key)
	c.secp256r1, c.p256Err = CanonicalKey(KeySecp256r1, key)
	return &c
}

// as returns the key's stored form as type kt, or why it is not one.
func (c *checkedKey) as(kt KeyType) (string, error) {
	if kt == KeySecp256r1 {
		return c.secp256r1, c.p256Err
	}
	return c.curve25519, c.curveErr
}

// Heartbeat marks a registration and its device as seen now, and records the
// client version if one is given. The secret is checked in the write transaction
// that moves last_seen_at, which concurrent heartbeats share (see toucher), and
// again in the one that records a new client version, so a revocation either
// precedes a check or follows the write it guards.
func (s *Service) Heartbeat(
	ctx context.Context, id, token, clientVersion string,
) (*Registration, error) {
	if err := checkText("client_version", clientVersion, maxFact); err != nil {
		return nil, err
	}
	if !ValidID(id) {
		return nil, errDenied
	}
	now := s.Now()
	r, err := s.touches.touch(ctx, id, token, now)
	if err != nil {
		return nil, err
	}
	if clientVersion != "" && clientVersion != r.ClientVersion {
		// A second transaction, so the secret is checked again: a revocation may
		// have committed since the batch.
		ctx = actAs(ctx, ActorRegistration, r.ID)
		err = s.store.Update(ctx, func(tx Tx) error {
			if _, err := clientRegistration(ctx, tx, id, token); err != nil {
				return err
			}
			d, err := tx.Device(ctx, r.AccountID, r.DeviceID)
			if err != nil {
				return fmt.Errorf("read device: %w", err)
			}
			d.Facts.ClientVersion, d.UpdatedAt = clientVersion, now
			if err := tx.PutDevice(ctx, d); err != nil {
				return fmt.Errorf("write device: %w", err)
			}
			return nil
		})
		var refusal *Error
		if errors.As(err, &refusal) {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("heartbeat: %w", err)
		}
		r.ClientVersion = clientVersion
	}
	if now.After(r.LastSeenAt) {
		r.LastSeenAt = now
	}
	return r, nil
}

// errDenied is the answer to a client call with an unknown id, a deleted
// registration or a wrong secret: the same for all three.
var errDenied = Errorf(KindUnauthorized, "registration token is not valid")

// clientRegistration authenticates a client call. Unknown ids, deleted rows and
// wrong secrets all give the same answer; a revoked registration says so, since
// its client holds the secret and needs to know why it is refused.
func clientRegistration(ctx context.Context, tx Reader, id, token string) (*Registration, error) {
	if !ValidID(id) {
		return nil, errDenied
	}
	r, err := tx.RegistrationByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, errDenied
	}
	if err != nil {
		return nil, fmt.Errorf("read registration: %w", err)
	}
	return clientCheck(r, token)
}

// clientCheck is clientRegistration's verdict on the registration read for the
// call, nil when there is none.
func clientCheck(r *Registration, token string) (*Registration, error) {
	if r == nil || !r.DeletedAt.IsZero() || !SecretMatches(token, r.SecretHash) {
		return nil, errDenied
	}
	if !r.RevokedAt.IsZero() {
		return nil, Errorf(KindRevoked, "registration is revoked")
	}
	return r, nil
}

func conflictMessage(err error) error {
	if errors.Is(err, ErrConflict) {
		return &Error{Kind: KindConflict, Message: "this public key is already registered", Err: err}
	}
	return err
}

// hardwareIDFree refuses a hardware id that another live device of the account
// already reports, with a message that says so rather than a generic conflict.
func hardwareIDFree(ctx context.Context, tx Tx, d *Device) error {
	if d.Facts.HardwareID == "" {
		return nil
	}
	other, err := tx.DeviceByHardwareID(ctx, d.AccountID, d.Facts.HardwareID)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("read device: %w", err)
	case other.ID != d.ID:
		return Errorf(KindConflict, "device.hardware_id is already reported by another device")
	}
	return nil
}

// mergeFacts copies the non-empty facts of src into dst. The identifiers that
// recognise a device may be filled in but never changed: a different machine must
// enrol on its own.
func mergeFacts(dst, src *DeviceFacts) error {
	if src.HardwareID != "" && dst.HardwareID != "" && src.HardwareID != dst.HardwareID {
		return Errorf(KindInvalid, "device.hardware_id cannot change; enrol the new device instead")
	}
	if src.SerialNumber != "" && dst.SerialNumber != "" && src.SerialNumber != dst.SerialNumber {
		return Errorf(KindInvalid, "device.serial_number cannot change; enrol the new device instead")
	}
	copyFacts(dst, src)
	return nil
}

// copyFacts copies the non-empty facts of src into dst.
func copyFacts(dst, src *DeviceFacts) {
	pairs := [][2]*string{
		{&dst.Name, &src.Name}, {&dst.Model, &src.Model},
		{&dst.Manufacturer, &src.Manufacturer}, {&dst.DeviceType, &src.DeviceType},
		{&dst.OSVersion, &src.OSVersion}, {&dst.OSVersionExtra, &src.OSVersionExtra},
		{&dst.SerialNumber, &src.SerialNumber}, {&dst.HardwareID, &src.HardwareID},
		{&dst.MACAddress, &src.MACAddress}, {&dst.ClientVersion, &src.ClientVersion},
	}
	for _, p := range pairs {
		if *p[1] != "" {
			*p[0] = *p[1]
		}
	}
}

func checkTypes(kt KeyType, tt TunnelType) error {
	switch {
	case kt != KeyCurve25519 && kt != KeySecp256r1:
		return Errorf(KindInvalid, "key_type must be curve25519 or secp256r1")
	case tt != TunnelWireGuard && tt != TunnelMASQUE:
		return Errorf(KindInvalid, "tunnel_type must be wireguard or masque")
	case TunnelFor(kt) != tt:
		return Errorf(KindInvalid, "key_type %s does not go with tunnel_type %s", kt, tt)
	}
	return nil
}

// Field limits. Cloudflare documents 90 characters for a user's email; the rest are
// ours, generous for real machines and small enough to keep rows compact.
const (
	maxEmail  = 90
	maxName   = 256
	maxFact   = 256
	maxGroups = 100
)

func normalizeEnroll(req *EnrollRequest) error {
	if req.TunnelType == "" && req.KeyType != "" {
		req.TunnelType = TunnelFor(req.KeyType)
	}
	if err := checkTypes(req.KeyType, req.TunnelType); err != nil {
		return err
	}
	key, err := CanonicalKey(req.KeyType, req.Key)
	if err != nil {
		return err
	}
	req.Key = key
	if req.UserEmail, err = normalizeEmail(req.UserEmail); err != nil {
		return Errorf(KindInvalid, "user.email: %s", MessageOf(err))
	}
	req.UserName = strings.TrimSpace(req.UserName)
	if err := checkText("user.name", req.UserName, maxName); err != nil {
		return err
	}
	if len(req.UserGroups) > maxGroups {
		return Errorf(KindInvalid, "user.groups may hold at most %d names", maxGroups)
	}
	for _, g := range req.UserGroups {
		if g == "" {
			return Errorf(KindInvalid, "user.groups must not hold empty names")
		}
		if err := checkText("user.groups", g, maxName); err != nil {
			return err
		}
	}
	if req.UserGroups == nil {
		req.UserGroups = []string{}
	}
	if err := normalizeFacts(&req.Device); err != nil {
		return err
	}
	if req.Device.Name == "" {
		return Errorf(KindInvalid, "device.name is required")
	}
	return nil
}

func normalizeFacts(f *DeviceFacts) error {
	fields := []struct {
		name string
		v    *string
	}{
		{"device.name", &f.Name}, {"device.model", &f.Model},
		{"device.manufacturer", &f.Manufacturer}, {"device.device_type", &f.DeviceType},
		{"device.os_version", &f.OSVersion}, {"device.os_version_extra", &f.OSVersionExtra},
		{"device.serial_number", &f.SerialNumber}, {"device.hardware_id", &f.HardwareID},
		{"device.mac_address", &f.MACAddress}, {"device.client_version", &f.ClientVersion},
	}
	for _, fd := range fields {
		*fd.v = strings.TrimSpace(*fd.v)
		if err := checkText(fd.name, *fd.v, maxFact); err != nil {
			return err
		}
	}
	if f.DeviceType != "" && !slices.Contains(DeviceTypes, f.DeviceType) {
		return Errorf(KindInvalid, "device.device_type must be one of %s",
			strings.Join(DeviceTypes, ", "))
	}
	return nil
}

// DeviceTypes are the operating systems a WARP client reports, as Cloudflare's API
// spells them. Match rules compare os.name with these, so a value outside the list
// could never be matched and would show up on the wire where clients expect one of
// them.
var DeviceTypes = []string{"windows", "mac", "linux", "android", "ios", "chromeos"}

func checkText(field, v string, max int) error {
	if !utf8.ValidString(v) {
		return Errorf(KindInvalid, "%s is not valid UTF-8", field)
	}
	if utf8.RuneCountInString(v) > max {
		return Errorf(KindInvalid, "%s must be at most %d characters", field, max)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return Errorf(KindInvalid, "%s must not contain control characters", field)
		}
	}
	return nil
}
