package device

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// Principal is an authenticated admin credential: what it may touch and how.
type Principal struct {
	AccountID    string
	Kind         ActorKind // ActorAPIToken or ActorGlobalKey
	CredentialID string
	CanWrite     bool

	// Email is the global key's user, who is the actor of its changes; empty for
	// tokens, whose id names them.
	Email string
}

// Authorize checks that p may act on accountID, writing if write is set. A
// credential of another account gets the same answer whether or not accountID
// exists, so that it learns nothing about other tenants.
func (p *Principal) Authorize(accountID string, write bool) error {
	if p == nil || p.AccountID != accountID || (write && !p.CanWrite) {
		return Errorf(KindUnauthorized, "authentication error")
	}
	return nil
}

// CreateAPIToken issues an API token for an account and returns it with its secret
// value, which is not stored and cannot be shown again.
func (s *Service) CreateAPIToken(
	ctx context.Context, accountID, name string, readOnly bool,
) (*APIToken, string, error) {
	if err := checkText("token name", name, maxName); err != nil {
		return nil, "", err
	}
	if _, err := s.Account(ctx, accountID); err != nil {
		return nil, "", err
	}
	secret := NewSecret()
	t := &APIToken{
		ID: NewAccountID(), AccountID: accountID, Name: name, ReadOnly: readOnly,
		Hash: HashSecret(secret), CreatedAt: s.Now(),
	}
	err := s.store.Update(ctx, func(tx Tx) error { return tx.InsertAPIToken(ctx, t) })
	if err != nil {
		return nil, "", fmt.Errorf("create api token: %w", err)
	}
	return t, secret, nil
}

// CreateGlobalKey issues a global API key for the user with email on an account.
// Each email holds one global key per account; creating another is a conflict.
func (s *Service) CreateGlobalKey(
	ctx context.Context, accountID, email string,
) (*GlobalKey, string, error) {
	email, err := normalizeEmail(email)
	if err != nil {
		return nil, "", err
	}
	if _, err := s.Account(ctx, accountID); err != nil {
		return nil, "", err
	}
	secret := NewGlobalKeyValue()
	k := &GlobalKey{
		ID: NewAccountID(), AccountID: accountID, Email: email,
		Hash: HashSecret(secret), CreatedAt: s.Now(),
	}
	err = s.store.Update(ctx, func(tx Tx) error { return tx.InsertGlobalKey(ctx, k) })
	if errors.Is(err, ErrConflict) {
		return nil, "", Errorf(KindConflict, "%s already holds a global key", email)
	}
	if err != nil {
		return nil, "", fmt.Errorf("create global key: %w", err)
	}
	return k, secret, nil
}

// CreateEnrollmentKey issues a key that devices present to enrol. expiresIn of zero
// means the key never expires.
func (s *Service) CreateEnrollmentKey(
	ctx context.Context, accountID string, reusable bool, expiresIn time.Duration,
) (*EnrollmentKey, string, error) {
	if expiresIn < 0 {
		return nil, "", Errorf(KindInvalid, "expiry must not be negative")
	}
	if _, err := s.Account(ctx, accountID); err != nil {
		return nil, "", err
	}
	secret := NewSecret()
	now := s.Now()
	k := &EnrollmentKey{
		ID: NewID(), AccountID: accountID, Reusable: reusable,
		Hash: HashSecret(secret), CreatedAt: now,
	}
	if expiresIn > 0 {
		k.ExpiresAt = now.Add(expiresIn).Truncate(time.Microsecond)
	}
	err := s.store.Update(ctx, func(tx Tx) error { return tx.InsertEnrollmentKey(ctx, k) })
	if err != nil {
		return nil, "", fmt.Errorf("create enrollment key: %w", err)
	}
	return k, secret, nil
}

// AuthenticateToken resolves an API token's secret value.
func (s *Service) AuthenticateToken(ctx context.Context, secret string) (*Principal, error) {
	t, err := s.store.APITokenByHash(ctx, HashSecret(secret))
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(KindUnauthorized, "authentication error")
	}
	if err != nil {
		return nil, fmt.Errorf("look up api token: %w", err)
	}
	return tokenPrincipal(t), nil
}

// RegistrationForToken authenticates an API token and reads registration id of
// accountID in one store read, which is what makes a get cost one round trip.
// found is false when that read cannot answer: an unknown token, a token of another
// account, or no such registration. The caller then authenticates the usual way,
// which tells those apart. The token is checked in the same statement as the row is
// read, so a revoked token is refused from the moment its revocation commits.
func (s *Service) RegistrationForToken(
	ctx context.Context, secret, accountID, id string,
) (p *Principal, r *Registration, found bool, err error) {
	t, r, err := s.store.TokenRegistration(ctx, HashSecret(secret), accountID, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("get registration: %w", err)
	}
	return tokenPrincipal(t), r, true, nil
}

func tokenPrincipal(t *APIToken) *Principal {
	return &Principal{AccountID: t.AccountID, Kind: ActorAPIToken, CredentialID: t.ID,
		CanWrite: !t.ReadOnly}
}

// AuthenticateGlobalKey resolves an X-Auth-Email and X-Auth-Key pair.
func (s *Service) AuthenticateGlobalKey(
	ctx context.Context, email, key string,
) (*Principal, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	k, err := s.store.GlobalKeyByHash(ctx, email, HashSecret(key))
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(KindUnauthorized, "authentication error")
	}
	if err != nil {
		return nil, fmt.Errorf("look up global key: %w", err)
	}
	return &Principal{AccountID: k.AccountID, Kind: ActorGlobalKey, CredentialID: k.ID,
		CanWrite: true, Email: k.Email}, nil
}

func normalizeEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > 90 {
		return "", Errorf(KindInvalid, "%q is not a valid email address", email)
	}
	return email, nil
}
