package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/warpreg/warpreg/internal/cli"
	"github.com/warpreg/warpreg/internal/config"
	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/postgres"
	"github.com/warpreg/warpreg/internal/store/sqlite"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed
	exitUsage = 2 // the command line is wrong
)

const usage = `warpreg: a self-hosted Cloudflare WARP device registration service

Usage:
  warpreg <command> [flags]

Commands:
  serve                    serve the admin (/client/v4) and enrolment (/enroll/v1) APIs
  demo                     serve a fresh demo account with ~50 enrolled devices
  account create           create an account
  token create             create an API token for an account
  token list|revoke|roll   list an account's API tokens, revoke one, or give one a new secret
  global-key create        create a user's global API key for an account
  global-key list|revoke|roll
                           likewise for global API keys (named by --email)
  enrollment-key create    create a key that devices present to enrol
  enrollment-key list|revoke|roll
                           likewise for enrolment keys
  import                   load registrations saved from Cloudflare's API
  watch                    follow an account's change feed and print each change
  backup                   write a consistent copy of a SQLite database, online

Every command takes --database (env WARPREG_DATABASE; default warpreg.db; a
postgres:// URL selects PostgreSQL; watch, which reads a server, ignores it),
--log-format text|json, --json and --help, after the command's words. Run
'warpreg <command> --help' or 'warpreg help <command>' for its flags.

serve answers Cloudflare's v4 API under /client/v4, the enrolment API under
/enroll/v1, and warpreg's own change feed and key lookup under /api/v1.
`

// command is one CLI command.
type command struct {
	name    string
	summary string
	serves  bool
	args    string // the positional arguments for the usage line, e.g. "FILE..."; "" for none
	remote  bool   // talks to a server, never to the database, which --database says
	flags   func(fs *flag.FlagSet, c *config.Config) func(ctx context.Context, e *env) error
}

// env is what a running command has to work with.
type env struct {
	getenv func(string) string
	cfg    config.Config
	args   []string
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger

	// mayCreate lets the command create a SQLite database that is not there yet.
	// Only serve, demo and account create may: any other command given a wrong path
	// would otherwise leave an empty database behind and report a missing account.
	mayCreate bool
}

var commands = []command{
	{name: "serve", summary: "serve the admin and enrolment APIs until interrupted",
		serves: true, flags: serveCommand},
	{name: "demo", summary: "serve a fresh demo account with about 50 enrolled devices",
		serves: true, flags: demoCommand},
	{name: "account create", summary: "create an account", flags: accountCreateCommand},
	{name: "token create", summary: "create an API token for an account",
		flags: tokenCreateCommand},
	{name: "token list", summary: "list an account's API tokens (never their secrets)",
		flags: tokenListCommand},
	{name: "token revoke", summary: "revoke an API token at once", flags: tokenRevokeCommand},
	{name: "token roll", summary: "give an API token a new secret, shown once; the old one " +
		"stops working", flags: tokenRollCommand},
	{name: "global-key create", summary: "create a user's global API key",
		flags: globalKeyCreateCommand},
	{name: "global-key list", summary: "list an account's global API keys (never their " +
		"secrets)", flags: globalKeyListCommand},
	{name: "global-key revoke", summary: "revoke a user's global API key at once",
		flags: globalKeyRevokeCommand},
	{name: "global-key roll", summary: "give a global API key a new secret, shown once; the " +
		"old one stops working", flags: globalKeyRollCommand},
	{name: "enrollment-key create", summary: "create a key that devices present to enrol",
		flags: enrollKeyCommand},
	{name: "enrollment-key list", summary: "list an account's enrolment keys (never their " +
		"secrets)", flags: enrollKeyListCommand},
	{name: "enrollment-key revoke", summary: "revoke an enrolment key at once",
		flags: enrollKeyRevokeCommand},
	{name: "enrollment-key roll", summary: "give an enrolment key a new secret, shown once; " +
		"the old one stops working", flags: enrollKeyRollCommand},
	{name: "import", summary: "load registrations saved from Cloudflare's v4 API: each FILE " +
		"is a response body of at most " + sizeText(maxImportFile), args: "FILE...",
		flags: importCommand},
	{name: "watch", summary: "follow an account's change feed and print each change",
		remote: true, flags: watchCommand},
	{name: "backup", summary: "write a consistent, verified copy of a SQLite database while " +
		"it serves", flags: backupCommand},
}

