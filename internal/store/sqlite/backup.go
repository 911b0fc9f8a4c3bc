package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// BackupOptions steer Backup.
type BackupOptions struct {
	// Overwrite lets Backup replace an existing file at the destination.
	Overwrite bool
}

// BackupInfo describes a finished backup.
type BackupInfo struct {
	Bytes         int64
	SchemaVersion int
	Accounts      int64
	Registrations int64
}

// Backup writes a consistent copy of the database at src to dst while other
// connections, in this process or another, go on writing to it. The copy is the
// state of the last commit before it began: VACUUM INTO runs in one read
// transaction, which in WAL mode blocks no writer.
//
// The copy is written to a temporary file beside dst, synced, verified (SQLite's
// integrity and foreign key checks, then opened as Open would, which applies any
// migration it lacks) and only then moved to dst, so that dst is never a partial
// file. Unless opts.Overwrite is set, an existing dst fails the backup with an
// error wrapping fs.ErrExist. src must be a warpreg database no newer than this
// version's migrations.
func Backup(
	ctx context.Context, src, dst string, opts BackupOptions, log *slog.Logger,
) (BackupInfo, error) {
	if err := checkBackupPaths(src, dst, opts); err != nil {
		return BackupInfo{}, err
	}
	removeStaleTemps(dst, log)
	tmp, err := os.CreateTemp(filepath.Dir(dst), tempPrefix(dst)+"*")
	if err != nil {
		return BackupInfo{}, fmt.Errorf("create temporary file: %w", err)
	}
	lockTemp(tmp) // kept open, and so locked, until the copy is placed or removed
	defer tmp.Close()
	defer removeDatabaseFiles(tmp.Name())

	if err := vacuumInto(ctx, src, tmp.Name()); err != nil {
		return BackupInfo{}, err
	}
	info, err := verifyCopy(ctx, tmp.Name(), log)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("verify the copy: %w", err)
	}
	if err := syncFile(tmp.Name()); err != nil {
		return BackupInfo{}, err
	}
	if err := place(tmp.Name(), dst, opts.Overwrite); err != nil {
		return BackupInfo{}, err
	}
	st, err := os.Stat(dst)
	if err != nil {
		return BackupInfo{}, err
	}
	info.Bytes = st.Size()
	return info, nil
}

// checkBackupPaths refuses, before any work, what would fail or do harm: a missing
// source, an existing destination without Overwrite, a destination that is the
// source itself, and one with a write-ahead log beside it, which SQLite would apply
// to the new file when it is next opened.
func checkBackupPaths(src, dst string, opts BackupOptions) error {
	srcInfo, err := os.Stat(src)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("database %s does not exist", src)
	} else if err != nil {
		return err
	}
	dstInfo, err := os.Stat(dst)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case os.SameFile(srcInfo, dstInfo):
		return fmt.Errorf("%s is the database being backed up", dst)
	case !opts.Overwrite:
		return fmt.Errorf("%s: %w", dst, fs.ErrExist)
	case !dstInfo.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", dst)
	}
	if _, err := os.Stat(dst + "-wal"); err == nil {
		return fmt.Errorf("%s-wal exists: %s is open in another process or was not closed "+
			"cleanly; stop it or remove the file by hand", dst, dst)
	}
	return nil
}

