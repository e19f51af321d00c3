#!/usr/bin/env python3
"""SRP and password sign-in load generator for bench/srp.sh.

  srp_client.py setup   --endpoint URL
      (boto3, admin creds from $CIRRUS_ADMIN_ACCESS_KEY_ID/_SECRET_...)
      CreateUserPool, a public client with ALLOW_USER_SRP_AUTH,
      ALLOW_USER_PASSWORD_AUTH and ALLOW_REFRESH_TOKEN_AUTH, one user made by
      AdminCreateUser (SUPPRESS) + AdminSetUserPassword Permanent; signs in
      once each way (SRP through this file's client, password through
      InitiateAuth) and writes the unsigned USER_PASSWORD_AUTH InitiateAuth
      as a Lua request for bench/wrk.lua. Prints JSON {pool_id, client_id,
      username, password}.

  srp_client.py load    --endpoint URL --flow srp|password --workers N
                        --seconds S --warmup W --pool-id ID --client-id ID
                        --username U --password P
      N worker processes (separate processes: the 3072-bit modpows in
      CPython hold the GIL), each with one keep-alive HTTP connection, sign
      in back to back for W + S seconds. A sign-in is, for srp,
      InitiateAuth USER_SRP_AUTH (fresh a, A = g^a) -> RespondToAuthChallenge
      PASSWORD_VERIFIER (u, x, S, K, claim signature over the server's
      SECRET_BLOCK and a fresh TIMESTAMP); for password, one InitiateAuth
      USER_PASSWORD_AUTH. Only a 200 with an AccessToken counts; anything
      else is an error (reported, and the run fails). Counted: sign-ins
      that both start and finish inside the S-second window after the
      warm-up. Prints JSON: sign-ins/s, p50/p90/p99/max of the whole
      sign-in (both requests for srp), errors, and the CPU the client
      processes used (their user+system time / wall time = client cores).

  srp_client.py math    --workers N --seconds S
      The client's SRP work alone, without a server: per sign-in the same
      computations as `load --flow srp` (a, A = g^a, u, x, g^x,
      S = (B - k g^x)^(a + u x), HKDF, claim HMAC) against a B made up
      front. Prints JSON: sign-ins' worth of client math per second, and
      the client cores used.

The SRP math is written from spec/user-pools.md section 5 (SRP-6a as
amazon-cognito-identity-js computes it), with Python's built-in pow().
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import json
import multiprocessing as mp
import os
import secrets
import sys
import time

N_HEX = (
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
)
N = int(N_HEX, 16)
G = 2
TARGET = "AWSCognitoIdentityProviderService."
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def pad(x: int) -> bytes:
    """B(padHex(x)): minimal big-endian bytes, a leading 0 byte if the top bit is set."""
    h = format(x, "x")
    if len(h) % 2:
        h = "0" + h
    elif h[0] in "89abcdef":
        h = "00" + h
    return bytes.fromhex(h)


def h_int(*parts: bytes) -> int:
    return int.from_bytes(hashlib.sha256(b"".join(parts)).digest(), "big")


K_MULT = h_int(pad(N), pad(G))


def timestamp() -> str:
    t = datetime.datetime.now(datetime.timezone.utc)
    return f"{DAYS[t.weekday()]} {MONTHS[t.month - 1]} {t.day} {t:%H:%M:%S} UTC {t.year}"


def new_a():
    a = int.from_bytes(secrets.token_bytes(128), "big")
    return a, pow(G, a, N)


def claim(pool_name, user_id, password, a, big_a, salt_hex, b_hex, secret_block, ts):
    """The PASSWORD_CLAIM_SIGNATURE (spec section 5)."""
    big_b = int(b_hex, 16)
    if big_b % N == 0:
        raise ValueError("SRP_B is 0 mod N")
    u = h_int(pad(big_a), pad(big_b))
    if u == 0:
        raise ValueError("u = 0")
    salt = int(salt_hex, 16)
    inner = hashlib.sha256(f"{pool_name}{user_id}:{password}".encode()).digest()
    x = h_int(pad(salt), inner)
    gx = pow(G, x, N)
    s = pow((big_b - K_MULT * gx) % N, a + u * x, N)
    prk = hmac.new(pad(u), pad(s), hashlib.sha256).digest()
    key = hmac.new(prk, b"Caldera Derived Key\x01", hashlib.sha256).digest()[:16]
    msg = pool_name.encode() + user_id.encode() + base64.b64decode(secret_block) + ts.encode()
    return base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()


# --- HTTP ---------------------------------------------------------------------

def call(session, endpoint, op, body):
    r = session.post(endpoint, data=json.dumps(body, separators=(",", ":")),
                     headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + op},
                     timeout=30)
    try:
        doc = r.json()
    except ValueError:
        doc = {"raw": r.text[:300]}
    return r.status_code, doc


class SignInError(Exception):
    pass


def signin_srp(session, cfg):
    a, big_a = new_a()
    st, doc = call(session, cfg["endpoint"], "InitiateAuth", {
        "AuthFlow": "USER_SRP_AUTH", "ClientId": cfg["client_id"],
        "AuthParameters": {"USERNAME": cfg["username"], "SRP_A": format(big_a, "x")},
    })
    if st != 200 or doc.get("ChallengeName") != "PASSWORD_VERIFIER":
        raise SignInError(f"InitiateAuth USER_SRP_AUTH: HTTP {st} {str(doc)[:300]}")
    p = doc["ChallengeParameters"]
    ts = timestamp()
    sig = claim(cfg["pool_name"], p["USER_ID_FOR_SRP"], cfg["password"], a, big_a,
                p["SALT"], p["SRP_B"], p["SECRET_BLOCK"], ts)
    body = {
        "ChallengeName": "PASSWORD_VERIFIER", "ClientId": cfg["client_id"],
        "ChallengeResponses": {
            "USERNAME": p["USER_ID_FOR_SRP"], "PASSWORD_CLAIM_SECRET_BLOCK": p["SECRET_BLOCK"],
            "PASSWORD_CLAIM_SIGNATURE": sig, "TIMESTAMP": ts,
        },
    }
    if doc.get("Session"):
        body["Session"] = doc["Session"]
    st, doc = call(session, cfg["endpoint"], "RespondToAuthChallenge", body)
    if st != 200 or "AccessToken" not in doc.get("AuthenticationResult", {}):
        raise SignInError(f"RespondToAuthChallenge PASSWORD_VERIFIER: HTTP {st} {str(doc)[:300]}")
    return doc["AuthenticationResult"]


def signin_password(session, cfg):
    st, doc = call(session, cfg["endpoint"], "InitiateAuth", {
        "AuthFlow": "USER_PASSWORD_AUTH", "ClientId": cfg["client_id"],
        "AuthParameters": {"USERNAME": cfg["username"], "PASSWORD": cfg["password"]},
    })
    if st != 200 or "AccessToken" not in doc.get("AuthenticationResult", {}):
        raise SignInError(f"InitiateAuth USER_PASSWORD_AUTH: HTTP {st} {str(doc)[:300]}")
    return doc["AuthenticationResult"]


# --- load -------------------------------------------------------------------

def worker(cfg, start_at, window_start, window_end, q):
    import requests  # per process
    session = requests.Session()
    fn = signin_srp if cfg["flow"] == "srp" else signin_password
    lat, total, errors, first_error = [], 0, 0, ""
    while time.time() < start_at:
        time.sleep(0.001)
    while True:
        t0 = time.time()
        if t0 >= window_end:
            break
        try:
            fn(session, cfg)
            t1 = time.time()
            if t1 <= window_end:
                total += 1
            if t0 >= window_start and t1 <= window_end:
                lat.append(t1 - t0)
        except Exception as e:  # noqa: BLE001 - every failure is reported
            errors += 1
            if not first_error:
                first_error = repr(e)[:400]
            if errors > 50:
                break
    q.put({"lat": lat, "total": total, "errors": errors, "first_error": first_error})


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    i = min(len(sorted_vals) - 1, max(0, int(round(p / 100 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[i]


def run_workers(target, args_for, workers):
    """Start `workers` processes; returns (results, client cpu seconds, wall seconds)."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    c0 = os.times()
    w0 = time.time()
    procs = [ctx.Process(target=target, args=args_for(i) + (q,)) for i in range(workers)]
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    c1 = os.times()
    wall = time.time() - w0
    cpu = (c1.children_user - c0.children_user) + (c1.children_system - c0.children_system)
    return results, cpu, wall


