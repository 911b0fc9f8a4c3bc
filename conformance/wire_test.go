package conformance

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// wireRegistration is a registration as Cloudflare's API serialises it. Pointers
// tell null from a value where Cloudflare marks a field nullable.
type wireRegistration struct {
	ID        string `json:"id"`
	CreatedAt string `json:"created_at"`
	Device    struct {
		ID            string `json:"id"`
		Name          string `json:"name"`
		ClientVersion string `json:"client_version"`
	} `json:"device"`
	Key        string      `json:"key"`
	LastSeenAt string      `json:"last_seen_at"`
	UpdatedAt  string      `json:"updated_at"`
	DeletedAt  *string     `json:"deleted_at"`
	KeyType    *string     `json:"key_type"`
	Policy     *wirePolicy `json:"policy"`
	RevokedAt  *string     `json:"revoked_at"`
	TunnelType *string     `json:"tunnel_type"`
	User       *struct {
		ID    string `json:"id"`
		Email string `json:"email"`
		Name  string `json:"name"`
	} `json:"user"`
}

type wirePolicy struct {
	ID        string `json:"id"`
	Default   bool   `json:"default"`
	Deleted   bool   `json:"deleted"`
	Name      string `json:"name"`
	UpdatedAt string `json:"updated_at"`
}

// decodeRegistration decodes one registration object as the server sent it and
// checks its shape: every member Cloudflare documents is there with its JSON type,
// revoked_at and deleted_at are null unless set, timestamps are RFC 3339 in UTC, and
// policy is present exactly when it was asked for with include=policy.
func decodeRegistration(t *testing.T, raw string, withPolicy bool) wireRegistration {
	t.Helper()
	var r wireRegistration
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		t.Fatalf("decode registration: %v\n%s", err, raw)
	}
	var members map[string]json.RawMessage
	mustSucceed(t, json.Unmarshal([]byte(raw), &members), "decode registration members")

	wantKinds := map[string]byte{
		"id": '"', "created_at": '"', "device": '{', "key": '"', "last_seen_at": '"',
		"updated_at": '"', "user": '{', "key_type": '"', "tunnel_type": '"',
	}
	for name, kind := range wantKinds {
		if got := firstByte(members[name]); got != kind {
			t.Errorf("registration %s: %q is %s, want a JSON %s", r.ID, name,
				describe(members[name]), kindName(kind))
		}
	}
	for _, name := range []string{"deleted_at", "revoked_at"} {
		if got := firstByte(members[name]); got != 'n' && got != '"' {
			t.Errorf("registration %s: %q is %s, want null or a string", r.ID, name,
				describe(members[name]))
		}
	}
	_, hasPolicy := members["policy"]
	switch {
	case withPolicy && firstByte(members["policy"]) != '{':
		t.Errorf("registration %s: with include=policy, policy is %s, want an object",
			r.ID, describe(members["policy"]))
	case !withPolicy && hasPolicy:
		t.Errorf("registration %s: without include=policy, policy is %s, want it absent",
			r.ID, members["policy"])
	}
	checkNested(t, r.ID, "device", members["device"], "id", "name", "client_version")
	checkNested(t, r.ID, "user", members["user"], "id", "email", "name")
	if withPolicy {
		checkNested(t, r.ID, "policy", members["policy"],
			"id", "default", "deleted", "name", "updated_at")
	}
	checkTimestamps(t, &r)
	return r
}

func checkNested(t *testing.T, id, name string, raw json.RawMessage, want ...string) {
	t.Helper()
	var members map[string]json.RawMessage
	if json.Unmarshal(raw, &members) != nil {
		return // reported by the caller
	}
	for _, m := range want {
		if _, ok := members[m]; !ok {
			t.Errorf("registration %s: %s.%s is missing in %s", id, name, m, raw)
		}
	}
}

func checkTimestamps(t *testing.T, r *wireRegistration) {
	t.Helper()
	stamps := map[string]*string{
		"created_at": &r.CreatedAt, "last_seen_at": &r.LastSeenAt,
		"updated_at": &r.UpdatedAt, "deleted_at": r.DeletedAt, "revoked_at": r.RevokedAt,
	}
	if r.Policy != nil {
		stamps["policy.updated_at"] = &r.Policy.UpdatedAt
	}
	for name, s := range stamps {
		if s != nil {
			parseUTC(t, r.ID+" "+name, *s)
		}
	}
}

// parseUTC parses an RFC 3339 timestamp and fails t unless it is in UTC.
func parseUTC(t *testing.T, what, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Errorf("%s: %q is not RFC 3339: %v", what, s, err)
		return time.Time{}
	}
	if _, off := ts.Zone(); off != 0 {
		t.Errorf("%s: %q is not in UTC", what, s)
	}
	return ts
}

func firstByte(raw json.RawMessage) byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

func describe(raw json.RawMessage) string {
	if raw == nil {
		return "absent"
	}
	return string(raw)
}

func kindName(b byte) string {
	switch b {
	case '"':
		return "string"
	case '{':
		return "object"
	}
	return string(b)
}
