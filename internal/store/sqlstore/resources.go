package sqlstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/sqlfilter"
)

// table is how one resource type is laid out: the columns copied out of the attributes for
// indexing and filtering, beside the whole attributes as JSON in data.
type table struct {
	name    string
	columns []string                         // in the order values returns them
	values  func(attrs map[string]any) []any // column values from the attributes
	filter  func(alias string) sqlfilter.Table
}

var (
	usersTable = &table{
		name:    "users",
		columns: []string{"user_name", "external_id", "active", "user_type", "display_name", "user_name_key"},
		values: func(a map[string]any) []any {
			active, _ := a["active"].(bool)
			return []any{scim.String(a, "userName"), nullString(scim.String(a, "externalId")), active,
				nullString(scim.String(a, "userType")), nullString(scim.String(a, "displayName")), scim.FoldKey(scim.String(a, "userName"))}
		},
		filter: sqlfilter.UsersTable,
	}
	groupsTable = &table{
		name:    "groups",
		columns: []string{"display_name", "external_id", "display_name_key"},
		values: func(a map[string]any) []any {
			return []any{scim.String(a, "displayName"), nullString(scim.String(a, "externalId")), scim.FoldKey(scim.String(a, "displayName"))}
		},
		filter: sqlfilter.GroupsTable,
	}
)

func tableOf(rt *scim.ResourceType) *table {
	if rt.Name == "Group" {
		return groupsTable
	}
	return usersTable
}

const resourceCols = `r.id, r.created_at, r.last_modified, r.version, r.data`

// userGroupsCol reads a user's read-only groups attribute in the same query as the user,
// as a JSON list of {value, display} ordered by display name: one round trip, not two.
func (s *Store) userGroupsCol() string {
	if s.d == sqlfilter.SQLite {
		return `(SELECT json_group_array(json_object('value', x.id, 'display', x.display_name)) FROM (
			SELECT g.id, g.display_name FROM group_members m JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
			WHERE m.tenant_id = r.tenant_id AND m.member_id = r.id ORDER BY g.display_name, g.id) x)`
	}
	return `COALESCE((SELECT jsonb_agg(jsonb_build_object('value', g.id::text, 'display', g.display_name) ORDER BY g.display_name, g.id)
		FROM group_members m JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
		WHERE m.tenant_id = r.tenant_id AND m.member_id = r.id), '[]'::jsonb)`
}

// columns returns the select list for rt: with the user's groups folded in when they are
// wanted.
func (s *Store) columns(rt *scim.ResourceType, withMembers bool) (string, bool) {
	if rt.Name == "User" && withMembers {
		return resourceCols + `, ` + s.userGroupsCol(), true
	}
	return resourceCols, false
}

func (s *Store) scanResource(row Row, withGroups bool) (*scim.Resource, error) {
	r := &scim.Resource{}
	var data, groups []byte
	dest := []any{&r.ID, timeDest{&r.Meta.Created}, timeDest{&r.Meta.LastModified}, &r.Meta.Version, &data}
	if withGroups {
		dest = append(dest, &groups)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&r.Attrs); err != nil {
		return nil, fmt.Errorf("sqlstore: stored resource %s: %w", r.ID, err)
	}
	if withGroups {
		var list []map[string]any
		if err := json.Unmarshal(groups, &list); err != nil {
			return nil, fmt.Errorf("sqlstore: groups of %s: %w", r.ID, err)
		}
		if len(list) > 0 {
			gs := make([]any, len(list))
			for i, g := range list {
				g["type"] = "direct"
				gs[i] = g
			}
			r.Attrs["groups"] = gs
		}
	}
	return r, nil
}

// CreateResource implements store.Store.
func (s *Store) CreateResource(ctx context.Context, rt *scim.ResourceType, tenantID string, r *scim.Resource, members []string, ev *store.Event) error {
	t := tableOf(rt)
	data, err := marshalAttrs(r.Attrs)
	if err != nil {
		return err
	}
	a := sqlfilter.NewArgs(s.d)
	cols := []string{"tenant_id", "id", "created_at", "last_modified", "version", "data"}
	ph := []string{a.Add(tenantID), a.Add(r.ID), a.Add(s.timeArg(r.Meta.Created)), a.Add(s.timeArg(r.Meta.LastModified)),
		a.Add(r.Meta.Version), a.Add(s.jsonArg(data))}
	for i, v := range t.values(r.Attrs) {
		cols = append(cols, t.columns[i])
		ph = append(ph, a.Add(v))
	}
	query := `INSERT INTO ` + t.name + ` (` + strings.Join(cols, ", ") + `) VALUES (` + strings.Join(ph, ", ") + `)`
	return s.db.Tx(ctx, func(c Conn) error {
		if err := c.Exec(ctx, query, a.Values()...); err != nil {
			return err
		}
		if len(members) > 0 {
			if err := s.addMembers(ctx, c, tenantID, r.ID, members); err != nil {
				return err
			}
		}
		return s.insertEvent(ctx, c, ev)
	})
}

