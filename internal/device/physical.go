package device

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ActiveFilter selects physical devices by whether they hold an active registration
// (one neither revoked nor deleted). Deleted devices are never listed.
type ActiveFilter string

// The filters Cloudflare's list devices endpoint accepts; ActiveOnly is the default.
const (
	ActiveOnly    ActiveFilter = "only"
	ActiveInclude ActiveFilter = "include"
	ActiveExclude ActiveFilter = "exclude"
)

// DeviceSortField is a key that device lists can be ordered by. Every sort is made
// total by the device id, so ties never lose or repeat a row across pages.
type DeviceSortField string

// The sort keys that Cloudflare's list devices endpoint accepts.
const (
	DeviceSortByName                DeviceSortField = "name"
	DeviceSortByID                  DeviceSortField = "id"
	DeviceSortByClientVersion       DeviceSortField = "client_version"
	DeviceSortByLastSeenUserEmail   DeviceSortField = "last_seen_user.email"
	DeviceSortByLastSeenAt          DeviceSortField = "last_seen_at"
	DeviceSortByActiveRegistrations DeviceSortField = "active_registrations"
	DeviceSortByCreatedAt           DeviceSortField = "created_at"
)

// DeviceSortFields lists every device sort key, in documentation order.
var DeviceSortFields = []DeviceSortField{
	DeviceSortByName, DeviceSortByID, DeviceSortByClientVersion, DeviceSortByLastSeenUserEmail,
	DeviceSortByLastSeenAt, DeviceSortByActiveRegistrations, DeviceSortByCreatedAt,
}

// DeviceListQuery selects and orders the physical devices of one account. Zero
// values mean "no filter", except Active, which the service defaults to ActiveOnly.
type DeviceListQuery struct {
	IDs    []string
	Active ActiveFilter

	// LastSeenUserEmail selects devices whose last seen user has exactly this
	// email; the service lower-cases it, as emails are stored.
	LastSeenUserEmail string

	// Search is a case-insensitive substring of the device's id, name, model,
	// manufacturer, serial number, hardware id or MAC address, or of its last
	// seen user's email or name.
	Search     string
	SeenAfter  time.Time // last seen strictly after this; zero for no bound
	SeenBefore time.Time // last seen strictly before this; zero for no bound
	Sort       DeviceSortField
	Desc       bool
	Limit      int
	After      *Position // continue after this row; nil for the first page

	// WithPolicy asks for the last seen registration's profile (LastSeen.Policy);
	// without it the store may leave it nil, and reads less.
	WithPolicy bool
}

// DevicePage is one page of a device list, with the guarantees of Page.
type DevicePage struct {
	Devices []Device
	Total   int
	Next    *Position
}

// DeviceSortValue returns d's key for field f, in the form Position.Value uses.
func DeviceSortValue(d *Device, f DeviceSortField) string {
	switch f {
	case DeviceSortByName:
		return d.Facts.Name
	case DeviceSortByClientVersion:
		return d.Facts.ClientVersion
	case DeviceSortByLastSeenUserEmail:
		if d.LastSeenUser == nil {
			return ""
		}
		return d.LastSeenUser.Email
	case DeviceSortByLastSeenAt:
		return formatMicros(d.LastSeenAt)
	case DeviceSortByActiveRegistrations:
		return strconv.Itoa(d.ActiveRegistrations)
	case DeviceSortByCreatedAt:
		return formatMicros(d.CreatedAt)
	default:
		return d.ID
	}
}

// Device returns one physical device of the account, a deleted one (a tombstone)
// included.
func (s *Service) Device(ctx context.Context, accountID, id string) (*Device, error) {
	d, err := s.store.Device(ctx, accountID, id)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(KindNotFound, "device %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get device: %w", err)
	}
	return d, nil
}

// ListDevices returns one page of the account's physical devices. Like List, it
// rejects out-of-range values instead of clamping them.
func (s *Service) ListDevices(
	ctx context.Context, accountID string, q DeviceListQuery,
) (DevicePage, error) {
	if q.Active == "" {
		q.Active = ActiveOnly
	}
	if q.Sort == "" {
		q.Sort = DeviceSortByID
	}
	if q.Limit == 0 {
		q.Limit = DefaultPerPage
	}
	if err := validateDeviceQuery(&q); err != nil {
		return DevicePage{}, err
	}
	page, err := s.store.ListDevices(ctx, accountID, q)
	if err != nil {
		return DevicePage{}, fmt.Errorf("list devices: %w", err)
	}
	return page, nil
}

