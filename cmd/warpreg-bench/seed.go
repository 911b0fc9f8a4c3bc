package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	msqlite "modernc.org/sqlite"

	"github.com/warpreg/warpreg/internal/cli"
	"github.com/warpreg/warpreg/internal/config"
	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/postgres"
	"github.com/warpreg/warpreg/internal/store/sqlite"
)

const seedAbout = `Creates --accounts accounts through the service (the first, which holds 90 % of
the rows, is multi-user: one to three users per device; the others are single-user),
then writes users, devices and registrations in large transactions. Seeded rows get
no change-log entries (the change feed starts empty) and no client secret (their
clients would have to enrol again); the run command enrols its own devices where a
workload needs registration tokens.

The rows go in through a bulk path. The store's bulk mode sets aside the indexes that
only reads need and builds them once the rows are in. Each batch's transaction sets
the tables' triggers aside (SQLite: dropped and created again before it commits;
PostgreSQL: COPY with session_replication_role = replica, which needs a superuser)
and writes the columns the triggers would have filled: the user and device fields
copied onto registrations, each device's active count and last seen registration
and user, the search texts. The account counters are counted at the end. A test
checks the result against --triggers, which writes through the store's own
transactions with every trigger running per row (slow on SQLite; hours for a
million on PostgreSQL).

Each account also gets --profiles custom device settings profiles (at most four),
created through the service before its registrations; the generator assigns every
registration the profile the profiles' rules choose, as enrolment would.

It then creates a write API token and a reusable enrolment key for every account,
prints them, and writes them, with samples of ids and search terms for the
workloads, to the credentials file that run reads (mode 0600: it holds secrets).

On SQLite the seed's own connections use a --cache-mb page cache and keep
temporary data in memory; durability settings and the server's are unchanged.
`

// seedOptions are seed's flags.
type seedOptions struct {
	database  string
	regs      int
	accounts  int
	batch     int
	credsPath string
	seed      uint64
	p256      float64
	profile   string
	cacheMB   int
	save      string
	writers   int
	profiles  int
	triggers  bool
}

func seedCommand(fs *flag.FlagSet, e *env) func(context.Context, *env) error {
	var o seedOptions
	def := e.getenv("WARPREG_DATABASE")
	if def == "" {
		def = "warpreg.db"
	}
	fs.StringVar(&o.database, "database", def,
		"SQLite file or postgres:// URL (env WARPREG_DATABASE)")
	fs.IntVar(&o.regs, "registrations", 0, "how many registrations to write (required)")
	fs.IntVar(&o.accounts, "accounts", 5, "how many accounts; the first holds 90 % of the rows")
	fs.IntVar(&o.batch, "batch", 50000, "registrations per write transaction (larger ones "+
		"rewrite each index page less often)")
	fs.StringVar(&o.credsPath, "creds", "", "credentials file to write (default DATABASE.bench.json)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the fleet's shape; the same seed makes the same fleet")
	fs.Float64Var(&o.p256, "p256", 0.3, "share of registrations with secp256r1 (MASQUE) keys")
	fs.IntVar(&o.writers, "writers", 0, "write transactions at a time (default 1 on SQLite, "+
		"which has one writer, and 4 on PostgreSQL)")
	fs.IntVar(&o.cacheMB, "cache-mb", 1024, "SQLite page cache of the seed's own connections, in MB")
	fs.StringVar(&o.profile, "cpuprofile", "", "write a CPU profile of the seeding to this file")
	fs.StringVar(&o.save, "save", "", "also write the JSON result to this file")
	fs.IntVar(&o.profiles, "profiles", len(benchProfiles),
		"custom device settings profiles per account")
	fs.BoolVar(&o.triggers, "triggers", false, "write the rows through the store's "+
		"transactions, every trigger and index running per row (slow; the bulk path is "+
		"checked against it)")
	fs.BoolVar(&e.json, "json", false, "print the result as JSON")
	return func(ctx context.Context, e *env) error {
		switch {
		case o.regs < 1:
			return cli.Usagef("--registrations must be a positive number")
		case o.accounts < 1 || o.accounts > 1000:
			return cli.Usagef("--accounts must be from 1 to 1000")
		case o.batch < 1:
			return cli.Usagef("--batch must be positive")
		case o.p256 < 0 || o.p256 > 1:
			return cli.Usagef("--p256 must be from 0 to 1")
		case o.cacheMB < 1:
			return cli.Usagef("--cache-mb must be positive")
		case o.writers < 0 || o.writers > 64:
			return cli.Usagef("--writers must be from 1 to 64")
		case o.profiles < 0 || o.profiles > len(benchProfiles):
			return cli.Usagef("--profiles must be from 0 to %d", len(benchProfiles))
		}
		if o.credsPath == "" {
			o.credsPath = defaultCredsPath(o.database)
		}
		stop, err := startProfile(o.profile)
		if err != nil {
			return err
		}
		defer stop()
		return seed(ctx, e, o)
	}
}

