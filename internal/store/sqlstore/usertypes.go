package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/scimd/scimd/internal/scim"
	"github.com/scimd/scimd/internal/store"
	"github.com/scimd/scimd/internal/store/sqlfilter"
)

// userType recomputation from group rules. The rule that decides a user's userType is, of the
// rules naming one of the user's groups (by lower-cased displayName or by id), the one with
// the lowest position; none gives the tenant's default. The database evaluates it for a whole
// set of users in one statement (two on SQLite, which has no DML in WITH: the audit events,
// then the update), so that a group of 100,000 members costs one statement, and a member
// added costs one more statement on that member's rows only.

// recomputeStart is the batch position before the first user: below every version 4 UUID.
const recomputeStart = "00000000-0000-0000-0000-000000000000"

// retypeScope says which users a recomputation covers; its parameter is $2.
type retypeScope int

const (
	scopeIDs   retypeScope = iota // $2: a list of user ids
	scopeGroup                    // $2: a group id, its direct members
)

// scopeSQL selects the ids (column id) of the users a recomputation covers.
func (s *Store) scopeSQL(k retypeScope) string {
	switch {
	case k == scopeGroup:
		return `SELECT gm.member_id AS id FROM group_members gm WHERE gm.tenant_id = $1 AND gm.group_id = $2`
	case s.d == sqlfilter.SQLite:
		return `SELECT value AS id FROM json_each($2)`
	}
	return `SELECT unnest($2::uuid[]) AS id`
}

// scopeCond is the scope as a condition on users u: on PostgreSQL a list of ids is
// = ANY(array), which the planner reads through the primary key however long the list.
func (s *Store) scopeCond(k retypeScope) string {
	if k == scopeIDs && s.d == sqlfilter.Postgres {
		return `u.id = ANY($2::uuid[])`
	}
	return `u.id IN (` + s.scopeSQL(k) + `)`
}

// retypeCalc selects, for the users of scope, their current and computed userType and the
// rule that decided it. $3 is a group to leave out (one being deleted) or NULL. The deciding
// rule is found from the user's memberships (the index on member id), once per user:
// PostgreSQL with a LATERAL subquery; SQLite, which has none, with the lowest position, then
// that rule, and with the scope driving the join (it keeps CROSS JOIN's order), so that a
// scope of one user reads one user.
func (s *Store) retypeCalc(k retypeScope) string {
	if s.d == sqlfilter.Postgres {
		return `SELECT u.id, u.user_name, u.user_type AS old_type, COALESCE(r.user_type, t.default_user_type) AS new_type, r.group_ref
		FROM users u JOIN tenants t ON t.id = u.tenant_id
		LEFT JOIN LATERAL (SELECT x.user_type, x.group_ref FROM group_members m
			JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
			JOIN user_type_rules x ON x.tenant_id = m.tenant_id AND (x.ref_key = lower(g.display_name) OR x.ref_key = g.id::text)
			WHERE m.tenant_id = u.tenant_id AND m.member_id = u.id AND g.id IS DISTINCT FROM $3::uuid
			ORDER BY x.position LIMIT 1) r ON true
		WHERE u.tenant_id = $1 AND t.user_type_source = 'groups' AND ` + s.scopeCond(k)
	}
	return `SELECT u.id, u.user_name, u.user_type AS old_type, COALESCE(r.user_type, t.default_user_type) AS new_type, r.group_ref
		FROM (` + s.scopeSQL(k) + `) s CROSS JOIN users u JOIN tenants t ON t.id = u.tenant_id
		LEFT JOIN user_type_rules r ON r.tenant_id = u.tenant_id AND r.position = (
			SELECT MIN(x.position) FROM group_members m
			JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
			JOIN user_type_rules x ON x.tenant_id = m.tenant_id AND (x.ref_key = lower(g.display_name) OR x.ref_key = g.id)
			WHERE m.tenant_id = u.tenant_id AND m.member_id = u.id AND g.id IS NOT $3)
		WHERE u.tenant_id = $1 AND u.id = s.id AND t.user_type_source = 'groups'`
}

// Each changed user's audit event is also its SCIM event: the delivery rows of the streams
// that receive user_update_provision are written with it, set-based, as enqueueDeliveries
// writes one event's.

// retypeDetail is the audit event's detail: the rule that decided, or the default.
const retypeDetail = `CASE WHEN c.group_ref IS NULL THEN 'userType ' || c.new_type || ': no group rule matches, the tenant default'
	ELSE 'userType ' || c.new_type || ': group rule "' || c.group_ref || '"' END`

