package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

// TestRoutesUnderDevices checks that every path under /devices reaches its own
// route: literal segments (registrations, revoke...) win over the deprecated API's
// {device_id}, the deprecated override-code route catches nothing else, and what has
// no route reaches the catch-all that answers it.
func TestRoutesUnderDevices(t *testing.T) {
	a := New(nil, slog.New(slog.DiscardHandler), Options{})
	const (
		acct = "/client/v4/accounts/0123456789abcdef0123456789abcdef/devices"
		id   = "/6b9fd5b4-8d1a-4a43-9a1e-6f5d2b1c0e7a"
		regs = devices + "/registrations"
		phys = devices + "/physical-devices"
		pol  = devices + "/policy"
	)
	tests := []struct{ method, path, want string }{
		{"GET", acct, legacyList},
		{"GET", acct + id, "GET " + devices + "/{device_id}"},
		{"GET", acct + id + "/override_codes", legacySub},
		{"POST", acct + "/revoke", "POST " + devices + "/revoke"},
		{"POST", acct + "/unrevoke", "POST " + devices + "/unrevoke"},
		{"GET", acct + "/registrations", "GET " + regs},
		{"DELETE", acct + "/registrations", "DELETE " + regs},
		{"POST", acct + "/registrations/revoke", "POST " + regs + "/revoke"},
		{"POST", acct + "/registrations/unrevoke", "POST " + regs + "/unrevoke"},
		{"GET", acct + "/registrations" + id, "GET " + regs + "/{registration_id}"},
		{"DELETE", acct + "/registrations" + id, "DELETE " + regs + "/{registration_id}"},
		{"GET", acct + "/registrations" + id + "/override_codes",
			"GET " + regs + "/{registration_id}/override_codes"},
		{"GET", acct + "/registrations/override_codes", "GET " + regs + "/{registration_id}"},
		{"GET", acct + "/revoke", "GET " + devices + "/{device_id}"},
		{"GET", acct + "/physical-devices", "GET " + phys},
		{"GET", acct + "/physical-devices" + id, "GET " + phys + "/{device_id}"},
		{"DELETE", acct + "/physical-devices" + id, "DELETE " + phys + "/{device_id}"},
		{"POST", acct + "/physical-devices" + id + "/revoke",
			"POST " + phys + "/{device_id}/revoke"},
		{"GET", acct + "/physical-devices/override_codes", "GET " + phys + "/{device_id}"},
		{"GET", acct + "/policy", "GET " + pol},
		{"PATCH", acct + "/policy", "PATCH " + pol},
		{"POST", acct + "/policy", "POST " + pol},
		{"GET", acct + "/policies", "GET " + devices + "/policies"},
		{"GET", acct + "/policy" + id, "GET " + pol + "/{policy_id}"},
		{"DELETE", acct + "/policy" + id, "DELETE " + pol + "/{policy_id}"},
		{"GET", acct + "/policy/exclude", "GET " + pol + "/exclude"},
		{"PUT", acct + "/policy" + id + "/include", "PUT " + pol + "/{policy_id}/include"},
		{"GET", acct + "/policy/override_codes", "GET " + pol + "/{policy_id}"},
		{"DELETE", acct + id, unroutedPattern},
		{"POST", acct, unroutedPattern},
		{"GET", acct + id + "/override_codes/x", unroutedPattern},
		{"GET", acct + "/", unroutedPattern},
	}
	for _, tt := range tests {
		_, got := a.mux.Handler(httptest.NewRequest(tt.method, tt.path, nil))
		if got != tt.want {
			t.Errorf("%s %s reaches %q, want %q", tt.method, tt.path, got, tt.want)
		}
	}
}

// TestAccessLogNamesRoute checks the access log's route: the pattern that answered,
// and nothing for a request that no route matched (the catch-all is not a route).
func TestAccessLogNamesRoute(t *testing.T) {
	var buf bytes.Buffer
	a := New(nil, slog.New(slog.NewJSONHandler(&buf, nil)), Options{})
	const acct = "/client/v4/accounts/0123456789abcdef0123456789abcdef"
	tests := []struct{ method, path, route string }{
		{"GET", acct + "/devices/registrations", "GET " + devices + "/registrations"},
		{"PUT", acct + "/devices/registrations", ""},
		{"GET", "/nothing/here", ""},
	}
	for _, tt := range tests {
		buf.Reset()
		a.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tt.method, tt.path, nil))
		var entry struct {
			Msg    string `json:"msg"`
			Route  string `json:"route"`
			Status int    `json:"status"`
		}
		if err := json.Unmarshal(buf.Bytes(), &entry); err != nil {
			t.Fatalf("%s %s: access log %q: %v", tt.method, tt.path, buf.String(), err)
		}
		if entry.Msg != "request" || entry.Route != tt.route || entry.Status == 0 {
			t.Errorf("%s %s logged %+v, want route %q", tt.method, tt.path, entry, tt.route)
		}
	}
}

