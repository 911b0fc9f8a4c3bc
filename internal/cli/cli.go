// Package cli holds the command-line conventions that warpreg's two commands share:
// flags anywhere among the arguments, usage mistakes told apart from failures, and
// errors printed on one line.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"strings"
)

// UsageError marks a mistake in the command line, which exits with status 2.
type UsageError struct{ Msg string }

func (u UsageError) Error() string { return u.Msg }

// Usagef returns a UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return UsageError{fmt.Sprintf(format, args...)}
}

// IsUsage reports whether err is, or wraps, a UsageError.
func IsUsage(err error) bool {
	var ue UsageError
	return errors.As(err, &ue)
}

// OneLine flattens an error to a single line, since joined errors carry newlines.
func OneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

// ParseInterspersed parses flags wherever they stand among the positional
// arguments, as users expect of "import --account ID a.json --json", and returns the
// positional ones. A lone "--" ends the flags.
func ParseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
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
