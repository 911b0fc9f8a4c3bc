package device

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ImportSummary counts what an import wrote.
type ImportSummary struct {
	Registrations int
	Devices       int
	Users         int
	Profiles      int
	Skipped       int // registrations enrolled or deleted here, which an import leaves alone
}

// Import loads registrations saved from Cloudflare's API into an account, keeping
// their ids, timestamps, devices, users and profile summaries as given. Importing
// the same data twice leaves the same rows. It is all or nothing. Registrations
// that were enrolled or deleted here are skipped: deletion is final, and an
// enrolled registration's secret and device facts are this registry's own.
//
// Imported registrations have no client secret: their clients must enrol again. Keys
// are kept as given, without validation, since they are Cloudflare's record. Import
// creates the profiles that the imported registrations name and the account lacks,
// and changes none that it has (see importProfile).
func (s *Service) Import(
	ctx context.Context, accountID string, regs []Registration,
) (ImportSummary, error) {
	var sum ImportSummary
	err := s.store.Update(ctx, func(tx Tx) error {
		acct, err := tx.Account(ctx, accountID)
		if errors.Is(err, ErrNotFound) {
			return Errorf(KindNotFound, "account %s not found", accountID)
		}
		if err != nil {
			return fmt.Errorf("read account: %w", err)
		}
		sum = ImportSummary{} // the engine may run this function again after a retry
		todo, err := importable(ctx, tx, acct, regs, &sum)
		if err != nil {
			return err
		}

		// Profiles first, so that registrations without a policy get the account's
		// default as the whole import leaves it, whatever the order of the input.
		seen := map[string]bool{}
		for _, r := range todo {
			if r.Policy == nil {
				continue
			}
			if err := s.importProfile(ctx, tx, acct, r, seen, &sum); err != nil {
				return fmt.Errorf("registration %s: %w", r.ID, err)
			}
		}
		for _, r := range todo {
			if err := s.importOne(ctx, tx, acct, r, seen, &sum); err != nil {
				return fmt.Errorf("registration %s: %w", r.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return ImportSummary{}, err
	}
	return sum, nil
}

// importable checks every registration and returns the ones the import writes,
// counting the others as skipped. It decides before anything is written, so that
// a skipped registration brings no profile in either.
func importable(
	ctx context.Context, tx Tx, acct *Account, regs []Registration, sum *ImportSummary,
) ([]*Registration, error) {
	var todo []*Registration
	tombstones := map[string]bool{} // ids this import writes as deleted
	for i := range regs {
		r := &regs[i]
		if err := checkImported(r); err != nil {
			return nil, fmt.Errorf("registration %s: %w", r.ID, err)
		}
		// Only the wire's fields count; anything else a caller set is not trusted.
		r.AccountID, r.UserID, r.Slot, r.SecretHash = acct.ID, "", "", nil

		ours, err := ownedHere(ctx, tx, acct, r.ID)
		if err != nil {
			return nil, fmt.Errorf("registration %s: %w", r.ID, err)
		}
		if ours || tombstones[r.ID] {
			sum.Skipped++
			continue
		}
		if !r.DeletedAt.IsZero() {
			tombstones[r.ID] = true
		}
		todo = append(todo, r)
	}
	return todo, nil
}

// ownedHere reports whether the registration id was enrolled or deleted here: such
// a registration is this registry's record now, and an import neither overwrites
// the one nor brings the other back.
func ownedHere(ctx context.Context, tx Tx, acct *Account, id string) (bool, error) {
	before, err := tx.Registration(ctx, acct.ID, id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read registration: %w", err)
	}
	return before.SecretHash != nil || !before.DeletedAt.IsZero(), nil
}

func (s *Service) importOne(
	ctx context.Context, tx Tx, acct *Account, r *Registration, seen map[string]bool, sum *ImportSummary,
) error {
	before, err := tx.Registration(ctx, acct.ID, r.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("read registration: %w", err)
	}
	if err := s.importProfile(ctx, tx, acct, r, seen, sum); err != nil {
		return err
	}
	if err := importUser(ctx, tx, acct, r, seen, sum); err != nil {
		return err
	}
	if acct.MultiUser {
		r.Slot = r.UserID
	}
	if err := importDevice(ctx, tx, acct, r, seen, sum); err != nil {
		return err
	}

	if err := checkTaken(ctx, tx, r); err != nil {
		return err
	}
	if err := tx.PutRegistration(ctx, r); err != nil {
		return fmt.Errorf("write registration: %w", err)
	}
	// The device was last seen when the latest of its registrations was; importDevice
	// wrote it with the first of them, or left it as it was.
	if err := tx.TouchRegistrations(ctx, []*Registration{r}, r.LastSeenAt); err != nil {
		return fmt.Errorf("move the device's last seen time: %w", err)
	}
	if c := importChange(before, r, s.Now()); c != nil {
		if err := tx.AppendChange(ctx, c); err != nil {
			return fmt.Errorf("log change: %w", err)
		}
	}
	sum.Registrations++
	return nil
}

// checkTaken refuses r when another live registration holds its key or its device
// seat, in words: the store would refuse it too, but in its constraint's terms.
func checkTaken(ctx context.Context, tx Tx, r *Registration) error {
	if !r.DeletedAt.IsZero() {
		return nil // a tombstone holds neither
	}
	other, err := tx.RegistrationByKey(ctx, r.AccountID, r.Key)
	if err == nil && other.ID != r.ID {
		return Errorf(KindConflict, "its key is already the key of live registration %s",
			other.ID)
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("read registration by key: %w", err)
	}

	other, err = tx.LiveRegistration(ctx, r.DeviceID, r.Slot)
	if err == nil && other.ID != r.ID {
		if r.Slot != "" {
			return Errorf(KindConflict, "device %s already has live registration %s for user %s",
				r.DeviceID, other.ID, r.Slot)
		}
		return Errorf(KindConflict, "device %s already has live registration %s",
			r.DeviceID, other.ID)
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("read live registration: %w", err)
	}
	return nil
}

// checkImported validates what an import may store: Cloudflare's record is kept as
// given, but only in the forms this registry itself produces.
func checkImported(r *Registration) error {
	if !ValidID(r.ID) || !ValidID(r.DeviceID) {
		return Errorf(KindInvalid, "registration and device ids must be UUIDs")
	}
	switch {
	case r.KeyType != "" && r.KeyType != KeyCurve25519 && r.KeyType != KeySecp256r1:
		return Errorf(KindInvalid, "key_type must be curve25519 or secp256r1")
	case r.TunnelType != "" && r.TunnelType != TunnelWireGuard && r.TunnelType != TunnelMASQUE:
		return Errorf(KindInvalid, "tunnel_type must be wireguard or masque")
	}
	texts := []struct {
		name, v string
		max     int
	}{{"key", r.Key, 1024}, {"device.name", r.DeviceName, maxFact},
		{"device.client_version", r.ClientVersion, maxFact}}
	if r.User != nil {
		if !ValidID(r.User.ID) {
			return Errorf(KindInvalid, "user.id must be a UUID")
		}
		texts = append(texts, struct {
			name, v string
			max     int
		}{"user.name", r.User.Name, maxName})
		if r.User.Email != "" {
			email, err := normalizeEmail(r.User.Email)
			if err != nil {
				return Errorf(KindInvalid, "user.email: %s", MessageOf(err))
			}
			r.User.Email = email
		}
	}
	for _, t := range texts {
		if err := checkText(t.name, t.v, t.max); err != nil {
			return err
		}
	}
	return nil
}

func importUser(
	ctx context.Context, tx Tx, acct *Account, r *Registration, seen map[string]bool, sum *ImportSummary,
) error {
	if r.User == nil {
		return nil
	}
	u := *r.User
	r.UserID = u.ID
	if seen["u"+u.ID] {
		return nil
	}
	if u.Email != "" {
		other, err := tx.UserByEmail(ctx, acct.ID, u.Email)
		if err == nil && other.ID != u.ID {
			return Errorf(KindConflict, "user %s: %s is already the email of user %s",
				u.ID, u.Email, other.ID)
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("read user: %w", err)
		}
	}
	u.AccountID, u.CreatedAt, u.UpdatedAt = acct.ID, r.CreatedAt, r.UpdatedAt
	if u.Groups == nil {
		u.Groups = []string{}
	}
	if err := tx.PutUser(ctx, &u); err != nil {
		return fmt.Errorf("write user %s: %w", u.ID, err)
	}
	seen["u"+u.ID] = true
	sum.Users++
	return nil
}

// importDevice writes the device a registration names, unless it exists: a device
// known here carries facts (hardware id, serial number) that Cloudflare's bodies do
// not, and that enrolment needs to recognise it.
func importDevice(
	ctx context.Context, tx Tx, acct *Account, r *Registration, seen map[string]bool, sum *ImportSummary,
) error {
	if seen["d"+r.DeviceID] {
		return nil
	}
	seen["d"+r.DeviceID] = true
	_, err := tx.Device(ctx, acct.ID, r.DeviceID)
	if err == nil {
		return nil
	}
	if !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("read device: %w", err)
	}
	d := &Device{
		ID: r.DeviceID, AccountID: acct.ID, LastSeenAt: r.LastSeenAt,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Facts: DeviceFacts{Name: r.DeviceName, ClientVersion: r.ClientVersion},
	}
	if err := tx.PutDevice(ctx, d); err != nil {
		return fmt.Errorf("write device %s: %w", d.ID, err)
	}
	sum.Devices++
	return nil
}

// importChange returns the feed entry for importing r over before (nil when new),
// or nil when the import changed nothing a feed reader acts on, so that importing
// the same files again logs nothing.
func importChange(before, r *Registration, at time.Time) *Change {
	var kind ChangeKind
	switch {
	case before == nil:
		kind = ChangeEnrolled
	case before.Key != r.Key:
		c := changeFor(ChangeKeyRotated, r, at)
		c.PreviousKey = before.Key
		return c
	case before.DeletedAt.IsZero() && !r.DeletedAt.IsZero():
		kind = ChangeDeleted
	case before.RevokedAt.IsZero() && !r.RevokedAt.IsZero():
		kind = ChangeRevoked
	case !before.RevokedAt.IsZero() && r.RevokedAt.IsZero():
		kind = ChangeUnrevoked
	case before.ProfileID != r.ProfileID:
		kind = ChangeReassigned
	default:
		return nil
	}
	return changeFor(kind, r, at)
}

// importProfile points r at the profile its policy summary names, or at the
// account's default when it has none, and creates the named profile if the account
// lacks it. A profile the account has is left exactly as it is: its name, default
// flag, deletion, rule and settings are this registry's record, and a summary is
// only what Cloudflare showed of it when the body was saved.
func (s *Service) importProfile(
	ctx context.Context, tx Tx, acct *Account, r *Registration, seen map[string]bool, sum *ImportSummary,
) error {
	if r.Policy == nil {
		r.ProfileID = acct.DefaultProfileID
		if r.PolicyUpdatedAt.IsZero() {
			r.PolicyUpdatedAt = r.CreatedAt
		}
		return nil
	}
	if !ValidID(r.Policy.ID) {
		return Errorf(KindInvalid, "policy id must be a UUID")
	}
	r.ProfileID, r.PolicyUpdatedAt = r.Policy.ID, r.Policy.UpdatedAt
	if seen["p"+r.Policy.ID] {
		return nil
	}
	seen["p"+r.Policy.ID] = true

	_, err := tx.Profile(ctx, acct.ID, r.Policy.ID)
	if err == nil {
		return nil
	}
	if !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("read profile %s: %w", r.Policy.ID, err)
	}
	p := importedProfile(acct, r.Policy)
	if err := checkText("policy name", p.Name, maxName); err != nil {
		return err
	}
	if err := tx.PutProfile(ctx, p); err != nil {
		return fmt.Errorf("write profile %s: %w", p.ID, err)
	}
	sum.Profiles++

	if !p.Default || !p.DeletedAt.IsZero() {
		return nil
	}
	return takeDefault(ctx, tx, acct, p)
}

// importedProfile returns a new profile from a policy summary: Cloudflare's
// default settings, no rule, and the summary's name, times and deletion. It keeps
// the summary's default flag, as Cloudflare showed it; only a live one makes it the
// account's default (takeDefault).
func importedProfile(acct *Account, sum *Profile) *Profile {
	return &Profile{
		ID: sum.ID, AccountID: acct.ID, Name: sum.Name, Default: sum.Default,
		Enabled: true, Settings: DefaultSettings(),
		DeletedAt: sum.DeletedAt, CreatedAt: sum.UpdatedAt, UpdatedAt: sum.UpdatedAt,
	}
}

// takeDefault makes p, just created from a live default's summary, the account's
// default profile, and the former default a custom profile without a rule, so that
// the account keeps exactly one live default.
func takeDefault(ctx context.Context, tx Tx, acct *Account, p *Profile) error {
	old, err := tx.Profile(ctx, acct.ID, acct.DefaultProfileID)
	if err != nil {
		return fmt.Errorf("read default profile: %w", err)
	}
	old.Default = false
	if err := tx.PutProfile(ctx, old); err != nil {
		return fmt.Errorf("write former default profile: %w", err)
	}
	acct.DefaultProfileID = p.ID
	if err := tx.SetDefaultProfile(ctx, acct.ID, p.ID); err != nil {
		return fmt.Errorf("set default profile: %w", err)
	}
	return nil
}
