//! Decoding AWS JSON 1.1 request bodies and the model's value constraints.
//!
//! Errors follow the service's conventions: a body that is not JSON is a
//! `SerializationException`; a missing required member, a value outside the
//! model's range or enum is an `InvalidParameterException` whose message has
//! the shape `1 validation error detected: Value … at '…' failed to satisfy
//! constraint: …`.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::AwsError;

/// Parses a request body into `T`. An empty body counts as `{}`; JSON `null`
/// members and map values count as absent (identity-js sends them).
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, AwsError> {
    let mut value = parse_object(body)?;
    strip_nulls(&mut value);
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        classify(&path, &err.into_inner().to_string())
    })
}

fn parse_object(body: &[u8]) -> Result<Value, AwsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| AwsError::serialization(format!("Malformed JSON request body: {e}")))?;
    if !value.is_object() {
        return Err(AwsError::serialization("The request body must be a JSON object"));
    }
    Ok(value)
}

fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// Turns a serde message into the error a Cognito client expects.
fn classify(path: &str, message: &str) -> AwsError {
    let at = |member: &str| -> String {
        match (path, member) {
            (".", m) | ("", m) => m.to_string(),
            (p, "") => p.to_string(),
            (p, m) => format!("{p}.{m}"),
        }
    };
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or_default();
        return AwsError::invalid_parameter(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: \
             Member must not be null",
            at(field)
        ));
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let mut parts = rest.splitn(2, '`');
        let value = parts.next().unwrap_or_default();
        let allowed = parts
            .next()
            .and_then(|tail| tail.split_once("expected "))
            .map(|(_, set)| set.replace("one of ", "").replace(" or ", ", ").replace('`', ""))
            .unwrap_or_default();
        return AwsError::invalid_parameter(format!(
            "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: \
             Member must satisfy enum value set: [{allowed}]",
            at("")
        ));
    }
    if message.starts_with("invalid value") || message.starts_with("invalid length") {
        return AwsError::invalid_parameter(format!(
            "1 validation error detected: Value at '{}' failed to satisfy constraint: {message}",
            at("")
        ));
    }
    AwsError::serialization(format!("Cannot deserialize '{}': {message}", at("")))
}

fn violation(member: &str, shown: &str, constraint: String) -> AwsError {
    AwsError::invalid_parameter(format!(
        "1 validation error detected: Value '{shown}' at '{member}' failed to satisfy constraint: {constraint}"
    ))
}

/// `min <= value <= max`, as the model's `range` trait.
pub fn check_range(member: &str, value: i64, min: i64, max: i64) -> Result<(), AwsError> {
    if value < min {
        return Err(violation(
            member,
            &value.to_string(),
            format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if value > max {
        return Err(violation(
            member,
            &value.to_string(),
            format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// Length in characters, as the model's `length` trait.
pub fn check_length(member: &str, value: &str, min: usize, max: usize) -> Result<(), AwsError> {
    let n = value.chars().count();
    if n < min {
        return Err(violation(
            member,
            value,
            format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(violation(member, value, format!("Member must have length less than or equal to {max}")));
    }
    Ok(())
}

/// Every character satisfies `allowed` (the model's simple character-class
/// patterns); `pattern` is quoted in the message.
pub fn check_chars(
    member: &str,
    value: &str,
    pattern: &str,
    allowed: impl Fn(char) -> bool,
) -> Result<(), AwsError> {
    if value.chars().all(allowed) {
        Ok(())
    } else {
        Err(violation(member, value, format!("Member must satisfy regular expression pattern: {pattern}")))
    }
}

/// `[\w\s+=,.@-]+`: pool and client names.
pub fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c.is_whitespace() || "+=,.@-".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code)]
    struct Req {
        pool_name: String,
        max_results: Option<i64>,
        tier: Option<Tier>,
        tags: Option<std::collections::HashMap<String, String>>,
        tiers: Option<Vec<Tier>>,
    }

    #[derive(Deserialize, Debug)]
    #[allow(dead_code, clippy::upper_case_acronyms)]
    enum Tier {
        LITE,
        PLUS,
    }

    #[test]
    fn malformed_json_is_serialization_exception() {
        let err = decode::<Req>(b"{\"PoolName\": ").unwrap_err();
        assert_eq!(err.name, "SerializationException");
        let err = decode::<Req>(b"[1]").unwrap_err();
        assert_eq!(err.name, "SerializationException");
    }

    #[test]
    fn missing_member_is_named() {
        let err = decode::<Req>(b"{}").unwrap_err();
        assert_eq!(err.name, "InvalidParameterException");
        assert!(err.message.contains("'PoolName'"), "{}", err.message);
    }

    #[test]
    fn unknown_enum_value_lists_the_set() {
        let err = decode::<Req>(br#"{"PoolName":"a","Tier":"GOLD"}"#).unwrap_err();
        assert_eq!(err.name, "InvalidParameterException");
        assert!(err.message.contains("'GOLD'") && err.message.contains("LITE"), "{}", err.message);
    }

    #[test]
    fn enum_errors_in_lists_name_the_element() {
        let err = decode::<Req>(br#"{"PoolName":"a","Tiers":["LITE","GOLD"]}"#).unwrap_err();
        assert!(err.message.contains("at 'Tiers[1]'"), "{}", err.message);
        assert!(err.message.contains("[LITE, PLUS]"), "{}", err.message);
    }

    #[test]
    fn wrong_type_is_serialization_exception() {
        let err = decode::<Req>(br#"{"PoolName":"a","MaxResults":"ten"}"#).unwrap_err();
        assert_eq!(err.name, "SerializationException");
        assert!(err.message.contains("MaxResults"), "{}", err.message);
    }

    #[test]
    fn nulls_are_absent_and_unknown_members_ignored() {
        let req: Req = decode(br#"{"PoolName":"a","MaxResults":null,"Tags":{"k":null},"Extra":1}"#).unwrap();
        assert!(req.max_results.is_none());
        assert!(req.tags.unwrap().is_empty());
    }

    #[test]
    fn ranges_and_lengths() {
        assert!(check_range("MaxResults", 0, 1, 60).is_err());
        assert!(check_range("MaxResults", 61, 1, 60).is_err());
        assert!(check_range("MaxResults", 60, 1, 60).is_ok());
        assert!(check_length("PoolName", "", 1, 128).is_err());
        assert!(check_chars("PoolName", "a/b", "[\\w\\s+=,.@-]+", is_name_char).is_err());
        assert!(check_chars("PoolName", "my pool-1", "[\\w\\s+=,.@-]+", is_name_char).is_ok());
    }
}
