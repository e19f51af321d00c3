//! Bulk import: Cognito's CSV format (GetCSVHeader, CreateUserImportJob, an
//! upload URL, StartUserImportJob), plus a `cirrus:password_hash` column so
//! users imported with their bcrypt / PBKDF2 / scrypt / argon2 hashes keep
//! their passwords (upgraded to argon2id at their next sign-in).

use std::collections::BTreeMap;
use std::sync::Arc;

use awsapi::json::{check_length, check_range};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::passwords::HashScheme;
use super::users::{Writer, aliases_of, check_attributes, check_username, username_key};
use super::{Page, UserPools, decode_token, page};
use crate::error::{IdpError, Result};
use crate::model::*;
use crate::store::StoreError;

/// Rows inserted per transaction.
const BATCH: usize = 500;
/// Failed rows kept with the job (the count goes on).
const MAX_REPORTED_FAILURES: usize = 1000;
/// The non-Cognito column carrying an existing password hash.
pub const PASSWORD_HASH_COLUMN: &str = "cirrus:password_hash";

const STANDARD_COLUMNS: &[&str] = &[
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
    "cognito:mfa_enabled",
    "cognito:username",
];

fn job_not_found(job_id: &str) -> IdpError {
    IdpError::ResourceNotFound(format!("Import job {job_id} does not exist."))
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

impl UserPools {
    /// GetCSVHeader: Cognito's columns, the pool's custom attributes, and
    /// Cirrus's password-hash column.
    pub async fn csv_header(&self, pool_id: &str) -> Result<Vec<String>> {
        let pool = self.describe_pool(pool_id).await?;
        let mut header: Vec<String> = STANDARD_COLUMNS.iter().map(|c| c.to_string()).collect();
        for attr in &pool.schema {
            if let Some(name) =
                attr.name.as_deref().filter(|n| n.starts_with("custom:") || n.starts_with("dev:custom:"))
            {
                header.push(name.to_string());
            }
        }
        header.push(PASSWORD_HASH_COLUMN.to_string());
        Ok(header)
    }

    /// CreateUserImportJob; returns the job and its upload URL (which holds
    /// a one-time token; only its hash is stored).
    pub async fn create_import_job(
        &self,
        pool_id: &str,
        name: &str,
        role_arn: Option<String>,
    ) -> Result<(ImportJob, String)> {
        self.describe_pool(pool_id).await?;
        check_length("JobName", name, 1, 128)?;
        let job_id = format!("import-{}", secrets::random_string(10, secrets::ALNUM));
        let token = secrets::random_string(40, secrets::ALNUM);
        let job = ImportJob {
            job_id: job_id.clone(),
            pool_id: pool_id.to_string(),
            job_name: name.to_string(),
            status: "Created".into(),
            upload_token_hash: token_hash(&token),
            role_arn,
            created_ms: self.now_ms(),
            started_ms: None,
            completed_ms: None,
            imported: 0,
            skipped: 0,
            failed: 0,
            completion_message: None,
            failures: Vec::new(),
        };
        self.store.insert_import_job(&job).await?;
        Ok((job, self.upload_url(&job_id, &token)))
    }

    fn upload_url(&self, job_id: &str, token: &str) -> String {
        format!("{}/import-jobs/{job_id}?token={token}", self.settings.public_url)
    }

    /// The pre-signed URL cannot be rebuilt from the stored hash: later
    /// answers show it without the token.
    pub fn job_url(&self, job_id: &str) -> String {
        format!("{}/import-jobs/{job_id}", self.settings.public_url)
    }

    /// Checks an upload token against the job's.
    async fn job_for_token(&self, job_id: &str, token: &str) -> Result<ImportJob> {
        let job = self.store.get_import_job(job_id).await?.ok_or_else(|| job_not_found(job_id))?;
        if !bool::from(token_hash(token).ct_eq(&job.upload_token_hash)) {
            return Err(IdpError::NotAuthorized("The upload token does not match this import job.".into()));
        }
        Ok(job)
    }

    /// The PUT to the pre-signed URL.
    pub async fn upload_import_csv(&self, job_id: &str, token: &str, csv: &[u8]) -> Result<()> {
        let job = self.job_for_token(job_id, token).await?;
        if job.status != "Created" {
            return Err(IdpError::PreconditionNotMet(format!(
                "Import job {job_id} is {}; it takes no upload.",
                job.status
            )));
        }
        self.store.put_import_csv(job_id, Some(csv)).await?;
        Ok(())
    }

    /// The failed rows of a job, for whoever holds its upload token.
    pub async fn import_failures(&self, job_id: &str, token: &str) -> Result<Vec<ImportFailure>> {
        Ok(self.job_for_token(job_id, token).await?.failures)
    }

    pub async fn describe_import_job(&self, pool_id: &str, job_id: &str) -> Result<ImportJob> {
        self.describe_pool(pool_id).await?;
        let job = self.store.get_import_job(job_id).await?.ok_or_else(|| job_not_found(job_id))?;
        if job.pool_id != pool_id {
            return Err(job_not_found(job_id));
        }
        Ok(job)
    }

    pub async fn list_import_jobs(
        &self,
        pool_id: &str,
        max_results: i64,
        token: Option<&str>,
    ) -> Result<Page<ImportJob>> {
        self.describe_pool(pool_id).await?;
        check_range("MaxResults", max_results, 1, 60)?;
        let after = decode_token(token)?;
        let items = self.store.list_import_jobs(pool_id, after.as_deref(), max_results + 1).await?;
        Ok(page(items, max_results, |j| &j.job_id))
    }

    /// StartUserImportJob: the rows are processed in the background; the
    /// job's counts move as batches commit.
    pub async fn start_import_job(self: &Arc<Self>, pool_id: &str, job_id: &str) -> Result<ImportJob> {
        let mut job = self.describe_import_job(pool_id, job_id).await?;
        if job.status != "Created" {
            return Err(IdpError::InvalidParameter(format!(
                "Import job {job_id} is {}, not Created.",
                job.status
            )));
        }
        let csv = self.store.get_import_csv(job_id).await?.ok_or_else(|| {
            IdpError::PreconditionNotMet("No CSV has been uploaded for this import job.".into())
        })?;
        job.status = "InProgress".into();
        job.started_ms = Some(self.now_ms());
        self.store.update_import_job(&job).await?;
        let service = self.clone();
        let background = job.clone();
        tokio::spawn(async move {
            let job_id = background.job_id.clone();
            if let Err(e) = service.run_import(background, csv).await {
                tracing::error!(job = %job_id, error = %e, "import job failed");
            }
        });
        Ok(job)
    }

    pub async fn stop_import_job(&self, pool_id: &str, job_id: &str) -> Result<ImportJob> {
        let mut job = self.describe_import_job(pool_id, job_id).await?;
        match job.status.as_str() {
            "InProgress" => job.status = "Stopping".into(),
            "Created" | "Pending" => {
                job.status = "Stopped".into();
                job.completed_ms = Some(self.now_ms());
            }
            other => {
                return Err(IdpError::InvalidParameter(format!(
                    "Import job {job_id} is {other}; it cannot be stopped."
                )));
            }
        }
        self.store.update_import_job(&job).await?;
        Ok(job)
    }

    async fn run_import(&self, mut job: ImportJob, csv: Vec<u8>) -> Result<()> {
        let pool = self.describe_pool(&job.pool_id).await?;
        let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(csv.as_slice());
        let header: Vec<String> = match reader.headers() {
            Ok(h) => h.iter().map(|c| c.trim().to_string()).collect(),
            Err(e) => return self.fail_job(job, format!("The CSV header cannot be read: {e}")).await,
        };
        let known = self.csv_header(&pool.id).await?;
        if let Some(unknown) = header.iter().find(|c| !known.contains(c)) {
            return self.fail_job(job, format!("Unknown CSV column: {unknown}")).await;
        }
        if !header.iter().any(|c| c == "cognito:username") {
            return self.fail_job(job, "The CSV has no cognito:username column.".into()).await;
        }
        let mut batch: Vec<(u64, User, Vec<String>)> = Vec::with_capacity(BATCH);
        let mut records = reader.records();
        loop {
            let next = records.next();
            let done = next.is_none();
            if let Some(record) = next {
                let line = record.as_ref().ok().and_then(|r| r.position()).map(|p| p.line()).unwrap_or(0);
                match record.map_err(|e| e.to_string()).and_then(|r| self.import_row(&pool, &header, &r)) {
                    Ok((user, aliases)) => batch.push((line, user, aliases)),
                    Err(reason) => {
                        let line = if line == 0 { job.imported + job.failed + 2 } else { line as i64 } as u64;
                        record_failure(&mut job, line, reason);
                    }
                }
            }
            if batch.len() >= BATCH || (done && !batch.is_empty()) {
                let rows: Vec<(User, Vec<String>)> =
                    batch.iter().map(|(_, u, a)| (u.clone(), a.clone())).collect();
                let outcomes = self.store.import_users(&rows).await?;
                for ((line, _, _), outcome) in batch.drain(..).zip(outcomes) {
                    match outcome {
                        Ok(()) => job.imported += 1,
                        Err(StoreError::Conflict) => {
                            record_failure(&mut job, line, "the username already exists".into())
                        }
                        Err(StoreError::AliasConflict) => record_failure(
                            &mut job,
                            line,
                            "an alias (email, phone or preferred_username) is taken".into(),
                        ),
                        Err(e) => record_failure(&mut job, line, format!("storage: {e}")),
                    }
                }
                // Progress, and a chance to notice StopUserImportJob.
                let stored = self.store.get_import_job(&job.job_id).await?;
                if stored.as_ref().is_some_and(|s| s.status == "Stopping") {
                    job.status = "Stopped".into();
                    break;
                }
                self.store.update_import_job(&job).await?;
            }
            if done {
                job.status = "Succeeded".into();
                break;
            }
        }
        job.completed_ms = Some(self.now_ms());
        job.completion_message = Some(completion_message(&job));
        self.store.update_import_job(&job).await?;
        self.store.put_import_csv(&job.job_id, None).await?;
        tracing::info!(job = %job.job_id, imported = job.imported, failed = job.failed, "import job finished");
        Ok(())
    }

    async fn fail_job(&self, mut job: ImportJob, message: String) -> Result<()> {
        job.status = "Failed".into();
        job.completed_ms = Some(self.now_ms());
        job.completion_message = Some(truncate(&message, 128));
        self.store.update_import_job(&job).await?;
        self.store.put_import_csv(&job.job_id, None).await?;
        Ok(())
    }

    /// One CSV row as a user, or why it cannot be one.
    fn import_row(
        &self,
        pool: &UserPool,
        header: &[String],
        record: &csv::StringRecord,
    ) -> std::result::Result<(User, Vec<String>), String> {
        let mut username = None;
        let mut hash = None;
        let mut pairs = Vec::new();
        for (column, value) in header.iter().zip(record.iter()) {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            match column.as_str() {
                "cognito:username" => username = Some(value.to_string()),
                "cognito:mfa_enabled" if value.eq_ignore_ascii_case("true") => {
                    return Err("cognito:mfa_enabled=true is not supported by this import".into());
                }
                "cognito:mfa_enabled" => {}
                PASSWORD_HASH_COLUMN => hash = Some(value.to_string()),
                name => pairs.push((name.to_string(), value.to_string())),
            }
        }
        let username = username.ok_or("cognito:username is empty")?;
        check_username(&username).map_err(|e| e.to_string())?;
        if let Some(h) = &hash
            && !HashScheme::is_well_formed(h)
        {
            return Err("cirrus:password_hash is not a bcrypt, PBKDF2-SHA256, scrypt or argon2 hash".into());
        }
        let mut attributes: BTreeMap<String, String> =
            check_attributes(pool, &pairs, Writer::Admin).map_err(|e| e.to_string())?;
        let sub = uuid::Uuid::new_v4().to_string();
        attributes.insert("sub".into(), sub.clone());
        let now = self.now_ms();
        // Without a hash the user must reset their password, as in Cognito.
        let status = if hash.is_some() { UserStatus::CONFIRMED } else { UserStatus::RESET_REQUIRED };
        let mut user =
            User::fresh(&pool.id, username_key(pool, &username), username, sub, status, attributes, now);
        user.password_hash = hash;
        let aliases = aliases_of(pool, &user.attributes);
        Ok((user, aliases))
    }
}

fn record_failure(job: &mut ImportJob, line: u64, reason: String) {
    job.failed += 1;
    if job.failures.len() < MAX_REPORTED_FAILURES {
        job.failures.push(ImportFailure { line, reason });
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Cognito's CompletionMessage is at most 128 characters: the counts, and
/// the first failed lines.
fn completion_message(job: &ImportJob) -> String {
    if job.failed == 0 {
        return if job.status == "Stopped" {
            "Import Job Stopped".into()
        } else {
            "Import Job Completed Successfully".into()
        };
    }
    let lines: Vec<String> = job.failures.iter().take(8).map(|f| f.line.to_string()).collect();
    truncate(
        &format!("{} users imported, {} rows failed (lines {})", job.imported, job.failed, lines.join(", ")),
        128,
    )
}
