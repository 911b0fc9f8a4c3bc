package row

import (
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/warpreg/warpreg/internal/device"
)

// ProfileColumns are read by Profile and written from ProfileValues, in order.
const ProfileColumns = `id, account_id, name, is_default, description, match_rule, precedence,
	enabled, deleted_at, created_at, updated_at, allow_mode_switch, allow_updates,
	allowed_to_leave, auto_connect, captive_portal, disable_auto_fallback, exclude_office_ips,
	lan_allow_minutes, lan_allow_subnet_size, register_interface_ip_with_dns,
	sccm_vpn_boundary_support, service_mode, service_port, support_url, switch_locked,
	tunnel_protocol, split_mode, exclude_routes, include_routes, fallback_domains`

// ProfileUpdates is the SET list of a profile upsert: every column but the id, the
// account and the creation time.
const ProfileUpdates = `name = excluded.name, is_default = excluded.is_default,
	description = excluded.description, match_rule = excluded.match_rule,
	precedence = excluded.precedence, enabled = excluded.enabled,
	deleted_at = excluded.deleted_at, updated_at = excluded.updated_at,
	allow_mode_switch = excluded.allow_mode_switch, allow_updates = excluded.allow_updates,
	allowed_to_leave = excluded.allowed_to_leave, auto_connect = excluded.auto_connect,
	captive_portal = excluded.captive_portal,
	disable_auto_fallback = excluded.disable_auto_fallback,
	exclude_office_ips = excluded.exclude_office_ips,
	lan_allow_minutes = excluded.lan_allow_minutes,
	lan_allow_subnet_size = excluded.lan_allow_subnet_size,
	register_interface_ip_with_dns = excluded.register_interface_ip_with_dns,
	sccm_vpn_boundary_support = excluded.sccm_vpn_boundary_support,
	service_mode = excluded.service_mode, service_port = excluded.service_port,
	support_url = excluded.support_url, switch_locked = excluded.switch_locked,
	tunnel_protocol = excluded.tunnel_protocol, split_mode = excluded.split_mode,
	exclude_routes = excluded.exclude_routes, include_routes = excluded.include_routes,
	fallback_domains = excluded.fallback_domains`

// ProfileOrder orders an account's profiles as device.Reader.Profiles says: the
// default, then by precedence with the profiles that have none last, then by id.
const ProfileOrder = `ORDER BY is_default DESC, precedence IS NULL, precedence, id`

// RuleColumns are read by Rule, in order.
const RuleColumns = `id, is_default, match_rule, coalesce(precedence, 0), enabled, updated_at`

// CandidateSelect reads registrations with the facts their profile is chosen by;
// callers add the WHERE clause. Only live registrations are read, whose devices are
// live too.
const CandidateSelect = `SELECT r.id, r.account_id, r.device_id, r.user_id, r.profile_id,
	r.slot, r.key, r.key_type, r.tunnel_type, r.revoked_at, r.policy_updated_at,
	coalesce(u.email, ''), coalesce(u.name, ''), coalesce(u.groups, '[]'),
	d.device_type, d.os_version, d.model, d.manufacturer
	FROM registrations r
	JOIN devices d ON d.id = r.device_id
	LEFT JOIN users u ON u.id = r.user_id`

// routeJSON and domainJSON are the stored forms of split tunnel routes and fallback
// domains, in Cloudflare's field names.
type routeJSON struct {
	Address     string `json:"address,omitempty"`
	Host        string `json:"host,omitempty"`
	Description string `json:"description"`
}

type domainJSON struct {
	Suffix      string   `json:"suffix"`
	Description string   `json:"description"`
	DNSServer   []string `json:"dns_server"`
}

// ProfileValues returns p's values for ProfileColumns. A profile without a rule
// stores a NULL precedence, which the unique precedence index ignores.
func ProfileValues(p *device.Profile) ([]any, error) {
	s := &p.Settings
	exclude, err := encodeRoutes(s.Exclude)
	if err != nil {
		return nil, err
	}
	include, err := encodeRoutes(s.Include)
	if err != nil {
		return nil, err
	}
	domains := make([]domainJSON, len(s.FallbackDomains))
	for i, d := range s.FallbackDomains {
		servers := d.DNSServers
		if servers == nil {
			servers = []string{}
		}
		domains[i] = domainJSON{Suffix: d.Suffix, Description: d.Description, DNSServer: servers}
	}
	fallback, err := json.Marshal(domains)
	if err != nil {
		return nil, fmt.Errorf("encode fallback domains: %w", err)
	}
	var precedence any
	if p.Precedence != 0 {
		precedence = int64(p.Precedence)
	}
	return []any{
		p.ID, p.AccountID, p.Name, p.Default, p.Description, p.Match, precedence,
		p.Enabled, Micros(p.DeletedAt), p.CreatedAt.UnixMicro(), p.UpdatedAt.UnixMicro(),
		s.AllowModeSwitch, s.AllowUpdates, s.AllowedToLeave, int64(s.AutoConnect),
		int64(s.CaptivePortal), s.DisableAutoFallback, s.ExcludeOfficeIPs,
		nullInt(s.LANAllowMinutes), nullInt(s.LANAllowSubnetSize),
		s.RegisterInterfaceIPWithDNS, s.SCCMVPNBoundarySupport, string(s.ServiceMode),
		int64(s.ServicePort), s.SupportURL, s.SwitchLocked, string(s.TunnelProtocol),
		string(s.SplitMode), exclude, include, string(fallback),
	}, nil
}

