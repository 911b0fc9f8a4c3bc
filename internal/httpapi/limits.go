package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/ratelimit"
)

// RateLimits configure throttling in Cloudflare's manner. A zero field turns its
// limit off; the zero value serves without limits.
type RateLimits struct {
	// PerCredential is requests per five minutes per credential: an API token, a
	// global key, an enrolment key or a registration's token. Cloudflare documents
	// 1,200 for its API.
	PerCredential int

	// PerAddress is requests per second per client address (an IPv6 address counts
	// by its /64). Calls of the registration API are exempt: they are counted by
	// registration, so that many devices behind one address never slow each other.
	PerAddress int

	// AuthFailures is failed authentications per five minutes per client address.
	// Once they are spent, the address's admin calls and enrolments are refused
	// before any lookup, and its registration calls with a wrong token get 429.
	AuthFailures int

	// MaxKeys bounds the keys each limiter remembers; zero means
	// ratelimit.DefaultMaxKeys.
	MaxKeys int
}

const codeRateLimited = 971 // Cloudflare: "Please wait and consider throttling your request speed"

// limiters holds one limiter per RateLimits field; nil ones are off.
type limiters struct {
	credential, address, failures *ratelimit.Limiter
}

func newLimiters(rl RateLimits) limiters {
	mk := func(name string, n int, window time.Duration) *ratelimit.Limiter {
		if n <= 0 {
			return nil
		}
		return ratelimit.New(ratelimit.Policy{Name: name, Limit: n, Window: window}, rl.MaxKeys)
	}
	return limiters{
		credential: mk("default", rl.PerCredential, 5*time.Minute),
		address:    mk("address", rl.PerAddress, time.Second),
		failures:   mk("auth-failures", rl.AuthFailures, 5*time.Minute),
	}
}

// Keys of the per-credential limiter, one prefix per kind.
func adminKey(p *device.Principal) string { return "admin:" + p.CredentialID }
func registrationKey(id string) string    { return "registration:" + id }
func enrollKeyKey(secret string) string   { return "enroll:" + string(device.HashSecret(secret)) }

// allowAddress spends one request of the client address's budget, answering 429
// and returning false when it is empty.
func (a *API) allowAddress(w http.ResponseWriter, r *http.Request) bool {
	l := a.limits.address
	if l == nil {
		return true
	}
	d := l.Allow(clientAddr(r), nowFunc())
	if !d.Allowed {
		writeTooMany(w, l.Policy(), d)
	}
	return d.Allowed
}

// refuseFailing answers 429 and returns true when the client address has spent
// its failed authentications, so that a guesser costs no lookup at all.
func (a *API) refuseFailing(w http.ResponseWriter, r *http.Request) bool {
	l := a.limits.failures
	if l == nil {
		return false
	}
	d := l.Peek(clientAddr(r), nowFunc())
	if !d.Allowed {
		writeTooMany(w, l.Policy(), d)
	}
	return !d.Allowed
}

// failed records err against the client address when it refused a credential.
// Once the address has spent its failed authentications, it answers 429 in place
// of the refusal and returns true; otherwise the caller answers.
func (a *API) failed(w http.ResponseWriter, r *http.Request, err error) bool {
	l := a.limits.failures
	if l == nil || device.KindOf(err) != device.KindUnauthorized {
		return false
	}
	d := l.Take(clientAddr(r), nowFunc())
	if !d.Allowed {
		writeTooMany(w, l.Policy(), d)
	}
	return !d.Allowed
}

// allowCredential spends one request of an authenticated credential's budget and
// reports what is left in the response headers, answering 429 when it is empty.
func (a *API) allowCredential(w http.ResponseWriter, key string) bool {
	l := a.limits.credential
	if l == nil {
		return true
	}
	d := l.Allow(key, nowFunc())
	if !d.Allowed {
		writeTooMany(w, l.Policy(), d)
		return false
	}
	setRateHeaders(w.Header(), l.Policy(), d)
	return true
}

// peekCredential answers 429 and returns false when key's budget is empty, without
// spending it: for credentials checked inside the service, whose budget is spent
// only once they proved good (spendCredential), so that nobody can exhaust a
// budget with a wrong secret.
func (a *API) peekCredential(w http.ResponseWriter, key string) bool {
	l := a.limits.credential
	if l == nil {
		return true
	}
	d := l.Peek(key, nowFunc())
	if !d.Allowed {
		writeTooMany(w, l.Policy(), d)
	}
	return d.Allowed
}

// spendCredential spends one request of a credential that proved good and reports
// what is left in the response headers.
func (a *API) spendCredential(w http.ResponseWriter, key string) {
	if l := a.limits.credential; l != nil {
		setRateHeaders(w.Header(), l.Policy(), l.Take(key, nowFunc()))
	}
}

// setRateHeaders writes the RateLimit and RateLimit-Policy headers that Cloudflare
// documents for its API: the budget's name, what remains (r) and the seconds until
// it is full again (t); the quota (q) and its window in seconds (w).
func setRateHeaders(h http.Header, p ratelimit.Policy, d ratelimit.Decision) {
	name := strconv.Quote(p.Name)
	h.Set("Ratelimit", name+";r="+strconv.Itoa(d.Remaining)+";t="+
		strconv.Itoa(ceilSeconds(d.Reset)))
	h.Set("Ratelimit-Policy", name+";q="+strconv.Itoa(p.Limit)+";w="+
		strconv.Itoa(ceilSeconds(p.Window)))
}

// writeTooMany answers 429 as Cloudflare does, with Retry-After in whole seconds.
func writeTooMany(w http.ResponseWriter, p ratelimit.Policy, d ratelimit.Decision) {
	setRateHeaders(w.Header(), p, d)
	w.Header().Set("Retry-After", strconv.Itoa(max(1, ceilSeconds(d.RetryAfter))))
	writeErrors(w, http.StatusTooManyRequests, message{Code: codeRateLimited,
		Message: "Please wait and consider throttling your request speed"})
}

func ceilSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

// clientAddr names the client's address for the per-address limits: the IP of the
// connection's peer, with an IPv6 address reduced to its /64, the block one
// subscriber usually holds. Forwarding headers are not trusted.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
