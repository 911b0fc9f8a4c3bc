package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/warpreg/warpreg/internal/cli"
)

// Exit statuses, as warpreg's own.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed
	exitUsage = 2 // the command line is wrong
)

const usage = `warpreg-bench: seed a warpreg database and measure a server under load

Usage:
  warpreg-bench <command> [flags]

Commands:
  seed       fill a database with N registrations and write a credentials file
  run        drive a server on loopback with a workload for a fixed duration
  baseline   drive a static server that returns one pre-encoded registration
  startup    time a warpreg binary from start to its first answer on a database
  report     write BENCHMARKS.md from saved --json results

Workloads: get, list, list-deep, heartbeat, enroll, revoke, mixed.
Only loopback URLs are accepted; every run stops by itself after --duration.
Run 'warpreg-bench <command> --help' for its flags.
`

// command is one CLI command. flags registers the command's flags on fs and returns
// the action that runs once they are parsed.
type command struct {
	name    string
	summary string
	about   string // more of what --help says, after the summary
	hidden  bool
	flags   func(fs *flag.FlagSet, e *env) func(ctx context.Context, e *env) error
}

// env is what a running command has to work with.
type env struct {
	getenv  func(string) string
	args    []string // positional arguments
	argv    []string // the whole command line, for the record kept in results
	stdout  io.Writer
	stderr  io.Writer
	json    bool
	log     *slog.Logger
	command string
}

var commands = []command{
	{"seed", "fill a database with N registrations through a bulk path", seedAbout, false,
		seedCommand},
	{"run", "drive a warpreg server on loopback with a workload", runAbout, false, runCommand},
	{"baseline", "drive a static server that answers one pre-encoded registration",
		baselineAbout, false, baselineCommand},
	{"startup", "time a warpreg binary from start to its first answer", startupAbout, false,
		startupCommand},
	{"report", "write a BENCHMARKS.md table from saved --json results", reportAbout, false,
		reportCommand},
	{staticServeName, "serve the static baseline body (run and baseline start it)", "", true,
		staticServeCommand},
}

// run executes the command line args and returns the exit status. Errors are one
// line on stderr.
func run(
	ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer,
) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := findCommand(args[0])
	if !ok {
		fmt.Fprintf(stderr, "warpreg-bench: unknown command %q; run 'warpreg-bench --help'\n", args[0])
		return exitUsage
	}
	e := &env{getenv: getenv, argv: args, stdout: stdout, stderr: stderr, command: cmd.name,
		log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	fs := flag.NewFlagSet("warpreg-bench "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	action := cmd.flags(fs, e)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: warpreg-bench %s [flags]\n\n%s.\n", cmd.name, cmd.summary)
		if cmd.about != "" {
			fmt.Fprintf(stdout, "\n%s", cmd.about)
		}
		fmt.Fprintf(stdout, "\nFlags:\n")
		fs.PrintDefaults()
	}
	positional, err := cli.ParseInterspersed(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	} else if err != nil {
		fmt.Fprintf(stderr, "warpreg-bench %s: %v\n", cmd.name, err)
		return exitUsage
	}
	e.args = positional
	if err := action(ctx, e); err != nil {
		fmt.Fprintf(stderr, "warpreg-bench %s: %s\n", cmd.name, cli.OneLine(err))
		if cli.IsUsage(err) {
			return exitUsage
		}
		return exitError
	}
	return exitOK
}

func findCommand(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// commandLine is how the command was invoked, for the record kept in results.
func (e *env) commandLine() string {
	return "warpreg-bench " + strings.Join(e.argv, " ")
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// saveJSON writes v as indented JSON to path.
func saveJSON(path string, v any, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if err := printJSON(f, v); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// isTerminal reports whether w is a terminal, where progress lines are welcome.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
