package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

// DecodeRegistrations reads registrations from a Cloudflare v4 response body as
// saved from its API: a get (result is an object) or a list page (result is an
// array). A bare registration object or array is accepted too. Timestamps keep
// microsecond precision, the precision warpreg stores.
func DecodeRegistrations(data []byte) ([]device.Registration, error) {
	var env struct {
		Success *bool           `json:"success"`
		Result  json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(data, &env); err == nil && env.Success != nil {
		if !*env.Success {
			return nil, fmt.Errorf("decode registrations: the response reports success: false")
		}
		data = env.Result
	}
	data = bytes.TrimSpace(data)
	var items []registrationJSON
	if len(data) > 0 && data[0] == '[' {
		if err := json.Unmarshal(data, &items); err != nil {
			return nil, fmt.Errorf("decode registrations: %w", err)
		}
	} else {
		var one registrationJSON
		if err := json.Unmarshal(data, &one); err != nil {
			return nil, fmt.Errorf("decode registration: %w", err)
		}
		items = []registrationJSON{one}
	}
	out := make([]device.Registration, len(items))
	for i := range items {
		if err := fromRegistrationJSON(&items[i], &out[i]); err != nil {
			return nil, fmt.Errorf("registration %d (%s): %w", i+1, items[i].ID, err)
		}
	}
	return out, nil
}

func fromRegistrationJSON(in *registrationJSON, r *device.Registration) error {
	var err error
	times := []struct {
		name     string
		value    *string
		into     *time.Time
		required bool
	}{
		{"created_at", &in.CreatedAt, &r.CreatedAt, true},
		{"updated_at", &in.UpdatedAt, &r.UpdatedAt, true},
		{"last_seen_at", &in.LastSeenAt, &r.LastSeenAt, true},
		{"revoked_at", in.RevokedAt, &r.RevokedAt, false},
		{"deleted_at", in.DeletedAt, &r.DeletedAt, false},
	}
	for _, t := range times {
		if *t.into, err = importTime(t.name, t.value, t.required); err != nil {
			return err
		}
	}
	if in.ID == "" || in.Device.ID == "" || in.Key == "" {
		return fmt.Errorf("id, device.id and key are required")
	}
	r.ID, r.DeviceID, r.Key = in.ID, in.Device.ID, in.Key
	r.DeviceName, r.ClientVersion = in.Device.Name, in.Device.ClientVersion
	if in.KeyType != nil {
		r.KeyType = device.KeyType(*in.KeyType)
	}
	if in.TunnelType != nil {
		r.TunnelType = device.TunnelType(*in.TunnelType)
	}
	if u := in.User; u != nil && u.ID != "" {
		r.User = &device.User{ID: u.ID, Email: u.Email, Name: u.Name, Groups: []string{}}
	}
	if p := in.Policy; p != nil {
		updated, err := importTime("policy.updated_at", &p.UpdatedAt, true)
		if err != nil {
			return err
		}
		r.Policy = &device.Profile{ID: p.ID, Name: p.Name, Default: p.Default, UpdatedAt: updated}
		if p.Deleted {
			r.Policy.DeletedAt = updated
		}
	}
	return nil
}

func importTime(name string, s *string, required bool) (time.Time, error) {
	if s == nil || *s == "" {
		if required {
			return time.Time{}, fmt.Errorf("%s is required", name)
		}
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", name, err)
	}
	return t.UTC().Truncate(time.Microsecond), nil
}
