package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/warpreg/warpreg/internal/device"
)

// sortColumns maps each sort key to the SQL expression it orders by. The columns
// use the "C" collation, so text sorts in byte order, as in SQLite.
var sortColumns = map[device.SortField]string{
	device.SortByID:         "r.id",
	device.SortByUserName:   "coalesce(u.name, '')",
	device.SortByUserEmail:  "coalesce(u.email, '')",
	device.SortByLastSeenAt: "r.last_seen_at",
	device.SortByCreatedAt:  "r.created_at",
}

// args collects query arguments and hands out their $n placeholders.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// ListRegistrations pages with a keyset on (sort key, id): the next page starts
// strictly after the last row of this one, whatever was added or removed since.
func (r reader) ListRegistrations(ctx context.Context, accountID string, q device.ListQuery) (device.Page, error) {
	col, ok := sortColumns[q.Sort]
	if !ok {
		return device.Page{}, fmt.Errorf("list registrations: unknown sort %q", q.Sort)
	}
	var a args
	where := listFilter(&a, accountID, &q)

	var page device.Page
	err := r.q.QueryRow(ctx, `SELECT count(*) FROM registrations r
		JOIN devices d ON d.id = r.device_id LEFT JOIN users u ON u.id = r.user_id
		WHERE `+where, a...).Scan(&page.Total)
	if err != nil {
		return device.Page{}, fmt.Errorf("count registrations: %w", err)
	}

	dir, cmp := "ASC", ">"
	if q.Desc {
		dir, cmp = "DESC", "<"
	}
	if q.After != nil {
		v, err := positionArg(q.Sort, q.After.Value)
		if err != nil {
			return device.Page{}, err
		}
		where += fmt.Sprintf(" AND (%s, r.id) %s (%s, %s)", col, cmp, a.add(v), a.add(q.After.ID))
	}
	limit := a.add(q.Limit + 1)
	rows, err := r.q.Query(ctx, registrationSelect+` WHERE `+where+
		fmt.Sprintf(" ORDER BY %s %s, r.id %s LIMIT %s", col, dir, dir, limit), a...)
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

func positionArg(f device.SortField, v string) (any, error) {
	if f != device.SortByLastSeenAt && f != device.SortByCreatedAt {
		return v, nil
	}
	t, err := device.ParseMicros(v)
	if err != nil {
		return nil, fmt.Errorf("list registrations: %w", err)
	}
	return t.UnixMicro(), nil
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
		p := a.add(likePattern(q.Search))
		conds = append(conds, fmt.Sprintf(`(r.id LIKE %[1]s
			OR lower(d.name COLLATE "default") LIKE %[1]s
			OR lower(u.email COLLATE "default") LIKE %[1]s
			OR lower(u.name COLLATE "default") LIKE %[1]s)`, p))
	}
	return strings.Join(conds, " AND ")
}

// likePattern turns a search term into a case-folded substring pattern in which
// the term's own % and _ match only themselves (backslash is LIKE's default escape).
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}
