package device

import (
	"time"
)

// Profile is a device settings profile ("policy" on Cloudflare's wire): the WARP
// client settings that the registrations assigned to it receive.
//
// Each account has one default profile. Its custom profiles are tried in ascending
// Precedence, and a registration gets the first enabled one whose Match expression
// is true for it, else the default. A custom profile with an empty Match was
// imported from Cloudflare without its rule: it matches nothing new, but keeps the
// registrations assigned to it until an admin gives it a rule.
//
// A profile read as a registration's Policy view carries only its ID, AccountID,
// Name, Default, DeletedAt, CreatedAt and UpdatedAt.
type Profile struct {
	ID          string
	AccountID   string
	Name        string
	Default     bool
	Description string
	Match       string // a wirefilter expression; empty for the default profile
	Precedence  int    // 1 or more for a custom profile with a rule, else 0
	Enabled     bool   // always true for the default profile
	Settings    Settings
	DeletedAt   time.Time // zero while the profile exists
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Settings are the WARP client settings a profile carries, named after the fields
// of Cloudflare's SettingsPolicy. Durations are whole seconds, except
// LANAllowMinutes.
type Settings struct {
	AllowModeSwitch            bool
	AllowUpdates               bool
	AllowedToLeave             bool
	AutoConnect                int // seconds after a disconnect to reconnect; 0 never
	CaptivePortal              int // seconds of captive portal detection
	DisableAutoFallback        bool
	ExcludeOfficeIPs           bool
	LANAllowMinutes            *int // nil when unset; 0 until the next reconnection
	LANAllowSubnetSize         *int // nil when unset
	RegisterInterfaceIPWithDNS bool
	SCCMVPNBoundarySupport     bool
	ServiceMode                ServiceMode
	ServicePort                int // 0 when unset; proxy mode needs one
	SupportURL                 string
	SwitchLocked               bool
	TunnelProtocol             TunnelProtocol

	// SplitMode says which of the two route lists the client applies. Both lists are
	// kept, so switching back restores the other.
	SplitMode       SplitMode
	Exclude         []Route
	Include         []Route
	FallbackDomains []FallbackDomain
}

// ServiceMode is the mode a WARP client runs in (Cloudflare's service_mode_v2.mode).
type ServiceMode string

// The service modes Cloudflare's clients know.
const (
	ModeWARP           ServiceMode = "warp"
	ModeDoH            ServiceMode = "1dot1"
	ModeProxy          ServiceMode = "proxy"
	ModePostureOnly    ServiceMode = "posture_only"
	ModeWARPTunnelOnly ServiceMode = "warp_tunnel_only"
)

var serviceModes = []ServiceMode{ModeWARP, ModeDoH, ModeProxy, ModePostureOnly, ModeWARPTunnelOnly}

// TunnelProtocol is the protocol a WARP client tunnels with.
type TunnelProtocol string

// The tunnel protocols.
const (
	ProtocolWireGuard TunnelProtocol = "wireguard"
	ProtocolMASQUE    TunnelProtocol = "masque"
)

// SplitMode says whether a profile's split tunnel list names what bypasses the
// tunnel (exclude, the default) or the only traffic that uses it (include).
type SplitMode string

// The split tunnel modes.
const (
	SplitExclude SplitMode = "exclude"
	SplitInclude SplitMode = "include"
)

// Route is one split tunnel entry: an IP address or CIDR prefix, or a host name,
// never both.
type Route struct {
	Address     string
	Host        string
	Description string
}

// FallbackDomain is a domain suffix that the client resolves with other DNS servers
// than Gateway's (Cloudflare's Local Domain Fallback): DNSServers, or the system's
// resolvers when there are none.
type FallbackDomain struct {
	Suffix      string
	Description string
	DNSServers  []string
}

// DefaultSettings returns the settings of a new profile: Cloudflare's documented
// defaults, with its default split tunnel exclusions and fallback domains.
func DefaultSettings() Settings {
	return Settings{
		AllowedToLeave:             true,
		CaptivePortal:              180,
		RegisterInterfaceIPWithDNS: true,
		ServiceMode:                ModeWARP,
		TunnelProtocol:             ProtocolWireGuard,
		SplitMode:                  SplitExclude,
		Exclude:                    DefaultExclude(),
		Include:                    []Route{},
		FallbackDomains:            DefaultFallbackDomains(),
	}
}

// DefaultExclude returns Cloudflare's default split tunnel exclusions: private,
// link-local, multicast and other non-routable ranges.
func DefaultExclude() []Route {
	prefixes := []string{
		"10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
		"192.168.0.0/16", "224.0.0.0/24", "240.0.0.0/4", "255.255.255.255/32",
		"fe80::/10", "fd00::/8", "ff01::/16", "ff02::/16", "ff03::/16", "ff04::/16", "ff05::/16",
	}
	out := make([]Route, len(prefixes))
	for i, p := range prefixes {
		out[i] = Route{Address: p}
	}
	return out
}

// DefaultFallbackDomains returns Cloudflare's default Local Domain Fallback
// suffixes: names that only a local resolver can answer.
func DefaultFallbackDomains() []FallbackDomain {
	suffixes := []string{
		"intranet", "internal", "private", "localdomain", "domain", "lan", "home", "host",
		"corp", "local", "localhost", "home.arpa", "invalid", "test",
	}
	out := make([]FallbackDomain, len(suffixes))
	for i, s := range suffixes {
		out[i] = FallbackDomain{Suffix: s, DNSServers: []string{}}
	}
	return out
}

// Rule is the part of a profile that decides which registrations it applies to,
// all that assignment reads.
type Rule struct {
	ProfileID  string
	Default    bool
	Match      string
	Precedence int
	Enabled    bool
	UpdatedAt  time.Time // names the Match text, which only an update changes
}

// Candidate is a registration whose profile is to be chosen, with the facts the
// choice depends on: its user's identity and its device's operating system and
// hardware. Registration carries its stored fields only.
type Candidate struct {
	Registration Registration
	User         User        // Email, Name and Groups; empty without a user
	Facts        DeviceFacts // DeviceType, OSVersion, Model and Manufacturer
}

// Reassignment is an account's pending re-evaluation of profile assignments, which
// every change of a profile's rule starts afresh: each change takes a new
// Generation, and every registration with an id up to After is done. Runners
// compare it before they record progress, so that a run that a newer change
// overtook, or another process got ahead of, starts again from what is stored.
type Reassignment struct {
	Generation int64
	After      string
}
