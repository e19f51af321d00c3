//! The `Condition` element: operators, missing-key rules and set qualifiers (spec §8.3).

use std::cmp::Ordering;
use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ipnet::IpNet;
use serde_json::Value;
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use super::variables::Template;
use super::wildcard::{self, Token};
use super::{Context, normalize_key};

/// One key under one operator, e.g. `"StringLike": {"s3:prefix": ["a/*", "b/*"]}`.
#[derive(Debug, Clone)]
pub(super) struct Condition {
    operator: Operator,
    key: String,
    values: Vec<Template>,
}

#[derive(Debug, Clone, Copy)]
struct Operator {
    test: Test,
    /// `...Not...` operators: the request value must match none of the policy values.
    negated: bool,
    if_exists: bool,
    qualifier: Option<Qualifier>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qualifier {
    ForAnyValue,
    ForAllValues,
}

/// What compares one request value with one policy value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Comparison),
    Date(Comparison),
    Bool,
    Binary,
    IpAddress,
    Arn,
    Null,
}

/// How the request value must compare to the policy value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Equal,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Comparison {
    fn holds(self, order: Ordering) -> bool {
        match self {
            Comparison::Equal => order.is_eq(),
            Comparison::Less => order.is_lt(),
            Comparison::LessOrEqual => order.is_le(),
            Comparison::Greater => order.is_gt(),
            Comparison::GreaterOrEqual => order.is_ge(),
        }
    }
}

/// Operator names, their test, and whether they are negated.
const OPERATORS: &[(&str, Test, bool)] = {
    use Comparison::*;
    use Test::*;
    &[
        ("StringEquals", StringEquals, false),
        ("StringNotEquals", StringEquals, true),
        ("StringEqualsIgnoreCase", StringEqualsIgnoreCase, false),
        ("StringNotEqualsIgnoreCase", StringEqualsIgnoreCase, true),
        ("StringLike", StringLike, false),
        ("StringNotLike", StringLike, true),
        ("NumericEquals", Numeric(Equal), false),
        ("NumericNotEquals", Numeric(Equal), true),
        ("NumericLessThan", Numeric(Less), false),
        ("NumericLessThanEquals", Numeric(LessOrEqual), false),
        ("NumericGreaterThan", Numeric(Greater), false),
        ("NumericGreaterThanEquals", Numeric(GreaterOrEqual), false),
        ("DateEquals", Date(Equal), false),
        ("DateNotEquals", Date(Equal), true),
        ("DateLessThan", Date(Less), false),
        ("DateLessThanEquals", Date(LessOrEqual), false),
        ("DateGreaterThan", Date(Greater), false),
        ("DateGreaterThanEquals", Date(GreaterOrEqual), false),
        ("Bool", Bool, false),
        ("BinaryEquals", Binary, false),
        ("IpAddress", IpAddress, false),
        ("NotIpAddress", IpAddress, true),
        ("ArnEquals", Arn, false),
        ("ArnLike", Arn, false),
        ("ArnNotEquals", Arn, true),
        ("ArnNotLike", Arn, true),
        ("Null", Null, false),
    ]
};

impl Operator {
    fn parse(name: &str) -> Result<Operator, String> {
        let unknown = || format!("unknown condition operator \"{name}\"");
        let (qualifier, base) = if let Some(base) = name.strip_prefix("ForAnyValue:") {
            (Some(Qualifier::ForAnyValue), base)
        } else if let Some(base) = name.strip_prefix("ForAllValues:") {
            (Some(Qualifier::ForAllValues), base)
        } else {
            (None, name)
        };
        let (base, if_exists) = match base.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (base, false),
        };
        let &(_, test, negated) = OPERATORS.iter().find(|(n, ..)| *n == base).ok_or_else(unknown)?;
        if test == Test::Null && (if_exists || qualifier.is_some()) {
            return Err(unknown());
        }
        Ok(Operator { test, negated, if_exists, qualifier })
    }
}

/// Parses a `Condition` element into its (operator, key) pairs.
pub(super) fn parse_block(block: &Value, variables: bool) -> Result<Vec<Condition>, String> {
    let operators = block.as_object().ok_or("Condition must be an object")?;
    let mut conditions = Vec::new();
    for (name, keys) in operators {
        let operator = Operator::parse(name)?;
        let keys = keys.as_object().ok_or_else(|| format!("Condition {name} must be an object of keys"))?;
        for (key, values) in keys {
            let values = canonical_values(values).ok_or_else(|| {
                format!("Condition {name} {key}: values must be strings, numbers or booleans")
            })?;
            let values = values
                .iter()
                .map(|v| {
                    let template = Template::parse(v, variables)?;
                    if !template.has_variables() && !operator.test.accepts(v) {
                        return Err(format!("Condition {name} {key}: invalid value \"{v}\""));
                    }
                    Ok(template)
                })
                .collect::<Result<_, String>>()?;
            conditions.push(Condition { operator, key: normalize_key(key), values });
        }
    }
    Ok(conditions)
}

