//! `cirrus-bench-micro`: the raw rates of the two expensive steps of a
//! sign-in and a refresh, on this machine, with the server's crates and
//! settings. `bench/auth.sh` quotes login and refresh throughput as ratios to
//! these numbers.
//!
//! - argon2id (argon2 0.6) with the server's default cost, m = 19456 KiB,
//!   t = 2, p = 1: `hash_password` to a PHC string (what setting a password
//!   does) and `verify_password` against a parsed PHC string (what a
//!   password sign-in does). Each is one full argon2id computation.
//! - RS256 (jsonwebtoken 11, `aws_lc_rs` backend) with an RSA-2048 key made
//!   and loaded the way the server does it: `KeyPair::generate`, PKCS#8 DER,
//!   a "PRIVATE KEY" PEM, `EncodingKey::from_rsa_pem`; each operation is one
//!   `jsonwebtoken::encode` of a 12-claim ID-token-shaped claims set.
//!
//! Each figure is measured by `--threads` threads (default: the number of
//! cores, like the server's default hash concurrency) running the operation
//! back to back for `--seconds` (default 5) after one untimed operation
//! each; before the first figure all threads hash untimed for `--warmup`
//! seconds (default 2). Prints one JSON object on stdout.
//!
//! Usage: cirrus-bench-micro [--threads N] [--seconds S] [--warmup S]

use std::process::exit;
use std::sync::Barrier;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

/// The server's default argon2id cost (idp::service::HashCost::default()).
const ARGON2_M_KIB: u32 = 19 * 1024;
const ARGON2_T: u32 = 2;
const ARGON2_P: u32 = 1;
const PASSWORD: &[u8] = b"Bench!Passw0rd";

struct Rate {
    ops: u64,
    seconds: f64,
    per_thread: Vec<u64>,
    /// Process CPU time (user, system; in USER_HZ ticks) and minor page
    /// faults over the timed part, from /proc/self/stat.
    user_ticks: u64,
    sys_ticks: u64,
    minflt: u64,
}

impl Rate {
    fn per_sec(&self) -> f64 {
        self.ops as f64 / self.seconds
    }

    fn json(&self) -> Value {
        json!({
            "ops": self.ops,
            "seconds": round(self.seconds, 3),
            "per_sec": round(self.per_sec(), 2),
            "per_thread_ops": self.per_thread,
            "user_ticks": self.user_ticks,
            "sys_ticks": self.sys_ticks,
            "minflt": self.minflt,
        })
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// (minor page faults, user CPU ticks, system CPU ticks) of this process so
/// far, all threads, joined ones included; zeros where /proc is not there.
fn proc_self() -> (u64, u64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name, starting at field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0)).collect();
    let get = |field: usize| f.get(field - 3).copied().unwrap_or(0);
    (get(10), get(14), get(15))
}

/// Runs the operation made by `make` on `threads` threads for `duration`.
/// Each thread makes its own operation, runs it once untimed, then all
/// start together; the rate is all completed operations over the time until
/// the last thread finished its last one.
fn measure<M, F>(threads: usize, duration: Duration, make: M) -> Rate
where
    M: Fn() -> F + Sync,
    F: FnMut(),
{
    let barrier = Barrier::new(threads + 1);
    let (start, (results, before, after)) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut op = make();
                    op();
                    barrier.wait();
                    let deadline = Instant::now() + duration;
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        op();
                        n += 1;
                    }
                    (n, Instant::now())
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let before = proc_self();
        let results: Vec<(u64, Instant)> =
            handles.into_iter().map(|h| h.join().expect("bench thread panicked")).collect();
        let after = proc_self();
        (start, (results, before, after))
    });
    let end = results.iter().map(|r| r.1).max().unwrap_or(start);
    Rate {
        ops: results.iter().map(|r| r.0).sum(),
        seconds: end.duration_since(start).as_secs_f64(),
        per_thread: results.iter().map(|r| r.0).collect(),
        user_ticks: after.1.saturating_sub(before.1),
        sys_ticks: after.2.saturating_sub(before.2),
        minflt: after.0.saturating_sub(before.0),
    }
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, None).expect("argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Standard base64 with padding (RFC 4648 section 4).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// PKCS#8 DER as a "PRIVATE KEY" PEM, 64 characters a line, as the server
/// stores and loads its pool keys.
fn pem(der: &[u8]) -> String {
    let body = base64(der);
    let lines: Vec<&str> =
        body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).expect("ascii")).collect();
    format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n"))
}

