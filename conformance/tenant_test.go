package conformance

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/option"
)

var (
	accountIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)
	uuidPattern      = regexp.MustCompile(
		`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// The shapes that the CLI prints with --json.
type (
	cliAccount struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		MultiUser bool   `json:"multi_user"`
	}
	cliToken struct {
		ID        string `json:"id"`
		Value     string `json:"value"`
		Name      string `json:"name"`
		AccountID string `json:"account_id"`
		ReadOnly  bool   `json:"read_only"`
	}
	cliGlobalKey struct {
		Email     string `json:"email"`
		Value     string `json:"value"`
		AccountID string `json:"account_id"`
	}
	cliEnrollmentKey struct {
		ID       string `json:"id"`
		Value    string `json:"value"`
		Reusable bool   `json:"reusable"`
	}
)

// tenant is a running server with account A, which the tests act on, and account
// B, whose credentials must not reach A.
type tenant struct {
	srv       *server
	hc        *http.Client // for the enrolment API, which the SDK does not cover
	db        string
	accountID string

	token      cliToken // read and write on A
	readOnly   cliToken // read only on A
	globalKey  cliGlobalKey
	enrollKey  string // reusable
	otherID    string // account B
	otherToken cliToken
}

// newTenant sets up both accounts and their credentials with the CLI, then starts
// the server on the database.
func newTenant(t *testing.T, multiUser bool) *tenant {
	t.Helper()
	tn := &tenant{db: newDatabase(t)}
	tn.accountID = createAccount(t, tn.db, "Account A", multiUser)
	tn.token = createToken(t, tn.db, tn.accountID, false)
	tn.readOnly = createToken(t, tn.db, tn.accountID, true)

	runCLI(t, tn.db, &tn.globalKey, "global-key", "create",
		"--account", tn.accountID, "--email", "admin@example.com", "--json")
	if tn.globalKey.Value == "" || tn.globalKey.Email != "admin@example.com" {
		t.Fatalf("global-key create printed %+v, want email admin@example.com and a value",
			tn.globalKey)
	}

	var ek cliEnrollmentKey
	runCLI(t, tn.db, &ek, "enrollment-key", "create",
		"--account", tn.accountID, "--reusable", "--expires-in", "1h", "--json")
	if ek.Value == "" || !ek.Reusable {
		t.Fatalf("enrollment-key create printed %+v, want a reusable key with a value", ek)
	}
	tn.enrollKey = ek.Value

	tn.otherID = createAccount(t, tn.db, "Account B", false)
	tn.otherToken = createToken(t, tn.db, tn.otherID, false)
	tn.srv = startServer(t, tn.db)
	tn.hc = loopbackHTTPClient(t)
	return tn
}

func createAccount(t *testing.T, db, name string, multiUser bool) string {
	t.Helper()
	args := []string{"account", "create", "--name", name, "--json"}
	if multiUser {
		args = append(args, "--multi-user")
	}
	var a cliAccount
	runCLI(t, db, &a, args...)
	if !accountIDPattern.MatchString(a.ID) || a.Name != name || a.MultiUser != multiUser {
		t.Fatalf("account create printed %+v, want a 32-hex id, name %q, multi_user %v",
			a, name, multiUser)
	}
	return a.ID
}

func createToken(t *testing.T, db, accountID string, readOnly bool) cliToken {
	t.Helper()
	args := []string{"token", "create", "--account", accountID, "--name", "conformance", "--json"}
	if readOnly {
		args = append(args, "--read-only")
	}
	var tok cliToken
	runCLI(t, db, &tok, args...)
	if tok.ID == "" || tok.Value == "" || tok.AccountID != accountID || tok.ReadOnly != readOnly {
		t.Fatalf("token create printed %+v, want an id and value for account %s, read_only %v",
			tok, accountID, readOnly)
	}
	return tok
}

// client returns an SDK client for A with its write token.
func (tn *tenant) client(t *testing.T) *cloudflare.Client {
	t.Helper()
	return newClient(t, tn.srv, option.WithAPIToken(tn.token.Value))
}

// newClient returns an SDK client for srv that authenticates with auth. It never
// retries, never dials beyond loopback, and checks the v4 envelope of every
// response it receives (see envelopeChecker).
func newClient(t *testing.T, srv *server, auth ...option.RequestOption) *cloudflare.Client {
	t.Helper()
	hc := loopbackHTTPClient(t)
	opts := []option.RequestOption{
		option.WithBaseURL(srv.baseURL() + "/client/v4/"),
		option.WithHTTPClient(hc),
		option.WithMaxRetries(0),
		option.WithRequestTimeout(15 * time.Second),
		option.WithMiddleware(envelopeChecker(t)),
	}
	return cloudflare.NewClient(append(opts, auth...)...)
}

// loopbackHTTPClient returns an HTTP client that refuses to dial anything but a
// loopback address and ignores proxy settings, so that no test can reach another
// host whatever the environment says.
func loopbackHTTPClient(t *testing.T) *http.Client {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return nil, fmt.Errorf("refusing to dial %s: tests stay on loopback", addr)
			}
			return d.DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// testContext returns a context that ends with the test or after 30 seconds.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
