//! One-time codes: six digits, stored as keyed hashes, with an expiry and
//! an attempt limit.

use subtle::ConstantTimeEq;

use super::UserPools;
use crate::error::{IdpError, Result};
use crate::model::{CodePurpose, OneTimeCode, User};

/// Wrong guesses allowed before the code is refused outright.
pub const MAX_CODE_ATTEMPTS: i64 = 5;

impl UserPools {
    fn code_hash(&self, user: &User, purpose: CodePurpose, code: &str) -> Vec<u8> {
        let message = format!("{}\n{}\n{}\n{}", user.pool_id, user.username_key, purpose.as_str(), code);
        secrets::hmac_sha256(self.code_key.as_ref(), message.as_bytes()).to_vec()
    }

    /// Makes and stores a fresh code (replacing any earlier one) and
    /// returns it for delivery.
    pub(super) async fn new_code(
        &self,
        user: &User,
        purpose: CodePurpose,
        attribute: Option<&str>,
        validity_ms: i64,
    ) -> Result<String> {
        let code = secrets::random_string(6, b"0123456789");
        self.store
            .put_code(&OneTimeCode {
                pool_id: user.pool_id.clone(),
                username_key: user.username_key.clone(),
                purpose,
                code_hash: self.code_hash(user, purpose, &code),
                attribute: attribute.map(str::to_string),
                expires_ms: self.now_ms() + validity_ms,
                attempts: 0,
            })
            .await?;
        Ok(code)
    }

    /// Checks `code`; on success returns the attribute it verifies and
    /// leaves the code in place (the caller removes it once the change it
    /// guards is stored).
    pub(super) async fn check_code(
        &self,
        user: &User,
        purpose: CodePurpose,
        code: &str,
    ) -> Result<Option<String>> {
        let stored =
            self.store.get_code(&user.pool_id, &user.username_key, purpose).await?.ok_or_else(|| {
                IdpError::ExpiredCode("Invalid code provided, please request a code again.".into())
            })?;
        if stored.attempts >= MAX_CODE_ATTEMPTS {
            return Err(IdpError::LimitExceeded(
                "Attempt limit exceeded, please try after some time.".into(),
            ));
        }
        if stored.expires_ms < self.now_ms() {
            return Err(IdpError::ExpiredCode("Invalid code provided, please request a code again.".into()));
        }
        let given = self.code_hash(user, purpose, code.trim());
        if !bool::from(given.ct_eq(&stored.code_hash)) {
            self.store.count_code_attempt(&user.pool_id, &user.username_key, purpose).await?;
            return Err(IdpError::CodeMismatch(
                "Invalid verification code provided, please try again.".into(),
            ));
        }
        Ok(stored.attribute)
    }
}
