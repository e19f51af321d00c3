-- Lead the sub index with sub: as (pool_id, sub) it could serve a
-- pool_id-only lookup, and PostgreSQL without statistics planned the
-- user_search -> users foreign-key check on it, walking the whole pool for
-- every inserted row (bench/RESULTS.md, import on PostgreSQL).
DROP INDEX users_by_sub;
CREATE UNIQUE INDEX users_by_sub ON users (sub, pool_id);
