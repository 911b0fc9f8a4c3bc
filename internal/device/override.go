package device

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// OverrideSecretSize is the length in bytes of a registration's override secret.
const OverrideSecretSize = 32

// OverrideSecret is the secret a registration's client checks admin override codes
// with, and the counter of the last issue of codes. The server must keep the secret
// itself, since it derives codes from it; the codes are never stored.
type OverrideSecret struct {
	RegistrationID string
	Secret         []byte
	Counter        int64 // the last issue's counter; zero before the first issue
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// OverrideIssue is one issue of admin override codes for a registration: the codes
// are the ones package override derives from Secret at Counter.
type OverrideIssue struct {
	RegistrationID string
	Secret         []byte
	Counter        uint64
}

func newOverrideSecret() []byte {
	b := make([]byte, OverrideSecretSize)
	rand.Read(b)
	return b
}

// AllowsModeSwitch reports whether the profile lets its users switch WARP modes
// (Cloudflare's allow_mode_switch), which admin override codes need. A deleted
// profile allows nothing: its registrations are about to move to another.
func (p *Profile) AllowsModeSwitch() bool {
	return p.DeletedAt.IsZero() && p.Settings.AllowModeSwitch
}

// IssueOverride takes the next issue of admin override codes for an active
// registration of the account; each call gives codes no earlier call gave. It
// refuses a deleted or unknown registration (not found), a revoked one (revoked),
// one whose profile does not allow mode switching, and one without an override
// secret: registrations enrolled before warpreg had override codes, and imported
// ones, get a secret only when their client rolls its token or enrols again, since a
// secret the client never received would give codes it cannot check.
func (s *Service) IssueOverride(ctx context.Context, accountID, id string) (*OverrideIssue, error) {
	var out *OverrideIssue
	err := s.store.Update(ctx, func(tx Tx) error {
		r, err := tx.Registration(ctx, accountID, id)
		if errors.Is(err, ErrNotFound) || err == nil && !r.DeletedAt.IsZero() {
			return Errorf(KindNotFound, "registration %s not found", id)
		}
		if err != nil {
			return fmt.Errorf("read registration: %w", err)
		}
		if !r.RevokedAt.IsZero() {
			return Errorf(KindRevoked, "registration %s is revoked; override codes are "+
				"issued only for active registrations", id)
		}
		if err := modeSwitchAllowed(ctx, tx, r); err != nil {
			return err
		}

		sec, err := tx.OverrideSecret(ctx, r.ID)
		if errors.Is(err, ErrNotFound) {
			return Errorf(KindInvalid, "registration %s has no override secret: it was "+
				"enrolled before override codes existed, or imported; its client receives "+
				"one when it rolls its token or enrols again", id)
		}
		if err != nil {
			return fmt.Errorf("read override secret: %w", err)
		}
		sec.Counter++
		sec.UpdatedAt = s.Now()
		if err := tx.PutOverrideSecret(ctx, sec); err != nil {
			return fmt.Errorf("write override secret: %w", err)
		}
		out = &OverrideIssue{RegistrationID: r.ID, Secret: sec.Secret, Counter: uint64(sec.Counter)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("issue override codes: %w", err)
	}
	s.log.InfoContext(ctx, "override codes issued", "registration_id", out.RegistrationID,
		"account_id", accountID, "counter", out.Counter)
	return out, nil
}

func modeSwitchAllowed(ctx context.Context, tx Tx, r *Registration) error {
	p, err := tx.Profile(ctx, r.AccountID, r.ProfileID)
	if err != nil {
		return fmt.Errorf("read profile: %w", err)
	}
	if !p.AllowsModeSwitch() {
		return Errorf(KindInvalid, "override codes need mode switching, and the device "+
			"settings profile %q of registration %s does not allow it (allow_mode_switch)",
			p.Name, r.ID)
	}
	return nil
}

// PutOverrideSecret audits an issue of override codes, the counter moving on under
// the same secret, as "registration.issue_override_codes" with the counter before
// and after. The secret written at enrolment is part of that enrolment's entry, and
// neither the secret nor a code is ever recorded.
func (t *auditTx) PutOverrideSecret(ctx context.Context, s *OverrideSecret) error {
	var before *OverrideSecret
	if !t.fresh[s.RegistrationID] { // a new registration has none (markFresh)
		var err error
		before, err = t.Tx.OverrideSecret(ctx, s.RegistrationID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	if err := t.Tx.PutOverrideSecret(ctx, s); err != nil {
		return err
	}
	if before == nil || !bytes.Equal(before.Secret, s.Secret) {
		return nil
	}
	r, err := t.Tx.RegistrationByID(ctx, s.RegistrationID)
	if err != nil {
		return err
	}
	issued := func(n int64) Snapshot {
		return Snapshot{"override_codes_issued": strconv.FormatInt(n, 10)}
	}
	return t.record(ctx, r.AccountID, "registration", r.ID, "issue_override_codes",
		issued(before.Counter), issued(s.Counter))
}
