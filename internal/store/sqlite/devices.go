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

// ListDevices runs on the lists' own pool, in turn.
func (s *Store) ListDevices(
	ctx context.Context, accountID string, q device.DeviceListQuery,
) (device.DevicePage, error) {
	if err := s.listTurn(ctx); err != nil {
		return device.DevicePage{}, err
	}
	defer s.listDone()
	return s.lists.ListDevices(ctx, accountID, q)
}

// ListDevices pages with a keyset on (sort key, id), as ListRegistrations does.
func (r reader) ListDevices(
	ctx context.Context, accountID string, q device.DeviceListQuery,
) (device.DevicePage, error) {
	var page device.DevicePage
	var err error
	if page.Total, err = r.countDevices(ctx, accountID, &q); err != nil {
		return device.DevicePage{}, err
	}
	query, args, err := devicePageQuery(accountID, &q)
	if err != nil {
		return device.DevicePage{}, err
	}
	rows, err := r.query(ctx, query, args...)
	if err != nil {
		return device.DevicePage{}, fmt.Errorf("list devices: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return device.DevicePage{}, err
		}
		page.Devices = append(page.Devices, *d)
	}
	if err := rows.Err(); err != nil {
		return device.DevicePage{}, fmt.Errorf("list devices: %w", err)
	}
	if len(page.Devices) > q.Limit {
		page.Devices = page.Devices[:q.Limit]
		last := &page.Devices[q.Limit-1]
		page.Next = &device.Position{Value: device.DeviceSortValue(last, q.Sort), ID: last.ID}
	}
	return page, nil
}

// devicePageQuery returns the query for one page of q: the filters, the keyset
// position, the order and one row more than the page.
func devicePageQuery(accountID string, q *device.DeviceListQuery) (string, []any, error) {
	col, ok := row.DeviceSortColumns[q.Sort]
	if !ok {
		return "", nil, fmt.Errorf("list devices: unknown sort %q", q.Sort)
	}
	where, args := deviceFilter(accountID, q)
	dir, cmp := "ASC", ">"
	if q.Desc {
		dir, cmp = "DESC", "<"
	}
	order := fmt.Sprintf("%s %s, d.id %s", col, dir, dir)
	if q.Sort == device.DeviceSortByID {
		order = "d.id " + dir
	}
	if q.After != nil && q.Sort == device.DeviceSortByID {
		where += " AND d.id " + cmp + " ?"
		args = append(args, q.After.ID)
	} else if q.After != nil {
		v, err := row.DevicePositionArg(q.Sort, q.After.Value)
		if err != nil {
			return "", nil, err
		}
		where += fmt.Sprintf(" AND (%s, d.id) %s (?, ?)", col, cmp)
		args = append(args, v, q.After.ID)
	}
	args = append(args, q.Limit+1)
	return deviceListSelect(q) + ` WHERE ` + where + " ORDER BY " + order + " LIMIT ?", args, nil
}

// countDevices returns the number of devices the filters match: from the account's
// counters when only the active filter applies, by counting at most
// row.CountCap+1 devices otherwise.
func (r reader) countDevices(
	ctx context.Context, accountID string, q *device.DeviceListQuery,
) (int, error) {
	var n int
	var err error
	if row.OnlyActive(q) {
		col := row.DeviceCountColumn(q.Active)
		err = r.queryRow(ctx, `SELECT `+col+` FROM accounts WHERE id = ?`, accountID).Scan(&n)
	} else {
		where, args := deviceFilter(accountID, q)
		err = r.queryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM devices d WHERE `+where+
			` LIMIT ?)`, append(args, row.CountCap+1)...).Scan(&n)
		n = row.CappedTotal(n)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("count devices: %w", err)
	}
	return n, nil
}

// deviceFilter builds the WHERE clause shared by the count and the page query.
func deviceFilter(accountID string, q *device.DeviceListQuery) (string, []any) {
	conds := []string{"d.account_id = " + accountNum, "d.deleted_at IS NULL"}
	args := []any{accountID}
	if c := row.ActiveCondition(q.Active); c != "" {
		conds = append(conds, c)
	}
	if len(q.IDs) > 0 {
		conds = append(conds, "d.id IN ("+placeholders(len(q.IDs))+")")
		args = appendStrings(args, q.IDs)
	}
	if q.LastSeenUserEmail != "" {
		conds = append(conds, "d.last_seen_user_email = ?")
		args = append(args, q.LastSeenUserEmail)
	}
	if !q.SeenAfter.IsZero() {
		conds = append(conds, "d.last_seen_at > ?")
		args = append(args, q.SeenAfter.UnixMicro())
	}
	if !q.SeenBefore.IsZero() {
		conds = append(conds, "d.last_seen_at < ?")
		args = append(args, q.SeenBefore.UnixMicro())
	}
	if q.Search != "" {
		conds = append(conds, `d.search_text LIKE `+likeParam)
		args = append(args, row.LikePattern(q.Search))
	}
	return strings.Join(conds, " AND "), args
}

func (r reader) DeviceRegistrations(
	ctx context.Context, accountID, deviceID string,
) ([]device.Registration, error) {
	rows, err := r.query(ctx, registrationSelect+`
		WHERE r.device_id = ? AND r.deleted_at IS NULL AND r.account_id = `+accountNum+`
		ORDER BY r.id`, deviceID, accountID)
	if err != nil {
		return nil, fmt.Errorf("read registrations of device: %w", err)
	}
	defer rows.Close()
	out, err := row.Registrations(rows)
	if err != nil {
		return nil, fmt.Errorf("read registrations of device: %w", err)
	}
	return out, nil
}
