"""Bulk import through boto3: GetCSVHeader, CreateUserImportJob, the upload
URL, Start/Describe/List/StopUserImportJob, and imported users signing in
with the passwords their old system hashed (bcrypt)."""

from __future__ import annotations

import time

import bcrypt
import pytest
import requests

from harness import PASSWORD, assert_client_error, new_app_client, new_pool, unique


def upload_url(endpoint: str, presigned: str) -> str:
    # The URL names the server's public address; aim it at this server.
    return endpoint + "/import-jobs/" + presigned.split("/import-jobs/", 1)[1]


def wait_done(idp, pool_id: str, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.time() + timeout
    while True:
        job = idp.describe_user_import_job(UserPoolId=pool_id, JobId=job_id)["UserImportJob"]
        if job["Status"] not in ("InProgress", "Pending"):
            return job
        assert time.time() < deadline, job
        time.sleep(0.2)


def csv_for(header: list[str], rows: list[dict]) -> str:
    lines = [",".join(header)]
    for row in rows:
        lines.append(",".join(row.get(column, "") for column in header))
    return "\n".join(lines) + "\n"


def test_import_with_bcrypt_hashes(idp, endpoint):
    pool_id = new_pool(idp)
    client = new_app_client(idp, pool_id, ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    header = idp.get_csv_header(UserPoolId=pool_id)["CSVHeader"]
    assert header[-1] == "cirrus:password_hash" and "cognito:username" in header and "email" in header

    hashed = bcrypt.hashpw(b"old-system-pass", bcrypt.gensalt(rounds=4)).decode()
    rows = [
        {"cognito:username": f"imp{i}", "email": f"imp{i}@example.com", "email_verified": "true",
         "cognito:mfa_enabled": "false", "cirrus:password_hash": hashed}
        for i in range(50)
    ]
    rows[10]["email"] = "broken"                       # line 12: bad email
    rows[20]["cirrus:password_hash"] = "plain-text"    # line 22: not a known hash
    rows.append({"cognito:username": "nohash", "email": "nohash@example.com"})  # imported, must reset
    job = idp.create_user_import_job(
        UserPoolId=pool_id, JobName=unique("job"), CloudWatchLogsRoleArn="arn:aws:iam::000000000000:role/Import"
    )["UserImportJob"]
    assert job["Status"] == "Created" and job["JobId"].startswith("import-")
    put = requests.put(upload_url(endpoint, job["PreSignedUrl"]), data=csv_for(header, rows).encode(),
                       headers={"x-amz-server-side-encryption": "aws:kms"}, timeout=30)
    assert put.status_code == 200, put.text
    started = idp.start_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])["UserImportJob"]
    assert started["Status"] in ("InProgress", "Succeeded")
    done = wait_done(idp, pool_id, job["JobId"])
    assert done["Status"] == "Succeeded"
    assert done["ImportedUsers"] == 49 and done["FailedUsers"] == 2, done
    assert "12" in done["CompletionMessage"] and "22" in done["CompletionMessage"]

    tokens = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": "imp3", "PASSWORD": "old-system-pass"})
    assert "IdToken" in tokens["AuthenticationResult"]
    with pytest.raises(idp.exceptions.PasswordResetRequiredException):
        idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                          AuthParameters={"USERNAME": "nohash", "PASSWORD": PASSWORD})
    listed = idp.list_user_import_jobs(UserPoolId=pool_id, MaxResults=10)["UserImportJobs"]
    assert [j["JobId"] for j in listed] == [job["JobId"]]


def test_start_without_upload_and_stop(idp):
    pool_id = new_pool(idp)
    job = idp.create_user_import_job(UserPoolId=pool_id, JobName=unique("job"),
                                     CloudWatchLogsRoleArn="arn:aws:iam::000000000000:role/Import")["UserImportJob"]
    with pytest.raises(idp.exceptions.PreconditionNotMetException):
        idp.start_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])
    stopped = idp.stop_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])["UserImportJob"]
    assert stopped["Status"] == "Stopped"
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.describe_user_import_job(UserPoolId=pool_id, JobId="import-doesnotexist")


def test_upload_needs_the_token(idp, endpoint):
    pool_id = new_pool(idp)
    job = idp.create_user_import_job(UserPoolId=pool_id, JobName=unique("job"),
                                     CloudWatchLogsRoleArn="arn:aws:iam::000000000000:role/Import")["UserImportJob"]
    url = upload_url(endpoint, job["PreSignedUrl"]).split("?")[0]
    assert requests.put(url + "?token=wrong", data=b"cognito:username\nx\n", timeout=10).status_code == 403
    assert requests.put(url, data=b"cognito:username\nx\n", timeout=10).status_code == 400
