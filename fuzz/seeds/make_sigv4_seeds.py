#!/usr/bin/env python3
"""Writes the sigv4_header seeds: correctly signed inputs for the fuzz target's fixed request.

The target verifies `GET /p` (Host: sts.cirrus.test, X-Amz-Date: 20260101T000000Z, empty body)
for service "sts" with the secret below, so these inputs verify successfully at its fixed clock.
Run from this directory: python3 make_sigv4_seeds.py
"""
import hashlib
import hmac
import urllib.parse

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
HOST = "sts.cirrus.test"
AMZ_DATE = "20260101T000000Z"
DATE = AMZ_DATE[:8]
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def signature(region, service, canonical_request):
    scope = f"{DATE}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", AMZ_DATE, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = ("AWS4" + SECRET).encode()
    for part in (DATE, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def quote(s):
    return urllib.parse.quote(s, safe="-_.~")


def header_seed(access_key, region="us-east-1"):
    signed = "host;x-amz-date"
    canonical = "\n".join(
        ["GET", "/p", "", f"host:{HOST}\nx-amz-date:{AMZ_DATE}\n", signed, EMPTY_SHA256]
    )
    sig = signature(region, "sts", canonical)
    return (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{DATE}/{region}/sts/aws4_request, "
        f"SignedHeaders={signed}, Signature={sig}"
    )


def presigned_seed(access_key, extra=(), token=None, payload="UNSIGNED-PAYLOAD", region="us-east-1"):
    params = list(extra) + [
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Credential", f"{access_key}/{DATE}/{region}/sts/aws4_request"),
        ("X-Amz-Date", AMZ_DATE),
        ("X-Amz-Expires", "900"),
        ("X-Amz-SignedHeaders", "host"),
    ]
    if token:
        params.append(("X-Amz-Security-Token", token))
    canonical_query = "&".join(f"{quote(k)}={quote(v)}" for k, v in sorted(params))
    canonical = "\n".join(["GET", "/p", canonical_query, f"host:{HOST}\n", "host", payload])
    params.append(("X-Amz-Signature", signature(region, "sts", canonical)))
    return "&".join(f"{quote(k)}={quote(v)}" for k, v in params)


SEEDS = {
    "header_valid": header_seed("AKIAIOSFODNN7EXAMPLE"),
    "header_temporary_key": header_seed("ASIAQWERTYUIOPASDFGH", region="eu-west-1"),
    "header_wrong_service": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/iam/"
    "aws4_request, SignedHeaders=content-type;host;x-amz-date, "
    "Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
    "presigned_valid": presigned_seed(
        "AKIAIOSFODNN7EXAMPLE", extra=[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]
    ),
    "presigned_with_token": presigned_seed(
        "ASIAQWERTYUIOPASDFGH",
        extra=[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
        token="IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+abc/def=",
        payload=EMPTY_SHA256,
    ),
}

if __name__ == "__main__":
    for name, text in SEEDS.items():
        with open(f"sigv4_header/{name}", "w") as f:
            f.write(text)
        print(f"sigv4_header/{name}: {text}")
