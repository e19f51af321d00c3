//! Cirrus identity pools and STS.
//!
//! For now: the STS endpoint on the Query protocol with
//! `GetCallerIdentity`, which tells a signed caller who it is. Identity
//! pools, `AssumeRoleWithWebIdentity` and IAM join it in the broker issue.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo))]

use async_trait::async_trait;
use awsapi::query::{QueryParams, XmlBuilder};
use awsapi::{Access, AwsError, Principal, QueryService, RequestContext};

pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

const ACTIONS: &[(&str, Access)] = &[("GetCallerIdentity", Access::Signed)];

/// STS (`sts`, version 2011-06-15).
#[derive(Debug, Default)]
pub struct StsApi;

#[async_trait]
impl QueryService for StsApi {
    fn signing_name(&self) -> &'static str {
        "sts"
    }

    fn xml_namespace(&self) -> &'static str {
        STS_NAMESPACE
    }

    fn access(&self, action: &str) -> Option<Access> {
        ACTIONS.iter().find(|(a, _)| *a == action).map(|(_, access)| *access)
    }

    async fn call_public(
        &self,
        action: &str,
        _: &QueryParams,
        _: &RequestContext,
    ) -> Result<String, AwsError> {
        Err(invalid_action(action))
    }

    async fn call_signed(
        &self,
        action: &str,
        caller: &Principal,
        _params: &QueryParams,
        _ctx: &RequestContext,
    ) -> Result<String, AwsError> {
        match action {
            "GetCallerIdentity" => {
                let mut xml = XmlBuilder::new();
                xml.text("Arn", caller.arn())
                    .text("UserId", caller.user_id())
                    .text("Account", caller.account_id());
                Ok(xml.finish())
            }
            other => Err(invalid_action(other)),
        }
    }
}

fn invalid_action(action: &str) -> AwsError {
    AwsError::new("InvalidAction", format!("Could not find operation {action} for version 2011-06-15"))
}
