package httpapi

import (
	"encoding/json"
	"math"

	"github.com/warpreg/warpreg/internal/device"
)

// settingsPolicyJSON is a device settings profile as Cloudflare's SettingsPolicy
// carries it. Of the two split tunnel lists only the one in force is present, as
// its mode; match and precedence are absent on the default profile, and the LAN
// access fields and the proxy port when unset.
type settingsPolicyJSON struct {
	AllowModeSwitch            bool                 `json:"allow_mode_switch"`
	AllowUpdates               bool                 `json:"allow_updates"`
	AllowedToLeave             bool                 `json:"allowed_to_leave"`
	AutoConnect                int                  `json:"auto_connect"`
	CaptivePortal              int                  `json:"captive_portal"`
	Default                    bool                 `json:"default"`
	Description                string               `json:"description"`
	DisableAutoFallback        bool                 `json:"disable_auto_fallback"`
	Enabled                    bool                 `json:"enabled"`
	Exclude                    *[]routeJSON         `json:"exclude,omitempty"`
	ExcludeOfficeIPs           bool                 `json:"exclude_office_ips"`
	FallbackDomains            []fallbackDomainJSON `json:"fallback_domains"`
	GatewayUniqueID            string               `json:"gateway_unique_id"`
	Include                    *[]routeJSON         `json:"include,omitempty"`
	LANAllowMinutes            *int                 `json:"lan_allow_minutes,omitempty"`
	LANAllowSubnetSize         *int                 `json:"lan_allow_subnet_size,omitempty"`
	Match                      *string              `json:"match,omitempty"`
	Name                       string               `json:"name"`
	PolicyID                   string               `json:"policy_id"`
	Precedence                 *int                 `json:"precedence,omitempty"`
	RegisterInterfaceIPWithDNS bool                 `json:"register_interface_ip_with_dns"`
	SCCMVPNBoundarySupport     bool                 `json:"sccm_vpn_boundary_support"`
	ServiceModeV2              serviceModeJSON      `json:"service_mode_v2"`
	SupportURL                 string               `json:"support_url"`
	SwitchLocked               bool                 `json:"switch_locked"`
	TargetTests                []targetTestJSON     `json:"target_tests"`
	TunnelProtocol             string               `json:"tunnel_protocol"`
}

type serviceModeJSON struct {
	Mode string `json:"mode"`
	Port *int   `json:"port,omitempty"`
}

// targetTestJSON names a DEX test aimed at the profile; warpreg has no DEX tests,
// so the list is always empty.
type targetTestJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// routeJSON is a split tunnel entry, in requests and responses: an address or a
// host, and a description.
type routeJSON struct {
	Address     string `json:"address,omitempty"`
	Host        string `json:"host,omitempty"`
	Description string `json:"description"`
}

type fallbackDomainJSON struct {
	Suffix      string   `json:"suffix"`
	Description string   `json:"description"`
	DNSServer   []string `json:"dns_server"`
}

func toSettingsPolicyJSON(p *device.Profile) settingsPolicyJSON {
	s := &p.Settings
	out := settingsPolicyJSON{
		AllowModeSwitch: s.AllowModeSwitch, AllowUpdates: s.AllowUpdates,
		AllowedToLeave: s.AllowedToLeave, AutoConnect: s.AutoConnect,
		CaptivePortal: s.CaptivePortal, Default: p.Default, Description: p.Description,
		DisableAutoFallback: s.DisableAutoFallback, Enabled: p.Enabled,
		ExcludeOfficeIPs: s.ExcludeOfficeIPs, FallbackDomains: toDomainsJSON(s.FallbackDomains),
		GatewayUniqueID: device.GatewayUniqueID(p.AccountID),
		LANAllowMinutes: s.LANAllowMinutes, LANAllowSubnetSize: s.LANAllowSubnetSize,
		Name: p.Name, PolicyID: p.ID, RegisterInterfaceIPWithDNS: s.RegisterInterfaceIPWithDNS,
		SCCMVPNBoundarySupport: s.SCCMVPNBoundarySupport,
		ServiceModeV2:          serviceModeJSON{Mode: string(s.ServiceMode)},
		SupportURL:             s.SupportURL, SwitchLocked: s.SwitchLocked,
		TargetTests: []targetTestJSON{}, TunnelProtocol: string(s.TunnelProtocol),
	}
	if s.ServicePort != 0 {
		out.ServiceModeV2.Port = &s.ServicePort
	}
	routes := toRoutesJSON(s.Exclude)
	if s.SplitMode == device.SplitInclude {
		routes = toRoutesJSON(s.Include)
		out.Include = &routes
	} else {
		out.Exclude = &routes
	}
	if !p.Default {
		out.Match = &p.Match
		if p.Precedence != 0 {
			out.Precedence = &p.Precedence
		}
	}
	return out
}

