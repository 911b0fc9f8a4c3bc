package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// creds is what seed leaves for run: the credentials of the seeded accounts and
// samples of ids and search terms for the workloads. It holds secrets, so it is
// written readable by its owner only.
type creds struct {
	Version       int           `json:"version"`
	Database      string        `json:"database"`
	Engine        string        `json:"engine"`
	Registrations int           `json:"registrations"`
	SeededAt      time.Time     `json:"seeded_at"`
	Main          int           `json:"main"` // index of the big account in Accounts
	Accounts      []credAccount `json:"accounts"`

	// The samples all come from the main account. RegistrationIDs is drawn from
	// every registration, revoked and deleted ones included, as clients ask for
	// them; RevokeIDs only from active ones, so that revoking and unrevoking them
	// leaves the data as seeded.
	RegistrationIDs []string `json:"registration_ids"`
	RevokeIDs       []string `json:"revoke_ids"`
	UserIDs         []string `json:"user_ids"`
	CommonSearches  []string `json:"common_searches"` // terms that match many rows
	RareSearches    []string `json:"rare_searches"`   // terms that match one user's rows
}

// credAccount is one seeded account with its write token and reusable enrolment key.
type credAccount struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	MultiUser     bool   `json:"multi_user"`
	Registrations int    `json:"registrations"`
	Token         string `json:"token"`
	EnrollmentKey string `json:"enrollment_key"`
}

const credsVersion = 1

// main returns the big account, which the workloads drive.
func (c *creds) main() *credAccount { return &c.Accounts[c.Main] }

func loadCreds(path string) (*creds, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	var c creds
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("read credentials %s: %w", path, err)
	}
	if c.Version != credsVersion || len(c.Accounts) == 0 || c.Main >= len(c.Accounts) {
		return nil, fmt.Errorf("read credentials %s: not a warpreg-bench seed file of version %d",
			path, credsVersion)
	}
	if len(c.RegistrationIDs) == 0 {
		return nil, fmt.Errorf("read credentials %s: no registration ids sampled", path)
	}
	return &c, nil
}

// defaultCredsPath derives the credentials file's name from the database: beside an
// SQLite file, or in the working directory for PostgreSQL.
func defaultCredsPath(database string) string {
	if strings.Contains(database, "://") {
		return "warpreg-postgres.bench.json"
	}
	return strings.TrimPrefix(database, "sqlite:") + ".bench.json"
}
