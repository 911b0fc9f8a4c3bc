package main

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"

	"github.com/warpreg/warpreg/internal/device"
)

// batch is what one write transaction holds. Rows are written parents first, so
// that every foreign key holds as each row goes in. Devices and registrations carry
// the columns their triggers fill, for the bulk path, which sets the triggers aside.
type batch struct {
	users   []*device.User
	devices []devRow
	regs    []regRow

	// barrier holds no rows: it says that what follows refers to what came before,
	// so writers working in parallel must finish what they have first.
	barrier bool
}

// sort orders each kind of row by id: inserting in key order keeps the primary-key
// b-trees' writes on neighbouring pages within one transaction.
func (b *batch) sort() {
	slices.SortFunc(b.users, func(x, y *device.User) int { return strings.Compare(x.ID, y.ID) })
	slices.SortFunc(b.devices, func(x, y devRow) int { return strings.Compare(x.d.ID, y.d.ID) })
	slices.SortFunc(b.regs, func(x, y regRow) int { return strings.Compare(x.r.ID, y.r.ID) })
}

// write writes the batch through the store's transaction, every trigger running.
func (b *batch) write(ctx context.Context, tx device.Tx) error {
	for _, u := range b.users {
		if err := tx.PutUser(ctx, u); err != nil {
			return fmt.Errorf("user %s: %w", u.ID, err)
		}
	}
	for _, d := range b.devices {
		if err := tx.PutDevice(ctx, d.d); err != nil {
			return fmt.Errorf("device %s: %w", d.d.ID, err)
		}
	}
	for _, r := range b.regs {
		if err := tx.PutRegistration(ctx, r.r); err != nil {
			return fmt.Errorf("registration %s: %w", r.r.ID, err)
		}
	}
	return nil
}

// generator turns account plans into batches on out.
type generator struct {
	f         *fleet
	batchSize int
	out       chan *batch
	smp       *sampler
	mainID    string
}

