package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

var nowFunc = time.Now

var (
	// Cloudflare API tokens are 40 characters of URL-safe base64; global keys are 37
	// lowercase hex characters. A header of another shape is refused as malformed
	// before any lookup, with Cloudflare's codes.
	globalKeyPattern = regexp.MustCompile(`^[0-9a-f]{37}$`)
	emailPattern     = regexp.MustCompile(`^[^@\s]{1,64}@[^@\s]{1,255}$`)
)

// adminHandler is a handler for one account's admin endpoint.
type adminHandler func(w http.ResponseWriter, r *http.Request, accountID string)

// admin wraps h with the checks every /client/v4/accounts endpoint shares: a
// well-formed account id, then a credential of that account, with write access if
// write is set.
func (a *API) admin(write bool, h adminHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accountID := r.PathValue("account_id")
		if !device.ValidAccountID(accountID) {
			writeNoRoute(w, r.URL.Path)
			return
		}
		p, ok := a.authenticate(w, r)
		if !ok {
			return
		}
		if r, ok = a.admit(w, r, p, accountID, write); ok {
			h(w, r, accountID)
		}
	})
}

// admit checks that p may act on accountID and returns r carrying p as the actor,
// or writes the error and returns false.
func (a *API) admit(
	w http.ResponseWriter, r *http.Request, p *device.Principal, accountID string, write bool,
) (*http.Request, bool) {
	if err := p.Authorize(accountID, write); err != nil {
		a.writeError(w, r, err)
		return r, false
	}
	actor := device.ActorFrom(r.Context())
	actor.Kind, actor.ID = p.Kind, p.CredentialID
	if p.Email != "" {
		actor.ID = p.Email
	}
	return r.WithContext(device.WithActor(r.Context(), actor)), true
}

// authenticate resolves the request's admin credential and spends one request of
// its rate-limit budget, writing the error response (a 429 when a budget is spent)
// and returning false when it cannot.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request) (*device.Principal, bool) {
	token, email, key, status, msg := parseAuthHeaders(r.Header)
	if status != 0 {
		writeErrors(w, status, msg)
		return nil, false
	}
	if a.refuseFailing(w, r) {
		return nil, false
	}
	var p *device.Principal
	var err error
	if token != "" {
		p, err = a.svc.AuthenticateToken(r.Context(), token)
	} else {
		p, err = a.svc.AuthenticateGlobalKey(r.Context(), email, key)
	}
	if err != nil {
		if !a.failed(w, r, err) {
			a.writeError(w, r, err)
		}
		return nil, false
	}
	return p, a.allowCredential(w, adminKey(p))
}

// stillAuthorized checks the request's admin credential again, as a long-lived
// request must: a stream outlives the check at its start, and a credential revoked
// or rolled since then must stop it.
func (a *API) stillAuthorized(r *http.Request, accountID string) error {
	token, email, key, status, _ := parseAuthHeaders(r.Header)
	if status != 0 {
		return device.Errorf(device.KindUnauthorized, "authentication error")
	}
	var p *device.Principal
	var err error
	if token != "" {
		p, err = a.svc.AuthenticateToken(r.Context(), token)
	} else {
		p, err = a.svc.AuthenticateGlobalKey(r.Context(), email, key)
	}
	if err != nil {
		return err
	}
	return p.Authorize(accountID, false)
}

// validToken reports whether s has an API token's form: 40 characters of the URL-safe
// base64 alphabet. Every admin request checks it, by hand rather than by a regular
// expression, which costs several times as much.
func validToken(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// parseAuthHeaders picks the credential out of the headers: a Bearer token, else the
// X-Auth-Email and X-Auth-Key pair. A nonzero status reports a missing or malformed
// credential with the message to send.
//
// A credential header given twice is malformed: which of the two a proxy or the
// server would read is anyone's guess, and taking the first let a request that
// also carried a read-only token write.
func parseAuthHeaders(h http.Header) (token, email, key string, status int, msg message) {
	for _, c := range []struct {
		name string
		code int
	}{{"Authorization", codeBadAuthHeader}, {"X-Auth-Email", codeBadAuthEmail},
		{"X-Auth-Key", codeBadAuthKey}} {
		if len(h.Values(c.name)) > 1 {
			return "", "", "", http.StatusBadRequest, headerError(c.code,
				"Invalid format for "+c.name+" header: it is given more than once")
		}
	}
	if auth := h.Get("Authorization"); auth != "" {
		scheme, value, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, "Bearer") || !validToken(value) {
			return "", "", "", http.StatusBadRequest, headerError(codeBadAuthHeader,
				"Invalid format for Authorization header")
		}
		return value, "", "", 0, message{}
	}
	email, key = h.Get("X-Auth-Email"), h.Get("X-Auth-Key")
	switch {
	case email == "" && key == "":
		return "", "", "", http.StatusBadRequest, message{Code: codeMissingAuth,
			Message: "Missing X-Auth-Key, X-Auth-Email or Authorization headers"}
	case !emailPattern.MatchString(email):
		return "", "", "", http.StatusBadRequest, headerError(codeBadAuthEmail,
			"Invalid format for X-Auth-Email header")
	case !globalKeyPattern.MatchString(key):
		return "", "", "", http.StatusBadRequest, headerError(codeBadAuthKey,
			"Invalid format for X-Auth-Key header")
	}
	return "", email, key, 0, message{}
}

func headerError(code int, text string) message {
	return message{Code: codeBadHeaders, Message: "Invalid request headers",
		ErrorChain: []message{{Code: code, Message: text}}}
}

// bearer returns the value of a Bearer Authorization header, or "" when there is
// none, or more than one (see parseAuthHeaders).
func bearer(r *http.Request) string {
	if len(r.Header.Values("Authorization")) != 1 {
		return ""
	}
	scheme, value, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(value)
}

type requestIDKey struct{}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// withRequestID keeps a caller's well-formed X-Request-Id, else makes one.
func withRequestID(ctx context.Context, given string) context.Context {
	if !requestIDPattern.MatchString(given) {
		var b [8]byte
		rand.Read(b[:])
		given = hex.EncodeToString(b[:])
	}
	return context.WithValue(ctx, requestIDKey{}, given)
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
