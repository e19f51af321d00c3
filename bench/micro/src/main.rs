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

mod common;

use std::process::exit;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

use common::{measure, uuid_like};

/// The server's default argon2id cost (idp::service::HashCost::default()).
const ARGON2_M_KIB: u32 = 19 * 1024;
const ARGON2_T: u32 = 2;
const ARGON2_P: u32 = 1;
const PASSWORD: &[u8] = b"Bench!Passw0rd";

fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, None).expect("argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
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
    let key = EncodingKey::from_rsa_pem(secrets::pkcs8_pem(der.as_ref()).as_bytes())
        .expect("EncodingKey::from_rsa_pem");
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