// run executes the command line args and returns the exit status. Errors are one
// line on stderr.
func run(
	ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer,
) int {
	if len(args) > 1 && isHelp(args[0]) && !isHelp(args[1]) {
		// "warpreg help token create" asks what "warpreg token create --help" does.
		rest := slices.Clone(args[1:])
		if !slices.ContainsFunc(rest, isHelp) {
			rest = append(rest, "--help")
		}
		return run(ctx, rest, getenv, stdout, stderr)
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "warpreg: a command is missing; run 'warpreg --help' for the commands")
		return exitUsage
	}
	if isHelp(args[0]) {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	cmd, rest, ok := findCommand(args)
	if !ok && len(args) == 2 && isHelp(args[1]) {
		if group := groupUsage(args[0]); group != "" {
			fmt.Fprint(stdout, group)
			return exitOK
		}
	}
	if !ok {
		fmt.Fprintln(stderr, unknownCommand(args))
		return exitUsage
	}

	cfg := config.Load(getenv)
	fs := flag.NewFlagSet("warpreg "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported below, on one line
	// Every command takes --database, as the CLI's contract says, so that a wrapper
	// may pass it to each; a remote one says it has no use for it.
	cfg.RegisterDatabase(fs)
	if cmd.remote {
		f := fs.Lookup(config.FlagDatabase)
		f.Usage = "not used: this command reads a server (--url), not a database; " +
			"accepted like every command's"
		f.DefValue = ""
	}
	cfg.RegisterCommon(fs)
	action := cmd.flags(fs, &cfg)
	positional, err := cli.ParseInterspersed(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stdout, "Usage: warpreg %s\n\n%s.\n\nFlags:\n", cmd.usage(), cmd.summary)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return exitOK
	} else if err != nil {
		fmt.Fprintf(stderr, "warpreg %s: %v; see 'warpreg %s --help'\n", cmd.name, err, cmd.name)
		return exitUsage
	}
	if len(positional) > 0 && cmd.args == "" {
		fmt.Fprintf(stderr, "warpreg %s: unexpected argument %q\n", cmd.name, positional[0])
		return exitUsage
	}
	// What a command has no use for, from flags or the environment, cannot be wrong:
	// only serve and demo listen, and watch opens no database.
	unset := config.Load(func(string) string { return "" })
	if !cmd.serves {
		cfg.Addr = unset.Addr
	}
	if cmd.remote {
		cfg.Database = unset.Database
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "warpreg %s: %s\n", cmd.name, cli.OneLine(err))
		return exitUsage
	}

	level, logOut, closeLog := slog.LevelWarn, stderr, func() {}
	if cmd.serves {
		buffered := newBufferedLog(stderr)
		level, logOut, closeLog = slog.LevelInfo, buffered, func() { buffered.Close() }
	}
	e := &env{getenv: getenv, cfg: cfg, args: positional, stdout: stdout, stderr: stderr,
		log: newLogger(cfg, logOut, level), mayCreate: cmd.serves || cmd.name == "account create"}
	if !cmd.serves {
		// Changes made from the command line are audited as the CLI's; a server's
		// requests carry their own credential.
		ctx = device.WithActor(ctx, device.Actor{Kind: device.ActorCLI, ID: "warpreg " + cmd.name})
	}
	err = action(ctx, e)
	closeLog() // the logs come before the one-line error, if any
	if err != nil {
		fmt.Fprintf(stderr, "warpreg %s: %s\n", cmd.name, cli.OneLine(err))
		if cli.IsUsage(err) {
			return exitUsage
		}
		return exitError
	}
	return exitOK
}

// usage is the command's usage line after "warpreg ".
func (c command) usage() string {
	if c.args == "" {
		return c.name + " [flags]"
	}
	return c.name + " [flags] " + c.args
}

