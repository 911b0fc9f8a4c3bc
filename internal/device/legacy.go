package device

import (
	"context"
	"errors"
	"fmt"
)

// DeviceView is a registration as Cloudflare's deprecated /devices endpoints show
// it, as a "device": the registration with its device's facts. It exists only in
// single-user accounts, where a registration's id is its device's id.
type DeviceView struct {
	Registration
	Facts DeviceFacts
}

// The deprecated /devices endpoints work only in single-user accounts, as
// Cloudflare's do: in a multi-user account one device holds several registrations,
// and a "device" of that API would be ambiguous.

// LegacyDevices returns up to limit live registrations of the account with an id
// greater than after ("" for the first), in id order, as devices. Revoked ones are
// included; deleted ones are not, as in every list.
func (s *Service) LegacyDevices(
	ctx context.Context, accountID, after string, limit int,
) ([]DeviceView, error) {
	if limit < 1 || limit > MaxPerPage {
		return nil, Errorf(KindInvalid, "limit must be between 1 and %d", MaxPerPage)
	}
	if _, err := s.singleUser(ctx, accountID); err != nil {
		return nil, err
	}
	views, err := s.store.DeviceViews(ctx, accountID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return views, nil
}

// LegacyDevice returns one registration of the account as a device, a deleted one
// included (a tombstone), with the account it belongs to.
func (s *Service) LegacyDevice(
	ctx context.Context, accountID, id string,
) (*DeviceView, *Account, error) {
	acct, err := s.singleUser(ctx, accountID)
	if err != nil {
		return nil, nil, err
	}
	v, err := s.store.DeviceView(ctx, accountID, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, Errorf(KindNotFound, "device %s not found", id)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("get device: %w", err)
	}
	return v, acct, nil
}

// LegacyRevoke revokes devices by id, with Revoke's rules.
func (s *Service) LegacyRevoke(ctx context.Context, accountID string, ids []string) error {
	if _, err := s.singleUser(ctx, accountID); err != nil {
		return err
	}
	return s.Revoke(ctx, accountID, ids)
}

// LegacyUnrevoke unrevokes devices by id, with Unrevoke's rules.
func (s *Service) LegacyUnrevoke(ctx context.Context, accountID string, ids []string) error {
	if _, err := s.singleUser(ctx, accountID); err != nil {
		return err
	}
	return s.Unrevoke(ctx, accountID, ids)
}

// LegacyIssueOverride issues override codes for a device, with IssueOverride's rules.
func (s *Service) LegacyIssueOverride(
	ctx context.Context, accountID, id string,
) (*OverrideIssue, error) {
	if _, err := s.singleUser(ctx, accountID); err != nil {
		return nil, err
	}
	return s.IssueOverride(ctx, accountID, id)
}

// singleUser returns the account, refusing a multi-user one.
func (s *Service) singleUser(ctx context.Context, accountID string) (*Account, error) {
	a, err := s.Account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if a.MultiUser {
		return nil, Errorf(KindInvalid, "the deprecated /devices endpoints are not "+
			"supported for an account in multi-user mode; use /devices/registrations "+
			"or /devices/physical-devices instead")
	}
	return a, nil
}
