package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/warpreg/warpreg/internal/cli"
	"github.com/warpreg/warpreg/internal/config"
	"github.com/warpreg/warpreg/internal/store/sqlite"
)

func backupCommand(fs *flag.FlagSet, _ *config.Config) func(context.Context, *env) error {
	output := fs.String("output", "", "the file to write the copy to (required)")
	force := fs.Bool("force", false, "replace the output file if it exists")
	return func(ctx context.Context, e *env) error {
		if *output == "" {
			return cli.Usagef("--output is required")
		}
		engine, path, err := config.ParseDatabase(e.cfg.Database)
		if err != nil {
			return err
		}
		if engine == config.Postgres {
			return cli.Usagef("backs up SQLite only; back up PostgreSQL with pg_dump " +
				"(see the README's \"Backup and restore\")")
		}
		start := time.Now()
		info, err := sqlite.Backup(ctx, path, *output,
			sqlite.BackupOptions{Overwrite: *force}, e.log)
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists; pass --force to replace it", *output)
		}
		if err != nil {
			return err
		}
		return printResult(e, map[string]any{
			"database": path, "output": *output, "bytes": info.Bytes,
			"schema_version": info.SchemaVersion, "accounts": info.Accounts,
			"registrations": info.Registrations,
			"duration_ms":   time.Since(start).Milliseconds(),
		}, fmt.Sprintf("backed up %s to %s: %d bytes, %d accounts, %d registrations, "+
			"schema version %d, integrity checked", path, *output, info.Bytes, info.Accounts,
			info.Registrations, info.SchemaVersion))
	}
}
