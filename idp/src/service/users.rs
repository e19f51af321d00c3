//! Users: sign-in names, aliases, attribute rules, lookups.

use std::collections::BTreeMap;

use super::UserPools;
use crate::error::{IdpError, Result};
use crate::model::{
    AliasAttribute, AppClient, AttributeDataType, SchemaAttribute, User, UserPool, UsernameAttribute,
};

/// Whether the pool matches usernames and aliases case-insensitively (the
/// default unless `UsernameConfiguration.CaseSensitive` is true).
pub fn case_insensitive(pool: &UserPool) -> bool {
    pool.settings.username_configuration.as_ref().is_none_or(|c| !c.case_sensitive)
}

pub fn username_key(pool: &UserPool, username: &str) -> String {
    if case_insensitive(pool) { username.to_lowercase() } else { username.to_string() }
}

/// The key under which an alias value is claimed: `email:jane@example.com`.
pub fn alias_key(pool: &UserPool, attribute: &str, value: &str) -> String {
    let value = match attribute {
        "email" => value.to_lowercase(),
        "preferred_username" if case_insensitive(pool) => value.to_lowercase(),
        _ => value.to_string(),
    };
    format!("{attribute}:{value}")
}

pub fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else { return false };
    !local.is_empty()
        && local.len() <= 64
        && !domain.is_empty()
        && domain.len() <= 255
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !domain.contains('@')
}

/// E.164: `+` and 5 to 15 digits.
pub fn is_phone(value: &str) -> bool {
    value.strip_prefix('+').is_some_and(|d| {
        (5..=15).contains(&d.len()) && d.chars().all(|c| c.is_ascii_digit()) && !d.starts_with('0')
    })
}

/// Usernames: letters, marks, symbols, numbers and punctuation, 1 to 128.
pub fn check_username(username: &str) -> Result<()> {
    let n = username.chars().count();
    if n == 0 || n > 128 || username.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(IdpError::InvalidParameter(
            "1 validation error detected: Value at 'username' failed to satisfy constraint: Member must satisfy \
             regular expression pattern: [\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+"
                .into(),
        ));
    }
    Ok(())
}

fn schema_entry<'a>(pool: &'a UserPool, name: &str) -> Option<&'a SchemaAttribute> {
    pool.schema.iter().find(|a| a.name.as_deref() == Some(name))
}

/// Who writes: end users (through a client's WriteAttributes) or an admin.
#[derive(Debug, Clone, Copy)]
pub enum Writer<'a> {
    Client(&'a AppClient),
    Admin,
}

