package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/override"
)

// Cloudflare's deprecated /accounts/{account_id}/devices endpoints, as views over
// registrations. They work only in single-user accounts, where a device's id is its
// registration's id; the service refuses the rest.

// legacyDeviceJSON is a registration as the deprecated list shows it, a "device"
// (cloudflare-go's zero_trust.Device). Fields warpreg does not record (ip,
// os_distro_name, os_distro_revision) are left out rather than invented.
type legacyDeviceJSON struct {
	ID             string    `json:"id"`
	Created        string    `json:"created"`
	Deleted        bool      `json:"deleted"`
	DeviceType     string    `json:"device_type"`
	Key            string    `json:"key"`
	LastSeen       string    `json:"last_seen"`
	MACAddress     string    `json:"mac_address"`
	Manufacturer   string    `json:"manufacturer"`
	Model          string    `json:"model"`
	Name           string    `json:"name"`
	OSVersion      string    `json:"os_version"`
	OSVersionExtra string    `json:"os_version_extra"`
	RevokedAt      *string   `json:"revoked_at"`
	SerialNumber   string    `json:"serial_number"`
	Updated        string    `json:"updated"`
	User           *userJSON `json:"user"`
	Version        string    `json:"version"`
}

// legacyDeviceGetJSON is one device as the deprecated get shows it
// (zero_trust.DeviceGetResponse): the list's fields with the account and the key
// and tunnel types, null when unknown as on a registration.
type legacyDeviceGetJSON struct {
	legacyDeviceJSON
	Account    legacyAccountJSON `json:"account"`
	KeyType    *string           `json:"key_type"`
	TunnelType *string           `json:"tunnel_type"`
}

// legacyAccountJSON leaves out account_type, deprecated and meaningless here.
type legacyAccountJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func toLegacyDeviceJSON(v *device.DeviceView) legacyDeviceJSON {
	out := legacyDeviceJSON{
		ID: v.ID, Created: formatTime(v.CreatedAt), Deleted: !v.DeletedAt.IsZero(),
		DeviceType: v.Facts.DeviceType, Key: v.Key, LastSeen: formatTime(v.LastSeenAt),
		MACAddress: v.Facts.MACAddress, Manufacturer: v.Facts.Manufacturer,
		Model: v.Facts.Model, Name: v.Facts.Name, OSVersion: v.Facts.OSVersion,
		OSVersionExtra: v.Facts.OSVersionExtra, RevokedAt: optionalTime(v.RevokedAt),
		SerialNumber: v.Facts.SerialNumber, Updated: formatTime(v.UpdatedAt),
		Version: v.Facts.ClientVersion,
	}
	if v.User != nil {
		out.User = &userJSON{ID: v.User.ID, Email: v.User.Email, Name: v.User.Name}
	}
	return out
}

// overrideCodesJSON is the result of both override-code endpoints: one code per
// duration, keyed by hours.
type overrideCodesJSON struct {
	DisableForTime map[string]string `json:"disable_for_time"`
}

// legacyChunk is how many devices the deprecated list reads, and holds, at a time.
const legacyChunk = 500

// legacyWriteWindow is how long the client may take to read each chunk: the list
// of a large account outlives the server's write timeout, a stalled reader must not.
const legacyWriteWindow = time.Minute

// listLegacyDevices streams every live registration of the account. The endpoint
// has no pagination (cloudflare-go reads it as one page), so the rows are read in
// keyset chunks, each under its own deadline, and written as they come: memory stays
// bounded whatever the account's size. Deleted registrations are left out, as in
// every list; their tombstones stay readable by id.
func (a *API) listLegacyDevices(w http.ResponseWriter, r *http.Request, accountID string) {
	if _, err := strictParams(r); err != nil {
		a.writeError(w, r, err)
		return
	}
	batch, err := a.legacyChunk(r, accountID, "")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	io.WriteString(bw, `{"errors":[],"messages":[],"result":[`)

	n := 0
	for {
		for i := range batch {
			if n > 0 {
				bw.WriteByte(',')
			}
			b, _ := json.Marshal(toLegacyDeviceJSON(&batch[i]))
			if _, err := bw.Write(b); err != nil {
				return // the client has gone
			}
			n++
		}
		if len(batch) < a.chunk {
			break
		}
		if bw.Flush() != nil || rc.Flush() != nil {
			return
		}
		rc.SetWriteDeadline(time.Now().Add(legacyWriteWindow))
		if batch, err = a.legacyChunk(r, accountID, batch[len(batch)-1].ID); err != nil {
			// The status is sent: cut the connection, so the client sees a failed
			// response rather than a short list that looks complete.
			a.log.ErrorContext(r.Context(), "list devices: read failed mid-stream", "err", err,
				"request_id", requestID(r.Context()))
			panic(http.ErrAbortHandler)
		}
	}
	count := strconv.Itoa(n)
	io.WriteString(bw, `],"result_info":{"count":`+count+`,"page":1,"per_page":`+count+
		`,"total_count":`+count+`},"success":true}`+"\n")
	bw.Flush()
}

