//! Evaluation table, parse errors and properties of the policy engine.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::Decision::{Allow, ExplicitDeny, ImplicitDeny};
use super::{Context, Decision, Policy, PolicyKind, Request, decide, wildcard};

/// One Allow statement for a single action and resource.
macro_rules! allow {
    ($action:literal, $resource:literal) => {
        concat!(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":""#,
            $action,
            r#"","Resource":""#,
            $resource,
            r#""}}"#
        )
    };
}

/// Allows everything under one condition block.
macro_rules! allow_if {
    ($condition:literal) => {
        concat!(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","#,
            r#""Condition":"#,
            $condition,
            "}}"
        )
    };
}

/// Allows everything, and denies everything under one condition block.
macro_rules! deny_if {
    ($condition:literal) => {
        concat!(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},"#,
            r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":"#,
            $condition,
            "}]}"
        )
    };
}

/// Marks a key present with an empty set of values.
const EMPTY_SET: &str = "\u{0}empty";
const POOL: &str = "us-east-1:0b1c2d3e-1111-2222-3333-444455556666";
const SUB: &str = "us-east-1:7f4c1a2b-aaaa-bbbb-cccc-0123456789ab";
const ROLE: &str = "arn:aws:iam::123456789012:role/Cognito_Auth";
const COGNITO: Option<(&str, &str)> = Some(("Federated", "cognito-identity.amazonaws.com"));
const AUD: &str = "cognito-identity.amazonaws.com:aud";
const AMR: &str = "cognito-identity.amazonaws.com:amr";
const COGNITO_SUB: &str = "cognito-identity.amazonaws.com:sub";
const WEB: &str = "sts:AssumeRoleWithWebIdentity";
const GET: &str = "s3:GetObject";
const PUT: &str = "s3:PutObject";
const PHOTO: &str = "arn:aws:s3:::photos/2026/cat.jpg";
const EC2: &str = "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc";
const MY_PHOTO: &str = "arn:aws:s3:::mybucket/us-east-1:7f4c1a2b-aaaa-bbbb-cccc-0123456789ab/photo.jpg";

/// Context entries of an authenticated Cognito identity (multi-valued `amr`).
const AUTHENTICATED: &[(&str, &str)] = &[
    (AUD, POOL),
    (COGNITO_SUB, SUB),
    (AMR, "authenticated"),
    (AMR, "cognito-identity.amazonaws.com"),
    (AMR, "cognito-identity.amazonaws.com:us-east-1:pool:us-east-1:7f4c1a2b"),
];
const GUEST: &[(&str, &str)] = &[(AUD, POOL), (COGNITO_SUB, SUB), (AMR, "unauthenticated")];

// Identity policies: actions and resources.
const ALL: &str = allow!("*", "*");
const S3_ALL: &str = allow!("s3:*", "*");
const S3_READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow",
  "Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::photos","arn:aws:s3:::photos/*"]}]}"#;
const GET_ANY: &str = allow!("s3:Get*", "*");
const QMARK_ACTION: &str = allow!("s3:?etObject", "*");
const UPPER_ACTION: &str = allow!("S3:GETOBJECT", "arn:aws:s3:::photos/*");
const CAPITAL_BUCKET: &str = allow!("s3:GetObject", "arn:aws:s3:::Photos/*");
const EC2_ANY_REGION: &str = allow!("ec2:*", "arn:aws:ec2:*:123456789012:instance/*");
const SQS_US: &str = allow!("sqs:SendMessage", "arn:aws:sqs:us-*:123456789012:jobs");
const FILE_Q: &str = allow!("s3:GetObject", "arn:aws:s3:::b/file?.txt");
const PLAIN_GLOB: &str = allow!("dynamodb:*", "table-*");
const MULTI_STATEMENT: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"sqs:*","Resource":"arn:aws:sqs:us-east-1:123456789012:jobs"},
  {"Effect":"Allow","Action":["sns:Publish","s3:PutObject"],
   "Resource":["arn:aws:s3:::drop/*","arn:aws:s3:::in/*"]}
]}"#;
const DENY_DELETE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*",
  "Resource":"*"},{"Effect":"Deny","Action":"s3:Delete*","Resource":"*"}]}"#;
const DENY_DELETE_ONLY: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}}"#;
const DENY_PHOTOS_PUT: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:PutObject",
  "Resource":"arn:aws:s3:::photos/*"}}"#;
const V2008: &str = r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject",
  "Resource":"arn:aws:s3:::photos/*"}}"#;
const NO_VERSION: &str = r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
const NOT_IAM: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "NotAction":["iam:*","organizations:*"],"Resource":"*"}}"#;
const DENY_ALL_BUT_IAM: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"*","Resource":"*"},
  {"Effect":"Deny","NotAction":["iam:*","sts:*"],"Resource":"*"}]}"#;
const NOT_SECRET: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*",
  "NotResource":["arn:aws:s3:::secret","arn:aws:s3:::secret/*"]}}"#;
const DENY_NOT_MINE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*",
  "Resource":"*"},
  {"Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::mine","arn:aws:s3:::mine/*"]}]}"#;
const NOT_BOTH: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"s3:Delete*",
  "NotResource":"arn:aws:s3:::logs/*"}}"#;

// Identity policies: policy variables.
const COGNITO_PREFIX: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Action":["s3:GetObject","s3:PutObject"],
  "Resource":"arn:aws:s3:::mybucket/${cognito-identity.amazonaws.com:sub}/*"}}"#;
const COGNITO_PREFIX_2008: &str = r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow",
  "Action":["s3:GetObject","s3:PutObject"],
  "Resource":"arn:aws:s3:::mybucket/${cognito-identity.amazonaws.com:sub}/*"}}"#;
const DEFAULTED: &str = allow!("s3:GetObject", "arn:aws:s3:::b/${aws:PrincipalTag/dept, 'shared'}/*");
const ESCAPES: &str = allow!("s3:GetObject", "arn:aws:s3:::b/${*}${?}${$}");
const TAG_KEYS_VARIABLE: &str = allow!("s3:GetObject", "arn:aws:s3:::b/${aws:TagKeys}/*");
const DENY_OUTSIDE_OWN: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*",
  "Resource":"*"},{"Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::b/${aws:userid}/*"}]}"#;

