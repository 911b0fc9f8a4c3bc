package main

import (
	"os"
	"testing"

	"github.com/warpreg/warpreg/internal/cli"
)

func TestLoopbackBase(t *testing.T) {
	tests := []struct {
		url  string
		base string
		port int
	}{
		{"http://127.0.0.1:8787", "http://127.0.0.1:8787", 8787},
		{"http://127.0.0.1:8787/", "http://127.0.0.1:8787", 8787},
		{"http://127.3.2.1:80", "http://127.3.2.1:80", 80},
		{"http://localhost:9000", "http://localhost:9000", 9000},
		{"http://LOCALHOST:9000", "http://LOCALHOST:9000", 9000},
		{"http://[::1]:8787", "http://[::1]:8787", 8787},
		{"http://[::ffff:127.0.0.1]:8787", "http://[::ffff:127.0.0.1]:8787", 8787},
	}
	for _, tt := range tests {
		base, port, err := loopbackBase(tt.url)
		if err != nil || base != tt.base || port != tt.port {
			t.Errorf("loopbackBase(%q) = %q, %d, %v; want %q, %d", tt.url, base, port, err,
				tt.base, tt.port)
		}
	}
}

func TestLoopbackBaseRefusesOtherHosts(t *testing.T) {
	for _, url := range []string{
		"http://10.0.0.1:8787",
		"http://192.168.1.10:8787",
		"http://0.0.0.0:8787",             // reaches this machine, but is no loopback address
		"http://example.com:8787",         // names are not resolved
		"http://localhost.example:8787",   // nor lookalikes
		"http://127.0.0.1.nip.io:8787",    // nor names that resolve to loopback
		"http://127.0.0.1@example.com:80", // user info hiding the real host
		"http://[::2]:8787",
		"http://[fe80::1%25lo]:8787",
		"https://127.0.0.1:8787", // the tool speaks plain HTTP only
		"ftp://127.0.0.1:21",
		"http://127.0.0.1",          // no port
		"http://127.0.0.1:0",        // no real port
		"http://127.0.0.1:8787/api", // not a base URL
		"http://127.0.0.1:8787?x=1", // nor this
		"127.0.0.1:8787",            // no scheme
		"",
	} {
		_, _, err := loopbackBase(url)
		if !cli.IsUsage(err) {
			t.Errorf("loopbackBase(%q) = %v, want a usage error", url, err)
		}
	}
}

func TestNextCursor(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"errors":[],"messages":[],"result":[{"id":"a","name":"result_info"}],` +
			`"result_info":{"count":1,"cursor":"abc-_1","per_page":50,"total_count":9},"success":true}`,
			"abc-_1"},
		{`{"result":[],"result_info":{"count":0,"cursor":"","per_page":50},"success":true}`, ""},
		{`{"result":{"id":"x"},"success":true}`, ""},
		{`{"result_info":{"cursor":"a\u002bb"}}`, "a+b"},
		{`garbage`, ""},
	}
	for _, tt := range tests {
		if got := nextCursor([]byte(tt.body)); got != tt.want {
			t.Errorf("nextCursor(%s) = %q, want %q", tt.body, got, tt.want)
		}
	}
}

func TestReadProcOfThisProcess(t *testing.T) {
	s, err := readProc(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if s.hwmKB <= 0 || s.rssKB <= 0 || s.hwmKB < s.rssKB || s.cpuTicks < 0 {
		t.Errorf("readProc = %+v, want positive memory with the peak at least the current", s)
	}
}
