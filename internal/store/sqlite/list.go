package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/warpreg/warpreg/internal/device"
)

// sortColumns maps each sort key to the SQL expression it orders by. Users may be
// absent on imported rows, so their fields sort as empty strings.
var sortColumns = map[device.SortField]string{
	device.SortByID:         "r.id",
	device.SortByUserName:   "coalesce(u.name, '')",
	device.SortByUserEmail:  "coalesce(u.email, '')",
	device.SortByLastSeenAt: "r.last_seen_at",
	device.SortByCreatedAt:  "r.created_at",
}

// ListRegistrations pages with a keyset on (sort key, id): the next page starts
// strictly after the last row of this one, whatever was added or removed since.
func (r reader) ListRegistrations(ctx context.Context, accountID string, q device.ListQuery) (device.Page, error) {
	col, ok := sortColumns[q.Sort]
	if !ok {
		return device.Page{}, fmt.Errorf("list registrations: unknown sort %q", q.Sort)
	}
	where, args := listFilter(accountID, &q)

	var page device.Page
	err := r.queryRow(ctx, `SELECT count(*) FROM registrations r
		JOIN devices d ON d.id = r.device_id LEFT JOIN users u ON u.id = r.user_id
		WHERE `+where, args...).Scan(&page.Total)
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
		where += fmt.Sprintf(" AND (%s, r.id) %s (?, ?)", col, cmp)
		args = append(args, v, q.After.ID)
	}
	args = append(args, q.Limit+1)
	rows, err := r.query(ctx, registrationSelect+` WHERE `+where+
		fmt.Sprintf(" ORDER BY %s %s, r.id %s LIMIT ?", col, dir, dir), args...)
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
		conds = append(conds, `(r.id LIKE ? ESCAPE '\' OR go_lower(d.name) LIKE ? ESCAPE '\'
			OR go_lower(u.email) LIKE ? ESCAPE '\' OR go_lower(u.name) LIKE ? ESCAPE '\')`)
		p := likePattern(q.Search)
		args = append(args, p, p, p, p)
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

// likePattern turns a search term into a case-folded substring pattern in which
// the term's own % and _ match only themselves.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}
