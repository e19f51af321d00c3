//! Password hashing (argon2id on a bounded blocking pool) and the pool's
//! password policy.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use std::sync::Mutex;

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version,
};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::error::{IdpError, Result};
use crate::model::PasswordPolicy;

/// argon2id cost. The defaults are OWASP's (19 MiB, 2 passes, 1 lane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashCost {
    fn default() -> Self {
        Self { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 }
    }
}

/// Runs argon2id off the async threads, at most `concurrency` at once and
/// with at most `queue` callers waiting; past that callers are told to back
/// off (`TooManyRequestsException`) instead of waiting without bound.
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// Callers running or waiting; at most `limit`.
    in_flight: AtomicUsize,
    limit: usize,
    /// Verified against for unknown users, so they cost the same time.
    decoy: String,
    /// argon2 working memory, reused across verifications: at most one
    /// buffer per concurrent hash stays allocated, so memory stays bounded
    /// and the kernel does not fault in 19 MiB for every sign-in.
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
    concurrency: usize,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub matches: bool,
    /// The stored hash used other parameters than today's: store a new one.
    pub needs_rehash: bool,
}

impl PasswordHasher {
    pub fn new(cost: HashCost, concurrency: usize, queue: usize) -> Result<Self> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| IdpError::Internal(format!("argon2 parameters: {e}")))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let decoy = argon
            .hash_password(b"decoy password for unknown users")
            .map_err(|e| IdpError::Internal(format!("argon2: {e}")))?
            .to_string();
        let concurrency = concurrency.max(1);
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(concurrency)),
            in_flight: AtomicUsize::new(0),
            limit: concurrency + queue,
            decoy,
            buffers: Arc::new(Mutex::new(Vec::with_capacity(concurrency))),
            concurrency,
        })
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Runs `work` on the blocking pool once a permit is free.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        // Counted until this call ends, however it ends (a dropped request too).
        let _slot = InFlight::enter(&self.in_flight, self.limit).ok_or_else(|| {
            IdpError::TooManyRequests("Too many requests: password hashing is saturated.".into())
        })?;
        let permit = self.permits.clone().acquire_owned().await;
        let permit = permit.map_err(|e| IdpError::Internal(format!("hash pool closed: {e}")))?;
        tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        })
        .await
        .map_err(|e| IdpError::Internal(format!("hash task: {e}")))
    }

    pub async fn hash(&self, password: &str) -> Result<String> {
        let argon = self.argon();
        let password = password.as_bytes().to_vec();
        self.run(move || argon.hash_password(&password).map(|h| h.to_string()))
            .await?
            .map_err(|e| IdpError::Internal(format!("argon2: {e}")))
    }

    /// Verifies against an argon2 hash, or one imported from another
    /// system (bcrypt, PBKDF2-SHA256 or scrypt in PHC form); anything but
    /// argon2id with today's parameters asks for a rehash.
    pub async fn verify(&self, password: &str, stored: &str) -> Result<Verified> {
        let params = self.params.clone();
        let password = password.as_bytes().to_vec();
        let stored = stored.to_string();
        let buffers = self.buffers.clone();
        let keep = self.concurrency;
        self.run(move || match HashScheme::of(&stored) {
            Some(HashScheme::Argon2) => {
                let Ok(parsed) = PasswordHash::new(&stored) else {
                    return Verified { matches: false, needs_rehash: false };
                };
                let mut memory = buffers.lock().ok().and_then(|mut b| b.pop()).unwrap_or_default();
                let matches = verify_argon2(&mut memory, &password, &parsed);
                if let Ok(mut pool) = buffers.lock()
                    && pool.len() < keep
                {
                    pool.push(memory);
                }
                let current = Params::try_from(&parsed).ok();
                let needs_rehash = matches
                    && (parsed.algorithm.as_str() != "argon2id"
                        || current.is_none_or(|p| {
                            (p.m_cost(), p.t_cost(), p.p_cost())
                                != (params.m_cost(), params.t_cost(), params.p_cost())
                        }));
                Verified { matches, needs_rehash }
            }
            Some(scheme) => {
                let matches = scheme.verify_imported(&password, &stored);
                Verified { matches, needs_rehash: matches }
            }
            None => Verified { matches: false, needs_rehash: false },
        })
        .await
    }

    /// Spends a verification's time on nothing, for unknown users.
    pub async fn verify_decoy(&self, password: &str) -> Result<()> {
        let decoy = self.decoy.clone();
        self.verify(password, &decoy).await.map(|_| ())
    }
}

