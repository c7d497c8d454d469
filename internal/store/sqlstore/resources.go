package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/sqlfilter"
)

const resourceCols = `r.id, r.created_at, r.last_modified, r.version, r.data`

// The select list of a user with its read-only groups attribute read in the same query, as
// a JSON list of {value, display} ordered by display name: one round trip, not two. Constants
// per dialect, so that a lookup does not build the text again.
const (
	userColsSQLite = resourceCols + `, (SELECT json_group_array(json_object('value', x.id, 'display', x.display_name)) FROM (
			SELECT g.id, g.display_name FROM group_members m JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
			WHERE m.tenant_id = r.tenant_id AND m.member_id = r.id ORDER BY g.display_name, g.id) x)`
	userColsPostgres = resourceCols + `, COALESCE((SELECT jsonb_agg(jsonb_build_object('value', g.id::text, 'display', g.display_name) ORDER BY g.display_name, g.id)
		FROM group_members m JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
		WHERE m.tenant_id = r.tenant_id AND m.member_id = r.id), '[]'::jsonb)`
)

// columns returns the select list for rt: with the user's groups folded in when they are
// wanted.
func (s *Store) columns(rt *scim.ResourceType, withMembers bool) (string, bool) {
	if rt.Name == "User" && withMembers {
		if s.d == sqlfilter.SQLite {
			return userColsSQLite, true
		}
		return userColsPostgres, true
	}
	return resourceCols, false
}

// scanResource reads a row of columns' select list into a resource; extra are the
// destinations of any columns after it.
func (s *Store) scanResource(row Row, withGroups bool, extra ...any) (*scim.Resource, error) {
	r := &scim.Resource{}
	var data, groups []byte
	dest := []any{&r.ID, timeDest{&r.Meta.Created}, timeDest{&r.Meta.LastModified}, &r.Meta.Version, &data}
	if withGroups {
		dest = append(dest, &groups)
	}
	dest = append(dest, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	var err error
	if r.Attrs, err = decodeAttrs(data); err != nil {
		return nil, fmt.Errorf("sqlstore: stored resource %s: %w", r.ID, err)
	}
	if withGroups {
		list, err := decodeGroups(groups)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: groups of %s: %w", r.ID, err)
		}
		if len(list) > 0 {
			r.Attrs["groups"] = list
		}
	}
	return r, nil
}

