package main

import (
	"strings"

	"github.com/warpreg/warpreg/internal/device"
)

// The bulk path writes rows with the triggers set aside, so it fills in what the
// triggers would have: the copies of user and device fields on each registration,
// what each device shows of its registrations, and both search texts. The account
// counters are counted afterwards, in SQL. TestBulkSeedMatchesTriggers checks the
// result against rows written through the store on both engines; when a migration
// changes what a trigger computes, that test says so.

// regRow is a registration with the columns the registration triggers fill.
type regRow struct {
	r                                  *device.Registration
	userName, userEmail                string
	deviceName, clientVersion, searchT string
}

// devRow is a device with the columns the device triggers fill.
type devRow struct {
	d                 *device.Device
	active            int64
	lastReg, lastUser string // "" stands for NULL
	lastEmail, lastNm string
	searchT           string
}

// searchSep joins the fields of a search text: a control character that a search
// term cannot contain.
const searchSep = "\x1f"

// searchText lower-cases and joins fields as the migrations' triggers do (Go's
// lower-casing in SQLite, and PostgreSQL's, which agree).
func searchText(fields ...string) string {
	return strings.ToLower(strings.Join(fields, searchSep))
}

// deriveRegistration copies what the registration triggers copy: its user's name
// and email and its device's name and client version.
func deriveRegistration(r *device.Registration, u *device.User, d *device.Device) regRow {
	row := regRow{r: r, deviceName: d.Facts.Name, clientVersion: d.Facts.ClientVersion}
	if u != nil && r.UserID != "" {
		row.userName, row.userEmail = u.Name, u.Email
	}
	row.searchT = searchText(r.ID, row.deviceName, row.userEmail, row.userName)
	return row
}

// deriveDevice computes what a device shows of its registrations: how many are
// active, and its last seen registration (the one seen last, preferring one not
// deleted, ties to the greater id) with that registration's user.
func deriveDevice(d *device.Device, regs []*device.Registration, users []*device.User) devRow {
	row := devRow{d: d}
	best := -1
	for i, r := range regs {
		if r.DeletedAt.IsZero() && r.RevokedAt.IsZero() {
			row.active++
		}
		if best < 0 || seenBefore(regs[best], r) {
			best = i
		}
	}
	if best >= 0 {
		r := regs[best]
		row.lastReg, row.lastUser = r.ID, r.UserID
		if r.UserID != "" {
			row.lastEmail, row.lastNm = users[best].Email, users[best].Name
		}
	}
	f := &d.Facts
	row.searchT = searchText(d.ID, f.Name, f.Model, f.Manufacturer, f.SerialNumber,
		f.HardwareID, f.MACAddress, row.lastEmail, row.lastNm)
	return row
}

// seenBefore reports whether b ranks above a as its device's last seen
// registration.
func seenBefore(a, b *device.Registration) bool {
	aLive, bLive := a.DeletedAt.IsZero(), b.DeletedAt.IsZero()
	if aLive != bLive {
		return bLive
	}
	if !a.LastSeenAt.Equal(b.LastSeenAt) {
		return b.LastSeenAt.After(a.LastSeenAt)
	}
	return b.ID > a.ID
}
