package httpapi

import (
	"net/http"
	"strconv"

	"github.com/warpreg/warpreg/internal/device"
)

// auditJSON is one audit entry on the wire.
type auditJSON struct {
	Seq    int64           `json:"seq"`
	At     string          `json:"at"`
	Actor  auditActorJSON  `json:"actor"`
	Action string          `json:"action"`
	Target auditTargetJSON `json:"target"`
	Before device.Snapshot `json:"before"`
	After  device.Snapshot `json:"after"`
}

type auditActorJSON struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Address string `json:"address"`
}

type auditTargetJSON struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type auditInfo struct {
	Count   int    `json:"count"`
	PerPage int    `json:"per_page"`
	Cursor  string `json:"cursor"`
}

// listAudit pages an account's audit log, newest first. The cursor is signed and
// bound to the account and filters, as the registration list's are.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request, accountID string) {
	v, err := queryParams(r, "per_page", "cursor", "target_id", "target_type")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	q := device.AuditQuery{Limit: device.DefaultPerPage, TargetID: v.Get("target_id"),
		TargetType: v.Get("target_type")}
	if _, given := v["per_page"]; given {
		n, err := strconv.Atoi(v.Get("per_page"))
		if err != nil || n < 1 || n > device.MaxPerPage {
			a.writeError(w, r, invalid("per_page must be an integer from 1 to %d",
				device.MaxPerPage))
			return
		}
		q.Limit = n
	}
	fingerprint := "audit|" + accountID + "|" + q.TargetType + "|" + q.TargetID
	if c := v.Get("cursor"); c != "" {
		p, err := a.cursors.decode(fingerprint, c)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if q.Before, err = strconv.ParseInt(p.Value, 10, 64); err != nil || q.Before < 1 {
			a.writeError(w, r, invalid("cursor is not valid for this query; start again without it"))
			return
		}
	}
	entries, err := a.svc.AuditLog(r.Context(), accountID, q)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]auditJSON, len(entries))
	for i, e := range entries {
		out[i] = auditJSON{
			Seq: e.Seq, At: formatTime(e.At), Action: e.Action,
			Actor:  auditActorJSON{Type: string(e.Actor.Kind), ID: e.Actor.ID, Address: e.Actor.Addr},
			Target: auditTargetJSON{Type: e.TargetType, ID: e.TargetID},
			Before: e.Before, After: e.After,
		}
	}
	info := &auditInfo{Count: len(out), PerPage: q.Limit}
	if len(out) == q.Limit && out[len(out)-1].Seq > 1 {
		last := strconv.FormatInt(out[len(out)-1].Seq, 10)
		info.Cursor = a.cursors.encode(fingerprint, &device.Position{Value: last})
	}
	writeEnvelope(w, http.StatusOK, envelope{Errors: []message{}, Messages: []message{},
		Result: out, Success: true, ResultInfo: info})
}