// vacuumInto copies src into the empty file dst on a connection of its own, which
// only reads src. (Not a read-only open: closing one leaves the -wal and -shm files
// behind when it is the last connection; nor query_only, which refuses VACUUM.)
func vacuumInto(ctx context.Context, src, dst string) error {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	db, err := sql.Open("sqlite", FileURI(src)+"?"+q.Encode())
	if err != nil {
		return fmt.Errorf("open %s: %w", src, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return nil
}

// verifyCopy checks the copy at path and reports what it holds.
func verifyCopy(ctx context.Context, path string, log *slog.Logger) (BackupInfo, error) {
	version, err := checkCopy(ctx, path)
	if err != nil {
		return BackupInfo{}, err
	}
	st, err := Open(ctx, path, log)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("open as a warpreg database: %w", err)
	}
	info := BackupInfo{SchemaVersion: version}
	err = st.read.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM accounts), (SELECT count(*) FROM registrations)`).
		Scan(&info.Accounts, &info.Registrations)
	if err != nil {
		st.Close()
		return BackupInfo{}, fmt.Errorf("count rows: %w", err)
	}
	return info, st.Close()
}

// checkCopy runs SQLite's own checks on the database at path and returns its
// schema version.
func checkCopy(ctx context.Context, path string) (int, error) {
	db, err := sql.Open("sqlite", FileURI(path))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var result string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check(1)").Scan(&result); err != nil {
		return 0, fmt.Errorf("integrity check: %w", err)
	}
	if result != "ok" {
		return 0, fmt.Errorf("integrity check: %s", result)
	}
	rows, err := db.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return 0, fmt.Errorf("foreign key check: %w", err)
	}
	broken := rows.Next()
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, fmt.Errorf("foreign key check: %w", err)
	}
	if broken {
		return 0, errors.New("foreign key check: rows refer to rows that do not exist")
	}
	return schemaVersion(ctx, db)
}

// schemaVersion returns the newest migration recorded in db, which must be one
// that this version of warpreg knows.
func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema
		WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("read schema: %w", err)
	}
	if n == 0 {
		return 0, errors.New("not a warpreg database: it has no schema_migrations table")
	}
	var v int
	err = db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).
		Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if latest := latestMigration(); v > latest {
		return 0, fmt.Errorf("schema version %d is newer than this warpreg's (%d): "+
			"back up with the version that serves the database", v, latest)
	}
	return v, nil
}

// latestMigration returns the number of the newest embedded migration.
func latestMigration() int {
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	slices.Sort(names)
	if len(names) == 0 {
		return 0
	}
	base := strings.TrimPrefix(names[len(names)-1], "migrations/")
	v, _ := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
	return v
}

// place moves the finished copy tmp to dst and syncs the directory, so that dst
// names either the old file or the whole new one, even across a crash. Without
// overwrite it links instead of renaming: a link fails if dst has appeared since
// the check, where a rename would replace it.
func place(tmp, dst string, overwrite bool) error {
	if overwrite {
		if err := os.Rename(tmp, dst); err != nil {
			return err
		}
	} else if err := os.Link(tmp, dst); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", dst, fs.ErrExist)
		}
		return err
	}
	dir, err := os.Open(filepath.Dir(dst))
	if err != nil {
		return err
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", filepath.Dir(dst), err)
	}
	return nil
}

// syncFile flushes path to stable storage: SQLite does not sync what VACUUM INTO
// writes.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}

// tempPrefix names the temporary files of backups to dst, hidden beside it.
func tempPrefix(dst string) string { return "." + filepath.Base(dst) + ".tmp-" }

// removeStaleTemps removes the temporary files that backups to dst left when they
// were killed (a deferred removal does not run then): full copies of the database,
// keys and credential hashes included, that would otherwise pile up. A file whose
// lock (lockTemp) another backup holds is that backup's work in progress and stays;
// where files cannot be locked, every one stays.
func removeStaleTemps(dst string, log *slog.Logger) {
	dir, prefix := filepath.Dir(dst), tempPrefix(dst)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok || !e.Type().IsRegular() || strings.ContainsRune(rest, '-') {
			continue // not a temporary copy, or its -journal, -wal or -shm
		}
		path := filepath.Join(dir, name)
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		if lockTemp(f) == nil {
			removeDatabaseFiles(path)
			log.Info("removed a temporary copy that an interrupted backup left", "path", path)
		}
		f.Close()
	}
}

// removeDatabaseFiles removes path and the files SQLite may keep beside it.
func removeDatabaseFiles(path string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(path + suffix)
	}
}
