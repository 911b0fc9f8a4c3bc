package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
)

// feedChange is an entry of the change feed, as the test reads it.
type feedChange struct {
	Seq            int64   `json:"seq"`
	Kind           string  `json:"kind"`
	RegistrationID string  `json:"registration_id"`
	Key            string  `json:"key"`
	PreviousKey    *string `json:"previous_key"`
	Active         bool    `json:"active"`
}

// wireRegistration is a registration, as the test reads it.
type wireRegistration struct {
	ID        string  `json:"id"`
	Key       string  `json:"key"`
	RevokedAt *string `json:"revoked_at"`
	DeletedAt *string `json:"deleted_at"`
	Device    struct {
		Name string `json:"name"`
	} `json:"device"`
}

func (r *wireRegistration) state() regState {
	return regState{key: r.Key, revoked: r.RevokedAt != nil, deleted: r.DeletedAt != nil}
}

// getEnvelope GETs url with the admin token and decodes the envelope's result and
// result_info into result and info.
func getEnvelope(t *testing.T, url, token string, result, info any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Result     json.RawMessage
		ResultInfo json.RawMessage `json:"result_info"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: status %d, %v", url, resp.StatusCode, err)
	}
	if err := json.Unmarshal(env.Result, result); err != nil {
		t.Fatalf("GET %s: result: %v", url, err)
	}
	if info != nil {
		if err := json.Unmarshal(env.ResultInfo, info); err != nil {
			t.Fatalf("GET %s: result_info: %v", url, err)
		}
	}
}

// readChanges reads an account's whole change log.
func readChanges(t *testing.T, base, acct, token string) []feedChange {
	t.Helper()
	var all []feedChange
	for after := int64(0); ; {
		var page []feedChange
		var info struct {
			After int64
			More  bool
		}
		getEnvelope(t, base+"/api/v1/accounts/"+acct+"/registrations/changes?limit=1000&after="+
			strconv.FormatInt(after, 10), token, &page, &info)
		all = append(all, page...)
		if !info.More {
			return all
		}
		after = info.After
	}
}

// listAll lists an account's registrations with status and returns them with the
// list's total_count.
func listAll(t *testing.T, base, acct, token, status string) ([]wireRegistration, int) {
	t.Helper()
	var all []wireRegistration
	for cursor := ""; ; {
		var page []wireRegistration
		var info struct {
			TotalCount int `json:"total_count"`
			Cursor     string
		}
		getEnvelope(t, base+"/client/v4/accounts/"+acct+"/devices/registrations?per_page=1000"+
			"&status="+status+"&cursor="+url.QueryEscape(cursor), token, &page, &info)
		all = append(all, page...)
		if info.Cursor == "" {
			return all, info.TotalCount
		}
		cursor = info.Cursor
	}
}

// replay derives each registration's state from the change log, checking that the
// log has no gap and that each entry follows from the ones before it.
func replay(t *testing.T, changes []feedChange) map[string]*regState {
	t.Helper()
	states := map[string]*regState{}
	for i, c := range changes {
		if c.Seq != int64(i+1) {
			t.Fatalf("change %d has seq %d: the log has a gap or is out of order", i+1, c.Seq)
		}
		s := states[c.RegistrationID]
		if (s == nil) != (c.Kind == "enrolled") || (s != nil && s.deleted) {
			t.Fatalf("change %d (%s of %s) does not follow from the log before it",
				c.Seq, c.Kind, c.RegistrationID)
		}
		switch c.Kind {
		case "enrolled":
			s = &regState{key: c.Key}
			states[c.RegistrationID] = s
		case "key_rotated":
			if c.PreviousKey == nil || *c.PreviousKey != s.key || s.revoked {
				t.Fatalf("change %d rotates %s from %q, but its key was %s (revoked %v)",
					c.Seq, c.RegistrationID, deref(c.PreviousKey), s.key, s.revoked)
			}
			s.key = c.Key
		case "revoked":
			if s.revoked || c.Active {
				t.Fatalf("change %d revokes %s, already revoked %v, active %v",
					c.Seq, c.RegistrationID, s.revoked, c.Active)
			}
			s.revoked = true
		case "deleted":
			s.deleted = true
		default:
			t.Fatalf("change %d has kind %q, which the test never caused", c.Seq, c.Kind)
		}
		if c.Key != s.key {
			t.Fatalf("change %d carries key %s, the log's state has %s", c.Seq, c.Key, s.key)
		}
	}
	return states
}

func deref(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

// verify checks the database behind the server at base against the change log and
// against what the workers were told, then settles the writes left unanswered.
func (x *crashTest) verify(t *testing.T, base string) {
	t.Helper()
	changes := readChanges(t, base, x.acct, x.token)
	x.changes = len(changes)
	logged := replay(t, changes)
	rows := x.checkRows(t, base, logged)

	owned := map[string]bool{}
	for _, w := range x.workers {
		if w.pending != nil {
			x.cutOff++
			if r, ok := rows[w.pending.hw]; ok {
				if r.Key != w.pending.key {
					t.Errorf("unanswered enrolment of %s stored key %s, not the %s sent",
						w.pending.hw, r.Key, w.pending.key)
				}
				x.applied++
				w.regs = append(w.regs, &crashReg{id: r.ID, hw: w.pending.hw,
					want: regState{key: r.Key}})
			}
			w.pending = nil
		}
		for _, r := range w.regs {
			owned[r.id] = true
			x.settle(t, r, logged[r.id])
		}
	}
	for id := range logged {
		if !owned[id] {
			t.Errorf("registration %s is in the log but no worker enrolled it", id)
		}
	}
}

// checkRows compares every registration's row with the state its change log
// implies, and the account's counters with the rows. It returns the live rows by
// device name.
func (x *crashTest) checkRows(
	t *testing.T, base string, logged map[string]*regState,
) map[string]wireRegistration {
	t.Helper()
	listed, total := listAll(t, base, x.acct, x.token, "all")
	_, revokedTotal := listAll(t, base, x.acct, x.token, "revoked")
	byName := map[string]wireRegistration{}
	wantTotal, wantRevoked := 0, 0
	for _, r := range listed {
		byName[r.Device.Name] = r
		if s := logged[r.ID]; s == nil || *s != r.state() {
			t.Errorf("registration %s: row %+v, change log %+v", r.ID, r.state(), s)
		}
	}
	for id, s := range logged {
		if !s.deleted {
			wantTotal++
			if s.revoked {
				wantRevoked++
			}
			continue
		}
		if x.tombstones[id] {
			continue // deletion is final; read once
		}
		var r wireRegistration
		getEnvelope(t, base+"/client/v4/accounts/"+x.acct+"/devices/registrations/"+id,
			x.token, &r, nil)
		if r.state() != *s {
			t.Errorf("deleted registration %s: row %+v, change log %+v", id, r.state(), *s)
		}
		x.tombstones[id] = true
	}
	if len(listed) != wantTotal || total != wantTotal || revokedTotal != wantRevoked {
		t.Errorf("%d registrations listed, total_count %d, revoked %d; the log has %d live, "+
			"%d of them revoked", len(listed), total, revokedTotal, wantTotal, wantRevoked)
	}
	return byName
}

// settle checks r against the database's state got: an acknowledged write must be
// there; an unanswered one may or may not be, but not in part.
func (x *crashTest) settle(t *testing.T, r *crashReg, got *regState) {
	t.Helper()
	switch {
	case got == nil:
		t.Errorf("registration %s (%s), acknowledged, is not in the database", r.id, r.hw)
	case r.next == nil && *got != r.want:
		t.Errorf("registration %s (%s): acknowledged state %+v, database has %+v",
			r.id, r.hw, r.want, *got)
	case r.next != nil && *got != r.want && *got != *r.next:
		t.Errorf("registration %s (%s): a write cut off by the kill left %+v, "+
			"neither %+v before it nor %+v after", r.id, r.hw, *got, r.want, *r.next)
	case r.next != nil:
		x.cutOff++
		if *got == *r.next {
			x.applied++
		}
		r.want, r.next = *got, nil
	}
}
