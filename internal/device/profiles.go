package device

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ProfileEdit changes a profile in place: the caller's way to say which fields a
// create or an update sets. The service validates the whole profile afterwards. It
// may run more than once (see Store.Update), each time on a fresh copy, so it must
// only copy values in.
type ProfileEdit func(p *Profile) error

// Profiles returns the account's profiles: the default first, then the custom ones
// by precedence.
func (s *Service) Profiles(ctx context.Context, accountID string) ([]Profile, error) {
	ps, err := s.store.Profiles(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	return ps, nil
}

// DefaultProfile returns the account's default profile.
func (s *Service) DefaultProfile(ctx context.Context, accountID string) (*Profile, error) {
	return defaultProfile(ctx, s.store, accountID)
}

func defaultProfile(ctx context.Context, r Reader, accountID string) (*Profile, error) {
	acct, err := r.Account(ctx, accountID)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(KindNotFound, "account %s not found", accountID)
	}
	if err != nil {
		return nil, fmt.Errorf("read account: %w", err)
	}
	p, err := r.Profile(ctx, accountID, acct.DefaultProfileID)
	if err != nil {
		return nil, fmt.Errorf("read default profile: %w", err)
	}
	return p, nil
}

// CustomProfile returns one of the account's custom profiles. The default profile,
// a deleted one and another account's all answer not found.
func (s *Service) CustomProfile(ctx context.Context, accountID, id string) (*Profile, error) {
	return customProfile(ctx, s.store, accountID, id)
}

func customProfile(ctx context.Context, r Reader, accountID, id string) (*Profile, error) {
	p, err := r.Profile(ctx, accountID, id)
	if errors.Is(err, ErrNotFound) || err == nil && (p.Default || !p.DeletedAt.IsZero()) {
		return nil, Errorf(KindNotFound, "policy %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read profile: %w", err)
	}
	return p, nil
}

