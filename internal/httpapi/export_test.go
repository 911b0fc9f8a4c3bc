package httpapi

import "net/http"

// SetLegacyChunk sets how many rows the deprecated device list reads at a time, so
// that tests cross chunk boundaries with a few rows.
func SetLegacyChunk(a *API, n int) { a.chunk = n }

// WriteError renders err as the handlers do.
func WriteError(a *API, w http.ResponseWriter, r *http.Request, err error) {
	a.writeError(w, r, err)
}