func validateDeviceQuery(q *DeviceListQuery) error {
	switch q.Active {
	case ActiveOnly, ActiveInclude, ActiveExclude:
	default:
		return Errorf(KindInvalid, "active_registrations must be only, include or exclude")
	}
	valid := false
	for _, f := range DeviceSortFields {
		valid = valid || f == q.Sort
	}
	if !valid {
		return Errorf(KindInvalid, "sort_by must be one of name, id, client_version, "+
			"last_seen_user.email, last_seen_at, active_registrations, created_at")
	}
	if q.Limit < 1 || q.Limit > MaxPerPage {
		return Errorf(KindInvalid, "per_page must be between 1 and %d", MaxPerPage)
	}
	if len(q.IDs) > MaxPerPage {
		return Errorf(KindInvalid, "at most %d ids may be given in one filter", MaxPerPage)
	}
	for _, id := range q.IDs {
		if !ValidID(id) {
			return Errorf(KindInvalid, "%q is not a valid id", id)
		}
	}
	q.LastSeenUserEmail = strings.ToLower(strings.TrimSpace(q.LastSeenUserEmail))
	if err := checkText("last_seen_user.email", q.LastSeenUserEmail, maxEmail); err != nil {
		return err
	}
	return checkText("search", q.Search, 256)
}

// RevokeDevice revokes every active registration of a device, in one transaction,
// logging a change for each. Registrations already revoked keep their first
// revocation time. An unknown or deleted device is not found.
func (s *Service) RevokeDevice(ctx context.Context, accountID, id string) error {
	return s.deviceBulk(ctx, accountID, id, ChangeRevoked,
		func(r *Registration, now time.Time) bool {
			if !r.RevokedAt.IsZero() || !r.DeletedAt.IsZero() {
				return false
			}
			r.RevokedAt = now
			return true
		})
}

// DeleteDevice deletes a device and every registration it holds, in one
// transaction, logging a change for each registration. Both stay readable by id as
// tombstones; deleting a deleted device is not an error.
func (s *Service) DeleteDevice(ctx context.Context, accountID, id string) error {
	return s.deviceBulk(ctx, accountID, id, ChangeDeleted,
		func(r *Registration, now time.Time) bool {
			if !r.DeletedAt.IsZero() {
				return false
			}
			r.DeletedAt = now
			return true
		})
}

// deviceBulk applies change to every live registration of device id and logs a
// change of kind for each row it modified. A deletion also deletes the device, after its
// registrations; any other change refuses a deleted device.
func (s *Service) deviceBulk(ctx context.Context, accountID, id string, kind ChangeKind,
	change func(r *Registration, now time.Time) bool,
) error {
	if !ValidID(id) {
		return Errorf(KindNotFound, "device %s not found", id)
	}
	return s.store.Update(ctx, func(tx Tx) error {
		now := s.Now()
		d, err := tx.Device(ctx, accountID, id)
		if errors.Is(err, ErrNotFound) || (err == nil && !d.DeletedAt.IsZero() &&
			kind != ChangeDeleted) {
			return Errorf(KindNotFound, "device %s not found", id)
		}
		if err != nil {
			return fmt.Errorf("read device: %w", err)
		}
		regs, err := tx.DeviceRegistrations(ctx, accountID, id)
		if err != nil {
			return fmt.Errorf("read registrations of device %s: %w", id, err)
		}
		for i := range regs {
			r := &regs[i]
			if !change(r, now) {
				continue
			}
			r.UpdatedAt = now
			if err := tx.SetRegistrationState(ctx, r); err != nil {
				return fmt.Errorf("write registration %s: %w", r.ID, err)
			}
			if err := tx.AppendChange(ctx, changeFor(kind, r, now)); err != nil {
				return fmt.Errorf("log change: %w", err)
			}
		}
		if kind != ChangeDeleted {
			return nil
		}
		return deleteDevices(ctx, tx, accountID, []string{id}, now)
	})
}
