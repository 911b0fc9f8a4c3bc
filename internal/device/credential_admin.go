package device

import (
	"context"
	"errors"
	"fmt"
)

// APITokens lists an account's API tokens, oldest first. Their secrets are not
// stored, so none can be shown.
func (s *Service) APITokens(ctx context.Context, accountID string) ([]APIToken, error) {
	if _, err := s.Account(ctx, accountID); err != nil {
		return nil, err
	}
	ts, err := s.store.APITokens(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("list api tokens: %w", err)
	}
	return ts, nil
}

// GlobalKeys lists an account's global API keys, oldest first.
func (s *Service) GlobalKeys(ctx context.Context, accountID string) ([]GlobalKey, error) {
	if _, err := s.Account(ctx, accountID); err != nil {
		return nil, err
	}
	ks, err := s.store.GlobalKeys(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("list global keys: %w", err)
	}
	return ks, nil
}

// EnrollmentKeys lists an account's enrolment keys, oldest first, spent and expired
// ones included.
func (s *Service) EnrollmentKeys(
	ctx context.Context, accountID string,
) ([]EnrollmentKey, error) {
	if _, err := s.Account(ctx, accountID); err != nil {
		return nil, err
	}
	ks, err := s.store.EnrollmentKeys(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("list enrollment keys: %w", err)
	}
	return ks, nil
}

// GlobalKeyByEmail returns the global key that the user with email holds on an
// account: global keys are named by their email, as X-Auth-Email names them.
func (s *Service) GlobalKeyByEmail(
	ctx context.Context, accountID, email string,
) (*GlobalKey, error) {
	email, err := normalizeEmail(email)
	if err != nil {
		return nil, err
	}
	ks, err := s.GlobalKeys(ctx, accountID)
	if err != nil {
		return nil, err
	}
	for i := range ks {
		if ks[i].Email == email {
			return &ks[i], nil
		}
	}
	return nil, Errorf(KindNotFound, "%s holds no global key on account %s", email, accountID)
}

// RevokeCredential deletes a credential of the account. Its secret is refused from
// the moment this returns, by every instance serving the database: nothing caches
// credentials. Revoking what the account does not hold is a not-found error.
func (s *Service) RevokeCredential(
	ctx context.Context, kind CredentialKind, accountID, id string,
) error {
	if _, err := s.Account(ctx, accountID); err != nil {
		return err
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		return tx.DeleteCredential(ctx, kind, accountID, id)
	})
	if errors.Is(err, ErrNotFound) {
		return noCredential(kind, accountID, id)
	}
	if err != nil {
		return fmt.Errorf("revoke %s: %w", kind, err)
	}
	s.log.InfoContext(ctx, "credential revoked", "kind", string(kind), "id", id,
		"account_id", accountID)
	return nil
}

// RollCredential gives a credential of the account a new secret and returns it; it
// is not stored and cannot be shown again. The id, name and permissions stay; the
// old secret is refused from the moment this returns. An enrolment key that is
// spent or expired is not rolled, since its new secret could enrol nothing.
func (s *Service) RollCredential(
	ctx context.Context, kind CredentialKind, accountID, id string,
) (string, error) {
	if _, err := s.Account(ctx, accountID); err != nil {
		return "", err
	}
	secret := NewSecret()
	if kind == CredentialGlobalKey {
		secret = NewGlobalKeyValue()
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		if kind == CredentialEnrollmentKey {
			if err := s.rollableEnrollmentKey(ctx, tx, accountID, id); err != nil {
				return err
			}
		}
		return tx.SetCredentialHash(ctx, kind, accountID, id, HashSecret(secret))
	})
	if errors.Is(err, ErrNotFound) {
		return "", noCredential(kind, accountID, id)
	}
	if err != nil {
		return "", fmt.Errorf("roll %s: %w", kind, err)
	}
	s.log.InfoContext(ctx, "credential rolled", "kind", string(kind), "id", id,
		"account_id", accountID)
	return secret, nil
}

func (s *Service) rollableEnrollmentKey(ctx context.Context, tx Tx, accountID, id string) error {
	ks, err := tx.EnrollmentKeys(ctx, accountID)
	if err != nil {
		return fmt.Errorf("list enrollment keys: %w", err)
	}
	for _, k := range ks {
		if k.ID != id {
			continue
		}
		if !k.Usable(s.Now()) {
			return Errorf(KindConflict, "enrollment key %s is used up or expired; "+
				"create a new one instead", id)
		}
		return nil
	}
	return ErrNotFound
}

func noCredential(kind CredentialKind, accountID, id string) error {
	return Errorf(KindNotFound, "account %s holds no %s %s", accountID, kind, id)
}