func encodeRoutes(rs []device.Route) (string, error) {
	out := make([]routeJSON, len(rs))
	for i, r := range rs {
		out[i] = routeJSON(r)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("encode routes: %w", err)
	}
	return string(b), nil
}

func nullInt(v *int) any {
	if v == nil {
		return nil
	}
	return int64(*v)
}

// Profile scans a row of ProfileColumns.
func Profile(s Scanner) (*device.Profile, error) {
	var p device.Profile
	st := &p.Settings
	var precedence, lanMinutes, lanSubnet, deleted sql.NullInt64
	var created, updated, autoConnect, captive, port int64
	var mode, protocol, split string
	var exclude, include, fallback sql.NullString
	err := s.Scan(&p.ID, &p.AccountID, &p.Name, &p.Default, &p.Description, &p.Match,
		&precedence, &p.Enabled, &deleted, &created, &updated, &st.AllowModeSwitch,
		&st.AllowUpdates, &st.AllowedToLeave, &autoConnect, &captive, &st.DisableAutoFallback,
		&st.ExcludeOfficeIPs, &lanMinutes, &lanSubnet, &st.RegisterInterfaceIPWithDNS,
		&st.SCCMVPNBoundarySupport, &mode, &port, &st.SupportURL, &st.SwitchLocked, &protocol,
		&split, &exclude, &include, &fallback)
	if err != nil {
		return nil, fmt.Errorf("read profile: %w", err)
	}
	p.Precedence = int(precedence.Int64)
	p.DeletedAt, p.CreatedAt, p.UpdatedAt = NullMicros(deleted), FromMicros(created), FromMicros(updated)
	st.AutoConnect, st.CaptivePortal, st.ServicePort = int(autoConnect), int(captive), int(port)
	st.LANAllowMinutes, st.LANAllowSubnetSize = intPointer(lanMinutes), intPointer(lanSubnet)
	st.ServiceMode, st.TunnelProtocol = device.ServiceMode(mode), device.TunnelProtocol(protocol)
	st.SplitMode = device.SplitMode(split)
	if st.Exclude, err = decodeRoutes(exclude, device.DefaultExclude); err != nil {
		return nil, fmt.Errorf("read profile %s: exclude: %w", p.ID, err)
	}
	noRoutes := func() []device.Route { return []device.Route{} }
	if st.Include, err = decodeRoutes(include, noRoutes); err != nil {
		return nil, fmt.Errorf("read profile %s: include: %w", p.ID, err)
	}
	if st.FallbackDomains, err = decodeDomains(fallback); err != nil {
		return nil, fmt.Errorf("read profile %s: fallback domains: %w", p.ID, err)
	}
	return &p, nil
}

func intPointer(v sql.NullInt64) *int {
	if !v.Valid {
		return nil
	}
	n := int(v.Int64)
	return &n
}

func decodeRoutes(v sql.NullString, def func() []device.Route) ([]device.Route, error) {
	if !v.Valid {
		return def(), nil
	}
	var in []routeJSON
	if err := json.Unmarshal([]byte(v.String), &in); err != nil {
		return nil, err
	}
	out := make([]device.Route, len(in))
	for i, r := range in {
		out[i] = device.Route(r)
	}
	return out, nil
}

func decodeDomains(v sql.NullString) ([]device.FallbackDomain, error) {
	if !v.Valid {
		return device.DefaultFallbackDomains(), nil
	}
	var in []domainJSON
	if err := json.Unmarshal([]byte(v.String), &in); err != nil {
		return nil, err
	}
	out := make([]device.FallbackDomain, len(in))
	for i, d := range in {
		servers := d.DNSServer
		if servers == nil {
			servers = []string{}
		}
		out[i] = device.FallbackDomain{Suffix: d.Suffix, Description: d.Description,
			DNSServers: servers}
	}
	return out, nil
}

// Rule scans a row of RuleColumns.
func Rule(s Scanner) (device.Rule, error) {
	var r device.Rule
	var precedence, updated int64
	err := s.Scan(&r.ProfileID, &r.Default, &r.Match, &precedence, &r.Enabled, &updated)
	if err != nil {
		return r, fmt.Errorf("read profile rule: %w", err)
	}
	r.Precedence, r.UpdatedAt = int(precedence), FromMicros(updated)
	return r, nil
}

// Candidate scans a row of CandidateSelect.
func Candidate(s Scanner) (device.Candidate, error) {
	var c device.Candidate
	g := &c.Registration
	var userID, keyType, tunnelType sql.NullString
	var revoked sql.NullInt64
	var policyUpdated int64
	var groups string
	f := &c.Facts
	err := s.Scan(&g.ID, &g.AccountID, &g.DeviceID, &userID, &g.ProfileID, &g.Slot, &g.Key,
		&keyType, &tunnelType, &revoked, &policyUpdated, &c.User.Email, &c.User.Name, &groups,
		&f.DeviceType, &f.OSVersion, &f.Model, &f.Manufacturer)
	if err != nil {
		return c, fmt.Errorf("read candidate: %w", err)
	}
	g.UserID, g.KeyType = userID.String, device.KeyType(keyType.String)
	g.TunnelType = device.TunnelType(tunnelType.String)
	g.RevokedAt, g.PolicyUpdatedAt = NullMicros(revoked), FromMicros(policyUpdated)
	c.User.ID, c.User.AccountID = g.UserID, g.AccountID
	if err := json.Unmarshal([]byte(groups), &c.User.Groups); err != nil {
		return c, fmt.Errorf("read candidate %s: groups: %w", g.ID, err)
	}
	return c, nil
}
