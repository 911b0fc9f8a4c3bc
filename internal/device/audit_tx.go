package device

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"
)

// auditStore records an audit entry for every change made through its transactions,
// in the same transaction, so that an entry commits exactly when its change does.
// It sits under the Service rather than in each rule, so that no write path can
// forget it: every Put, Insert and state change of the Tx contract passes through
// auditTx, which reads the object's state before the write.
//
// A single-use enrolment key's spending shows as the registration it created, whose
// entry names the key as its actor.
//
// Heartbeats (TouchRegistrations) are not audited: they change only last-seen times,
// thousands of times a second, and are not changes an administrator made.
type auditStore struct {
	Store
	now func() time.Time
}

func (s auditStore) Update(ctx context.Context, fn func(tx Tx) error) error {
	actor := ActorFrom(ctx)
	return s.Store.Update(ctx, func(tx Tx) error {
		return fn(&auditTx{Tx: tx, actor: actor, now: s.now})
	})
}

// auditTx is a Tx that appends an audit entry for each write.
type auditTx struct {
	Tx
	actor Actor
	now   func() time.Time
	at    time.Time // read from now at the first entry, shared by the rest

	regs    seen[Registration]
	users   seen[User]
	devices seen[Device]
	fresh   map[string]bool // ids drawn in this transaction; see markFresh
}

// record appends an entry for a change of one object from before to after, unless
// nothing audited changed.
func (t *auditTx) record(
	ctx context.Context, accountID, target, id, verb string, before, after Snapshot,
) error {
	if before != nil && after != nil && equalSnapshots(before, after) {
		return nil
	}
	if t.at.IsZero() {
		t.at = t.now()
	}
	return t.Tx.AppendAudit(ctx, &AuditEntry{
		AccountID: accountID, At: t.at, Actor: t.actor, Action: target + "." + verb,
		TargetType: target, TargetID: id, Before: before, After: after,
	})
}

func (t *auditTx) InsertAccount(ctx context.Context, a *Account) error {
	if err := t.Tx.InsertAccount(ctx, a); err != nil {
		return err
	}
	return t.record(ctx, a.ID, "account", a.ID, "create", nil, accountSnapshot(a))
}

func (t *auditTx) SetDefaultProfile(ctx context.Context, accountID, profileID string) error {
	before, err := t.Tx.Account(ctx, accountID)
	if err != nil {
		return err
	}
	if err := t.Tx.SetDefaultProfile(ctx, accountID, profileID); err != nil {
		return err
	}
	after := *before
	after.DefaultProfileID = profileID
	return t.record(ctx, accountID, "account", accountID, "update",
		accountSnapshot(before), accountSnapshot(&after))
}

