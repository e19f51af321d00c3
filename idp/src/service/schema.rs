//! The standard attributes of every pool and the rules for `Schema` entries.

use crate::error::{IdpError, Result};
use crate::model::{
    AttributeDataType, NumberAttributeConstraints, SchemaAttribute, StringAttributeConstraints,
};

/// OIDC standard claims Cognito keeps for every pool: (name, type, mutable).
const STANDARD: &[(&str, AttributeDataType)] = &[
    ("sub", AttributeDataType::String),
    ("name", AttributeDataType::String),
    ("given_name", AttributeDataType::String),
    ("family_name", AttributeDataType::String),
    ("middle_name", AttributeDataType::String),
    ("nickname", AttributeDataType::String),
    ("preferred_username", AttributeDataType::String),
    ("profile", AttributeDataType::String),
    ("picture", AttributeDataType::String),
    ("website", AttributeDataType::String),
    ("email", AttributeDataType::String),
    ("email_verified", AttributeDataType::Boolean),
    ("gender", AttributeDataType::String),
    ("birthdate", AttributeDataType::String),
    ("zoneinfo", AttributeDataType::String),
    ("locale", AttributeDataType::String),
    ("phone_number", AttributeDataType::String),
    ("phone_number_verified", AttributeDataType::Boolean),
    ("address", AttributeDataType::String),
    ("updated_at", AttributeDataType::Number),
];

/// The most custom attributes a pool may have (Cognito's limit of 50
/// attributes counts custom ones).
const MAX_CUSTOM: usize = 50;

pub fn is_standard(name: &str) -> bool {
    STANDARD.iter().any(|(n, _)| *n == name)
}

fn standard_attribute(name: &str, data_type: AttributeDataType) -> SchemaAttribute {
    let (min_len, max_len) = match name {
        "sub" => ("1", "2048"),
        "birthdate" => ("10", "10"),
        _ => ("0", "2048"),
    };
    SchemaAttribute {
        name: Some(name.to_string()),
        attribute_data_type: Some(data_type),
        developer_only_attribute: Some(false),
        mutable: Some(name != "sub"),
        required: Some(name == "sub"),
        number_attribute_constraints: (data_type == AttributeDataType::Number)
            .then(|| NumberAttributeConstraints { min_value: Some("0".into()), max_value: None }),
        string_attribute_constraints: (data_type == AttributeDataType::String).then(|| {
            StringAttributeConstraints { min_length: Some(min_len.into()), max_length: Some(max_len.into()) }
        }),
    }
}

/// The pool's full schema: the standard attributes (with `Required` and
/// `Mutable` as the request set them) followed by its custom attributes
/// (`custom:<name>`, or `dev:custom:<name>` when developer-only).
pub fn build(requested: &[SchemaAttribute]) -> Result<Vec<SchemaAttribute>> {
    let mut schema: Vec<SchemaAttribute> = STANDARD.iter().map(|(n, t)| standard_attribute(n, *t)).collect();
    let mut custom: Vec<SchemaAttribute> = Vec::new();
    for entry in requested {
        let name = entry
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| IdpError::InvalidParameter("Schema attributes must have a Name.".into()))?;
        if let Some(std) = schema.iter_mut().find(|a| a.name.as_deref() == Some(name)) {
            if entry.attribute_data_type.is_some_and(|t| Some(t) != std.attribute_data_type) {
                return Err(IdpError::InvalidParameter(format!(
                    "The data type of the standard attribute {name} cannot be changed."
                )));
            }
            if name == "sub" && (entry.mutable == Some(true) || entry.required == Some(false)) {
                return Err(IdpError::InvalidParameter(
                    "The sub attribute is required and immutable.".into(),
                ));
            }
            if let Some(required) = entry.required {
                std.required = Some(required);
            }
            if let Some(mutable) = entry.mutable {
                std.mutable = Some(mutable);
            }
            if let Some(c) = &entry.string_attribute_constraints {
                std.string_attribute_constraints = Some(c.clone());
            }
            continue;
        }
        custom.push(custom_attribute(name, entry)?);
    }
    if custom.len() > MAX_CUSTOM {
        return Err(IdpError::InvalidParameter(format!(
            "A user pool can have at most {MAX_CUSTOM} custom attributes."
        )));
    }
    for (i, a) in custom.iter().enumerate() {
        if custom[..i].iter().any(|b| b.name == a.name) {
            return Err(IdpError::InvalidParameter(format!(
                "Duplicate attribute name: {}",
                a.name.as_deref().unwrap_or_default()
            )));
        }
    }
    schema.extend(custom);
    Ok(schema)
}

