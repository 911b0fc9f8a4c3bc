package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/warpreg/warpreg/internal/device"
)

// The enrolment API is warpreg's own: see ARCHITECTURE.md for its contract.

type deviceFactsJSON struct {
	Name           string `json:"name"`
	Model          string `json:"model"`
	Manufacturer   string `json:"manufacturer"`
	DeviceType     string `json:"device_type"`
	OSVersion      string `json:"os_version"`
	OSVersionExtra string `json:"os_version_extra"`
	SerialNumber   string `json:"serial_number"`
	HardwareID     string `json:"hardware_id"`
	MACAddress     string `json:"mac_address"`
	ClientVersion  string `json:"client_version"`
}

func (d *deviceFactsJSON) facts() device.DeviceFacts {
	return device.DeviceFacts{
		Name: d.Name, Model: d.Model, Manufacturer: d.Manufacturer, DeviceType: d.DeviceType,
		OSVersion: d.OSVersion, OSVersionExtra: d.OSVersionExtra, SerialNumber: d.SerialNumber,
		HardwareID: d.HardwareID, MACAddress: d.MACAddress, ClientVersion: d.ClientVersion,
	}
}

type enrollRequestJSON struct {
	Key        string           `json:"key"`
	KeyType    string           `json:"key_type"`
	TunnelType string           `json:"tunnel_type"`
	Device     *deviceFactsJSON `json:"device"`
	User       *struct {
		Email  string   `json:"email"`
		Name   string   `json:"name"`
		Groups []string `json:"groups"`
	} `json:"user"`
}

// enrollmentJSON is the enrolment result. override_secret is the secret the client
// checks admin override codes with, in unpadded URL-safe base64; like the token, it
// is shown only here.
type enrollmentJSON struct {
	ID             string `json:"id"`
	DeviceID       string `json:"device_id"`
	AccountID      string `json:"account_id"`
	Token          string `json:"token"`
	OverrideSecret string `json:"override_secret"`
}

func (a *API) enroll(w http.ResponseWriter, r *http.Request) {
	key := bearer(r)
	if key == "" {
		a.writeClientError(w, r, errMissingBearer("an enrollment key"))
		return
	}
	limitKey := enrollKeyKey(key)
	if a.refuseFailing(w, r) || !a.peekCredential(w, limitKey) {
		return
	}
	// A bad key is answered before the body is read: a client that sent
	// Expect: 100-continue gets its 401 without sending the body at all.
	if err := a.svc.CheckEnrollmentKey(r.Context(), key); err != nil {
		a.clientFailed(w, r, err, limitKey)
		return
	}

	req, err := a.decodeEnroll(w, r)
	if err != nil {
		a.writeClientError(w, r, err)
		return
	}
	e, err := a.svc.Enroll(r.Context(), key, req)
	if err != nil {
		a.clientFailed(w, r, err, limitKey)
		return
	}
	a.spendCredential(w, limitKey)
	reg := e.Registration
	writeResult(w, http.StatusCreated, enrollmentJSON{
		ID: reg.ID, DeviceID: reg.DeviceID, AccountID: reg.AccountID, Token: e.Token,
		OverrideSecret: base64.RawURLEncoding.EncodeToString(e.OverrideSecret),
	}, nil)
}

// decodeEnroll reads an enrolment's body into the request the service takes.
func (a *API) decodeEnroll(w http.ResponseWriter, r *http.Request) (device.EnrollRequest, error) {
	var body enrollRequestJSON
	if err := a.decodeBody(w, r, &body, false); err != nil {
		return device.EnrollRequest{}, err
	}
	if body.Device == nil || body.User == nil {
		return device.EnrollRequest{}, invalid("device and user are required")
	}
	return device.EnrollRequest{
		Key: body.Key, KeyType: device.KeyType(body.KeyType),
		TunnelType: device.TunnelType(body.TunnelType), Device: body.Device.facts(),
		UserEmail: body.User.Email, UserName: body.User.Name, UserGroups: body.User.Groups,
	}, nil
}

type clientUpdateJSON struct {
	Key        *string          `json:"key"`
	KeyType    *string          `json:"key_type"`
	TunnelType *string          `json:"tunnel_type"`
	Device     *deviceFactsJSON `json:"device"`
}

