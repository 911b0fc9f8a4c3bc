package device_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/warpreg/warpreg/internal/device"
)

func TestListDevicesDefaults(t *testing.T) {
	var got device.DeviceListQuery
	store := &fakeStore{listDevices: func(_ string, q device.DeviceListQuery) (device.DevicePage, error) {
		got = q
		return device.DevicePage{}, nil
	}}
	q := device.DeviceListQuery{Search: "x", LastSeenUserEmail: " Ann@Example.COM "}
	if _, err := newService(store).ListDevices(t.Context(), "acct", q); err != nil {
		t.Fatalf("ListDevices: %v", err)
	}
	want := device.DeviceListQuery{Active: device.ActiveOnly, Sort: device.DeviceSortByID,
		Limit: device.DefaultPerPage, Search: "x", LastSeenUserEmail: "ann@example.com"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("query passed to the store (-want +got):\n%s", diff)
	}
}

func TestListDevicesValidation(t *testing.T) {
	id := device.NewID()
	many := make([]string, device.MaxPerPage+1)
	for i := range many {
		many[i] = id
	}
	var valid []device.DeviceListQuery
	for _, f := range device.DeviceSortFields {
		valid = append(valid, device.DeviceListQuery{Sort: f, Desc: true})
	}
	valid = append(valid,
		device.DeviceListQuery{Active: device.ActiveExclude, Limit: device.MaxPerPage},
		device.DeviceListQuery{Active: device.ActiveInclude, IDs: many[1:]},
		device.DeviceListQuery{Search: strings.Repeat("x", 256)},
	)
	invalid := map[string]device.DeviceListQuery{
		"unknown active filter":  {Active: "all"},
		"registration sort":      {Sort: device.DeviceSortField(device.SortByUserName)},
		"negative limit":         {Limit: -1},
		"limit over max":         {Limit: device.MaxPerPage + 1},
		"too many ids":           {IDs: many},
		"malformed id":           {IDs: []string{id, "nope"}},
		"uppercase id":           {IDs: []string{strings.ToUpper(id)}},
		"search too long":        {Search: strings.Repeat("x", 257)},
		"control char in search": {Search: "a\x1bb"},
		"email too long":         {LastSeenUserEmail: strings.Repeat("a", 91)},
		"control char in email":  {LastSeenUserEmail: "a\nb@example.com"},
	}
	for _, q := range valid {
		store := &fakeStore{listDevices: func(string, device.DeviceListQuery) (device.DevicePage, error) {
			return device.DevicePage{}, nil
		}}
		if _, err := newService(store).ListDevices(t.Context(), "acct", q); err != nil {
			t.Errorf("ListDevices(%+v) = %v, want it accepted", q, err)
		}
	}
	for name, q := range invalid {
		store := refusingStore(t)
		store.listDevices = func(string, device.DeviceListQuery) (device.DevicePage, error) {
			t.Error("ListDevices called with invalid input")
			return device.DevicePage{}, nil
		}
		_, err := newService(store).ListDevices(t.Context(), "acct", q)
		if device.KindOf(err) != device.KindInvalid {
			t.Errorf("ListDevices with %s: got %v, want an invalid-input error", name, err)
		}
	}
}

func TestListDevicesWrapsStoreErrors(t *testing.T) {
	boom := errors.New("boom")
	store := &fakeStore{listDevices: func(string, device.DeviceListQuery) (device.DevicePage, error) {
		return device.DevicePage{}, boom
	}}
	_, err := newService(store).ListDevices(t.Context(), "acct", device.DeviceListQuery{})
	if !errors.Is(err, boom) || device.KindOf(err) != device.KindInternal {
		t.Errorf("ListDevices = %v, want an internal error wrapping the store's", err)
	}
}

func TestDeviceCallsRefuseMalformedIDs(t *testing.T) {
	svc := newService(refusingStore(t))
	for name, call := range map[string]func() error{
		"RevokeDevice": func() error { return svc.RevokeDevice(t.Context(), "acct", "hw-1") },
		"DeleteDevice": func() error { return svc.DeleteDevice(t.Context(), "acct", "hw-1") },
	} {
		if err := call(); device.KindOf(err) != device.KindNotFound {
			t.Errorf("%s of a malformed id: got %v, want not found", name, err)
		}
	}
}

func TestDeviceSortValue(t *testing.T) {
	d := &device.Device{ID: "id", Facts: device.DeviceFacts{Name: "n", ClientVersion: "v"},
		ActiveRegistrations: 12}
	want := map[device.DeviceSortField]string{
		device.DeviceSortByID: "id", device.DeviceSortByName: "n",
		device.DeviceSortByClientVersion: "v", device.DeviceSortByLastSeenUserEmail: "",
		device.DeviceSortByActiveRegistrations: "12",
	}
	for f, v := range want {
		if got := device.DeviceSortValue(d, f); got != v {
			t.Errorf("DeviceSortValue(%s) = %q, want %q", f, got, v)
		}
	}
	d.LastSeenUser = &device.User{Email: "a@example.com"}
	if got := device.DeviceSortValue(d, device.DeviceSortByLastSeenUserEmail); got != "a@example.com" {
		t.Errorf("DeviceSortValue(last_seen_user.email) = %q", got)
	}
}
