-- Per-tenant counts of Users and Groups, kept by triggers in the writing transaction, so
-- that an unfiltered list page reads totalResults from at most 16 rows instead of counting
-- the tenant's rows (O(users) a page). The count is split over 16 slots (by the row id's
-- hash) so that concurrent creates in one tenant rarely wait on the same counter row;
-- the total is their sum. Exact: a slot changes in the transaction that inserts or deletes
-- the row, and commits or rolls back with it.
CREATE TABLE resource_counts (
    tenant_id     text NOT NULL REFERENCES tenants (id),
    resource_type text NOT NULL,
    slot          smallint NOT NULL,
    n             bigint NOT NULL,
    PRIMARY KEY (tenant_id, resource_type, slot)
);

INSERT INTO resource_counts (tenant_id, resource_type, slot, n)
    SELECT tenant_id, 'User', hashtext(id::text) & 15, COUNT(*) FROM users GROUP BY 1, 3;
INSERT INTO resource_counts (tenant_id, resource_type, slot, n)
    SELECT tenant_id, 'Group', hashtext(id::text) & 15, COUNT(*) FROM groups GROUP BY 1, 3;

CREATE FUNCTION count_resource() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO resource_counts (tenant_id, resource_type, slot, n)
            VALUES (NEW.tenant_id, TG_ARGV[0], hashtext(NEW.id::text) & 15, 1)
            ON CONFLICT (tenant_id, resource_type, slot) DO UPDATE SET n = resource_counts.n + 1;
    ELSE
        UPDATE resource_counts SET n = n - 1
            WHERE tenant_id = OLD.tenant_id AND resource_type = TG_ARGV[0] AND slot = hashtext(OLD.id::text) & 15;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_count AFTER INSERT OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION count_resource('User');
CREATE TRIGGER groups_count AFTER INSERT OR DELETE ON groups
    FOR EACH ROW EXECUTE FUNCTION count_resource('Group');
