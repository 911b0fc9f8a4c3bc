package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/row"
)

// args collects query arguments and hands out their $n placeholders.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// ListRegistrations pages with a keyset on (sort key, id): the next page starts
// strictly after the last row of this one, whatever was added or removed since.
func (r reader) ListRegistrations(
	ctx context.Context, accountID string, q device.ListQuery,
) (device.Page, error) {
	query, a, err := pageQuery(accountID, &q)
	if err != nil {
		return device.Page{}, err
	}
	rows, err := r.q.Query(ctx, query, a...)
	if err != nil {
		return device.Page{}, fmt.Errorf("list registrations: %w", err)
	}
	regs, err := row.RegistrationViews(rows, accountID)
	rows.Close()
	if err != nil {
		return device.Page{}, fmt.Errorf("list registrations: %w", err)
	}
	total, err := r.count(ctx, accountID, &q, len(regs))
	if err != nil {
		return device.Page{}, err
	}
	return row.Page(&q, regs, total), nil
}

// pageQuery returns the query for one page of q: the filters, the keyset position,
// the order and one row more than the page, which tells whether another follows.
func pageQuery(accountID string, q *device.ListQuery) (string, args, error) {
	col, ok := row.SortColumns[q.Sort]
	if !ok {
		return "", nil, fmt.Errorf("list registrations: unknown sort %q", q.Sort)
	}
	var a args
	where := listFilter(&a, accountID, q)
	dir, cmp := "ASC", ">"
	if q.Desc {
		dir, cmp = "DESC", "<"
	}
	order := fmt.Sprintf("%s %s, r.id %s", col, dir, dir)
	if q.Sort == device.SortByID {
		order = "r.id " + dir
	}
	if q.After != nil && q.Sort == device.SortByID {
		where += " AND r.id " + cmp + " " + a.add(q.After.ID)
	} else if q.After != nil {
		v, err := row.PositionArg(q.Sort, q.After.Value)
		if err != nil {
			return "", nil, err
		}
		where += fmt.Sprintf(" AND (%s, r.id) %s (%s, %s)", col, cmp, a.add(v), a.add(q.After.ID))
	}
	limit := a.add(q.Limit + 1)
	return row.RegistrationViewSelect + ` WHERE ` + where + " ORDER BY " + order + " LIMIT " + limit,
		a, nil
}

// count returns the number of rows the filters match, given that q's page read got
// rows (see row.PageTotal); otherwise from the account's counters when only the
// status filters, by counting at most row.CountCap+1 rows for any other filter.
func (r reader) count(
	ctx context.Context, accountID string, q *device.ListQuery, got int,
) (int, error) {
	if n, ok := row.PageTotal(q, got); ok {
		return n, nil
	}
	var n int
	var err error
	if row.OnlyStatus(q) {
		col := row.CountColumn(q.Status)
		err = r.q.QueryRow(ctx, `SELECT `+col+` FROM accounts WHERE id = $1`, accountID).Scan(&n)
	} else {
		query, a := countQuery(accountID, q)
		err = r.q.QueryRow(ctx, query, a...).Scan(&n)
		n = row.CappedTotal(n)
	}
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("count registrations: %w", err)
	}
	return n, nil
}

// countQuery returns the query that counts q's matches up to row.CountCap+1.
func countQuery(accountID string, q *device.ListQuery) (string, args) {
	var a args
	where := listFilter(&a, accountID, q)
	limit := a.add(row.CountCap + 1)
	return `SELECT count(*) FROM (SELECT 1 FROM registrations r WHERE ` + where +
		` LIMIT ` + limit + `) m`, a
}

// listFilter builds the WHERE clause shared by the count and the page query.
func listFilter(a *args, accountID string, q *device.ListQuery) string {
	conds := []string{"r.account_id = " + a.add(accountID), "r.deleted_at IS NULL"}
	switch q.Status {
	case device.StatusActive:
		conds = append(conds, "r.revoked_at IS NULL")
	case device.StatusRevoked:
		conds = append(conds, "r.revoked_at IS NOT NULL")
	}
	if len(q.IDs) > 0 {
		conds = append(conds, "r.id = ANY("+a.add(q.IDs)+")")
	}
	if q.DeviceID != "" {
		conds = append(conds, "r.device_id = "+a.add(q.DeviceID))
	}
	if len(q.UserIDs) > 0 {
		conds = append(conds, "r.user_id = ANY("+a.add(q.UserIDs)+")")
	}
	if !q.SeenAfter.IsZero() {
		conds = append(conds, "r.last_seen_at > "+a.add(q.SeenAfter.UnixMicro()))
	}
	if !q.SeenBefore.IsZero() {
		conds = append(conds, "r.last_seen_at < "+a.add(q.SeenBefore.UnixMicro()))
	}
	if q.Search != "" {
		conds = append(conds, "r.search_text LIKE "+a.add(row.LikePattern(q.Search)))
	}
	return strings.Join(conds, " AND ")
}
