package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestShutdownEndsChangeStreams serves with a change stream open and interrupts the
// server: it must drain and exit 0 promptly, not wait out the drain timeout.
func TestShutdownEndsChangeStreams(t *testing.T) {
	c := newCLI(t)
	acct := c.json("account", "create", "--name", "s")["id"].(string)
	tok := c.json("token", "create", "--account", acct)["value"].(string)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--database", c.db},
			func(string) string { return "" }, io.Discard, io.Discard)
	}()
	base := "http://" + addr
	waitReady(t, base)
	req, _ := http.NewRequest("GET", base+"/api/v1/accounts/"+acct+"/registrations/changes/stream", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("open stream: %v %v", err, resp)
	}
	defer resp.Body.Close()

	start := time.Now()
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d", code)
		}
		t.Logf("drained and stopped in %v with a stream open", time.Since(start))
	case <-time.After(limits.drain / 2):
		t.Fatal("serve is still draining: an open change stream holds shutdown")
	}
}

// TestImportNeverResurrects saves a registration's body, deletes it, and imports
// the body again: the registration stays deleted and the import says it skipped it.
func TestImportNeverResurrects(t *testing.T) {
	c := newCLI(t)
	acct := c.json("account", "create", "--name", "r")["id"].(string)
	tok := c.json("token", "create", "--account", acct)["value"].(string)
	ek := c.json("enrollment-key", "create", "--account", acct)["value"].(string)
	base := c.serve()
	status, env := call(t, "POST", base+"/enroll/v1/registrations", map[string]any{
		"key": wgKeyValue(), "key_type": "curve25519",
		"device": map[string]string{"name": "d", "hardware_id": "hw"},
		"user":   map[string]any{"email": "u@example.com"},
	}, "Authorization", "Bearer "+ek)
	if status != http.StatusCreated {
		t.Fatalf("enrol: %d %v", status, env)
	}
	id := env["result"].(map[string]any)["id"].(string)
	url := base + "/client/v4/accounts/" + acct + "/devices/registrations/" + id
	_, saved := call(t, "GET", url+"?include=policy", nil, "Authorization", "Bearer "+tok)
	body, _ := json.Marshal(saved)
	file := filepath.Join(t.TempDir(), "saved.json")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}

	// Importing over the live, enrolled registration leaves it alone too, and its
	// profile with it.
	sum := c.json("import", "--account", acct, file)
	if sum["skipped"] != 1.0 || sum["registrations"] != 0.0 || sum["profiles"] != 0.0 {
		t.Errorf("import over an enrolled registration: %v, want it skipped, with no profile",
			sum)
	}
	call(t, "DELETE", url, nil, "Authorization", "Bearer "+tok)
	if sum := c.json("import", "--account", acct, file); sum["skipped"] != 1.0 {
		t.Errorf("import over a deleted registration: %v, want it skipped", sum)
	}
	_, env = call(t, "GET", url, nil, "Authorization", "Bearer "+tok)
	if env["result"].(map[string]any)["deleted_at"] == nil {
		t.Error("import brought a deleted registration back")
	}
}