func (t *auditTx) PutProfile(ctx context.Context, p *Profile) error {
	before, err := t.Tx.Profile(ctx, p.AccountID, p.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := t.Tx.PutProfile(ctx, p); err != nil {
		return err
	}
	var b Snapshot
	verb := "create"
	if before != nil {
		b, verb = profileSnapshot(before), "update"
		if before.DeletedAt.IsZero() && !p.DeletedAt.IsZero() {
			verb = "delete"
		}
	}
	return t.record(ctx, p.AccountID, "profile", p.ID, verb, b, profileSnapshot(p))
}

func (t *auditTx) PutUser(ctx context.Context, u *User) error {
	before, err := t.users.before(u.AccountID, u.ID, func() (*User, error) {
		return t.Tx.User(ctx, u.AccountID, u.ID)
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := t.Tx.PutUser(ctx, u); err != nil {
		return err
	}
	t.users.keep(u.AccountID, u.ID, u)
	var b Snapshot
	verb := "create"
	if before != nil {
		b, verb = userSnapshot(before), "update"
	}
	return t.record(ctx, u.AccountID, "user", u.ID, verb, b, userSnapshot(u))
}

func (t *auditTx) PutDevice(ctx context.Context, d *Device) error {
	before, err := t.devices.before(d.AccountID, d.ID, func() (*Device, error) {
		return t.Tx.Device(ctx, d.AccountID, d.ID)
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := t.Tx.PutDevice(ctx, d); err != nil {
		return err
	}
	t.devices.keep(d.AccountID, d.ID, d)
	var b Snapshot
	verb := "create"
	if before != nil {
		b, verb = deviceSnapshot(before), "update"
		if before.DeletedAt.IsZero() && !d.DeletedAt.IsZero() {
			verb = "delete"
		}
	}
	return t.record(ctx, d.AccountID, "device", d.ID, verb, b, deviceSnapshot(d))
}

// seen holds objects of one kind as the transaction last read or wrote them, keyed
// by account and id, so that a write takes its state before from memory instead of
// reading it again: an enrolment reads its user and device once, a bulk revoke of 100
// ids reads each registration once.
type seen[T any] map[string]*T

func (m *seen[T]) keep(accountID, id string, v *T) {
	if *m == nil {
		*m = seen[T]{}
	}
	c := *v
	(*m)[accountID+"/"+id] = &c
}

// before returns the object as last kept, else as read reads it.
func (m seen[T]) before(accountID, id string, read func() (*T, error)) (*T, error) {
	if v, ok := m[accountID+"/"+id]; ok && v == nil {
		return nil, ErrNotFound
	} else if ok {
		return v, nil
	}
	return read()
}

// forget drops what is kept of the object, so that before reads it again.
func (m seen[T]) forget(accountID, id string) {
	delete(m, accountID+"/"+id)
}

// absent records that no object has the id, which keep replaces once one is written.
func (m *seen[T]) absent(accountID, id string) {
	if *m == nil {
		*m = seen[T]{}
	}
	(*m)[accountID+"/"+id] = nil
}

// markFresh tells tx's audit that id, just drawn by NewID, names no stored user,
// device or registration (a random 122-bit id collides with none), nor the override
// secret of one, so that the write creating it need not look for its state before:
// an enrolment of a new device and user saves four lookups.
func markFresh(tx Tx, accountID, id string) {
	if t, ok := tx.(*auditTx); ok {
		t.users.absent(accountID, id)
		t.devices.absent(accountID, id)
		t.regs.absent(accountID, id)
		if t.fresh == nil {
			t.fresh = map[string]bool{}
		}
		t.fresh[id] = true
	}
}

// The reads below keep what they find, for the writes that follow.

func (t *auditTx) Registration(ctx context.Context, accountID, id string) (*Registration, error) {
	r, err := t.Tx.Registration(ctx, accountID, id)
	if err == nil {
		t.regs.keep(r.AccountID, r.ID, r)
	}
	return r, err
}

func (t *auditTx) User(ctx context.Context, accountID, id string) (*User, error) {
	return t.keepUser(t.Tx.User(ctx, accountID, id))
}

func (t *auditTx) UserByEmail(ctx context.Context, accountID, email string) (*User, error) {
	return t.keepUser(t.Tx.UserByEmail(ctx, accountID, email))
}

func (t *auditTx) keepUser(u *User, err error) (*User, error) {
	if err == nil {
		t.users.keep(u.AccountID, u.ID, u)
	}
	return u, err
}

func (t *auditTx) Device(ctx context.Context, accountID, id string) (*Device, error) {
	return t.keepDevice(t.Tx.Device(ctx, accountID, id))
}

func (t *auditTx) DeviceByHardwareID(ctx context.Context, accountID, hw string) (*Device, error) {
	return t.keepDevice(t.Tx.DeviceByHardwareID(ctx, accountID, hw))
}

func (t *auditTx) DeviceBySerial(
	ctx context.Context, accountID, serial string, bare bool,
) (*Device, error) {
	return t.keepDevice(t.Tx.DeviceBySerial(ctx, accountID, serial, bare))
}

func (t *auditTx) keepDevice(d *Device, err error) (*Device, error) {
	if err == nil {
		t.devices.keep(d.AccountID, d.ID, d)
	}
	return d, err
}

func (t *auditTx) PutRegistration(ctx context.Context, r *Registration) error {
	before, err := t.regs.before(r.AccountID, r.ID, func() (*Registration, error) {
		return t.Tx.Registration(ctx, r.AccountID, r.ID)
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := t.Tx.PutRegistration(ctx, r); err != nil {
		return err
	}
	t.regs.keep(r.AccountID, r.ID, r)
	return t.recordRegistration(ctx, before, r)
}

func (t *auditTx) SetRegistrationState(ctx context.Context, r *Registration) error {
	before, err := t.regs.before(r.AccountID, r.ID, func() (*Registration, error) {
		return t.Tx.Registration(ctx, r.AccountID, r.ID)
	})
	if err != nil {
		return err
	}
	if err := t.Tx.SetRegistrationState(ctx, r); err != nil {
		return err
	}
	after := *before
	after.RevokedAt, after.DeletedAt, after.UpdatedAt = r.RevokedAt, r.DeletedAt, r.UpdatedAt
	t.regs.keep(after.AccountID, after.ID, &after)
	return t.recordRegistration(ctx, before, &after)
}

// recordRegistration names a registration's change by what moved: its lifecycle
// first (delete, revoke, unrevoke), then its key, then its profile.
func (t *auditTx) recordRegistration(ctx context.Context, before, after *Registration) error {
	if before == nil {
		return t.record(ctx, after.AccountID, "registration", after.ID, "create", nil,
			registrationSnapshot(after))
	}
	b, a := registrationSnapshot(before), registrationSnapshot(after)
	secretRolled := !bytes.Equal(before.SecretHash, after.SecretHash)
	if secretRolled {
		b["secret"], a["secret"] = "previous", "new"
	}
	verb := "update"
	switch {
	case before.DeletedAt.IsZero() && !after.DeletedAt.IsZero():
		verb = "delete"
	case before.RevokedAt.IsZero() && !after.RevokedAt.IsZero():
		verb = "revoke"
	case !before.RevokedAt.IsZero() && after.RevokedAt.IsZero():
		verb = "unrevoke"
	case before.Key != after.Key:
		verb = "rotate_key"
	case before.ProfileID != after.ProfileID:
		verb = "reassign"
	case secretRolled:
		verb = "roll_token"
	}
	return t.record(ctx, after.AccountID, "registration", after.ID, verb, b, a)
}

// AssignProfile records each registration it moves, with the state its caller read
// in the transaction as the state before (reading each again would double the cost
// of re-evaluating a large account). Re-evaluation progress
// (StartReassignment, AdvanceReassignment, FinishReassignment) is bookkeeping, not a
// change, and passes through unrecorded.
func (t *auditTx) AssignProfile(
	ctx context.Context, profileID string, rs []*Registration, at time.Time,
) error {
	if err := t.Tx.AssignProfile(ctx, profileID, rs, at); err != nil {
		return err
	}
	for _, before := range rs {
		after := *before
		after.ProfileID, after.PolicyUpdatedAt = profileID, at
		// Not kept as the registration's state: rs may be a list's read view, which
		// leaves out the slot and the secret's hash (Reader.ListRegistrations). A later
		// write in this transaction reads the row again for its state before.
		t.regs.forget(after.AccountID, after.ID)
		if err := t.recordRegistration(ctx, before, &after); err != nil {
			return err
		}
	}
	return nil
}

func (t *auditTx) InsertAPIToken(ctx context.Context, k *APIToken) error {
	if err := t.Tx.InsertAPIToken(ctx, k); err != nil {
		return err
	}
	return t.record(ctx, k.AccountID, "api_token", k.ID, "create", nil, Snapshot{
		"name": k.Name, "read_only": strconv.FormatBool(k.ReadOnly),
		"created_at": auditTime(k.CreatedAt),
	})
}

func (t *auditTx) InsertGlobalKey(ctx context.Context, k *GlobalKey) error {
	if err := t.Tx.InsertGlobalKey(ctx, k); err != nil {
		return err
	}
	return t.record(ctx, k.AccountID, "global_key", k.ID, "create", nil, Snapshot{
		"email": k.Email, "created_at": auditTime(k.CreatedAt),
	})
}

func (t *auditTx) InsertEnrollmentKey(ctx context.Context, k *EnrollmentKey) error {
	if err := t.Tx.InsertEnrollmentKey(ctx, k); err != nil {
		return err
	}
	return t.record(ctx, k.AccountID, "enrollment_key", k.ID, "create", nil,
		enrollmentKeySnapshot(k))
}

// credentialTarget is the audit target type of a credential kind, spelt as the
// create entries spell it.
func credentialTarget(kind CredentialKind) string {
	switch kind {
	case CredentialAPIToken:
		return "api_token"
	case CredentialGlobalKey:
		return "global_key"
	default:
		return "enrollment_key"
	}
}

func (t *auditTx) DeleteCredential(
	ctx context.Context, kind CredentialKind, accountID, id string,
) error {
	if err := t.Tx.DeleteCredential(ctx, kind, accountID, id); err != nil {
		return err
	}
	return t.record(ctx, accountID, credentialTarget(kind), id, "revoke",
		Snapshot{"revoked": "false"}, Snapshot{"revoked": "true"})
}

// SetCredentialHash is a roll: the entry says that the secret changed, never what
// it was or became.
func (t *auditTx) SetCredentialHash(
	ctx context.Context, kind CredentialKind, accountID, id string, hash []byte,
) error {
	if err := t.Tx.SetCredentialHash(ctx, kind, accountID, id, hash); err != nil {
		return err
	}
	return t.record(ctx, accountID, credentialTarget(kind), id, "roll",
		Snapshot{"secret": "previous"}, Snapshot{"secret": "new"})
}

func equalSnapshots(a, b Snapshot) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// auditTime spells a time as the API does, and a zero time as the empty string.
func auditTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func accountSnapshot(a *Account) Snapshot {
	return Snapshot{
		"name": a.Name, "multi_user": strconv.FormatBool(a.MultiUser),
		"default_profile_id": a.DefaultProfileID,
	}
}

func profileSnapshot(p *Profile) Snapshot {
	st := &p.Settings
	b, n := strconv.FormatBool, strconv.Itoa
	s := Snapshot{
		"name": p.Name, "default": b(p.Default), "deleted_at": auditTime(p.DeletedAt),
		"description": p.Description, "match": p.Match, "precedence": n(p.Precedence),
		"enabled": b(p.Enabled),
	}
	for k, v := range map[string]bool{
		"allow_mode_switch": st.AllowModeSwitch, "allow_updates": st.AllowUpdates,
		"allowed_to_leave": st.AllowedToLeave, "disable_auto_fallback": st.DisableAutoFallback,
		"exclude_office_ips":             st.ExcludeOfficeIPs,
		"register_interface_ip_with_dns": st.RegisterInterfaceIPWithDNS,
		"sccm_vpn_boundary_support":      st.SCCMVPNBoundarySupport,
		"switch_locked":                  st.SwitchLocked,
	} {
		s[k] = b(v)
	}
	for k, v := range map[string]string{
		"auto_connect": n(st.AutoConnect), "captive_portal": n(st.CaptivePortal),
		"lan_allow_minutes":     optionalInt(st.LANAllowMinutes),
		"lan_allow_subnet_size": optionalInt(st.LANAllowSubnetSize),
		"service_mode_v2.mode":  string(st.ServiceMode), "service_mode_v2.port": n(st.ServicePort),
		"support_url": st.SupportURL, "tunnel_protocol": string(st.TunnelProtocol),
		"split_tunnel_mode": string(st.SplitMode), "exclude": routesText(st.Exclude),
		"include": routesText(st.Include), "fallback_domains": domainsText(st.FallbackDomains),
	} {
		s[k] = v
	}
	return s
}

func optionalInt(v *int) string {
	if v == nil {
		return ""
	}
	return strconv.Itoa(*v)
}

// routesText spells a split tunnel list as JSON with the API's field names.
func routesText(rs []Route) string {
	out := make([]map[string]string, len(rs))
	for i, r := range rs {
		m := map[string]string{"description": r.Description}
		if r.Address != "" {
			m["address"] = r.Address
		} else {
			m["host"] = r.Host
		}
		out[i] = m
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func domainsText(ds []FallbackDomain) string {
	out := make([]map[string]any, len(ds))
	for i, d := range ds {
		out[i] = map[string]any{"suffix": d.Suffix, "description": d.Description,
			"dns_server": d.DNSServers}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func userSnapshot(u *User) Snapshot {
	groups := ""
	for i, g := range u.Groups {
		if i > 0 {
			groups += ","
		}
		groups += strconv.Quote(g)
	}
	return Snapshot{"email": u.Email, "name": u.Name, "groups": "[" + groups + "]"}
}

func deviceSnapshot(d *Device) Snapshot {
	f := d.Facts
	return Snapshot{
		"name": f.Name, "model": f.Model, "manufacturer": f.Manufacturer,
		"device_type": f.DeviceType, "os_version": f.OSVersion,
		"os_version_extra": f.OSVersionExtra, "serial_number": f.SerialNumber,
		"hardware_id": f.HardwareID, "mac_address": f.MACAddress,
		"client_version": f.ClientVersion, "deleted_at": auditTime(d.DeletedAt),
	}
}

func registrationSnapshot(r *Registration) Snapshot {
	return Snapshot{
		"device_id": r.DeviceID, "user_id": r.UserID, "profile_id": r.ProfileID,
		"key": r.Key, "key_type": string(r.KeyType), "tunnel_type": string(r.TunnelType),
		"revoked_at": auditTime(r.RevokedAt), "deleted_at": auditTime(r.DeletedAt),
	}
}

func enrollmentKeySnapshot(k *EnrollmentKey) Snapshot {
	return Snapshot{
		"reusable": strconv.FormatBool(k.Reusable), "expires_at": auditTime(k.ExpiresAt),
		"used_at": auditTime(k.UsedAt),
	}
}
