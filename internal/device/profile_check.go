package device

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/warpreg/warpreg/internal/match"
)

// Limits on profiles. Cloudflare documents none of these; they are ours, generous
// for real use and small enough to keep a profile's row and its evaluation cheap.
const (
	MaxCustomProfiles  = 1000
	MaxPrecedence      = 1<<31 - 1
	maxMatch           = 8192
	maxDescription     = 1000
	maxSupportURL      = 2048
	maxRoutes          = 1000
	maxFallbackDomains = 1000
	maxDNSServers      = 16
	maxSeconds         = 86400 // a day, for auto_connect and captive_portal
	maxLANMinutes      = 1440
)

// checkProfile validates a whole profile as it would be stored, so that an edit
// of one field can never leave another invalid.
func checkProfile(p *Profile) error {
	if p.Name == "" {
		return Errorf(KindInvalid, "name is required")
	}
	if err := checkText("name", p.Name, maxName); err != nil {
		return err
	}
	if err := checkText("description", p.Description, maxDescription); err != nil {
		return err
	}
	if err := checkRule(p); err != nil {
		return err
	}
	return checkSettings(&p.Settings)
}

// checkRule validates the fields that decide which registrations a profile gets.
// The default profile has none: it is what the others leave.
func checkRule(p *Profile) error {
	if p.Default {
		if p.Match != "" || p.Precedence != 0 || !p.Enabled {
			return Errorf(KindInvalid, "the default profile has no match, precedence or enabled")
		}
		return nil
	}
	if p.Match == "" && p.Precedence == 0 {
		return nil // imported without its rule; see Profile
	}
	if p.Match == "" {
		return Errorf(KindInvalid, "match is required")
	}
	if p.Precedence < 1 || p.Precedence > MaxPrecedence {
		return Errorf(KindInvalid, "precedence must be a whole number from 1 to %d", MaxPrecedence)
	}
	_, err := parseMatch(p.Match)
	return err
}

// parseMatch parses a match expression, with a message that says where it fails.
func parseMatch(src string) (*match.Expr, error) {
	if err := checkText("match", src, maxMatch); err != nil {
		return nil, err
	}
	e, err := match.Parse(src)
	var se *match.SyntaxError
	if errors.As(err, &se) {
		return nil, Errorf(KindInvalid, "match is not a valid expression: at offset %d: %s",
			se.Offset, se.Msg)
	}
	if err != nil {
		return nil, Errorf(KindInvalid, "match is not a valid expression: %s", err)
	}
	return e, nil
}

func checkSettings(s *Settings) error {
	if err := checkRanges(s); err != nil {
		return err
	}
	if !slices.Contains(serviceModes, s.ServiceMode) {
		return Errorf(KindInvalid, "service_mode_v2.mode must be one of warp, 1dot1, proxy, "+
			"posture_only, warp_tunnel_only")
	}
	if s.ServiceMode == ModeProxy && s.ServicePort == 0 {
		return Errorf(KindInvalid, "service_mode_v2.port is required in proxy mode")
	}
	if s.TunnelProtocol != ProtocolWireGuard && s.TunnelProtocol != ProtocolMASQUE {
		return Errorf(KindInvalid, "tunnel_protocol must be wireguard or masque")
	}
	if s.SplitMode != SplitExclude && s.SplitMode != SplitInclude {
		return fmt.Errorf("check settings: split mode %q", s.SplitMode)
	}
	if err := checkSupportURL(s.SupportURL); err != nil {
		return err
	}
	if err := checkRoutes("exclude", s.Exclude); err != nil {
		return err
	}
	if err := checkRoutes("include", s.Include); err != nil {
		return err
	}
	return checkFallbackDomains(s.FallbackDomains)
}

