-- Case-insensitive uniqueness of userName and group displayName by one Unicode folding on
-- every backend: scimd writes scim.FoldKey of the name beside it (SQLite's lower() folds
-- ASCII only; PostgreSQL's depends on the locale). Rows stored before this migration get
-- their key when scimd next starts (sqlstore fills NULL keys after migrating). The
-- lower() indexes stay for sorting and substring filters, no longer unique.
ALTER TABLE users ADD COLUMN user_name_key text;
ALTER TABLE groups ADD COLUMN display_name_key text;
CREATE UNIQUE INDEX users_user_name_key ON users (tenant_id, user_name_key);
CREATE UNIQUE INDEX groups_display_name_key ON groups (tenant_id, display_name_key);
DROP INDEX users_user_name;
CREATE INDEX users_user_name ON users (tenant_id, lower(user_name));
DROP INDEX groups_display_name;
CREATE INDEX groups_display_name ON groups (tenant_id, lower(display_name));
