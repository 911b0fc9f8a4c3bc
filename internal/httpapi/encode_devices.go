package httpapi

import (
	"net/http"
	"strconv"

	"github.com/warpreg/warpreg/internal/device"
)

// writeDevices writes a success envelope whose result is one device, or, when list
// is set, the array devs with info.
func writeDevices(
	w http.ResponseWriter, devs []device.Device, list, withPolicy bool, info *resultInfo,
) {
	writeDirect(w, list, len(devs), info, func(b []byte, i int) []byte {
		return appendDevice(b, &devs[i], withPolicy)
	})
}

// appendDevice appends d as physicalDeviceJSON would encode.
func appendDevice(b []byte, d *device.Device, withPolicy bool) []byte {
	f := &d.Facts
	b = append(b, `{"id":`...)
	b = appendString(b, d.ID)
	b = append(b, `,"active_registrations":`...)
	b = strconv.AppendInt(b, int64(d.ActiveRegistrations), 10)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, d.CreatedAt)
	b = append(b, `,"last_seen_at":`...)
	b = appendOptionalTime(b, d.LastSeenAt)
	b = append(b, `,"name":`...)
	b = appendString(b, f.Name)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, d.UpdatedAt)
	b = append(b, `,"client_version":`...)
	b = appendOptionalString(b, f.ClientVersion)
	b = append(b, `,"deleted_at":`...)
	b = appendOptionalTime(b, d.DeletedAt)
	b = append(b, `,"device_type":`...)
	b = appendOptionalString(b, f.DeviceType)
	b = append(b, `,"hardware_id":`...)
	b = appendOptionalString(b, f.HardwareID)
	b = append(b, `,"last_seen_registration":`...)
	if s := d.LastSeen; s == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"id":`...)
		b = appendString(b, s.ID)
		if withPolicy && s.Policy != nil {
			b = append(b, `,"policy":`...)
			b = appendPolicy(b, s.Policy, s.PolicyUpdatedAt)
		}
		b = append(b, '}')
	}
	b = append(b, `,"last_seen_user":`...)
	b = appendUser(b, d.LastSeenUser)
	for _, v := range [...]struct{ name, value string }{
		{`,"mac_address":`, f.MACAddress}, {`,"manufacturer":`, f.Manufacturer},
		{`,"model":`, f.Model}, {`,"os_version":`, f.OSVersion},
		{`,"os_version_extra":`, f.OSVersionExtra}, {`,"public_ip":`, ""},
		{`,"serial_number":`, f.SerialNumber},
	} {
		b = append(b, v.name...)
		b = appendOptionalString(b, v.value)
	}
	return append(b, '}')
}
