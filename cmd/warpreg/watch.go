package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/warpreg/warpreg/internal/cli"
	"github.com/warpreg/warpreg/internal/config"
	"github.com/warpreg/warpreg/internal/httpapi"
)

// watchCommand is the reference consumer of the change feed: it follows an
// account's Server-Sent Events stream, prints each change, and reconnects from the
// last sequence number it printed, so that it misses nothing and repeats nothing.
func watchCommand(fs *flag.FlagSet, _ *config.Config) func(context.Context, *env) error {
	base := fs.String("url", "http://127.0.0.1:8787", "the warpreg server's root URL (a "+
		"trailing /client/v4, as in demo --json's base_url, is dropped)")
	account := fs.String("account", "", "the account id (required)")
	token := fs.String("token", "", "an API token of the account (default: env CLOUDFLARE_API_TOKEN)")
	after := fs.Int64("after", 0, "print changes after this sequence number")
	maxChanges := fs.Int("max", 0, "exit after printing this many changes (0: follow until interrupted)")
	return func(ctx context.Context, e *env) error {
		if *token == "" {
			*token = e.getenv("CLOUDFLARE_API_TOKEN")
		}
		if *account == "" || *token == "" {
			return cli.Usagef("--account and a token (--token or CLOUDFLARE_API_TOKEN) are required")
		}
		if u, err := url.Parse(*base); err != nil || (u.Scheme != "http" && u.Scheme != "https") ||
			u.Host == "" {
			return cli.Usagef("--url must be an http:// or https:// URL, such as http://127.0.0.1:8787")
		}
		if *maxChanges < 0 {
			return cli.Usagef("--max must not be negative")
		}
		*base = strings.TrimSuffix(strings.TrimSuffix(*base, "/"), "/client/v4")
		w := &watcher{e: e, token: *token, after: *after, left: *maxChanges,
			url: strings.TrimRight(*base, "/") + "/api/v1/accounts/" + url.PathEscape(*account) +
				"/registrations/changes/stream"}
		return w.run(ctx)
	}
}

type watcher struct {
	e     *env
	url   string
	token string
	after int64
	left  int // changes still to print; 0 means no limit
}

var errWatchDone = errors.New("watch: printed the changes asked for")

func (w *watcher) run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for {
		err := w.follow(ctx)
		switch {
		case errors.Is(err, errWatchDone), ctx.Err() != nil:
			return nil
		case errors.As(err, new(fatalError)):
			return err
		}
		w.e.log.Warn("change stream interrupted; reconnecting", "err", err, "after", w.after)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// fatalError is a refusal that reconnecting cannot fix.
type fatalError struct{ msg string }

func (f fatalError) Error() string { return f.msg }

func (w *watcher) follow(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.url, nil)
	if err != nil {
		return fatalError{err.Error()}
	}
	req.Header.Set("Authorization", "Bearer "+w.token)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Last-Event-ID", strconv.FormatInt(w.after, 10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable ||
		resp.StatusCode == http.StatusTooManyRequests:
		// Busy or rate limited: the same request may succeed later.
		return fmt.Errorf("%s: %s", resp.Status, envelopeMessage(resp.Body))
	case resp.StatusCode != http.StatusOK:
		return fatalError{fmt.Sprintf("%s: %s", resp.Status, envelopeMessage(resp.Body))}
	}
	return w.read(resp.Body)
}

// read consumes events until the stream ends.
func (w *watcher) read(body io.Reader) error {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var event, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if err := w.dispatch(event, data); err != nil {
				return err
			}
			event, data = "", ""
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimSpace(strings.TrimPrefix(line, "data:"))
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF
}

func (w *watcher) dispatch(event, data string) error {
	switch event {
	case "error":
		var m struct {
			Code    int
			Message string
		}
		json.Unmarshal([]byte(data), &m)
		if m.Code == httpapi.CodeBusy {
			return errors.New("the server ended the stream: " + m.Message)
		}
		return fatalError{"the server ended the stream: " + m.Message}
	case "change":
	default:
		return nil
	}
	var c struct {
		Seq            int64  `json:"seq"`
		Kind           string `json:"kind"`
		RegistrationID string `json:"registration_id"`
		Key            string `json:"key"`
		Active         bool   `json:"active"`
	}
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		return fmt.Errorf("decode change: %w", err)
	}
	if c.Seq <= w.after {
		return nil // already printed before a reconnect
	}
	if w.e.cfg.JSON {
		fmt.Fprintln(w.e.stdout, data)
	} else {
		fmt.Fprintf(w.e.stdout, "%d %s registration=%s active=%t key=%s\n",
			c.Seq, c.Kind, c.RegistrationID, c.Active, c.Key)
	}
	w.after = c.Seq
	if w.left > 0 {
		if w.left--; w.left == 0 {
			return errWatchDone
		}
	}
	return nil
}

// envelopeMessage extracts the first error message of a v4 envelope.
func envelopeMessage(r io.Reader) string {
	var env struct {
		Errors []struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(io.LimitReader(r, 1<<20)).Decode(&env); err != nil || len(env.Errors) == 0 {
		return "no error details"
	}
	return fmt.Sprintf("%s (code %d)", env.Errors[0].Message, env.Errors[0].Code)
}
