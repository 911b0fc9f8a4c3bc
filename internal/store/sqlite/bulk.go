package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/warpreg/warpreg/internal/device"
)

// deferredIndexes are the indexes that only list queries, searches, uniqueness
// checks outside bulk loads, and deletes of parents read. No trigger reads them
// while rows are inserted: the triggers find a device's registrations through
// registrations_live_seat and registrations_device_deleted, and users, devices and
// registrations by primary key, and those stay. A name missing from the database
// is skipped.
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
// set aside, and builds them again afterwards. Built once over all the rows, from
// sorted keys, an index takes a fraction of the time that a million inserts at
// random places in it take, and its pages come out full instead of half empty
// after splits. The indexes that triggers read stay, so writes through Update keep
// their triggers' speed and meaning; a unique index built again checks the rows it
// covers as an insert would have, only later.
//
// It is meant for a database that nothing else uses meanwhile (the bench seed):
// lists and searches in other processes would scan, or fail where a plan names its
// index (a created_at list of a last seen window), and a load that fails leaves
// the rows it committed with the indexes built over them. A process killed during
// the load leaves the database without those indexes; seed a new one.
func (s *Store) BulkLoad(ctx context.Context, load func(ctx context.Context) error) error {
	saved, err := s.dropIndexes(ctx)
	if err != nil {
		return err
	}
	loadErr := load(ctx)
	// The indexes come back even when the load failed: the rows it committed stay.
	// Each is built on its own, so that one the rows break leaves the others.
	var buildErr error
	for _, create := range saved {
		if err := s.ddl(context.WithoutCancel(ctx), create); err != nil {
			buildErr = errors.Join(buildErr, fmt.Errorf("build index after bulk load: %w", err))
		}
	}
	// A load leaves the search index in many small segments, and a search reads each
	// segment's list for each trigram: merged into one, searches take half the time.
	const merge = `INSERT INTO registrations_search (registrations_search) VALUES ('optimize')`
	if err := s.ddl(context.WithoutCancel(ctx), merge); err != nil {
		buildErr = errors.Join(buildErr, fmt.Errorf("merge search index after bulk load: %w", err))
	}
	return errors.Join(loadErr, buildErr)
}

// dropIndexes drops the deferred indexes that exist and returns the statements that
// create them again.
func (s *Store) dropIndexes(ctx context.Context) ([]string, error) {
	args := make([]any, len(deferredIndexes))
	for i, name := range deferredIndexes {
		args[i] = name
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")
	rows, err := s.write.QueryContext(ctx, `SELECT name, sql FROM sqlite_schema
		WHERE type = 'index' AND sql IS NOT NULL AND name IN (`+marks+`) ORDER BY name`, args...)
	if err != nil {
		return nil, fmt.Errorf("read index definitions: %w", err)
	}
	defer rows.Close()
	var drops, creates []string
	for rows.Next() {
		var name, create string
		if err := rows.Scan(&name, &create); err != nil {
			return nil, fmt.Errorf("read index definitions: %w", err)
		}
		drops = append(drops, `DROP INDEX "`+name+`"`)
		creates = append(creates, create)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read index definitions: %w", err)
	}
	if err := s.ddl(ctx, drops...); err != nil {
		return nil, fmt.Errorf("set indexes aside for bulk load: %w", err)
	}
	return creates, nil
}

// ddl runs statements in one write transaction, through the writer like any other.
func (s *Store) ddl(ctx context.Context, stmts ...string) error {
	if len(stmts) == 0 {
		return nil
	}
	return s.Update(ctx, func(t device.Tx) error {
		for _, stmt := range stmts {
			if err := t.(*tx).batch.execOnce(t.(*tx).within(ctx), stmt); err != nil {
				return err
			}
		}
		return nil
	})
}
