package device

import (
	"context"
	"errors"
	"fmt"
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
		seen := map[string]bool{}
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
	r.AccountID = acct.ID
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
	if err := tx.PutRegistration(ctx, r); err != nil {
		return fmt.Errorf("write registration: %w", err)
	}
	if err := tx.AppendChange(ctx, changeFor(ChangeEnrolled, r, s.Now())); err != nil {
		return fmt.Errorf("log change: %w", err)
	}
	sum.Registrations++
	return nil
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
