#!/usr/bin/env python3
"""Pool filling and ListUsers checks for bench/accounts.sh (boto3 + requests).

  accounts.py import --users N --pool-name NAME
      CreateUserPool, then bulk-import N users through the server's own
      import path: GetCSVHeader, CreateUserImportJob, PUT of the CSV to the
      job's PreSignedUrl, StartUserImportJob, DescribeUserImportJob every
      0.5 s until it is no longer Pending/InProgress. Prints one JSON object:
      pool id, the job's counts, StartDate/CompletionDate, users/s.

  accounts.py check --pool-id ID --filter F [--limit L] --expect N
      One ListUsers (boto3) with that filter; fails unless it returns N users.

Rows: cognito:username user0000001..., email user0000001@example.com,
email_verified true, given_name cycled from NAMES (three of the ten start
with "Al"), cognito:mfa_enabled false; every other column empty (no
password hashes).

Common options: --endpoint (required), --region; credentials from
$CIRRUS_ADMIN_ACCESS_KEY_ID / $CIRRUS_ADMIN_SECRET_ACCESS_KEY.
"""
import argparse
import json
import os
import sys
import time

import boto3
import requests
from botocore.config import Config

NAMES = ["Alice", "Bob", "Albert", "Carol", "Dave", "Alan", "Eve", "Frank", "Grace", "Heidi"]


def client(args):
    return boto3.client(
        "cognito-idp",
        endpoint_url=args.endpoint,
        region_name=args.region,
        aws_access_key_id=os.environ["CIRRUS_ADMIN_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["CIRRUS_ADMIN_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 1}, read_timeout=120),
    )


def username(i):
    return f"user{i:07d}"


def build_csv(header, n):
    col = {name: i for i, name in enumerate(header)}
    width = len(header)
    lines = [",".join(header)]
    for i in range(1, n + 1):
        row = [""] * width
        u = username(i)
        row[col["cognito:username"]] = u
        row[col["email"]] = u + "@example.com"
        row[col["email_verified"]] = "true"
        row[col["given_name"]] = NAMES[i % len(NAMES)]
        row[col["cognito:mfa_enabled"]] = "false"
        lines.append(",".join(row))
    return ("\n".join(lines) + "\n").encode()


def cmd_import(args):
    idp = client(args)
    pool_id = idp.create_user_pool(PoolName=args.pool_name)["UserPool"]["Id"]
    header = idp.get_csv_header(UserPoolId=pool_id)["CSVHeader"]
    t0 = time.monotonic()
    body = build_csv(header, args.users)
    t_csv = time.monotonic() - t0
    job = idp.create_user_import_job(
        UserPoolId=pool_id, JobName=f"bench-{args.users}",
        CloudWatchLogsRoleArn="arn:aws:iam::000000000000:role/Import",
    )["UserImportJob"]
    t0 = time.monotonic()
    put = requests.put(job["PreSignedUrl"], data=body, timeout=600)
    t_put = time.monotonic() - t0
    if put.status_code != 200:
        sys.exit(f"accounts: upload answered HTTP {put.status_code}: {put.text[:500]}")
    idp.start_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])
    deadline = time.monotonic() + args.timeout
    while True:
        done = idp.describe_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])["UserImportJob"]
        if done["Status"] not in ("Pending", "InProgress"):
            break
        if time.monotonic() > deadline:
            sys.exit(f"accounts: import not done after {args.timeout} s: {done}")
        time.sleep(0.5)
    if done["Status"] != "Succeeded" or done["ImportedUsers"] != args.users or done.get("FailedUsers", 0):
        sys.exit(f"accounts: import ended badly: {done}")
    seconds = (done["CompletionDate"] - done["StartDate"]).total_seconds()
    print(json.dumps({
        "pool_id": pool_id,
        "job_id": job["JobId"],
        "users": args.users,
        "imported": done["ImportedUsers"],
        "failed": done.get("FailedUsers", 0),
        "csv_bytes": len(body),
        "csv_build_s": round(t_csv, 3),
        "upload_s": round(t_put, 3),
        "start": done["StartDate"].isoformat(),
        "completion": done["CompletionDate"].isoformat(),
        "import_s": seconds,
        "users_per_s": done["ImportedUsers"] / seconds if seconds > 0 else None,
    }))


def cmd_check(args):
    idp = client(args)
    kw = {"UserPoolId": args.pool_id}
    if args.filter:
        kw["Filter"] = args.filter
    if args.limit:
        kw["Limit"] = args.limit
    users = idp.list_users(**kw)["Users"]
    if len(users) != args.expect:
        sys.exit(f"accounts: ListUsers {kw} returned {len(users)} users, expected {args.expect}")
    first = users[0]["Username"] if users else None
    print(json.dumps({"filter": args.filter, "limit": args.limit, "returned": len(users), "first": first}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", required=True)
    p.add_argument("--region", default="us-east-1")
    sub = p.add_subparsers(dest="cmd", required=True)
    imp = sub.add_parser("import")
    imp.add_argument("--users", type=int, required=True)
    imp.add_argument("--pool-name", default="cirrus-bench-accounts")
    imp.add_argument("--timeout", type=float, default=1800)
    chk = sub.add_parser("check")
    chk.add_argument("--pool-id", required=True)
    chk.add_argument("--filter", default="")
    chk.add_argument("--limit", type=int, default=0)
    chk.add_argument("--expect", type=int, required=True)
    args = p.parse_args()
    {"import": cmd_import, "check": cmd_check}[args.cmd](args)


if __name__ == "__main__":
    main()
