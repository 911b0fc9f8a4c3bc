package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

// changeJSON is one entry of the change feed on the wire.
type changeJSON struct {
	Seq            int64   `json:"seq"`
	Kind           string  `json:"kind"`
	At             string  `json:"at"`
	RegistrationID string  `json:"registration_id"`
	DeviceID       string  `json:"device_id"`
	UserID         *string `json:"user_id"`
	Key            string  `json:"key"`
	KeyType        *string `json:"key_type"`
	TunnelType     *string `json:"tunnel_type"`
	PreviousKey    *string `json:"previous_key"`
	Active         bool    `json:"active"`
	PolicyID       string  `json:"policy_id"`
}

func toChangeJSON(c *device.Change) changeJSON {
	return changeJSON{
		Seq: c.Seq, Kind: string(c.Kind), At: formatTime(c.At), RegistrationID: c.RegistrationID,
		DeviceID: c.DeviceID, UserID: optionalString(c.UserID), Key: c.Key,
		KeyType: optionalString(string(c.KeyType)), TunnelType: optionalString(string(c.TunnelType)),
		PreviousKey: optionalString(c.PreviousKey), Active: c.Active, PolicyID: c.ProfileID,
	}
}

// changesInfo is the result_info of a changes page: after is the sequence number to
// ask from next, more says whether another page is ready now.
type changesInfo struct {
	Count   int   `json:"count"`
	PerPage int   `json:"per_page"`
	After   int64 `json:"after"`
	More    bool  `json:"more"`
}

// Feed tunables.
const (
	streamPoll      = time.Second      // re-read even without a wake-up, for other writers
	streamKeepalive = 15 * time.Second // a comment line keeps proxies from closing the stream
)

func (a *API) listChanges(w http.ResponseWriter, r *http.Request, accountID string) {
	q, err := strictParams(r, "after", "limit")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	after, err := parseSeq("after", q.Get("after"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	limit := device.DefaultChangesLimit
	if _, given := q["limit"]; given {
		if limit, err = strconv.Atoi(q.Get("limit")); err != nil {
			a.writeError(w, r, invalid("limit must be an integer from 1 to %d", device.MaxChangesLimit))
			return
		}
	}
	cs, err := a.svc.Changes(r.Context(), accountID, after, limit)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]changeJSON, len(cs))
	for i := range cs {
		out[i] = toChangeJSON(&cs[i])
		after = cs[i].Seq
	}
	writeEnvelope(w, http.StatusOK, envelope{Errors: []message{}, Messages: []message{},
		Result: out, Success: true, ResultInfo: &changesInfo{
			Count: len(out), PerPage: limit, After: after, More: len(out) == limit,
		}})
}

