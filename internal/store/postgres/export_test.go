package postgres

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/warpreg/warpreg/internal/device"
)

// Pool exposes the connection pool to this package's external tests.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// PageQuery exposes the list query builder to the query-plan test.
func PageQuery(accountID string, q *device.ListQuery) (string, []any, error) {
	query, a, err := pageQuery(accountID, q)
	return query, a, err
}

// CountQuery exposes the bounded count of a list to the query-plan test.
func CountQuery(accountID string, q *device.ListQuery) (string, []any) {
	return countQuery(accountID, q)
}

// DeviceViewsQuery exposes the deprecated device list's page query to the
// query-plan test.
const DeviceViewsQuery = deviceViewsQuery

// DevicePageQuery exposes the device list query builder to the query-plan test.
func DevicePageQuery(accountID string, q *device.DeviceListQuery) (string, []any, error) {
	query, a, err := devicePageQuery(accountID, q)
	return query, a, err
}

// Migrations exposes the embedded migrations to the upgrade test.
var Migrations = migrations

// CandidatesQuery is the query behind Store.Candidates, for the query-plan test.
const CandidatesQuery = candidatesQuery

// TokenRegistrationSelect exposes the one-read get's query to the query-plan test.
var TokenRegistrationSelect = tokenRegistrationSelect

// OpenBatching opens a store whose gets share slots statements at a time, with
// batched told each statement's number of gets before it runs.
func OpenBatching(
	ctx context.Context, url string, log *slog.Logger, slots int, batched func(int),
) (*Store, error) {
	return open(ctx, url, log, slots, batched)
}

// QueuedGets is how many gets have gone to the batching workers' queue.
func QueuedGets(s *Store) int { return int(s.tokens.queued.Load()) }

// TokenBatchSelect exposes the batched get's query to the query-plan test.
const TokenBatchSelect = tokenBatchSelect