// seedStats counts what the fleet generator made.
type seedStats struct {
	Registrations int `json:"registrations"`
	Devices       int `json:"devices"`
	Users         int `json:"users"`
	Revoked       int `json:"revoked"`
	Deleted       int `json:"deleted"`
	P256          int `json:"secp256r1_keys"`

	CustomProfiles   int `json:"custom_profiles"`
	OnCustomProfiles int `json:"on_custom_profiles"` // registrations their rules moved there
}

// seedResult is what seed prints.
type seedResult struct {
	Kind    string `json:"kind"`
	Command string `json:"command"`
	Engine  string `json:"engine"`
	seedStats
	Seconds                float64       `json:"seconds"`
	RowsPerSecond          float64       `json:"rows_per_second"`
	RegistrationsPerSecond float64       `json:"registrations_per_second"`
	DatabaseBytes          int64         `json:"database_bytes,omitempty"`
	BytesPerRegistration   float64       `json:"bytes_per_registration,omitempty"`
	CredsFile              string        `json:"creds_file"`
	Accounts               []credAccount `json:"accounts,omitempty"`
}

func seed(ctx context.Context, e *env, o seedOptions) error {
	engine, dsn, err := config.ParseDatabase(o.database)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	sizeBefore := databaseBytes(engine, dsn)
	if engine == config.SQLite {
		tuneBulkLoad(o.cacheMB)
	}
	if o.writers == 0 {
		o.writers = 1
		if engine == config.Postgres {
			o.writers = 4
		}
	}
	start := time.Now()
	c, stats, err := load(ctx, e, engine, dsn, o)
	if err != nil {
		return err
	}
	if err := saveJSON(o.credsPath, c, 0o600); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	res := seedSummary(e, engine, stats, time.Since(start), c, o.credsPath)
	if size := databaseBytes(engine, dsn); size > 0 {
		res.DatabaseBytes = size
		res.BytesPerRegistration = float64(size-sizeBefore) / float64(stats.Registrations)
	}
	if o.save != "" {
		// Saved results end up in reports; the credentials stay in the creds file.
		saved := res
		saved.Accounts = nil
		if err := saveJSON(o.save, saved, 0o644); err != nil {
			return fmt.Errorf("save result: %w", err)
		}
	}
	return printSeed(e, res)
}

// load creates the accounts, fills them and issues their credentials. It closes
// the store before it returns, which checkpoints SQLite's write-ahead log, so that
// the file's size is final.
func load(
	ctx context.Context, e *env, engine config.Engine, dsn string, o seedOptions,
) (*creds, seedStats, error) {
	st, err := openStore(ctx, engine, dsn, e.log)
	if err != nil {
		return nil, seedStats{}, err
	}
	c, stats, err := fillStore(ctx, e, st, engine, dsn, o)
	if closeErr := st.Close(); err == nil && closeErr != nil {
		err = fmt.Errorf("close database: %w", closeErr)
	}
	if err != nil {
		return nil, seedStats{}, err
	}
	c.Database, c.Engine = o.database, string(engine)
	return c, stats, nil
}

