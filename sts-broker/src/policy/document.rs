//! The policy grammar (spec §8.1): validating a JSON document into statements, and whether a
//! statement applies to a request.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::condition::{self, Condition};
use super::variables::Template;
use super::wildcard::{self, Token};
use super::{Effect, PolicyKind, Request};

/// A validated statement.
#[derive(Debug, Clone)]
pub(super) struct Statement {
    pub(super) effect: Effect,
    principal: Option<Scope<Principals>>,
    /// Action patterns, matched case-insensitively.
    action: Scope<Vec<Vec<Token>>>,
    /// `None`: no `Resource` element (trust policies), which matches any resource.
    resource: Option<Scope<Vec<Template>>>,
    conditions: Vec<Condition>,
}

/// An element and its `Not...` form.
#[derive(Debug, Clone)]
enum Scope<T> {
    Only(T),
    AllExcept(T),
}

impl<T> Scope<T> {
    fn applies(&self, listed: impl FnOnce(&T) -> bool) -> bool {
        match self {
            Scope::Only(items) => listed(items),
            Scope::AllExcept(items) => !listed(items),
        }
    }
}

#[derive(Debug, Clone)]
enum Principals {
    /// `"Principal": "*"`.
    Everyone,
    /// (kind, value) pairs, e.g. ("Federated", "cognito-identity.amazonaws.com").
    Listed(Vec<(String, String)>),
}

const POLICY_ELEMENTS: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT_ELEMENTS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];
const PRINCIPAL_KINDS: &[&str] = &["AWS", "Federated", "Service", "CanonicalUser"];

/// Validates a policy document and returns its statements.
pub(super) fn statements(document: &Value, kind: PolicyKind) -> Result<Vec<Statement>, String> {
    let policy = document.as_object().ok_or("Policy document must be a JSON object")?;
    if let Some(unknown) = policy.keys().find(|k| !POLICY_ELEMENTS.contains(&k.as_str())) {
        return Err(format!("Policy document has an unknown element \"{unknown}\""));
    }
    let variables = match policy.get("Version") {
        None => false,
        Some(Value::String(v)) if v == "2012-10-17" => true,
        Some(Value::String(v)) if v == "2008-10-17" => false,
        Some(_) => return Err("Version must be \"2012-10-17\" or \"2008-10-17\"".to_owned()),
    };
    if policy.get("Id").is_some_and(|id| !id.is_string()) {
        return Err("Id must be a string".to_owned());
    }
    let statements = match policy.get("Statement") {
        None => return Err("Policy document must have a Statement".to_owned()),
        Some(Value::Array(list)) if list.is_empty() => return Err("Statement must not be empty".to_owned()),
        Some(Value::Array(list)) => list.iter().collect(),
        Some(single) => vec![single],
    };
    let mut sids = HashSet::new();
    let mut parsed = Vec::with_capacity(statements.len());
    for (index, statement) in statements.into_iter().enumerate() {
        let statement = statement
            .as_object()
            .ok_or_else(|| "a Statement must be a JSON object".to_owned())
            .and_then(|s| parse_statement(s, kind, variables, &mut sids))
            .map_err(|reason| format!("Statement {}: {reason}", index + 1))?;
        parsed.push(statement);
    }
    Ok(parsed)
}

fn parse_statement(
    statement: &Map<String, Value>,
    kind: PolicyKind,
    variables: bool,
    sids: &mut HashSet<String>,
) -> Result<Statement, String> {
    if let Some(unknown) = statement.keys().find(|k| !STATEMENT_ELEMENTS.contains(&k.as_str())) {
        return Err(format!("unknown element \"{unknown}\""));
    }
    match statement.get("Sid") {
        Some(Value::String(sid)) if !sid.is_empty() && !sids.insert(sid.clone()) => {
            return Err(format!("duplicate Sid \"{sid}\""));
        }
        None | Some(Value::String(_)) => {}
        Some(_) => return Err("Sid must be a string".to_owned()),
    }
    let effect = match statement.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(_) => return Err("Effect must be \"Allow\" or \"Deny\"".to_owned()),
        None => return Err("Effect is required".to_owned()),
    };
    let principal = element_pair(statement, "Principal", "NotPrincipal")?;
    let principal = match (kind, principal) {
        (PolicyKind::Identity, Some(_)) => {
            return Err("Principal and NotPrincipal are not allowed in an identity-based policy".to_owned());
        }
        (PolicyKind::Trust, None) => return Err("Principal or NotPrincipal is required".to_owned()),
        (_, principal) => principal.map(|p| p.map_items(parse_principal)).transpose()?,
    };
    let action = element_pair(statement, "Action", "NotAction")?
        .ok_or("Action or NotAction is required")?
        .map_items(|value| strings(value, "Action")?.into_iter().map(parse_action).collect())?;
    let resource = element_pair(statement, "Resource", "NotResource")?;
    if kind == PolicyKind::Identity && resource.is_none() {
        return Err("Resource or NotResource is required".to_owned());
    }
    let resource = resource
        .map(|r| {
            r.map_items(|value| {
                strings(value, "Resource")?.into_iter().map(|s| Template::parse(s, variables)).collect()
            })
        })
        .transpose()?;
    let conditions = match statement.get("Condition") {
        None => Vec::new(),
        Some(block) => condition::parse_block(block, variables)?,
    };
    Ok(Statement { effect, principal, action, resource, conditions })
}

