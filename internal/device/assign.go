package device

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/warpreg/warpreg/internal/match"
)

// Assigner chooses profiles for registrations from one reading of an account's
// rules: the first enabled custom profile, in precedence order, whose match is true
// for the registration, else the default profile. It is safe for concurrent use.
type Assigner struct {
	defaultID string
	rules     []compiledRule
	keep      map[string]bool // live custom profiles without a rule; see Profile
}

type compiledRule struct {
	profileID string
	expr      *match.Expr
}

// NewAssigner returns an Assigner for an account's rules, in the order and form
// Reader.Rules returns them, and its default profile. A rule whose match does not
// parse matches nothing.
func NewAssigner(defaultID string, rules []Rule) *Assigner {
	return newAssigner(defaultID, rules, func(r Rule) *match.Expr {
		e, _ := match.Parse(r.Match)
		return e
	})
}

func newAssigner(defaultID string, rules []Rule, compile func(Rule) *match.Expr) *Assigner {
	a := &Assigner{defaultID: defaultID, keep: map[string]bool{}}
	for _, r := range rules {
		switch {
		case r.Default:
		case r.Match == "":
			a.keep[r.ProfileID] = true
		case r.Enabled:
			if e := compile(r); e != nil {
				a.rules = append(a.rules, compiledRule{profileID: r.ProfileID, expr: e})
			}
		}
	}
	return a
}

// assigner reads the account's rules in tx, with their expressions parsed once per
// process and text.
func (s *Service) assigner(ctx context.Context, tx Reader, acct *Account) (*Assigner, error) {
	rules, err := tx.Rules(ctx, acct.ID)
	if err != nil {
		return nil, fmt.Errorf("read profile rules: %w", err)
	}
	return newAssigner(acct.DefaultProfileID, rules,
		func(r Rule) *match.Expr { return s.exprs.get(r, s.log) }), nil
}

// Choose returns the profile for a registration now assigned to current ("" for a
// new one) whose user is u (nil for none) and whose device has the facts f.
func (a *Assigner) Choose(current string, u *User, f *DeviceFacts) string {
	return a.choose(current, subjectOf(u, f))
}

func (a *Assigner) choose(current string, subj match.Subject) string {
	if a.keep[current] {
		return current
	}
	for _, r := range a.rules {
		if r.expr.Eval(subj) {
			return r.profileID
		}
	}
	return a.defaultID
}

// subjectOf describes a registration's user and device as match expressions see
// them: os.name is the device type the client reported.
func subjectOf(u *User, f *DeviceFacts) match.Subject {
	s := match.Subject{
		OSName: f.DeviceType, OSVersion: f.OSVersion,
		DeviceModel: f.Model, DeviceManufacturer: f.Manufacturer,
	}
	if u != nil {
		s.Email, s.Name, s.Groups = u.Email, u.Name, u.Groups
	}
	return s
}

// subjectFactsChanged reports whether the facts a match expression can see differ.
func subjectFactsChanged(a, b *DeviceFacts) bool {
	return a.DeviceType != b.DeviceType || a.OSVersion != b.OSVersion ||
		a.Model != b.Model || a.Manufacturer != b.Manufacturer
}

// exprCache holds parsed match expressions by their text, so that enrolment does
// not parse an account's rules on every call. An edit that changes a rule changes
// its text, so an entry is never stale.
type exprCache struct {
	mu sync.Mutex
	m  map[string]*match.Expr
}

// maxCachedExprs bounds the cache; past it, the cache starts again empty.
const maxCachedExprs = 4096

