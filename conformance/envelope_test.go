package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/option"
)

// envelopeChecker returns SDK middleware that fails t for every response that is
// not a v4 envelope: a JSON object with a boolean success that agrees with the
// status, errors and messages arrays, and a result member (null on errors).
func envelopeChecker(t *testing.T) option.Middleware {
	return func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		res, err := next(req)
		if err != nil {
			return res, err
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read response body: %w", err)
		}
		res.Body = io.NopCloser(bytes.NewReader(body))
		ct := res.Header.Get("Content-Type")
		if problems := envelopeProblems(res.StatusCode, ct, body); len(problems) > 0 {
			t.Errorf("%s %s: status %d: not a v4 envelope: %s\nbody: %s",
				req.Method, req.URL, res.StatusCode, strings.Join(problems, "; "), body)
		}
		return res, nil
	}
}

// envelopeProblems lists how a response differs from Cloudflare's v4 envelope.
func envelopeProblems(status int, contentType string, body []byte) []string {
	var problems []string
	if mt, _, _ := mime.ParseMediaType(contentType); mt != "application/json" {
		problems = append(problems, fmt.Sprintf("content type %q, want application/json",
			contentType))
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil || env == nil {
		return append(problems, "body is not a JSON object")
	}

	var success bool
	if err := json.Unmarshal(env["success"], &success); err != nil {
		problems = append(problems, "success is not a boolean")
	} else if success != (status < 400) {
		problems = append(problems, fmt.Sprintf("success is %v with status %d", success, status))
	}
	if _, ok := env["result"]; !ok {
		problems = append(problems, "no result member")
	}
	if err := decodeArray(env["messages"], new([]json.RawMessage)); err != nil {
		problems = append(problems, "messages: "+err.Error())
	}

	var errs []struct {
		Code    *json.Number `json:"code"`
		Message *string      `json:"message"`
	}
	if err := decodeArray(env["errors"], &errs); err != nil {
		return append(problems, "errors: "+err.Error())
	}
	switch {
	case status >= 400 && len(errs) == 0:
		problems = append(problems, "errors is empty on a failure")
	case status < 400 && len(errs) > 0:
		problems = append(problems, "errors is not empty on a success")
	}
	for i, e := range errs {
		if e.Code == nil || !positiveInt(*e.Code) {
			problems = append(problems, fmt.Sprintf("errors[%d].code is not a positive integer", i))
		}
		if e.Message == nil || *e.Message == "" {
			problems = append(problems, fmt.Sprintf("errors[%d].message is empty", i))
		}
	}
	return problems
}

func positiveInt(n json.Number) bool {
	v, err := n.Int64()
	return err == nil && v > 0
}

// decodeArray decodes raw into dst, which must be a pointer to a slice, and fails
// unless raw is a JSON array (null is not one).
func decodeArray(raw json.RawMessage, dst any) error {
	if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
		return fmt.Errorf("want an array, got %q", raw)
	}
	return json.Unmarshal(raw, dst)
}

// wantAPIError fails t unless err is a *cloudflare.Error whose status is one of
// statuses, and returns it (or nil).
func wantAPIError(t *testing.T, err error, statuses ...int) *cloudflare.Error {
	t.Helper()
	if err == nil {
		t.Errorf("got success, want an API error with status %v", statuses)
		return nil
	}
	var apiErr *cloudflare.Error
	if !errors.As(err, &apiErr) {
		t.Errorf("got error %v (%T), want a *cloudflare.Error with status %v", err, err, statuses)
		return nil
	}
	if !slices.Contains(statuses, apiErr.StatusCode) {
		t.Errorf("got status %d, want %v; body: %s", apiErr.StatusCode, statuses,
			apiErr.JSON.RawJSON())
	}
	if len(apiErr.Errors) == 0 {
		t.Errorf("status %d error carries no errors: %s", apiErr.StatusCode, apiErr.JSON.RawJSON())
	}
	return apiErr
}

// mustSucceed fails t at once if err is not nil: later steps depend on the call.
func mustSucceed(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestEnvelopeProblems checks the envelope checker itself, so that a server answer
// it lets through is one that really conforms.
func TestEnvelopeProblems(t *testing.T) {
	const jsonType = "application/json; charset=utf-8"
	tests := []struct {
		name   string
		status int
		ct     string
		body   string
		ok     bool
	}{
		{"success", 200, jsonType,
			`{"success":true,"errors":[],"messages":[],"result":{"id":"x"}}`, true},
		{"failure", 404, "application/json",
			`{"success":false,"errors":[{"code":1003,"message":"not found"}],` +
				`"messages":[],"result":null}`, true},
		{"text body", 404, "text/plain", `404 page not found`, false},
		{"json but wrong type", 200, "text/plain",
			`{"success":true,"errors":[],"messages":[],"result":null}`, false},
		{"success disagrees", 400, jsonType,
			`{"success":true,"errors":[{"code":1,"message":"m"}],"messages":[],"result":null}`,
			false},
		{"success as string", 200, jsonType,
			`{"success":"true","errors":[],"messages":[],"result":null}`, false},
		{"no result", 404, jsonType,
			`{"success":false,"errors":[{"code":1,"message":"m"}],"messages":[]}`, false},
		{"null errors", 200, jsonType,
			`{"success":true,"errors":null,"messages":[],"result":null}`, false},
		{"no messages", 200, jsonType, `{"success":true,"errors":[],"result":null}`, false},
		{"failure without errors", 403, jsonType,
			`{"success":false,"errors":[],"messages":[],"result":null}`, false},
		{"zero code", 400, jsonType,
			`{"success":false,"errors":[{"code":0,"message":"m"}],"messages":[],"result":null}`,
			false},
		{"no message", 400, jsonType,
			`{"success":false,"errors":[{"code":7003}],"messages":[],"result":null}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := envelopeProblems(tt.status, tt.ct, []byte(tt.body))
			if (len(got) == 0) != tt.ok {
				t.Errorf("envelopeProblems(%d, %q, %s) = %q, want ok=%v",
					tt.status, tt.ct, tt.body, got, tt.ok)
			}
		})
	}
}