/// Recomputes an argon2 PHC hash in `memory` (resized as needed, kept by
/// the caller) and compares the outputs in constant time.
fn verify_argon2(memory: &mut Vec<Block>, password: &[u8], parsed: &PasswordHash) -> bool {
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else { return false };
    let Ok(params) = Params::try_from(parsed) else { return false };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else { return false };
    let version = match parsed.version.map(Version::try_from) {
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
        None => Version::V0x13,
    };
    let blocks = params.block_count();
    if memory.len() != blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = vec![0u8; expected.as_bytes().len()];
    let argon = Argon2::new(algorithm, version, params);
    argon.hash_password_into_with_memory(password, salt.as_ref(), &mut out, &mut memory[..]).is_ok()
        && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

/// The password-hash formats Cirrus accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashScheme {
    Argon2,
    Bcrypt,
    Pbkdf2Sha256,
    Scrypt,
}

impl HashScheme {
    /// The scheme of a stored hash, if it is one Cirrus can verify.
    pub fn of(hash: &str) -> Option<Self> {
        if hash.starts_with("$argon2") {
            Some(Self::Argon2)
        } else if ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) {
            Some(Self::Bcrypt)
        } else if hash.starts_with("$pbkdf2-sha256$") {
            Some(Self::Pbkdf2Sha256)
        } else if hash.starts_with("$scrypt$") {
            Some(Self::Scrypt)
        } else {
            None
        }
    }

    /// Whether `hash` is well-formed for its scheme (checked at import).
    pub fn is_well_formed(hash: &str) -> bool {
        match Self::of(hash) {
            Some(Self::Bcrypt) => hash.parse::<bcrypt::HashParts>().is_ok(),
            Some(_) => PasswordHash::new(hash).is_ok(),
            None => false,
        }
    }

    fn verify_imported(self, password: &[u8], hash: &str) -> bool {
        match self {
            Self::Bcrypt => bcrypt::verify(password, hash).unwrap_or(false),
            Self::Pbkdf2Sha256 => PasswordHash::new(hash)
                .map(|h| pbkdf2::Pbkdf2::SHA256.verify_password(password, &h).is_ok())
                .unwrap_or(false),
            Self::Scrypt => PasswordHash::new(hash)
                .map(|h| scrypt::Scrypt::new().verify_password(password, &h).is_ok())
                .unwrap_or(false),
            Self::Argon2 => false,
        }
    }
}

struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicUsize, limit: usize) -> Option<Self> {
        if counter.fetch_add(1, Ordering::AcqRel) >= limit {
            counter.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Self(counter))
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

const SYMBOLS: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ";

/// Checks `password` against the pool's policy; the message names the first
/// rule it breaks, as Cognito's does.
pub fn check_policy(policy: &PasswordPolicy, password: &str) -> Result<()> {
    let fail =
        |why: &str| Err(IdpError::InvalidPassword(format!("Password did not conform with policy: {why}")));
    let min = policy.minimum_length.unwrap_or(8).max(6) as usize;
    if password.chars().count() < min {
        return fail("Password not long enough");
    }
    if password.chars().count() > 256 {
        return fail("Password is too long");
    }
    if policy.require_lowercase == Some(true) && !password.chars().any(|c| c.is_lowercase()) {
        return fail("Password must have lowercase characters");
    }
    if policy.require_uppercase == Some(true) && !password.chars().any(|c| c.is_uppercase()) {
        return fail("Password must have uppercase characters");
    }
    if policy.require_numbers == Some(true) && !password.chars().any(|c| c.is_ascii_digit()) {
        return fail("Password must have numeric characters");
    }
    if policy.require_symbols == Some(true) && !password.chars().any(|c| SYMBOLS.contains(c)) {
        return fail("Password must have symbol characters");
    }
    if password.starts_with(' ') || password.ends_with(' ') {
        return fail("Password must not begin or end with a space");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> HashCost {
        HashCost { memory_kib: 64, iterations: 1, parallelism: 1 }
    }

    #[tokio::test]
    async fn hash_verify_and_rehash() {
        let h = PasswordHasher::new(cheap(), 2, 8).unwrap();
        let stored = h.hash("Correct-horse-1").await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{stored}");
        assert_eq!(
            h.verify("Correct-horse-1", &stored).await.unwrap(),
            Verified { matches: true, needs_rehash: false }
        );
        assert!(!h.verify("wrong", &stored).await.unwrap().matches);
        assert!(!h.verify("x", "not a phc string").await.unwrap().matches);
        let stronger = PasswordHasher::new(HashCost { memory_kib: 128, ..cheap() }, 2, 8).unwrap();
        assert_eq!(
            stronger.verify("Correct-horse-1", &stored).await.unwrap(),
            Verified { matches: true, needs_rehash: true }
        );
    }

    #[tokio::test]
    async fn imported_hashes_verify_and_ask_for_a_rehash() {
        use argon2::PasswordHasher as _;
        let h = PasswordHasher::new(cheap(), 2, 8).unwrap();
        let bcrypt_hash = bcrypt::hash("old-secret", 4).unwrap();
        let pbkdf2_hash = pbkdf2::Pbkdf2::from(pbkdf2::Params::new(1000).unwrap())
            .hash_password_with_salt(b"old-secret", b"saltsaltsaltsalt")
            .unwrap()
            .to_string();
        let scrypt_hash = scrypt::Scrypt::new_with_params(scrypt::Params::new(4, 8, 1).unwrap())
            .hash_password_with_salt(b"old-secret", b"saltsaltsaltsalt")
            .unwrap()
            .to_string();
        for stored in [&bcrypt_hash, &pbkdf2_hash, &scrypt_hash] {
            assert!(HashScheme::is_well_formed(stored), "{stored}");
            assert_eq!(
                h.verify("old-secret", stored).await.unwrap(),
                Verified { matches: true, needs_rehash: true }
            );
            assert!(!h.verify("not-it", stored).await.unwrap().matches, "{stored}");
        }
        assert!(!HashScheme::is_well_formed("$2b$04$short"));
        assert!(!HashScheme::is_well_formed("md5:abc"));
    }

    #[tokio::test]
    async fn saturation_is_refused_not_queued() {
        let h = Arc::new(
            PasswordHasher::new(HashCost { memory_kib: 8 * 1024, iterations: 4, parallelism: 1 }, 1, 0)
                .unwrap(),
        );
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let h = h.clone();
            tasks.push(tokio::spawn(async move { h.hash("x").await }));
        }
        let mut refused = 0;
        for t in tasks {
            if let Err(IdpError::TooManyRequests(_)) = t.await.unwrap() {
                refused += 1;
            }
        }
        assert!(refused > 0, "with one permit and no queue, concurrent hashes must be refused");
    }

    #[test]
    fn policy_messages() {
        let p = PasswordPolicy {
            minimum_length: Some(8),
            require_uppercase: Some(true),
            require_lowercase: Some(true),
            require_numbers: Some(true),
            require_symbols: Some(true),
            ..Default::default()
        };
        let msg = |pw: &str| match check_policy(&p, pw) {
            Err(IdpError::InvalidPassword(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(msg("Ab1!").contains("long enough"));
        assert!(msg("ABCDEFG1!").contains("lowercase"));
        assert!(msg("abcdefg1!").contains("uppercase"));
        assert!(msg("Abcdefgh!").contains("numeric"));
        assert!(msg("Abcdefgh1").contains("symbol"));
        assert!(check_policy(&p, "Abcdefg1!").is_ok());
    }
}