def cmd_load(args):
    cfg = {
        "endpoint": args.endpoint.rstrip("/") + "/", "flow": args.flow, "client_id": args.client_id,
        "username": args.username, "password": args.password, "pool_name": args.pool_id.split("_", 1)[1],
    }
    start_at = time.time() + 0.5 + 0.05 * args.workers
    window_start = start_at + args.warmup
    window_end = window_start + args.seconds
    results, cpu, wall = run_workers(worker, lambda i: (cfg, start_at, window_start, window_end), args.workers)
    lat = sorted(x for r in results for x in r["lat"])
    errors = sum(r["errors"] for r in results)
    first_error = next((r["first_error"] for r in results if r["first_error"]), "")
    ms = lambda v: None if v is None else round(v * 1000, 2)  # noqa: E731
    print(json.dumps({
        "flow": args.flow, "workers": args.workers, "seconds": args.seconds, "warmup": args.warmup,
        "signins": len(lat), "signins_per_s": len(lat) / args.seconds,
        # Every sign-in that finished from the start through the end of the
        # window (warm-up included), and that span: for CPU per sign-in.
        "signins_total": sum(r["total"] for r in results), "active_s": round(window_end - start_at, 3),
        "p50_ms": ms(pct(lat, 50)), "p90_ms": ms(pct(lat, 90)), "p99_ms": ms(pct(lat, 99)),
        "max_ms": ms(lat[-1] if lat else None),
        "errors": errors, "first_error": first_error,
        # CPU of the worker processes over their whole life (warm-up included).
        "client_cpu_s": round(cpu, 3), "client_wall_s": round(wall, 3), "client_cores": round(cpu / wall, 3),
    }))
    if errors:
        sys.exit(f"srp_client: {errors} failed sign-ins; first: {first_error}")


