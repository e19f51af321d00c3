//! Temporary credentials, stateless: the session token is an AEAD-sealed
//! description of the session (role, policies, context keys, expiry), and
//! the secret access key is an HMAC of the token under a key only the
//! broker (and resource servers it trusts) holds. Verifying a request
//! signed with such credentials needs the key ring and nothing else.
//!
//! Token layout (then standard base64): `0x01 | kid (u32, big-endian) |
//! XChaCha20-Poly1305 sealed JSON` with the version byte and kid as
//! associated data, so a token cannot be moved to another key.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrets::MasterKey;
use secrets::Zeroizing;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

const VERSION: u8 = 1;
/// Temporary access key ids: `ASIA` + 16 of these.
const KEY_ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// What a session token carries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionClaims {
    /// The access key id the token was issued with.
    pub akid: String,
    /// `arn:aws:sts::<account>:assumed-role/<role name>/<session name>`.
    pub arn: String,
    /// `<role id>:<session name>`.
    pub user_id: String,
    pub account: String,
    pub role_arn: String,
    /// Issued and expires, epoch seconds.
    pub iat: i64,
    pub exp: i64,
    /// The role's permission policies (inline and managed), compact JSON.
    pub policies: Vec<String>,
    /// Session policies (`Policy`, `PolicyArns`), when any were passed: the
    /// session may do only what these also allow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_policies: Option<Vec<String>>,
    /// Condition keys and policy variables of the session
    /// (`cognito-identity.amazonaws.com:sub`, `aws:PrincipalTag/…`, …).
    /// Keys whose value is a list are multi-valued.
    pub context: BTreeMap<String, ContextValue>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum ContextValue {
    One(String),
    Many(Vec<String>),
}

/// Credentials as handed to a client.
#[derive(Debug, Clone)]
pub struct TemporaryCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Epoch seconds.
    pub expiration: i64,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the session token is malformed")]
    Malformed,
    #[error("the session token was sealed with a key this server does not hold")]
    UnknownKey,
    #[error("the session token does not open: tampered with, or not ours")]
    Tampered,
    #[error("the session token does not belong to this access key id")]
    WrongKeyId,
    #[error("the security token included in the request is expired")]
    Expired,
}

struct SessionKey {
    kid: u32,
    seal: MasterKey,
    secret: Zeroizing<[u8; 32]>,
}

/// The keys that seal session tokens and derive their secrets: one current
/// key that seals, and older ones still accepted (rotation).
#[derive(Clone)]
pub struct SessionKeys {
    current: u32,
    keys: Arc<Vec<SessionKey>>,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<u32> = self.keys.iter().map(|k| k.kid).collect();
        f.debug_struct("SessionKeys").field("current", &self.current).field("kids", &kids).finish()
    }
}

impl SessionKeys {
    /// Keys derived from the master key: `current` seals, every id in
    /// `accepted` (and `current`) opens.
    pub fn derive(master: &MasterKey, current: u32, accepted: &[u32]) -> Result<Self, String> {
        let mut keys = Vec::new();
        for &kid in std::iter::once(&current).chain(accepted) {
            if keys.iter().any(|k: &SessionKey| k.kid == kid) {
                continue;
            }
            let seal_bytes = master.derive(&format!("sts-session/{kid}/seal"));
            let seal = MasterKey::from_bytes(seal_bytes.as_ref()).map_err(|e| e.to_string())?;
            let secret = master.derive(&format!("sts-session/{kid}/secret"));
            keys.push(SessionKey { kid, seal, secret });
        }
        Ok(Self { current, keys: Arc::new(keys) })
    }