func (a *API) updateClient(w http.ResponseWriter, r *http.Request) {
	token := bearer(r)
	if token == "" {
		a.writeClientError(w, r, errMissingBearer("the registration's token"))
		return
	}
	limitKey := registrationKey(r.PathValue("id"))
	if !a.peekCredential(w, limitKey) {
		return
	}
	// A wrong token is answered before the body is read, as a bad enrolment key is.
	if err := a.svc.CheckClientToken(r.Context(), r.PathValue("id"), token); err != nil {
		a.clientFailed(w, r, err, limitKey)
		return
	}
	var body clientUpdateJSON
	if err := a.decodeBody(w, r, &body, false); err != nil {
		a.writeClientError(w, r, err)
		return
	}
	var u device.ClientUpdate
	u.Key = body.Key
	if body.KeyType != nil {
		kt := device.KeyType(*body.KeyType)
		u.KeyType = &kt
	}
	if body.TunnelType != nil {
		tt := device.TunnelType(*body.TunnelType)
		u.TunnelType = &tt
	}
	if body.Device != nil {
		f := body.Device.facts()
		u.Device = &f
	}
	reg, err := a.svc.UpdateClient(r.Context(), r.PathValue("id"), token, u)
	if err != nil {
		a.clientFailed(w, r, err, limitKey)
		return
	}
	a.spendCredential(w, limitKey)
	writeResult(w, http.StatusOK, toRegistrationJSON(reg, true), nil)
}

func (a *API) heartbeat(w http.ResponseWriter, r *http.Request) {
	token := bearer(r)
	if token == "" {
		a.writeClientError(w, r, errMissingBearer("the registration's token"))
		return
	}
	limitKey := registrationKey(r.PathValue("id"))
	if !a.peekCredential(w, limitKey) {
		return
	}
	var body struct {
		ClientVersion string `json:"client_version"`
	}
	if err := a.decodeBody(w, r, &body, true); err != nil {
		a.writeClientError(w, r, err)
		return
	}
	reg, err := a.svc.Heartbeat(r.Context(), r.PathValue("id"), token, body.ClientVersion)
	if err != nil {
		a.clientFailed(w, r, err, limitKey)
		return
	}
	a.spendCredential(w, limitKey)
	// The encoder a get uses: the same bytes as toRegistrationJSON through
	// encoding/json, without the reflection, on the busiest client call.
	writeRegistrations(w, []device.Registration{*reg}, false, true, nil)
}

// rollClientToken answers POST /enroll/v1/registrations/{id}/token: the client
// trades its secret for a new one, as a periodic rotation or after a suspected leak.
func (a *API) rollClientToken(w http.ResponseWriter, r *http.Request) {
	token := bearer(r)
	if token == "" {
		a.writeClientError(w, r, errMissingBearer("the registration's token"))
		return
	}
	limitKey := registrationKey(r.PathValue("id"))
	if !a.peekCredential(w, limitKey) {
		return
	}
	var body struct{}
	if err := a.decodeBody(w, r, &body, true); err != nil {
		a.writeClientError(w, r, err)
		return
	}
	secret, override, err := a.svc.RollClientToken(r.Context(), r.PathValue("id"), token)
	if err != nil {
		a.clientFailed(w, r, err, limitKey)
		return
	}
	a.spendCredential(w, limitKey)
	writeResult(w, http.StatusOK, map[string]string{
		"id": r.PathValue("id"), "token": secret,
		"override_secret": base64.RawURLEncoding.EncodeToString(override),
	}, nil)
}

// clientFailed answers a refused call of the enrolment API. A wrong credential
// counts against the client address (a 429 once its failures are spent); a refusal
// that came after the credential proved good spends the credential's budget.
func (a *API) clientFailed(w http.ResponseWriter, r *http.Request, err error, limitKey string) {
	switch device.KindOf(err) {
	case device.KindUnauthorized:
		if a.failed(w, r, err) {
			return
		}
	case device.KindRevoked, device.KindConflict, device.KindNotFound:
		a.spendCredential(w, limitKey)
	}
	a.writeClientError(w, r, err)
}

