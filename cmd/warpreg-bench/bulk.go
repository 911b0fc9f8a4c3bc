package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/warpreg/warpreg/internal/config"
	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
	"github.com/warpreg/warpreg/internal/store/sqlite"
)

// rowWriter writes batches straight into the tables, with the triggers set aside
// for the rows it writes (see derived.go), and counts the accounts' rows at the end.
type rowWriter interface {
	write(ctx context.Context, b *batch) error
	// recount sets the account counters that the triggers would have kept.
	recount(ctx context.Context, accountIDs []string) error
	close() error
}

func openRowWriter(
	ctx context.Context, engine config.Engine, dsn string, writers int,
) (rowWriter, error) {
	if engine == config.Postgres {
		return openPGWriter(ctx, dsn, writers)
	}
	return openSQLiteWriter(ctx, dsn)
}

// The columns the bulk path writes: each table's own, then what triggers fill.
const (
	bulkUserColumns = `id, account_id, email, name, groups, created_at, updated_at`
	bulkDeviceExtra = `active_count, last_seen_registration_id, last_seen_user_id,
		last_seen_user_email, last_seen_user_name, search_text`
	bulkRegColumns = `id, account_id, device_id, user_id, profile_id, slot, key, key_type,
		tunnel_type, secret_hash, created_at, updated_at, last_seen_at, revoked_at,
		deleted_at, policy_updated_at, user_name, user_email, device_name, client_version`

	// PostgreSQL keeps a registration's search text in a column, under a trigram
	// index; SQLite keeps it only in the registrations_search full-text index, keyed
	// by the registration's rowid, which sqliteSearchInsert fills.
	bulkRegColumnsPG   = bulkRegColumns + `, search_text`
	sqliteSearchInsert = `INSERT INTO registrations_search (rowid, text)
		VALUES (last_insert_rowid(), ?)`
)

func userValues(u *userRow) []any {
	return []any{u.u.ID, u.u.AccountID, u.u.Email, u.u.Name, u.groups,
		u.u.CreatedAt.UnixMicro(), u.u.UpdatedAt.UnixMicro()}
}

// userRow is a user with its groups encoded as the stores encode them.
type userRow struct {
	u      *device.User
	groups string
}

func deviceValues(r *devRow) []any {
	d, f := r.d, &r.d.Facts
	return []any{d.ID, d.AccountID, f.Name, f.Model, f.Manufacturer, f.DeviceType,
		f.OSVersion, f.OSVersionExtra, f.SerialNumber, f.HardwareID, f.MACAddress,
		f.ClientVersion, d.LastSeenAt.UnixMicro(), d.CreatedAt.UnixMicro(),
		d.UpdatedAt.UnixMicro(), row.Micros(d.DeletedAt),
		r.active, row.NullString(r.lastReg), row.NullString(r.lastUser), r.lastEmail, r.lastNm,
		r.searchT}
}

func regValues(x *regRow) []any {
	r := x.r
	var secret any
	if len(r.SecretHash) > 0 {
		secret = r.SecretHash
	}
	return []any{r.ID, r.AccountID, r.DeviceID, row.NullString(r.UserID), r.ProfileID, r.Slot,
		r.Key, row.NullString(string(r.KeyType)), row.NullString(string(r.TunnelType)), secret,
		r.CreatedAt.UnixMicro(), r.UpdatedAt.UnixMicro(), r.LastSeenAt.UnixMicro(),
		row.Micros(r.RevokedAt), row.Micros(r.DeletedAt), r.PolicyUpdatedAt.UnixMicro(),
		x.userName, x.userEmail, x.deviceName, x.clientVersion}
}

func encodeUser(u *device.User) (*userRow, error) {
	groups := u.Groups
	if groups == nil {
		groups = []string{}
	}
	g, err := json.Marshal(groups)
	if err != nil {
		return nil, fmt.Errorf("user %s: groups: %w", u.ID, err)
	}
	return &userRow{u: u, groups: string(g)}, nil
}

