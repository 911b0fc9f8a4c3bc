package config

import (
	"flag"
	"strings"
	"testing"
	"time"
)

func TestParseDatabase(t *testing.T) {
	tests := []struct {
		in     string
		engine Engine
		dsn    string
		bad    bool
	}{
		{"warpreg.db", SQLite, "warpreg.db", false},
		{"/var/lib/warpreg/w.db", SQLite, "/var/lib/warpreg/w.db", false},
		{"sqlite:data/w.db", SQLite, "data/w.db", false},
		{"postgres://u@h/db", Postgres, "postgres://u@h/db", false},
		{"postgresql://u@h/db?sslmode=disable", Postgres, "postgresql://u@h/db?sslmode=disable", false},
		{"", "", "", true},
		{"sqlite:", "", "", true},
		{"mysql://u@h/db", "", "", true},
	}
	for _, tt := range tests {
		engine, dsn, err := ParseDatabase(tt.in)
		if (err != nil) != tt.bad || engine != tt.engine || dsn != tt.dsn {
			t.Errorf("ParseDatabase(%q) = %q, %q, %v; want %q, %q, error %v",
				tt.in, engine, dsn, err, tt.engine, tt.dsn, tt.bad)
		}
	}
}

func TestPrecedence(t *testing.T) {
	env := map[string]string{EnvDatabase: "env.db", EnvAddr: "127.0.0.1:1", EnvRetention: "1h"}
	c := Load(func(k string) string { return env[k] })
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c.RegisterDatabase(fs)
	c.RegisterCommon(fs)
	c.RegisterServe(fs)
	if err := fs.Parse([]string{"--addr", "127.0.0.1:2"}); err != nil {
		t.Fatal(err)
	}
	if c.Database != "env.db" || c.Addr != "127.0.0.1:2" || c.Retention != time.Hour {
		t.Errorf("config = %+v; want database from env, addr from flag, retention 1h", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	env := map[string]string{EnvRetention: "soon", EnvLogFormat: "xml", EnvAddr: "nohost"}
	c := Load(func(k string) string { return env[k] })
	c.Database = "ftp://x"
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad config")
	}
	for _, want := range []string{EnvRetention, "--log-format", "--addr", "--database"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

// TestAddrPort checks the port as a listener would take it, so that serve refuses a
// bad one before it opens the database.
func TestAddrPort(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:8787": true, ":0": true, "[::1]:65535": true, "127.0.0.1:99999": false,
		"127.0.0.1:-1": false, "127.0.0.1:": true, "127.0.0.1:no such service": false,
	} {
		c := Load(func(string) string { return "" })
		c.Addr = addr
		if err := c.Validate(); (err == nil) != ok {
			t.Errorf("--addr %s: Validate() = %v, want ok=%v", addr, err, ok)
		}
	}
}

func TestPprofOnlyOnLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:6060": true, "[::1]:6060": true, "localhost:6060": true,
		"0.0.0.0:6060": false, ":6060": false, "10.0.0.1:6060": false, "nonsense": false,
		"127.0.0.1:70000": false,
	} {
		c := Load(func(string) string { return "" })
		c.Pprof = addr
		if err := c.Validate(); (err == nil) != ok {
			t.Errorf("--pprof %s: Validate() = %v, want ok=%v", addr, err, ok)
		}
	}
}

func TestRateLimits(t *testing.T) {
	c := Load(func(string) string { return "" })
	if c.RateLimit != 1200 || c.RateLimitAddress != 200 || c.RateLimitFailures != 60 {
		t.Errorf("defaults = %d, %d, %d; want 1200, 200, 60",
			c.RateLimit, c.RateLimitAddress, c.RateLimitFailures)
	}

	env := map[string]string{EnvRateLimit: "0", EnvRateLimitAddress: "50"}
	c = Load(func(k string) string { return env[k] })
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c.RegisterServe(fs)
	if err := fs.Parse([]string{"--rate-limit-auth-failures", "5"}); err != nil {
		t.Fatal(err)
	}
	if c.RateLimit != 0 || c.RateLimitAddress != 50 || c.RateLimitFailures != 5 {
		t.Errorf("from env and flags = %d, %d, %d; want 0, 50, 5",
			c.RateLimit, c.RateLimitAddress, c.RateLimitFailures)
	}

	env = map[string]string{EnvRateLimit: "lots"}
	c = Load(func(k string) string { return env[k] })
	c.RateLimitAddress = -1
	err := c.Validate()
	for _, want := range []string{EnvRateLimit, "--" + FlagRateLimitAddress} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v; want it to mention %s", err, want)
		}
	}
}
