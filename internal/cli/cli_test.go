package cli

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"testing"
)

func TestParseInterspersed(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	account := fs.String("account", "", "")
	asJSON := fs.Bool("json", false, "")
	got, err := ParseInterspersed(fs, []string{"--account", "a", "x.json", "--json", "y.json",
		"--", "--not-a-flag"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"x.json", "y.json", "--not-a-flag"}
	if !slices.Equal(got, want) || *account != "a" || !*asJSON {
		t.Errorf("got %q, account %q, json %v; want %q, a, true", got, *account, *asJSON, want)
	}
}

func TestUsageAndOneLine(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", Usagef("--name is required"))
	if !IsUsage(err) || IsUsage(errors.New("other")) {
		t.Error("IsUsage does not tell usage errors apart")
	}
	if got := OneLine(errors.Join(errors.New("a"), errors.New("b"))); got != "a; b" {
		t.Errorf("OneLine = %q", got)
	}
}
