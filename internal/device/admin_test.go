package device_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
)

// prefetchingStore is a fakeStore that can read ahead, and records how it was
// asked to.
type prefetchingStore struct {
	*fakeStore
	calls []string
	ids   []string
	ctx   context.Context
}

func (p *prefetchingStore) PrefetchRegistrations(
	ctx context.Context, accountID string, ids []string,
) error {
	p.calls, p.ids, p.ctx = append(p.calls, "prefetch "+accountID), ids, ctx
	return errors.New("no pages today")
}

// TestBulkChangesReadAhead checks that a bulk change asks a store that can read
// ahead to do so for its ids before it writes, that a failed read ahead does not
// fail the change, and that the read ahead's context ends with the change.
func TestBulkChangesReadAhead(t *testing.T) {
	st := &prefetchingStore{}
	st.fakeStore = &fakeStore{update: func(func(tx device.Tx) error) error {
		st.calls = append(st.calls, "update")
		return nil
	}}
	svc := device.NewService(st, nil, slog.New(slog.DiscardHandler))
	ids := []string{device.NewID(), device.NewID()}

	if err := svc.Revoke(t.Context(), "acct", ids); err != nil {
		t.Fatal(err)
	}
	if want := []string{"prefetch acct", "update"}; !slices.Equal(st.calls, want) {
		t.Errorf("calls %q, want %q", st.calls, want)
	}
	if !slices.Equal(st.ids, ids) {
		t.Errorf("read ahead %q, want %q", st.ids, ids)
	}
	if st.ctx == nil || st.ctx.Err() == nil {
		t.Error("the read ahead's context is still live after the change returned")
	}

	st.calls = nil
	if err := svc.Unrevoke(t.Context(), "acct", []string{"not an id"}); err == nil {
		t.Error("unrevoke of an invalid id: no error")
	}
	if len(st.calls) != 0 {
		t.Errorf("an invalid id list was read ahead or written: %q", st.calls)
	}
}
