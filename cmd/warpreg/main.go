// Command warpreg serves a self-hosted, wire-compatible implementation of
// Cloudflare's Zero Trust WARP device registration API, and administers its data.
//
// main only wires: run does the work, so that tests can call it in-process.
package main

import "os"

func main() {
	os.Exit(runMain())
}
