package httpapi

import (
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

// registrationJSON is a registration as Cloudflare's v4 API returns it. Field order
// and nullability follow Cloudflare's reference: deleted_at, revoked_at, key_type
// and tunnel_type are null when unset, and policy is present only when asked for.
type registrationJSON struct {
	ID         string      `json:"id"`
	CreatedAt  string      `json:"created_at"`
	Device     deviceJSON  `json:"device"`
	Key        string      `json:"key"`
	LastSeenAt string      `json:"last_seen_at"`
	UpdatedAt  string      `json:"updated_at"`
	DeletedAt  *string     `json:"deleted_at"`
	KeyType    *string     `json:"key_type"`
	Policy     *policyJSON `json:"policy,omitempty"`
	RevokedAt  *string     `json:"revoked_at"`
	TunnelType *string     `json:"tunnel_type"`
	User       *userJSON   `json:"user"`
}

type deviceJSON struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	ClientVersion string `json:"client_version,omitempty"`
}

type policyJSON struct {
	ID        string `json:"id"`
	Default   bool   `json:"default"`
	Deleted   bool   `json:"deleted"`
	Name      string `json:"name"`
	UpdatedAt string `json:"updated_at"`
}

type userJSON struct {
	ID    string `json:"id,omitempty"`
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
}

func toRegistrationJSON(r *device.Registration, withPolicy bool) registrationJSON {
	out := registrationJSON{
		ID:         r.ID,
		CreatedAt:  formatTime(r.CreatedAt),
		Device:     deviceJSON{ID: r.DeviceID, Name: r.DeviceName, ClientVersion: r.ClientVersion},
		Key:        r.Key,
		LastSeenAt: formatTime(r.LastSeenAt),
		UpdatedAt:  formatTime(r.UpdatedAt),
		DeletedAt:  optionalTime(r.DeletedAt),
		KeyType:    optionalString(string(r.KeyType)),
		RevokedAt:  optionalTime(r.RevokedAt),
		TunnelType: optionalString(string(r.TunnelType)),
	}
	if r.User != nil {
		out.User = &userJSON{ID: r.User.ID, Email: r.User.Email, Name: r.User.Name}
	}
	if withPolicy && r.Policy != nil {
		out.Policy = &policyJSON{
			ID: r.Policy.ID, Default: r.Policy.Default, Deleted: !r.Policy.DeletedAt.IsZero(),
			Name: r.Policy.Name, UpdatedAt: formatTime(r.PolicyUpdatedAt),
		}
	}
	return out
}

// formatTime renders t in RFC 3339, UTC: whole seconds without a fraction, so that a
// timestamp imported from Cloudflare reads back as written, and any other time with
// exactly six fractional digits, the precision stored, so that equal-length strings
// sort as their times do.
func formatTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond() == 0 {
		return t.Format(time.RFC3339)
	}
	return t.Format("2006-01-02T15:04:05.000000Z07:00")
}

func optionalTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := formatTime(t)
	return &s
}

func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// physicalDeviceJSON is a physical device as Cloudflare's v4 API returns it (the
// SDK's DeviceDeviceGetResponse). Field order follows the SDK: required fields
// first, then the optional ones by name. Optional facts are null when unknown;
// public_ip, deprecated by Cloudflare, is always null since warpreg keeps no
// addresses. The handlers write devices with appendDevice, which a test holds to
// the bytes encoding/json makes of this struct.
type physicalDeviceJSON struct {
	ID                   string                `json:"id"`
	ActiveRegistrations  int                   `json:"active_registrations"`
	CreatedAt            string                `json:"created_at"`
	LastSeenAt           *string               `json:"last_seen_at"`
	Name                 string                `json:"name"`
	UpdatedAt            string                `json:"updated_at"`
	ClientVersion        *string               `json:"client_version"`
	DeletedAt            *string               `json:"deleted_at"`
	DeviceType           *string               `json:"device_type"`
	HardwareID           *string               `json:"hardware_id"`
	LastSeenRegistration *seenRegistrationJSON `json:"last_seen_registration"`
	LastSeenUser         *userJSON             `json:"last_seen_user"`
	MACAddress           *string               `json:"mac_address"`
	Manufacturer         *string               `json:"manufacturer"`
	Model                *string               `json:"model"`
	OSVersion            *string               `json:"os_version"`
	OSVersionExtra       *string               `json:"os_version_extra"`
	PublicIP             *string               `json:"public_ip"`
	SerialNumber         *string               `json:"serial_number"`
}

// seenRegistrationJSON is a device's last seen registration. Cloudflare's schema
// has only policy, present when asked for with include=last_seen_registration.policy;
// warpreg adds the registration's id, which lets a client fetch it.
type seenRegistrationJSON struct {
	ID     string      `json:"id"`
	Policy *policyJSON `json:"policy,omitempty"`
}

func toPhysicalDeviceJSON(d *device.Device, withPolicy bool) physicalDeviceJSON {
	f := &d.Facts
	out := physicalDeviceJSON{
		ID:                  d.ID,
		ActiveRegistrations: d.ActiveRegistrations,
		CreatedAt:           formatTime(d.CreatedAt),
		LastSeenAt:          optionalTime(d.LastSeenAt),
		Name:                f.Name,
		UpdatedAt:           formatTime(d.UpdatedAt),
		ClientVersion:       optionalString(f.ClientVersion),
		DeletedAt:           optionalTime(d.DeletedAt),
		DeviceType:          optionalString(f.DeviceType),
		HardwareID:          optionalString(f.HardwareID),
		MACAddress:          optionalString(f.MACAddress),
		Manufacturer:        optionalString(f.Manufacturer),
		Model:               optionalString(f.Model),
		OSVersion:           optionalString(f.OSVersion),
		OSVersionExtra:      optionalString(f.OSVersionExtra),
		SerialNumber:        optionalString(f.SerialNumber),
	}
	if u := d.LastSeenUser; u != nil {
		out.LastSeenUser = &userJSON{ID: u.ID, Email: u.Email, Name: u.Name}
	}
	if s := d.LastSeen; s != nil {
		out.LastSeenRegistration = &seenRegistrationJSON{ID: s.ID}
		if withPolicy && s.Policy != nil {
			p := s.Policy
			out.LastSeenRegistration.Policy = &policyJSON{
				ID: p.ID, Default: p.Default, Deleted: !p.DeletedAt.IsZero(), Name: p.Name,
				UpdatedAt: formatTime(s.PolicyUpdatedAt),
			}
		}
	}
	return out
}
