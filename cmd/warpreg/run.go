package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

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
  global-key create        create a user's global API key for an account
  enrollment-key create    create a key that devices present to enrol
  import                   load registrations saved from Cloudflare's API
  watch                    follow an account's change feed and print each change

Every command takes --database (env WARPREG_DATABASE; default warpreg.db), --json and
--help. Run 'warpreg <command> --help' for its flags.
`

// command is one CLI command.
type command struct {
	name    string
	summary string
	serves  bool
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
}

var commands = []command{
	{"serve", "serve the admin and enrolment APIs until interrupted", true, serveCommand},
	{"demo", "serve a fresh demo account with about 50 enrolled devices", true, demoCommand},
	{"account create", "create an account", false, accountCreateCommand},
	{"token create", "create an API token for an account", false, tokenCreateCommand},
	{"global-key create", "create a user's global API key", false, globalKeyCreateCommand},
	{"enrollment-key create", "create a key that devices present to enrol", false, enrollKeyCommand},
	{"import", "load registrations saved from Cloudflare's v4 API", false, importCommand},
	{"watch", "follow an account's change feed and print each change", false, watchCommand},
}

// run executes the command line args and returns the exit status. Errors are one
// line on stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, rest, ok := findCommand(args)
	if !ok {
		fmt.Fprintf(stderr, "warpreg: unknown command %q; run 'warpreg --help'\n",
			strings.Join(args[:min(2, len(args))], " "))
		return exitUsage
	}

	cfg := config.Load(getenv)
	fs := flag.NewFlagSet("warpreg "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	cfg.RegisterCommon(fs)
	action := cmd.flags(fs, &cfg)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: warpreg %s [flags]\n\n%s.\n\nFlags:\n", cmd.name, cmd.summary)
		fs.PrintDefaults()
	}
	positional, err := parseInterspersed(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	} else if err != nil {
		fmt.Fprintf(stderr, "warpreg %s: %v\n", cmd.name, err)
		return exitUsage
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "warpreg %s: %s\n", cmd.name, oneLine(err))
		return exitUsage
	}

	level := slog.LevelWarn
	if cmd.serves {
		level = slog.LevelInfo
	}
	e := &env{getenv: getenv, cfg: cfg, args: positional, stdout: stdout, stderr: stderr,
		log: newLogger(cfg, stderr, level)}
	if err := action(ctx, e); err != nil {
		fmt.Fprintf(stderr, "warpreg %s: %s\n", cmd.name, oneLine(err))
		var ue usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		return exitError
	}
	return exitOK
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

// usageError marks a mistake in the command line, which exits with status 2.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// oneLine flattens an error to a single line, since joined errors carry newlines.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
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

// parseInterspersed parses flags wherever they stand among the positional
// arguments, as users expect of "import --account ID a.json --json", and returns the
// positional ones. A lone "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// openService opens the configured database and returns a service over it, with a
// function that closes it.
func openService(ctx context.Context, e *env) (*device.Service, func(), error) {
	engine, dsn, err := config.ParseDatabase(e.cfg.Database)
	if err != nil {
		return nil, nil, err
	}
	var st device.Store
	if engine == config.Postgres {
		st, err = postgres.Open(ctx, dsn, e.log)
	} else {
		st, err = sqlite.Open(ctx, dsn, e.log)
	}
	if err != nil {
		return nil, nil, err
	}
	return device.NewService(st, nil, e.log), func() { st.Close() }, nil
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
