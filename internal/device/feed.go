package device

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Limits of the change feed.
const (
	DefaultChangesLimit = 100
	MaxChangesLimit     = 1000
)

// Changes returns up to limit changes of the account after sequence number after.
func (s *Service) Changes(
	ctx context.Context, accountID string, after int64, limit int,
) ([]Change, error) {
	if after < 0 {
		return nil, Errorf(KindInvalid, "after must not be negative")
	}
	if limit < 1 || limit > MaxChangesLimit {
		return nil, Errorf(KindInvalid, "limit must be between 1 and %d", MaxChangesLimit)
	}
	cs, err := s.store.Changes(ctx, accountID, after, limit)
	if err != nil && KindOf(err) != KindGone {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	return cs, err
}

// Subscribe wakes the caller after commits that logged changes; see ChangeFeed.
func (s *Service) Subscribe(ctx context.Context) <-chan string {
	return s.store.Subscribe(ctx)
}

// PruneChanges drops changes older than retention.
func (s *Service) PruneChanges(ctx context.Context, retention time.Duration) (int64, error) {
	n, err := s.store.PruneChanges(ctx, s.Now().Add(-retention))
	if err != nil {
		return 0, fmt.Errorf("prune changes: %w", err)
	}
	return n, nil
}

// RegistrationByKey answers a gateway's question: which live registration of the
// account holds this public key? The key comes URL-safe base64 encoded (it travels
// in a path); P-256 keys may be in either form that enrolment accepts.
func (s *Service) RegistrationByKey(
	ctx context.Context, accountID, urlKey string,
) (*Registration, error) {
	raw, err := decodeURLKey(urlKey)
	if err != nil || len(raw) == 0 {
		return nil, Errorf(KindInvalid, "key must be URL-safe base64")
	}
	// A curve25519 key (32 bytes) is stored as it came, so it is looked up as it
	// is, without the curve operation that validating it would cost. A P-256 key is
	// stored in one form, whichever form it came in.
	key := base64.StdEncoding.EncodeToString(raw)
	if len(raw) != 32 {
		if canon, err := CanonicalKey(KeySecp256r1, key); err == nil {
			key = canon
		} // else not a key we could have validated, such as an imported one
	}
	r, err := s.store.RegistrationByKey(ctx, accountID, key)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(KindNotFound, "no registration holds this key")
	}
	if err != nil {
		return nil, fmt.Errorf("look up key: %w", err)
	}
	return r, nil
}

// decodeURLKey decodes a key in URL-safe base64, with its padding or without.
// Decoding is strict: stray padding or unused bits that are not zero would let
// strings that are not base64 look up a key, and a line break, which the decoder
// would skip, has no place in a key.
func decodeURLKey(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("line break in key")
	}
	if strings.HasSuffix(s, "=") {
		return base64.URLEncoding.Strict().DecodeString(s)
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}
