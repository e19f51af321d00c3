//! Fuzz target `policy_parse`: IAM policy documents (sts-broker `policy` module).
//!
//! Checks that, for any UTF-8 input:
//! - `Policy::parse` with both `PolicyKind::Identity` and `PolicyKind::Trust` never panics;
//! - a document that parses can be evaluated with `decide` against fixed requests (a Cognito
//!   federated principal, a context with single- and multi-valued keys) without panicking;
//! - `to_compact_json()` of an accepted document parses again with the same kind, renders to the
//!   same compact JSON, and gives the same decision for every request (round-trip property).
//!
//! Replaying one input with `CIRRUS_FUZZ_VERBOSE=1` in the environment prints each outcome.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use sts_broker::policy::{Context, Decision, Policy, PolicyKind, Request, decide};

static CONTEXT: LazyLock<Context> = LazyLock::new(|| {
    let mut ctx = Context::new();
    ctx.insert("aws:SourceIp", "10.1.2.3");
    ctx.insert("aws:CurrentTime", "2026-01-01T00:00:00Z");
    ctx.insert("aws:EpochTime", "1767225600");
    ctx.insert("aws:SecureTransport", "true");
    ctx.insert("aws:username", "alice");
    ctx.insert("s3:max-keys", "10");
    ctx.insert("cognito-identity.amazonaws.com:aud", "us-east-1:11111111-2222-3333-4444-555555555555");
    ctx.insert("cognito-identity.amazonaws.com:sub", "us-east-1:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
    ctx.insert_multi("cognito-identity.amazonaws.com:amr", vec!["authenticated".into(), "x".into()]);
    ctx.insert_multi("aws:TagKeys", vec!["team".into(), "env".into()]);
    ctx
});
static VERBOSE: LazyLock<bool> = LazyLock::new(|| std::env::var_os("CIRRUS_FUZZ_VERBOSE").is_some());

/// The request from the fuzzing brief, plus a second one with another principal kind, an
/// action outside `s3` and a `"*"` resource, to reach more of the matcher.
fn requests(ctx: &Context) -> [Request<'_>; 2] {
    [
        Request {
            action: "s3:GetObject",
            resource: "arn:aws:s3:::bucket/key",
            principal: Some(("Federated", "cognito-identity.amazonaws.com")),
            context: ctx,
        },
        Request {
            action: "sts:AssumeRoleWithWebIdentity",
            resource: "*",
            principal: Some(("AWS", "arn:aws:iam::123456789012:root")),
            context: ctx,
        },
    ]
}

fn check(text: &str, kind: PolicyKind) {
    let policy = match Policy::parse(text, kind) {
        Ok(policy) => policy,
        Err(e) => {
            if *VERBOSE {
                eprintln!("{kind:?}: rejected: {e}");
            }
            return;
        }
    };
    let ctx = &*CONTEXT;
    let decisions: Vec<Decision> =
        requests(ctx).iter().map(|r| decide(std::slice::from_ref(&policy), None, r)).collect();

    if *VERBOSE {
        eprintln!("{kind:?}: accepted; decisions {decisions:?}");
    }
    let compact = policy.to_compact_json();
    let again = match Policy::parse(&compact, kind) {
        Ok(p) => p,
        Err(e) => panic!("compact JSON of an accepted {kind:?} policy was rejected: {e}\ncompact: {compact}"),
    };
    assert_eq!(again.to_compact_json(), compact, "compact JSON is not stable for {kind:?}");
    let decisions_again: Vec<Decision> =
        requests(ctx).iter().map(|r| decide(std::slice::from_ref(&again), None, r)).collect();
    assert_eq!(decisions, decisions_again, "decision changed after compact round trip ({kind:?}): {compact}");

    // The policy as an (allowing nothing else) session policy too: exercises the session branch.
    let _ = decide(std::slice::from_ref(&policy), Some(std::slice::from_ref(&again)), &requests(ctx)[0]);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check(text, PolicyKind::Identity);
        check(text, PolicyKind::Trust);
    }
});
