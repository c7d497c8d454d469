package sqlstore

import (
	"context"
	"errors"
	"strings"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/sqlfilter"
)

// Memberships are rows of group_members (tenant_id, group_id, member_id, member_type): a
// member added to a group of 100,000 is one row. A user's groups are read with the user (a
// subquery of its SELECT, see userGroupsCol); a group's members here.

// Chunk sizes keep an IN (…) list or a multi-row VALUES within every driver's parameter
// limit (SQLite's is 32,766; four parameters a membership row).
const (
	inChunk     = 500
	valuesChunk = 250
)

// chunked calls fn with successive chunks of at most size items of all.
func chunked[T any](all []T, size int, fn func(chunk []T) error) error {
	for start := 0; start < len(all); start += size {
		if err := fn(all[start:min(start+size, len(all))]); err != nil {
			return err
		}
	}
	return nil
}

// inList adds ids to a and returns the placeholders of an IN (…) list.
func inList(a *sqlfilter.Args, ids []string) string {
	ph := make([]string, len(ids))
	for i, id := range ids {
		ph[i] = a.Add(id)
	}
	return "(" + strings.Join(ph, ", ") + ")"
}

// queryPairs runs query and calls fn with the first two text columns of each row.
func queryPairs(ctx context.Context, c Conn, query string, args []any, fn func(a, b string)) error {
	rows, err := c.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			return err
		}
		fn(a, b)
	}
	return rows.Err()
}

// memberCounts counts the members of a page of groups in one query.
func (s *Store) memberCounts(ctx context.Context, tenantID string, groups []*scim.Resource) (map[string]int, error) {
	a := sqlfilter.NewArgs(s.d)
	tenant := a.Add(tenantID)
	ids := make([]string, len(groups))
	counts := make(map[string]int, len(groups))
	for i, g := range groups {
		ids[i] = g.ID
		counts[g.ID] = 0
	}
	rows, err := s.db.Query(ctx, `SELECT group_id, COUNT(*) FROM group_members WHERE tenant_id = `+tenant+
		` AND group_id IN `+inList(a, ids)+` GROUP BY group_id`, a.Values()...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		counts[strings.ToLower(id)] = n
	}
	return counts, rows.Err()
}

// attachMembers fills the members of a page of groups (when withMembers) from
// group_members, in one query per chunk of groups.
func (s *Store) attachMembers(ctx context.Context, tenantID string, groups []*scim.Resource, withMembers bool) error {
	if len(groups) == 0 || !withMembers {
		return nil
	}
	byID := make(map[string]*scim.Resource, len(groups))
	for _, r := range groups {
		byID[strings.ToLower(r.ID)] = r
	}
	return chunked(groups, inChunk, func(chunk []*scim.Resource) error {
		a := sqlfilter.NewArgs(s.d)
		tenant := a.Add(tenantID)
		ids := make([]string, len(chunk))
		for i, r := range chunk {
			ids[i] = r.ID
		}
		rows, err := s.db.Query(ctx, `SELECT m.group_id, m.member_id, m.member_type, COALESCE(u.display_name, u.user_name, g.display_name, '')
			FROM group_members m
			LEFT JOIN users u ON u.tenant_id = m.tenant_id AND u.id = m.member_id
			LEFT JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.member_id
			WHERE m.tenant_id = `+tenant+` AND m.group_id IN `+inList(a, ids)+`
			ORDER BY m.group_id, m.member_id`, a.Values()...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var group, value, typ, display string
			if err := rows.Scan(&group, &value, &typ, &display); err != nil {
				return err
			}
			r := byID[strings.ToLower(group)]
			if r == nil {
				continue
			}
			list, _ := r.Attrs["members"].([]any)
			m := map[string]any{"value": value, "type": typ}
			if display != "" {
				m["display"] = display
			}
			r.Attrs["members"] = append(list, m)
		}
		return rows.Err()
	})
}

