// Package httpapi serves warpreg over HTTP: Cloudflare's v4 admin API under
// /client/v4, warpreg's enrolment API under /enroll/v1, and its own admin
// endpoints under /api/v1. It maps the wire format and nothing else; every rule
// lives in the device package.
package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/warpreg/warpreg/internal/device"
)

// message is an entry of a v4 envelope's errors or messages list.
type message struct {
	Code       int       `json:"code"`
	Message    string    `json:"message"`
	ErrorChain []message `json:"error_chain,omitempty"`
}

// resultInfo is the pagination block of a v4 list response. TotalCount is nil, and
// total_count left out, when the store did not count every match (a broad filter).
type resultInfo struct {
	Count      int    `json:"count"`
	Cursor     string `json:"cursor"`
	PerPage    int    `json:"per_page"`
	TotalCount *int   `json:"total_count,omitempty"`
}

// totalCount returns a page's total for resultInfo: nil when the store does not
// know it.
func totalCount(total int) *int {
	if total == device.TotalUnknown {
		return nil
	}
	return &total
}

// envelope is Cloudflare's v4 response frame. Field order follows Cloudflare's
// own responses; errors and messages are never null.
type envelope struct {
	Errors     []message `json:"errors"`
	Messages   []message `json:"messages"`
	Result     any       `json:"result"`
	ResultInfo any       `json:"result_info,omitempty"` // *resultInfo, or an endpoint's own
	Success    bool      `json:"success"`
}

// writeResult writes a successful envelope around result.
func writeResult(w http.ResponseWriter, status int, result any, info *resultInfo, msgs ...message) {
	if msgs == nil {
		msgs = []message{}
	}
	env := envelope{Errors: []message{}, Messages: msgs, Result: result, Success: true}
	if info != nil {
		env.ResultInfo = info
	}
	writeEnvelope(w, status, env)
}

// writeErrors writes a failed envelope: success false and result null.
func writeErrors(w http.ResponseWriter, status int, errs ...message) {
	writeEnvelope(w, status, envelope{Errors: errs, Messages: []message{}})
}

func writeEnvelope(w http.ResponseWriter, status int, env envelope) {
	body, err := json.Marshal(env)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"errors":[{"code":10001,"message":"internal error"}],` +
			`"messages":[],"result":null,"success":false}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