impl<'a> Scope<&'a Value> {
    fn map_items<T>(self, parse: impl FnOnce(&'a Value) -> Result<T, String>) -> Result<Scope<T>, String> {
        Ok(match self {
            Scope::Only(v) => Scope::Only(parse(v)?),
            Scope::AllExcept(v) => Scope::AllExcept(parse(v)?),
        })
    }
}

/// At most one of `name` and `not_name`.
fn element_pair<'a>(
    statement: &'a Map<String, Value>,
    name: &str,
    not_name: &str,
) -> Result<Option<Scope<&'a Value>>, String> {
    match (statement.get(name), statement.get(not_name)) {
        (Some(_), Some(_)) => Err(format!("only one of {name} and {not_name} may be present")),
        (Some(v), None) => Ok(Some(Scope::Only(v))),
        (None, Some(v)) => Ok(Some(Scope::AllExcept(v))),
        (None, None) => Ok(None),
    }
}

/// A string or a non-empty array of strings.
fn strings<'a>(value: &'a Value, name: &str) -> Result<Vec<&'a str>, String> {
    let invalid = || format!("{name} must be a string or a non-empty array of strings");
    match value {
        Value::String(s) => Ok(vec![s]),
        Value::Array(items) if !items.is_empty() => {
            items.iter().map(|item| item.as_str().ok_or_else(invalid)).collect()
        }
        _ => Err(invalid()),
    }
}

/// `"*"` or `"<service>:<action>"`, wildcards allowed in both parts.
fn parse_action(action: &str) -> Result<Vec<Token>, String> {
    let valid = action == "*"
        || action.split_once(':').is_some_and(|(service, name)| {
            !service.is_empty()
                && !name.is_empty()
                && service.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '*' | '?'))
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*' | '?'))
        });
    if !valid {
        return Err(format!("invalid Action \"{action}\": actions must look like \"service:ActionName\""));
    }
    Ok(wildcard::compile(action).collect())
}

fn parse_principal(value: &Value) -> Result<Principals, String> {
    match value {
        Value::String(s) if s == "*" => Ok(Principals::Everyone),
        Value::Object(kinds) if !kinds.is_empty() => {
            let mut listed = Vec::new();
            for (kind, values) in kinds {
                if !PRINCIPAL_KINDS.contains(&kind.as_str()) {
                    return Err(format!("unknown Principal type \"{kind}\""));
                }
                for value in strings(values, "Principal")? {
                    listed.push((kind.clone(), value.to_owned()));
                }
            }
            Ok(Principals::Listed(listed))
        }
        _ => Err("Principal must be \"*\" or an object of principal types".to_owned()),
    }
}

impl Statement {
    /// Whether the statement applies: principal, action, resource and every condition match.
    /// `action` is the request action as characters.
    pub(super) fn applies(&self, action: &[char], request: &Request<'_>) -> bool {
        let principal = self.principal.as_ref().is_none_or(|p| p.applies(|p| p.includes(request.principal)));
        principal
            && self.action.applies(|patterns| patterns.iter().any(|p| wildcard::matches(p, action, true)))
            && self.resource.as_ref().is_none_or(|r| {
                r.applies(|entries| {
                    entries.iter().any(|entry| {
                        entry
                            .resolve(request.context)
                            .is_some_and(|pattern| wildcard::matches_resource(&pattern, request.resource))
                    })
                })
            })
            && self.conditions.iter().all(|c| c.holds(request.context))
    }
}

impl Principals {
    /// `"*"` and `{"AWS": "*"}` include every principal (anonymous too); otherwise the kind must
    /// match exactly and the value exactly, except that an account id and its root ARN are one.
    fn includes(&self, principal: Option<(&str, &str)>) -> bool {
        let Principals::Listed(listed) = self else {
            return true;
        };
        listed.iter().any(|(kind, value)| {
            (kind == "AWS" && value == "*")
                || principal.is_some_and(|(k, v)| {
                    kind == k && (value == v || (kind == "AWS" && same_account(value, v)))
                })
        })
    }
}

/// An AWS account id names the same principal as the account's root ARN.
fn same_account(a: &str, b: &str) -> bool {
    fn account(principal: &str) -> Option<&str> {
        let is_id = |s: &str| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit());
        if is_id(principal) {
            return Some(principal);
        }
        let mut parts = principal.splitn(6, ':');
        let (Some("arn"), Some(_), Some("iam"), Some(""), Some(id), Some("root")) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        is_id(id).then_some(id)
    }
    account(a).is_some_and(|id| account(b) == Some(id))
}
