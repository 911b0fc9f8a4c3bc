//go:build unix

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestImportFileLimit lowers the limit on one FILE and offers import a regular file
// and a pipe just over it: both are refused with one line, and the pipe is not read
// to its end.
func TestImportFileLimit(t *testing.T) {
	old := maxImportFile
	maxImportFile = 1 << 10
	t.Cleanup(func() { maxImportFile = old })
	c := newCLI(t)
	acct := c.json("account", "create", "--name", "a")["id"].(string)
	dir := t.TempDir()
	want := "larger than 1024 bytes, the most import reads from one file\n"

	file := filepath.Join(dir, "big.json")
	if err := os.WriteFile(file, bytes.Repeat([]byte(" "), 1<<10+1), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := c.run("import", "--account", acct, file)
	if code != exitError || errOut != "warpreg import: "+file+": "+want {
		t.Errorf("file over the limit: exit %d, stderr %q; want exit %d, %q", code, errOut,
			exitError, want)
	}

	fifo := filepath.Join(dir, "endless")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	const offered = 1 << 20
	written := make(chan int, 1)
	go func() { written <- writeSpaces(fifo, offered) }()
	_, errOut, code = c.run("import", "--account", acct, fifo)
	if code != exitError || !strings.HasSuffix(errOut, want) {
		t.Errorf("pipe over the limit: exit %d, stderr %q; want exit %d, %q", code, errOut,
			exitError, want)
	}
	select {
	case n := <-written:
		if n >= offered {
			t.Errorf("import read all %d bytes of the pipe, want it to stop past the limit", n)
		}
	case <-time.After(10 * time.Second):
		t.Error("import never opened the pipe")
	}
}

// writeSpaces writes up to n spaces into the named pipe and returns how many it
// could write before its reader went away.
func writeSpaces(path string, n int) int {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return 0
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte(" "), 4<<10)
	total := 0
	for total < n {
		k, err := f.Write(chunk)
		total += k
		if err != nil {
			break
		}
	}
	return total
}
