package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

// ListRegistrations pages with a keyset on (sort key, id): the next page starts
// strictly after the last row of this one, whatever was added or removed since.
func (r reader) ListRegistrations(
	ctx context.Context, accountID string, q device.ListQuery,
) (device.Page, error) {
	plan, match, err := r.choosePlan(ctx, accountID, &q)
	if err != nil {
		return device.Page{}, err
	}
	var set int64
	if plan == walkIndexed && r.sets != nil && r.tx != nil {
		ids, err := r.sets.read(ctx, r, match)
		if err != nil {
			return device.Page{}, err
		}
		var unpin func()
		set, unpin = pin(ids)
		defer unpin()
	}
	query, args, err := pageQuery(accountID, &q, plan, match, set)
	if err != nil {
		return device.Page{}, err
	}
	rows, err := r.query(ctx, query, args...)
	if err != nil {
		return device.Page{}, fmt.Errorf("list registrations: %w", err)
	}
	regs, err := row.RegistrationViews(rows, accountID)
	rows.Close()
	if err != nil {
		return device.Page{}, fmt.Errorf("list registrations: %w", err)
	}
	total, err := r.count(ctx, accountID, &q, match, len(regs))
	if err != nil {
		return device.Page{}, err
	}
	return row.Page(&q, regs, total), nil
}

// pageQuery returns the query for one page of q: the filters, the keyset position,
// the order and one row more than the page, which tells whether another follows.
// set is the handle of match's pinned candidates for walkIndexed, or 0.
func pageQuery(
	accountID string, q *device.ListQuery, plan listPlan, match string, set int64,
) (string, []any, error) {
	col, ok := row.SortColumns[q.Sort]
	if !ok {
		return "", nil, fmt.Errorf("list registrations: unknown sort %q", q.Sort)
	}
	from, where, args := listFilter(accountID, q, plan, match, set)
	dir, cmp := "ASC", ">"
	if q.Desc {
		dir, cmp = "DESC", "<"
	}
	order := fmt.Sprintf("%s %s, r.id %s", col, dir, dir)
	if q.Sort == device.SortByID {
		order = "r.id " + dir // the planner does not see through a repeated term
	}
	if q.After != nil && q.Sort == device.SortByID {
		where += " AND r.id " + cmp + " ?"
		args = append(args, q.After.ID)
	} else if q.After != nil {
		v, err := row.PositionArg(q.Sort, q.After.Value)
		if err != nil {
			return "", nil, err
		}
		where += fmt.Sprintf(" AND (%s, r.id) %s (?, ?)", col, cmp)
		args = append(args, v, q.After.ID)
	}
	args = append(args, q.Limit+1)
	if plan == fromSeen {
		// The page's keys from the window alone, then its rows, sorted again.
		from = "FROM (SELECT r.rowid AS rid FROM registrations r " +
			"INDEXED BY registrations_live_seen WHERE " + where + " ORDER BY " + order +
			" LIMIT ?) page CROSS JOIN registrations r ON r.rowid = page.rid"
		return registrationSelectFrom(from) + " ORDER BY " + order, args, nil
	}
	return registrationSelectFrom(from) + ` WHERE ` + where + " ORDER BY " + order + " LIMIT ?",
		args, nil
}

// registrationSelectFrom is registrationViewSelect, what a list shows of its rows,
// with from in place of its "FROM registrations r".
func registrationSelectFrom(from string) string {
	return strings.Replace(registrationViewSelect, "FROM registrations r", from, 1)
}

// count returns the number of rows the filters match, given that q's page read
// got rows (see row.PageTotal). Otherwise it reads the account's counters when only
// the status filters, and counts at most row.CountCap+1 rows for any other filter.
// A search counts the index's candidates in index order, rechecked, whatever plan
// the page takes: that stops after the cap whether the term is rare or common.
func (r reader) count(
	ctx context.Context, accountID string, q *device.ListQuery, match string, got int,
) (int, error) {
	if n, ok := row.PageTotal(q, got); ok {
		return n, nil
	}
	var n int
	var err error
	if row.OnlyStatus(q) {
		col := row.CountColumn(q.Status)
		err = r.queryRow(ctx, `SELECT `+col+` FROM accounts WHERE id = ?`, accountID).Scan(&n)
	} else {
		n, err = r.countMatches(ctx, accountID, q, match)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("count registrations: %w", err)
	}
	return n, nil
}

// countQuery returns the query that counts q's matches up to row.CountCap+1; match
// is the search's full-text query, or "" when it has none.
func countQuery(accountID string, q *device.ListQuery, match string) (string, []any) {
	plan := walkSort
	if match != "" && !selectiveFilter(q) {
		plan = fromIndex
	}
	from, where, args := listFilter(accountID, q, plan, match, 0)
	return `SELECT count(*) FROM (SELECT 1 ` + from + ` WHERE ` + where + ` LIMIT ?)`,
		append(args, row.CountCap+1)
}

// listFilter builds the FROM and WHERE clauses shared by the count and the page
// query, for the search plan chosen and its full-text query. walkIndexed asks
// go_candidate about each row when set is a pinned candidate set's handle, and
// otherwise has SQLite read the candidates.
func listFilter(
	accountID string, q *device.ListQuery, plan listPlan, match string, set int64,
) (string, string, []any) {
	from := "FROM registrations r"
	conds := []string{"r.account_id = " + accountNum, "r.deleted_at IS NULL"}
	args := []any{accountID}
	switch plan {
	case fromIndex:
		from = "FROM registrations_search CROSS JOIN registrations r " +
			"ON r.rowid = registrations_search.rowid"
		conds = append([]string{"registrations_search MATCH ?"}, conds...)
		args = append([]any{match}, args...)
	case walkIndexed:
		if set != 0 {
			conds = append(conds, "go_candidate(?, r.rowid)")
			args = append(args, set)
			break
		}
		conds = append(conds, "+r.rowid IN (SELECT rowid FROM registrations_search "+
			"WHERE registrations_search MATCH ?)")
		args = append(args, match)
	}
	switch q.Status {
	case device.StatusActive:
		conds = append(conds, "r.revoked_at IS NULL")
	case device.StatusRevoked:
		conds = append(conds, "r.revoked_at IS NOT NULL")
	}
	if len(q.IDs) > 0 {
		conds = append(conds, "r.id IN ("+placeholders(len(q.IDs))+")")
		args = appendStrings(args, q.IDs)
	}
	if q.DeviceID != "" {
		conds = append(conds, "r.device_id = ?")
		args = append(args, q.DeviceID)
	}
	if len(q.UserIDs) > 0 {
		conds = append(conds, "r.user_id IN ("+placeholders(len(q.UserIDs))+")")
		args = appendStrings(args, q.UserIDs)
	}
	if !q.SeenAfter.IsZero() {
		conds = append(conds, "r.last_seen_at > ?")
		args = append(args, q.SeenAfter.UnixMicro())
	}
	if !q.SeenBefore.IsZero() {
		conds = append(conds, "r.last_seen_at < ?")
		args = append(args, q.SeenBefore.UnixMicro())
	}
	if q.Search != "" {
		cond, condArgs := searchCondition(q.Search)
		conds = append(conds, cond)
		args = append(args, condArgs...)
	}
	return from, strings.Join(conds, " AND "), args
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func appendStrings(args []any, ss []string) []any {
	for _, s := range ss {
		args = append(args, s)
	}
	return args
}
