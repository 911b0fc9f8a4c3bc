// Package config gathers warpreg's settings from defaults, the environment and
// command-line flags, in that order of precedence, and validates them.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Flag names and the environment variables that back them.
const (
	FlagDatabase  = "database"
	FlagAddr      = "addr"
	FlagLogFormat = "log-format"
	FlagJSON      = "json"
	FlagRetention = "change-retention"
	FlagPprof     = "pprof"

	FlagRateLimit         = "rate-limit"
	FlagRateLimitAddress  = "rate-limit-address"
	FlagRateLimitFailures = "rate-limit-auth-failures"

	EnvDatabase  = "WARPREG_DATABASE"
	EnvAddr      = "WARPREG_ADDR"
	EnvLogFormat = "WARPREG_LOG_FORMAT"
	EnvRetention = "WARPREG_CHANGE_RETENTION"

	EnvRateLimit         = "WARPREG_RATE_LIMIT"
	EnvRateLimitAddress  = "WARPREG_RATE_LIMIT_ADDRESS"
	EnvRateLimitFailures = "WARPREG_RATE_LIMIT_AUTH_FAILURES"
)

// Defaults.
const (
	DefaultDatabase = "warpreg.db"
	DefaultAddr     = "127.0.0.1:8787"

	// DefaultRetention keeps a week of change history: a gateway that is down for
	// longer must resync from a full list.
	DefaultRetention = 7 * 24 * time.Hour

	// DefaultRateLimit is Cloudflare's documented API limit: 1,200 requests per five
	// minutes per credential.
	DefaultRateLimit = 1200

	// DefaultRateLimitAddress is Cloudflare's documented limit per client IP: 200
	// requests per second.
	DefaultRateLimitAddress = 200

	// DefaultRateLimitFailures allows a client address 60 failed authentications per
	// five minutes: plenty for a mistyped secret, nothing for a guesser.
	DefaultRateLimitFailures = 60
)

// Engine is a storage engine.
type Engine string

// The storage engines a --database value can select.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// Config holds the settings every command shares.
type Config struct {
	Database  string // file path, sqlite:PATH, or a postgres:// URL
	Addr      string // listen address of serve and demo
	LogFormat string // "text" or "json"
	JSON      bool   // print machine-readable output

	// Retention is how long the change feed keeps entries; zero keeps them all.
	Retention time.Duration

	// Pprof is a loopback HOST:PORT to serve net/http/pprof on; empty disables it.
	Pprof string

	// RateLimit is requests per five minutes per credential; zero turns every rate
	// limit off, the two below included.
	RateLimit int

	// RateLimitAddress is requests per second per client address (registration
	// calls excepted); zero turns this limit off.
	RateLimitAddress int

	// RateLimitFailures is failed authentications per five minutes per client
	// address; zero turns this limit off.
	RateLimitFailures int

	errs []error // problems found while loading, reported by Validate
}

// Load returns the defaults overlaid with env, which maps variable names to values.
func Load(env func(string) string) Config {
	c := Config{Database: DefaultDatabase, Addr: DefaultAddr, LogFormat: "text",
		Retention: DefaultRetention, RateLimit: DefaultRateLimit,
		RateLimitAddress: DefaultRateLimitAddress, RateLimitFailures: DefaultRateLimitFailures}
	if v := env(EnvDatabase); v != "" {
		c.Database = v
	}
	if v := env(EnvAddr); v != "" {
		c.Addr = v
	}
	if v := env(EnvLogFormat); v != "" {
		c.LogFormat = v
	}
	if v := env(EnvRetention); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			c.errs = append(c.errs, fmt.Errorf("%s=%q is not a duration such as 168h", EnvRetention, v))
		}
		c.Retention = d
	}
	c.loadInt(env, EnvRateLimit, &c.RateLimit)
	c.loadInt(env, EnvRateLimitAddress, &c.RateLimitAddress)
	c.loadInt(env, EnvRateLimitFailures, &c.RateLimitFailures)
	return c
}

func (c *Config) loadInt(env func(string) string, name string, dst *int) {
	v := env(name)
	if v == "" {
		return
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		c.errs = append(c.errs, fmt.Errorf("%s=%q is not a whole number", name, v))
		return
	}
	*dst = n
}

