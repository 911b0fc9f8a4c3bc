package device

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Limits on list and bulk calls.
const (
	DefaultPerPage = 20
	MaxPerPage     = 1000
	MaxBulkIDs     = 200
)

// Clock returns the current time. Tests inject a fake one.
type Clock func() time.Time

// Service applies warpreg's rules on top of a Store. It is safe for concurrent use.
type Service struct {
	store   Store
	now     Clock
	log     *slog.Logger
	touches *toucher
	exprs   *exprCache
	runs    *runs
	usable  usableKeys // see CheckEnrollmentKey

	prefetch Prefetcher // store, when it can read ahead; see bulk
}

// NewService returns a Service over store. A nil clock means the wall clock.
func NewService(store Store, clock Clock, log *slog.Logger) *Service {
	if clock == nil {
		clock = time.Now
	}
	s := &Service{now: clock, log: log, touches: &toucher{store: store}, exprs: &exprCache{},
		runs: &runs{}}
	s.store = auditStore{Store: store, now: s.Now}
	s.prefetch, _ = store.(Prefetcher)
	return s
}

// Now returns the service clock's time in UTC, truncated to microseconds: the
// precision both storage engines keep, so a row reads back exactly as written.
func (s *Service) Now() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// CreateAccount creates an account and its default profile, named "Default".
func (s *Service) CreateAccount(
	ctx context.Context, name string, multiUser bool,
) (*Account, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, Errorf(KindInvalid, "account name must not be empty")
	}
	if err := checkText("account name", name, maxName); err != nil {
		return nil, err
	}
	now := s.Now()
	a := &Account{ID: NewAccountID(), Name: name, MultiUser: multiUser, CreatedAt: now}
	p := &Profile{Name: "Default", Default: true, Enabled: true, Settings: DefaultSettings(),
		CreatedAt: now, UpdatedAt: now}
	p.ID, p.AccountID = NewID(), a.ID
	a.DefaultProfileID = p.ID

	err := s.store.Update(ctx, func(tx Tx) error {
		if err := tx.InsertAccount(ctx, a); err != nil {
			return fmt.Errorf("insert account: %w", err)
		}
		if err := tx.PutProfile(ctx, p); err != nil {
			return fmt.Errorf("insert default profile: %w", err)
		}
		return tx.SetDefaultProfile(ctx, a.ID, p.ID)
	})
	if err != nil {
		return nil, fmt.Errorf("create account: %w", err)
	}
	return a, nil
}

// Account returns an account by id.
func (s *Service) Account(ctx context.Context, id string) (*Account, error) {
	a, err := s.store.Account(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(KindNotFound, "account %s not found", id)
	}
	return a, err
}

// Registration returns one registration of the account, tombstones included.
func (s *Service) Registration(ctx context.Context, accountID, id string) (*Registration, error) {
	r, err := s.store.Registration(ctx, accountID, id)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(KindNotFound, "registration %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get registration: %w", err)
	}
	return r, nil
}

// List returns one page of the account's registrations. It rejects out-of-range
// values instead of clamping them, so a client never gets less than it asked for
// without knowing.
func (s *Service) List(ctx context.Context, accountID string, q ListQuery) (Page, error) {
	if q.Status == "" {
		q.Status = StatusActive
	}
	if q.Sort == "" {
		q.Sort = SortByID
	}
	if q.Limit == 0 {
		q.Limit = DefaultPerPage
	}
	if err := validateQuery(&q); err != nil {
		return Page{}, err
	}
	page, err := s.store.ListRegistrations(ctx, accountID, q)
	if err != nil {
		return Page{}, fmt.Errorf("list registrations: %w", err)
	}
	return page, nil
}

func validateQuery(q *ListQuery) error {
	switch q.Status {
	case StatusActive, StatusRevoked, StatusAll:
	default:
		return Errorf(KindInvalid, "status must be active, revoked or all")
	}
	valid := false
	for _, f := range SortFields {
		valid = valid || f == q.Sort
	}
	if !valid {
		return Errorf(KindInvalid, "sort_by must be one of id, user.name, user.email, "+
			"last_seen_at, created_at")
	}
	if q.Limit < 1 || q.Limit > MaxPerPage {
		return Errorf(KindInvalid, "per_page must be between 1 and %d", MaxPerPage)
	}
	if len(q.IDs) > MaxPerPage || len(q.UserIDs) > MaxPerPage {
		return Errorf(KindInvalid, "at most %d ids may be given in one filter", MaxPerPage)
	}
	for _, id := range append(append([]string{}, q.IDs...), q.UserIDs...) {
		if !ValidID(id) {
			return Errorf(KindInvalid, "%q is not a valid id", id)
		}
	}
	if q.DeviceID != "" && !ValidID(q.DeviceID) {
		return Errorf(KindInvalid, "device.id %q is not a valid id", q.DeviceID)
	}
	if err := checkText("search", q.Search, 256); err != nil {
		return err
	}
	return nil
}

// SharedSecret returns the server-wide random secret stored under name, creating it
// on first use. Every process on one database reads the same value, which is what
// lets a list cursor signed by one instance be honoured by another.
func (s *Service) SharedSecret(ctx context.Context, name string) ([]byte, error) {
	v, err := s.store.Setting(ctx, name)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("read secret %s: %w", name, err)
	}
	fresh := []byte(NewSecret())
	err = s.store.Update(ctx, func(tx Tx) error {
		if err := tx.PutSettingIfAbsent(ctx, name, fresh); err != nil {
			return err
		}
		v, err = tx.Setting(ctx, name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create secret %s: %w", name, err)
	}
	return v, nil
}
