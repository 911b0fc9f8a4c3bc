package conformance

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// warpregBin is the server binary that TestMain builds; it is set once, before any
// test runs, and only read afterwards.
var warpregBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	// The engine is chosen before the environment is cleaned.
	engine, postgresURL = os.Getenv("WARPREG_TEST_ENGINE"), os.Getenv("WARPREG_TEST_POSTGRES_URL")
	if engine == "postgres" && postgresURL == "" {
		fmt.Fprintln(os.Stderr, "conformance: WARPREG_TEST_ENGINE=postgres needs WARPREG_TEST_POSTGRES_URL")
		return 1
	}

	// The SDK reads CLOUDFLARE_* variables into every client, and the server reads
	// WARPREG_*; neither may leak into what the tests set up explicitly.
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "CLOUDFLARE_") || strings.HasPrefix(k, "WARPREG_") {
			os.Unsetenv(k)
		}
	}
	dir, err := os.MkdirTemp("", "warpreg-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		return 1
	}
	defer os.RemoveAll(dir)

	warpregBin, err = buildServer(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		return 1
	}
	return m.Run()
}

// buildServer builds ./cmd/warpreg of the parent module into dir.
func buildServer(dir string) (string, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return "", fmt.Errorf("build server: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	bin := filepath.Join(dir, "warpreg")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/warpreg")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build server in %s: %w\n%s", root, err, out)
	}
	return bin, nil
}