// Identity policies: conditions.
const ABAC: &str = allow_if!(r#"{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}"#);
const TEAM_KEY_CASE: &str = allow_if!(r#"{"StringEquals":{"AWS:PRINCIPALTAG/Team":"eng"}}"#);
const TEAM_IGNORE_CASE: &str = allow_if!(r#"{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"ENG"}}"#);
const REGION_DENY: &str =
    deny_if!(r#"{"StringNotEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}"#);
const REGION_IF_EXISTS: &str = allow_if!(r#"{"StringEqualsIfExists":{"aws:RequestedRegion":"us-east-1"}}"#);
const HOME_PREFIX: &str =
    allow_if!(r#"{"StringLike":{"s3:prefix":["home/${aws:username}/*","home/${aws:username}"]}}"#);
const ENCRYPTION_DENY: &str =
    deny_if!(r#"{"StringNotLike":{"s3:x-amz-server-side-encryption":["AES256","aws:kms*"]}}"#);
const DEPT_DENY: &str = deny_if!(r#"{"StringNotEqualsIgnoreCase":{"aws:PrincipalTag/dept":"Finance"}}"#);
const OWNER_DENY: &str = deny_if!(r#"{"StringNotEquals":{"aws:ResourceTag/owner":"${aws:username}"}}"#);
const OWNER_OR_NOBODY: &str =
    allow_if!(r#"{"StringEquals":{"aws:ResourceTag/owner":"${aws:username, 'nobody'}"}}"#);
const OWNER_ONLY: &str = allow_if!(r#"{"StringEquals":{"aws:ResourceTag/owner":"${aws:username}"}}"#);
const IP_ALLOW: &str = allow_if!(r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#);
const IP_DENY: &str = deny_if!(r#"{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]}}"#);
const IP6: &str = allow_if!(r#"{"IpAddress":{"aws:SourceIp":["2001:db8::/32"]}}"#);
const IP_SINGLE: &str = allow_if!(r#"{"IpAddress":{"aws:SourceIp":"192.0.2.1"}}"#);
const TLS_ONLY: &str = deny_if!(r#"{"Bool":{"aws:SecureTransport":"false"}}"#);
const TLS_IF_EXISTS: &str = deny_if!(r#"{"BoolIfExists":{"aws:SecureTransport":false}}"#);
const BEFORE_JULY: &str = allow_if!(r#"{"DateLessThan":{"aws:CurrentTime":"2026-07-01T00:00:00Z"}}"#);
const UNTIL_JULY: &str = allow_if!(r#"{"DateLessThanEquals":{"aws:CurrentTime":"2026-07-01T00:00:00Z"}}"#);
const AFTER_NEW_YEAR: &str = allow_if!(r#"{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01"}}"#);
const EPOCH: &str = allow_if!(r#"{"DateLessThan":{"aws:EpochTime":1767225600}}"#);
const ISSUED_AT: &str = allow_if!(r#"{"DateEquals":{"aws:TokenIssueTime":"2026-01-01T01:00:00+01:00"}}"#);
const ISSUED_OTHER_DAY: &str = deny_if!(r#"{"DateNotEquals":{"aws:TokenIssueTime":"2026-01-01"}}"#);
const MAX_KEYS: &str = allow_if!(r#"{"NumericLessThan":{"s3:max-keys":"10"}}"#);
const MAX_KEYS_EQ: &str = allow_if!(r#"{"NumericLessThanEquals":{"s3:max-keys":10}}"#);
const DURATION: &str = allow_if!(r#"{"NumericEquals":{"sts:DurationSeconds":3600}}"#);
const MIN_RATIO: &str = allow_if!(r#"{"NumericGreaterThanEquals":{"app:ratio":"1.5"}}"#);
const MFA_AGE: &str = deny_if!(r#"{"NumericGreaterThan":{"aws:MultiFactorAuthAge":3600}}"#);
const MFA_AGE_IF_EXISTS: &str = deny_if!(r#"{"NumericGreaterThanIfExists":{"aws:MultiFactorAuthAge":3600}}"#);
const NULL_DENY: &str = deny_if!(r#"{"Null":{"aws:TokenIssueTime":"true"}}"#);
const NULL_FALSE: &str = allow_if!(r#"{"Null":{"aws:username":false}}"#);
const INSTANCE_TYPE: &str = allow_if!(r#"{"StringLikeIfExists":{"ec2:InstanceType":"t3.*"}}"#);
const TAG_KEYS_ALLOWED: &str = allow_if!(r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}"#);
const SECRET_TAG: &str = deny_if!(r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":"secret"}}"#);
const OTHER_TAG: &str = deny_if!(r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env","team"]}}"#);
const APP_TAGS: &str = allow_if!(r#"{"ForAllValues:StringLike":{"aws:TagKeys":"app-*"}}"#);
const AMR_IGNORE_CASE: &str = allow_if!(
    r#"{"ForAnyValue:StringEqualsIgnoreCase":{"cognito-identity.amazonaws.com:amr":"AUTHENTICATED"}}"#
);
const TWO_KEYS: &str =
    allow_if!(r#"{"StringEquals":{"aws:PrincipalTag/team":"eng","aws:PrincipalTag/level":"senior"}}"#);
const TWO_OPERATORS: &str = allow_if!(
    r#"{"StringEquals":{"aws:PrincipalTag/team":"eng"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#
);
const TWO_REGIONS: &str = allow_if!(r#"{"StringEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}"#);
const APP_ROLES: &str =
    allow_if!(r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/app-*"}}"#);
const TOPIC: &str =
    allow_if!(r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:123456789012:topic"}}"#);
const FOREIGN_SOURCE: &str = deny_if!(r#"{"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:123456789012:*"}}"#);
const BINARY: &str = allow_if!(r#"{"BinaryEquals":{"app:blob":"QmluYXJ5VmFsdWU="}}"#);

// Trust policies.
const TRUST_AUTH: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
  "Principal":{"Federated":"cognito-identity.amazonaws.com"},
  "Action":["sts:AssumeRoleWithWebIdentity","sts:TagSession"],
  "Condition":{"StringEquals":
                 {"cognito-identity.amazonaws.com:aud":"us-east-1:0b1c2d3e-1111-2222-3333-444455556666"},
               "ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"authenticated"}}}]}"#;
const TRUST_GUEST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
  "Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity",
  "Condition":{"StringEquals":
                 {"cognito-identity.amazonaws.com:aud":"us-east-1:0b1c2d3e-1111-2222-3333-444455556666"},
               "ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"unauthenticated"}}}]}"#;
const TRUST_AUD_LIST: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Principal":{"Federated":["accounts.google.com","cognito-identity.amazonaws.com"]},
  "Action":"sts:AssumeRoleWithWebIdentity",
  "Condition":{"StringEquals":{"cognito-identity.amazonaws.com:aud":
    ["us-east-1:00000000-0000-0000-0000-000000000000","us-east-1:0b1c2d3e-1111-2222-3333-444455556666"]}}}}"#;
const TRUST_PINNED: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity",
  "Condition":{"StringEquals":
                 {"cognito-identity.amazonaws.com:sub":"us-east-1:7f4c1a2b-aaaa-bbbb-cccc-0123456789ab"}}}}"#;
const TRUST_ANYONE: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}"#;
const TRUST_ACCOUNT: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}}"#;
const TRUST_ROOT: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Principal":{"AWS":["arn:aws:iam::123456789012:root"]},"Action":"sts:AssumeRole"}}"#;
const TRUST_AWS_STAR: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:*"}}"#;
const TRUST_SERVICES: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Principal":{"Service":["ec2.amazonaws.com","lambda.amazonaws.com"]},"Action":"sts:AssumeRole"}}"#;
const TRUST_NOT_PRINCIPAL: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"},
  {"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
const TRUST_NO_GUESTS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
  "Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity"},
  {"Effect":"Deny","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:*",
   "Condition":{"ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"unauth*"}}}]}"#;
const TRUST_RESOURCE: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity",
  "Resource":"arn:aws:iam::123456789012:role/Cognito_Auth"}}"#;
const TRUST_GOOGLE: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
  "Condition":{"StringEquals":{"accounts.google.com:aud":"client.apps.googleusercontent.com"}}}}"#;

/// One row of the evaluation table.
struct Case {
    name: &'static str,
    kind: PolicyKind,
    identity: &'static [&'static str],
    session: Option<&'static [&'static str]>,
    action: &'static str,
    resource: &'static str,
    principal: Option<(&'static str, &'static str)>,
    context: &'static [(&'static str, &'static str)],
    expected: Decision,
}

/// An identity-policy row without context.
fn case(
    name: &'static str,
    identity: &'static [&'static str],
    action: &'static str,
    resource: &'static str,
    expected: Decision,
) -> Case {
    let kind = PolicyKind::Identity;
    Case { name, kind, identity, session: None, action, resource, principal: None, context: &[], expected }
}

/// A trust-policy row: `sts:AssumeRoleWithWebIdentity` on `ROLE` unless changed.
fn trust(
    name: &'static str,
    policy: &'static [&'static str],
    principal: Option<(&'static str, &'static str)>,
    expected: Decision,
) -> Case {
    Case { kind: PolicyKind::Trust, principal, ..case(name, policy, WEB, ROLE, expected) }
}

impl Case {
    fn ctx(self, context: &'static [(&'static str, &'static str)]) -> Case {
        Case { context, ..self }
    }

    fn session(self, session: &'static [&'static str]) -> Case {
        Case { session: Some(session), ..self }
    }

    fn action(self, action: &'static str) -> Case {
        Case { action, ..self }
    }

    fn resource(self, resource: &'static str) -> Case {
        Case { resource, ..self }
    }
}

/// Builds a context; a key listed several times is multi-valued, `EMPTY_SET` makes an empty set.
fn context(entries: &[(&str, &str)]) -> Context {
    let mut context = Context::new();
    let mut keys: Vec<&str> = entries.iter().map(|(k, _)| *k).collect();
    keys.dedup();
    for key in keys {
        let values = entries.iter().filter(|(k, v)| *k == key && *v != EMPTY_SET);
        let values: Vec<String> = values.map(|(_, v)| v.to_string()).collect();
        match values.as_slice() {
            [single] => context.insert(key, single.clone()),
            _ => context.insert_multi(key, values),
        }
    }
    context
}

fn cases() -> Vec<Case> {
    vec![
        // Actions and resources.
        case("exact allow", &[S3_READ], GET, PHOTO, Allow),
        case("unlisted action", &[S3_READ], PUT, PHOTO, ImplicitDeny),
        case("no policies allow nothing", &[], GET, PHOTO, ImplicitDeny),
        case("bucket itself", &[S3_READ], "s3:ListBucket", "arn:aws:s3:::photos", Allow),
        case("other bucket", &[S3_READ], GET, "arn:aws:s3:::other/cat.jpg", ImplicitDeny),
        case("bucket/* is not the bucket", &[UPPER_ACTION], GET, "arn:aws:s3:::photos", ImplicitDeny),
        case("request action case-insensitive", &[S3_READ], "S3:getobject", PHOTO, Allow),
        case("policy action case-insensitive", &[UPPER_ACTION], GET, PHOTO, Allow),
        case("resources are case-sensitive", &[CAPITAL_BUCKET], GET, PHOTO, ImplicitDeny),
        case("resource case matches", &[CAPITAL_BUCKET], GET, "arn:aws:s3:::Photos/x", Allow),
        case("action prefix wildcard", &[GET_ANY], "s3:GetObjectAcl", PHOTO, Allow),
        case("action prefix wildcard misses", &[GET_ANY], PUT, PHOTO, ImplicitDeny),
        case("wildcard stays in service", &[GET_ANY], "ec2:GetConsoleOutput", EC2, ImplicitDeny),
        case("service wildcard", &[S3_ALL], "s3:DeleteBucket", "arn:aws:s3:::x", Allow),
        case("service wildcard, other service", &[S3_ALL], "ec2:RunInstances", EC2, ImplicitDeny),
        case("action star", &[ALL], "ec2:RunInstances", EC2, Allow),
        case("question mark", &[QMARK_ACTION], GET, PHOTO, Allow),
        case("question mark is one char", &[QMARK_ACTION], "s3:GetObjects", PHOTO, ImplicitDeny),
        case("region wildcard", &[EC2_ANY_REGION], "ec2:StopInstances", EC2, Allow),
        case("account must match", &[EC2_ANY_REGION], "ec2:StopInstances", EC2, ImplicitDeny)
            .resource("arn:aws:ec2:us-east-1:999999999999:instance/i-0abc"),
        case(
            "component wildcard",
            &[SQS_US],
            "sqs:SendMessage",
            "arn:aws:sqs:us-west-2:123456789012:jobs",
            Allow,
        ),
        case("component wildcard stays", &[SQS_US], "sqs:SendMessage", "", ImplicitDeny)
            .resource("arn:aws:sqs:us-east-1:0:123456789012:jobs"),
        case("question mark in resource", &[FILE_Q], GET, "arn:aws:s3:::b/file1.txt", Allow),
        case("question mark in resource misses", &[FILE_Q], GET, "arn:aws:s3:::b/file10.txt", ImplicitDeny),
        case("plain glob resource", &[PLAIN_GLOB], "dynamodb:GetItem", "table-orders", Allow),
        case("plain glob resource misses", &[PLAIN_GLOB], "dynamodb:GetItem", "orders", ImplicitDeny),
        case("second statement applies", &[MULTI_STATEMENT], PUT, "arn:aws:s3:::in/f", Allow),
        case(
            "no statement has both",
            &[MULTI_STATEMENT],
            "sqs:SendMessage",
            "arn:aws:s3:::in/f",
            ImplicitDeny,
        ),
        case("resource array misses", &[MULTI_STATEMENT], "sns:Publish", "arn:aws:s3:::out/f", ImplicitDeny),
        case("version 2008 matches", &[V2008], GET, PHOTO, Allow),
        case("no version matches", &[NO_VERSION], GET, PHOTO, Allow),
        // Explicit deny.
        case("deny overrides allow", &[DENY_DELETE], "s3:DeleteObject", PHOTO, ExplicitDeny),
        case("deny leaves other actions", &[DENY_DELETE], GET, PHOTO, Allow),
        case("deny alone is explicit", &[DENY_DELETE_ONLY], "s3:DeleteObject", PHOTO, ExplicitDeny),
        case("unmatched deny alone", &[DENY_DELETE_ONLY], GET, PHOTO, ImplicitDeny),
        case("deny in another policy", &[S3_ALL, DENY_PHOTOS_PUT], PUT, PHOTO, ExplicitDeny),
        case("deny for other resource", &[S3_ALL, DENY_PHOTOS_PUT], PUT, "arn:aws:s3:::x/y", Allow),
        case("deny action case-insensitive", &[S3_ALL, DENY_PHOTOS_PUT], "S3:PUTOBJECT", PHOTO, ExplicitDeny),
        // NotAction / NotResource.
        case("NotAction allows the rest", &[NOT_IAM], GET, PHOTO, Allow),
        case("NotAction excludes", &[NOT_IAM], "iam:CreateUser", "*", ImplicitDeny),
        case("NotAction excludes any case", &[NOT_IAM], "IAM:createuser", "*", ImplicitDeny),
        case("Deny NotAction denies others", &[DENY_ALL_BUT_IAM], GET, PHOTO, ExplicitDeny),
        case("Deny NotAction spares listed", &[DENY_ALL_BUT_IAM], "iam:ListUsers", "*", Allow),
        case("Deny NotAction spares sts", &[DENY_ALL_BUT_IAM], "sts:GetCallerIdentity", "*", Allow),
        case("NotResource allows others", &[NOT_SECRET], GET, "arn:aws:s3:::public/x", Allow),
        case("NotResource excludes", &[NOT_SECRET], GET, "arn:aws:s3:::secret/x", ImplicitDeny),
        case("Deny NotResource denies others", &[DENY_NOT_MINE], GET, "arn:aws:s3:::yours/x", ExplicitDeny),
        case("Deny NotResource spares listed", &[DENY_NOT_MINE], GET, "arn:aws:s3:::mine/x", Allow),
        case("NotAction and NotResource", &[NOT_BOTH], PUT, "arn:aws:s3:::data/x", Allow),
        case("NotResource excluded", &[NOT_BOTH], PUT, "arn:aws:s3:::logs/x", ImplicitDeny),
        case("NotAction excluded", &[NOT_BOTH], "s3:DeleteObject", "arn:aws:s3:::data/x", ImplicitDeny),
        // String conditions and ABAC.
        case("ABAC tags equal", &[ABAC], "ec2:StartInstances", EC2, Allow)
            .ctx(&[("aws:ResourceTag/team", "eng"), ("aws:PrincipalTag/team", "eng")]),
        case("ABAC tags differ", &[ABAC], "ec2:StartInstances", EC2, ImplicitDeny)
            .ctx(&[("aws:ResourceTag/team", "ops"), ("aws:PrincipalTag/team", "eng")]),
        case("ABAC resource untagged", &[ABAC], "ec2:StopInstances", EC2, ImplicitDeny)
            .ctx(&[("aws:PrincipalTag/team", "eng")]),
        case("ABAC principal untagged", &[ABAC], "ec2:StopInstances", EC2, ImplicitDeny)
            .ctx(&[("aws:ResourceTag/team", "eng")]),
        case("keys case-insensitive", &[TEAM_KEY_CASE], GET, PHOTO, Allow)
            .ctx(&[("aws:PrincipalTag/team", "eng")]),
        case("values case-sensitive", &[TEAM_KEY_CASE], GET, PHOTO, ImplicitDeny)
            .ctx(&[("aws:PrincipalTag/team", "Eng")]),
        case("IgnoreCase", &[TEAM_IGNORE_CASE], GET, PHOTO, Allow).ctx(&[("aws:PrincipalTag/team", "eng")]),
        case("IgnoreCase differs", &[TEAM_IGNORE_CASE], GET, PHOTO, ImplicitDeny)
            .ctx(&[("aws:PrincipalTag/team", "ops")]),
        case("StringNotEquals allowed", &[REGION_DENY], GET, PHOTO, Allow)
            .ctx(&[("aws:RequestedRegion", "eu-west-1")]),
        case("StringNotEquals denied", &[REGION_DENY], GET, PHOTO, ExplicitDeny)
            .ctx(&[("aws:RequestedRegion", "ap-south-1")]),
        case("negated operator, missing key", &[REGION_DENY], GET, PHOTO, ExplicitDeny),
        case("IfExists, missing key", &[REGION_IF_EXISTS], GET, PHOTO, Allow),
        case("IfExists, equal", &[REGION_IF_EXISTS], GET, PHOTO, Allow)
            .ctx(&[("aws:RequestedRegion", "us-east-1")]),
        case("IfExists, different", &[REGION_IF_EXISTS], GET, PHOTO, ImplicitDeny)
            .ctx(&[("aws:RequestedRegion", "eu-west-1")]),
        case("StringLike own prefix", &[HOME_PREFIX], "s3:ListBucket", "*", Allow)
            .ctx(&[("aws:username", "alice"), ("s3:prefix", "home/alice/docs")]),
        case("StringLike own folder", &[HOME_PREFIX], "s3:ListBucket", "*", Allow)
            .ctx(&[("aws:username", "alice"), ("s3:prefix", "home/alice")]),
        case("StringLike other prefix", &[HOME_PREFIX], "s3:ListBucket", "*", ImplicitDeny)
            .ctx(&[("aws:username", "alice"), ("s3:prefix", "home/bob/docs")]),
        case("StringLike, variable missing", &[HOME_PREFIX], "s3:ListBucket", "*", ImplicitDeny)
            .ctx(&[("s3:prefix", "home//x")]),
        case("StringNotLike, listed", &[ENCRYPTION_DENY], PUT, PHOTO, Allow)
            .ctx(&[("s3:x-amz-server-side-encryption", "aws:kms:dsse")]),
        case("StringNotLike, not listed", &[ENCRYPTION_DENY], PUT, PHOTO, ExplicitDeny)
            .ctx(&[("s3:x-amz-server-side-encryption", "none")]),
        case("StringNotLike, missing", &[ENCRYPTION_DENY], PUT, PHOTO, ExplicitDeny),
        case("NotEqualsIgnoreCase, same", &[DEPT_DENY], GET, PHOTO, Allow)
            .ctx(&[("aws:PrincipalTag/dept", "FINANCE")]),
        case("NotEqualsIgnoreCase, other", &[DEPT_DENY], GET, PHOTO, ExplicitDeny)
            .ctx(&[("aws:PrincipalTag/dept", "hr")]),
        // Policy variables.
        case("per-identity prefix", &[COGNITO_PREFIX], PUT, MY_PHOTO, Allow).ctx(&[(COGNITO_SUB, SUB)]),
        case(
            "other identity's prefix",
            &[COGNITO_PREFIX],
            GET,
            "arn:aws:s3:::mybucket/us-east-1:0/p",
            ImplicitDeny,
        )
        .ctx(&[(COGNITO_SUB, SUB)]),
        case("missing variable in Resource", &[COGNITO_PREFIX], GET, MY_PHOTO, ImplicitDeny),
        case("literal text of a missing variable", &[COGNITO_PREFIX], GET, "", ImplicitDeny)
            .resource("arn:aws:s3:::mybucket/${cognito-identity.amazonaws.com:sub}/photo.jpg"),
        case("values are not wildcards", &[COGNITO_PREFIX], GET, "arn:aws:s3:::mybucket/x/p", ImplicitDeny)
            .ctx(&[(COGNITO_SUB, "*")]),
        case("substituted star matches itself", &[COGNITO_PREFIX], GET, "arn:aws:s3:::mybucket/*/p", Allow)
            .ctx(&[(COGNITO_SUB, "*")]),
        case("2008 keeps variables literal", &[COGNITO_PREFIX_2008], GET, "", Allow)
            .resource("arn:aws:s3:::mybucket/${cognito-identity.amazonaws.com:sub}/a")
            .ctx(&[(COGNITO_SUB, SUB)]),
        case("2008 does not substitute", &[COGNITO_PREFIX_2008], GET, MY_PHOTO, ImplicitDeny)
            .ctx(&[(COGNITO_SUB, SUB)]),
        case("variable default", &[DEFAULTED], GET, "arn:aws:s3:::b/shared/x", Allow),
        case("variable value", &[DEFAULTED], GET, "arn:aws:s3:::b/hr/x", Allow)
            .ctx(&[("aws:PrincipalTag/dept", "hr")]),
        case("default unused when set", &[DEFAULTED], GET, "arn:aws:s3:::b/shared/x", ImplicitDeny)
            .ctx(&[("aws:PrincipalTag/dept", "hr")]),
        case("escapes are literal", &[ESCAPES], GET, "arn:aws:s3:::b/*?$", Allow),
        case("escapes are not wildcards", &[ESCAPES], GET, "arn:aws:s3:::b/xy$", ImplicitDeny),
        case("multi-valued variable", &[TAG_KEYS_VARIABLE], GET, "arn:aws:s3:::b/a/x", ImplicitDeny)
            .ctx(&[("aws:TagKeys", "a"), ("aws:TagKeys", "b")]),
        case("single-valued variable", &[TAG_KEYS_VARIABLE], GET, "arn:aws:s3:::b/a/x", Allow)
            .ctx(&[("aws:TagKeys", "a")]),
        case("Deny NotResource, own prefix", &[DENY_OUTSIDE_OWN], GET, "arn:aws:s3:::b/AROA1:al/x", Allow)
            .ctx(&[("aws:userid", "AROA1:al")]),
        case(
            "Deny NotResource, other prefix",
            &[DENY_OUTSIDE_OWN],
            GET,
            "arn:aws:s3:::b/AROA2:b/x",
            ExplicitDeny,
        )
        .ctx(&[("aws:userid", "AROA1:al")]),
        case(
            "Deny NotResource, missing variable",
            &[DENY_OUTSIDE_OWN],
            GET,
            "arn:aws:s3:::b/AROA1:al/x",
            ExplicitDeny,
        ),
        case("condition variable equal", &[OWNER_DENY], GET, PHOTO, Allow)
            .ctx(&[("aws:ResourceTag/owner", "alice"), ("aws:username", "alice")]),
        case("condition variable differs", &[OWNER_DENY], GET, PHOTO, ExplicitDeny)
            .ctx(&[("aws:ResourceTag/owner", "alice"), ("aws:username", "bob")]),
        case("missing variable, negated operator", &[OWNER_DENY], GET, PHOTO, ExplicitDeny)
            .ctx(&[("aws:ResourceTag/owner", "alice")]),
        case("missing variable, positive operator", &[OWNER_ONLY], GET, PHOTO, ImplicitDeny)
            .ctx(&[("aws:ResourceTag/owner", "${aws:username}")]),
        case("condition variable default", &[OWNER_OR_NOBODY], GET, PHOTO, Allow)
            .ctx(&[("aws:ResourceTag/owner", "nobody")]),
        case("condition variable set", &[OWNER_OR_NOBODY], GET, PHOTO, ImplicitDeny)
            .ctx(&[("aws:ResourceTag/owner", "nobody"), ("aws:username", "carol")]),
        // IP addresses.
        case("source IP in range", &[IP_ALLOW], GET, PHOTO, Allow).ctx(&[("aws:SourceIp", "203.0.113.7")]),
        case("source IP out of range", &[IP_ALLOW], GET, PHOTO, ImplicitDeny)
            .ctx(&[("aws:SourceIp", "198.51.100.1")]),
        case("source IP missing", &[IP_ALLOW], GET, PHOTO, ImplicitDeny),
        case("source IP garbage", &[IP_ALLOW], GET, PHOTO, ImplicitDeny)
            .ctx(&[("aws:SourceIp", "203.0.113.x")]),
        case("NotIpAddress inside", &[IP_DENY], GET, PHOTO, Allow).ctx(&[("aws:SourceIp", "192.0.2.5")]),
        case("NotIpAddress outside", &[IP_DENY], GET, PHOTO, ExplicitDeny)
            .ctx(&[("aws:SourceIp", "10.0.0.1")]),
        case("IPv6 range", &[IP6], GET, PHOTO, Allow).ctx(&[("aws:SourceIp", "2001:db8::1")]),
        case("IPv6 out of range", &[IP6], GET, PHOTO, ImplicitDeny).ctx(&[("aws:SourceIp", "2001:db9::1")]),
        case("IPv4 against IPv6 range", &[IP6], GET, PHOTO, ImplicitDeny)
            .ctx(&[("aws:SourceIp", "192.0.2.1")]),
        case("single address", &[IP_SINGLE], GET, PHOTO, Allow).ctx(&[("aws:SourceIp", "192.0.2.1")]),
        case("single address, neighbour", &[IP_SINGLE], GET, PHOTO, ImplicitDeny)
            .ctx(&[("aws:SourceIp", "192.0.2.2")]),
        // Bool.
        case("insecure transport", &[TLS_ONLY], GET, PHOTO, ExplicitDeny)
            .ctx(&[("aws:SecureTransport", "false")]),
        case("secure transport", &[TLS_ONLY], GET, PHOTO, Allow).ctx(&[("aws:SecureTransport", "true")]),
        case("Bool, missing key", &[TLS_ONLY], GET, PHOTO, Allow),
        case("BoolIfExists, missing key", &[TLS_IF_EXISTS], GET, PHOTO, ExplicitDeny),
        case("BoolIfExists, secure", &[TLS_IF_EXISTS], GET, PHOTO, Allow)
            .ctx(&[("aws:SecureTransport", "true")]),
        // Dates.
        case("DateLessThan, before", &[BEFORE_JULY], GET, PHOTO, Allow)
            .ctx(&[("aws:CurrentTime", "2026-06-30T23:59:59Z")]),
        case("DateLessThan, at", &[BEFORE_JULY], GET, PHOTO, ImplicitDeny)
            .ctx(&[("aws:CurrentTime", "2026-07-01T00:00:00Z")]),
        case("DateLessThan, missing", &[BEFORE_JULY], GET, PHOTO, ImplicitDeny),
        case("DateLessThan, unparseable", &[BEFORE_JULY], GET, PHOTO, ImplicitDeny)
            .ctx(&[("aws:CurrentTime", "soon")]),
        case("DateLessThanEquals, at", &[UNTIL_JULY], GET, PHOTO, Allow)
            .ctx(&[("aws:CurrentTime", "2026-07-01T02:00:00+02:00")]),
        case("DateGreaterThan, plain date", &[AFTER_NEW_YEAR], GET, PHOTO, Allow)
            .ctx(&[("aws:CurrentTime", "2026-01-01T00:00:01Z")]),
        case("DateGreaterThan, before", &[AFTER_NEW_YEAR], GET, PHOTO, ImplicitDeny)
            .ctx(&[("aws:CurrentTime", "2025-12-31T23:59:59Z")]),
        case("epoch seconds, before", &[EPOCH], GET, PHOTO, Allow).ctx(&[("aws:EpochTime", "1767225599")]),
        case("epoch seconds, at", &[EPOCH], GET, PHOTO, ImplicitDeny).ctx(&[("aws:EpochTime", "1767225600")]),
        case("epoch policy, ISO request", &[EPOCH], GET, PHOTO, Allow)
            .ctx(&[("aws:EpochTime", "2025-12-31T12:00:00Z")]),
        case("DateEquals across offsets", &[ISSUED_AT], GET, PHOTO, Allow)
            .ctx(&[("aws:TokenIssueTime", "2026-01-01T00:00:00Z")]),
        case("DateEquals, a second later", &[ISSUED_AT], GET, PHOTO, ImplicitDeny)
            .ctx(&[("aws:TokenIssueTime", "2026-01-01T00:00:01Z")]),
        case("DateNotEquals, same", &[ISSUED_OTHER_DAY], GET, PHOTO, Allow)
            .ctx(&[("aws:TokenIssueTime", "2026-01-01T00:00:00Z")]),
        case("DateNotEquals, other", &[ISSUED_OTHER_DAY], GET, PHOTO, ExplicitDeny)
            .ctx(&[("aws:TokenIssueTime", "2026-01-02")]),
        // Numbers.
        case("NumericLessThan, below", &[MAX_KEYS], GET, PHOTO, Allow).ctx(&[("s3:max-keys", "5")]),
        case("NumericLessThan, equal", &[MAX_KEYS], GET, PHOTO, ImplicitDeny).ctx(&[("s3:max-keys", "10")]),
        case("NumericLessThan, above", &[MAX_KEYS], GET, PHOTO, ImplicitDeny).ctx(&[("s3:max-keys", "50")]),
        case("NumericLessThan, not a number", &[MAX_KEYS], GET, PHOTO, ImplicitDeny)
            .ctx(&[("s3:max-keys", "abc")]),
        case("NumericLessThanEquals, equal", &[MAX_KEYS_EQ], GET, PHOTO, Allow).ctx(&[("s3:max-keys", "10")]),
        case("NumericLessThanEquals, above", &[MAX_KEYS_EQ], GET, PHOTO, ImplicitDeny)
            .ctx(&[("s3:max-keys", "10.5")]),
        case("NumericEquals, JSON number", &[DURATION], GET, PHOTO, Allow)
            .ctx(&[("sts:DurationSeconds", "3600")]),
        case("NumericEquals, decimal", &[DURATION], GET, PHOTO, Allow)
            .ctx(&[("sts:DurationSeconds", "3600.0")]),
        case("NumericEquals, differs", &[DURATION], GET, PHOTO, ImplicitDeny)
            .ctx(&[("sts:DurationSeconds", "7200")]),
        case("NumericGreaterThanEquals", &[MIN_RATIO], GET, PHOTO, Allow).ctx(&[("app:ratio", "1.50")]),
        case("stale MFA", &[MFA_AGE], GET, PHOTO, ExplicitDeny).ctx(&[("aws:MultiFactorAuthAge", "4000")]),
        case("fresh MFA", &[MFA_AGE], GET, PHOTO, Allow).ctx(&[("aws:MultiFactorAuthAge", "60")]),
        case("no MFA", &[MFA_AGE], GET, PHOTO, Allow),
        case("no MFA, IfExists", &[MFA_AGE_IF_EXISTS], GET, PHOTO, ExplicitDeny),
        // Null.
        case("Null true, missing", &[NULL_DENY], GET, PHOTO, ExplicitDeny),
        case("Null true, present", &[NULL_DENY], GET, PHOTO, Allow)
            .ctx(&[("aws:TokenIssueTime", "2026-01-01")]),
        case("Null false, present", &[NULL_FALSE], GET, PHOTO, Allow).ctx(&[("aws:username", "al")]),
        case("Null false, missing", &[NULL_FALSE], GET, PHOTO, ImplicitDeny),
        // IfExists.
        case("StringLikeIfExists, missing", &[INSTANCE_TYPE], "ec2:RunInstances", EC2, Allow),
        case("StringLikeIfExists, matching", &[INSTANCE_TYPE], "ec2:RunInstances", EC2, Allow)
            .ctx(&[("ec2:InstanceType", "t3.micro")]),
        case("StringLikeIfExists, other", &[INSTANCE_TYPE], "ec2:RunInstances", EC2, ImplicitDeny)
            .ctx(&[("ec2:InstanceType", "m5.large")]),
        // Set qualifiers.
        case("ForAllValues, subset", &[TAG_KEYS_ALLOWED], "ec2:CreateTags", EC2, Allow)
            .ctx(&[("aws:TagKeys", "env"), ("aws:TagKeys", "team")]),
        case("ForAllValues, one outside", &[TAG_KEYS_ALLOWED], "ec2:CreateTags", EC2, ImplicitDeny)
            .ctx(&[("aws:TagKeys", "env"), ("aws:TagKeys", "cost")]),
        case("ForAllValues, empty set", &[TAG_KEYS_ALLOWED], "ec2:CreateTags", EC2, Allow)
            .ctx(&[("aws:TagKeys", EMPTY_SET)]),
        case("ForAllValues, missing key", &[TAG_KEYS_ALLOWED], "ec2:CreateTags", EC2, Allow),
        case("ForAnyValue, one matches", &[SECRET_TAG], "ec2:CreateTags", EC2, ExplicitDeny)
            .ctx(&[("aws:TagKeys", "a"), ("aws:TagKeys", "secret")]),
        case("ForAnyValue, none matches", &[SECRET_TAG], "ec2:CreateTags", EC2, Allow)
            .ctx(&[("aws:TagKeys", "a"), ("aws:TagKeys", "b")]),
        case("ForAnyValue, missing key", &[SECRET_TAG], "ec2:CreateTags", EC2, Allow),
        case("ForAnyValue, empty set", &[SECRET_TAG], "ec2:CreateTags", EC2, Allow)
            .ctx(&[("aws:TagKeys", EMPTY_SET)]),
        case("ForAnyValue negated, one outside", &[OTHER_TAG], "ec2:CreateTags", EC2, ExplicitDeny)
            .ctx(&[("aws:TagKeys", "env"), ("aws:TagKeys", "cost")]),
        case("ForAnyValue negated, all inside", &[OTHER_TAG], "ec2:CreateTags", EC2, Allow)
            .ctx(&[("aws:TagKeys", "team"), ("aws:TagKeys", "env")]),
        case("ForAllValues StringLike, all", &[APP_TAGS], "ec2:CreateTags", EC2, Allow)
            .ctx(&[("aws:TagKeys", "app-a"), ("aws:TagKeys", "app-b")]),
        case("ForAllValues StringLike, one not", &[APP_TAGS], "ec2:CreateTags", EC2, ImplicitDeny)
            .ctx(&[("aws:TagKeys", "app-a"), ("aws:TagKeys", "db")]),
        case("ForAnyValue IgnoreCase amr", &[AMR_IGNORE_CASE], GET, PHOTO, Allow).ctx(AUTHENTICATED),
        case("ForAnyValue IgnoreCase guest", &[AMR_IGNORE_CASE], GET, PHOTO, ImplicitDeny).ctx(GUEST),
        // AND across keys and operators, OR across values.
        case("two keys, both", &[TWO_KEYS], GET, PHOTO, Allow)
            .ctx(&[("aws:PrincipalTag/team", "eng"), ("aws:PrincipalTag/level", "senior")]),
        case("two keys, one missing", &[TWO_KEYS], GET, PHOTO, ImplicitDeny)
            .ctx(&[("aws:PrincipalTag/team", "eng")]),
        case("two operators, both", &[TWO_OPERATORS], GET, PHOTO, Allow)
            .ctx(&[("aws:PrincipalTag/team", "eng"), ("aws:SourceIp", "10.2.3.4")]),
        case("two operators, one fails", &[TWO_OPERATORS], GET, PHOTO, ImplicitDeny)
            .ctx(&[("aws:PrincipalTag/team", "eng"), ("aws:SourceIp", "11.2.3.4")]),
        case("values are ORed", &[TWO_REGIONS], GET, PHOTO, Allow)
            .ctx(&[("aws:RequestedRegion", "eu-west-1")]),
        case("values are ORed, none", &[TWO_REGIONS], GET, PHOTO, ImplicitDeny)
            .ctx(&[("aws:RequestedRegion", "ap-south-1")]),
        // ARNs and binary.
        case("ArnLike role prefix", &[APP_ROLES], "iam:PassRole", "*", Allow)
            .ctx(&[("aws:PrincipalArn", "arn:aws:iam::123456789012:role/app-web")]),
        case("ArnLike other role", &[APP_ROLES], "iam:PassRole", "*", ImplicitDeny)
            .ctx(&[("aws:PrincipalArn", "arn:aws:iam::123456789012:role/admin")]),
        case("ArnEquals exact", &[TOPIC], "sqs:SendMessage", "*", Allow)
            .ctx(&[("aws:SourceArn", "arn:aws:sns:us-east-1:123456789012:topic")]),
        case("ArnEquals other region", &[TOPIC], "sqs:SendMessage", "*", ImplicitDeny)
            .ctx(&[("aws:SourceArn", "arn:aws:sns:us-west-2:123456789012:topic")]),
        case("ArnNotLike own account", &[FOREIGN_SOURCE], "sqs:SendMessage", "*", Allow)
            .ctx(&[("aws:SourceArn", "arn:aws:sns:eu-west-1:123456789012:alerts")]),
        case("ArnNotLike foreign account", &[FOREIGN_SOURCE], "sqs:SendMessage", "*", ExplicitDeny)
            .ctx(&[("aws:SourceArn", "arn:aws:sns:eu-west-1:999999999999:alerts")]),
        case("BinaryEquals same", &[BINARY], GET, PHOTO, Allow).ctx(&[("app:blob", "QmluYXJ5VmFsdWU=")]),
        case("BinaryEquals other", &[BINARY], GET, PHOTO, ImplicitDeny)
            .ctx(&[("app:blob", "QmluYXJ5VmFsdWV4")]),
        // Session policies.
        case("session narrower allows", &[S3_ALL], GET, PHOTO, Allow).session(&[S3_READ]),
        case("session narrower limits", &[S3_ALL], PUT, PHOTO, ImplicitDeny).session(&[S3_READ]),
        case("session broader adds nothing", &[S3_READ], PUT, PHOTO, ImplicitDeny).session(&[S3_ALL]),
        case("session broader keeps role grants", &[S3_READ], GET, PHOTO, Allow).session(&[S3_ALL]),
        case("session without Allow", &[S3_ALL], GET, PHOTO, ImplicitDeny).session(&[DENY_DELETE_ONLY]),
        case("session deny", &[S3_ALL], "s3:DeleteObject", PHOTO, ExplicitDeny).session(&[DENY_DELETE_ONLY]),
        case("empty session list", &[S3_ALL], GET, PHOTO, ImplicitDeny).session(&[]),
        case("session alone grants nothing", &[], GET, PHOTO, ImplicitDeny).session(&[ALL]),
        case("role deny beats session", &[DENY_DELETE], "s3:DeleteObject", PHOTO, ExplicitDeny)
            .session(&[ALL]),
        case("any session policy may allow", &[ALL], "ec2:StartInstances", EC2, Allow)
            .session(&[S3_READ, EC2_ANY_REGION]),
        case("session scope-down, own", &[S3_ALL], GET, MY_PHOTO, Allow)
            .session(&[COGNITO_PREFIX])
            .ctx(&[(COGNITO_SUB, SUB)]),
        case("session scope-down, elsewhere", &[S3_ALL], GET, "arn:aws:s3:::mybucket/other/a", ImplicitDeny)
            .session(&[COGNITO_PREFIX])
            .ctx(&[(COGNITO_SUB, SUB)]),
        case("session condition holds", &[S3_ALL], GET, PHOTO, Allow)
            .session(&[IP_ALLOW])
            .ctx(&[("aws:SourceIp", "203.0.113.9")]),
        case("session condition fails", &[S3_ALL], GET, PHOTO, ImplicitDeny)
            .session(&[IP_ALLOW])
            .ctx(&[("aws:SourceIp", "203.0.114.9")]),
        // Trust policies (spec §7).
        trust("authenticated identity", &[TRUST_AUTH], COGNITO, Allow).ctx(AUTHENTICATED),
        trust("TagSession", &[TRUST_AUTH], COGNITO, Allow).action("sts:TagSession").ctx(AUTHENTICATED),
        trust("action not listed", &[TRUST_AUTH], COGNITO, ImplicitDeny)
            .action("sts:AssumeRole")
            .ctx(AUTHENTICATED),
        trust("aud mismatch", &[TRUST_AUTH], COGNITO, ImplicitDeny)
            .ctx(&[(AUD, "us-east-1:99999999-0000-0000-0000-000000000000"), (AMR, "authenticated")]),
        trust("guest on authenticated role", &[TRUST_AUTH], COGNITO, ImplicitDeny).ctx(GUEST),
        trust("amr missing", &[TRUST_AUTH], COGNITO, ImplicitDeny).ctx(&[(AUD, POOL)]),
        trust("amr empty", &[TRUST_AUTH], COGNITO, ImplicitDeny).ctx(&[(AUD, POOL), (AMR, EMPTY_SET)]),
        trust("aud missing", &[TRUST_AUTH], COGNITO, ImplicitDeny).ctx(&[(AMR, "authenticated")]),
        trust(
            "wrong federated provider",
            &[TRUST_AUTH],
            Some(("Federated", "accounts.google.com")),
            ImplicitDeny,
        )
        .ctx(AUTHENTICATED),
        trust(
            "principal kind matters",
            &[TRUST_AUTH],
            Some(("AWS", "cognito-identity.amazonaws.com")),
            ImplicitDeny,
        )
        .ctx(AUTHENTICATED),
        trust("no principal", &[TRUST_AUTH], None, ImplicitDeny).ctx(AUTHENTICATED),
        trust("guest role", &[TRUST_GUEST], COGNITO, Allow).ctx(GUEST),
        trust("guest role refuses authenticated", &[TRUST_GUEST], COGNITO, ImplicitDeny).ctx(AUTHENTICATED),
        trust("aud list", &[TRUST_AUD_LIST], COGNITO, Allow).ctx(GUEST),
        trust("aud not in list", &[TRUST_AUD_LIST], COGNITO, ImplicitDeny)
            .ctx(&[(AUD, "us-east-1:11111111-0000-0000-0000-000000000000")]),
        trust("pinned sub", &[TRUST_PINNED], COGNITO, Allow).ctx(AUTHENTICATED),
        trust("other sub", &[TRUST_PINNED], COGNITO, ImplicitDeny).ctx(&[(COGNITO_SUB, "us-east-1:0")]),
        trust("Principal star", &[TRUST_ANYONE], Some(("AWS", "arn:aws:iam::210987654321:user/x")), Allow)
            .action("sts:AssumeRole"),
        trust("Principal star, anonymous", &[TRUST_ANYONE], None, Allow).action("sts:AssumeRole"),
        trust(
            "account id matches root",
            &[TRUST_ACCOUNT],
            Some(("AWS", "arn:aws:iam::123456789012:root")),
            Allow,
        )
        .action("sts:AssumeRole"),
        trust("root matches account id", &[TRUST_ROOT], Some(("AWS", "123456789012")), Allow)
            .action("sts:AssumeRole"),
        trust("other account", &[TRUST_ROOT], Some(("AWS", "210987654321")), ImplicitDeny)
            .action("sts:AssumeRole"),
        trust(
            "root is not a role",
            &[TRUST_ROOT],
            Some(("AWS", "arn:aws:iam::123456789012:role/x")),
            ImplicitDeny,
        )
        .action("sts:AssumeRole"),
        trust("AWS star matches any", &[TRUST_AWS_STAR], COGNITO, Allow),
        trust("service principal", &[TRUST_SERVICES], Some(("Service", "lambda.amazonaws.com")), Allow)
            .action("sts:AssumeRole"),
        trust(
            "service name under AWS",
            &[TRUST_SERVICES],
            Some(("AWS", "lambda.amazonaws.com")),
            ImplicitDeny,
        )
        .action("sts:AssumeRole"),
        trust(
            "NotPrincipal spares",
            &[TRUST_NOT_PRINCIPAL],
            Some(("AWS", "arn:aws:iam::123456789012:root")),
            Allow,
        )
        .action("sts:AssumeRole"),
        trust("NotPrincipal denies", &[TRUST_NOT_PRINCIPAL], Some(("AWS", "210987654321")), ExplicitDeny)
            .action("sts:AssumeRole"),
        trust("deny guests", &[TRUST_NO_GUESTS], COGNITO, ExplicitDeny).ctx(GUEST),
        trust("deny guests, authenticated", &[TRUST_NO_GUESTS], COGNITO, Allow).ctx(AUTHENTICATED),
        trust("resource matches role", &[TRUST_RESOURCE], COGNITO, Allow),
        trust("resource, other role", &[TRUST_RESOURCE], COGNITO, ImplicitDeny)
            .resource("arn:aws:iam::123456789012:role/Admin"),
        trust("Google audience", &[TRUST_GOOGLE], Some(("Federated", "accounts.google.com")), Allow)
            .ctx(&[("accounts.google.com:aud", "client.apps.googleusercontent.com")]),
        trust(
            "Google, wrong audience",
            &[TRUST_GOOGLE],
            Some(("Federated", "accounts.google.com")),
            ImplicitDeny,
        )
        .ctx(&[("accounts.google.com:aud", "other.apps.googleusercontent.com")]),
    ]
}

fn parse_all(documents: &[&str], kind: PolicyKind) -> Vec<Policy> {
    documents.iter().map(|d| Policy::parse(d, kind).unwrap_or_else(|e| panic!("{e}\n{d}"))).collect()
}

#[test]
fn evaluation_table() {
    let cases = cases();
    assert!(cases.len() >= 110, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let identity = parse_all(case.identity, case.kind);
        let session = case.session.map(|s| parse_all(s, PolicyKind::Identity));
        let context = context(case.context);
        let request = Request {
            action: case.action,
            resource: case.resource,
            principal: case.principal,
            context: &context,
        };
        let decision = decide(&identity, session.as_deref(), &request);
        if decision != case.expected {
            failures.push(format!("{}: expected {:?}, got {decision:?}", case.name, case.expected));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    for expected in [Allow, ExplicitDeny, ImplicitDeny] {
        assert!(cases.iter().filter(|c| c.expected == expected).count() >= 25, "too few {expected:?} rows");
    }
}

#[test]
fn malformed_documents_are_rejected_with_a_reason() {
    let ok = r#""Effect":"Allow","Action":"s3:GetObject","Resource":"*""#;
    let doc = |statements: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#);
    let cond = |condition: &str| doc(&format!(r#"{{{ok},"Condition":{condition}}}"#));
    let role =
        |principal: &str| doc(&format!(r#"{{"Effect":"Allow","Principal":{principal},"Action":"sts:*"}}"#));
    let identity: Vec<(&str, String)> = vec![
        ("not valid JSON", "not json".into()),
        ("duplicate key \"Effect\"", doc(r#"{"Effect":"Allow","Effect":"Deny"}"#)),
        (
            "duplicate key \"aws:SecureTransport\"",
            cond(r#"{"Bool":{"aws:SecureTransport":1,"aws:SecureTransport":0}}"#),
        ),
        ("must be a JSON object", "[]".into()),
        ("unknown element \"Foo\"", format!(r#"{{"Statement":{{{ok}}},"Foo":1}}"#)),
        ("Version must be", format!(r#"{{"Version":"2020-01-01","Statement":{{{ok}}}}}"#)),
        ("Version must be", format!(r#"{{"Version":20121017,"Statement":{{{ok}}}}}"#)),
        ("Id must be a string", format!(r#"{{"Id":7,"Statement":{{{ok}}}}}"#)),
        ("must have a Statement", r#"{"Version":"2012-10-17"}"#.into()),
        ("Statement must not be empty", r#"{"Statement":[]}"#.into()),
        ("Statement 1: a Statement must be a JSON object", r#"{"Statement":"Allow"}"#.into()),
        (
            "Statement 1: Effect must be \"Allow\" or \"Deny\"",
            doc(r#"{"Effect":"allow","Action":"*","Resource":"*"}"#),
        ),
        ("Statement 2: Effect is required", doc(&format!(r#"{{{ok}}},{{"Action":"s3:*","Resource":"*"}}"#))),
        ("unknown element \"Actions\"", doc(&format!(r#"{{{ok},"Actions":"s3:*"}}"#))),
        ("Statement 2: duplicate Sid \"A\"", doc(&format!(r#"{{"Sid":"A",{ok}}},{{"Sid":"A",{ok}}}"#))),
        ("Sid must be a string", doc(&format!(r#"{{"Sid":1,{ok}}}"#))),
        ("Action or NotAction is required", doc(r#"{"Effect":"Allow","Resource":"*"}"#)),
        ("only one of Action and NotAction", doc(&format!(r#"{{{ok},"NotAction":"s3:Put*"}}"#))),
        ("invalid Action \"GetObject\"", doc(r#"{"Effect":"Allow","Action":"GetObject","Resource":"*"}"#)),
        ("invalid Action \"s3:\"", doc(r#"{"Effect":"Allow","Action":"s3:","Resource":"*"}"#)),
        ("invalid Action", doc(r#"{"Effect":"Allow","Action":"s3:Get Object","Resource":"*"}"#)),
        (
            "Action must be a string or a non-empty array",
            doc(r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#),
        ),
        ("Action must be a string", doc(r#"{"Effect":"Allow","Action":["s3:GetObject",1],"Resource":"*"}"#)),
        ("Resource or NotResource is required", doc(r#"{"Effect":"Allow","Action":"s3:*"}"#)),
        ("only one of Resource and NotResource", doc(&format!(r#"{{{ok},"NotResource":"x"}}"#))),
        ("Resource must be a string", doc(r#"{"Effect":"Allow","Action":"s3:*","Resource":{"arn":"x"}}"#)),
        ("not allowed in an identity-based policy", doc(&format!(r#"{{{ok},"Principal":"*"}}"#))),
        ("Condition must be an object", cond(r#"["StringEquals"]"#)),
        ("unknown condition operator \"StringEqualz\"", cond(r#"{"StringEqualz":{"a:b":"c"}}"#)),
        ("unknown condition operator", cond(r#"{"NullIfExists":{"a:b":"true"}}"#)),
        ("unknown condition operator", cond(r#"{"ForAnyValue:Null":{"a:b":"true"}}"#)),
        ("must be an object of keys", cond(r#"{"StringEquals":"a:b"}"#)),
        ("values must be strings, numbers or booleans", cond(r#"{"StringEquals":{"a:b":null}}"#)),
        ("values must be strings", cond(r#"{"StringEquals":{"a:b":[]}}"#)),
        ("invalid value \"ten\"", cond(r#"{"NumericLessThan":{"s3:max-keys":"ten"}}"#)),
        ("invalid value \"tomorrow\"", cond(r#"{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}"#)),
        ("invalid value \"300.1.1.1/8\"", cond(r#"{"IpAddress":{"aws:SourceIp":"300.1.1.1/8"}}"#)),
        ("invalid value \"yes\"", cond(r#"{"Bool":{"aws:SecureTransport":"yes"}}"#)),
        ("invalid value \"!!!\"", cond(r#"{"BinaryEquals":{"app:blob":"!!!"}}"#)),
        ("invalid policy variable", cond(r#"{"StringLike":{"s3:prefix":"home/${aws:username"}}"#)),
        ("invalid policy variable", doc(r#"{"Effect":"Allow","Action":"s3:*","Resource":"b/${, 'x'}"}"#)),
    ];
    let trust: Vec<(&str, String)> = vec![
        ("Principal or NotPrincipal is required", doc(r#"{"Effect":"Allow","Action":"sts:AssumeRole"}"#)),
        ("Principal must be \"*\" or an object", role(r#""me""#)),
        ("unknown Principal type \"User\"", role(r#"{"User":"x"}"#)),
        ("Principal must be a string or a non-empty array", role(r#"{"AWS":[]}"#)),
        ("only one of Principal and NotPrincipal", role(r#""*","NotPrincipal":"*""#)),
    ];
    assert!(identity.len() + trust.len() >= 20);
    let all = identity
        .iter()
        .map(|c| (PolicyKind::Identity, c))
        .chain(trust.iter().map(|c| (PolicyKind::Trust, c)));
    for (kind, (reason, document)) in all {
        match Policy::parse(document, kind) {
            Ok(_) => panic!("accepted: {document}"),
            Err(e) => assert!(e.0.contains(reason), "{document}\nexpected {reason:?}, got {:?}", e.0),
        }
    }
    // The same text is fine where variables are not parsed.
    let literal =
        r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"b/${x"}}"#;
    assert!(Policy::parse(literal, PolicyKind::Identity).is_ok());
}

#[test]
fn compact_json_round_trips() {
    let policy = Policy::parse(TRUST_AUTH, PolicyKind::Trust).unwrap();
    let compact = policy.to_compact_json();
    assert!(!compact.contains(['\n', ' ']));
    let again = Policy::parse(&compact, PolicyKind::Trust).unwrap();
    assert_eq!(again.to_compact_json(), compact);
}

// Properties over generated policies and requests.

const ACTIONS: &[&str] =
    &["*", "s3:*", "s3:GetObject", "s3:Get*", "s3:?utObject", "ec2:RunInstances", "iam:*"];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/${aws:username}/*",
    "arn:aws:s3:::other/*",
    "arn:aws:ec2:*:123456789012:instance/*",
    "arn:aws:s3:::b/${missing}",
];
const CONDITIONS: &[&str] = &[
    r#"{"StringEquals":{"aws:username":"alice"}}"#,
    r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
    r#"{"ForAllValues:StringLike":{"aws:TagKeys":["a*"]}}"#,
    r#"{"StringNotEquals":{"aws:username":"${missing}"}}"#,
    r#"{"NumericLessThanIfExists":{"s3:max-keys":5}}"#,
    r#"{"Null":{"aws:username":"false"}}"#,
    r#"{"Bool":{"aws:SecureTransport":true}}"#,
];
const REQUEST_ACTIONS: &[&str] =
    &["s3:GetObject", "s3:PutObject", "S3:getobject", "ec2:RunInstances", "iam:CreateUser"];
const REQUEST_RESOURCES: &[&str] = &[
    "arn:aws:s3:::b/alice/k",
    "arn:aws:s3:::b/k",
    "arn:aws:s3:::other/x",
    "arn:aws:ec2:us-east-1:123456789012:instance/i-1",
    "*",
];

fn statement(effect: Option<&'static str>) -> impl Strategy<Value = Value> {
    let effect = match effect {
        Some(e) => Just(e).boxed(),
        None => prop::sample::select(&["Allow", "Deny"][..]).boxed(),
    };
    (
        effect,
        any::<bool>(),
        prop::sample::subsequence(ACTIONS, 1..3),
        any::<bool>(),
        prop::sample::subsequence(RESOURCES, 1..3),
        prop::option::of(prop::sample::select(CONDITIONS)),
    )
        .prop_map(|(effect, not_action, actions, not_resource, resources, condition)| {
            let mut statement = json!({ "Effect": effect });
            statement[if not_action { "NotAction" } else { "Action" }] = json!(actions);
            statement[if not_resource { "NotResource" } else { "Resource" }] = json!(resources);
            if let Some(condition) = condition {
                statement["Condition"] = serde_json::from_str(condition).unwrap();
            }
            statement
        })
}

fn policy_with(statements: impl Strategy<Value = Vec<Value>>) -> impl Strategy<Value = Policy> {
    (prop::sample::select(&["2012-10-17", "2008-10-17"][..]), statements).prop_map(|(version, statements)| {
        let document = json!({ "Version": version, "Statement": statements }).to_string();
        Policy::parse(&document, PolicyKind::Identity).unwrap()
    })
}

fn policy() -> impl Strategy<Value = Policy> {
    policy_with(prop::collection::vec(statement(None), 1..4))
}

fn policies() -> impl Strategy<Value = Vec<Policy>> {
    prop::collection::vec(policy(), 0..3)
}

const TAG_KEY_SETS: &[&[&str]] = &[&["a1", "a2"], &["a1", "b"], &[]];

/// A request: action, resource and context entries.
fn request() -> impl Strategy<Value = (&'static str, &'static str, Context)> {
    (
        prop::sample::select(REQUEST_ACTIONS),
        prop::sample::select(REQUEST_RESOURCES),
        prop::option::of(prop::sample::select(&["alice", "bob"][..])),
        prop::sample::select(&["10.1.1.1", "192.0.2.1"][..]),
        prop::sample::select(TAG_KEY_SETS),
        any::<bool>(),
    )
        .prop_map(|(action, resource, username, ip, tag_keys, tls)| {
            let mut context = Context::new();
            if let Some(username) = username {
                context.insert("aws:username", username);
            }
            context.insert("aws:SourceIp", ip);
            context.insert_multi("aws:TagKeys", tag_keys.iter().map(|k| k.to_string()).collect());
            context.insert("aws:SecureTransport", tls.to_string());
            (action, resource, context)
        })
}

/// Reference glob matcher: plain recursion, fine for short inputs.
fn reference_glob(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len()).any(|i| reference_glob(rest, &text[i..])),
        Some(('?', rest)) => !text.is_empty() && reference_glob(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && reference_glob(rest, &text[1..]),
    }
}

/// Arbitrary JSON built from policy vocabulary, so that some of it gets deep into validation.
fn jsonish() -> impl Strategy<Value = Value> {
    const WORDS: &[&str] = &[
        "Version",
        "2012-10-17",
        "2008-10-17",
        "Statement",
        "Sid",
        "Effect",
        "Allow",
        "Deny",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "NotPrincipal",
        "Condition",
        "AWS",
        "Federated",
        "*",
        "s3:GetObject",
        "StringLike",
        "ForAllValues:StringEquals",
        "NumericLessThanIfExists",
        "DateGreaterThan",
        "IpAddress",
        "Null",
        "Bool",
        "aws:username",
        "aws:TagKeys",
        "aws:SourceIp",
        "10.0.0.0/8",
        "2026-01-01",
        "arn:aws:s3:::b/${x}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        prop::sample::select(WORDS).prop_map(Value::from),
        "[a-z0-9$*{}:/?', .-]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(WORDS), inner), 0..5).prop_map(|entries| {
                Value::Object(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

fn decision(identity: &[Policy], session: Option<&[Policy]>, r: &(&str, &str, Context)) -> Decision {
    decide(identity, session, &Request { action: r.0, resource: r.1, principal: None, context: &r.2 })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_matching_deny_always_wins(
        identity in policies(),
        session in prop::option::of(policies()),
        request in request(),
    ) {
        let document = json!({"Statement": {"Effect": "Deny", "Action": request.0, "Resource": "*"}});
        let deny = Policy::parse(&document.to_string(), PolicyKind::Identity).unwrap();
        let mut identity = identity;
        identity.push(deny);
        prop_assert_eq!(decision(&identity, session.as_deref(), &request), ExplicitDeny);
    }

    #[test]
    fn adding_a_deny_never_allows(
        identity in policies(),
        session in prop::option::of(policies()),
        deny in policy_with(prop::collection::vec(statement(Some("Deny")), 1..3)),
        to_session in any::<bool>(),
        request in request(),
    ) {
        let before = decision(&identity, session.as_deref(), &request);
        let (mut identity, mut session) = (identity, session);
        match session.as_mut() {
            Some(session) if to_session => session.push(deny),
            _ => identity.push(deny),
        }
        let after = decision(&identity, session.as_deref(), &request);
        prop_assert!(before == Allow || after != Allow, "{before:?} -> {after:?}");
        prop_assert!(before != ExplicitDeny || after == ExplicitDeny, "{before:?} -> {after:?}");
    }

    #[test]
    fn adding_an_allow_keeps_allow(
        identity in policies(),
        session in prop::option::of(policies()),
        allow in policy_with(prop::collection::vec(statement(Some("Allow")), 1..3)),
        to_session in any::<bool>(),
        request in request(),
    ) {
        let before = decision(&identity, session.as_deref(), &request);
        let (mut identity, mut session) = (identity, session);
        match session.as_mut() {
            Some(session) if to_session => session.push(allow),
            _ => identity.push(allow),
        }
        let after = decision(&identity, session.as_deref(), &request);
        prop_assert!(before != Allow || after == Allow, "{before:?} -> {after:?}");
    }

    #[test]
    fn session_policies_never_widen(identity in policies(), session in policies(), request in request()) {
        let scoped = decision(&identity, Some(session.as_slice()), &request);
        let unscoped = decision(&identity, None, &request);
        prop_assert!(scoped != Allow || unscoped == Allow, "{unscoped:?} -> {scoped:?}");
        prop_assert!(unscoped != ExplicitDeny || scoped == ExplicitDeny, "{unscoped:?} -> {scoped:?}");
    }

    #[test]
    fn wildcards_agree_with_reference(pattern in "[ab*?]{0,8}", text in "[abAB]{0,10}") {
        let pattern_chars: Vec<char> = pattern.chars().collect();
        let text_chars: Vec<char> = text.chars().collect();
        let expected = reference_glob(&pattern_chars, &text_chars);
        prop_assert_eq!(wildcard::matches_str(&pattern, &text, false), expected);
        let lower: Vec<char> = text.to_lowercase().chars().collect();
        prop_assert_eq!(wildcard::matches_str(&pattern, &text, true), reference_glob(&pattern_chars, &lower));
    }

    #[test]
    fn compact_json_reparses_to_the_same_verdicts(policy in policy(), request in request()) {
        let again = Policy::parse(&policy.to_compact_json(), PolicyKind::Identity).unwrap();
        let r = Request { action: request.0, resource: request.1, principal: None, context: &request.2 };
        prop_assert_eq!(policy.evaluate(&r), again.evaluate(&r));
    }

    #[test]
    fn parse_never_panics_on_text(text in "\\PC{0,200}") {
        let _ = Policy::parse(&text, PolicyKind::Identity);
        let _ = Policy::parse(&text, PolicyKind::Trust);
    }

    #[test]
    fn parse_never_panics_on_jsonish(document in jsonish(), request in request()) {
        let text = document.to_string();
        for kind in [PolicyKind::Identity, PolicyKind::Trust] {
            if let Ok(policy) = Policy::parse(&text, kind) {
                let (action, resource, context) = (request.0, request.1, &request.2);
                let _ = policy.evaluate(&Request { action, resource, principal: None, context });
            }
        }
    }
}

#[test]
fn adversarial_wildcards_stay_fast() {
    let pattern = format!("arn:aws:s3:::{}b", "a*".repeat(500));
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"*","Resource":"{pattern}"}}}}"#
    );
    let policy = Policy::parse(&policy, PolicyKind::Identity).unwrap();
    let context = Context::new();
    let resource = format!("arn:aws:s3:::{}", "a".repeat(20_000));
    let request = Request { action: "s3:GetObject", resource: &resource, principal: None, context: &context };
    let started = std::time::Instant::now();
    assert_eq!(policy.evaluate(&request), None);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
