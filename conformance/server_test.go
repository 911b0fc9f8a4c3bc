package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds on the server process, so that a hung server fails a test instead of
// stalling the run.
const (
	startTimeout = 15 * time.Second
	stopTimeout  = 5 * time.Second
	cliTimeout   = 20 * time.Second
	startTries   = 3
)

// server is a warpreg process serving one database on a loopback port.
type server struct {
	addr string // host:port
	cmd  *exec.Cmd
	logs *lockedBuffer

	exited  chan struct{} // closed when the process has exited
	waitErr error         // the exit status; read only after exited is closed
}

// baseURL returns the server's root URL, without a trailing slash.
func (s *server) baseURL() string { return "http://" + s.addr }

// newDatabase returns the --database value of a fresh database: a SQLite file in a
// test directory, or with WARPREG_TEST_ENGINE=postgres a PostgreSQL schema of the
// test's own.
func newDatabase(t *testing.T) string {
	t.Helper()
	if engine == "postgres" {
		return newPostgresSchema(t)
	}
	return filepath.Join(t.TempDir(), "warpreg.db")
}

// startServer runs "warpreg serve" on db, with extra flags, and returns once its
// port answers. The server is stopped with SIGTERM when the test ends; a server that
// does not then exit cleanly fails the test, since the contract says it drains and
// exits.
func startServer(t *testing.T, db string, extra ...string) *server {
	t.Helper()
	var errs []error
	// A free port can be taken by a parallel test between our probe and the
	// server's bind, so a server that exits at once is tried again on another port.
	for range startTries {
		s, err := tryStart(db, extra)
		if err == nil {
			t.Cleanup(func() { s.stop(t) })
			return s
		}
		errs = append(errs, err)
	}
	t.Fatalf("start server: %v", errors.Join(errs...))
	return nil
}

func tryStart(db string, extra []string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s := &server{addr: addr, logs: &lockedBuffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(warpregBin, append([]string{"serve", "--addr", addr, "--database", db},
		extra...)...)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("run warpreg serve: %w", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()

	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("server exited before listening (%v):\n%s",
				s.waitErr, s.logs.tail())
		default:
		}
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			conn.Close()
			return s, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.cmd.Process.Kill()
	<-s.exited
	return nil, fmt.Errorf("server did not listen on %s within %v:\n%s",
		addr, startTimeout, s.logs.tail())
}

func (s *server) stop(t *testing.T) {
	t.Helper()
	select {
	case <-s.exited:
		t.Errorf("server exited before the test ended (%v)", s.waitErr)
	default:
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
			if s.waitErr != nil {
				t.Errorf("server exit after SIGTERM: %v", s.waitErr)
			}
		case <-time.After(stopTimeout):
			s.cmd.Process.Kill()
			<-s.exited
			t.Errorf("server did not exit within %v of SIGTERM", stopTimeout)
		}
	}
	if t.Failed() {
		t.Logf("server log (tail):\n%s", s.logs.tail())
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// runCLI runs warpreg with args on db and decodes its standard output as JSON into
// out, unless out is nil. The --database flag goes after the command words, where
// every subcommand accepts it.
func runCLI(t *testing.T, db string, out any, args ...string) {
	t.Helper()
	i := 0
	for i < len(args) && !strings.HasPrefix(args[i], "-") {
		i++
	}
	full := append(append(append([]string{}, args[:i]...), "--database", db), args[i:]...)

	ctx, cancel := context.WithTimeout(t.Context(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, warpregBin, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = os.Environ()
	if err := cmd.Run(); err != nil {
		t.Fatalf("warpreg %s: %v\nstderr: %s", strings.Join(full, " "), err, stderr.Bytes())
	}
	if out == nil {
		return
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("warpreg %s: decode --json output: %v\nstdout: %s",
			strings.Join(full, " "), err, stdout.Bytes())
	}
}

// lockedBuffer collects a process's output; the process writes while tests read.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// tail returns the last few kilobytes written, enough to show why a server failed.
func (b *lockedBuffer) tail() string {
	const limit = 8 << 10
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > limit {
		s = "..." + s[len(s)-limit:]
	}
	return s
}
