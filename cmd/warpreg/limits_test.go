package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// shortenReadHeader sets serve's read-header timeout to d for one test.
func shortenReadHeader(t *testing.T, d time.Duration) {
	saved := limits
	limits.readHeader = d
	t.Cleanup(func() { limits = saved })
}

// TestSlowHeadersAreCutOff plays slowloris: a client that sends its headers a line
// at a time, never finishing them, is disconnected when the read-header timeout
// runs out, however busily it dribbles.
func TestSlowHeadersAreCutOff(t *testing.T) {
	const timeout = 600 * time.Millisecond
	shortenReadHeader(t, timeout)
	base := newCLI(t).serve()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		io.Copy(io.Discard, conn) // returns when the server hangs up
		closed <- time.Since(start)
	}()
	io.WriteString(conn, "GET /client/v4/user/tokens/verify HTTP/1.1\r\nHost: warpreg\r\n")
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case took := <-closed:
			t.Logf("cut off after %v of dribbled headers", took)
			if took < timeout*8/10 {
				t.Errorf("cut off after %v, before the %v timeout", took, timeout)
			}
			return
		case <-tick.C:
			if time.Since(start) > 5*timeout {
				t.Fatalf("still connected after %v of dribbled headers", time.Since(start))
			}
			fmt.Fprintf(conn, "X-Slow-%d: a\r\n", i) // errors once the server hung up
		}
	}
}

// TestHeaderSizeLimit sends requests with a header well under and one well over
// the limit: the first reaches the API, which refuses it for want of a credential,
// in a v4 envelope; the second gets a 431 from the server before any handler.
func TestHeaderSizeLimit(t *testing.T) {
	base := newCLI(t).serve()
	tests := []struct {
		name   string
		size   int
		status int
	}{
		{"a 32 KiB header", 32 << 10, http.StatusBadRequest},
		{"twice the limit", 2 * limits.headerBytes, http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "GET /client/v4/user/tokens/verify HTTP/1.1\r\nHost: warpreg\r\n"+
				"X-Padding: %s\r\n\r\n", strings.Repeat("a", tt.size))
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("read response: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			enveloped := strings.Contains(string(body), `"success":false`)
			if want := tt.status != http.StatusRequestHeaderFieldsTooLarge; enveloped != want {
				t.Errorf("v4 envelope: %v, want %v: %s", enveloped, want, body)
			}
		})
	}
}