// CreateResource implements store.Store.
func (s *Store) CreateResource(ctx context.Context, rt *scim.ResourceType, tenantID string, r *scim.Resource, members []string, ev *store.Event) error {
	t := sqlfilter.LayoutOf(rt)
	stripMemberships(r.Attrs)
	data, err := json.Marshal(r.Attrs)
	if err != nil {
		return err
	}
	insert := func(a *sqlfilter.Args) string {
		cols := []string{"tenant_id", "id", "created_at", "last_modified", "version", "data"}
		ph := []string{a.Add(tenantID), a.Add(r.ID), a.Add(s.timeArg(r.Meta.Created)), a.Add(s.timeArg(r.Meta.LastModified)),
			a.Add(r.Meta.Version), a.Add(s.jsonArg(data))}
		indexed, values := t.Values(r.Attrs)
		for i, v := range values {
			cols = append(cols, indexed[i])
			ph = append(ph, a.Add(v))
		}
		return `INSERT INTO ` + t.Name + ` (` + strings.Join(cols, ", ") + `) VALUES (` + strings.Join(ph, ", ") + `)`
	}
	if sdb, ok := s.db.(StatementDB); ok && len(members) == 0 && ev != nil {
		// The resource, its event and the event's deliveries in one statement, which commits
		// alone: one round trip instead of four (BEGIN, two statements, COMMIT).
		query, args := s.writeWithEvent(insert, ev)
		return sdb.Statement(ctx, func(c Conn) error { return c.QueryRow(ctx, query, args...).Scan(&ev.ID) })
	}
	a := sqlfilter.NewArgs(s.d)
	query := insert(a)
	return s.db.Tx(ctx, func(c Conn) error {
		if err := c.Exec(ctx, query, a.Values()...); err != nil {
			return err
		}
		if len(members) > 0 {
			if err := s.addMembers(ctx, c, tenantID, r.ID, members); err != nil {
				return err
			}
			if groups, err := s.groupsSource(ctx, c, tenantID); err != nil {
				return err
			} else if groups {
				if _, err := s.retype(ctx, c, tenantID, scopeIDs, members, "", "", ev); err != nil {
					return err
				}
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
	t := sqlfilter.LayoutOf(rt)
	cols, withGroups := s.columns(rt, withMembers)
	r, err := s.scanResource(s.db.QueryRow(ctx, `SELECT `+cols+` FROM `+t.Name+` r WHERE r.tenant_id = $1 AND r.id = $2`, tenantID, id), withGroups)
	if err != nil {
		return nil, err
	}
	if rt.Name == "Group" {
		if err := s.attachMembers(ctx, tenantID, []*scim.Resource{r}, withMembers); err != nil {
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
	t := sqlfilter.LayoutOf(rt)
	var out *scim.Resource
	err := s.db.Tx(ctx, func(c Conn) error {
		r, groups, err := s.lockResource(ctx, c, rt, tenantID, id, true)
		if err != nil {
			return err
		}
		oldName := ""
		if rt.Name == "Group" {
			oldName = scim.String(r.Attrs, "displayName")
		}
		_, stored := t.Values(r.Attrs) // what the indexed columns hold: written from the data, always
		ch, err := fn(r)
		if err != nil {
			return err
		}
		out = r
		if ch.Skip {
			return nil
		}
		if ch.Attrs != nil {
			// Memberships are rows: whatever the change holds of them is dropped, and a
			// user's groups are returned as read.
			userGroups, hasGroups := r.Attrs["groups"]
			stripMemberships(ch.Attrs)
			if hasGroups {
				ch.Attrs["groups"] = userGroups
			}
			r.Attrs = ch.Attrs
		}
		r.Meta.Version++
		r.Meta.LastModified = nextModified(r.Meta.LastModified)
		data, err := marshalAttrs(r.Attrs)
		if err != nil {
			return err
		}
		update := func(a *sqlfilter.Args) string {
			sets := []string{"last_modified = " + a.Add(s.timeArg(r.Meta.LastModified)), "version = " + a.Add(r.Meta.Version),
				"data = " + a.Add(s.jsonArg(data))}
			// Only the indexed columns whose value changes: SQLite rewrites the index entries
			// of every column an UPDATE sets, equal or not (a deactivation would rewrite six),
			// and at a million users each is a page its cache may not hold.
			indexed, values := t.Values(r.Attrs)
			for i, v := range values {
				if v != stored[i] {
					sets = append(sets, indexed[i]+" = "+a.Add(v))
				}
			}
			return `UPDATE ` + t.Name + ` SET ` + strings.Join(sets, ", ") + ` WHERE tenant_id = ` + a.Add(tenantID) + ` AND id = ` + a.Add(id)
		}
		if s.d == sqlfilter.Postgres && len(ch.Members) == 0 && !groups && ch.Event != nil {
			// The update and its event in one statement: a round trip fewer.
			query, args := s.writeWithEvent(update, ch.Event)
			return c.QueryRow(ctx, query, args...).Scan(&ch.Event.ID)
		}
		a := sqlfilter.NewArgs(s.d)
		if err := c.Exec(ctx, update(a), a.Values()...); err != nil {
			return err
		}
		var touched []string // users whose memberships the edits change
		for _, e := range ch.Members {
			removed, err := s.editMembers(ctx, c, tenantID, id, e, groups)
			if err != nil {
				return err
			}
			touched = append(append(touched, removed...), e.IDs...)
		}
		if groups {
			if err := s.retypeAfterUpdate(ctx, c, rt, tenantID, r, oldName, touched, ch.Event); err != nil {
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

// lockResource reads a resource for update (a user with its groups, in the same query; a
// group without its members): Postgres locks the row; SQLite's write transaction already
// holds the database's write lock. With withSource it also reports, in the same round trip,
// whether the tenant takes userType from group rules, under groupsSource's share lock of
// the tenant row.
func (s *Store) lockResource(ctx context.Context, c Conn, rt *scim.ResourceType, tenantID, id string, withSource bool) (*scim.Resource, bool, error) {
	lock, share := "", ""
	if s.d == sqlfilter.Postgres {
		lock, share = " FOR UPDATE OF r", " FOR SHARE"
	}
	cols, withGroups := s.columns(rt, true)
	var src sql.NullString
	var extra []any
	if withSource {
		cols += `, (SELECT t.user_type_source FROM tenants t WHERE t.id = r.tenant_id` + share + `)`
		extra = append(extra, &src)
	}
	r, err := s.scanResource(c.QueryRow(ctx, `SELECT `+cols+` FROM `+sqlfilter.LayoutOf(rt).Name+` r WHERE r.tenant_id = $1 AND r.id = $2`+lock, tenantID, id), withGroups, extra...)
	return r, src.String == store.UserTypeFromGroups, err
}

// DeleteResource implements store.Store.
func (s *Store) DeleteResource(ctx context.Context, rt *scim.ResourceType, tenantID, id string, check func(r *scim.Resource) (*store.Event, error)) error {
	id = strings.ToLower(id)
	if !validID(id) {
		return store.ErrNotFound
	}
	t := sqlfilter.LayoutOf(rt)
	return s.db.Tx(ctx, func(c Conn) error {
		r, _, err := s.lockResource(ctx, c, rt, tenantID, id, false)
		if err != nil {
			return err
		}
		ev, err := check(r)
		if err != nil {
			return err
		}
		if rt.Name == "Group" {
			if err := s.retypeBeforeGroupDelete(ctx, c, tenantID, r, ev); err != nil {
				return err
			}
		}
		if err := c.Exec(ctx, `DELETE FROM group_members WHERE tenant_id = $1 AND member_id = $2`, tenantID, id); err != nil {
			return err
		}
		if err := c.Exec(ctx, `DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2`, tenantID, id); err != nil {
			return err
		}
		if err := c.Exec(ctx, `DELETE FROM `+t.Name+` WHERE tenant_id = $1 AND id = $2`, tenantID, id); err != nil {
			return err
		}
		return s.insertEvent(ctx, c, ev)
	})
}

// ListResources implements store.Store.
func (s *Store) ListResources(ctx context.Context, rt *scim.ResourceType, tenantID string, q store.Query) (store.Page, error) {
	t := sqlfilter.LayoutOf(rt)
	ft := t.Table("r")
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
	// An unfiltered total is the sum of the tenant's counter rows (migration 0040, kept by
	// triggers in every writing transaction): O(1) in the tenant's size. A filtered one is
	// counted (docs/ARCHITECTURE.md, "totalResults").
	countQuery, countArgs := `SELECT COUNT(*) FROM `+t.Name+` r WHERE `+where, append([]any(nil), a.Values()...)
	if q.Filter == nil {
		countQuery, countArgs = `SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM resource_counts WHERE tenant_id = $1 AND resource_type = $2`, []any{tenantID, rt.Name}
	}
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
	query := `SELECT ` + cols + ` FROM ` + t.Name + ` r WHERE ` + where + ` ORDER BY ` + order + ` LIMIT ` + a.Add(q.Count)
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
		if err := s.attachMembers(ctx, tenantID, page.Resources, q.WithMembers); err != nil {
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
