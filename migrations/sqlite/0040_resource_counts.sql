-- Per-tenant counts of Users and Groups, kept by triggers in the writing transaction, so
-- that an unfiltered list page reads totalResults from one row instead of counting the
-- tenant's rows (O(users) a page). SQLite has one writer, so one slot (0) suffices; the
-- table has PostgreSQL's shape (16 slots there).
CREATE TABLE resource_counts (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    resource_type TEXT NOT NULL,
    slot          INTEGER NOT NULL,
    n             INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, resource_type, slot)
);

INSERT INTO resource_counts (tenant_id, resource_type, slot, n)
    SELECT tenant_id, 'User', 0, COUNT(*) FROM users GROUP BY tenant_id;
INSERT INTO resource_counts (tenant_id, resource_type, slot, n)
    SELECT tenant_id, 'Group', 0, COUNT(*) FROM groups GROUP BY tenant_id;

CREATE TRIGGER users_count_insert AFTER INSERT ON users BEGIN
    INSERT INTO resource_counts (tenant_id, resource_type, slot, n) VALUES (NEW.tenant_id, 'User', 0, 1)
        ON CONFLICT (tenant_id, resource_type, slot) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER users_count_delete AFTER DELETE ON users BEGIN
    UPDATE resource_counts SET n = n - 1 WHERE tenant_id = OLD.tenant_id AND resource_type = 'User' AND slot = 0;
END;
CREATE TRIGGER groups_count_insert AFTER INSERT ON groups BEGIN
    INSERT INTO resource_counts (tenant_id, resource_type, slot, n) VALUES (NEW.tenant_id, 'Group', 0, 1)
        ON CONFLICT (tenant_id, resource_type, slot) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER groups_count_delete AFTER DELETE ON groups BEGIN
    UPDATE resource_counts SET n = n - 1 WHERE tenant_id = OLD.tenant_id AND resource_type = 'Group' AND slot = 0;
END;