    /// The ring as text for a resource server's configuration
    /// (`cirrus session-keys`): `kid:seal:secret` entries, base64, comma
    /// separated, the sealing one first. Whoever holds it can verify, and
    /// also mint, credentials: give it only to trusted services.
    pub fn export(&self, master: &MasterKey) -> String {
        self.keys
            .iter()
            .map(|k| {
                let seal = master.derive(&format!("sts-session/{}/seal", k.kid));
                format!("{}:{}:{}", k.kid, STANDARD.encode(seal.as_ref()), STANDARD.encode(k.secret.as_ref()))
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads what [`SessionKeys::export`] wrote.
    pub fn import(text: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let mut parts = entry.split(':');
            let (Some(kid), Some(seal), Some(secret), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err("each session key must be kid:seal:secret".into());
            };
            let kid: u32 = kid.parse().map_err(|_| format!("bad session key id {kid:?}"))?;
            let seal = STANDARD.decode(seal).map_err(|_| "session seal key is not base64")?;
            let secret = STANDARD.decode(secret).map_err(|_| "session secret key is not base64")?;
            let secret: [u8; 32] = secret.try_into().map_err(|_| "session secret key must be 32 bytes")?;
            let seal = MasterKey::from_bytes(&seal).map_err(|e| e.to_string())?;
            keys.push(SessionKey { kid, seal, secret: Zeroizing::new(secret) });
        }
        let current = keys.first().map(|k| k.kid).ok_or("no session keys given")?;
        Ok(Self { current, keys: Arc::new(keys) })
    }

    fn key(&self, kid: u32) -> Option<&SessionKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// Seals `claims` (whose `akid` is set here) into new credentials.
    pub fn issue(&self, mut claims: SessionClaims) -> Result<TemporaryCredentials, String> {
        let key = self.key(self.current).ok_or("the current session key is missing")?;
        claims.akid = format!("ASIA{}", secrets::random_string(16, KEY_ID_ALPHABET));
        let plaintext = serde_json::to_vec(&claims).map_err(|e| e.to_string())?;
        let header = header(key.kid);
        let mut token = header.to_vec();
        token.extend_from_slice(&key.seal.seal(&plaintext, &header));
        let secret_access_key = derive_secret(key, &claims.akid, &token);
        Ok(TemporaryCredentials {
            access_key_id: claims.akid,
            secret_access_key,
            session_token: STANDARD.encode(&token),
            expiration: claims.exp,
        })
    }

    /// Opens a session token presented with `access_key_id` and returns its
    /// claims and the secret the request must have been signed with.
    pub fn open(
        &self,
        access_key_id: &str,
        session_token: &str,
        now: i64,
    ) -> Result<(SessionClaims, String), TokenError> {
        let token = STANDARD.decode(session_token.trim()).map_err(|_| TokenError::Malformed)?;
        if token.len() < 5 || token[0] != VERSION {
            return Err(TokenError::Malformed);
        }
        let kid = u32::from_be_bytes([token[1], token[2], token[3], token[4]]);
        let key = self.key(kid).ok_or(TokenError::UnknownKey)?;
        let plaintext = key.seal.open(&token[5..], &token[..5]).map_err(|_| TokenError::Tampered)?;
        let claims: SessionClaims = serde_json::from_slice(&plaintext).map_err(|_| TokenError::Malformed)?;
        if !bool::from(claims.akid.as_bytes().ct_eq(access_key_id.as_bytes())) {
            return Err(TokenError::WrongKeyId);
        }
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        let secret = derive_secret(key, &claims.akid, &token);
        Ok((claims, secret))
    }
}

fn header(kid: u32) -> [u8; 5] {
    let k = kid.to_be_bytes();
    [VERSION, k[0], k[1], k[2], k[3]]
}

/// 40 characters of `[A-Za-z0-9+/]`: 30 bytes of HMAC(secret key, akid | token), base64.
fn derive_secret(key: &SessionKey, akid: &str, token: &[u8]) -> String {
    let mut message = Vec::with_capacity(akid.len() + 1 + token.len());
    message.extend_from_slice(akid.as_bytes());
    message.push(0);
    message.extend_from_slice(token);
    let mac = secrets::hmac_sha256(key.secret.as_ref(), &message);
    STANDARD.encode(&mac[..30])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> SessionClaims {
        SessionClaims {
            akid: String::new(),
            arn: "arn:aws:sts::000000000000:assumed-role/r/s".into(),
            user_id: "AROAEXAMPLE:s".into(),
            account: "000000000000".into(),
            role_arn: "arn:aws:iam::000000000000:role/r".into(),
            iat: 0,
            exp,
            policies: vec!["{}".into()],
            session_policies: None,
            context: BTreeMap::from([("aws:userid".into(), ContextValue::One("x".into()))]),
        }
    }

    fn master(b: u8) -> MasterKey {
        MasterKey::from_bytes(&[b; 32]).unwrap()
    }

    #[test]
    fn issue_then_open() {
        let ring = SessionKeys::derive(&master(7), 1, &[]).unwrap();
        let creds = ring.issue(claims(100)).unwrap();
        assert!(creds.access_key_id.starts_with("ASIA") && creds.access_key_id.len() == 20);
        assert_eq!(creds.secret_access_key.len(), 40);
        let (c, secret) = ring.open(&creds.access_key_id, &creds.session_token, 50).unwrap();
        assert_eq!(secret, creds.secret_access_key);
        assert_eq!(c.arn, "arn:aws:sts::000000000000:assumed-role/r/s");
        assert_eq!(ring.open(&creds.access_key_id, &creds.session_token, 100), Err(TokenError::Expired));
        assert_eq!(ring.open("ASIAOTHER", &creds.session_token, 50), Err(TokenError::WrongKeyId));
    }

    #[test]
    fn tampering_and_rotation() {
        let old = SessionKeys::derive(&master(7), 1, &[]).unwrap();
        let creds = old.issue(claims(100)).unwrap();
        let mut raw = STANDARD.decode(&creds.session_token).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let bad = STANDARD.encode(&raw);
        assert_eq!(old.open(&creds.access_key_id, &bad, 50), Err(TokenError::Tampered));
        assert_eq!(old.open(&creds.access_key_id, "!!", 50), Err(TokenError::Malformed));
        // Rotated: 2 seals, 1 still opens; a ring without 1 refuses it.
        let rotated = SessionKeys::derive(&master(7), 2, &[1]).unwrap();
        assert!(rotated.open(&creds.access_key_id, &creds.session_token, 50).is_ok());
        let only_new = SessionKeys::derive(&master(7), 2, &[]).unwrap();
        assert_eq!(
            only_new.open(&creds.access_key_id, &creds.session_token, 50),
            Err(TokenError::UnknownKey)
        );
        // Another master key derives other keys.
        let foreign = SessionKeys::derive(&master(8), 1, &[]).unwrap();
        assert_eq!(foreign.open(&creds.access_key_id, &creds.session_token, 50), Err(TokenError::Tampered));
        // Export and import give the same ring.
        let imported = SessionKeys::import(&rotated.export(&master(7))).unwrap();
        let (_, secret) = imported.open(&creds.access_key_id, &creds.session_token, 50).unwrap();
        assert_eq!(secret, creds.secret_access_key);
    }
}