func (a *API) legacyChunk(r *http.Request, accountID, after string) ([]device.DeviceView, error) {
	ctx, cancel := context.WithTimeout(r.Context(), a.timeout)
	defer cancel()
	return a.svc.LegacyDevices(ctx, accountID, after, a.chunk)
}

func (a *API) getLegacyDevice(w http.ResponseWriter, r *http.Request, accountID string) {
	id := r.PathValue("device_id")
	if !device.ValidID(id) {
		writeNoRoute(w, r.URL.Path)
		return
	}
	if _, err := strictParams(r); err != nil {
		a.writeError(w, r, err)
		return
	}
	v, acct, err := a.svc.LegacyDevice(r.Context(), accountID, id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeResult(w, http.StatusOK, legacyDeviceGetJSON{
		legacyDeviceJSON: toLegacyDeviceJSON(v),
		Account:          legacyAccountJSON{ID: acct.ID, Name: acct.Name},
		KeyType:          optionalString(string(v.KeyType)),
		TunnelType:       optionalString(string(v.TunnelType)),
	}, nil)
}

func (a *API) revokeLegacyDevices(w http.ResponseWriter, r *http.Request, accountID string) {
	a.legacyBulk(w, r, accountID, a.svc.LegacyRevoke)
}

func (a *API) unrevokeLegacyDevices(w http.ResponseWriter, r *http.Request, accountID string) {
	a.legacyBulk(w, r, accountID, a.svc.LegacyUnrevoke)
}

// legacyBulk runs a deprecated revoke or unrevoke, whose body is a JSON array of
// device ids. An empty array is refused: it never means every device.
func (a *API) legacyBulk(w http.ResponseWriter, r *http.Request, accountID string, fn bulkFunc) {
	ids, err := a.decodeIDs(w, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	switch {
	case len(ids) == 0:
		a.writeError(w, r, invalid("the body must list at least one device id; "+
			"an empty list never means all devices"))
		return
	case len(ids) > device.MaxBulkIDs:
		a.writeError(w, r, invalid("at most %d device ids may be given in one call, not %d",
			device.MaxBulkIDs, len(ids)))
		return
	}
	a.bulk(w, r, accountID, ids, fn)
}

// decodeIDs reads a JSON array of strings from the body (see readBody).
func (a *API) decodeIDs(w http.ResponseWriter, r *http.Request) ([]string, error) {
	data, err := a.readBody(w, r)
	if err != nil {
		return nil, err
	}
	if data == nil {
		return nil, invalid("a JSON array of device ids is required as the request body")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var ids []string
	err = dec.Decode(&ids)
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return nil, invalid("request body is not valid: it must be a JSON array of " +
			"device id strings")
	case err != nil:
		return nil, invalid("request body is not valid: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalid("request body must hold exactly one JSON array")
	}
	return ids, nil
}

// registrationOverrideCodes issues the next set of admin override codes for a
// registration. It is a GET that writes: each call spends an issue counter and
// hands out a capability, so it needs a write credential.
func (a *API) registrationOverrideCodes(w http.ResponseWriter, r *http.Request, accountID string) {
	id := r.PathValue("registration_id")
	a.overrideCodes(w, r, id, func(ctx context.Context) (*device.OverrideIssue, error) {
		return a.svc.IssueOverride(ctx, accountID, id)
	})
}

// legacyOverrideCodes is the deprecated per-device form, with the same result.
func (a *API) legacyOverrideCodes(w http.ResponseWriter, r *http.Request, accountID string) {
	id := r.PathValue("device_id")
	a.overrideCodes(w, r, id, func(ctx context.Context) (*device.OverrideIssue, error) {
		return a.svc.LegacyIssueOverride(ctx, accountID, id)
	})
}

func (a *API) overrideCodes(w http.ResponseWriter, r *http.Request, id string,
	issue func(ctx context.Context) (*device.OverrideIssue, error),
) {
	if !device.ValidID(id) {
		writeNoRoute(w, r.URL.Path)
		return
	}
	if _, err := strictParams(r); err != nil {
		a.writeError(w, r, err)
		return
	}
	is, err := issue(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeResult(w, http.StatusOK, overrideCodesJSON{
		DisableForTime: override.Codes(is.Secret, is.Counter),
	}, nil)
}
