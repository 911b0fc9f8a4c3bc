package conformance

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// fleetUsers are the people who enrol a fleet. Emails and names start with distinct
// letters in the same case, so that every collation orders them alike, and their
// orders differ from each other.
var fleetUsers = []struct{ email, name string }{
	{"amelia@example.com", "Mara Lind"},
	{"bruno@example.org", "Carl Voss"},
	{"chiara@example.net", "Paula Berg"},
	{"dmitri@example.com", "Anton Kay"},
	{"elena@example.org", "Ida Moss"},
	{"farid@example.com", "Greta Holm"},
}

var fleetModels = []string{"MacBook Pro", "ThinkPad X1", "Surface Laptop", "Pixel Slate"}

// member is one enrolled registration of a fleet, with what the test knows of it.
type member struct {
	req     enrollRequest
	reg     enrollment
	created int  // rank in enrolment order
	seen    int  // rank in heartbeat order
	late    bool // heartbeat after fleet.mid
}

// fleet is a set of registrations enrolled one after the other, then seen by
// heartbeat in a shuffled order, half before mid and half after.
type fleet struct {
	members []*member
	mid     time.Time
}

// enrollFleet enrols n devices in A, several per user, and sends their heartbeats
// in a fixed shuffled order, so that id, user, creation and last-seen orders all
// differ. Every wait is a few milliseconds, enough for distinct timestamps.
func enrollFleet(t *testing.T, tn *tenant, n int) *fleet {
	t.Helper()
	f := &fleet{}
	for i := range n {
		u := fleetUsers[i%len(fleetUsers)]
		name := fmt.Sprintf("%s %02d", fleetModels[i%len(fleetModels)], i)
		req := wireguardDevice(t, name, u.email, u.name)
		f.members = append(f.members, &member{req: req, reg: tn.enroll(t, req), created: i})
	}

	order := rand.New(rand.NewPCG(7, 11)).Perm(n)
	for rank, i := range order {
		if rank == n/2 {
			// Heartbeats before mid are stamped before it, those after it after it,
			// on the clock that server and test share.
			time.Sleep(2 * time.Millisecond)
			f.mid = time.Now()
			time.Sleep(2 * time.Millisecond)
		}
		m := f.members[i]
		m.seen, m.late = rank, rank >= n/2
		tn.mustHeartbeat(t, m.reg, "")
	}
	return f
}

// ids returns the registration ids of the members that keep holds for, in the
// order of the members.
func (f *fleet) ids(keep func(m *member) bool) []string {
	var ids []string
	for _, m := range f.members {
		if keep(m) {
			ids = append(ids, m.reg.ID)
		}
	}
	return ids
}

// sortedIDs is ids sorted ascending.
func (f *fleet) sortedIDs(keep func(m *member) bool) []string {
	ids := f.ids(keep)
	slices.Sort(ids)
	return ids
}

// expectedOrder returns the ids of all members in the order a list sorted by key
// must give: by (key, id), both ascending or both descending. Timestamps are ranked
// by the order of the events that set them, which the test knows for sure.
func (f *fleet) expectedOrder(key string, desc bool) []string {
	ms := slices.Clone(f.members)
	slices.SortFunc(ms, func(a, b *member) int {
		var c int
		switch key {
		case "user.name":
			c = strings.Compare(a.req.User.Name, b.req.User.Name)
		case "user.email":
			c = strings.Compare(a.req.User.Email, b.req.User.Email)
		case "created_at":
			c = a.created - b.created
		case "last_seen_at":
			c = a.seen - b.seen
		}
		if c == 0 {
			c = strings.Compare(a.reg.ID, b.reg.ID)
		}
		return c
	})
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.reg.ID
	}
	if desc {
		slices.Reverse(ids)
	}
	return ids
}

func all(*member) bool { return true }
