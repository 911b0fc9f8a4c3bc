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
}

// Import loads registrations saved from Cloudflare's API into an account, keeping
// their ids, timestamps, devices, users and profile summaries as given. Importing
// the same data twice leaves the same rows. It is all or nothing.
//
// Imported registrations have no client secret: their clients must enrol again. Keys
// are kept as given, without validation, since they are Cloudflare's record. A
// profile imported as the live default becomes the account's default profile.
func (s *Service) Import(ctx context.Context, accountID string, regs []Registration) (ImportSummary, error) {
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
		seen := map[string]bool{}
		// Profiles first, so that registrations without a policy get the account's
		// default as the whole import leaves it, whatever the order of the input.
		for i := range regs {
			if regs[i].Policy == nil {
				continue
			}
			if err := s.importProfile(ctx, tx, acct, &regs[i], seen, &sum); err != nil {
				return fmt.Errorf("registration %s: %w", regs[i].ID, err)
			}
		}
		for i := range regs {
			if err := s.importOne(ctx, tx, acct, &regs[i], seen, &sum); err != nil {
				return fmt.Errorf("registration %s: %w", regs[i].ID, err)
			}
		}
		return nil
	})
	if errors.Is(err, ErrConflict) {
		return ImportSummary{}, &Error{Kind: KindConflict, Message: err.Error(), Err: err}
	}
	return sum, err
}

func (s *Service) importOne(ctx context.Context, tx Tx, acct *Account, r *Registration, seen map[string]bool, sum *ImportSummary) error {
	if !ValidID(r.ID) || !ValidID(r.DeviceID) {
		return Errorf(KindInvalid, "registration and device ids must be UUIDs")
	}
	// Only the wire's fields count; anything else a caller set is not trusted.
	r.AccountID, r.UserID, r.Slot, r.SecretHash = acct.ID, "", "", nil
	if err := s.importProfile(ctx, tx, acct, r, seen, sum); err != nil {
		return err
	}
	if r.User != nil && r.User.ID != "" {
		if !seen["u"+r.User.ID] {
			u := *r.User
			u.AccountID, u.CreatedAt, u.UpdatedAt = acct.ID, r.CreatedAt, r.UpdatedAt
			if u.Groups == nil {
				u.Groups = []string{}
			}
			if err := tx.PutUser(ctx, &u); err != nil {
				return fmt.Errorf("write user %s: %w", u.ID, err)
			}
			seen["u"+u.ID] = true
			sum.Users++
		}
		r.UserID = r.User.ID
	}
	if acct.MultiUser {
		r.Slot = r.UserID
	}
	if !seen["d"+r.DeviceID] {
		d := &Device{
			ID: r.DeviceID, AccountID: acct.ID, LastSeenAt: r.LastSeenAt,
			CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
			Facts: DeviceFacts{Name: r.DeviceName, ClientVersion: r.ClientVersion},
		}
		if err := tx.PutDevice(ctx, d); err != nil {
			return fmt.Errorf("write device %s: %w", d.ID, err)
		}
		seen["d"+d.ID] = true
		sum.Devices++
	}
	before, err := tx.Registration(ctx, acct.ID, r.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("read registration: %w", err)
	}
	if err := tx.PutRegistration(ctx, r); err != nil {
		return fmt.Errorf("write registration: %w", err)
	}
	if c := importChange(before, r, s.Now()); c != nil {
		if err := tx.AppendChange(ctx, c); err != nil {
			return fmt.Errorf("log change: %w", err)
		}
	}
	sum.Registrations++
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

func (s *Service) importProfile(ctx context.Context, tx Tx, acct *Account, r *Registration, seen map[string]bool, sum *ImportSummary) error {
	if r.Policy == nil {
		r.ProfileID = acct.DefaultProfileID
		if r.PolicyUpdatedAt.IsZero() {
			r.PolicyUpdatedAt = r.CreatedAt
		}
		return nil
	}
	p := *r.Policy
	if !ValidID(p.ID) {
		return Errorf(KindInvalid, "policy id must be a UUID")
	}
	r.ProfileID, r.PolicyUpdatedAt = p.ID, p.UpdatedAt
	if seen["p"+p.ID] {
		return nil
	}
	p.AccountID, p.CreatedAt = acct.ID, p.UpdatedAt
	if err := tx.PutProfile(ctx, &p); err != nil {
		return fmt.Errorf("write profile %s: %w", p.ID, err)
	}
	seen["p"+p.ID] = true
	sum.Profiles++
	if !p.Default || !p.DeletedAt.IsZero() || p.ID == acct.DefaultProfileID {
		return nil
	}
	old, err := tx.Profile(ctx, acct.ID, acct.DefaultProfileID)
	if err != nil {
		return fmt.Errorf("read default profile: %w", err)
	}
	old.Default = false
	if err := tx.PutProfile(ctx, old); err != nil {
		return fmt.Errorf("write former default profile: %w", err)
	}
	acct.DefaultProfileID = p.ID
	return tx.SetDefaultProfile(ctx, acct.ID, p.ID)
}
