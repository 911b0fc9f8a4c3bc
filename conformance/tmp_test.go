package conformance

import (
	"testing"

	"github.com/cloudflare/cloudflare-go/v6"
	"github.com/google/go-cmp/cmp"
)

func TestX(t *testing.T) { _ = cloudflare.NewClient(); _ = cmp.Diff(1, 2) }
