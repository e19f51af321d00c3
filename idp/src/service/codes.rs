//! One-time codes: six digits, stored as keyed hashes, with an expiry and
//! an attempt limit.

use subtle::ConstantTimeEq;

use super::UserPools;
use crate::error::{IdpError, Result};
use crate::model::{CodePurpose, OneTimeCode, User};

/// Wrong guesses allowed before the code is refused outright.
pub const MAX_CODE_ATTEMPTS: i64 = 5;
/// Wrong answers allowed to a sign-in challenge code.
pub const MAX_SIGN_IN_CODE_ATTEMPTS: i64 = 3;

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
    /// guards is stored). Each try is counted before the comparison, in
    /// one statement, so parallel guesses cannot exceed the limit.
    pub(super) async fn check_code(
        &self,
        user: &User,
        purpose: CodePurpose,
        code: &str,
    ) -> Result<Option<String>> {
        let max = if purpose == CodePurpose::SignIn { MAX_SIGN_IN_CODE_ATTEMPTS } else { MAX_CODE_ATTEMPTS };
        let Some(stored) = self.store.try_code(&user.pool_id, &user.username_key, purpose, max).await? else {
            return Err(match self.store.get_code(&user.pool_id, &user.username_key, purpose).await? {
                Some(_) => {
                    IdpError::LimitExceeded("Attempt limit exceeded, please try after some time.".into())
                }
                None => IdpError::ExpiredCode("Invalid code provided, please request a code again.".into()),
            });
        };
        if stored.expires_ms < self.now_ms() {
            return Err(IdpError::ExpiredCode("Invalid code provided, please request a code again.".into()));
        }
        let given = self.code_hash(user, purpose, code.trim());
        if !bool::from(given.ct_eq(&stored.code_hash)) {
            return Err(IdpError::CodeMismatch(
                "Invalid verification code provided, please try again.".into(),
            ));
        }
        Ok(stored.attribute)
    }

    /// Counts a try at a sign-in challenge that has no code of its own
    /// (TOTP); false once the tries are used up.
    pub(super) async fn count_sign_in_try(&self, user: &User) -> Result<bool> {
        Ok(self
            .store
            .try_code(&user.pool_id, &user.username_key, CodePurpose::SignIn, MAX_SIGN_IN_CODE_ATTEMPTS)
            .await?
            .is_some())
    }
}
