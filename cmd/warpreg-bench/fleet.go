package main

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

// The shape of a seeded fleet. The rates follow the issue: about 5 % revoked, 2 %
// deleted, last seen within 90 days.
const (
	revokedRate = 0.05
	deletedRate = 0.02
	seenSpan    = 90 * 24 * time.Hour
	createdSpan = 365 * 24 * time.Hour
)

var firstNames = []string{
	"Ada", "Alan", "Grace", "Edsger", "Barbara", "Ken", "Frances", "Dennis", "Margaret",
	"Donald", "Radia", "Leslie", "Sophie", "John", "Hedy", "Tim", "Karen", "Niklaus",
	"Shafi", "Butler", "Adele", "Vint", "Anita", "Robert", "Mary", "Guido", "Lynn",
	"Bjarne", "Jean", "Linus", "Evelyn", "Yukihiro", "Joan", "Rob", "Ingrid", "Brian",
}

var lastNames = []string{
	"Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Thompson", "Allen", "Ritchie",
	"Hamilton", "Knuth", "Perlman", "Lamport", "Wilson", "McCarthy", "Lamarr", "Lee",
	"Jones", "Wirth", "Goldwasser", "Lampson", "Goldberg", "Cerf", "Borg", "Kahn", "Keller",
	"Rossum", "Conway", "Stroustrup", "Sammet", "Torvalds", "Boyd", "Matsumoto", "Clarke",
	"Pike", "Daubechies", "Kernighan",
}

var groupNames = []string{
	"staff", "engineering", "sales", "finance", "support", "contractors", "admins",
	"marketing", "it", "security",
}

type model struct{ label, model, maker, kind, os, serialPrefix string }

var models = []model{
	{"MacBook Pro", "MacBookPro18,3", "Apple Inc.", "mac", "14.4.1", "C02"},
	{"MacBook Air", "Mac14,2", "Apple Inc.", "mac", "15.1", "FVF"},
	{"ThinkPad", "ThinkPad X1 Carbon Gen 11", "Lenovo", "windows", "10.0.22631", "PF"},
	{"Latitude", "Latitude 7440", "Dell Inc.", "windows", "10.0.26100", "DL"},
	{"XPS", "XPS 13 9340", "Dell Inc.", "linux", "6.8.0", "XP"},
	{"Pixel", "Pixel 8", "Google", "android", "14", "GP"},
	{"iPhone", "iPhone15,2", "Apple Inc.", "ios", "17.4", "FF"},
	{"iPad", "iPad13,4", "Apple Inc.", "ios", "17.5", "DM"},
}

var clientVersions = []string{"2024.6.415.0", "2024.9.346.0", "2024.11.309.0", "2025.1.861.0"}

// fleet generates users, devices and registrations. The shape is drawn from a
// seeded generator, so two seeds with the same flags make the same fleet; keys and
// secrets come from crypto/rand.
type fleet struct {
	rng     *mrand.Rand
	now     time.Time
	p256    float64 // share of registrations with secp256r1 (MASQUE) keys
	serial  int64
	emailNo int
	seq     accountSeqs
	stats   seedStats
}

// accountSeqs are the id sequences of the account being generated.
type accountSeqs struct {
	users, devices, regs *idSeq
}

func newFleet(seed uint64, now time.Time, p256 float64) *fleet {
	return &fleet{rng: mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		now: micro(now), p256: p256}
}

// micro truncates t to the microsecond in UTC, the precision both engines keep.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// uuid returns a random version 4 UUID drawn from the fleet's generator.
func (f *fleet) uuid() string { return f.uuidFrom(f.rng.Uint64()) }

// idSeq hands out random UUIDs in increasing order: the i-th of n falls at a random
// place in the i-th n-th of the id space. The set is as random as any, but written
// in key order it appends to the primary-key b-trees instead of splitting pages all
// over them, which is most of what makes a bulk load fast.
type idSeq struct {
	next, step uint64
}

func newIDSeq(n int) *idSeq {
	return &idSeq{step: ^uint64(0) / uint64(max(n, 1))}
}

// id returns the sequence's next UUID.
func (f *fleet) id(s *idSeq) string {
	hi := s.next + f.rng.Uint64N(s.step)
	s.next += s.step
	return f.uuidFrom(hi)
}

