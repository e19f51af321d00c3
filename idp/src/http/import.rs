//! Bulk import on the wire: the signed operations, and the upload URL that
//! CreateUserImportJob hands out (PUT the CSV there, as to Cognito's S3 URL).

use std::sync::Arc;

use awsapi::AwsError;
use awsapi::json::decode;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::IdpError;
use crate::model::ImportJob;
use crate::service::UserPools;

pub const SIGNED: &[&str] = &[
    "GetCSVHeader",
    "CreateUserImportJob",
    "StartUserImportJob",
    "StopUserImportJob",
    "DescribeUserImportJob",
    "ListUserImportJobs",
];

/// Largest CSV accepted by the upload URL.
const MAX_CSV_BYTES: usize = 512 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PoolOnly {
    user_pool_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateJob {
    user_pool_id: String,
    job_name: String,
    cloud_watch_logs_role_arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct JobRef {
    user_pool_id: String,
    job_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListJobs {
    user_pool_id: String,
    max_results: i64,
    pagination_token: Option<String>,
}

fn job_type(job: &ImportJob, url: &str) -> Value {
    let mut v = json!({
        "JobName": job.job_name,
        "JobId": job.job_id,
        "UserPoolId": job.pool_id,
        "PreSignedUrl": url,
        "CreationDate": job.created_ms as f64 / 1000.0,
        "Status": job.status,
        "ImportedUsers": job.imported,
        "SkippedUsers": job.skipped,
        "FailedUsers": job.failed,
    });
    if let Value::Object(map) = &mut v {
        if let Some(ms) = job.started_ms {
            map.insert("StartDate".into(), json!(ms as f64 / 1000.0));
        }
        if let Some(ms) = job.completed_ms {
            map.insert("CompletionDate".into(), json!(ms as f64 / 1000.0));
        }
        if let Some(arn) = &job.role_arn {
            map.insert("CloudWatchLogsRoleArn".into(), json!(arn));
        }
        if let Some(m) = &job.completion_message {
            map.insert("CompletionMessage".into(), json!(m));
        }
    }
    v
}

pub async fn call_signed(pools: &Arc<UserPools>, operation: &str, body: &[u8]) -> Result<Value, AwsError> {
    match operation {
        "GetCSVHeader" => {
            let r: PoolOnly = decode(body)?;
            let header = pools.csv_header(&r.user_pool_id).await?;
            Ok(json!({ "UserPoolId": r.user_pool_id, "CSVHeader": header }))
        }
        "CreateUserImportJob" => {
            let r: CreateJob = decode(body)?;
            let (job, url) =
                pools.create_import_job(&r.user_pool_id, &r.job_name, r.cloud_watch_logs_role_arn).await?;
            Ok(json!({ "UserImportJob": job_type(&job, &url) }))
        }
        "StartUserImportJob" | "StopUserImportJob" | "DescribeUserImportJob" => {
            let r: JobRef = decode(body)?;
            let job = match operation {
                "StartUserImportJob" => pools.start_import_job(&r.user_pool_id, &r.job_id).await?,
                "StopUserImportJob" => pools.stop_import_job(&r.user_pool_id, &r.job_id).await?,
                _ => pools.describe_import_job(&r.user_pool_id, &r.job_id).await?,
            };
            Ok(json!({ "UserImportJob": job_type(&job, &pools.job_url(&job.job_id)) }))
        }
        "ListUserImportJobs" => {
            let r: ListJobs = decode(body)?;
            let page =
                pools.list_import_jobs(&r.user_pool_id, r.max_results, r.pagination_token.as_deref()).await?;
            let jobs: Vec<Value> =
                page.items.iter().map(|j| job_type(j, &pools.job_url(&j.job_id))).collect();
            let mut out = json!({ "UserImportJobs": jobs });
            if let (Some(t), Value::Object(map)) = (page.next_token, &mut out) {
                map.insert("PaginationToken".into(), json!(t));
            }
            Ok(out)
        }
        other => Err(AwsError::unknown_operation(other)),
    }
}

#[derive(Deserialize)]
struct UploadToken {
    token: String,
}

pub fn router(pools: Arc<UserPools>) -> Router {
    Router::new()
        .route("/import-jobs/{job_id}", put(upload).layer(DefaultBodyLimit::max(MAX_CSV_BYTES)))
        .route("/import-jobs/{job_id}/failures", get(failures))
        .with_state(pools)
}

fn plain(status: StatusCode, message: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], json!({ "message": message }).to_string())
        .into_response()
}

fn error_response(e: IdpError) -> Response {
    match e {
        IdpError::ResourceNotFound(m) => plain(StatusCode::NOT_FOUND, &m),
        IdpError::NotAuthorized(m) => plain(StatusCode::FORBIDDEN, &m),
        IdpError::PreconditionNotMet(m) => plain(StatusCode::CONFLICT, &m),
        other => {
            let wire: AwsError = other.into();
            plain(wire.status, &wire.message)
        }
    }
}

async fn upload(
    State(pools): State<Arc<UserPools>>,
    Path(job_id): Path<String>,
    Query(q): Query<UploadToken>,
    body: Bytes,
) -> Response {
    match pools.upload_import_csv(&job_id, &q.token, &body).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => error_response(e),
    }
}

async fn failures(
    State(pools): State<Arc<UserPools>>,
    Path(job_id): Path<String>,
    Query(q): Query<UploadToken>,
) -> Response {
    match pools.import_failures(&job_id, &q.token).await {
        Ok(list) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], json!(list).to_string())
            .into_response(),
        Err(e) => error_response(e),
    }
}
