package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// rawConn is one keep-alive HTTP/1.1 connection that speaks just what a load
// generator needs: a request written in one go, and a response read with its
// Content-Length or chunked body. It costs a fraction of net/http's client per
// request (no goroutines or channels per connection, no header maps), which
// matters when the load generator and the server share two cores: what the client
// spends, the server cannot.
type rawConn struct {
	addr    string // host:port
	timeout time.Duration
	c       net.Conn
	br      *bufio.Reader
	req     []byte // reused request buffer
	reused  bool   // the connection has carried a request already

	mu      sync.Mutex // guards c against abort, which runs on another goroutine
	aborted bool
}

func newRawConn(addr string, timeout time.Duration) *rawConn {
	return &rawConn{addr: addr, timeout: timeout}
}

func (rc *rawConn) close() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.c != nil {
		rc.c.Close()
		rc.c, rc.br, rc.reused = nil, nil, false
	}
}

// abort makes the request under way, and any later one, fail at once.
func (rc *rawConn) abort() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.aborted = true
	if rc.c != nil {
		rc.c.SetDeadline(time.Unix(1, 0))
	}
}

// do sends o and reads the answer's body into buf. A request that fails on a
// connection the server may have closed while idle is sent once more on a new one,
// as net/http does.
func (rc *rawConn) do(o *op, buf *bytes.Buffer) (int, error) {
	status, err := rc.try(o, buf)
	if err != nil && rc.c == nil && errors.Is(err, errStale) {
		status, err = rc.try(o, buf)
	}
	return status, err
}

// errStale marks a failure before any byte of the answer arrived on a reused
// connection, after which the request can safely be sent again.
var errStale = errors.New("stale keep-alive connection")

func (rc *rawConn) try(o *op, buf *bytes.Buffer) (int, error) {
	if err := rc.connect(); err != nil {
		return 0, err
	}
	reused := rc.reused
	rc.reused = true
	if _, err := rc.c.Write(rc.request(o)); err != nil {
		rc.close()
		return 0, staleIf(reused, err)
	}
	status, keep, err := rc.readResponse(o.method, buf)
	if err != nil {
		// A server that closed an idle connection answers the next request with an
		// end of file or a reset before any byte of a status line.
		if status == 0 && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
			err = staleIf(reused, err)
		}
		rc.close()
		return 0, err
	}
	if !keep {
		rc.close()
	}
	return status, nil
}

// connect dials if the connection is closed, and sets the request's deadline.
func (rc *rawConn) connect() error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.aborted {
		return errAborted
	}
	if rc.c == nil {
		c, err := net.DialTimeout("tcp", rc.addr, rc.timeout)
		if err != nil {
			return err
		}
		rc.c, rc.br = c, bufio.NewReaderSize(c, 32<<10)
	}
	return rc.c.SetDeadline(time.Now().Add(rc.timeout))
}

var errAborted = errors.New("request aborted")

func staleIf(reused bool, err error) error {
	if reused {
		return fmt.Errorf("%w: %w", errStale, err)
	}
	return err
}

func (rc *rawConn) request(o *op) []byte {
	b := append(rc.req[:0], o.method...)
	b = append(b, ' ')
	b = append(b, o.path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, rc.addr...)
	b = append(b, "\r\nUser-Agent: warpreg-bench\r\n"...)
	if o.token != "" {
		b = append(b, "Authorization: Bearer "...)
		b = append(b, o.token...)
		b = append(b, "\r\n"...)
	}
	if o.body != nil {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(o.body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, o.body...)
	rc.req = b
	return b
}

// readResponse reads a status line, headers and body. keep reports whether the
// connection may carry another request.
func (rc *rawConn) readResponse(
	method string, buf *bytes.Buffer,
) (status int, keep bool, err error) {
	line, err := rc.br.ReadSlice('\n')
	if err != nil {
		return 0, false, fmt.Errorf("read status: %w", err)
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, fmt.Errorf("read status: malformed %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("read status: malformed %q", line)
	}
	length, chunked, keep, err := rc.readHeaders(line[7] == '1')
	if err != nil {
		return status, false, err
	}
	buf.Reset()
	switch {
	case method == "HEAD" || status == 204 || status == 304 || status < 200:
	case chunked:
		err = rc.readChunked(buf)
	case length >= 0:
		_, err = io.CopyN(buf, rc.br, length)
	default:
		_, err = buf.ReadFrom(rc.br) // the body runs to the end of the connection
		keep = false
	}
	return status, keep, err
}

func (rc *rawConn) readHeaders(http11 bool) (length int64, chunked, keep bool, err error) {
	length, keep = -1, http11
	for {
		line, err := rc.br.ReadSlice('\n')
		if err != nil {
			return 0, false, false, fmt.Errorf("read headers: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			return length, chunked, keep, nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, false, fmt.Errorf("read headers: malformed %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return 0, false, false, fmt.Errorf("read headers: bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			keep = !bytes.EqualFold(value, []byte("close")) &&
				(http11 || bytes.EqualFold(value, []byte("keep-alive")))
		}
	}
}

func (rc *rawConn) readChunked(buf *bytes.Buffer) error {
	for {
		line, err := rc.br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("read chunk: %w", err)
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("read chunk: bad size %q", line)
		}
		if n == 0 {
			return rc.skipTrailers()
		}
		if _, err := io.CopyN(buf, rc.br, n); err != nil {
			return fmt.Errorf("read chunk: %w", err)
		}
		if _, err := rc.br.Discard(2); err != nil {
			return fmt.Errorf("read chunk: %w", err)
		}
	}
}

func (rc *rawConn) skipTrailers() error {
	for {
		line, err := rc.br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("read trailers: %w", err)
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return nil
		}
	}
}
