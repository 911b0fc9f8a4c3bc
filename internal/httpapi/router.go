package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

// Service is what the handlers need of the domain.
type Service interface {
	AuthenticateToken(ctx context.Context, secret string) (*device.Principal, error)
	AuthenticateGlobalKey(ctx context.Context, email, key string) (*device.Principal, error)
	Registration(ctx context.Context, accountID, id string) (*device.Registration, error)
	RegistrationForToken(
		ctx context.Context, secret, accountID, id string,
	) (*device.Principal, *device.Registration, bool, error)
	List(ctx context.Context, accountID string, q device.ListQuery) (device.Page, error)
	Revoke(ctx context.Context, accountID string, ids []string) error
	Unrevoke(ctx context.Context, accountID string, ids []string) error
	Delete(ctx context.Context, accountID string, ids []string) error
	CheckEnrollmentKey(ctx context.Context, key string) error
	CheckClientToken(ctx context.Context, id, token string) error
	Enroll(ctx context.Context, key string, req device.EnrollRequest) (*device.Enrollment, error)
	UpdateClient(ctx context.Context, id, token string, u device.ClientUpdate) (*device.Registration, error)
	Heartbeat(ctx context.Context, id, token, clientVersion string) (*device.Registration, error)
	RollClientToken(ctx context.Context, id, token string) (string, []byte, error)
	Changes(ctx context.Context, accountID string, after int64, limit int) ([]device.Change, error)
	Subscribe(ctx context.Context) <-chan string
	RegistrationByKey(ctx context.Context, accountID, urlKey string) (*device.Registration, error)
	IssueOverride(ctx context.Context, accountID, id string) (*device.OverrideIssue, error)
	LegacyDevices(ctx context.Context, accountID, after string, limit int,
	) ([]device.DeviceView, error)
	LegacyDevice(ctx context.Context, accountID, id string,
	) (*device.DeviceView, *device.Account, error)
	LegacyRevoke(ctx context.Context, accountID string, ids []string) error
	LegacyUnrevoke(ctx context.Context, accountID string, ids []string) error
	LegacyIssueOverride(ctx context.Context, accountID, id string) (*device.OverrideIssue, error)

	Profiles(ctx context.Context, accountID string) ([]device.Profile, error)
	DefaultProfile(ctx context.Context, accountID string) (*device.Profile, error)
	CustomProfile(ctx context.Context, accountID, id string) (*device.Profile, error)
	CreateProfile(ctx context.Context, accountID string, e device.ProfileEdit) (*device.Profile, error)
	EditProfile(ctx context.Context, accountID, id string, e device.ProfileEdit) (*device.Profile, error)
	EditDefaultProfile(
		ctx context.Context, accountID string, e device.ProfileEdit) (*device.Profile, error)
	DeleteProfile(ctx context.Context, accountID, id string) ([]device.Profile, error)
	AuditLog(ctx context.Context, accountID string, q device.AuditQuery) ([]device.AuditEntry, error)
	Device(ctx context.Context, accountID, id string) (*device.Device, error)
	ListDevices(ctx context.Context, accountID string, q device.DeviceListQuery) (device.DevicePage, error)
	RevokeDevice(ctx context.Context, accountID, id string) error
	DeleteDevice(ctx context.Context, accountID, id string) error
}

// Options configure an API.
type Options struct {
	// CursorKey signs list cursors. Every instance serving one database must use the
	// same key, so that a cursor from one continues on another.
	CursorKey []byte

	// MaxBodyBytes caps request bodies; zero means 1 MiB.
	MaxBodyBytes int64

	// RateLimits throttle clients; the zero value serves without limits.
	RateLimits RateLimits
}

// API is the HTTP handler for every warpreg endpoint.
type API struct {
	svc     Service
	log     *slog.Logger
	cursors cursorCodec
	maxBody int64
	chunk   int           // rows per read of the deprecated device list
	timeout time.Duration // requestTimeout, shorter in tests
	mux     *http.ServeMux
	slow    map[string]bool // patterns that get slowRequestTimeout, marked before handle
	limits  limiters

	patterns []string     // every route's pattern, in the order of registration
	noRoute  http.Handler // answers what no route matches; see unroutedPattern

	streams      context.Context // done when change streams must end
	closeStreams context.CancelFunc
}

// New returns the handler for svc.
func New(svc Service, log *slog.Logger, opts Options) *API {
	a := &API{svc: svc, log: log, cursors: cursorCodec{key: opts.CursorKey},
		maxBody: opts.MaxBodyBytes, chunk: legacyChunk, timeout: requestTimeout,
		mux:    http.NewServeMux(),
		slow:   map[string]bool{},
		limits: newLimiters(opts.RateLimits)}
	a.streams, a.closeStreams = context.WithCancel(context.Background())
	if a.maxBody == 0 {
		a.maxBody = 1 << 20
	}
	a.routes()
	a.noRoute = a.route("", http.HandlerFunc(a.unrouted))
	a.mux.Handle(unroutedPattern, a.noRoute)
	return a
}

