//! IAM policy documents: parsing, validation and evaluation (spec §8).
//!
//! A [`Policy`] is parsed once, as either an identity policy (role, inline, managed or session
//! policy) or a trust policy (a role's `AssumeRolePolicyDocument`), and then evaluated against
//! [`Request`]s. [`decide`] combines the verdicts of a session's policies into a [`Decision`].

mod condition;
mod document;
mod strict_json;
mod variables;
mod wildcard;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use document::Statement;

/// Which grammar a document is parsed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Role, inline, managed and session policies: no `Principal`, `Resource` required.
    Identity,
    /// A role's `AssumeRolePolicyDocument`: `Principal` required, `Resource` optional.
    Trust,
}

/// Why a document was rejected; the message of `MalformedPolicyDocument`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

/// The effect of a statement, and a policy's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

/// One request to authorize.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `"<service>:<Action>"`, e.g. `"s3:GetObject"`.
    pub action: &'a str,
    /// The target ARN, or `"*"`.
    pub resource: &'a str,
    /// For trust policies: the principal kind (`"AWS"`, `"Federated"`, `"Service"`, ...) and value.
    pub principal: Option<(&'a str, &'a str)>,
    /// Condition keys and policy variables.
    pub context: &'a Context,
}

/// Request context keys (condition keys and policy variables).
///
/// Key names are case-insensitive. A key has one or several values; multi-valued keys (e.g.
/// `cognito-identity.amazonaws.com:amr`, `aws:TagKeys`) are inserted with [`Context::insert_multi`].
#[derive(Debug, Clone, Default)]
pub struct Context {
    values: HashMap<String, Vec<String>>,
}

impl Context {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a single-valued key, replacing any previous values.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        self.values.insert(normalize_key(key), vec![value.into()]);
    }

    /// Sets a multi-valued key, replacing any previous values.
    pub fn insert_multi(&mut self, key: &str, values: Vec<String>) {
        self.values.insert(normalize_key(key), values);
    }

    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values.get(&normalize_key(key)).map(Vec::as_slice)
    }

    /// The value of `key` as a policy variable: only a key with exactly one value has one.
    fn variable(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            [value] => Some(value),
            _ => None,
        }
    }
}

/// Condition key names compare case-insensitively.
fn normalize_key(key: &str) -> String {
    key.to_lowercase()
}

/// A parsed, validated policy document.
#[derive(Debug, Clone)]
pub struct Policy {
    source: serde_json::Value,
    statements: Vec<Statement>,
}

impl Policy {
    /// Parses and validates `document` with the grammar of `kind`.
    pub fn parse(document: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let source = strict_json::parse(document).map_err(PolicyError)?;
        let statements = document::statements(&source, kind).map_err(PolicyError)?;
        Ok(Policy { source, statements })
    }

    /// The statements' verdict on one request: `Some(Effect::Deny)` if any Deny statement applies,
    /// else `Some(Effect::Allow)` if any Allow applies, else `None`.
    pub fn evaluate(&self, request: &Request<'_>) -> Option<Effect> {
        let action: Vec<char> = request.action.chars().collect();
        let mut allowed = false;
        for statement in &self.statements {
            if statement.applies(&action, request) {
                match statement.effect {
                    Effect::Deny => return Some(Effect::Deny),
                    Effect::Allow => allowed = true,
                }
            }
        }
        allowed.then_some(Effect::Allow)
    }

    /// The document as minified JSON, fit to embed in a session token and parse again later.
    pub fn to_compact_json(&self) -> String {
        self.source.to_string()
    }
}

/// Full evaluation for a session (spec §8.5).
///
/// An explicit Deny in any policy (identity or session) wins. Otherwise the request is allowed only
/// if some identity policy allows it and, when session policies were passed, some session policy
/// allows it too. An empty `identity` slice allows nothing.
pub fn decide(identity: &[Policy], session: Option<&[Policy]>, request: &Request<'_>) -> Decision {
    let identity: Vec<_> = identity.iter().map(|p| p.evaluate(request)).collect();
    let session: Option<Vec<_>> = session.map(|s| s.iter().map(|p| p.evaluate(request)).collect());
    let all = || identity.iter().chain(session.iter().flatten());
    if all().any(|v| *v == Some(Effect::Deny)) {
        return Decision::ExplicitDeny;
    }
    let allows = |verdicts: &[Option<Effect>]| verdicts.contains(&Some(Effect::Allow));
    if allows(&identity) && session.as_deref().is_none_or(allows) {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}
