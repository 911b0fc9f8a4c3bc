package device_test

import (
	"testing"

	"github.com/warpreg/warpreg/internal/device"
)

func TestAssignerChooses(t *testing.T) {
	rules := []device.Rule{
		{ProfileID: "default", Default: true, Enabled: true},
		{ProfileID: "ann", Match: `identity.email == "ann@example.com"`, Precedence: 1, Enabled: true},
		{ProfileID: "off", Match: `os.name == "mac"`, Precedence: 2},
		{ProfileID: "eng", Match: `any(identity.groups.name[*] == "eng")`, Precedence: 3,
			Enabled: true},
		{ProfileID: "broken", Match: `os.name ==`, Precedence: 4, Enabled: true},
		{ProfileID: "macs", Match: `os.name == "mac" and device.manufacturer == "Apple"`,
			Precedence: 5, Enabled: true},
		{ProfileID: "imported"},
	}
	a := device.NewAssigner("default", rules)
	mac := &device.DeviceFacts{DeviceType: "mac", Manufacturer: "Apple"}
	linux := &device.DeviceFacts{DeviceType: "linux", Model: "XPS"}
	tests := []struct {
		name, current string
		user          *device.User
		facts         *device.DeviceFacts
		want          string
	}{
		{"the lowest precedence that matches wins", "", &device.User{Email: "ann@example.com",
			Groups: []string{"eng"}}, mac, "ann"},
		{"a disabled profile is skipped", "", &device.User{Email: "bob@example.com"}, mac, "macs"},
		{"groups match element-wise", "", &device.User{Groups: []string{"x", "eng"}}, linux, "eng"},
		{"nothing matches: the default", "macs", &device.User{Email: "c@example.com"}, linux,
			"default"},
		{"no user", "", nil, linux, "default"},
		{"an imported profile without a rule keeps its registration", "imported",
			&device.User{Email: "ann@example.com"}, mac, "imported"},
		{"a deleted profile's registration is chosen again", "gone", nil, mac, "macs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := a.Choose(tt.current, tt.user, tt.facts); got != tt.want {
				t.Errorf("Choose = %s, want %s", got, tt.want)
			}
		})
	}
}
