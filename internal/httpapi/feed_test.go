package httpapi_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

type changesPage struct {
	Result []struct {
		Seq            int64   `json:"seq"`
		Kind           string  `json:"kind"`
		RegistrationID string  `json:"registration_id"`
		Key            string  `json:"key"`
		PreviousKey    *string `json:"previous_key"`
		Active         bool    `json:"active"`
	} `json:"result"`
	ResultInfo struct {
		After int64 `json:"after"`
		More  bool  `json:"more"`
	} `json:"result_info"`
}

func (h *harness) changes(query string) (int, changesPage) {
	h.t.Helper()
	rec := h.admin("GET", "/api/v1/accounts/"+h.acct.ID+"/registrations/changes?"+query)
	var p changesPage
	if rec.Code == http.StatusOK {
		decode(h.t, rec, &p)
	}
	return rec.Code, p
}

func TestChangeFeedRecordsEveryChange(t *testing.T) {
	h := newHarness(t, false)
	a := h.enroll("a", "a@example.com", "A")
	b := h.enroll("b", "b@example.com", "B")
	h.admin("POST", h.regsPath("/revoke?id="+a.ID+"&id="+b.ID))
	h.admin("POST", h.regsPath("/unrevoke?id="+a.ID))
	newKey := wgKey()
	rec := h.do("PATCH", "/enroll/v1/registrations/"+a.ID, map[string]any{"key": newKey},
		"Authorization", "Bearer "+a.Token)
	if rec.Code != http.StatusOK {
		t.Fatalf("rotate: %d %s", rec.Code, rec.Body)
	}
	h.admin("DELETE", h.regsPath("/"+b.ID))
	h.admin("POST", h.regsPath("/revoke?id="+a.ID+"&id=00000000-0000-4000-8000-000000000000"))

	wantKinds := []string{"enrolled", "enrolled", "revoked", "revoked", "unrevoked",
		"key_rotated", "deleted"}
	var got []string
	after := int64(0)
	for {
		status, p := h.changes("limit=3&after=" + strconv.FormatInt(after, 10))
		if status != http.StatusOK {
			t.Fatalf("changes: status %d", status)
		}
		for i, c := range p.Result {
			if c.Seq != after+int64(i)+1 {
				t.Errorf("seq %d follows %d", c.Seq, after+int64(i))
			}
			got = append(got, c.Kind)
			if c.Kind == "key_rotated" && (c.Key != newKey || c.PreviousKey == nil) {
				t.Errorf("key_rotated carries key %q previous %v", c.Key, c.PreviousKey)
			}
		}
		after = p.ResultInfo.After
		if !p.ResultInfo.More {
			break
		}
	}
	if strings.Join(got, ",") != strings.Join(wantKinds, ",") {
		t.Errorf("kinds = %v, want %v (the failed bulk revoke must log nothing)", got, wantKinds)
	}
}

func TestChangeFeedPrunedIsGone(t *testing.T) {
	h := newHarness(t, false)
	h.enroll("a", "a@example.com", "A")
	h.enroll("b", "b@example.com", "B")
	if _, err := h.svc.PruneChanges(t.Context(), 0); err != nil {
		t.Fatal(err)
	}
	rec := h.admin("GET", "/api/v1/accounts/"+h.acct.ID+"/registrations/changes?after=0")
	if codes := errorCodes(t, rec); rec.Code != http.StatusGone || codes[0] != 1006 {
		t.Errorf("after a pruned sequence: %d %v", rec.Code, codes)
	}
	h.enroll("c", "c@example.com", "C")
	if status, p := h.changes("after=2"); status != http.StatusOK || len(p.Result) != 1 {
		t.Errorf("after the pruned horizon: %d, %d changes", status, len(p.Result))
	}
	if status, _ := h.changes("after=-1"); status != http.StatusBadRequest {
		t.Errorf("negative after: %d", status)
	}
}

func TestKeyLookup(t *testing.T) {
	h := newHarness(t, false)
	a := h.enroll("a", "a@example.com", "A")
	var reg struct{ Result struct{ Key string } }
	decode(t, h.admin("GET", h.regsPath("/"+a.ID)), &reg)
	urlKey := base64.RawURLEncoding.EncodeToString(mustStd(t, reg.Result.Key))
	path := "/api/v1/accounts/" + h.acct.ID + "/registrations/by-key/" + urlKey

	var got struct {
		Result struct {
			Active       bool
			Registration struct{ ID string }
		}
	}
	rec := h.admin("GET", path)
	decode(t, rec, &got)
	if rec.Code != http.StatusOK || !got.Result.Active || got.Result.Registration.ID != a.ID {
		t.Fatalf("lookup: %d %s", rec.Code, rec.Body)
	}
	h.admin("POST", h.regsPath("/revoke?id="+a.ID))
	decode(t, h.admin("GET", path), &got)
	if got.Result.Active {
		t.Error("a revoked registration's key still looks active")
	}
	h.admin("DELETE", h.regsPath("/"+a.ID))
	if rec := h.admin("GET", path); rec.Code != http.StatusNotFound {
		t.Errorf("a deleted registration's key: %d, want 404", rec.Code)
	}
	if rec := h.admin("GET", "/api/v1/accounts/"+h.acct.ID+"/registrations/by-key/%2B%2B"); rec.Code != 400 {
		t.Errorf("a key that is not URL-safe base64: %d, want 400", rec.Code)
	}
}