func fillStore(ctx context.Context, e *env, st device.Store, engine config.Engine, dsn string,
	o seedOptions) (*creds, seedStats, error) {
	svc := device.NewService(st, nil, e.log)
	c, plans, err := createAccounts(ctx, svc, o)
	if err != nil {
		return nil, seedStats{}, err
	}
	var stats seedStats
	if o.triggers {
		stats, err = fill(ctx, e, plans, o, c, storeWrite(st))
	} else {
		stats, err = bulkFill(ctx, e, st, engine, dsn, plans, o, c)
	}
	if err != nil {
		return nil, seedStats{}, err
	}
	stats.CustomProfiles = o.profiles
	return c, stats, issueCredentials(ctx, svc, c)
}

// storeWrite writes a batch in one transaction of the store's.
func storeWrite(st device.Store) batchWriter {
	return func(ctx context.Context, b *batch) error {
		return st.Update(ctx, func(tx device.Tx) error { return b.write(ctx, tx) })
	}
}

// bulkFill fills the accounts through the bulk path: the store's bulk mode, which
// builds the indexes that only reads need once the rows are in, around a writer
// that sets the triggers aside and writes what they would have (derived.go), then
// the account counters, counted.
func bulkFill(ctx context.Context, e *env, st device.Store, engine config.Engine, dsn string,
	plans []accountPlan, o seedOptions, c *creds) (seedStats, error) {
	w, err := openRowWriter(ctx, engine, dsn, o.writers)
	if err != nil {
		return seedStats{}, err
	}
	defer w.close()
	var stats seedStats
	err = bulkLoad(ctx, st, func(ctx context.Context) error {
		var err error
		stats, err = fill(ctx, e, plans, o, c, w.write)
		return err
	})
	if err != nil {
		return seedStats{}, err
	}
	ids := make([]string, len(plans))
	for i, p := range plans {
		ids[i] = p.acct.ID
	}
	return stats, w.recount(ctx, ids)
}

// bulkLoader is a store with a bulk mode: see sqlite.Store.BulkLoad.
type bulkLoader interface {
	BulkLoad(ctx context.Context, load func(ctx context.Context) error) error
}

// bulkLoad runs load in the store's bulk mode, if it has one.
func bulkLoad(ctx context.Context, st device.Store, load func(ctx context.Context) error) error {
	if b, ok := st.(bulkLoader); ok {
		return b.BulkLoad(ctx, load)
	}
	return load(ctx)
}

func openStore(
	ctx context.Context, engine config.Engine, dsn string, log *slog.Logger,
) (device.Store, error) {
	if engine == config.Postgres {
		return postgres.Open(ctx, dsn, log)
	}
	return sqlite.Open(ctx, dsn, log)
}

// tuneBulkLoad gives every SQLite connection this process opens a large page cache
// and an in-memory temporary store. With SQLite's default 2 MB cache a big
// transaction spills dirty pages and writes statement journals to disk on nearly
// every insert, which makes a million-row load several times slower. Durability
// is untouched (the store's WAL and synchronous settings stand), and a server
// opening the database later keeps its own settings.
func tuneBulkLoad(cacheMB int) {
	pragmas := fmt.Sprintf("PRAGMA cache_size = -%d; PRAGMA temp_store = MEMORY", cacheMB*1024)
	msqlite.RegisterConnectionHook(func(c msqlite.ExecQuerierContext, _ string) error {
		_, err := c.ExecContext(context.Background(), pragmas, nil)
		return err
	})
}

// databaseBytes returns the size of an SQLite database with its write-ahead log,
// or 0 when it is not known (PostgreSQL, or no file yet).
func databaseBytes(engine config.Engine, path string) int64 {
	if engine != config.SQLite {
		return 0
	}
	var total int64
	for _, p := range []string{path, path + "-wal"} {
		if st, err := os.Stat(p); err == nil {
			total += st.Size()
		}
	}
	return total
}