// memberTypes finds which of ids are users and which groups of the tenant; the first id that
// is neither is an *store.UnknownMemberError.
func (s *Store) memberTypes(ctx context.Context, c Conn, tenantID string, ids []string) (map[string]string, error) {
	types := make(map[string]string, len(ids))
	for _, id := range ids {
		if !validID(id) {
			return nil, &store.UnknownMemberError{ID: id}
		}
	}
	// Postgres: the member rows are share-locked until the membership is written, so that a
	// concurrent DELETE of a member waits and then removes the new row too (or, if it came
	// first, the member is found gone). SQLite has one writer already.
	lock := ""
	if s.d == sqlfilter.Postgres {
		lock = " FOR KEY SHARE"
	}
	for _, kind := range []struct{ table, typ string }{{"users", "User"}, {"groups", "Group"}} {
		var missing []string
		for _, id := range ids {
			if types[strings.ToLower(id)] == "" {
				missing = append(missing, strings.ToLower(id))
			}
		}
		err := chunked(missing, inChunk, func(chunk []string) error {
			a := sqlfilter.NewArgs(s.d)
			tenant := a.Add(tenantID)
			return queryPairs(ctx, c, `SELECT id, id FROM `+kind.table+` WHERE tenant_id = `+tenant+
				` AND id IN `+inList(a, chunk)+lock, a.Values(), func(id, _ string) { types[strings.ToLower(id)] = kind.typ })
		})
		if err != nil {
			return nil, err
		}
	}
	for _, id := range ids {
		if types[strings.ToLower(id)] == "" {
			return nil, &store.UnknownMemberError{ID: id}
		}
	}
	return types, nil
}

func (s *Store) addMembers(ctx context.Context, c Conn, tenantID, groupID string, ids []string) error {
	types, err := s.memberTypes(ctx, c, tenantID, ids)
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(ids))
	return chunked(ids, valuesChunk, func(chunk []string) error {
		a := sqlfilter.NewArgs(s.d)
		tenant, group := a.Add(tenantID), a.Add(groupID)
		var values []string
		for _, id := range chunk {
			id = strings.ToLower(id)
			if seen[id] {
				continue
			}
			seen[id] = true
			values = append(values, "("+tenant+", "+group+", "+a.Add(id)+", "+a.Add(types[id])+")")
		}
		if len(values) == 0 {
			return nil
		}
		return c.Exec(ctx, `INSERT INTO group_members (tenant_id, group_id, member_id, member_type) VALUES `+
			strings.Join(values, ", ")+` ON CONFLICT DO NOTHING`, a.Values()...)
	})
}

// editMembers applies one membership edit. With returnRemoved, a replace or removeAll returns
// the ids of the members it removed (their userType is recomputed).
func (s *Store) editMembers(ctx context.Context, c Conn, tenantID, groupID string, e scim.MemberEdit, returnRemoved bool) ([]string, error) {
	switch e.Kind {
	case scim.MembersAdd:
		return nil, s.addMembers(ctx, c, tenantID, groupID, e.IDs)
	case scim.MembersRemoveAll, scim.MembersReplace:
		var removed []string
		if returnRemoved {
			var err error
			if removed, err = s.deleteReturning(ctx, c, tenantID, groupID); err != nil {
				return nil, err
			}
		} else if err := c.Exec(ctx, `DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2`, tenantID, groupID); err != nil {
			return nil, err
		}
		if e.Kind == scim.MembersReplace && len(e.IDs) > 0 {
			return removed, s.addMembers(ctx, c, tenantID, groupID, e.IDs)
		}
		return removed, nil
	case scim.MembersRemove:
		return nil, s.removeMembers(ctx, c, tenantID, groupID, e.IDs)
	}
	return nil, errors.New("sqlstore: unknown member edit " + string(e.Kind))
}

// removeMembers removes the members with the ids from a group (ids that are no UUID name
// nothing).
func (s *Store) removeMembers(ctx context.Context, c Conn, tenantID, groupID string, ids []string) error {
	{
		var valid []string
		for _, id := range ids {
			if validID(id) {
				valid = append(valid, strings.ToLower(id))
			}
		}
		return chunked(valid, inChunk, func(chunk []string) error {
			a := sqlfilter.NewArgs(s.d)
			tenant, group := a.Add(tenantID), a.Add(groupID)
			return c.Exec(ctx, `DELETE FROM group_members WHERE tenant_id = `+tenant+` AND group_id = `+group+
				` AND member_id IN `+inList(a, chunk), a.Values()...)
		})
	}
}

// deleteReturning removes every member of a group and returns their ids.
func (s *Store) deleteReturning(ctx context.Context, c Conn, tenantID, groupID string) ([]string, error) {
	return queryIDs(ctx, c, `DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2 RETURNING member_id`, tenantID, groupID)
}

// queryIDs runs a query of one id column and returns the ids, in lower case.
func queryIDs(ctx context.Context, c Conn, query string, args ...any) ([]string, error) {
	rows, err := c.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, strings.ToLower(id))
	}
	return ids, rows.Err()
}