func mustStd(t *testing.T, s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestChangeStream reads the SSE stream over a real connection: it replays from
// ?after=, then pushes a change committed while it is open, and a reconnect with
// Last-Event-ID resumes without repeats.
func TestChangeStream(t *testing.T) {
	h := newHarness(t, false)
	srv := httptest.NewServer(h.api)
	defer srv.Close()
	a := h.enroll("a", "a@example.com", "A")
	h.enroll("b", "b@example.com", "B")

	open := func(lastID string) (*bufio.Reader, func()) {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/api/v1/accounts/"+
			h.acct.ID+"/registrations/changes/stream", nil)
		req.Header.Set("Authorization", "Bearer "+h.readToken)
		req.Header.Set("Last-Event-ID", lastID)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		return bufio.NewReader(resp.Body), func() { resp.Body.Close() }
	}
	next := func(r *bufio.Reader) (id int64, kind string) {
		t.Helper()
		deadline := time.AfterFunc(10*time.Second, func() { t.Error("no event within 10s") })
		defer deadline.Stop()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("read stream: %v", err)
			}
			switch {
			case strings.HasPrefix(line, "id: "):
				id, _ = strconv.ParseInt(strings.TrimSpace(line[4:]), 10, 64)
			case strings.HasPrefix(line, "data: "):
				var c struct{ Kind string }
				json.Unmarshal([]byte(line[6:]), &c)
				kind = c.Kind
			case line == "\n" && id != 0:
				return id, kind
			}
		}
	}

	r, closeStream := open("1")
	if id, kind := next(r); id != 2 || kind != "enrolled" {
		t.Errorf("replay: id %d kind %s, want 2 enrolled", id, kind)
	}
	h.admin("POST", h.regsPath("/revoke?id="+a.ID))
	if id, kind := next(r); id != 3 || kind != "revoked" {
		t.Errorf("pushed: id %d kind %s, want 3 revoked", id, kind)
	}
	closeStream()

	h.admin("POST", h.regsPath("/unrevoke?id="+a.ID))
	r, closeStream = open("3")
	defer closeStream()
	if id, kind := next(r); id != 4 || kind != "unrevoked" {
		t.Errorf("resumed: id %d kind %s, want 4 unrevoked", id, kind)
	}
}

// TestChangeStreamEndsWhenCredentialRevoked checks that an open stream stops, with an
// error event and no further change, once its token is revoked: the check at the
// start of the request is not enough for a request that lasts for hours.
func TestChangeStreamEndsWhenCredentialRevoked(t *testing.T) {
	h := newHarness(t, false)
	srv := httptest.NewServer(h.api)
	defer srv.Close()
	a := h.enroll("a", "a@example.com", "A")
	tok, secret, err := h.svc.CreateAPIToken(t.Context(), h.acct.ID, "watcher", true)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/api/v1/accounts/"+
		h.acct.ID+"/registrations/changes/stream?after=0", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := bufio.NewReader(resp.Body)
	readUntil := func(prefix string) string {
		t.Helper()
		deadline := time.AfterFunc(10*time.Second, func() { resp.Body.Close() })
		defer deadline.Stop()
		for {
			line, err := body.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended before %q: %v", prefix, err)
			}
			if strings.HasPrefix(line, prefix) {
				return line
			}
		}
	}
	readUntil("data: ") // the replay of the enrolment

	if err := h.svc.RevokeCredential(t.Context(), device.CredentialAPIToken, h.acct.ID,
		tok.ID); err != nil {
		t.Fatal(err)
	}
	h.admin("POST", h.regsPath("/revoke?id="+a.ID))
	line := readUntil("event: ")
	if line != "event: error\n" {
		t.Fatalf("after the revocation the stream sent %q, want an error event", line)
	}
	if data := readUntil("data: "); !strings.Contains(data, `"code":10000`) {
		t.Errorf("error event %q, want code 10000", data)
	}
	if rest, _ := io.ReadAll(body); strings.Contains(string(rest), "event: change") {
		t.Errorf("the stream went on after its error: %q", rest)
	}
}
