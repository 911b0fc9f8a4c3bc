// Package conformance checks that warpreg is wire-compatible with Cloudflare's v4 API
// for WARP device registrations. It builds the server, runs it on a loopback port
// against a fresh database, and drives it with Cloudflare's official Go SDK, so that
// the SDK stays out of the product's own module.
//
// The package holds only tests. Run them from this directory with go test ./...; the
// server is built from the parent module.
package conformance
