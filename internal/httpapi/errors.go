package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/warpreg/warpreg/internal/device"
)

// Error codes of the v4 envelope. Cloudflare's own codes are used where its API
// has one for the situation; the 1xxx codes are warpreg's, documented in the README.
const (
	codeInternal       = 10001 // an unexpected fault; details are in the server log
	codeAuthentication = 10000 // Cloudflare: "Authentication error"
	codeInvalidToken   = 1000  // Cloudflare tokens/verify: "Invalid API Token"
	codeMissingAuth    = 9106  // Cloudflare: missing X-Auth-Key, X-Auth-Email or Authorization
	codeBadHeaders     = 6003  // Cloudflare: "Invalid request headers"
	codeBadAuthEmail   = 6102  // Cloudflare: "Invalid format for X-Auth-Email header"
	codeBadAuthKey     = 6103  // Cloudflare: "Invalid format for X-Auth-Key header"
	codeBadAuthHeader  = 6111  // Cloudflare: "Invalid format for Authorization header"
	codeNoRoute        = 7000  // Cloudflare: "No route for that URI"
	codeMethod         = 7001  // Cloudflare: method not available for that URI
	codeCouldNotRoute  = 7003  // Cloudflare: "Could not route to ..., perhaps your object ..."
	codeNotFound       = 1001
	codeInvalid        = 1002
	codeConflict       = 1003
	codeRevoked        = 1004
	codeTooLarge       = 1005
	codeGone           = 1006
)

// CodeBusy is the v4 code of a request refused because the database was busy: the
// same request may succeed later. Exported for clients of the API in this module
// (warpreg watch), which retry on it.
const CodeBusy = 1007

// codeTimeout is the v4 code of a request that ran out of the time the server
// gives one (requestTimeout), most often while waiting its turn behind a long queue
// of writes. A write that had not reached its commit was not made (each engine
// finishes a commit it began, whatever the deadline).
const codeTimeout = 1008

// statusClientClosed is the status an access log shows for a request whose client
// left before the answer (nginx's 499; no standard one exists).
const statusClientClosed = 499

// errorStatus is how an error of a kind is answered: its HTTP status and v4 code,
// and, for one whose request may succeed if sent again, the Retry-After (seconds)
// and the warning to log. Those are conditions of the server's that an operator
// should see, so they are logged as warnings.
type errorStatus struct {
	status, code int
	retryAfter   string
	warning      string
}

// kindStatus maps each domain error kind to its answer.
var kindStatus = map[device.Kind]errorStatus{
	device.KindInvalid:      {status: http.StatusBadRequest, code: codeInvalid},
	device.KindNotFound:     {status: http.StatusNotFound, code: codeNotFound},
	device.KindConflict:     {status: http.StatusConflict, code: codeConflict},
	device.KindRevoked:      {status: http.StatusForbidden, code: codeRevoked},
	device.KindUnauthorized: {status: http.StatusForbidden, code: codeAuthentication},
	device.KindGone:         {status: http.StatusGone, code: codeGone},
	device.KindUnavailable: {status: http.StatusServiceUnavailable, code: CodeBusy,
		retryAfter: "1", warning: "database busy; request may be sent again"},
}

// outOfTime answers an error of no domain kind that came once the request's own
// deadline had passed: the database's driver reports that in words of its own (an
// interrupt), or as the context's error. Either way the server was too slow, not
// wrong, and the same request may succeed later. A *device.Error of KindInternal is
// a fault whatever the time: a write that committed but whose durability is unknown
// must not be answered "try again".
var outOfTime = errorStatus{status: http.StatusServiceUnavailable, code: codeTimeout,
	retryAfter: "1", warning: "request ran out of time"}

// writeError renders err as a v4 error envelope. Faults are logged once, here, with
// the request id, and reach the client only as a generic message.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeErrors(w, http.StatusRequestEntityTooLarge, message{Code: codeTooLarge,
			Message: fmt.Sprintf("request body must be at most %d bytes", tooLarge.Limit)})
		return
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away (or the server cut its request off at a second
		// signal): nothing to answer and nothing of ours to fix. The status, which
		// nobody reads, is the one proxies log for it.
		a.log.InfoContext(r.Context(), "request ended before its answer",
			"request_id", requestID(r.Context()))
		writeErrors(w, statusClientClosed,
			message{Code: codeInternal, Message: "request cancelled"})
		return
	}
	kind := device.KindOf(err)
	m, ok := kindStatus[kind]
	msg := device.MessageOf(err)
	var named *device.Error // a fault the store names (KindInternal), never out of time
	if !ok && !errors.As(err, &named) && errors.Is(r.Context().Err(), context.DeadlineExceeded) {
		m, ok, msg = outOfTime, true, "the request took too long; try again"
	}
	if !ok || errors.Is(err, context.Canceled) {
		a.log.ErrorContext(r.Context(), "request failed", "err", err,
			"request_id", requestID(r.Context()))
		writeErrors(w, http.StatusInternalServerError,
			message{Code: codeInternal, Message: "internal error"})
		return
	}
	if kind == device.KindUnauthorized && msg == "authentication error" {
		msg = "Authentication error"
	}
	if m.retryAfter != "" {
		a.log.WarnContext(r.Context(), m.warning, "status", m.status, "err", err,
			"request_id", requestID(r.Context()))
		w.Header().Set("Retry-After", m.retryAfter)
	}
	writeErrors(w, m.status, message{Code: m.code, Message: msg})
}

func invalid(format string, args ...any) error {
	return device.Errorf(device.KindInvalid, format, args...)
}

// writeNoRoute answers a path that names no resource, or names it with a malformed
// identifier, as Cloudflare does.
func writeNoRoute(w http.ResponseWriter, path string) {
	writeErrors(w, http.StatusBadRequest,
		message{Code: codeCouldNotRoute, Message: "Could not route to " + path +
			", perhaps your object identifier is invalid?"},
		message{Code: codeNoRoute, Message: "No route for that URI"})
}