// groupsSource reports whether the tenant takes userType from group rules. On PostgreSQL the
// tenant row is share-locked until the transaction ends, so that a rule change (which updates
// the row) and the batches it starts never interleave with a write that recomputes with the
// rules it read.
func (s *Store) groupsSource(ctx context.Context, c Conn, tenantID string) (bool, error) {
	lock := ""
	if s.d == sqlfilter.Postgres {
		lock = " FOR SHARE"
	}
	var src string
	err := c.QueryRow(ctx, `SELECT user_type_source FROM tenants WHERE id = $1`+lock, tenantID).Scan(&src)
	return src == store.UserTypeFromGroups, err
}

// retype recomputes, in c, the userType of the users k and arg select (ids: only valid ones
// count; a group: its members), leaving out the group exclude (""), and writes one audit event
// per changed user with ev's actor. It returns how many users changed.
func (s *Store) retype(ctx context.Context, c Conn, tenantID string, k retypeScope, ids []string, group, exclude string, ev *store.Event) (int, error) {
	var arg any = group
	if k == scopeIDs {
		clean := make([]string, 0, len(ids))
		seen := make(map[string]bool, len(ids))
		for _, id := range ids {
			if id = strings.ToLower(id); validID(id) && !seen[id] {
				seen[id] = true
				clean = append(clean, id)
			}
		}
		if len(clean) == 0 {
			return 0, nil
		}
		arg = clean
		if s.d == sqlfilter.SQLite {
			b, _ := json.Marshal(clean)
			arg = string(b)
		}
	}
	var excl any
	if exclude != "" {
		excl = exclude
	}
	actor, token := "unknown", any(nil)
	if ev != nil {
		actor, token = ev.Actor, nullString(ev.TokenID)
	}
	now := s.timeArg(time.Now().UTC().Truncate(time.Microsecond))
	calc := s.retypeCalc(k)
	if s.d == sqlfilter.SQLite {
		// Event ids of a tenant are consecutive (MAX + 1): the highest before and after the
		// insert tell how many users change, from the primary key alone.
		lastID := `SELECT COALESCE(MAX(id), 0) FROM audit_events WHERE tenant_id = $1`
		var before, after int
		if err := c.QueryRow(ctx, lastID, tenantID).Scan(&before); err != nil {
			return 0, err
		}
		if err := c.Exec(ctx, `WITH c AS (`+calc+`)
			INSERT INTO audit_events (tenant_id, id, at, event, outcome, actor, token_id, resource_type, resource_id, resource_name, changed, detail)
			SELECT $1, (SELECT COALESCE(MAX(id), 0) FROM audit_events WHERE tenant_id = $1) + ROW_NUMBER() OVER (ORDER BY c.id),
				$4, $7, 'success', $5, $6, 'User', c.id, c.user_name, 'userType', `+retypeDetail+`
			FROM c WHERE c.old_type IS NOT c.new_type`,
			tenantID, arg, excl, now, actor, token, eventUserUpdate); err != nil {
			return 0, err
		}
		if err := c.QueryRow(ctx, lastID, tenantID).Scan(&after); err != nil {
			return 0, err
		}
		if after == before {
			return 0, nil
		}
		// The outbox: a delivery row per event and stream that receives it (enqueueDeliveries,
		// set-based).
		if err := c.Exec(ctx, `INSERT INTO event_deliveries (tenant_id, stream_id, event_id, resource_id, state, enqueued_at, next_at)
			SELECT $1, st.id, a.id, a.resource_id, 'pending', $3, $3 FROM audit_events a CROSS JOIN event_streams st
			WHERE a.tenant_id = $1 AND a.id > $2 AND (st.tenant_id IS NULL OR st.tenant_id = $1) AND st.events LIKE $4 ESCAPE '\'`,
			tenantID, before, now, likeMember(eventUserUpdate)); err != nil {
			return 0, err
		}
		return after - before, c.Exec(ctx, `UPDATE users AS u SET user_type = c.new_type, data = json_set(u.data, '$.userType', c.new_type),
			version = u.version + 1, last_modified = MAX($4, u.last_modified)
			FROM (`+calc+`) AS c WHERE u.tenant_id = $1 AND u.id = c.id AND c.old_type IS NOT c.new_type`,
			tenantID, arg, excl, now)
	}
	// Lock the users first, in id order, in a statement of its own: the update after it then
	// reads (READ COMMITTED) every membership committed by a concurrent write that held them.
	var locked int
	if err := c.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT u.id FROM users u WHERE u.tenant_id = $1 AND `+s.scopeCond(k)+`
		ORDER BY u.id FOR NO KEY UPDATE) x`, tenantID, arg).Scan(&locked); err != nil || locked == 0 {
		return 0, err
	}
	var n int
	err := c.QueryRow(ctx, `WITH c AS (`+calc+`),
		changed AS (
			UPDATE users u SET user_type = c.new_type, data = jsonb_set(u.data, '{userType}', to_jsonb(c.new_type::text)),
				version = u.version + 1, last_modified = GREATEST($4::timestamptz, u.last_modified + interval '1 microsecond')
			FROM c WHERE u.tenant_id = $1 AND u.id = c.id AND c.old_type IS DISTINCT FROM c.new_type
			RETURNING c.id, c.user_name, c.new_type, c.group_ref),
		ins AS (
			INSERT INTO audit_events (tenant_id, at, event, outcome, actor, token_id, resource_type, resource_id, resource_name, changed, detail)
			SELECT $1, $4, $7, 'success', $5, $6, 'User', c.id::text, c.user_name, 'userType', `+retypeDetail+` FROM changed c
			RETURNING id, resource_id),
		outbox AS (
			INSERT INTO event_deliveries (tenant_id, stream_id, event_id, resource_id, state, enqueued_at, next_at)
			SELECT $1, st.id, i.id, i.resource_id, 'pending', $4, $4 FROM ins i CROSS JOIN event_streams st
			WHERE (st.tenant_id IS NULL OR st.tenant_id = $1) AND st.events LIKE $8 ESCAPE '\')
		SELECT COUNT(*) FROM ins`,
		tenantID, arg, excl, now, actor, token, eventUserUpdate, likeMember(eventUserUpdate)).Scan(&n)
	return n, err
}

// eventUserUpdate is the audit event of a userType changed by a rule (directory's name).
const eventUserUpdate = "user_update_provision"

// ruleNames reports whether a rule of the tenant names a group by one of refs (a
// displayName or an id, compared as the rules are).
func (s *Store) ruleNames(ctx context.Context, c Conn, tenantID string, refs ...string) (bool, error) {
	a := sqlfilter.NewArgs(s.d)
	tenant := a.Add(tenantID)
	ph := make([]string, 0, len(refs))
	for _, r := range refs {
		if r != "" {
			ph = append(ph, "lower("+a.Add(r)+")")
		}
	}
	if len(ph) == 0 {
		return false, nil
	}
	var n int
	err := c.QueryRow(ctx, `SELECT COUNT(*) FROM user_type_rules WHERE tenant_id = `+tenant+` AND ref_key IN (`+strings.Join(ph, ", ")+`)`,
		a.Values()...).Scan(&n)
	return n > 0, err
}

// UserTypeRules implements store.UserTypeStore.
func (s *Store) UserTypeRules(ctx context.Context, tenantID string) (store.UserTypeRules, error) {
	var out store.UserTypeRules
	if err := s.db.QueryRow(ctx, `SELECT user_type_source, user_type_groups_attr FROM tenants WHERE id = $1`, tenantID).
		Scan(&out.Source, &out.GroupsAttr); err != nil {
		return out, err
	}
	rows, err := s.db.Query(ctx, `SELECT group_ref, user_type FROM user_type_rules WHERE tenant_id = $1 ORDER BY position`, tenantID)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		var r store.UserTypeRule
		if err := rows.Scan(&r.Group, &r.UserType); err != nil {
			return out, err
		}
		out.Rules = append(out.Rules, r)
	}
	return out, rows.Err()
}

// SetUserTypeRules implements store.UserTypeStore.
func (s *Store) SetUserTypeRules(ctx context.Context, tenantID string, rules store.UserTypeRules, ev *store.Event) error {
	err := s.db.Tx(ctx, func(c Conn) error {
		var id string
		if err := c.QueryRow(ctx, `SELECT id FROM tenants WHERE id = $1`, tenantID).Scan(&id); err != nil {
			return err
		}
		if err := c.Exec(ctx, `UPDATE tenants SET user_type_source = $2, user_type_groups_attr = $3 WHERE id = $1`,
			tenantID, rules.Source, rules.GroupsAttr); err != nil {
			return err
		}
		if err := c.Exec(ctx, `DELETE FROM user_type_rules WHERE tenant_id = $1`, tenantID); err != nil {
			return err
		}
		for i, r := range rules.Rules {
			if err := c.Exec(ctx, `INSERT INTO user_type_rules (tenant_id, position, group_ref, ref_key, user_type) VALUES ($1, $2, $3, lower($3), $4)`,
				tenantID, i+1, r.Group, r.UserType); err != nil {
				return err
			}
		}
		if err := s.startRecompute(ctx, c, tenantID, rules.Source == store.UserTypeFromGroups); err != nil {
			return err
		}
		if err := s.notifyTenant(ctx, c, tenantID); err != nil {
			return err
		}
		return s.insertEvent(ctx, c, ev)
	})
	if err == nil {
		s.announceTenant(tenantID) // the tenant's user_type_source, which a cached token carries
	}
	return err
}

// startRecompute marks every user of the tenant due for recomputation (from the first), or
// none when the tenant does not take userType from groups.
func (s *Store) startRecompute(ctx context.Context, c Conn, tenantID string, on bool) error {
	if !on {
		return c.Exec(ctx, `DELETE FROM user_type_recompute WHERE tenant_id = $1`, tenantID)
	}
	return c.Exec(ctx, `INSERT INTO user_type_recompute (tenant_id, after, started_at) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id) DO UPDATE SET after = excluded.after, started_at = excluded.started_at`,
		tenantID, recomputeStart, s.timeArg(time.Now().UTC().Truncate(time.Microsecond)))
}

// RecomputeUserTypes implements store.UserTypeStore.
func (s *Store) RecomputeUserTypes(ctx context.Context, tenantID string, n int, actor store.Event) (store.UserTypeProgress, error) {
	if n <= 0 {
		n = 1
	}
	var changed int
	err := s.db.Tx(ctx, func(c Conn) error {
		changed = 0
		groups, err := s.groupsSource(ctx, c, tenantID)
		if err != nil {
			return err
		}
		lock := ""
		if s.d == sqlfilter.Postgres {
			lock = " FOR UPDATE"
		}
		var after string
		err = c.QueryRow(ctx, `SELECT after FROM user_type_recompute WHERE tenant_id = $1`+lock, tenantID).Scan(&after)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if !groups {
			return s.startRecompute(ctx, c, tenantID, false)
		}
		ids, err := queryIDs(ctx, c, `SELECT id FROM users WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, tenantID, after, n)
		if err != nil {
			return err
		}
		if changed, err = s.retype(ctx, c, tenantID, scopeIDs, ids, "", "", &actor); err != nil {
			return err
		}
		if len(ids) < n {
			return s.startRecompute(ctx, c, tenantID, false)
		}
		return c.Exec(ctx, `UPDATE user_type_recompute SET after = $2 WHERE tenant_id = $1`, tenantID, ids[len(ids)-1])
	})
	if err != nil {
		return store.UserTypeProgress{}, err
	}
	p, err := s.UserTypeProgress(ctx, tenantID)
	p.Changed = changed
	return p, err
}

