package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// staticServeName is the hidden command that serves the baseline.
const staticServeName = "static-serve"

// subprocessEnv is set in the static server's environment, so that a test binary
// standing in for this command knows to run it instead of its tests.
const subprocessEnv = "WARPREG_BENCH_SUBPROCESS"

// staticBody is what the baseline answers to every request: a v4 envelope with
// one registration and its policy, as GET .../registrations/{id}?include=policy
// returns it (about 700 bytes), encoded once.
const staticBody = `{"errors":[],"messages":[],"result":{"id":"5f0c8e52-1b7a-4c36-9d2e-8a41f7c3b6d9",` +
	`"created_at":"2025-01-08T09:41:17.482913Z","device":{"id":"c2a7e1f4-3b58-4d0a-8e6f-` +
	`1d9b4c7a2e35","name":"Ada's MacBook Pro","client_version":"2025.1.861.0"},"key":` +
	`"kH3v7QpZ1mXc9Rt2Lw8Ny4Bs6Df0Gj5Ke1Uo3Ia7Yz8=","last_seen_at":"2025-02-14T13:17:06.` +
	`204518Z","updated_at":"2025-02-14T13:17:06.204518Z","deleted_at":null,"key_type":` +
	`"curve25519","policy":{"id":"9b3e6d21-7c4f-4a85-b0e2-5f1a8c9d3e47","default":true,` +
	`"deleted":false,"name":"Default","updated_at":"2025-01-08T09:41:17.482913Z"},` +
	`"revoked_at":null,"tunnel_type":"wireguard","user":{"id":"e8d4b1a6-2f93-4c7e-a5b0-` +
	`3c6f9e2d1a84","email":"ada.lovelace.1842@corp.example","name":"Ada Lovelace"}},` +
	`"success":true}` + "\n"

func staticServeCommand(fs *flag.FlagSet, _ *env) func(context.Context, *env) error {
	addr := fs.String("addr", "", "loopback HOST:PORT to serve on (required)")
	return func(ctx context.Context, e *env) error {
		if _, _, err := loopbackBase("http://" + *addr); err != nil {
			return err
		}
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			return err
		}
		return serveStatic(ctx, ln)
	}
}

// serveStatic answers every request on ln with staticBody until ctx is done. It
// reads each request's body, as a real handler would, and sets the headers
// warpreg sets.
func serveStatic(ctx context.Context, ln net.Listener) error {
	body := []byte(staticBody)
	length := strconv.Itoa(len(body))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		hdr := w.Header()
		hdr.Set("Content-Type", "application/json")
		hdr.Set("Cache-Control", "no-store")
		hdr.Set("Content-Length", length)
		w.Write(body)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutCtx)
}

// child is a server process this tool started, stopped by stop.
type child struct {
	cmd    *exec.Cmd
	base   string
	exited chan error
}

// startStatic starts the baseline server as a process of its own, as the server
// under test is, so that neither shares a Go runtime with the load generator.
func startStatic(ctx context.Context) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start baseline: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(exe, staticServeName, "--addr", addr)
	cmd.Env = append(os.Environ(), subprocessEnv+"=1")
	return startChild(ctx, cmd, "http://"+addr)
}

// startChild starts cmd and waits until base answers.
func startChild(ctx context.Context, cmd *exec.Cmd, base string) (*child, error) {
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	c := &child{cmd: cmd, base: base, exited: make(chan error, 1)}
	go func() { c.exited <- cmd.Wait() }()
	if _, err := waitReady(ctx, base, 30*time.Second); err != nil {
		c.stop()
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop asks the process to stop with SIGTERM, and kills it if it has not within
// ten seconds.
func (c *child) stop() error {
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", c.cmd.Path, err)
	}
	select {
	case <-c.exited:
		return nil
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("stop %s: killed after ten seconds", c.cmd.Path)
	}
}
