//! ListUsers: Cognito's filter grammar over an index, with pagination.

use awsapi::json::check_range;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::UserPools;
use super::users::username_key;
use crate::error::{IdpError, Result};
use crate::model::{SEARCHABLE_ATTRIBUTES, User, UserFilter, UserPool, search_value};

/// Parses `attr = "value"` or `attr ^= "prefix"` (quotes and backslashes
/// escaped with a backslash) into a normalised filter.
pub fn parse_filter(pool: &UserPool, text: &str) -> Result<Option<UserFilter>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let bad = |why: &str| IdpError::InvalidParameter(format!("Error while parsing filter: {why}"));
    let name_end = text
        .find(|c: char| c.is_whitespace() || c == '=' || c == '^')
        .ok_or_else(|| bad("expected an operator"))?;
    let (attribute, rest) = text.split_at(name_end);
    let rest = rest.trim_start();
    let (prefix, rest) = if let Some(r) = rest.strip_prefix("^=") {
        (true, r)
    } else if let Some(r) = rest.strip_prefix('=') {
        (false, r)
    } else {
        return Err(bad("the operator must be = or ^="));
    };
    let rest = rest.trim();
    let quoted = rest
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .ok_or_else(|| bad("the value must be in double quotes"))?;
    let mut value = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => value.push(chars.next().ok_or_else(|| bad("a backslash ends the value"))?),
            '"' => return Err(bad("an unescaped quote inside the value")),
            c => value.push(c),
        }
    }
    let searchable = ["username", "cognito:user_status", "status"].contains(&attribute)
        || SEARCHABLE_ATTRIBUTES.contains(&attribute);
    if !searchable {
        return Err(IdpError::InvalidParameter(format!("Invalid search attribute: {attribute}")));
    }
    let value = match attribute {
        "username" => username_key(pool, &value),
        other => search_value(other, &value),
    };
    Ok(Some(UserFilter { attribute: attribute.to_string(), value, prefix }))
}

fn encode_position(sort_value: &str, username_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{sort_value}\u{0}{username_key}"))
}

fn decode_position(token: &str) -> Result<(String, String)> {
    let invalid = || IdpError::InvalidParameter("The pagination token is invalid.".into());
    let text =
        String::from_utf8(URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?).map_err(|_| invalid())?;
    let (value, user) = text.split_once('\u{0}').ok_or_else(invalid)?;
    Ok((value.to_string(), user.to_string()))
}

impl UserPools {
    pub async fn list_users(
        &self,
        pool_id: &str,
        filter: Option<&str>,
        limit: Option<i64>,
        token: Option<&str>,
    ) -> Result<(Vec<User>, Option<String>)> {
        let pool = self.describe_pool(pool_id).await?;
        let limit = limit.unwrap_or(60);
        check_range("Limit", limit, 0, 60)?;
        let limit = if limit == 0 { 60 } else { limit };
        let filter = parse_filter(&pool, filter.unwrap_or(""))?;
        let after = token.map(decode_position).transpose()?;
        let mut rows = self
            .store
            .list_users(
                &pool.id,
                filter.as_ref(),
                after.as_ref().map(|(v, u)| (v.as_str(), u.as_str())),
                limit + 1,
            )
            .await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next = if more { rows.last().map(|(v, u)| encode_position(v, &u.username_key)) } else { None };
        Ok((rows.into_iter().map(|(_, u)| u).collect(), next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PoolSettings;

    fn pool() -> UserPool {
        UserPool {
            id: "us-east-1_x".into(),
            name: "p".into(),
            created_ms: 0,
            updated_ms: 0,
            settings: PoolSettings::default(),
            schema: vec![],
        }
    }

    #[test]
    fn grammar() {
        let p = pool();
        let f = parse_filter(&p, r#"email = "Jane@Example.com""#).unwrap().unwrap();
        assert_eq!((f.attribute.as_str(), f.value.as_str(), f.prefix), ("email", "jane@example.com", false));
        let f = parse_filter(&p, r#"given_name ^= "Jo""#).unwrap().unwrap();
        assert!(f.prefix);
        let f = parse_filter(&p, r#"name="say \"hi\"""#).unwrap().unwrap();
        assert_eq!(f.value, "say \"hi\"");
        let f = parse_filter(&p, r#"cognito:user_status = "CONFIRMED""#).unwrap().unwrap();
        assert_eq!(f.value, "confirmed");
        let f = parse_filter(&p, r#"status = "Disabled""#).unwrap().unwrap();
        assert_eq!(f.value, "disabled");
        assert!(parse_filter(&p, "").unwrap().is_none());
        for bad in [
            r#"email"#,
            r#"email == "a""#,
            r#"email = a"#,
            r#"nickname = "a""#,
            r#"custom:x = "a""#,
            r#"email = "a"b""#,
        ] {
            assert!(parse_filter(&p, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn positions_round_trip() {
        let t = encode_position("jane@example.com", "jane");
        assert_eq!(decode_position(&t).unwrap(), ("jane@example.com".into(), "jane".into()));
        assert!(decode_position("!!").is_err());
    }
}
