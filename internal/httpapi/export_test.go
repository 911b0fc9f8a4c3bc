package httpapi

// SetLegacyChunk sets how many rows the deprecated device list reads at a time, so
// that tests cross chunk boundaries with a few rows.
func SetLegacyChunk(a *API, n int) { a.chunk = n }