// recountSQL sets the account counters from the rows, as the migrations that added
// them did; with the indexes built it reads only index pages. key is the accounts
// column that registrations and devices hold: the id on PostgreSQL, the number on
// SQLite.
func recountSQL(key string) string {
	return `UPDATE accounts SET
	live_count = (SELECT count(*) FROM registrations r
		WHERE r.account_id = accounts.` + key + ` AND r.deleted_at IS NULL),
	revoked_count = (SELECT count(*) FROM registrations r
		WHERE r.account_id = accounts.` + key + ` AND r.deleted_at IS NULL
			AND r.revoked_at IS NOT NULL),
	live_device_count = (SELECT count(*) FROM devices d
		WHERE d.account_id = accounts.` + key + ` AND d.deleted_at IS NULL),
	active_device_count = (SELECT count(*) FROM devices d
		WHERE d.account_id = accounts.` + key + ` AND d.deleted_at IS NULL
			AND d.active_count > 0)
	WHERE id = `
}

// sqliteWriter writes through a connection of its own. Each batch's transaction
// drops the triggers of the tables it fills and creates them again before it
// commits, so that no one, not even a crash, ever sees the schema without them.
type sqliteWriter struct {
	db       *sql.DB
	triggers []trigger
}

type trigger struct{ name, create string }

func openSQLiteWriter(ctx context.Context, path string) (*sqliteWriter, error) {
	q := url.Values{}
	q.Set("_txlock", "immediate")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(FULL)")
	db, err := sql.Open("sqlite", sqlite.FileURI(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	w := &sqliteWriter{db: db}
	rows, err := db.QueryContext(ctx, `SELECT name, sql FROM sqlite_schema WHERE type = 'trigger'
		AND tbl_name IN ('users', 'devices', 'registrations') ORDER BY name`)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("read triggers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t trigger
		if err := rows.Scan(&t.name, &t.create); err != nil {
			db.Close()
			return nil, fmt.Errorf("read triggers: %w", err)
		}
		w.triggers = append(w.triggers, t)
	}
	if err := rows.Err(); err != nil {
		db.Close()
		return nil, fmt.Errorf("read triggers: %w", err)
	}
	return w, nil
}

func (w *sqliteWriter) write(ctx context.Context, b *batch) error {
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, t := range w.triggers {
		if _, err := tx.ExecContext(ctx, `DROP TRIGGER "`+t.name+`"`); err != nil {
			return fmt.Errorf("set trigger %s aside: %w", t.name, err)
		}
	}
	if err := w.insert(ctx, tx, b); err != nil {
		return err
	}
	for _, t := range w.triggers {
		if _, err := tx.ExecContext(ctx, t.create); err != nil {
			return fmt.Errorf("restore trigger %s: %w", t.name, err)
		}
	}
	return tx.Commit()
}

func (w *sqliteWriter) insert(ctx context.Context, tx *sql.Tx, b *batch) error {
	users, err := tx.PrepareContext(ctx, insertSQL("users", bulkUserColumns))
	if err != nil {
		return err
	}
	defer users.Close()
	devices, err := tx.PrepareContext(ctx,
		sqliteInsertSQL("devices", row.DeviceColumns+", "+bulkDeviceExtra))
	if err != nil {
		return err
	}
	defer devices.Close()
	regs, err := tx.PrepareContext(ctx, sqliteInsertSQL("registrations", bulkRegColumns))
	if err != nil {
		return err
	}
	defer regs.Close()
	search, err := tx.PrepareContext(ctx, sqliteSearchInsert)
	if err != nil {
		return err
	}
	defer search.Close()

	for _, u := range b.users {
		ur, err := encodeUser(u)
		if err != nil {
			return err
		}
		if _, err := users.ExecContext(ctx, userValues(ur)...); err != nil {
			return fmt.Errorf("user %s: %w", u.ID, err)
		}
	}
	for i := range b.devices {
		if _, err := devices.ExecContext(ctx, deviceValues(&b.devices[i])...); err != nil {
			return fmt.Errorf("device %s: %w", b.devices[i].d.ID, err)
		}
	}
	for i := range b.regs {
		if _, err := regs.ExecContext(ctx, regValues(&b.regs[i])...); err != nil {
			return fmt.Errorf("registration %s: %w", b.regs[i].r.ID, err)
		}
		if _, err := search.ExecContext(ctx, b.regs[i].searchT); err != nil {
			return fmt.Errorf("index registration %s for search: %w", b.regs[i].r.ID, err)
		}
	}
	return nil
}

// insertSQL is an INSERT of one row into columns.
func insertSQL(table, columns string) string {
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(splitColumns(columns))), ", ")
	return "INSERT INTO " + table + " (" + columns + ") VALUES (" + marks + ")"
}

