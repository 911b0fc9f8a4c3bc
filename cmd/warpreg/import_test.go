package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
)

// savedRegistration writes a get registration body, as saved from Cloudflare's
// API, to a file of its own and returns the file's path.
func savedRegistration(t *testing.T, id, key, policyID string) string {
	t.Helper()
	policy := "null"
	if policyID != "" {
		policy = fmt.Sprintf(`{"id": %q, "name": "Imported", "default": false,
			"deleted": false, "updated_at": "2025-02-14T13:17:00Z"}`, policyID)
	}
	body := fmt.Sprintf(`{"success": true, "errors": [], "messages": [], "result": {
		"id": %q, "key": %q, "device": {"id": %q, "name": "laptop"},
		"created_at": "2025-02-14T13:17:00Z", "updated_at": "2025-02-14T13:17:00Z",
		"last_seen_at": "2025-02-14T13:17:00Z", "policy": %s}}`,
		id, key, device.NewID(), policy)
	path := filepath.Join(t.TempDir(), id+".json")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestImportErrorText checks that a refused import says why once, in words.
func TestImportErrorText(t *testing.T) {
	c := newCLI(t)
	acct := c.json("account", "create", "--name", "a")["id"].(string)
	other := c.json("account", "create", "--name", "b")["id"].(string)
	first, second, policy := device.NewID(), device.NewID(), device.NewID()
	c.json("import", "--account", other, savedRegistration(t, device.NewID(), "k0", policy))

	tests := []struct {
		name  string
		files []string
		want  string
	}{
		{"a key held by another live registration", []string{
			savedRegistration(t, first, "k1", ""), savedRegistration(t, second, "k1", ""),
		}, "registration " + second + ": its key is already the key of live registration " +
			first},
		{"a profile id of another account", []string{
			savedRegistration(t, second, "k2", policy),
		}, "registration " + second + ": write profile " + policy + ": put profile: " +
			"id held by another account: conflict"},
	}
	for _, tt := range tests {
		args := append([]string{"import", "--account", acct}, tt.files...)
		_, errOut, code := c.run(args...)
		want := "warpreg import: " + tt.want + "\n"
		if code != exitError || errOut != want {
			t.Errorf("%s: exit %d, stderr %q; want exit %d, %q", tt.name, code, errOut,
				exitError, want)
		}
		if strings.Count(errOut, "registration "+second) != 1 {
			t.Errorf("%s: stderr repeats itself: %q", tt.name, errOut)
		}
	}
}