// Routes that the router treats specially.
const (
	devices    = "/client/v4/accounts/{account_id}/devices"
	legacyList = "GET " + devices

	// legacySub stands for GET .../devices/{device_id}/override_codes, which would
	// conflict with GET .../devices/registrations/{registration_id} and every route
	// of that shape: neither pattern is more specific than the other, and the mux
	// refuses such a pair. Its handler answers only for override_codes.
	legacySub = "GET " + devices + "/{device_id}/{sub}"
)

func (a *API) routes() {
	const regs = devices + "/registrations"
	a.handle("GET "+regs, a.admin(false, a.listRegistrations))
	a.handle("DELETE "+regs, a.admin(true, a.bulkDeleteRegistrations))
	a.handle("POST "+regs+"/revoke", a.admin(true, a.revokeRegistrations))
	a.handle("POST "+regs+"/unrevoke", a.admin(true, a.unrevokeRegistrations))
	a.handle("GET "+regs+"/{registration_id}",
		a.getRegistrationFast(a.admin(false, a.getRegistration)))
	a.handle("DELETE "+regs+"/{registration_id}", a.admin(true, a.deleteRegistration))
	a.handle("GET "+regs+"/{registration_id}/override_codes",
		a.admin(true, a.registrationOverrideCodes))

	// The deprecated device API. Literal segments win over {device_id}, so the
	// registrations routes above, and every other /devices/<name> route, keep theirs.
	a.handle(legacyList, a.admin(false, a.listLegacyDevices))
	a.handle("POST "+devices+"/revoke", a.admin(true, a.revokeLegacyDevices))
	a.handle("POST "+devices+"/unrevoke", a.admin(true, a.unrevokeLegacyDevices))
	a.handle("GET "+devices+"/{device_id}", a.admin(false, a.getLegacyDevice))
	a.handle(legacySub, a.legacyOverride(a.admin(true, a.legacyOverrideCodes)))

	a.policyRoutes()
	const physical = devices + "/physical-devices"
	a.handle("GET "+physical, a.admin(false, a.listDevices))
	a.handle("GET "+physical+"/{device_id}", a.admin(false, a.getDevice))
	a.handle("DELETE "+physical+"/{device_id}", a.admin(true, a.deleteDevice))
	a.handle("POST "+physical+"/{device_id}/revoke", a.admin(true, a.revokeDevice))

	a.handle("GET /client/v4/user/tokens/verify", http.HandlerFunc(a.verifyToken))
	a.handle("GET /client/v4/accounts/{account_id}/tokens/verify", http.HandlerFunc(a.verifyToken))

	const own = "/api/v1/accounts/{account_id}/registrations"
	a.handle("GET "+own+"/changes", a.admin(false, a.listChanges))
	a.handle("GET "+own+"/changes/stream", a.admin(false, a.streamChanges))
	a.handle("GET "+own+"/by-key/{key}", a.admin(false, a.registrationByKey))
	a.handle("GET /api/v1/accounts/{account_id}/audit", a.admin(false, a.listAudit))

	a.handle("POST /enroll/v1/registrations", http.HandlerFunc(a.enroll))
	a.handle(patchRegistration, http.HandlerFunc(a.updateClient))
	a.handle(postHeartbeat, http.HandlerFunc(a.heartbeat))
	a.handle(postToken, http.HandlerFunc(a.rollClientToken))
}

// The registration API's routes: a registration's own token authenticates them, and
// they are rate limited by registration, never by client address.
const (
	patchRegistration = "PATCH /enroll/v1/registrations/{id}"
	postHeartbeat     = "POST /enroll/v1/registrations/{id}/heartbeat"
	postToken         = "POST /enroll/v1/registrations/{id}/token"
)

func registrationRoute(pattern string) bool {
	return pattern == patchRegistration || pattern == postHeartbeat || pattern == postToken
}

func (a *API) handle(pattern string, h http.Handler) {
	a.mux.Handle(pattern, a.route(pattern, h))
	a.patterns = append(a.patterns, pattern)
}

// unroutedPattern catches every request that no route matches, so that the mux is
// searched once per request and such requests still get v4 envelopes. It is not in
// Routes: it is the absence of one.
const unroutedPattern = "/"

// route wraps the handler of pattern with what every request of that route needs
// before its handler runs: the client address's rate limit (except on the
// registration API, limited per registration) and the deadline of its database work.
func (a *API) route(pattern string, h http.Handler) http.Handler {
	byAddress := !registrationRoute(pattern)
	// Streams and the deprecated device list set deadlines per step instead.
	deadline := !strings.HasSuffix(pattern, "/changes/stream") && pattern != legacyList
	slow := a.slow[pattern]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if byAddress && !a.allowAddress(w, r) {
			return
		}
		if deadline {
			// Every query of an ordinary request runs under this deadline, so a stuck
			// database call ends with the request instead of holding a connection.
			timeout := a.timeout
			if slow {
				timeout = slowRequestTimeout
				// Not every writer supports deadlines (test recorders do not).
				until := time.Now().Add(timeout + time.Minute)
				_ = http.NewResponseController(w).SetWriteDeadline(until)
			}
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		h.ServeHTTP(w, r)
	})
}