func checkRanges(s *Settings) error {
	ranges := []struct {
		name     string
		v        *int
		min, max int
	}{
		{"auto_connect", &s.AutoConnect, 0, maxSeconds},
		{"captive_portal", &s.CaptivePortal, 0, maxSeconds},
		{"lan_allow_minutes", s.LANAllowMinutes, 0, maxLANMinutes},
		{"lan_allow_subnet_size", s.LANAllowSubnetSize, 8, 32},
		{"service_mode_v2.port", &s.ServicePort, 0, 65535},
	}
	for _, r := range ranges {
		if r.v != nil && (*r.v < r.min || *r.v > r.max) {
			return Errorf(KindInvalid, "%s must be a whole number from %d to %d", r.name, r.min, r.max)
		}
	}
	return nil
}

func checkSupportURL(s string) error {
	if s == "" {
		return nil
	}
	if err := checkText("support_url", s, maxSupportURL); err != nil {
		return err
	}
	u, err := url.Parse(s)
	ok := err == nil && (u.Scheme == "mailto" && u.Opaque != "" ||
		(u.Scheme == "https" || u.Scheme == "http") && u.Host != "")
	if !ok {
		return Errorf(KindInvalid, "support_url must be an http, https or mailto URL")
	}
	return nil
}

// checkRoutes validates a split tunnel list: each entry an IP address or prefix, or
// a host name optionally starting with "*.", and none twice.
func checkRoutes(list string, rs []Route) error {
	if len(rs) > maxRoutes {
		return Errorf(KindInvalid, "%s may hold at most %d entries", list, maxRoutes)
	}
	seen := map[Route]bool{}
	for i, r := range rs {
		at := fmt.Sprintf("%s[%d]", list, i)
		switch {
		case r.Address == "" && r.Host == "":
			return Errorf(KindInvalid, "%s needs an address or a host", at)
		case r.Address != "" && r.Host != "":
			return Errorf(KindInvalid, "%s may have an address or a host, not both", at)
		case r.Address != "" && !validAddress(r.Address):
			return Errorf(KindInvalid, "%s.address must be an IP address or a CIDR prefix", at)
		case r.Host != "" && !validHost(strings.TrimPrefix(r.Host, "*.")):
			return Errorf(KindInvalid, "%s.host must be a domain name", at)
		}
		if err := checkText(at+".description", r.Description, maxDescription); err != nil {
			return err
		}
		key := Route{Address: r.Address, Host: strings.ToLower(r.Host)}
		if seen[key] {
			return Errorf(KindInvalid, "%s repeats an earlier entry", at)
		}
		seen[key] = true
	}
	return nil
}

func checkFallbackDomains(ds []FallbackDomain) error {
	if len(ds) > maxFallbackDomains {
		return Errorf(KindInvalid, "fallback_domains may hold at most %d entries",
			maxFallbackDomains)
	}
	seen := map[string]bool{}
	for i, d := range ds {
		at := fmt.Sprintf("fallback_domains[%d]", i)
		if !validHost(d.Suffix) {
			return Errorf(KindInvalid, "%s.suffix must be a domain name", at)
		}
		if seen[strings.ToLower(d.Suffix)] {
			return Errorf(KindInvalid, "%s repeats the suffix %s", at, d.Suffix)
		}
		seen[strings.ToLower(d.Suffix)] = true
		if err := checkText(at+".description", d.Description, maxDescription); err != nil {
			return err
		}
		if len(d.DNSServers) > maxDNSServers {
			return Errorf(KindInvalid, "%s.dns_server may hold at most %d addresses", at,
				maxDNSServers)
		}
		for _, s := range d.DNSServers {
			if _, err := netip.ParseAddr(s); err != nil {
				return Errorf(KindInvalid, "%s.dns_server must hold IP addresses", at)
			}
		}
	}
	return nil
}

func validAddress(s string) bool {
	if _, err := netip.ParsePrefix(s); err == nil {
		return true
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// validHost reports whether s is a domain name: dot-separated labels of letters,
// digits, hyphens and underscores, none empty or longer than 63, 253 in all.
func validHost(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
				c == '-' || c == '_'
			if !ok {
				return false
			}
		}
	}
	return true
}
