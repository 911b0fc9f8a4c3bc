package row

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/warpreg/warpreg/internal/device"
)

// AuditColumns are read by Audit, in order.
const AuditColumns = `account_id, seq, at, actor_kind, actor_id, actor_addr, action,
	target_type, target_id, before, after`

// AuditInsert is the column list AuditArgs fills, after account_id and seq.
const AuditInsert = `account_id, seq, at, actor_kind, actor_id, actor_addr, action,
	target_type, target_id, before, after`

// AuditArgs returns the values of AuditInsert for e, snapshots as JSON text.
func AuditArgs(e *device.AuditEntry) ([]any, error) {
	before, err := snapshotJSON(e.Before)
	if err != nil {
		return nil, err
	}
	after, err := snapshotJSON(e.After)
	if err != nil {
		return nil, err
	}
	return []any{
		e.AccountID, e.Seq, e.At.UnixMicro(), string(e.Actor.Kind), e.Actor.ID, e.Actor.Addr,
		e.Action, e.TargetType, e.TargetID, before, after,
	}, nil
}

// AuditWhere returns the WHERE clause (without the keyword) and arguments that
// select q's entries of accountID, numbering placeholders with ph.
func AuditWhere(accountID string, q device.AuditQuery, ph func(n int) string) (string, []any) {
	conds := []string{"account_id = " + ph(1)}
	args := []any{accountID}
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, cond+ph(len(args)))
	}
	if q.Before > 0 {
		add("seq < ", q.Before)
	}
	if q.TargetID != "" {
		add("target_id = ", q.TargetID)
	}
	if q.TargetType != "" {
		add("target_type = ", q.TargetType)
	}
	return strings.Join(conds, " AND "), args
}

func snapshotJSON(s device.Snapshot) (any, error) {
	if s == nil {
		return nil, nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode audit snapshot: %w", err)
	}
	return string(b), nil
}

// Audit scans a row of AuditColumns.
func Audit(s Scanner) (device.AuditEntry, error) {
	var e device.AuditEntry
	var at int64
	var kind string
	var before, after *string
	err := s.Scan(&e.AccountID, &e.Seq, &at, &kind, &e.Actor.ID, &e.Actor.Addr, &e.Action,
		&e.TargetType, &e.TargetID, &before, &after)
	if err != nil {
		return e, fmt.Errorf("read audit entry: %w", err)
	}
	e.At, e.Actor.Kind = FromMicros(at), device.ActorKind(kind)
	for _, p := range []struct {
		raw *string
		dst *device.Snapshot
	}{{before, &e.Before}, {after, &e.After}} {
		if p.raw == nil {
			continue
		}
		if err := json.Unmarshal([]byte(*p.raw), p.dst); err != nil {
			return e, fmt.Errorf("read audit entry %d: %w", e.Seq, err)
		}
	}
	return e, nil
}