// get returns r's parsed expression. A stored expression that no longer parses
// (it was checked when written) matches nothing, and is logged.
func (c *exprCache) get(r Rule, log *slog.Logger) *match.Expr {
	c.mu.Lock()
	e, ok := c.m[r.Match]
	c.mu.Unlock()
	if ok {
		return e
	}
	e, err := match.Parse(r.Match)
	if err != nil {
		log.Error("stored match expression does not parse; the profile matches nothing",
			"profile_id", r.ProfileID, "err", err)
		return nil
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedExprs {
		c.m = map[string]*match.Expr{}
	}
	c.m[r.Match] = e
	c.mu.Unlock()
	return e
}

// move is a registration whose profile is to change.
type move struct {
	r  *Registration
	to string
}

// applyMoves assigns each registration its new profile, one statement per target
// profile, and logs a profile_reassigned change for each, in registration id order.
func applyMoves(ctx context.Context, tx Tx, moves []move, now time.Time) error {
	if len(moves) == 0 {
		return nil
	}
	slices.SortFunc(moves, func(a, b move) int { return strings.Compare(a.r.ID, b.r.ID) })
	byProfile := map[string][]*Registration{}
	var targets []string
	for _, m := range moves {
		if byProfile[m.to] == nil {
			targets = append(targets, m.to)
		}
		byProfile[m.to] = append(byProfile[m.to], m.r)
	}
	for _, p := range targets {
		if err := tx.AssignProfile(ctx, p, byProfile[p], now); err != nil {
			return fmt.Errorf("assign profile: %w", err)
		}
	}
	for _, m := range moves {
		m.r.ProfileID, m.r.PolicyUpdatedAt = m.to, now
		if err := tx.AppendChange(ctx, changeFor(ChangeReassigned, m.r, now)); err != nil {
			return fmt.Errorf("log change: %w", err)
		}
	}
	return nil
}

// reevaluate re-chooses the profile of the account's live registrations that q
// selects (a user's, or a device's), except skip, after their user or device
// changed.
func (s *Service) reevaluate(
	ctx context.Context, tx Tx, asg *Assigner, accountID string, q ListQuery, skip string,
) error {
	q.Status, q.Sort, q.Limit = StatusAll, SortByID, MaxPerPage
	users := map[string]*User{}
	devices := map[string]*Device{}
	var moves []move
	for {
		page, err := tx.ListRegistrations(ctx, accountID, q)
		if err != nil {
			return fmt.Errorf("list affected registrations: %w", err)
		}
		for i := range page.Registrations {
			r := &page.Registrations[i]
			if r.ID == skip {
				continue
			}
			subj, err := subjectFor(ctx, tx, r, users, devices)
			if err != nil {
				return err
			}
			if to := asg.choose(r.ProfileID, subj); to != r.ProfileID {
				moves = append(moves, move{r: r, to: to})
			}
		}
		if page.Next == nil {
			break
		}
		q.After = page.Next
	}
	return applyMoves(ctx, tx, moves, s.Now())
}

// subjectFor reads r's user and device, through caches that one call shares.
func subjectFor(
	ctx context.Context, tx Reader, r *Registration, users map[string]*User,
	devices map[string]*Device,
) (match.Subject, error) {
	d, ok := devices[r.DeviceID]
	if !ok {
		var err error
		if d, err = tx.Device(ctx, r.AccountID, r.DeviceID); err != nil {
			return match.Subject{}, fmt.Errorf("read device: %w", err)
		}
		devices[r.DeviceID] = d
	}
	var u *User
	if r.UserID != "" {
		if u, ok = users[r.UserID]; !ok {
			var err error
			if u, err = tx.User(ctx, r.AccountID, r.UserID); err != nil {
				return match.Subject{}, fmt.Errorf("read user: %w", err)
			}
			users[r.UserID] = u
		}
	}
	return subjectOf(u, &d.Facts), nil
}

// reassignBatch is how many registrations a re-evaluation reads at a time, and the
// most that one of its write transactions moves: few enough that SQLite's writer is
// held for milliseconds, enough that a million registrations take two thousand reads.
const reassignBatch = 500

// saveEvery is how many batches a run reads before it writes, moving nobody, to
// record its progress: a process that dies repeats at most that much reading.
const saveEvery = 20

// reassignAll runs the account's pending re-evaluation to its end and returns when
// none is pending. A run that another process or a newer profile change overtook
// (ErrConflict) reads the stored state again and goes on from there, so that
// processes share the work and a restart follows the newest rules.
func (s *Service) reassignAll(ctx context.Context, accountID string) error {
	for {
		ra, err := s.store.Reassignment(ctx, accountID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reassign profiles of account %s: %w", accountID, err)
		}
		err = s.reassignPass(ctx, accountID, ra)
		if err != nil && !errors.Is(err, ErrConflict) {
			return fmt.Errorf("reassign profiles of account %s: %w", accountID, err)
		}
	}
}

// reassignPass continues the re-evaluation ra until it finishes. It reads and
// chooses outside write transactions, and gathers the registrations that must move
// until it has a batch of them; then a transaction moves those (choosing again, from
// what it reads) and records the progress. It also writes after saveEvery reads,
// and at the end.
func (s *Service) reassignPass(ctx context.Context, accountID string, ra Reassignment) error {
	after, reads := ra.After, 0
	var ids []string
	for {
		more, next, last, err := s.chooseBatch(ctx, accountID, after)
		if err != nil {
			return err
		}
		ids, after, reads = append(ids, more...), next, reads+1
		if len(ids) < reassignBatch && !last && reads < saveEvery {
			continue
		}
		err = s.store.Update(ctx, func(tx Tx) error {
			return s.commitBatch(ctx, tx, accountID, ra, ids, next, last)
		})
		if err != nil || last {
			return err
		}
		ra.After, ids, reads = next, ids[:0], 0
	}
}

// chooseBatch reads the batch of registrations after after and returns the ids of
// those that must move, the id of the batch's last registration, and whether the
// batch was the last.
func (s *Service) chooseBatch(
	ctx context.Context, accountID, after string,
) (ids []string, next string, last bool, err error) {
	acct, err := s.store.Account(ctx, accountID)
	if err != nil {
		return nil, "", false, fmt.Errorf("read account: %w", err)
	}
	asg, err := s.assigner(ctx, s.store, acct)
	if err != nil {
		return nil, "", false, err
	}
	cands, err := s.store.Candidates(ctx, accountID, after, reassignBatch)
	if err != nil {
		return nil, "", false, err
	}
	next = after
	for i := range cands {
		c := &cands[i]
		r := &c.Registration
		if asg.choose(r.ProfileID, subjectOf(&c.User, &c.Facts)) != r.ProfileID {
			ids = append(ids, r.ID)
		}
		next = r.ID
	}
	return ids, next, len(cands) < reassignBatch, nil
}

// commitBatch records that the re-evaluation ra has got to next (or to its end),
// and moves the registrations ids that must still move when chosen again from
// what tx reads: one may have changed since it was read, and been assigned then.
// It returns ErrConflict when ra is no longer the stored state.
func (s *Service) commitBatch(
	ctx context.Context, tx Tx, accountID string, ra Reassignment, ids []string, next string,
	last bool,
) error {
	var err error
	if last {
		err = tx.FinishReassignment(ctx, accountID, ra)
	} else {
		err = tx.AdvanceReassignment(ctx, accountID, ra, next)
	}
	if err != nil || len(ids) == 0 {
		return err
	}
	acct, err := tx.Account(ctx, accountID)
	if err != nil {
		return fmt.Errorf("read account: %w", err)
	}
	asg, err := s.assigner(ctx, tx, acct)
	if err != nil {
		return err
	}
	cands, err := tx.CandidatesByID(ctx, accountID, ids)
	if err != nil {
		return err
	}
	var moves []move
	for i := range cands {
		c := &cands[i]
		r := &c.Registration
		if to := asg.choose(r.ProfileID, subjectOf(&c.User, &c.Facts)); to != r.ProfileID {
			moves = append(moves, move{r: r, to: to})
		}
	}
	return applyMoves(ctx, tx, moves, s.Now())
}

// runs makes one goroutine per account and process drive a re-evaluation, which
// every caller that needs it waits for.
type runs struct {
	mu sync.Mutex
	m  map[string]*run
}

type run struct {
	done  chan struct{}
	err   error
	again bool // a caller joined: its change may have committed after the last pass began
}

// start returns the account's run, starting one if none is going.
func (rs *runs) start(accountID string, pass func() error) *run {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if r, ok := rs.m[accountID]; ok {
		r.again = true
		return r
	}
	if rs.m == nil {
		rs.m = map[string]*run{}
	}
	r := &run{done: make(chan struct{})}
	rs.m[accountID] = r
	go func() {
		for {
			rs.mu.Lock()
			r.again = false
			rs.mu.Unlock()
			err := pass()
			rs.mu.Lock()
			if err == nil && r.again {
				rs.mu.Unlock()
				continue
			}
			delete(rs.m, accountID)
			r.err = err
			close(r.done)
			rs.mu.Unlock()
			return
		}
	}()
	return r
}

// awaitReassignment runs the account's pending re-evaluation, if any, and waits for
// it. The run does not depend on ctx: when the caller stops waiting, it goes on,
// and a process that dies midway leaves it for ResumeReassignments.
func (s *Service) awaitReassignment(ctx context.Context, accountID string) error {
	r := s.runs.start(accountID, func() error {
		return s.reassignAll(context.WithoutCancel(ctx), accountID)
	})
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		s.log.WarnContext(ctx, "profile reassignment continues after its caller stopped waiting",
			"account_id", accountID)
		return nil
	}
}

// ResumeReassignments finishes the re-evaluations that are pending in the
// database, such as one a crash interrupted, and returns when they are done.
func (s *Service) ResumeReassignments(ctx context.Context) error {
	accounts, err := s.store.PendingReassignments(ctx)
	if err != nil {
		return fmt.Errorf("list pending reassignments: %w", err)
	}
	var errs []error
	for _, id := range accounts {
		s.log.InfoContext(ctx, "resuming profile reassignment", "account_id", id)
		errs = append(errs, s.awaitReassignment(ctx, id))
	}
	return errors.Join(errs...)
}