// RegisterDatabase adds --database to fs, defaulting to c's current value: every
// command that opens the database takes it.
func (c *Config) RegisterDatabase(fs *flag.FlagSet) {
	fs.StringVar(&c.Database, FlagDatabase, c.Database,
		"database: a file path or sqlite:PATH for SQLite, a postgres:// URL for PostgreSQL (env "+
			EnvDatabase+")")
}

// RegisterCommon adds the flags that every command takes to fs, defaulting to c's
// current values.
func (c *Config) RegisterCommon(fs *flag.FlagSet) {
	fs.StringVar(&c.LogFormat, FlagLogFormat, c.LogFormat,
		"log format on stderr: text or json (env "+EnvLogFormat+")")
	fs.BoolVar(&c.JSON, FlagJSON, false, "print the result as JSON")
}

// RegisterServe adds the flags of commands that listen.
func (c *Config) RegisterServe(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, FlagAddr, c.Addr, "listen address HOST:PORT (env "+EnvAddr+")")
	fs.DurationVar(&c.Retention, FlagRetention, c.Retention,
		"how long the change feed keeps entries; 0 keeps them all (env "+EnvRetention+")")
	fs.StringVar(&c.Pprof, FlagPprof, "", "serve Go's profiler on this loopback HOST:PORT, "+
		"e.g. 127.0.0.1:6060 (default: off)")
	fs.IntVar(&c.RateLimit, FlagRateLimit, c.RateLimit, "requests per five minutes per "+
		"credential; 0 turns every rate limit off (env "+EnvRateLimit+")")
	fs.IntVar(&c.RateLimitAddress, FlagRateLimitAddress, c.RateLimitAddress,
		"requests per second per client address, registration calls excepted; 0 turns it "+
			"off (env "+EnvRateLimitAddress+")")
	fs.IntVar(&c.RateLimitFailures, FlagRateLimitFailures, c.RateLimitFailures,
		"failed authentications per five minutes per client address; 0 turns it off (env "+
			EnvRateLimitFailures+")")
}

// Validate reports every problem with c at once.
func (c *Config) Validate() error {
	errs := append([]error(nil), c.errs...)
	if c.Retention < 0 {
		errs = append(errs, fmt.Errorf("--%s must not be negative", FlagRetention))
	}
	limits := []struct {
		flag string
		n    int
	}{
		{FlagRateLimit, c.RateLimit}, {FlagRateLimitAddress, c.RateLimitAddress},
		{FlagRateLimitFailures, c.RateLimitFailures},
	}
	for _, l := range limits {
		if l.n < 0 {
			errs = append(errs, fmt.Errorf("--%s must not be negative", l.flag))
		}
	}
	if _, _, err := ParseDatabase(c.Database); err != nil {
		errs = append(errs, err)
	}
	if err := hostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("--%s %q: %w", FlagAddr, c.Addr, err))
	}
	if c.Pprof != "" && !loopback(c.Pprof) {
		errs = append(errs, fmt.Errorf("--%s must be a loopback address such as 127.0.0.1:6060",
			FlagPprof))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("--%s must be text or json", FlagLogFormat))
	}
	return errors.Join(errs...)
}

// hostPort checks that addr is HOST:PORT with a port that a listener could take (a
// number up to 65535, or a service name the system knows), so that serve refuses a
// bad address before it opens, and perhaps creates, the database.
func hostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("not HOST:PORT")
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("port %q is neither a number from 0 to 65535 nor a known service",
			port)
	}
	return nil
}

// loopback reports whether addr is HOST:PORT with a loopback host: the profiler
// shows a process's insides and must never listen on a reachable address.
func loopback(addr string) bool {
	if hostPort(addr) != nil {
		return false
	}
	host, _, _ := net.SplitHostPort(addr)
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseDatabase tells which engine a --database value selects and returns the
// engine's own data source: the SQLite file path, or the PostgreSQL URL.
func ParseDatabase(v string) (Engine, string, error) {
	switch {
	case v == "":
		return "", "", fmt.Errorf("--%s must not be empty", FlagDatabase)
	case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
		return Postgres, v, nil
	case strings.HasPrefix(v, "sqlite:"):
		path := strings.TrimPrefix(v, "sqlite:")
		if path == "" {
			return "", "", fmt.Errorf("--%s sqlite: needs a file path", FlagDatabase)
		}
		return SQLite, path, nil
	case strings.Contains(v, "://"):
		return "", "", fmt.Errorf("--%s: unknown database URL scheme in %q", FlagDatabase, v)
	default:
		return SQLite, v, nil
	}
}