// unknownCommand explains, on one line, why args name no command, with the
// likeliest fix.
func unknownCommand(args []string) string {
	if strings.HasPrefix(args[0], "-") {
		for _, c := range commands { // serve first
			if takesFlag(c, args[0]) {
				return fmt.Sprintf("warpreg: flags go after the command, as in 'warpreg %s "+
					"%s'; run 'warpreg --help' for the commands", c.name, args[0])
			}
		}
		return fmt.Sprintf("warpreg: unknown command %q: flags go after a command, and "+
			"no command takes this one; run 'warpreg --help'", args[0])
	}
	subs := subcommands(args[0])
	switch {
	case len(subs) > 0 && (len(args) == 1 || strings.HasPrefix(args[1], "-")):
		return fmt.Sprintf("warpreg %s: a subcommand is missing: %s; "+
			"run 'warpreg %s --help' for what each does", args[0], strings.Join(subs, ", "),
			args[0])
	case len(subs) > 0:
		return fmt.Sprintf("warpreg: unknown command %q; did you mean 'warpreg %s %s'?",
			strings.Join(args[:2], " "), args[0], subs[0])
	}
	return fmt.Sprintf("warpreg: unknown command %q; run 'warpreg --help'", args[0])
}

// takesFlag reports whether cmd defines the flag that arg ("-x", "--x=v") names.
func takesFlag(cmd command, arg string) bool {
	name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	var cfg config.Config
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	cfg.RegisterDatabase(fs)
	cfg.RegisterCommon(fs)
	cmd.flags(fs, &cfg)
	return fs.Lookup(name) != nil
}

// group returns the commands whose first word is word ("token create", "token
// list", ... for "token"), or none.
func group(word string) []command {
	var cmds []command
	for _, c := range commands {
		if first, _, found := strings.Cut(c.name, " "); found && first == word {
			cmds = append(cmds, c)
		}
	}
	return cmds
}

// subcommands returns the second words of word's group ("create", "list", ...).
func subcommands(word string) []string {
	var subs []string
	for _, c := range group(word) {
		subs = append(subs, c.name[len(word)+1:])
	}
	return subs
}

// isHelp reports whether arg asks for help where a command's words are expected.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// groupUsage lists the commands whose first word is word ("token" for "token
// create", ...), or returns "" when there are none.
func groupUsage(word string) string {
	var b strings.Builder
	for _, c := range group(word) {
		fmt.Fprintf(&b, "  %-24s %s\n", c.name, c.summary)
	}
	if b.Len() == 0 {
		return ""
	}
	return fmt.Sprintf("Commands of 'warpreg %s':\n\n%s\nRun 'warpreg %s <command> --help' "+
		"for a command's flags.\n", word, b.String(), word)
}

func findCommand(args []string) (command, []string, bool) {
	for _, c := range commands {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.name {
			return c, args[len(words):], true
		}
	}
	return command{}, nil, false
}

// newLogger logs to w. Commands that serve log requests at info level; the others
// log only warnings, so that their stderr holds just the one-line error, if any.
func newLogger(cfg config.Config, w io.Writer, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openService opens the configured database and returns a service over it, with a
// function that closes it.
func openService(ctx context.Context, e *env) (*device.Service, func(), error) {
	if !e.mayCreate {
		engine, path, err := config.ParseDatabase(e.cfg.Database)
		if err != nil {
			return nil, nil, err
		}
		if _, err := os.Stat(path); engine == config.SQLite && errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("database %s does not exist; 'warpreg account create' "+
				"creates one, or pass --database", path)
		}
	}
	st, err := openStore(ctx, e.cfg.Database, e.log)
	if err != nil {
		return nil, nil, err
	}
	return device.NewService(st, nil, e.log), func() { st.Close() }, nil
}

// openStore opens the store that a --database value names.
func openStore(ctx context.Context, database string, log *slog.Logger) (device.Store, error) {
	engine, dsn, err := config.ParseDatabase(database)
	if err != nil {
		return nil, err
	}
	if engine == config.Postgres {
		return postgres.Open(ctx, dsn, log)
	}
	return sqlite.Open(ctx, dsn, log)
}

// printResult prints v as indented JSON with --json, else the text lines.
func printResult(e *env, v any, text ...string) error {
	if e.cfg.JSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	for _, line := range text {
		fmt.Fprintln(e.stdout, line)
	}
	return nil
}