// accountPlan is one account to fill, how many registrations it gets and what
// chooses their profiles.
type accountPlan struct {
	acct   *device.Account
	regs   int
	assign *device.Assigner
}

// benchProfiles are the custom profiles seed creates, each matching a part of the
// fleet fleet.go draws: groups, operating systems.
var benchProfiles = []struct {
	name, match string
}{
	{"Security and admins", `any(identity.groups.name[*] in {"security" "admins"})`},
	{"Linux", `os.name == "linux"`},
	{"Mobile", `os.name in {"ios" "android"}`},
	{"Contractors", `any(identity.groups.name[*] == "contractors")`},
}

// createProfiles creates the first n bench profiles in an account that has no
// registrations yet, and returns what assigns them.
func createProfiles(
	ctx context.Context, svc *device.Service, a *device.Account, n int,
) (*device.Assigner, error) {
	var rules []device.Rule
	for i, bp := range benchProfiles[:n] {
		p, err := svc.CreateProfile(ctx, a.ID, func(p *device.Profile) error {
			p.Name, p.Match, p.Precedence = bp.name, bp.match, 10*(i+1)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("create profile %s: %w", bp.name, err)
		}
		rules = append(rules, device.Rule{ProfileID: p.ID, Match: p.Match,
			Precedence: p.Precedence, Enabled: p.Enabled, UpdatedAt: p.UpdatedAt})
	}
	return device.NewAssigner(a.DefaultProfileID, rules), nil
}

// createAccounts creates the accounts through the service, so that each gets its
// default profile as any other account does.
func createAccounts(
	ctx context.Context, svc *device.Service, o seedOptions,
) (*creds, []accountPlan, error) {
	c := &creds{Version: credsVersion, Registrations: o.regs, SeededAt: time.Now().UTC()}
	var plans []accountPlan
	for i, n := range splitRegistrations(o.regs, o.accounts) {
		name, multi := fmt.Sprintf("warpreg-bench %d", i+1), i == 0
		if multi {
			name = "warpreg-bench main"
		}
		a, err := svc.CreateAccount(ctx, name, multi)
		if err != nil {
			return nil, nil, err
		}
		assign, err := createProfiles(ctx, svc, a, o.profiles)
		if err != nil {
			return nil, nil, err
		}
		plans = append(plans, accountPlan{acct: a, regs: n, assign: assign})
		c.Accounts = append(c.Accounts, credAccount{ID: a.ID, Name: a.Name, MultiUser: multi,
			Registrations: n})
	}
	return c, plans, nil
}

// splitRegistrations gives the first account 90 % of n and shares the rest evenly.
func splitRegistrations(n, k int) []int {
	if k == 1 {
		return []int{n}
	}
	small := n / 10 / (k - 1)
	out := []int{n - small*(k-1)}
	for range k - 1 {
		out = append(out, small)
	}
	return out
}

// issueCredentials creates a write token and a reusable enrolment key per account.
func issueCredentials(ctx context.Context, svc *device.Service, c *creds) error {
	for i := range c.Accounts {
		a := &c.Accounts[i]
		_, token, err := svc.CreateAPIToken(ctx, a.ID, "warpreg-bench", false)
		if err != nil {
			return err
		}
		_, key, err := svc.CreateEnrollmentKey(ctx, a.ID, true, 0)
		if err != nil {
			return err
		}
		a.Token, a.EnrollmentKey = token, key
	}
	return nil
}

// fill generates the fleet in one goroutine and writes it in this one, so that key
// generation overlaps the single-writer database work.
func fill(ctx context.Context, e *env, plans []accountPlan, o seedOptions, c *creds,
	write batchWriter) (seedStats, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := newFleet(o.seed, seedClock(), o.p256)
	g := &generator{f: f, batchSize: o.batch, out: make(chan *batch, 4),
		smp: newSampler(o.seed), mainID: plans[0].acct.ID}
	genErr := make(chan error, 1)
	go func() {
		genErr <- g.run(ctx, plans)
		close(g.out)
	}()

	var written progressCount
	stop := everySecond(ctx, isTerminal(e.stderr), func(elapsed time.Duration) {
		regs, rows := written.regs.Load(), written.rows.Load()
		fmt.Fprintf(e.stderr, "seed: %d of %d registrations, %d rows in all, %.0f rows/s\n",
			regs, o.regs, rows, float64(rows)/elapsed.Seconds())
	})
	err := writeBatches(ctx, write, g.out, o.writers, &written)
	stop()
	if err != nil {
		cancel()
		for range g.out {
		}
		<-genErr
		return seedStats{}, err
	}
	if err := <-genErr; err != nil {
		return seedStats{}, err
	}
	g.smp.fill(c)
	return f.stats, nil
}

// seedClock is the time the fleet's times count back from; tests fix it, so that
// two seeds with the same flags make the same rows.
var seedClock = time.Now

// batchWriter writes one batch, all or nothing.
type batchWriter func(ctx context.Context, b *batch) error

// progressCount counts what is written, for the progress line.
type progressCount struct {
	regs, rows atomic.Int64
}

func (p *progressCount) add(b *batch) {
	p.regs.Add(int64(len(b.regs)))
	p.rows.Add(int64(len(b.regs) + len(b.devices) + len(b.users)))
}

// writeBatches writes each batch in one transaction, up to writers at a time. A
// barrier waits for the batches before it, so that rows never arrive before those
// they refer to.
func writeBatches(
	ctx context.Context, write batchWriter, in <-chan *batch, writers int, written *progressCount,
) error {
	sem := make(chan struct{}, writers)
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for b := range in {
		if b.barrier {
			wg.Wait()
			continue
		}
		select {
		case sem <- struct{}{}:
		case err := <-errs:
			wg.Wait()
			return err
		}
		wg.Go(func() {
			defer func() { <-sem }()
			b.sort()
			if err := write(ctx, b); err != nil {
				select { // the first error is enough
				case errs <- fmt.Errorf("write batch: %w", err):
				default:
				}
				return
			}
			written.add(b)
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return ctx.Err()
	}
}

func seedSummary(
	e *env, engine config.Engine, s seedStats, took time.Duration, c *creds, path string,
) seedResult {
	rows := s.Registrations + s.Devices + s.Users
	return seedResult{Kind: "seed", Command: e.commandLine(), Engine: string(engine), seedStats: s,
		Seconds: took.Seconds(), RowsPerSecond: float64(rows) / took.Seconds(),
		RegistrationsPerSecond: float64(s.Registrations) / took.Seconds(),
		CredsFile:              path, Accounts: c.Accounts}
}

func printSeed(e *env, r seedResult) error {
	if e.json {
		return printJSON(e.stdout, r)
	}
	w := e.stdout
	fmt.Fprintf(w, "seeded %d registrations (%d devices, %d users; %d revoked, %d deleted, "+
		"%d secp256r1 keys) in %.1f s: %.0f registrations/s, %.0f rows/s\n", r.Registrations,
		r.Devices, r.Users, r.Revoked, r.Deleted, r.P256, r.Seconds, r.RegistrationsPerSecond,
		r.RowsPerSecond)
	fmt.Fprintf(w, "%d custom profiles per account; %d registrations on one\n",
		r.CustomProfiles, r.OnCustomProfiles)
	if r.DatabaseBytes > 0 {
		fmt.Fprintf(w, "database: %.1f MB, %.0f bytes per registration\n",
			float64(r.DatabaseBytes)/1e6, r.BytesPerRegistration)
	}
	for _, a := range r.Accounts {
		fmt.Fprintf(w, "account %s (%s, %d registrations, multi-user %t)\n  token %s\n  "+
			"enrollment key %s\n", a.ID, a.Name, a.Registrations, a.MultiUser, a.Token,
			a.EnrollmentKey)
	}
	fmt.Fprintf(w, "credentials written to %s\n", r.CredsFile)
	return nil
}