/// A scalar or non-empty array of scalars, as strings.
fn canonical_values(value: &Value) -> Option<Vec<String>> {
    fn scalar(value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    match value {
        Value::Array(items) if !items.is_empty() => items.iter().map(scalar).collect(),
        Value::Array(_) => None,
        other => scalar(other).map(|s| vec![s]),
    }
}

/// A policy value after variable substitution, kept both as pattern tokens and as text.
struct Resolved {
    tokens: Vec<Token>,
    text: String,
}

impl Condition {
    /// Whether the condition holds for `context`.
    pub(super) fn holds(&self, context: &Context) -> bool {
        let op = self.operator;
        let request_values = context.get(&self.key).filter(|values| !values.is_empty());
        // An unresolvable value (missing variable, no default) matches nothing.
        let policy_values: Vec<Resolved> = self
            .values
            .iter()
            .filter_map(|t| t.resolve(context))
            .map(|tokens| Resolved { text: tokens.iter().map(|t| t.as_char()).collect(), tokens })
            .collect();
        if op.test == Test::Null {
            let present = request_values.is_some();
            return policy_values.iter().any(|v| parse_bool(&v.text) == Some(!present));
        }
        let Some(request_values) = request_values else {
            return op.if_exists || op.qualifier.map_or(op.negated, |q| q == Qualifier::ForAllValues);
        };
        let single = |request: &String| {
            op.negated != policy_values.iter().any(|policy| op.test.matches(policy, request))
        };
        match op.qualifier {
            // Without a qualifier a multi-valued key counts as matched if any of its values is.
            None if op.negated => request_values.iter().all(single),
            None | Some(Qualifier::ForAnyValue) => request_values.iter().any(single),
            Some(Qualifier::ForAllValues) => request_values.iter().all(single),
        }
    }
}

impl Test {
    /// Whether `request` matches the (resolved) policy value.
    fn matches(self, policy: &Resolved, request: &str) -> bool {
        match self {
            Test::StringEquals => policy.text == request,
            Test::StringEqualsIgnoreCase => policy.text.to_lowercase() == request.to_lowercase(),
            Test::StringLike => {
                let request: Vec<char> = request.chars().collect();
                wildcard::matches(&policy.tokens, &request, false)
            }
            Test::Arn => wildcard::matches_resource(&policy.tokens, request),
            Test::Numeric(cmp) => compare(parse_number, cmp, &policy.text, request),
            Test::Date(cmp) => compare(parse_date, cmp, &policy.text, request),
            Test::Bool => parse_bool(request).is_some_and(|r| parse_bool(&policy.text) == Some(r)),
            Test::Binary => match (BASE64.decode(&policy.text), BASE64.decode(request)) {
                (Ok(policy), Ok(request)) => policy == request,
                _ => false,
            },
            Test::IpAddress => match (parse_network(&policy.text), request.parse::<IpAddr>()) {
                (Some(network), Ok(address)) => network.contains(&address),
                _ => false,
            },
            Test::Null => false,
        }
    }

    /// Whether a literal policy value is well-formed for this test.
    fn accepts(self, value: &str) -> bool {
        match self {
            Test::Numeric(_) => parse_number(value).is_some(),
            Test::Date(_) => parse_date(value).is_some(),
            Test::Bool | Test::Null => parse_bool(value).is_some(),
            Test::Binary => BASE64.decode(value).is_ok(),
            Test::IpAddress => parse_network(value).is_some(),
            Test::StringEquals | Test::StringEqualsIgnoreCase | Test::StringLike | Test::Arn => true,
        }
    }
}

/// `request <cmp> policy`, false if either side does not parse.
fn compare<T: PartialOrd>(
    parse: fn(&str) -> Option<T>,
    cmp: Comparison,
    policy: &str,
    request: &str,
) -> bool {
    match (parse(request), parse(policy)) {
        (Some(request), Some(policy)) => request.partial_cmp(&policy).is_some_and(|order| cmp.holds(order)),
        _ => false,
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// An integer or decimal (optional sign, digits, optional fraction, optional exponent).
fn parse_number(value: &str) -> Option<f64> {
    let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
    let mantissa = digits.split(['e', 'E']).next().unwrap_or_default();
    let well_formed = mantissa.starts_with(|c: char| c.is_ascii_digit())
        && digits.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'));
    well_formed.then(|| value.parse().ok()).flatten().filter(|n: &f64| n.is_finite())
}

/// Epoch seconds, RFC 3339 / ISO 8601 date-times (UTC if no offset), or a plain date.
fn parse_date(value: &str) -> Option<OffsetDateTime> {
    if let Ok(seconds) = value.parse::<i64>() {
        return OffsetDateTime::from_unix_timestamp(seconds).ok();
    }
    OffsetDateTime::parse(value, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(value, &Iso8601::DEFAULT))
        .ok()
        .or_else(|| PrimitiveDateTime::parse(value, &Iso8601::DEFAULT).ok().map(|t| t.assume_utc()))
        .or_else(|| {
            let date = Date::parse(value, format_description!("[year]-[month]-[day]")).ok()?;
            Some(date.midnight().assume_utc())
        })
}

/// A CIDR block, or a single address as a one-address block.
fn parse_network(value: &str) -> Option<IpNet> {
    value.parse::<IpNet>().ok().or_else(|| value.parse::<IpAddr>().ok().map(IpNet::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse() {
        assert_eq!(parse_number("1.50"), Some(1.5));
        assert_eq!(parse_number("-3"), Some(-3.0));
        assert_eq!(parse_number("2e3"), Some(2000.0));
        for bad in ["", "abc", "inf", "NaN", ".5", "1..2", "+", "1e999"] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
        let new_year = parse_date("2026-01-01T00:00:00Z").unwrap();
        for same in ["2026-01-01", "1767225600", "2026-01-01T01:00:00+01:00", "2026-01-01T00:00:00"] {
            assert_eq!(parse_date(same), Some(new_year), "{same}");
        }
        assert!(parse_date("2026-01-01T00:00:00.250Z").is_some_and(|d| d > new_year));
        assert_eq!(parse_date("yesterday"), None);
        assert!(
            parse_network("10.0.0.0/8").is_some_and(|n| n.contains(&"10.1.2.3".parse::<IpAddr>().unwrap()))
        );
        assert!(parse_network("2001:db8::1").is_some());
        assert_eq!(parse_network("10.0.0.0/33"), None);
    }
}