// streamChanges pushes the account's changes as Server-Sent Events, each with its
// sequence number as the event id, so that a client reconnecting with Last-Event-ID
// (or ?after=) misses nothing and sees nothing twice.
func (a *API) streamChanges(w http.ResponseWriter, r *http.Request, accountID string) {
	q, err := strictParams(r, "after")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	// A reconnecting client's Last-Event-ID overrides ?after=, which must still be
	// well formed: a bad parameter is a 400 whatever else the request holds.
	after, err := parseSeq("after", q.Get("after"))
	resumed := false
	if id := r.Header.Get("Last-Event-ID"); err == nil && id != "" {
		after, err = parseSeq("the Last-Event-ID header", id)
		resumed = true
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	ctx, stop := context.WithCancel(r.Context())
	defer stop()
	defer context.AfterFunc(a.streams, stop)()
	wake := a.svc.Subscribe(ctx) // before the first read, so no commit slips between
	first, err := a.svc.Changes(ctx, accountID, after, device.MaxChangesLimit)
	if resumed && device.KindOf(err) == device.KindInvalid { // the store says "after N"
		err = invalid("the Last-Event-ID header: %s", device.MessageOf(err))
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}

	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's write timeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": warpreg change feed\n\n")
	rc.Flush()

	s := &stream{a: a, w: w, rc: rc, accountID: accountID, after: after,
		recheck: func() error { return a.stillAuthorized(r, accountID) }}
	s.run(ctx, first, wake)
}

type stream struct {
	a         *API
	w         http.ResponseWriter
	rc        *http.ResponseController
	accountID string
	after     int64

	// recheck checks the credential again. It runs before every batch is sent and
	// at every poll, so a stream stops within a poll interval of its credential
	// being revoked or rolled, and never sends a change after the revocation
	// committed.
	recheck func() error
}

func (s *stream) run(ctx context.Context, batch []device.Change, wake <-chan string) {
	poll := time.NewTicker(streamPoll)
	defer poll.Stop()
	keepalive := time.NewTicker(streamKeepalive)
	defer keepalive.Stop()
	for {
		if len(batch) > 0 {
			if err := s.recheck(); err != nil {
				s.end(ctx, err)
				return
			}
		}
		if err := s.send(batch); err != nil {
			return
		}
		if len(batch) < device.MaxChangesLimit {
			select {
			case <-ctx.Done():
				return
			case <-wake:
			case <-poll.C:
				if err := s.recheck(); err != nil {
					s.end(ctx, err)
					return
				}
			case <-keepalive.C:
				if _, err := fmt.Fprint(s.w, ": keepalive\n\n"); err != nil || s.rc.Flush() != nil {
					return
				}
				batch = nil
				continue
			}
		}
		var err error
		batch, err = s.a.svc.Changes(ctx, s.accountID, s.after, device.MaxChangesLimit)
		if err != nil {
			s.end(ctx, err)
			return
		}
	}
}

func (s *stream) send(batch []device.Change) error {
	if len(batch) == 0 {
		return nil
	}
	for i := range batch {
		data, err := json.Marshal(toChangeJSON(&batch[i]))
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(s.w, "id: %d\nevent: change\ndata: %s\n\n", batch[i].Seq, data); err != nil {
			return err
		}
		s.after = batch[i].Seq
	}
	return s.rc.Flush()
}

// end ends a stream on err: with an error event, unless the client went away or
// the server is stopping (ctx is done), when there is nobody to tell.
func (s *stream) end(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	s.fail(err)
}

// fail ends a stream with an error event that carries the v4 error entry.
func (s *stream) fail(err error) {
	var code int
	switch device.KindOf(err) {
	case device.KindGone:
		code = codeGone
	case device.KindUnauthorized:
		code = codeAuthentication
		err = device.Errorf(device.KindUnauthorized, "authentication error: the "+
			"credential was revoked or rolled")
	case device.KindUnavailable:
		s.a.log.Warn("change stream: database busy", "err", err, "account_id", s.accountID)
		code = CodeBusy
	default:
		s.a.log.Error("change stream failed", "err", err, "account_id", s.accountID)
		err = device.Errorf(device.KindInternal, "internal error")
		code = codeInternal
	}
	data, _ := json.Marshal(message{Code: code, Message: device.MessageOf(err)})
	fmt.Fprintf(s.w, "event: error\ndata: %s\n\n", data)
	s.rc.Flush()
}

// parseSeq reads a change sequence number given as name ("after", or the header a
// reconnecting stream sends).
func parseSeq(name, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, invalid("%s must be a change sequence number (a non-negative integer)", name)
	}
	return n, nil
}

// keyLookupJSON answers the gateway lookup.
type keyLookupJSON struct {
	Active       bool             `json:"active"`
	Registration registrationJSON `json:"registration"`
}

func (a *API) registrationByKey(w http.ResponseWriter, r *http.Request, accountID string) {
	if _, err := strictParams(r); err != nil {
		a.writeError(w, r, err)
		return
	}
	reg, err := a.svc.RegistrationByKey(r.Context(), accountID, r.PathValue("key"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeResult(w, http.StatusOK, keyLookupJSON{
		Active: reg.Active(), Registration: toRegistrationJSON(reg, true),
	}, nil)
}
