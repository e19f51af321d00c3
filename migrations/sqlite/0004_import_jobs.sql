-- Bulk user import jobs (CreateUserImportJob and friends).
CREATE TABLE import_jobs (
    job_id             TEXT PRIMARY KEY,
    pool_id            TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    job_name           TEXT NOT NULL,
    status             TEXT NOT NULL,
    upload_token_hash  BLOB NOT NULL,
    csv                BLOB,
    role_arn           TEXT,
    created_at         INTEGER NOT NULL,
    started_at         INTEGER,
    completed_at       INTEGER,
    imported           INTEGER NOT NULL DEFAULT 0,
    skipped            INTEGER NOT NULL DEFAULT 0,
    failed             INTEGER NOT NULL DEFAULT 0,
    completion_message TEXT,
    failures           TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX import_jobs_by_pool ON import_jobs (pool_id, job_id);
