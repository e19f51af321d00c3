-- Bulk user import jobs (CreateUserImportJob and friends).
CREATE TABLE import_jobs (
    job_id             TEXT PRIMARY KEY,
    pool_id            TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    job_name           TEXT NOT NULL,
    status             TEXT NOT NULL,
    upload_token_hash  BYTEA NOT NULL,
    csv                BYTEA,
    role_arn           TEXT,
    created_at         BIGINT NOT NULL,
    started_at         BIGINT,
    completed_at       BIGINT,
    imported           BIGINT NOT NULL DEFAULT 0,
    skipped            BIGINT NOT NULL DEFAULT 0,
    failed             BIGINT NOT NULL DEFAULT 0,
    completion_message TEXT,
    failures           JSONB NOT NULL DEFAULT '[]'::jsonb
);
CREATE INDEX import_jobs_by_pool ON import_jobs (pool_id, job_id);
