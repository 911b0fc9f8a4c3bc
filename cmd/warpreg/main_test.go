package main

import (
	"os"
	"testing"
)

// reexecEnv, when set, makes the test binary act as the warpreg command with the
// given arguments, so that tests can run real server processes without a build step.
const reexecEnv = "WARPREG_TEST_REEXEC"

func TestMain(m *testing.M) {
	if os.Getenv(reexecEnv) == "1" {
		os.Exit(runMain())
	}
	os.Exit(m.Run())
}
