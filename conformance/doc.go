// Package conformance drives a real warpreg server with Cloudflare's official Go
// SDK, to check that the server is wire-compatible with Cloudflare's API. It holds
// only tests; see conformance_test.go.
package conformance