def math_worker(seconds, q):
    # A made-up server side: verifier, b, B (not timed).
    pool_name, user_id, password = "benchpool", "0c6b2f2e-user", "Bench-Passw0rd!"
    salt = int.from_bytes(secrets.token_bytes(16), "big")
    x = h_int(pad(salt), hashlib.sha256(f"{pool_name}{user_id}:{password}".encode()).digest())
    v = pow(G, x, N)
    b = int.from_bytes(secrets.token_bytes(32), "big")
    big_b = (K_MULT * v + pow(G, b, N)) % N
    b_hex, salt_hex = format(big_b, "x"), format(salt, "x")
    block = base64.b64encode(secrets.token_bytes(64)).decode()
    n = 0
    t_end = time.time() + seconds
    while time.time() < t_end:
        a, big_a = new_a()
        claim(pool_name, user_id, password, a, big_a, salt_hex, b_hex, block, timestamp())
        n += 1
    q.put({"n": n})


def cmd_math(args):
    results, cpu, wall = run_workers(math_worker, lambda i: (args.seconds,), args.workers)
    n = sum(r["n"] for r in results)
    print(json.dumps({
        "workers": args.workers, "seconds": args.seconds, "signins_math": n,
        "signins_math_per_s": n / args.seconds,
        "client_cpu_s": round(cpu, 3), "client_wall_s": round(wall, 3), "client_cores": round(cpu / wall, 3),
        "cpu_ms_per_signin": round(cpu / n * 1000, 2) if n else None,
    }))


# --- setup ------------------------------------------------------------------

def lua_string(s):
    out = []
    for b in s.encode("utf-8"):
        c = chr(b)
        out.append(c if 0x20 <= b < 0x7F and c not in '\\"' else "\\%03d" % b)
    return '"' + "".join(out) + '"'


def cmd_setup(args):
    import boto3
    import requests
    from botocore.config import Config
    idp = boto3.client(
        "cognito-idp", endpoint_url=args.endpoint, region_name="us-east-1",
        aws_access_key_id=os.environ["CIRRUS_ADMIN_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["CIRRUS_ADMIN_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 1}),
    )
    pool_id = idp.create_user_pool(PoolName="cirrus-bench-srp")["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="bench-srp",
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    username, password = "srp-bench-user", "Bench-Passw0rd!1"
    idp.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "email", "Value": "srp-bench@example.com"},
                                          {"Name": "email_verified", "Value": "true"}])
    idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)
    cfg = {"endpoint": args.endpoint.rstrip("/") + "/", "client_id": client_id, "username": username,
           "password": password, "pool_name": pool_id.split("_", 1)[1]}
    with requests.Session() as s:
        signin_srp(s, cfg)
        signin_password(s, cfg)
    body = json.dumps({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client_id,
                       "AuthParameters": {"USERNAME": username, "PASSWORD": password}}, separators=(",", ":"))
    host = args.endpoint.split("://", 1)[1].rstrip("/")
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + "InitiateAuth", "Host": host}
    lines = ["-- generated by bench/srp_client.py setup; replayed by bench/wrk.lua", "return {",
             '  method = "POST",', '  path = "/",', f"  body = {lua_string(body)},", "  headers = {"]
    lines += [f"    [{lua_string(k)}] = {lua_string(v)}," for k, v in headers.items()]
    lines += ["  },", "}"]
    with open(args.lua, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(json.dumps({"pool_id": pool_id, "client_id": client_id, "username": username, "password": password}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--endpoint", required=True)
    s.add_argument("--lua", required=True, help="where to write the USER_PASSWORD_AUTH request for wrk")
    ld = sub.add_parser("load")
    ld.add_argument("--endpoint", required=True)
    ld.add_argument("--flow", choices=["srp", "password"], required=True)
    ld.add_argument("--workers", type=int, default=4)
    ld.add_argument("--seconds", type=float, default=15)
    ld.add_argument("--warmup", type=float, default=2)
    for k in ("pool-id", "client-id", "username", "password"):
        ld.add_argument(f"--{k}", required=True)
    m = sub.add_parser("math")
    m.add_argument("--workers", type=int, default=1)
    m.add_argument("--seconds", type=float, default=5)
    args = p.parse_args()
    {"setup": cmd_setup, "load": cmd_load, "math": cmd_math}[args.cmd](args)


if __name__ == "__main__":
    main()