func (g *generator) run(ctx context.Context, plans []accountPlan) error {
	for _, p := range plans {
		var err error
		if p.acct.MultiUser {
			err = g.multiUser(ctx, p)
		} else {
			err = g.singleUser(ctx, p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (g *generator) send(ctx context.Context, b *batch) error {
	select {
	case g.out <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// users makes an account's pool of n users and sends them ahead of any
// registration that refers to them.
func (g *generator) users(ctx context.Context, accountID string, n int) ([]*device.User, error) {
	pool := make([]*device.User, 0, n)
	b := &batch{}
	for range n {
		u := g.f.user(accountID)
		pool = append(pool, u)
		b.users = append(b.users, u)
		if len(b.users) >= 2*g.batchSize {
			if err := g.send(ctx, b); err != nil {
				return nil, err
			}
			b = &batch{}
		}
	}
	if len(b.users) > 0 {
		if err := g.send(ctx, b); err != nil {
			return nil, err
		}
	}
	return pool, g.send(ctx, &batch{barrier: true})
}

// multiUser fills a multi-user account: about two registrations per user, and one
// to three users per device, each in their own seat (Slot = user id).
func (g *generator) multiUser(ctx context.Context, p accountPlan) error {
	var seats []int // registrations per device, drawn first to size the id sequences
	for left := p.regs; left > 0; left -= seats[len(seats)-1] {
		seats = append(seats, min(g.f.regsPerDevice(), left))
	}
	nUsers := max(1, p.regs/2)
	g.f.seq = accountSeqs{users: newIDSeq(nUsers), devices: newIDSeq(len(seats)),
		regs: newIDSeq(p.regs)}
	pool, err := g.users(ctx, p.acct.ID, nUsers)
	if err != nil {
		return err
	}
	b := &batch{}
	for _, k := range seats {
		users := g.f.pickUsers(pool, k)
		d := g.f.device(p.acct.ID, users[0])
		regs := make([]*device.Registration, 0, len(users))
		for _, u := range users {
			r, err := g.f.registration(p.acct, d, u, u.ID)
			if err != nil {
				return err
			}
			g.assign(p, r, u, d)
			regs = append(regs, r)
		}
		if b, err = g.add(ctx, b, p.acct, d, regs, users, true); err != nil {
			return err
		}
	}
	return g.flush(ctx, b)
}

// singleUser fills a single-user account: one registration per device, whose id is
// the device's, and about one and a half devices per user.
func (g *generator) singleUser(ctx context.Context, p accountPlan) error {
	nUsers := max(1, p.regs*2/3)
	g.f.seq = accountSeqs{users: newIDSeq(nUsers), devices: newIDSeq(p.regs),
		regs: newIDSeq(p.regs)}
	pool, err := g.users(ctx, p.acct.ID, nUsers)
	if err != nil {
		return err
	}
	b := &batch{}
	for range p.regs {
		u := pool[g.f.rng.IntN(len(pool))]
		d := g.f.device(p.acct.ID, u)
		r, err := g.f.registration(p.acct, d, u, "")
		if err != nil {
			return err
		}
		g.assign(p, r, u, d)
		r.ID = d.ID
		regs, users := []*device.Registration{r}, []*device.User{u}
		if b, err = g.add(ctx, b, p.acct, d, regs, users, false); err != nil {
			return err
		}
	}
	return g.flush(ctx, b)
}

// assign gives r the profile the account's rules choose for it.
func (g *generator) assign(
	p accountPlan, r *device.Registration, u *device.User, d *device.Device,
) {
	if p.assign == nil {
		return
	}
	r.ProfileID = p.assign.Choose("", u, &d.Facts)
	if r.ProfileID != p.acct.DefaultProfileID {
		g.f.stats.OnCustomProfiles++
	}
}

// add puts a device and its registrations in b, sending b and returning a fresh
// one once it is full.
func (g *generator) add(ctx context.Context, b *batch, a *device.Account, d *device.Device,
	regs []*device.Registration, users []*device.User, multiUser bool) (*batch, error) {
	finishDevice(d, regs, multiUser)
	b.devices = append(b.devices, deriveDevice(d, regs, users))
	for i, r := range regs {
		b.regs = append(b.regs, deriveRegistration(r, users[i], d))
	}
	if a.ID == g.mainID {
		for i, r := range regs {
			g.smp.offer(r, users[i])
		}
	}
	if len(b.regs) < g.batchSize {
		return b, nil
	}
	return &batch{}, g.send(ctx, b)
}

func (g *generator) flush(ctx context.Context, b *batch) error {
	if len(b.regs) == 0 && len(b.users) == 0 {
		return nil
	}
	return g.send(ctx, b)
}

// Sample sizes kept in the credentials file.
const (
	sampleRegistrations = 10000
	sampleRevoke        = 10000
	sampleUsers         = 1000
	sampleRare          = 200
)

// commonSearches match many rows: first names, surnames and device models.
var commonSearches = []string{"ada", "grace", "lovelace", "macbook", "thinkpad", "pixel",
	"hopper", "ken"}

// sampler keeps uniform samples (reservoirs) of the main account's rows.
type sampler struct {
	rng                       *mrand.Rand
	regs, revoke, users, rare reservoir
}

func newSampler(seed uint64) *sampler {
	return &sampler{rng: mrand.New(mrand.NewPCG(seed, 0x5eed)),
		regs: reservoir{size: sampleRegistrations}, revoke: reservoir{size: sampleRevoke},
		users: reservoir{size: sampleUsers}, rare: reservoir{size: sampleRare}}
}

func (s *sampler) offer(r *device.Registration, u *device.User) {
	s.regs.offer(s.rng, r.ID)
	if !r.Active() {
		return
	}
	s.revoke.offer(s.rng, r.ID)
	s.users.offer(s.rng, u.ID)
	// The whole local part and the @ match this user's email and no other.
	local, _, _ := strings.Cut(u.Email, "@")
	s.rare.offer(s.rng, local+"@")
}

// fill copies the samples into c.
func (s *sampler) fill(c *creds) {
	c.RegistrationIDs, c.RevokeIDs = s.regs.items, s.revoke.items
	c.UserIDs, c.RareSearches = s.users.items, s.rare.items
	c.CommonSearches = commonSearches
}

// reservoir is a uniform sample of at most size items from a stream (Algorithm R).
type reservoir struct {
	items []string
	seen  int
	size  int
}

func (r *reservoir) offer(rng *mrand.Rand, s string) {
	r.seen++
	if len(r.items) < r.size {
		r.items = append(r.items, s)
	} else if j := rng.IntN(r.seen); j < r.size {
		r.items[j] = s
	}
}