fn custom_attribute(name: &str, entry: &SchemaAttribute) -> Result<SchemaAttribute> {
    let bare = name.strip_prefix("custom:").unwrap_or(name);
    if bare.is_empty() || bare.chars().count() > 20 {
        return Err(IdpError::InvalidParameter(format!(
            "Custom attribute name {name} must be 1 to 20 characters long."
        )));
    }
    if entry.required == Some(true) {
        return Err(IdpError::InvalidParameter(
            "Required custom attributes are not supported currently.".into(),
        ));
    }
    let data_type = entry.attribute_data_type.unwrap_or(AttributeDataType::String);
    check_bounds(name, entry, data_type)?;
    let developer_only = entry.developer_only_attribute.unwrap_or(false);
    let prefix = if developer_only { "dev:custom:" } else { "custom:" };
    Ok(SchemaAttribute {
        name: Some(format!("{prefix}{bare}")),
        attribute_data_type: Some(data_type),
        developer_only_attribute: Some(developer_only),
        mutable: Some(entry.mutable.unwrap_or(true)),
        required: Some(false),
        number_attribute_constraints: entry.number_attribute_constraints.clone(),
        string_attribute_constraints: entry
            .string_attribute_constraints
            .clone()
            .or_else(|| (data_type == AttributeDataType::String).then(StringAttributeConstraints::default)),
    })
}

/// Constraint values are strings on the wire; they must be numbers with
/// min ≤ max, and only fit their data type.
fn check_bounds(name: &str, entry: &SchemaAttribute, data_type: AttributeDataType) -> Result<()> {
    let parse = |v: &Option<String>, what: &str| -> Result<Option<i64>> {
        v.as_deref()
            .map(|s| {
                s.trim().parse::<i64>().map_err(|_| {
                    IdpError::InvalidParameter(format!(
                        "{what} of attribute {name} must be an integer, not '{s}'."
                    ))
                })
            })
            .transpose()
    };
    if let Some(c) = &entry.string_attribute_constraints {
        if data_type != AttributeDataType::String {
            return Err(IdpError::InvalidParameter(format!(
                "StringAttributeConstraints apply only to String attributes ({name})."
            )));
        }
        let (min, max) = (parse(&c.min_length, "MinLength")?, parse(&c.max_length, "MaxLength")?);
        if min.is_some_and(|m| m < 0)
            || max.is_some_and(|m| m > 2048)
            || matches!((min, max), (Some(a), Some(b)) if a > b)
        {
            return Err(IdpError::InvalidParameter(format!(
                "String constraints of {name} must satisfy 0 <= MinLength <= MaxLength <= 2048."
            )));
        }
    }
    if let Some(c) = &entry.number_attribute_constraints {
        if data_type != AttributeDataType::Number {
            return Err(IdpError::InvalidParameter(format!(
                "NumberAttributeConstraints apply only to Number attributes ({name})."
            )));
        }
        let (min, max) = (parse(&c.min_value, "MinValue")?, parse(&c.max_value, "MaxValue")?);
        if matches!((min, max), (Some(a), Some(b)) if a > b) {
            return Err(IdpError::InvalidParameter(format!("MinValue of {name} exceeds its MaxValue.")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(name: &str) -> SchemaAttribute {
        SchemaAttribute { name: Some(name.into()), ..Default::default() }
    }

    #[test]
    fn standard_then_custom() {
        let mut req = attr("tenant");
        req.developer_only_attribute = Some(true);
        let mut email = attr("email");
        email.required = Some(true);
        let schema = build(&[email, attr("plan"), req]).unwrap();
        let names: Vec<_> = schema.iter().map(|a| a.name.clone().unwrap()).collect();
        assert_eq!(names[0], "sub");
        assert!(names.contains(&"custom:plan".to_string()));
        assert!(names.contains(&"dev:custom:tenant".to_string()));
        let email = schema.iter().find(|a| a.name.as_deref() == Some("email")).unwrap();
        assert_eq!(email.required, Some(true));
    }

    #[test]
    fn refusals() {
        let mut required = attr("x");
        required.required = Some(true);
        assert!(build(&[required]).is_err());
        assert!(build(&[attr("a_name_longer_than_twenty")]).is_err());
        assert!(build(&[attr("dup"), attr("custom:dup")]).is_err());
        let mut bad = attr("n");
        bad.attribute_data_type = Some(AttributeDataType::Number);
        bad.number_attribute_constraints =
            Some(NumberAttributeConstraints { min_value: Some("9".into()), max_value: Some("1".into()) });
        assert!(build(&[bad]).is_err());
        let mut sub = attr("sub");
        sub.mutable = Some(true);
        assert!(build(&[sub]).is_err());
    }
}
