//! SRP-6a as amazon-cognito-identity-js and pycognito compute it
//! (spec/user-pools.md §5): the 3072-bit group, k = H(N, g), x salted with
//! the pool name and internal username, and Cognito's claim signature.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use num_bigint::BigUint;
use sha2::{Digest, Sha256};

const N_HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF";

pub struct Group {
    n: BigUint,
    g: BigUint,
    k: BigUint,
}

static GROUP: std::sync::LazyLock<Group> = std::sync::LazyLock::new(|| {
    let n = BigUint::parse_bytes(N_HEX.as_bytes(), 16).unwrap_or_default();
    let g = BigUint::from(2u32);
    let k = hash_ints(&[&n, &g]);
    Group { n, g, k }
});

impl Group {
    /// The group (parsed once per process).
    pub fn new() -> &'static Self {
        &GROUP
    }
}

/// Minimal big-endian two's-complement bytes: a leading zero byte when the
/// top bit is set (`padHex`).
fn pad(x: &BigUint) -> Vec<u8> {
    let bytes = x.to_bytes_be();
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        let mut out = Vec::with_capacity(bytes.len() + 1);
        out.push(0);
        out.extend_from_slice(&bytes);
        out
    } else {
        bytes
    }
}

fn hash_ints(values: &[&BigUint]) -> BigUint {
    let mut h = Sha256::new();
    for v in values {
        h.update(pad(v));
    }
    BigUint::from_bytes_be(&h.finalize())
}

pub fn hex(x: &BigUint) -> String {
    x.to_str_radix(16)
}

pub fn parse_hex(text: &str) -> Option<BigUint> {
    if text.is_empty() || text.len() > 2048 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    BigUint::parse_bytes(text.as_bytes(), 16)
}

impl Group {
    /// `x = H(pad(s) ‖ H(poolName ‖ userId ‖ ":" ‖ password))`.
    fn x(&self, salt: &BigUint, pool_name: &str, user_id: &str, password: &str) -> BigUint {
        let inner = Sha256::digest(format!("{pool_name}{user_id}:{password}").as_bytes());
        let mut h = Sha256::new();
        h.update(pad(salt));
        h.update(inner);
        BigUint::from_bytes_be(&h.finalize())
    }

    /// A new salt and the verifier `g^x mod N`, both as hex.
    pub fn verifier(&self, pool_name: &str, user_id: &str, password: &str) -> (String, String) {
        let mut salt_bytes = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt_bytes);
        let salt = BigUint::from_bytes_be(&salt_bytes);
        let v = self.g.modpow(&self.x(&salt, pool_name, user_id, password), &self.n);
        (hex(&salt), hex(&v))
    }

    /// The server's ephemeral pair `(b, B = k·v + g^b mod N)`.
    pub fn server_ephemeral(&self, verifier: &BigUint) -> (BigUint, BigUint) {
        loop {
            let mut bytes = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
            let b = BigUint::from_bytes_be(&bytes);
            let big_b = (&self.k * verifier + self.g.modpow(&b, &self.n)) % &self.n;
            if big_b != BigUint::default() {
                return (b, big_b);
            }
        }
    }

    /// Whether a client's `A` is acceptable (`A mod N ≠ 0`).
    pub fn valid_a(&self, a: &BigUint) -> bool {
        a % &self.n != BigUint::default()
    }

    /// The claim signature the client must have sent, or `None` when the
    /// exchange is degenerate (`u = 0`, `A mod N = 0`).
    #[allow(clippy::too_many_arguments)]
    pub fn expected_signature(
        &self,
        a: &BigUint,
        b: &BigUint,
        big_b: &BigUint,
        verifier: &BigUint,
        pool_name: &str,
        user_id: &str,
        secret_block: &[u8],
        timestamp: &str,
    ) -> Option<String> {
        if !self.valid_a(a) {
            return None;
        }
        let u = hash_ints(&[a, big_b]);
        if u == BigUint::default() {
            return None;
        }
        let s = (a * verifier.modpow(&u, &self.n)).modpow(b, &self.n);
        Some(claim_signature(&u, &s, pool_name, user_id, secret_block, timestamp))
    }

    /// The client side of the exchange (tests and benchmarks play the
    /// client with it): `(a, A)`, then the signature for a challenge.
    pub fn client_ephemeral(&self) -> (BigUint, BigUint) {
        let mut bytes = [0u8; 128];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        let a = BigUint::from_bytes_be(&bytes);
        let big_a = self.g.modpow(&a, &self.n);
        (a, big_a)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn client_signature(
        &self,
        a: &BigUint,
        big_a: &BigUint,
        big_b: &BigUint,
        salt: &BigUint,
        pool_name: &str,
        user_id: &str,
        password: &str,
        secret_block: &[u8],
        timestamp: &str,
    ) -> String {
        let u = hash_ints(&[big_a, big_b]);
        let x = self.x(salt, pool_name, user_id, password);
        let gx = self.g.modpow(&x, &self.n);
        let kgx = (&self.k * gx) % &self.n;
        let base = (big_b + &self.n - kgx) % &self.n;
        let s = base.modpow(&(a + &u * &x), &self.n);
        claim_signature(&u, &s, pool_name, user_id, secret_block, timestamp)
    }
}