// Resource implements store.Store.
func (s *Store) Resource(ctx context.Context, rt *scim.ResourceType, tenantID, id string, withMembers bool) (*scim.Resource, error) {
	id = strings.ToLower(id)
	if !validID(id) {
		return nil, store.ErrNotFound
	}
	t := tableOf(rt)
	cols, withGroups := s.columns(rt, withMembers)
	r, err := s.scanResource(s.db.QueryRow(ctx, `SELECT `+cols+` FROM `+t.name+` r WHERE r.tenant_id = $1 AND r.id = $2`, tenantID, id), withGroups)
	if err != nil {
		return nil, err
	}
	if rt.Name == "Group" {
		if err := s.attachMembers(ctx, s.db, rt, tenantID, []*scim.Resource{r}, withMembers); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// UpdateResource implements store.Store.
func (s *Store) UpdateResource(ctx context.Context, rt *scim.ResourceType, tenantID, id string, fn func(r *scim.Resource) (store.Change, error)) (*scim.Resource, error) {
	id = strings.ToLower(id)
	if !validID(id) {
		return nil, store.ErrNotFound
	}
	t := tableOf(rt)
	var out *scim.Resource
	err := s.db.Tx(ctx, func(c Conn) error {
		r, err := s.lockResource(ctx, c, t, tenantID, id)
		if err != nil {
			return err
		}
		if rt.Name == "User" {
			if err := s.attachMembers(ctx, c, rt, tenantID, []*scim.Resource{r}, true); err != nil {
				return err
			}
		}
		ch, err := fn(r)
		if err != nil {
			return err
		}
		out = r
		if ch.Skip {
			return nil
		}
		if ch.Attrs != nil {
			if g, ok := r.Attrs["groups"]; ok {
				ch.Attrs["groups"] = g // read-only, kept as rows; returned as read
			}
			r.Attrs = ch.Attrs
		}
		r.Meta.Version++
		r.Meta.LastModified = nextModified(r.Meta.LastModified)
		data, err := marshalAttrs(r.Attrs)
		if err != nil {
			return err
		}
		a := sqlfilter.NewArgs(s.d)
		sets := []string{"last_modified = " + a.Add(s.timeArg(r.Meta.LastModified)), "version = " + a.Add(r.Meta.Version),
			"data = " + a.Add(s.jsonArg(data))}
		for i, v := range t.values(r.Attrs) {
			sets = append(sets, t.columns[i]+" = "+a.Add(v))
		}
		query := `UPDATE ` + t.name + ` SET ` + strings.Join(sets, ", ") + ` WHERE tenant_id = ` + a.Add(tenantID) + ` AND id = ` + a.Add(id)
		if err := c.Exec(ctx, query, a.Values()...); err != nil {
			return err
		}
		for _, e := range ch.Members {
			if err := s.editMembers(ctx, c, tenantID, id, e); err != nil {
				return err
			}
		}
		return s.insertEvent(ctx, c, ch.Event)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// lockResource reads a resource for update: Postgres locks the row; SQLite's write
// transaction already holds the database's write lock.
func (s *Store) lockResource(ctx context.Context, c Conn, t *table, tenantID, id string) (*scim.Resource, error) {
	lock := ""
	if s.d == sqlfilter.Postgres {
		lock = " FOR UPDATE"
	}
	return s.scanResource(c.QueryRow(ctx, `SELECT `+resourceCols+` FROM `+t.name+` r WHERE r.tenant_id = $1 AND r.id = $2`+lock, tenantID, id), false)
}

// DeleteResource implements store.Store.
func (s *Store) DeleteResource(ctx context.Context, rt *scim.ResourceType, tenantID, id string, check func(r *scim.Resource) (*store.Event, error)) error {
	id = strings.ToLower(id)
	if !validID(id) {
		return store.ErrNotFound
	}
	t := tableOf(rt)
	return s.db.Tx(ctx, func(c Conn) error {
		r, err := s.lockResource(ctx, c, t, tenantID, id)
		if err != nil {
			return err
		}
		ev, err := check(r)
		if err != nil {
			return err
		}
		if err := c.Exec(ctx, `DELETE FROM group_members WHERE tenant_id = $1 AND member_id = $2`, tenantID, id); err != nil {
			return err
		}
		if err := c.Exec(ctx, `DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2`, tenantID, id); err != nil {
			return err
		}
		if err := c.Exec(ctx, `DELETE FROM `+t.name+` WHERE tenant_id = $1 AND id = $2`, tenantID, id); err != nil {
			return err
		}
		return s.insertEvent(ctx, c, ev)
	})
}

// ListResources implements store.Store.
func (s *Store) ListResources(ctx context.Context, rt *scim.ResourceType, tenantID string, q store.Query) (store.Page, error) {
	t := tableOf(rt)
	ft := t.filter("r")
	ft.Dialect = s.d
	a := sqlfilter.NewArgs(s.d)
	where := "r.tenant_id = " + a.Add(tenantID)
	if q.Filter != nil {
		cond, err := sqlfilter.Compile(q.Filter, ft, a)
		if err != nil {
			return store.Page{}, err
		}
		where += " AND (" + cond + ")"
	}
	var page store.Page
	// count reads totalResults. It is skipped when the page itself tells the total: a
	// startIndex page that is not full and, when it starts past the first row, not empty
	// (a userName lookup, the last page). That spares a lookup one round trip.
	countQuery, countArgs := `SELECT COUNT(*) FROM `+t.name+` r WHERE `+where, append([]any(nil), a.Values()...)
	count := func() error { return s.db.QueryRow(ctx, countQuery, countArgs...).Scan(&page.Total) }
	if q.Count <= 0 {
		return page, count()
	}
	order := "r.created_at, r.id"
	if q.Descending {
		order = "r.created_at DESC, r.id DESC"
	}
	if q.SortBy != nil {
		expr, err := sqlfilter.OrderBy(*q.SortBy, ft, q.Descending)
		if err != nil {
			return page, err
		}
		order = expr + ", r.created_at, r.id"
	}
	if q.After != nil {
		where += " AND (r.created_at, r.id) > (" + a.Add(s.timeArg(q.After.Created)) + ", " + a.Add(q.After.ID) + ")"
	}
	cols, withGroups := s.columns(rt, q.WithMembers)
	query := `SELECT ` + cols + ` FROM ` + t.name + ` r WHERE ` + where + ` ORDER BY ` + order + ` LIMIT ` + a.Add(q.Count)
	if q.After == nil && q.StartIndex > 1 {
		query += ` OFFSET ` + a.Add(q.StartIndex-1)
	}
	rows, err := s.db.Query(ctx, query, a.Values()...)
	if err != nil {
		return page, err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := s.scanResource(rows, withGroups)
		if err != nil {
			return page, err
		}
		page.Resources = append(page.Resources, r)
	}
	if err := rows.Err(); err != nil {
		return page, err
	}
	offset := 0
	if q.After == nil && q.StartIndex > 1 {
		offset = q.StartIndex - 1
	}
	if n := len(page.Resources); q.After == nil && n < q.Count && (n > 0 || offset == 0) {
		page.Total = offset + n
	} else if err := count(); err != nil {
		return page, err
	}
	if n := len(page.Resources); n > 0 {
		last := page.Resources[n-1]
		page.Last = &store.Cursor{Created: last.Meta.Created, ID: last.ID}
	}
	if rt.Name == "Group" {
		if err := s.attachMembers(ctx, s.db, rt, tenantID, page.Resources, q.WithMembers); err != nil {
			return page, err
		}
		if q.CountMembers && len(page.Resources) > 0 {
			if page.MemberCounts, err = s.memberCounts(ctx, tenantID, page.Resources); err != nil {
				return page, err
			}
		}
	}
	return page, nil
}

// ---- memberships ----

// memberCounts counts the members of a page of groups in one query.
func (s *Store) memberCounts(ctx context.Context, tenantID string, groups []*scim.Resource) (map[string]int, error) {
	a := sqlfilter.NewArgs(s.d)
	tenant := a.Add(tenantID)
	ph := make([]string, len(groups))
	counts := make(map[string]int, len(groups))
	for i, g := range groups {
		ph[i] = a.Add(g.ID)
		counts[g.ID] = 0
	}
	rows, err := s.db.Query(ctx, `SELECT group_id, COUNT(*) FROM group_members WHERE tenant_id = `+tenant+
		` AND group_id IN (`+strings.Join(ph, ", ")+`) GROUP BY group_id`, a.Values()...)
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

// attachMembers fills the read-only groups attribute of users, or the members of groups
// (when withMembers), from group_members, for a page of resources at once.
func (s *Store) attachMembers(ctx context.Context, c Conn, rt *scim.ResourceType, tenantID string, rs []*scim.Resource, withMembers bool) error {
	if len(rs) == 0 || !withMembers {
		return nil
	}
	byID := make(map[string]*scim.Resource, len(rs))
	for _, r := range rs {
		byID[strings.ToLower(r.ID)] = r
	}
	for start := 0; start < len(rs); start += 500 {
		chunk := rs[start:min(start+500, len(rs))]
		a := sqlfilter.NewArgs(s.d)
		tenant := a.Add(tenantID)
		ids := make([]string, len(chunk))
		for i, r := range chunk {
			ids[i] = a.Add(r.ID)
		}
		var query, attr string
		if rt.Name == "Group" {
			attr = "members"
			query = `SELECT m.group_id, m.member_id, m.member_type, COALESCE(u.display_name, u.user_name, g.display_name, '')
				FROM group_members m
				LEFT JOIN users u ON u.tenant_id = m.tenant_id AND u.id = m.member_id
				LEFT JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.member_id
				WHERE m.tenant_id = ` + tenant + ` AND m.group_id IN (` + strings.Join(ids, ", ") + `)
				ORDER BY m.group_id, m.member_id`
		} else {
			attr = "groups"
			query = `SELECT m.member_id, g.id, 'direct', g.display_name
				FROM group_members m JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
				WHERE m.tenant_id = ` + tenant + ` AND m.member_id IN (` + strings.Join(ids, ", ") + `)
				ORDER BY m.member_id, g.display_name, g.id`
		}
		rows, err := c.Query(ctx, query, a.Values()...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var owner, value, typ, display string
			if err := rows.Scan(&owner, &value, &typ, &display); err != nil {
				rows.Close()
				return err
			}
			r := byID[strings.ToLower(owner)]
			if r == nil {
				continue
			}
			list, _ := r.Attrs[attr].([]any)
			m := map[string]any{"value": value, "type": typ}
			if display != "" {
				m["display"] = display
			}
			r.Attrs[attr] = append(list, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
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
		for start := 0; start < len(missing); start += 500 {
			chunk := missing[start:min(start+500, len(missing))]
			a := sqlfilter.NewArgs(s.d)
			tenant := a.Add(tenantID)
			ph := make([]string, len(chunk))
			for i, id := range chunk {
				ph[i] = a.Add(id)
			}
			rows, err := c.Query(ctx, `SELECT id FROM `+kind.table+` WHERE tenant_id = `+tenant+
				` AND id IN (`+strings.Join(ph, ", ")+`)`+lock, a.Values()...)
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return nil, err
				}
				types[strings.ToLower(id)] = kind.typ
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, err
			}
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
	for start := 0; start < len(ids); start += 250 {
		a := sqlfilter.NewArgs(s.d)
		tenant, group := a.Add(tenantID), a.Add(groupID)
		var values []string
		for _, id := range ids[start:min(start+250, len(ids))] {
			id = strings.ToLower(id)
			if seen[id] {
				continue
			}
			seen[id] = true
			values = append(values, "("+tenant+", "+group+", "+a.Add(id)+", "+a.Add(types[id])+")")
		}
		if len(values) == 0 {
			continue
		}
		if err := c.Exec(ctx, `INSERT INTO group_members (tenant_id, group_id, member_id, member_type) VALUES `+
			strings.Join(values, ", ")+` ON CONFLICT DO NOTHING`, a.Values()...); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) editMembers(ctx context.Context, c Conn, tenantID, groupID string, e store.MemberEdit) error {
	switch e.Kind {
	case "add":
		return s.addMembers(ctx, c, tenantID, groupID, e.IDs)
	case "removeAll", "replace":
		if err := c.Exec(ctx, `DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2`, tenantID, groupID); err != nil {
			return err
		}
		if e.Kind == "replace" && len(e.IDs) > 0 {
			return s.addMembers(ctx, c, tenantID, groupID, e.IDs)
		}
		return nil
	case "remove":
		for start := 0; start < len(e.IDs); start += 500 {
			a := sqlfilter.NewArgs(s.d)
			tenant, group := a.Add(tenantID), a.Add(groupID)
			var ph []string
			for _, id := range e.IDs[start:min(start+500, len(e.IDs))] {
				if validID(id) {
					ph = append(ph, a.Add(strings.ToLower(id)))
				}
			}
			if len(ph) == 0 {
				continue
			}
			if err := c.Exec(ctx, `DELETE FROM group_members WHERE tenant_id = `+tenant+` AND group_id = `+group+
				` AND member_id IN (`+strings.Join(ph, ", ")+`)`, a.Values()...); err != nil {
				return err
			}
		}
		return nil
	}
	return errors.New("sqlstore: unknown member edit " + e.Kind)
}