/// A UUID-shaped string; only its shape matters here.
fn uuid_like(seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut hex = String::new();
    for _ in 0..32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        hex.push(char::from_digit((x & 15) as u32, 16).expect("hex digit"));
    }
    format!("{}-{}-4{}-a{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}

/// The claims of an ID token as the server issues one (12 claims).
fn claims() -> Value {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    json!({
        "sub": uuid_like(1),
        "email": "bench-user@example.com",
        "email_verified": false,
        "iss": "http://127.0.0.1:9229/us-east-1_Bench0001",
        "cognito:username": "bench-user",
        "origin_jti": uuid_like(2),
        "aud": "4bencha1b2c3d4e5f6g7h8i9j0",
        "token_use": "id",
        "auth_time": now,
        "exp": now + 3600,
        "iat": now,
        "jti": uuid_like(3),
    })
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "cirrus-bench-micro: {msg}\nusage: cirrus-bench-micro [--threads N] [--seconds S] [--warmup S]"
    );
    exit(2)
}

fn main() {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let mut threads = cores;
    let mut seconds = 5.0f64;
    let mut warmup = 2.0f64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--threads" => {
                threads = value().parse().ok().filter(|&n| n > 0).unwrap_or_else(|| usage("bad --threads"));
            }
            "--seconds" => {
                seconds =
                    value().parse().ok().filter(|&s: &f64| s > 0.0).unwrap_or_else(|| usage("bad --seconds"));
            }
            "--warmup" => {
                warmup =
                    value().parse().ok().filter(|&s: &f64| s >= 0.0).unwrap_or_else(|| usage("bad --warmup"));
            }
            "-h" | "--help" => usage("raw argon2id and RS256 rates, as JSON"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let duration = Duration::from_secs_f64(seconds);

    // argon2id: hashing (setting a password) and verifying (a sign-in).
    let stored = argon2().hash_password(PASSWORD).expect("argon2 hash").to_string();
    argon2()
        .verify_password(PASSWORD, &PasswordHash::new(&stored).expect("PHC string"))
        .expect("argon2 verify of its own hash");
    // In trials here the first figure measured by a fresh process came out
    // 5-15 % below the same figure measured again; an untimed warm-up on all
    // threads removes that.
    eprintln!("micro: warm-up, argon2id on {threads} threads for {warmup} s (untimed)");
    measure(threads, Duration::from_secs_f64(warmup), || {
        let argon = argon2();
        move || {
            std::hint::black_box(argon.hash_password(PASSWORD).expect("argon2 hash"));
        }
    });
    eprintln!(
        "micro: argon2id m={ARGON2_M_KIB} t={ARGON2_T} p={ARGON2_P}, hash_password, {threads} threads, {seconds} s"
    );
    let hash = measure(threads, duration, || {
        let argon = argon2();
        move || {
            let h = argon.hash_password(PASSWORD).expect("argon2 hash").to_string();
            std::hint::black_box(h);
        }
    });
    eprintln!("micro: argon2id verify_password, {threads} threads, {seconds} s");
    let verify = measure(threads, duration, || {
        let argon = argon2();
        let stored = stored.clone();
        move || {
            let parsed = PasswordHash::new(&stored).expect("PHC string");
            assert!(argon.verify_password(PASSWORD, &parsed).is_ok(), "argon2 verify failed");
        }
    });

    // RS256 with a key generated, encoded and loaded like a pool key.
    let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA-2048 keygen");
    let der = pair.as_der().expect("PKCS#8 DER");
    let key = EncodingKey::from_rsa_pem(pem(der.as_ref()).as_bytes()).expect("EncodingKey::from_rsa_pem");
    let claims = claims();
    let claim_count = claims.as_object().map_or(0, |m| m.len());
    let header = {
        let mut h = Header::new(jsonwebtoken::Algorithm::RS256);
        h.typ = None;
        h.kid = Some("BenchKid0123456789abcd".into());
        h
    };
    let token = jsonwebtoken::encode(&header, &claims, &key).expect("RS256 sign");
    {
        // The token must verify with the public half, as a client would.
        let jwk = Jwk::from_encoding_key(&key, jsonwebtoken::Algorithm::RS256).expect("JWK");
        let decoding = DecodingKey::from_jwk(&jwk).expect("DecodingKey");
        let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.validate_aud = false;
        jsonwebtoken::decode::<Value>(&token, &decoding, &validation).expect("RS256 token does not verify");
    }
    eprintln!("micro: RS256 jsonwebtoken::encode, {claim_count} claims, {threads} threads, {seconds} s");
    let sign = measure(threads, duration, || {
        let (header, claims, key) = (&header, &claims, &key);
        move || {
            let t = jsonwebtoken::encode(header, claims, key).expect("RS256 sign");
            std::hint::black_box(t);
        }
    });

    let out = json!({
        "threads": threads,
        "cores": cores,
        "seconds_per_figure": seconds,
        "warmup_seconds": warmup,
        "argon2id": {
            "crate": "argon2 0.6",
            "m_kib": ARGON2_M_KIB,
            "t": ARGON2_T,
            "p": ARGON2_P,
            "hash": hash.json(),
            "verify": verify.json(),
        },
        "rs256": {
            "crate": "jsonwebtoken 11 (aws_lc_rs)",
            "key_bits": 2048,
            "claims": claim_count,
            "token_bytes": token.len(),
            "sign": sign.json(),
        },
    });
    println!("{out}");
}
