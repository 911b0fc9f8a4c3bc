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
	where, args := listFilter(accountID, &q)
	var page device.Page
	var err error
	if page.Total, err = r.count(ctx, accountID, &q, where, args); err != nil {
		return device.Page{}, err
	}
	query, args, err := pageQuery(accountID, &q)
	if err != nil {
		return device.Page{}, err
	}
	rows, err := r.query(ctx, query, args...)
	if err != nil {
		return device.Page{}, fmt.Errorf("list registrations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		g, err := scanRegistration(rows)
		if err != nil {
			return device.Page{}, err
		}
		page.Registrations = append(page.Registrations, *g)
	}
	if err := rows.Err(); err != nil {
		return device.Page{}, fmt.Errorf("list registrations: %w", err)
	}
	if len(page.Registrations) > q.Limit {
		page.Registrations = page.Registrations[:q.Limit]
		last := &page.Registrations[q.Limit-1]
		page.Next = &device.Position{Value: device.SortValue(last, q.Sort), ID: last.ID}
	}
	return page, nil
}

// pageQuery returns the query for one page of q: the filters, the keyset position,
// the order and one row more than the page, which tells whether another follows.
func pageQuery(accountID string, q *device.ListQuery) (string, []any, error) {
	col, ok := row.SortColumns[q.Sort]
	if !ok {
		return "", nil, fmt.Errorf("list registrations: unknown sort %q", q.Sort)
	}
	where, args := listFilter(accountID, q)
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
	return row.RegistrationSelect + ` WHERE ` + where + " ORDER BY " + order + " LIMIT ?", args, nil
}

// count returns the number of rows the filters match: from the account's counters
// when only the status filters, by counting otherwise.
func (r reader) count(
	ctx context.Context, accountID string, q *device.ListQuery, where string, args []any,
) (int, error) {
	var n int
	var err error
	if row.OnlyStatus(q) {
		col := row.CountColumn(q.Status)
		err = r.queryRow(ctx, `SELECT `+col+` FROM accounts WHERE id = ?`, accountID).Scan(&n)
	} else {
		err = r.queryRow(ctx, `SELECT count(*) FROM registrations r WHERE `+where, args...).Scan(&n)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("count registrations: %w", err)
	}
	return n, nil
}

// listFilter builds the WHERE clause shared by the count and the page query.
func listFilter(accountID string, q *device.ListQuery) (string, []any) {
	conds := []string{"r.account_id = ?", "r.deleted_at IS NULL"}
	args := []any{accountID}
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
		conds = append(conds, `r.search_text LIKE ? ESCAPE '\'`)
		args = append(args, row.LikePattern(q.Search))
	}
	return strings.Join(conds, " AND "), args
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
