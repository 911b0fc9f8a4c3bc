package row

import (
	"database/sql"
	"fmt"

	"github.com/warpreg/warpreg/internal/device"
)

// DeviceViewSelect reads a registration with its device's facts, for Cloudflare's
// deprecated device view. It needs no profile, so it joins only the device. Callers
// add the WHERE clause.
const DeviceViewSelect = `SELECT r.id, r.account_id, r.device_id, r.user_id, r.key,
	r.key_type, r.tunnel_type, r.created_at, r.updated_at, r.last_seen_at, r.revoked_at,
	r.deleted_at, r.device_name, r.client_version, r.user_email, r.user_name,
	d.model, d.manufacturer, d.device_type, d.os_version, d.os_version_extra,
	d.serial_number, d.mac_address
	FROM registrations r
	JOIN devices d ON d.id = r.device_id`

// DeviceView scans a row of DeviceViewSelect. The name and client version are the
// registration's copies, which a tombstone keeps as they were.
func DeviceView(s Scanner) (*device.DeviceView, error) {
	var v device.DeviceView
	g, f := &v.Registration, &v.Facts
	var userID, keyType, tunnelType sql.NullString
	var created, updated, seen int64
	var revoked, deleted sql.NullInt64
	var uEmail, uName string
	err := s.Scan(&g.ID, &g.AccountID, &g.DeviceID, &userID, &g.Key, &keyType, &tunnelType,
		&created, &updated, &seen, &revoked, &deleted, &g.DeviceName, &g.ClientVersion,
		&uEmail, &uName, &f.Model, &f.Manufacturer, &f.DeviceType, &f.OSVersion,
		&f.OSVersionExtra, &f.SerialNumber, &f.MACAddress)
	if err != nil {
		return nil, fmt.Errorf("read device view: %w", err)
	}
	g.UserID, g.KeyType, g.TunnelType = userID.String, device.KeyType(keyType.String),
		device.TunnelType(tunnelType.String)
	g.CreatedAt, g.UpdatedAt = FromMicros(created), FromMicros(updated)
	g.LastSeenAt = FromMicros(seen)
	g.RevokedAt, g.DeletedAt = NullMicros(revoked), NullMicros(deleted)
	if userID.Valid {
		g.User = &device.User{ID: userID.String, AccountID: g.AccountID, Email: uEmail, Name: uName}
	}
	f.Name, f.ClientVersion = g.DeviceName, g.ClientVersion
	return &v, nil
}

// OverrideSecretColumns are read by OverrideSecret, in order.
const OverrideSecretColumns = `registration_id, secret, counter, created_at, updated_at`

// OverrideSecret scans a row of OverrideSecretColumns.
func OverrideSecret(s Scanner) (*device.OverrideSecret, error) {
	var o device.OverrideSecret
	var created, updated int64
	if err := s.Scan(&o.RegistrationID, &o.Secret, &o.Counter, &created, &updated); err != nil {
		return nil, fmt.Errorf("read override secret: %w", err)
	}
	o.CreatedAt, o.UpdatedAt = FromMicros(created), FromMicros(updated)
	return &o, nil
}
