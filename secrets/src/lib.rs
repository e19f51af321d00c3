//! The master key, and sealing of secrets at rest under it.
//!
//! A sealed value is `0x01 || nonce (24 bytes) || XChaCha20-Poly1305
//! ciphertext`. The associated data binds a value to where it is stored (for
//! example the client id of a client secret), so a sealed value copied to
//! another row does not open.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo))]

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
pub use zeroize::Zeroizing;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("the master key must be 32 bytes, base64-encoded")]
    BadKey,
    #[error("cannot read or write the master key file {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
    #[error("a sealed secret does not open under this master key")]
    Unseal,
}

/// 32 random bytes from configuration or from the data directory.
#[derive(Clone)]
pub struct MasterKey {
    cipher: XChaCha20Poly1305,
    bytes: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// Where a master key came from, for the start-up log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    Configured,
    ReadFromFile,
    Generated,
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretsError> {
        if bytes.len() != 32 {
            return Err(SecretsError::BadKey);
        }
        let cipher = XChaCha20Poly1305::new_from_slice(bytes).map_err(|_| SecretsError::BadKey)?;
        let mut raw = Zeroizing::new([0u8; 32]);
        raw.copy_from_slice(bytes);
        Ok(Self { cipher, bytes: raw })
    }

    pub fn from_base64(text: &str) -> Result<Self, SecretsError> {
        let bytes = Zeroizing::new(STANDARD.decode(text.trim()).map_err(|_| SecretsError::BadKey)?);
        Self::from_bytes(&bytes)
    }

    /// Reads the key file, or creates it (mode 0600) with a fresh key.
    pub fn load_or_generate(path: &Path) -> Result<(Self, KeyOrigin), SecretsError> {
        let io = |source| SecretsError::KeyFile { path: path.display().to_string(), source };
        match std::fs::read_to_string(path) {
            Ok(text) => Ok((Self::from_base64(&text)?, KeyOrigin::ReadFromFile)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = Zeroizing::new([0u8; 32]);
                rand::rng().fill_bytes(bytes.as_mut());
                let encoded = Zeroizing::new(STANDARD.encode(bytes.as_ref()));
                write_private(path, encoded.as_bytes()).map_err(io)?;
                Ok((Self::from_bytes(bytes.as_ref())?, KeyOrigin::Generated))
            }
            Err(e) => Err(io(e)),
        }
    }

    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        // Encryption fails only for plaintexts beyond 256 GiB.
        let ciphertext = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad })
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// A key for one purpose (keyed hashes of codes, …), derived so that
    /// no two purposes share key material: HMAC-SHA256(master, "cirrus/" + purpose).
    pub fn derive(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        let mut message = b"cirrus/".to_vec();
        message.extend_from_slice(purpose.as_bytes());
        Zeroizing::new(hmac_sha256(self.bytes.as_ref(), &message))
    }

    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, SecretsError> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != VERSION {
            return Err(SecretsError::Unseal);
        }
        let (nonce, ciphertext) = sealed[1..].split_at(NONCE_LEN);
        self.cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad })
            .map_err(|_| SecretsError::Unseal)
    }
}

/// A PKCS#8 private key (DER) as a `PRIVATE KEY` PEM, the form
/// jsonwebtoken's `EncodingKey::from_rsa_pem` reads.
pub fn pkcs8_pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body.as_bytes().chunks(64).filter_map(|c| std::str::from_utf8(c).ok()).collect();
    format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n"))
}

/// `HMAC-SHA256(key, message)`.
#[allow(clippy::expect_used)]
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    // HMAC takes keys of any length: this cannot fail.
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// `n` characters from `alphabet`, uniformly (rejection-free: the alphabet
/// is indexed with `random_range`).
pub fn random_string(n: usize, alphabet: &[u8]) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..n).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char).collect()
}

pub const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
pub const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
pub const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_binding() {
        let key = MasterKey::from_bytes(&[7u8; 32]).unwrap();
        let sealed = key.seal(b"client-secret", b"client-1");
        assert_ne!(&sealed[1 + NONCE_LEN..], b"client-secret");
        assert_eq!(key.open(&sealed, b"client-1").unwrap(), b"client-secret");
        assert!(key.open(&sealed, b"client-2").is_err());
        let other = MasterKey::from_bytes(&[8u8; 32]).unwrap();
        assert!(other.open(&sealed, b"client-1").is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(key.open(&tampered, b"client-1").is_err());
    }

    #[test]
    fn key_file_is_generated_once() {
        let dir = std::env::temp_dir().join(format!("cirrus-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("master.key");
        let _ = std::fs::remove_file(&path);
        let (a, origin) = MasterKey::load_or_generate(&path).unwrap();
        assert_eq!(origin, KeyOrigin::Generated);
        let (b, origin) = MasterKey::load_or_generate(&path).unwrap();
        assert_eq!(origin, KeyOrigin::ReadFromFile);
        assert_eq!(b.open(&a.seal(b"x", b""), b"").unwrap(), b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_master() {
        let a = MasterKey::from_bytes(&[1u8; 32]).unwrap();
        let b = MasterKey::from_bytes(&[2u8; 32]).unwrap();
        assert_ne!(*a.derive("codes"), *a.derive("sessions"));
        assert_ne!(*a.derive("codes"), *b.derive("codes"));
        assert_eq!(*a.derive("codes"), *a.clone().derive("codes"));
        // RFC 4231 test case 2.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert!(MasterKey::from_base64("not base64!").is_err());
    }
}
