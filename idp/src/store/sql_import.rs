//! SQL for import jobs and batched user inserts; one macro body for both
//! backends.

pub(super) const JOB_COLUMNS: &str = "job_id, pool_id, job_name, status, upload_token_hash, role_arn, created_at, \
     started_at, completed_at, imported, skipped, failed, completion_message, failures";
pub(super) const INSERT_JOB: &str = "INSERT INTO import_jobs (job_id, pool_id, job_name, status, upload_token_hash, \
     role_arn, created_at, started_at, completed_at, imported, skipped, failed, completion_message, failures) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
pub(super) const UPDATE_JOB: &str = "UPDATE import_jobs SET status = $2, started_at = $3, completed_at = $4, \
     imported = $5, skipped = $6, failed = $7, completion_message = $8, failures = $9 WHERE job_id = $1";
pub(super) const PUT_CSV: &str = "UPDATE import_jobs SET csv = $2 WHERE job_id = $1";
pub(super) const GET_CSV: &str = "SELECT csv FROM import_jobs WHERE job_id = $1";

macro_rules! import_store {
    ($store:ident, $row:ty, $db:ty) => {
        use crate::model::{ImportFailure, ImportJob};
        use crate::store::ImportStore;
        use crate::store::sql_import::*;

        fn job_from_row(row: &$row) -> Result<ImportJob, sqlx::Error> {
            Ok(ImportJob {
                job_id: row.try_get("job_id")?,
                pool_id: row.try_get("pool_id")?,
                job_name: row.try_get("job_name")?,
                status: row.try_get("status")?,
                upload_token_hash: row.try_get("upload_token_hash")?,
                role_arn: row.try_get("role_arn")?,
                created_ms: row.try_get("created_at")?,
                started_ms: row.try_get("started_at")?,
                completed_ms: row.try_get("completed_at")?,
                imported: row.try_get("imported")?,
                skipped: row.try_get("skipped")?,
                failed: row.try_get("failed")?,
                completion_message: row.try_get("completion_message")?,
                failures: row.try_get::<Json<Vec<ImportFailure>>, _>("failures")?.0,
            })
        }

        #[async_trait]
        impl ImportStore for $store {
            async fn insert_import_job(&self, j: &ImportJob) -> Result<(), StoreError> {
                sqlx::query(INSERT_JOB)
                    .bind(&j.job_id)
                    .bind(&j.pool_id)
                    .bind(&j.job_name)
                    .bind(&j.status)
                    .bind(&j.upload_token_hash)
                    .bind(&j.role_arn)
                    .bind(j.created_ms)
                    .bind(j.started_ms)
                    .bind(j.completed_ms)
                    .bind(j.imported)
                    .bind(j.skipped)
                    .bind(j.failed)
                    .bind(&j.completion_message)
                    .bind(Json(&j.failures))
                    .execute(&self.pool)
                    .await
                    .map_err(conflict_or)?;
                Ok(())
            }

            async fn get_import_job(&self, job_id: &str) -> Result<Option<ImportJob>, StoreError> {
                let sql = format!("SELECT {JOB_COLUMNS} FROM import_jobs WHERE job_id = $1");
                let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(job_id).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().map(job_from_row).transpose()?)
            }

            async fn update_import_job(&self, j: &ImportJob) -> Result<(), StoreError> {
                sqlx::query(UPDATE_JOB)
                    .bind(&j.job_id)
                    .bind(&j.status)
                    .bind(j.started_ms)
                    .bind(j.completed_ms)
                    .bind(j.imported)
                    .bind(j.skipped)
                    .bind(j.failed)
                    .bind(&j.completion_message)
                    .bind(Json(&j.failures))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn list_import_jobs(
                &self,
                pool_id: &str,
                after: Option<&str>,
                limit: i64,
            ) -> Result<Vec<ImportJob>, StoreError> {
                let sql = format!(
                    "SELECT {JOB_COLUMNS} FROM import_jobs WHERE pool_id = $1 AND job_id > $2 ORDER BY job_id LIMIT $3"
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(pool_id)
                    .bind(after.unwrap_or(""))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.iter().map(job_from_row).collect::<Result<_, _>>()?)
            }

            async fn put_import_csv(&self, job_id: &str, csv: Option<&[u8]>) -> Result<(), StoreError> {
                sqlx::query(PUT_CSV).bind(job_id).bind(csv).execute(&self.pool).await?;
                Ok(())
            }

            async fn get_import_csv(&self, job_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
                let row: Option<(Option<Vec<u8>>,)> =
                    sqlx::query_as(GET_CSV).bind(job_id).fetch_optional(&self.pool).await?;
                Ok(row.and_then(|(csv,)| csv))
            }

            async fn import_users(
                &self,
                users: &[(User, Vec<String>)],
            ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
                let mut tx = self.pool.begin().await?;
                let mut outcomes = Vec::with_capacity(users.len());
                for (user, aliases) in users {
                    let mut row = sqlx::Acquire::begin(&mut *tx).await?;
                    match insert_user_on(&mut row, user, aliases).await {
                        Ok(()) => {
                            row.commit().await?;
                            outcomes.push(Ok(()));
                        }
                        Err(e) => {
                            row.rollback().await?;
                            outcomes.push(Err(e));
                        }
                    }
                }
                tx.commit().await?;
                Ok(outcomes)
            }
        }
    };
}

pub(super) use import_store;
