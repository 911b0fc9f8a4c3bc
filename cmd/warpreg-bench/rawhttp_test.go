package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newTestConn(t *testing.T, srv *httptest.Server) *rawConn {
	t.Helper()
	rc := newRawConn(strings.TrimPrefix(srv.URL, "http://"), 5*time.Second)
	t.Cleanup(rc.close)
	return rc
}

func TestRawConnReadsBodiesOfEveryFraming(t *testing.T) {
	big := strings.Repeat("0123456789", 10000) // written in pieces: chunked
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/small":
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, "hello")
		case "/big":
			for i := 0; i < len(big); i += 1000 {
				io.WriteString(w, big[i:i+1000])
				w.(http.Flusher).Flush()
			}
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/echo":
			body, _ := io.ReadAll(r.Body)
			io.WriteString(w, r.Method+" "+r.Header.Get("Authorization")+" "+
				r.Header.Get("Content-Type")+" "+string(body))
		}
	}))
	defer srv.Close()
	rc := newTestConn(t, srv)
	tests := []struct {
		o      op
		status int
		body   string
	}{
		{op{method: "GET", path: "/small"}, 201, "hello"},
		{op{method: "GET", path: "/big"}, 200, big},
		{op{method: "GET", path: "/empty"}, 204, ""},
		{op{method: "POST", path: "/echo", token: "t0k", body: []byte(`{"a":1}`)}, 200,
			`POST Bearer t0k application/json {"a":1}`},
		{op{method: "GET", path: "/small"}, 201, "hello"},
	}
	var buf bytes.Buffer
	for _, tt := range tests {
		status, err := rc.do(&tt.o, &buf)
		if err != nil || status != tt.status || buf.String() != tt.body {
			t.Errorf("%s %s = %d, %.40q, %v; want %d, %.40q", tt.o.method, tt.o.path, status,
				buf.String(), err, tt.status, tt.body)
		}
	}
}

func TestRawConnReconnectsAfterConnectionClose(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	}))
	defer srv.Close()
	rc := newTestConn(t, srv)
	var buf bytes.Buffer
	for range 3 {
		if status, err := rc.do(&op{method: "GET", path: "/"}, &buf); err != nil || status != 200 {
			t.Fatalf("request = %d, %v; want 200", status, err)
		}
	}
}

// A server that drops a keep-alive connection without a word, as one does when it
// times out an idle connection, costs the next request a redial, not an error.
func TestRawConnRetriesOnStaleConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			br := bufio.NewReader(c)
			for {
				line, err := br.ReadString('\n')
				if err != nil || line == "\r\n" {
					break
				}
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			c.Close()
		}
	}()
	rc := newRawConn(ln.Addr().String(), 5*time.Second)
	defer rc.close()
	var buf bytes.Buffer
	for i := range 3 {
		status, err := rc.do(&op{method: "GET", path: "/"}, &buf)
		if err != nil || status != 200 || buf.String() != "ok" {
			t.Fatalf("request %d = %d, %q, %v; want 200 ok", i, status, buf.String(), err)
		}
	}
}

func TestRawConnAbortEndsRequests(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer srv.Close()
	defer close(release)
	rc := newTestConn(t, srv)
	time.AfterFunc(50*time.Millisecond, rc.abort)
	start := time.Now()
	if _, err := rc.do(&op{method: "GET", path: "/"}, &bytes.Buffer{}); err == nil {
		t.Fatal("an aborted request succeeded")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("abort took %v to end the request", took)
	}
}
