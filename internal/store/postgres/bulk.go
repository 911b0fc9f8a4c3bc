package postgres

import (
	"context"
	"errors"
	"fmt"
)

// deferredIndexes are the indexes that only list queries, searches, uniqueness
// checks outside bulk loads, and deletes of parents read; no trigger reads them
// while rows are inserted. The same set as the SQLite adapter's. A name missing
// from the schema is skipped.
var deferredIndexes = []string{
	"registrations_live_created", "registrations_live_id", "registrations_live_key",
	"registrations_live_seen", "registrations_live_user_email", "registrations_live_user_name",
	"registrations_user",
	"devices_live_active", "devices_live_client_version",
	"devices_live_created", "devices_live_hardware_id", "devices_live_id", "devices_live_name",
	"devices_live_seen", "devices_live_serial", "devices_live_serial_bare",
	"devices_live_user_email",
	"users_email",
}

// BulkLoad runs load, which writes many rows, with the indexes that only reads need
// set aside, and builds them again afterwards (then vacuums and analyzes the
// tables): built once from sorted keys, an index takes a fraction of the time that
// a million inserts into it take, and comes out packed. A unique index built again checks
// the rows it covers as an insert would have, only later.
//
// It is meant for a database that nothing else uses meanwhile (the bench seed):
// lists and searches elsewhere would scan, and a load that fails leaves the rows it
// committed with the indexes built over them. A process killed during the load
// leaves the database without those indexes; seed a new one.
func (s *Store) BulkLoad(ctx context.Context, load func(ctx context.Context) error) error {
	rows, err := s.pool.Query(ctx, `SELECT indexname, indexdef FROM pg_indexes
		WHERE schemaname = current_schema() AND indexname = ANY($1) ORDER BY indexname`,
		deferredIndexes)
	if err != nil {
		return fmt.Errorf("read index definitions: %w", err)
	}
	var names, creates []string
	for rows.Next() {
		var name, create string
		if err := rows.Scan(&name, &create); err != nil {
			rows.Close()
			return fmt.Errorf("read index definitions: %w", err)
		}
		names, creates = append(names, name), append(creates, create)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read index definitions: %w", err)
	}
	for _, name := range names {
		if _, err := s.pool.Exec(ctx, `DROP INDEX "`+name+`"`); err != nil {
			return fmt.Errorf("set index %s aside for bulk load: %w", name, err)
		}
	}

	loadErr := load(ctx)
	// The indexes come back even when the load failed: the rows it committed stay.
	bg := context.WithoutCancel(ctx)
	var buildErr error
	for _, create := range creates {
		if _, err := s.pool.Exec(bg, create); err != nil {
			buildErr = errors.Join(buildErr, fmt.Errorf("build index after bulk load: %w", err))
		}
	}
	// Rows copied in are not yet marked visible to all: the first reads would set
	// their hint bits, and index-only scans (the counts) would visit the heap,
	// until autovacuum came by, in the middle of whatever is measured next.
	_, err = s.pool.Exec(bg, `VACUUM (ANALYZE) users, devices, registrations`)
	if err != nil {
		buildErr = errors.Join(buildErr, fmt.Errorf("vacuum after bulk load: %w", err))
	}
	return errors.Join(loadErr, buildErr)
}