// uuidFrom makes a version 4 UUID whose top 64 bits are hi and the rest random.
func (f *fleet) uuidFrom(hi uint64) string {
	var b [16]byte
	lo := f.rng.Uint64()
	for j := range 8 {
		b[j] = byte(hi >> (56 - 8*j))
		b[8+j] = byte(lo >> (56 - 8*j))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// between returns a time uniformly drawn in [a, b].
func (f *fleet) between(a, b time.Time) time.Time {
	if !b.After(a) {
		return a
	}
	return micro(a.Add(time.Duration(f.rng.Int64N(int64(b.Sub(a)) + 1))))
}

// user returns a new user with a unique email and one to three groups.
func (f *fleet) user(accountID string) *device.User {
	first := firstNames[f.rng.IntN(len(firstNames))]
	last := lastNames[f.rng.IntN(len(lastNames))]
	f.emailNo++
	email := fmt.Sprintf("%s.%s.%d@corp.example", strings.ToLower(first), strings.ToLower(last),
		f.emailNo)
	groups := []string{"staff"}
	for range f.rng.IntN(3) {
		g := groupNames[1+f.rng.IntN(len(groupNames)-1)]
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	// Users predate every registration: they come from the identity provider.
	created := f.between(f.now.Add(-3*createdSpan), f.now.Add(-2*createdSpan))
	f.stats.Users++
	return &device.User{ID: f.id(f.seq.users), AccountID: accountID, Email: email,
		Name: first + " " + last, Groups: groups, CreatedAt: created, UpdatedAt: created}
}

// device returns a new device owned by owner; its times are set by finishDevice.
func (f *fleet) device(accountID string, owner *device.User) *device.Device {
	m := models[f.rng.IntN(len(models))]
	f.serial++
	mac := make([]string, 6)
	for i := range mac {
		mac[i] = fmt.Sprintf("%02x", f.rng.IntN(256))
	}
	first, _, _ := strings.Cut(owner.Name, " ")
	f.stats.Devices++
	return &device.Device{ID: f.id(f.seq.devices), AccountID: accountID, Facts: device.DeviceFacts{
		Name: first + "'s " + m.label, Model: m.model, Manufacturer: m.maker,
		DeviceType: m.kind, OSVersion: m.os, SerialNumber: fmt.Sprintf("%s%09d", m.serialPrefix, f.serial),
		HardwareID: f.uuid(), MACAddress: strings.Join(mac, ":"),
		ClientVersion: clientVersions[f.rng.IntN(len(clientVersions))],
	}}
}

// registration returns a registration of u on d in the seat slot. Last seen is
// skewed towards the present, as in a fleet where most machines are in use.
func (f *fleet) registration(
	a *device.Account, d *device.Device, u *device.User, slot string,
) (*device.Registration, error) {
	x := f.rng.Float64()
	seen := micro(f.now.Add(-time.Duration(x * x * float64(seenSpan))))
	created := f.between(seen.Add(-createdSpan), seen.Add(-time.Second))
	r := &device.Registration{ID: f.id(f.seq.regs), AccountID: a.ID, DeviceID: d.ID, UserID: u.ID,
		ProfileID: a.DefaultProfileID, Slot: slot, CreatedAt: created, LastSeenAt: seen,
		UpdatedAt: f.between(created, seen), PolicyUpdatedAt: created}
	if err := f.key(r); err != nil {
		return nil, err
	}
	if f.rng.Float64() < revokedRate {
		r.RevokedAt = f.between(seen, f.now)
		r.UpdatedAt = r.RevokedAt
		f.stats.Revoked++
	}
	if f.rng.Float64() < deletedRate {
		r.DeletedAt = f.between(r.UpdatedAt, f.now)
		r.UpdatedAt = r.DeletedAt
		f.stats.Deleted++
	}
	f.stats.Registrations++
	return r, nil
}

// key gives r a fresh, real public key. Random curve25519 keys cost nothing and
// never collide; P-256 keys are generated for real (about 15 µs each), so they are
// unique too and pass the server's on-curve check if a client sends them back.
func (f *fleet) key(r *device.Registration) error {
	if f.rng.Float64() >= f.p256 {
		var b [32]byte
		rand.Read(b[:])
		r.Key, r.KeyType, r.TunnelType = base64.StdEncoding.EncodeToString(b[:]),
			device.KeyCurve25519, device.TunnelWireGuard
		return nil
	}
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generate p-256 key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(k.PublicKey())
	if err != nil {
		return fmt.Errorf("encode p-256 key: %w", err)
	}
	r.Key, r.KeyType, r.TunnelType = base64.StdEncoding.EncodeToString(der),
		device.KeySecp256r1, device.TunnelMASQUE
	f.stats.P256++
	return nil
}

// finishDevice sets a device's times from its registrations: created with the
// first, seen with the last. In a single-user account a deleted registration took
// its device with it.
func finishDevice(d *device.Device, regs []*device.Registration, multiUser bool) {
	for i, r := range regs {
		if i == 0 || r.CreatedAt.Before(d.CreatedAt) {
			d.CreatedAt = r.CreatedAt
		}
		if r.LastSeenAt.After(d.LastSeenAt) {
			d.LastSeenAt = r.LastSeenAt
		}
		if r.UpdatedAt.After(d.UpdatedAt) {
			d.UpdatedAt = r.UpdatedAt
		}
		if !multiUser && !r.DeletedAt.IsZero() {
			d.DeletedAt = r.DeletedAt
		}
	}
}

// regsPerDevice draws how many users share a device in a multi-user account: one
// for half the devices, two for 30 %, three for 20 %.
func (f *fleet) regsPerDevice() int {
	switch x := f.rng.Float64(); {
	case x < 0.5:
		return 1
	case x < 0.8:
		return 2
	default:
		return 3
	}
}

// pickUsers draws k distinct users from pool.
func (f *fleet) pickUsers(pool []*device.User, k int) []*device.User {
	k = min(k, len(pool))
	out := make([]*device.User, 0, k)
	for len(out) < k {
		u := pool[f.rng.IntN(len(pool))]
		dup := false
		for _, o := range out {
			dup = dup || o == u
		}
		if !dup {
			out = append(out, u)
		}
	}
	return out
}