// Routes returns the pattern of every route, such as
// "GET /client/v4/accounts/{account_id}/devices/registrations", in the order they
// were registered. Tests walk it so that a new route cannot go untested.
func (a *API) Routes() []string { return slices.Clone(a.patterns) }

// CloseStreams ends every open change stream, as a server shutting down must: a
// stream never finishes on its own. Clients reconnect elsewhere with Last-Event-ID.
func (a *API) CloseStreams() { a.closeStreams() }

// requestTimeout bounds the database work of one request (change streams excepted).
const requestTimeout = 30 * time.Second

// slowRequestTimeout bounds the requests that change a profile's rule, which answer
// only once every registration of the account has been re-evaluated: at a million
// registrations that takes tens of seconds. Their write deadline is extended to
// match, so that the answer still reaches the client.
const slowRequestTimeout = 10 * time.Minute

// probeMethods are tried to tell a wrong method (405) from a wrong path (404).
var probeMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

// ServeHTTP routes r. Unknown paths and methods get v4 envelopes, never the
// standard library's plain-text pages, and malformed account ids are refused before
// any credential is looked at, as Cloudflare's router does.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	ctx := withRequestID(r.Context(), r.Header.Get("X-Request-Id"))
	// Every write is audited with the address it came from; who is calling is added
	// once a credential has been checked.
	ctx = device.WithActor(ctx, device.Actor{Addr: r.RemoteAddr})
	r = r.WithContext(ctx)
	rec.Header().Set("X-Request-Id", requestID(ctx))
	start := nowFunc()
	defer func() {
		p := recover()
		if p != nil && p != http.ErrAbortHandler {
			a.log.ErrorContext(ctx, "handler panic", "panic", p, "request_id", requestID(ctx))
			if !rec.wrote {
				writeErrors(rec, http.StatusInternalServerError,
					message{Code: codeInternal, Message: "internal error"})
			}
		}
		// LogAttrs: the access log is written for every request, and typed attributes
		// spare it the conversions of key-value pairs.
		route := r.Pattern
		if route == unroutedPattern {
			route = ""
		}
		a.log.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("method", r.Method),
			slog.String("route", route), slog.Int("status", rec.status),
			slog.Float64("duration_ms", float64(nowFunc().Sub(start).Microseconds())/1000),
			slog.String("request_id", requestID(ctx)))
		if p == http.ErrAbortHandler {
			panic(p) // the server cuts the connection, as the handler asked
		}
	}()

	if uncleanPath(r.URL.Path) {
		// The mux would answer with a redirect to the cleaned path, which a client
		// may follow with the same method: refuse instead, as an unroutable path.
		writeNoRoute(rec, r.URL.Path)
		return
	}
	if r.Method == http.MethodConnect || r.RequestURI == "*" ||
		!strings.HasPrefix(r.URL.Path, "/") {
		// The mux answers these itself, before any pattern: a plain-text 404, a bare
		// 400, a redirect to "/". None can match a route.
		a.noRoute.ServeHTTP(rec, r)
		return
	}
	a.mux.ServeHTTP(rec, r)
}

// legacyOverride lets h answer legacySub's one real route; any other path of that
// shape has no route, which is said before any credential is looked at.
func (a *API) legacyOverride(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isLegacySub(r.URL.Path) {
			writeNoRoute(w, r.URL.Path)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func isLegacySub(path string) bool { return strings.HasSuffix(path, "/override_codes") }

// uncleanPath reports whether p has empty, "." or ".." segments.
func uncleanPath(p string) bool {
	return strings.Contains(p, "//") || strings.Contains(p, "/./") ||
		strings.Contains(p, "/../") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
}

// unrouted answers a request that matched no pattern: 405 when another method
// would have matched, else Cloudflare's no-route error.
func (a *API) unrouted(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range probeMethods {
		probe := r.Clone(r.Context())
		probe.Method = m
		_, p := a.mux.Handler(probe)
		if p != unroutedPattern && (p != legacySub || isLegacySub(r.URL.Path)) {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		writeNoRoute(w, requestTarget(r))
		return
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeErrors(w, http.StatusMethodNotAllowed, message{Code: codeMethod,
		Message: "Method " + r.Method + " not available for that URI."})
}

// requestTarget names what r asked for, for a no-route message: its path, or, when
// it has none, the target as the request line gave it (CONNECT's host:port, an
// absolute URL without a path).
func requestTarget(r *http.Request) string {
	if r.URL.Path != "" || r.RequestURI == "" {
		return r.URL.Path
	}
	return r.RequestURI
}

// statusRecorder remembers the status a handler wrote, for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if !s.wrote {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's Flush and deadlines.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