/// `K` = first 16 bytes of HKDF-SHA256(salt = pad(u), ikm = pad(S), info =
/// "Caldera Derived Key"), then base64(HMAC(K, poolName ‖ userId ‖ block ‖
/// timestamp)).
fn claim_signature(
    u: &BigUint,
    s: &BigUint,
    pool_name: &str,
    user_id: &str,
    block: &[u8],
    timestamp: &str,
) -> String {
    let prk = secrets::hmac_sha256(&pad(u), &pad(s));
    let mut info = b"Caldera Derived Key".to_vec();
    info.push(1);
    let key = secrets::hmac_sha256(&prk, &info);
    let mut message = Vec::new();
    message.extend_from_slice(pool_name.as_bytes());
    message.extend_from_slice(user_id.as_bytes());
    message.extend_from_slice(block);
    message.extend_from_slice(timestamp.as_bytes());
    STANDARD.encode(secrets::hmac_sha256(&key[..16], &message))
}

/// `EEE MMM d HH:mm:ss UTC yyyy`, as the clients send TIMESTAMP.
pub fn timestamp(t: time::OffsetDateTime) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{} {} {} {:02}:{:02}:{:02} UTC {}",
        DAYS[t.weekday().number_days_from_monday() as usize],
        MONTHS[t.month() as usize - 1],
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.year()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_is_the_hash_of_padded_n_and_g() {
        let g = Group::new();
        // 385 bytes: a zero byte, then N's 384.
        assert_eq!(pad(&g.n).len(), 385);
        assert_eq!(hex(&g.k).len(), 64);
    }

    #[test]
    fn client_and_server_agree_and_wrong_passwords_do_not() {
        let g = Group::new();
        let (salt_hex, v_hex) = g.verifier("AbC123xyz", "jane", "Correct-horse-9");
        let salt = parse_hex(&salt_hex).unwrap();
        let v = parse_hex(&v_hex).unwrap();
        let (b, big_b) = g.server_ephemeral(&v);
        let (a, big_a) = g.client_ephemeral();
        let block = b"opaque secret block";
        let ts = timestamp(time::macros::datetime!(2025-01-07 09:05:03 UTC));
        assert_eq!(ts, "Tue Jan 7 09:05:03 UTC 2025");
        let server = g.expected_signature(&big_a, &b, &big_b, &v, "AbC123xyz", "jane", block, &ts).unwrap();
        let good =
            g.client_signature(&a, &big_a, &big_b, &salt, "AbC123xyz", "jane", "Correct-horse-9", block, &ts);
        let bad = g.client_signature(&a, &big_a, &big_b, &salt, "AbC123xyz", "jane", "wrong", block, &ts);
        assert_eq!(server, good);
        assert_ne!(server, bad);
        assert!(g.expected_signature(&g.n.clone(), &b, &big_b, &v, "p", "u", block, &ts).is_none(), "A = N");
        assert!(
            g.expected_signature(&BigUint::default(), &b, &big_b, &v, "p", "u", block, &ts).is_none(),
            "A = 0"
        );
    }

    #[test]
    fn salt_hex_is_minimal() {
        for _ in 0..50 {
            let (salt, _) = Group::new().verifier("p", "u", "pw");
            assert!(!salt.starts_with('0'), "{salt}");
        }
    }
}
