//go:build !unix

package sqlite

import (
	"errors"
	"os"
)

// lockTemp cannot lock here, so no backup's temporary file is ever taken for one a
// killed backup left: they stay until removed by hand.
func lockTemp(*os.File) error { return errors.New("no file locks on this system") }