// UserTypeProgress implements store.UserTypeStore.
func (s *Store) UserTypeProgress(ctx context.Context, tenantID string) (store.UserTypeProgress, error) {
	var p store.UserTypeProgress
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE tenant_id = $1`, tenantID).Scan(&p.Total); err != nil {
		return p, err
	}
	var after string
	err := s.db.QueryRow(ctx, `SELECT after, started_at FROM user_type_recompute WHERE tenant_id = $1`, tenantID).Scan(&after, timeDest{&p.Started})
	if errors.Is(err, store.ErrNotFound) {
		p.Done = p.Total
		return p, nil
	}
	if err != nil {
		return p, err
	}
	p.Pending = true
	err = s.db.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND id <= $2`, tenantID, after).Scan(&p.Done)
	return p, err
}

// retypeAfterUpdate recomputes userType after an update of r: a user, that user; a group, the
// users its edits touched, and all its members when it was renamed from or to a name a rule
// names. The returned user (r) shows the userType written.
func (s *Store) retypeAfterUpdate(ctx context.Context, c Conn, rt *scim.ResourceType, tenantID string, r *scim.Resource, oldName string, touched []string, ev *store.Event) error {
	if rt.Name == "User" {
		n, err := s.retype(ctx, c, tenantID, scopeIDs, []string{r.ID}, "", "", ev)
		if err != nil || n == 0 {
			return err
		}
		var ut string
		if err := c.QueryRow(ctx, `SELECT version, last_modified, user_type FROM users WHERE tenant_id = $1 AND id = $2`, tenantID, r.ID).
			Scan(&r.Meta.Version, timeDest{&r.Meta.LastModified}, &ut); err != nil {
			return err
		}
		r.Attrs["userType"] = ut
		return nil
	}
	if newName := scim.String(r.Attrs, "displayName"); newName != oldName {
		named, err := s.ruleNames(ctx, c, tenantID, oldName, newName)
		if err != nil {
			return err
		}
		if named {
			if _, err := s.retype(ctx, c, tenantID, scopeGroup, nil, r.ID, "", ev); err != nil {
				return err
			}
		}
	}
	_, err := s.retype(ctx, c, tenantID, scopeIDs, touched, "", "", ev)
	return err
}

// retypeBeforeGroupDelete recomputes the members of a group about to be deleted, as if they
// were no longer in it, when a rule names it (by id or displayName).
func (s *Store) retypeBeforeGroupDelete(ctx context.Context, c Conn, tenantID string, g *scim.Resource, ev *store.Event) error {
	groups, err := s.groupsSource(ctx, c, tenantID)
	if err != nil || !groups {
		return err
	}
	named, err := s.ruleNames(ctx, c, tenantID, g.ID, scim.String(g.Attrs, "displayName"))
	if err != nil || !named {
		return err
	}
	_, err = s.retype(ctx, c, tenantID, scopeGroup, nil, g.ID, g.ID, ev)
	return err
}
