package httpapi

import (
	"net/http"
	"time"
)

// SetLegacyChunk sets how many rows the deprecated device list reads at a time, so
// that tests cross chunk boundaries with a few rows.
func SetLegacyChunk(a *API, n int) { a.chunk = n }

// WriteError renders err as the handlers do.
func WriteError(a *API, w http.ResponseWriter, r *http.Request, err error) {
	a.writeError(w, r, err)
}

// SetRequestTimeout sets the deadline of an ordinary request, so that a test can
// see one run out.
func SetRequestTimeout(a *API, d time.Duration) { a.timeout = d }