// CreateProfile creates a custom profile from Cloudflare's defaults changed by edit,
// which must set a name, a match expression and a precedence. The registrations
// the new profile takes are assigned to it before CreateProfile returns.
func (s *Service) CreateProfile(
	ctx context.Context, accountID string, edit ProfileEdit,
) (*Profile, error) {
	id := NewID()
	var out *Profile
	err := s.store.Update(ctx, func(tx Tx) error {
		now := s.Now()
		p := &Profile{ID: id, AccountID: accountID, Enabled: true, Settings: DefaultSettings()}
		if err := edit(p); err != nil {
			return err
		}
		p.ID, p.AccountID, p.Default = id, accountID, false
		p.CreatedAt, p.UpdatedAt, p.DeletedAt = now, now, time.Time{}
		// A precedence of 0 is left to checkRule, which says what range it must
		// be in: a caller may have sent 0 rather than nothing.
		for _, f := range []struct {
			name string
			set  bool
		}{{"name", p.Name != ""}, {"match", p.Match != ""}} {
			if !f.set {
				return Errorf(KindInvalid, "%s is required", f.name)
			}
		}
		if err := s.writeProfile(ctx, tx, nil, p); err != nil {
			return err
		}
		out = p
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create profile: %w", err)
	}
	s.settle(ctx, accountID)
	return out, nil
}

// EditProfile applies edit to one of the account's custom profiles. When its rule
// changes (match, precedence or enabled), every registration is re-evaluated before
// EditProfile returns.
func (s *Service) EditProfile(
	ctx context.Context, accountID, id string, edit ProfileEdit,
) (*Profile, error) {
	var out *Profile
	err := s.store.Update(ctx, func(tx Tx) error {
		old, err := customProfile(ctx, tx, accountID, id)
		if err != nil {
			return err
		}
		p := cloneProfile(old)
		if err := edit(p); err != nil {
			return err
		}
		keepIdentity(p, old, s.Now())
		if err := s.writeProfile(ctx, tx, old, p); err != nil {
			return err
		}
		out = p
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("edit profile: %w", err)
	}
	s.settle(ctx, accountID)
	return out, nil
}

// EditDefaultProfile applies edit to the account's default profile. Its name and
// its lack of a rule are not the caller's to change; no assignment changes.
func (s *Service) EditDefaultProfile(
	ctx context.Context, accountID string, edit ProfileEdit,
) (*Profile, error) {
	var out *Profile
	err := s.store.Update(ctx, func(tx Tx) error {
		old, err := defaultProfile(ctx, tx, accountID)
		if err != nil {
			return err
		}
		p := cloneProfile(old)
		if err := edit(p); err != nil {
			return err
		}
		keepIdentity(p, old, s.Now())
		p.Name, p.Description, p.Match, p.Precedence, p.Enabled = old.Name, old.Description, "", 0, true
		if err := checkProfile(p); err != nil {
			return err
		}
		if err := tx.PutProfile(ctx, p); err != nil {
			return fmt.Errorf("write profile: %w", err)
		}
		out = p
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("edit default profile: %w", err)
	}
	return out, nil
}

// DeleteProfile deletes one of the account's custom profiles, re-assigns the
// registrations that had it, and returns the profiles that remain. A deleted
// registration keeps showing the deleted profile, as it was when deleted.
func (s *Service) DeleteProfile(ctx context.Context, accountID, id string) ([]Profile, error) {
	err := s.store.Update(ctx, func(tx Tx) error {
		p, err := customProfile(ctx, tx, accountID, id)
		if err != nil {
			return err
		}
		now := s.Now()
		p.DeletedAt, p.UpdatedAt = now, now
		if err := tx.PutProfile(ctx, p); err != nil {
			return fmt.Errorf("write profile: %w", err)
		}
		return tx.StartReassignment(ctx, accountID)
	})
	if err != nil {
		return nil, fmt.Errorf("delete profile: %w", err)
	}
	s.settle(ctx, accountID)
	return s.Profiles(ctx, accountID)
}

// settle waits for the account's pending re-evaluation after a profile change has
// committed. A run that fails is logged, not returned: the change stands, and the
// run is resumed (see ResumeReassignments), so the caller must not retry it.
func (s *Service) settle(ctx context.Context, accountID string) {
	if err := s.awaitReassignment(ctx, accountID); err != nil {
		s.log.ErrorContext(ctx, "profile reassignment failed; it will be resumed",
			"account_id", accountID, "err", err)
	}
}

// writeProfile validates p, the new state of old (nil for a new profile), stores
// it, and starts a re-evaluation of the account's registrations if p's rule now
// decides differently.
func (s *Service) writeProfile(ctx context.Context, tx Tx, old, p *Profile) error {
	if err := checkProfile(p); err != nil {
		return err
	}
	rules, err := tx.Rules(ctx, p.AccountID)
	if err != nil {
		return fmt.Errorf("read profile rules: %w", err)
	}
	custom := 0
	for _, r := range rules {
		if r.Default || r.ProfileID == p.ID {
			continue
		}
		custom++
		if p.Precedence != 0 && r.Precedence == p.Precedence {
			return Errorf(KindConflict, "precedence %d is already used by policy %s",
				p.Precedence, r.ProfileID)
		}
	}
	if old == nil && custom >= MaxCustomProfiles {
		return Errorf(KindInvalid, "an account may have at most %d custom profiles",
			MaxCustomProfiles)
	}
	err = tx.PutProfile(ctx, p)
	if errors.Is(err, ErrConflict) {
		// A concurrent write took the precedence after the check above.
		return &Error{Kind: KindConflict, Err: err,
			Message: fmt.Sprintf("precedence %d is already used by another policy", p.Precedence)}
	}
	if err != nil {
		return fmt.Errorf("write profile: %w", err)
	}
	if !ruleChanged(old, p) {
		return nil
	}
	return tx.StartReassignment(ctx, p.AccountID)
}

// ruleChanged reports whether going from old (nil for none) to p can change which
// registrations the profile gets.
func ruleChanged(old, p *Profile) bool {
	if old == nil {
		return p.Enabled
	}
	if !old.Enabled && !p.Enabled {
		return false
	}
	return old.Match != p.Match || old.Precedence != p.Precedence || old.Enabled != p.Enabled
}

// keepIdentity restores what no edit may change and stamps the update.
func keepIdentity(p, old *Profile, now time.Time) {
	p.ID, p.AccountID, p.Default = old.ID, old.AccountID, old.Default
	p.CreatedAt, p.DeletedAt, p.UpdatedAt = old.CreatedAt, old.DeletedAt, now
}

// cloneProfile copies p deeply, so that an edit of the copy leaves p as read.
func cloneProfile(p *Profile) *Profile {
	c := *p
	s := &c.Settings
	s.Exclude, s.Include = slices.Clone(s.Exclude), slices.Clone(s.Include)
	s.FallbackDomains = slices.Clone(s.FallbackDomains)
	for i := range s.FallbackDomains {
		s.FallbackDomains[i].DNSServers = slices.Clone(s.FallbackDomains[i].DNSServers)
	}
	if s.LANAllowMinutes != nil {
		v := *s.LANAllowMinutes
		s.LANAllowMinutes = &v
	}
	if s.LANAllowSubnetSize != nil {
		v := *s.LANAllowSubnetSize
		s.LANAllowSubnetSize = &v
	}
	return &c
}