// sqliteInsertSQL is insertSQL for a SQLite table that holds its account's number
// (migration 0012): the account id given for account_id is turned into it.
func sqliteInsertSQL(table, columns string) string {
	cols := splitColumns(columns)
	marks := make([]string, len(cols))
	for i, c := range cols {
		marks[i] = "?"
		if c == "account_id" {
			marks[i] = "(SELECT num FROM accounts WHERE id = ?)"
		}
	}
	return "INSERT INTO " + table + " (" + columns + ") VALUES (" + strings.Join(marks, ", ") + ")"
}

func (w *sqliteWriter) recount(ctx context.Context, accountIDs []string) error {
	for _, id := range accountIDs {
		if _, err := w.db.ExecContext(ctx, recountSQL("num")+"?", id); err != nil {
			return fmt.Errorf("count account %s: %w", id, err)
		}
	}
	return nil
}

func (w *sqliteWriter) close() error { return w.db.Close() }

// pgWriter copies each batch into the tables with COPY, in a transaction whose
// session_replication_role is replica, which sets every trigger aside for that
// transaction only (foreign-key checks too: the generator writes parents first).
// It needs a superuser or a role granted that setting.
type pgWriter struct {
	pool *pgxpool.Pool
}

func openPGWriter(ctx context.Context, dsn string, writers int) (*pgWriter, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", dsn, err)
	}
	cfg.MaxConns = int32(max(writers, 1))
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return &pgWriter{pool: pool}, nil
}

func (w *pgWriter) write(ctx context.Context, b *batch) error {
	return pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
			return fmt.Errorf("set triggers aside (needs a superuser; "+
				"or seed with --triggers): %w", err)
		}
		users := make([][]any, len(b.users))
		for i, u := range b.users {
			ur, err := encodeUser(u)
			if err != nil {
				return err
			}
			users[i] = userValues(ur)
		}
		devices := make([][]any, len(b.devices))
		for i := range b.devices {
			devices[i] = deviceValues(&b.devices[i])
		}
		regs := make([][]any, len(b.regs))
		for i := range b.regs {
			regs[i] = append(regValues(&b.regs[i]), b.regs[i].searchT)
		}
		for _, c := range []struct {
			table, columns string
			rows           [][]any
		}{
			{"users", bulkUserColumns, users},
			{"devices", row.DeviceColumns + ", " + bulkDeviceExtra, devices},
			{"registrations", bulkRegColumnsPG, regs},
		} {
			if len(c.rows) == 0 {
				continue
			}
			_, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, splitColumns(c.columns),
				pgx.CopyFromRows(c.rows))
			if err != nil {
				return fmt.Errorf("copy %s: %w", c.table, err)
			}
		}
		return nil
	})
}

// splitColumns turns a column list into names.
func splitColumns(s string) []string {
	var out []string
	for c := range strings.SplitSeq(s, ",") {
		out = append(out, strings.TrimSpace(c))
	}
	return out
}

func (w *pgWriter) recount(ctx context.Context, accountIDs []string) error {
	for _, id := range accountIDs {
		if _, err := w.pool.Exec(ctx, recountSQL("id")+"$1", id); err != nil {
			return fmt.Errorf("count account %s: %w", id, err)
		}
	}
	return nil
}

func (w *pgWriter) close() error {
	w.pool.Close()
	return nil
}
