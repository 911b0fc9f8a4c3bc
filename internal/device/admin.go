package device

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Revoke revokes the registrations with the given ids, all or none. An unknown or
// deleted id fails the whole call with a not-found error naming it. Revoking a
// revoked registration is not an error and keeps its first revocation time.
func (s *Service) Revoke(ctx context.Context, accountID string, ids []string) error {
	return s.bulk(ctx, accountID, ids, ChangeRevoked, func(r *Registration, now time.Time) bool {
		if !r.RevokedAt.IsZero() {
			return false
		}
		r.RevokedAt = now
		return true
	})
}

// Unrevoke clears the revocation of the given registrations, all or none, with the
// same rules as Revoke. The client's secret works again after it.
func (s *Service) Unrevoke(ctx context.Context, accountID string, ids []string) error {
	return s.bulk(ctx, accountID, ids, ChangeUnrevoked, func(r *Registration, now time.Time) bool {
		if r.RevokedAt.IsZero() {
			return false
		}
		r.RevokedAt = time.Time{}
		return true
	})
}

// Delete deletes the given registrations, all or none. A deleted registration
// leaves every list but stays readable by id as a tombstone; deleting it again is
// not an error. In a single-user account the device goes with its registration.
func (s *Service) Delete(ctx context.Context, accountID string, ids []string) error {
	acct, err := s.Account(ctx, accountID)
	if err != nil {
		return err
	}
	err = s.bulk(ctx, accountID, ids, ChangeDeleted, func(r *Registration, now time.Time) bool {
		if !r.DeletedAt.IsZero() {
			return false
		}
		r.DeletedAt = now
		return true
	}, func(ctx context.Context, tx Tx, now time.Time, deleted []*Registration) error {
		if acct.MultiUser {
			return nil
		}
		devices := make([]string, len(deleted))
		for i, r := range deleted {
			devices[i] = r.DeviceID
		}
		return deleteDevices(ctx, tx, accountID, devices, now)
	})
	return err
}

func deleteDevices(
	ctx context.Context, tx Tx, accountID string, ids []string, now time.Time,
) error {
	for _, id := range ids {
		d, err := tx.Device(ctx, accountID, id)
		if err != nil {
			return fmt.Errorf("delete device %s: %w", id, err)
		}
		if !d.DeletedAt.IsZero() {
			continue
		}
		d.DeletedAt, d.UpdatedAt = now, now
		if err := tx.PutDevice(ctx, d); err != nil {
			return fmt.Errorf("delete device %s: %w", id, err)
		}
	}
	return nil
}

// bulk applies change to every registration in ids within one transaction, and logs
// a change of kind for each row it modified; unmodified rows are not written. A
// deleted registration counts as not found, except to delete. after runs last, in
// the same transaction, with the registrations this run modified.
func (s *Service) bulk(ctx context.Context, accountID string, ids []string, kind ChangeKind,
	change func(r *Registration, now time.Time) bool,
	after ...func(ctx context.Context, tx Tx, now time.Time, changed []*Registration) error,
) error {
	if err := validateIDList(ids); err != nil {
		return err
	}
	if s.prefetch != nil {
		// The read ahead may go on beside the change; it has no use once the change
		// is done.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		err := s.prefetch.PrefetchRegistrations(ctx, accountID, ids)
		if err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "read ahead of a bulk change", "account_id", accountID,
				"err", err)
		}
	}
	return s.store.Update(ctx, func(tx Tx) error {
		now := s.Now()
		var changed []*Registration // this run's, as the transaction may run again
		for _, id := range ids {
			r, err := tx.Registration(ctx, accountID, id)
			if errors.Is(err, ErrNotFound) {
				return Errorf(KindNotFound, "registration %s not found", id)
			}
			if err != nil {
				return fmt.Errorf("read registration %s: %w", id, err)
			}
			if !r.DeletedAt.IsZero() && kind != ChangeDeleted {
				return Errorf(KindNotFound, "registration %s not found", id)
			}
			if !change(r, now) {
				continue
			}
			r.UpdatedAt = now
			if err := tx.SetRegistrationState(ctx, r); err != nil {
				return fmt.Errorf("write registration %s: %w", id, err)
			}
			if err := tx.AppendChange(ctx, changeFor(kind, r, now)); err != nil {
				return fmt.Errorf("log change: %w", err)
			}
			changed = append(changed, r)
		}
		for _, fn := range after {
			if err := fn(ctx, tx, now, changed); err != nil {
				return err
			}
		}
		return nil
	})
}

func validateIDList(ids []string) error {
	if len(ids) == 0 {
		return Errorf(KindInvalid, "at least one id is required")
	}
	if len(ids) > MaxBulkIDs {
		return Errorf(KindInvalid, "at most %d ids may be given in one call", MaxBulkIDs)
	}
	for _, id := range ids {
		if !ValidID(id) {
			return Errorf(KindInvalid, "%q is not a valid registration id", id)
		}
	}
	return nil
}