// TestRequestsTheMuxAnswersItself sends the requests that the standard mux would
// answer before looking at any pattern (a target of "*", CONNECT to an authority,
// an absolute URL with no path): each gets the v4 no-route error, never the mux's
// plain-text page or redirect, and spends its address's rate-limit budget as any
// unrouted request does.
func TestRequestsTheMuxAnswersItself(t *testing.T) {
	a := New(nil, slog.New(slog.DiscardHandler), Options{RateLimits: RateLimits{PerAddress: 1}})
	for i, raw := range []string{
		"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
		"CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n",
		"GET http://127.0.0.1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
		"POST http://127.0.0.1?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
	} {
		first := line(raw)
		target := strings.Fields(first)[1]
		for n, status := range []int{http.StatusBadRequest, http.StatusTooManyRequests} {
			req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
			if err != nil {
				t.Fatalf("%s: %v", first, err)
			}
			req.RemoteAddr = fmt.Sprintf("192.0.2.%d:1234", i+1)
			rec := httptest.NewRecorder()
			a.ServeHTTP(rec, req)
			var env struct {
				Success bool
				Errors  []struct {
					Code    int
					Message string
				}
			}
			err = json.Unmarshal(rec.Body.Bytes(), &env)
			if rec.Code != status || err != nil || env.Success || len(env.Errors) == 0 {
				t.Fatalf("%s: request %d: %d %q, want %d and a v4 error", first, n+1,
					rec.Code, rec.Body, status)
			}
			if want := "Could not route to " + target + ","; status == http.StatusBadRequest &&
				!strings.HasPrefix(env.Errors[0].Message, want) {
				t.Errorf("%s: message %q, want it to start %q", first, env.Errors[0].Message,
					want)
			}
		}
	}
}

// line returns the first line of a raw request, to name it.
func line(raw string) string {
	first, _, _ := strings.Cut(raw, "\r\n")
	return first
}

// deadlineService records the deadline of the context its calls receive, as an
// admin of account "a…a" with write access sees them.
type deadlineService struct {
	Service
	left     time.Duration // time to the deadline; 0 for none
	recorded bool
	stop     func() // ends the request once its first read is recorded
}

func (s *deadlineService) record(ctx context.Context) {
	s.left, s.recorded = 0, true
	if d, ok := ctx.Deadline(); ok {
		s.left = time.Until(d)
	}
	s.stop()
}

func (s *deadlineService) Subscribe(context.Context) <-chan string {
	return make(chan string)
}

func (s *deadlineService) AuthenticateToken(context.Context, string) (*device.Principal, error) {
	return &device.Principal{AccountID: strings.Repeat("a", 32), CanWrite: true}, nil
}

func (s *deadlineService) List(ctx context.Context, _ string, _ device.ListQuery,
) (device.Page, error) {
	s.record(ctx)
	return device.Page{}, nil
}

func (s *deadlineService) DeleteProfile(ctx context.Context, _, _ string,
) ([]device.Profile, error) {
	s.record(ctx)
	return nil, nil
}

func (s *deadlineService) Changes(ctx context.Context, _ string, _ int64, _ int,
) ([]device.Change, error) {
	s.record(ctx)
	return nil, nil
}

// TestRouteDeadlines checks the deadline each kind of route puts on its database
// work: 30 s for an ordinary request, 10 min for a change of a profile's rule, none
// for the change stream, which sets one per step.
func TestRouteDeadlines(t *testing.T) {
	svc := &deadlineService{}
	a := New(svc, slog.New(slog.DiscardHandler), Options{})
	acct := "/client/v4/accounts/" + strings.Repeat("a", 32) + "/devices"
	own := "/api/v1/accounts/" + strings.Repeat("a", 32) + "/registrations"
	tests := []struct {
		method, path string
		want         time.Duration
	}{
		{"GET", acct + "/registrations", requestTimeout},
		{"DELETE", acct + "/policy/" + device.NewID(), slowRequestTimeout},
		{"GET", own + "/changes", requestTimeout},
		{"GET", own + "/changes/stream", 0},
	}
	for _, tt := range tests {
		svc.left, svc.recorded = 0, false
		req := httptest.NewRequest(tt.method, tt.path, nil)
		req.Header.Set("Authorization", "Bearer "+strings.Repeat("t", 40))
		ctx, cancel := context.WithCancel(req.Context())
		svc.stop = cancel // a stream would run until then
		a.ServeHTTP(httptest.NewRecorder(), req.WithContext(ctx))
		cancel()
		margin := time.Minute
		if !svc.recorded || (tt.want == 0) != (svc.left == 0) ||
			svc.left > tt.want || svc.left < tt.want-margin {
			t.Errorf("%s %s: deadline in %v (read: %v), want %v", tt.method, tt.path,
				svc.left, svc.recorded, tt.want)
		}
	}
}
