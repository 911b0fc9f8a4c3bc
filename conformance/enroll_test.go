package conformance

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// enrollRequest is the body of POST /enroll/v1/registrations.
type enrollRequest struct {
	Key        string      `json:"key"`
	KeyType    string      `json:"key_type"`
	TunnelType string      `json:"tunnel_type"`
	Device     deviceFacts `json:"device"`
	User       enrollUser  `json:"user"`
}

type deviceFacts struct {
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

type enrollUser struct {
	Email  string   `json:"email"`
	Name   string   `json:"name"`
	Groups []string `json:"groups"`
}

// enrollment is the result of a successful enrolment.
type enrollment struct {
	ID             string `json:"id"`
	DeviceID       string `json:"device_id"`
	AccountID      string `json:"account_id"`
	Token          string `json:"token"`
	OverrideSecret string `json:"override_secret"`
}

// wireguardDevice returns an enrolment of a new machine with a fresh curve25519
// key for the given user.
func wireguardDevice(t *testing.T, name, email, userName string) enrollRequest {
	t.Helper()
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	mustSucceed(t, err, "generate curve25519 key")
	return enrollRequest{
		Key:        base64.StdEncoding.EncodeToString(priv.PublicKey().Bytes()),
		KeyType:    "curve25519",
		TunnelType: "wireguard",
		Device: deviceFacts{
			Name: name, Model: "MacBookPro18,3", Manufacturer: "Apple Inc.",
			DeviceType: "mac", OSVersion: "15.1.0", OSVersionExtra: "(a)",
			SerialNumber: "SN-" + randomHex(t, 6), HardwareID: "HW-" + randomHex(t, 8),
			MACAddress: "f2:3c:91:aa:bb:cc", ClientVersion: "2025.9.558.0",
		},
		User: enrollUser{Email: email, Name: userName, Groups: []string{"engineering"}},
	}
}

// masqueDevice is wireguardDevice with a P-256 key for MASQUE, sent as the base64 of
// its X.509 SubjectPublicKeyInfo.
func masqueDevice(t *testing.T, name, email, userName string) enrollRequest {
	t.Helper()
	req := wireguardDevice(t, name, email, userName)
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	mustSucceed(t, err, "generate P-256 key")
	der, err := x509.MarshalPKIXPublicKey(priv.PublicKey())
	mustSucceed(t, err, "encode P-256 key")
	req.Key = base64.StdEncoding.EncodeToString(der)
	req.KeyType, req.TunnelType = "secp256r1", "masque"
	return req
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	mustSucceed(t, err, "read random bytes")
	return hex.EncodeToString(b)
}

// enroll enrols req with the tenant's enrolment key and fails t unless the server
// answers 201 with a registration of account A.
func (tn *tenant) enroll(t *testing.T, req enrollRequest) enrollment {
	t.Helper()
	status, body := tn.postJSON(t, "/enroll/v1/registrations", tn.enrollKey, req)
	if status != http.StatusCreated {
		t.Fatalf("POST /enroll/v1/registrations: status %d, want 201; body: %s", status, body)
	}
	var env struct {
		Success bool       `json:"success"`
		Result  enrollment `json:"result"`
	}
	if err := json.Unmarshal(body, &env); err != nil || !env.Success {
		t.Fatalf("POST /enroll/v1/registrations: want a successful envelope, got %s", body)
	}
	r := env.Result
	if !uuidPattern.MatchString(r.ID) || !uuidPattern.MatchString(r.DeviceID) ||
		r.AccountID != tn.accountID || r.Token == "" {
		t.Fatalf("POST /enroll/v1/registrations: result %+v, want UUIDs, account %s, a token",
			r, tn.accountID)
	}
	return r
}

// heartbeat posts a heartbeat for a registration with its token and returns the
// status and body. A non-empty clientVersion is sent in the body.
func (tn *tenant) heartbeat(t *testing.T, reg enrollment, clientVersion string) (int, []byte) {
	t.Helper()
	body := map[string]string{}
	if clientVersion != "" {
		body["client_version"] = clientVersion
	}
	return tn.postJSON(t, "/enroll/v1/registrations/"+reg.ID+"/heartbeat", reg.Token, body)
}

// mustHeartbeat is heartbeat that fails t unless the server answers 2xx.
func (tn *tenant) mustHeartbeat(t *testing.T, reg enrollment, clientVersion string) {
	t.Helper()
	if status, body := tn.heartbeat(t, reg, clientVersion); status < 200 || status > 299 {
		t.Fatalf("heartbeat %s: status %d, want 2xx; body: %s", reg.ID, status, body)
	}
}

// postJSON posts v as JSON to path with a bearer token and returns the status and
// body.
func (tn *tenant) postJSON(t *testing.T, path, bearer string, v any) (int, []byte) {
	t.Helper()
	url := tn.srv.baseURL() + path
	payload, err := json.Marshal(v)
	mustSucceed(t, err, "encode request")
	req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, url,
		bytes.NewReader(payload))
	mustSucceed(t, err, "build request")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)

	res, err := tn.hc.Do(req)
	mustSucceed(t, err, "POST "+url)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	mustSucceed(t, err, "read response of POST "+url)
	return res.StatusCode, body
}