func toRoutesJSON(rs []device.Route) []routeJSON {
	out := make([]routeJSON, len(rs))
	for i, r := range rs {
		out[i] = routeJSON(r)
	}
	return out
}

func toDomainsJSON(ds []device.FallbackDomain) []fallbackDomainJSON {
	out := make([]fallbackDomainJSON, len(ds))
	for i, d := range ds {
		servers := d.DNSServers
		if servers == nil {
			servers = []string{}
		}
		out[i] = fallbackDomainJSON{Suffix: d.Suffix, Description: d.Description,
			DNSServer: servers}
	}
	return out
}

func fromRoutesJSON(rs []routeJSON) []device.Route {
	out := make([]device.Route, len(rs))
	for i, r := range rs {
		out[i] = device.Route(r)
	}
	return out
}

func fromDomainsJSON(ds []fallbackDomainJSON) []device.FallbackDomain {
	out := make([]device.FallbackDomain, len(ds))
	for i, d := range ds {
		servers := d.DNSServer
		if servers == nil {
			servers = []string{}
		}
		out[i] = device.FallbackDomain{Suffix: d.Suffix, Description: d.Description,
			DNSServers: servers}
	}
	return out
}

// settingsBody holds the settings that a default or custom profile's create or
// edit may set (Cloudflare's DevicePolicyDefaultEditParams). A field left out, or
// null, stays as it is; null clears the two LAN access fields.
type settingsBody struct {
	AllowModeSwitch            *bool            `json:"allow_mode_switch"`
	AllowUpdates               *bool            `json:"allow_updates"`
	AllowedToLeave             *bool            `json:"allowed_to_leave"`
	AutoConnect                *float64         `json:"auto_connect"`
	CaptivePortal              *float64         `json:"captive_portal"`
	DisableAutoFallback        *bool            `json:"disable_auto_fallback"`
	Exclude                    *[]routeJSON     `json:"exclude"`
	ExcludeOfficeIPs           *bool            `json:"exclude_office_ips"`
	Include                    *[]routeJSON     `json:"include"`
	LANAllowMinutes            nullable         `json:"lan_allow_minutes"`
	LANAllowSubnetSize         nullable         `json:"lan_allow_subnet_size"`
	RegisterInterfaceIPWithDNS *bool            `json:"register_interface_ip_with_dns"`
	SCCMVPNBoundarySupport     *bool            `json:"sccm_vpn_boundary_support"`
	ServiceModeV2              *serviceModeBody `json:"service_mode_v2"`
	SupportURL                 *string          `json:"support_url"`
	SwitchLocked               *bool            `json:"switch_locked"`
	TunnelProtocol             *string          `json:"tunnel_protocol"`
}

type serviceModeBody struct {
	Mode *string  `json:"mode"`
	Port *float64 `json:"port"`
}

// policyBody is a custom profile's create or edit (DevicePolicyCustomNewParams).
type policyBody struct {
	settingsBody
	Description *string  `json:"description"`
	Enabled     *bool    `json:"enabled"`
	Match       *string  `json:"match"`
	Name        *string  `json:"name"`
	Precedence  *float64 `json:"precedence"`
}

// required refuses a new custom profile's body without a field that
// DevicePolicyCustomNewParams requires. Only the wire can tell a field left out
// from one sent as zero: the domain sees a precedence of 0 as out of range.
func (b *policyBody) required() error {
	switch {
	case b.Name == nil:
		return invalid("name is required")
	case b.Match == nil:
		return invalid("match is required")
	case b.Precedence == nil:
		return invalid("precedence is required")
	}
	return nil
}

// nullable is a number that a request may set, leave out or clear with null.
type nullable struct {
	set, null bool
	v         float64
}