// writeClientError is writeError for the enrolment API, where a refused credential
// is a 401: the client must present another, not ask for more permissions.
func (a *API) writeClientError(w http.ResponseWriter, r *http.Request, err error) {
	if device.KindOf(err) == device.KindUnauthorized {
		writeErrors(w, http.StatusUnauthorized,
			message{Code: codeAuthentication, Message: device.MessageOf(err)})
		return
	}
	a.writeError(w, r, err)
}

func errMissingBearer(what string) error {
	return device.Errorf(device.KindUnauthorized,
		"one Authorization: Bearer header with %s is required", what)
}

// readBody reads the body of a route that takes one. Such routes take no query
// parameters, so a query string that holds any is refused, as are bodies over the
// limit and bodies that are not UTF-8. An empty body, or one of white space only,
// is returned as nil.
func (a *API) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if _, err := strictParams(r); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, err
	case err != nil:
		return nil, invalid("request body could not be read")
	case len(bytes.TrimSpace(data)) == 0:
		return nil, nil
	case !utf8.Valid(data):
		// The decoder would quietly turn each bad byte into U+FFFD and store that.
		return nil, invalid("request body is not valid UTF-8")
	case loneSurrogate(data):
		// And each half of a surrogate pair escaped alone, likewise.
		return nil, invalid("request body is not valid: a \\u escape names half of a " +
			"UTF-16 surrogate pair without the other")
	}
	return data, nil
}

// loneSurrogate reports whether JSON text escapes a UTF-16 surrogate (\uD800 to
// \uDFFF) other than as a high one followed at once by a low one. It looks only at
// escapes, which valid JSON has only inside strings; an escaped backslash before a
// "u" is skipped with it.
func loneSurrogate(data []byte) bool {
	for i := bytes.IndexByte(data, '\\'); i >= 0 && i+1 < len(data); {
		next := i + 2 // past a two-character escape
		if data[i+1] == 'u' {
			r, ok := escapedUnit(data[i:])
			switch {
			case !ok: // the decoder refuses it
			case r >= 0xDC00 && r <= 0xDFFF:
				return true
			case r >= 0xD800 && r <= 0xDBFF:
				low, ok := escapedUnit(data[i+6:])
				if !ok || low < 0xDC00 || low > 0xDFFF {
					return true
				}
				next = i + 12
			default:
				next = i + 6
			}
		}
		j := bytes.IndexByte(data[min(next, len(data)):], '\\')
		if j < 0 {
			break
		}
		i = next + j
	}
	return false
}

// escapedUnit reads the UTF-16 unit that a \u escape, with its four hex digits, names at
// the start of b.
func escapedUnit(b []byte) (rune, bool) {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[2:6]), 16, 16)
	return rune(n), err == nil
}

// decodeBody decodes one JSON value (an object, or an array for list bodies) from
// the request body (see readBody) into v. Unknown fields and trailing data are
// refused; an empty body is allowed only when emptyOK.
func (a *API) decodeBody(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) error {
	data, err := a.readBody(w, r)
	switch {
	case err != nil:
		return err
	case data == nil && emptyOK:
		return nil
	case data == nil:
		return invalid("a JSON request body is required")
	}

	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("request body is not valid: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("request body must hold exactly one JSON value")
	}
	return nil
}

// jsonKind names a Go kind as the JSON type a client must send.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "number"
	default:
		return "object"
	}
}

// jsonPath returns the JSON name of a field that a decoding error reports. The
// decoder's path names embedded structs by their Go type; those names are not the
// client's to see. Every JSON name of the API is lower case, and every embedded
// type's name has a capital, so the segments with one are dropped.
func jsonPath(field string) string {
	var out []string
	for _, seg := range strings.Split(field, ".") {
		if strings.ToLower(seg) == seg {
			out = append(out, seg)
		}
	}
	return strings.Join(out, ".")
}

// jsonProblem describes a JSON decoding error without echoing the body back.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return "it must be a JSON " + jsonKind(typeErr.Type.Kind())
	case errors.As(err, &typeErr):
		return fmt.Sprintf("field %s must be a JSON %s", jsonPath(typeErr.Field),
			jsonKind(typeErr.Type.Kind()))
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("malformed JSON at byte %d", syntaxErr.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	default:
		return "malformed JSON"
	}
}