/// Checks attributes a caller wants to set and returns them as a map.
pub fn check_attributes(
    pool: &UserPool,
    attributes: &[(String, String)],
    writer: Writer<'_>,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (name, value) in attributes {
        let bad = |why: &str| {
            IdpError::InvalidParameter(format!("Attributes did not conform to the schema: {name}: {why}"))
        };
        if name == "sub" {
            return Err(bad("the attribute cannot be written"));
        }
        let verified_flag = name == "email_verified" || name == "phone_number_verified";
        let entry = schema_entry(pool, name);
        let (data_type, constraints, bounds) = match (entry, verified_flag) {
            (Some(e), _) => (
                e.attribute_data_type.unwrap_or(AttributeDataType::String),
                e.string_attribute_constraints.clone(),
                e.number_attribute_constraints.clone(),
            ),
            (None, true) => (AttributeDataType::Boolean, None, None),
            (None, false) => return Err(bad("Attribute does not exist in the schema.")),
        };
        if let Writer::Client(client) = writer {
            let writable = match &client.settings.write_attributes {
                Some(list) => list.iter().any(|w| w == name),
                None => !verified_flag && !name.starts_with("dev:"),
            };
            if !writable || name.starts_with("dev:") {
                return Err(IdpError::NotAuthorized(format!(
                    "A client attempted to write unauthorized attribute {name}"
                )));
            }
        }
        if value.chars().count() > 2048 {
            return Err(bad("the value is longer than 2048 characters"));
        }
        match data_type {
            AttributeDataType::Boolean if value != "true" && value != "false" => {
                return Err(bad("must be true or false"));
            }
            AttributeDataType::Number if value.parse::<f64>().is_err() => {
                return Err(bad("must be a number"));
            }
            _ => {}
        }
        if let (AttributeDataType::Number, Some(b)) = (data_type, bounds) {
            let n = value.parse::<f64>().unwrap_or(f64::NAN);
            let min = b.min_value.and_then(|m| m.parse::<f64>().ok());
            let max = b.max_value.and_then(|m| m.parse::<f64>().ok());
            if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                return Err(bad("the number is outside the attribute's MinValue/MaxValue"));
            }
        }
        if let Some(c) = constraints {
            let n = value.chars().count() as i64;
            let min = c.min_length.and_then(|m| m.parse::<i64>().ok()).unwrap_or(0);
            let max = c.max_length.and_then(|m| m.parse::<i64>().ok()).unwrap_or(2048);
            if n < min.max(0) || n > max {
                return Err(bad(&format!("the value must be {min} to {max} characters long")));
            }
        }
        match name.as_str() {
            "email" if !is_email(value) => {
                return Err(IdpError::InvalidParameter("Invalid email address format.".into()));
            }
            "phone_number" if !is_phone(value) => {
                return Err(IdpError::InvalidParameter("Invalid phone number format.".into()));
            }
            "birthdate" if !is_date(value) => return Err(bad("must be YYYY-MM-DD")),
            _ => {}
        }
        out.insert(name.clone(), value.clone());
    }
    Ok(out)
}

fn is_date(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// Required schema attributes missing from `attributes`.
pub fn check_required(pool: &UserPool, attributes: &BTreeMap<String, String>) -> Result<()> {
    for a in &pool.schema {
        let Some(name) = a.name.as_deref() else { continue };
        if a.required == Some(true) && name != "sub" && !attributes.contains_key(name) {
            return Err(IdpError::InvalidParameter(format!(
                "Attributes did not conform to the schema: {name}: The attribute is required"
            )));
        }
    }
    Ok(())
}

/// The aliases a user holds now: the username attribute (email/phone as
/// username), `preferred_username`, and verified email/phone aliases.
pub fn aliases_of(pool: &UserPool, attributes: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for u in pool.settings.username_attributes.iter().flatten() {
        let attr = match u {
            UsernameAttribute::email => "email",
            UsernameAttribute::phone_number => "phone_number",
        };
        if let Some(v) = attributes.get(attr) {
            out.push(alias_key(pool, attr, v));
        }
    }
    for a in pool.settings.alias_attributes.iter().flatten() {
        let (attr, needs_verification) = match a {
            AliasAttribute::email => ("email", true),
            AliasAttribute::phone_number => ("phone_number", true),
            AliasAttribute::preferred_username => ("preferred_username", false),
        };
        let verified =
            !needs_verification || attributes.get(&format!("{attr}_verified")).is_some_and(|v| v == "true");
        if let (Some(v), true) = (attributes.get(attr), verified) {
            out.push(alias_key(pool, attr, v));
        }
    }
    out
}

impl UserPools {
    /// Finds a user by username or by any sign-in alias.
    pub(super) async fn find_user(&self, pool: &UserPool, name: &str) -> Result<Option<User>> {
        if let Some(user) = self.store.get_user(&pool.id, &username_key(pool, name)).await? {
            return Ok(Some(user));
        }
        for attr in ["email", "phone_number", "preferred_username"] {
            if let Some(user) = self.store.find_by_alias(&pool.id, &alias_key(pool, attr, name)).await? {
                return Ok(Some(user));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_phones() {
        assert!(is_email("jane@example.com"));
        assert!(!is_email("jane.example.com"));
        assert!(!is_email("jane@"));
        assert!(!is_email("ja ne@example.com"));
        assert!(is_phone("+15555550123"));
        assert!(!is_phone("5555550123"));
        assert!(!is_phone("+1555-555"));
        assert!(is_date("1990-02-28"));
        assert!(!is_date("28/02/1990"));
    }
}