func (n *nullable) UnmarshalJSON(b []byte) error {
	n.set = true
	if string(b) == "null" {
		n.null = true
		return nil
	}
	return json.Unmarshal(b, &n.v)
}

// apply copies the fields b sets onto s.
func (b *settingsBody) apply(s *device.Settings) error {
	if b.Exclude != nil && b.Include != nil {
		return invalid("exclude and include cannot both be set in one request")
	}
	setBools([][2]*bool{
		{&s.AllowModeSwitch, b.AllowModeSwitch}, {&s.AllowUpdates, b.AllowUpdates},
		{&s.AllowedToLeave, b.AllowedToLeave}, {&s.DisableAutoFallback, b.DisableAutoFallback},
		{&s.ExcludeOfficeIPs, b.ExcludeOfficeIPs},
		{&s.RegisterInterfaceIPWithDNS, b.RegisterInterfaceIPWithDNS},
		{&s.SCCMVPNBoundarySupport, b.SCCMVPNBoundarySupport}, {&s.SwitchLocked, b.SwitchLocked},
	})
	for _, f := range []struct {
		name string
		v    *float64
		dst  *int
	}{{"auto_connect", b.AutoConnect, &s.AutoConnect},
		{"captive_portal", b.CaptivePortal, &s.CaptivePortal}} {
		if err := setWhole(f.name, f.v, f.dst); err != nil {
			return err
		}
	}
	var err error
	if s.LANAllowMinutes, err = b.LANAllowMinutes.applyTo("lan_allow_minutes",
		s.LANAllowMinutes); err != nil {
		return err
	}
	if s.LANAllowSubnetSize, err = b.LANAllowSubnetSize.applyTo("lan_allow_subnet_size",
		s.LANAllowSubnetSize); err != nil {
		return err
	}
	if m := b.ServiceModeV2; m != nil {
		if m.Mode != nil {
			s.ServiceMode = device.ServiceMode(*m.Mode)
		}
		if err := setWhole("service_mode_v2.port", m.Port, &s.ServicePort); err != nil {
			return err
		}
	}
	if b.SupportURL != nil {
		s.SupportURL = *b.SupportURL
	}
	if b.TunnelProtocol != nil {
		s.TunnelProtocol = device.TunnelProtocol(*b.TunnelProtocol)
	}
	if b.Exclude != nil {
		s.Exclude, s.SplitMode = fromRoutesJSON(*b.Exclude), device.SplitExclude
	}
	if b.Include != nil {
		s.Include, s.SplitMode = fromRoutesJSON(*b.Include), device.SplitInclude
	}
	return nil
}

// edit returns the change b makes to a custom profile.
func (b *policyBody) edit() device.ProfileEdit {
	return func(p *device.Profile) error {
		if err := b.apply(&p.Settings); err != nil {
			return err
		}
		for _, f := range []struct {
			v   *string
			dst *string
		}{{b.Description, &p.Description}, {b.Match, &p.Match}, {b.Name, &p.Name}} {
			if f.v != nil {
				*f.dst = *f.v
			}
		}
		if b.Enabled != nil {
			p.Enabled = *b.Enabled
		}
		return setWhole("precedence", b.Precedence, &p.Precedence)
	}
}

// setBools copies each given value (the pair's second) to its destination.
func setBools(pairs [][2]*bool) {
	for _, p := range pairs {
		if p[1] != nil {
			*p[0] = *p[1]
		}
	}
}

// setWhole copies a JSON number that must be a whole number into dst, when given.
// Ranges are the domain's to check; this refuses only what no int can hold.
func setWhole(name string, v *float64, dst *int) error {
	if v == nil {
		return nil
	}
	n, err := whole(name, *v)
	if err != nil {
		return err
	}
	*dst = n
	return nil
}

func whole(name string, v float64) (int, error) {
	if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
		return 0, invalid("%s must be a whole number", name)
	}
	return int(v), nil
}

// applyTo returns the field's new value: cur when left out, nil when cleared.
func (n nullable) applyTo(name string, cur *int) (*int, error) {
	switch {
	case !n.set:
		return cur, nil
	case n.null:
		return nil, nil
	}
	v, err := whole(name, n.v)
	if err != nil {
		return nil, err
	}
	return &v, nil
}
