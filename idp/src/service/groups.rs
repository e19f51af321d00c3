//! Groups, memberships, and the group claims of tokens.

use awsapi::json::{check_length, check_range};

use super::{Page, UserPools, decode_token, page};
use crate::error::{IdpError, Result};
use crate::model::{Group, User, UserPool};
use crate::store::StoreError;

/// What CreateGroup / UpdateGroup set.
#[derive(Debug, Clone, Default)]
pub struct GroupSpec {
    pub description: Option<String>,
    pub role_arn: Option<String>,
    pub precedence: Option<i64>,
}

fn check_spec(spec: &GroupSpec) -> Result<()> {
    if let Some(d) = &spec.description {
        check_length("Description", d, 0, 2048)?;
    }
    if let Some(arn) = &spec.role_arn {
        check_length("RoleArn", arn, 20, 2048)?;
        if !arn.starts_with("arn:") || arn.split(':').count() < 6 {
            return Err(IdpError::InvalidParameter(format!("RoleArn '{arn}' is not an ARN.")));
        }
    }
    if let Some(p) = spec.precedence {
        check_range("Precedence", p, 0, i64::from(i32::MAX))?;
    }
    Ok(())
}

fn check_group_name(name: &str) -> Result<()> {
    check_length("GroupName", name, 1, 128)?;
    if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(IdpError::InvalidParameter(format!("GroupName '{name}' must not contain spaces.")));
    }
    Ok(())
}

fn group_not_found(name: &str) -> IdpError {
    IdpError::ResourceNotFound(format!("Group {name} not found."))
}

impl UserPools {
    pub async fn create_group(&self, pool_id: &str, name: &str, spec: GroupSpec) -> Result<Group> {
        self.describe_pool(pool_id).await?;
        check_group_name(name)?;
        check_spec(&spec)?;
        let now = self.now_ms();
        let group = Group {
            pool_id: pool_id.to_string(),
            name: name.to_string(),
            description: spec.description,
            role_arn: spec.role_arn,
            precedence: spec.precedence,
            created_ms: now,
            updated_ms: now,
        };
        match self.store.insert_group(&group).await {
            Ok(()) => Ok(group),
            Err(StoreError::Conflict) => {
                Err(IdpError::GroupExists(format!("A group with the name {name} already exists.")))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_group(&self, pool_id: &str, name: &str) -> Result<Group> {
        self.describe_pool(pool_id).await?;
        self.store.get_group(pool_id, name).await?.ok_or_else(|| group_not_found(name))
    }

    /// UpdateGroup: members left out of the request are cleared, as in Cognito.
    pub async fn update_group(&self, pool_id: &str, name: &str, spec: GroupSpec) -> Result<Group> {
        let mut group = self.get_group(pool_id, name).await?;
        check_spec(&spec)?;
        group.description = spec.description;
        group.role_arn = spec.role_arn;
        group.precedence = spec.precedence;
        group.updated_ms = self.now_ms();
        if !self.store.update_group(&group).await? {
            return Err(group_not_found(name));
        }
        Ok(group)
    }

    pub async fn delete_group(&self, pool_id: &str, name: &str) -> Result<()> {
        self.describe_pool(pool_id).await?;
        if !self.store.delete_group(pool_id, name).await? {
            return Err(group_not_found(name));
        }
        Ok(())
    }

    pub async fn list_groups(
        &self,
        pool_id: &str,
        limit: Option<i64>,
        token: Option<&str>,
    ) -> Result<Page<Group>> {
        self.describe_pool(pool_id).await?;
        let limit = limit.unwrap_or(60);
        check_range("Limit", limit, 0, 60)?;
        let limit = if limit == 0 { 60 } else { limit };
        let after = decode_token(token)?;
        let items = self.store.list_groups(pool_id, after.as_deref(), limit + 1).await?;
        Ok(page(items, limit, |g| &g.name))
    }

    async fn pool_user(&self, pool_id: &str, username: &str) -> Result<(UserPool, User)> {
        let pool = self.describe_pool(pool_id).await?;
        let user = self
            .find_user(&pool, username)
            .await?
            .ok_or_else(|| IdpError::UserNotFound("User does not exist.".into()))?;
        Ok((pool, user))
    }

    pub async fn add_user_to_group(&self, pool_id: &str, username: &str, group: &str) -> Result<()> {
        let (_, user) = self.pool_user(pool_id, username).await?;
        self.store.get_group(pool_id, group).await?.ok_or_else(|| group_not_found(group))?;
        self.store.add_member(pool_id, group, &user.username_key).await?;
        Ok(())
    }

    pub async fn remove_user_from_group(&self, pool_id: &str, username: &str, group: &str) -> Result<()> {
        let (_, user) = self.pool_user(pool_id, username).await?;
        self.store.get_group(pool_id, group).await?.ok_or_else(|| group_not_found(group))?;
        self.store.remove_member(pool_id, group, &user.username_key).await?;
        Ok(())
    }

    pub async fn groups_for_user(
        &self,
        pool_id: &str,
        username: &str,
        limit: Option<i64>,
        token: Option<&str>,
    ) -> Result<Page<Group>> {
        let (_, user) = self.pool_user(pool_id, username).await?;
        let limit = limit.unwrap_or(60);
        check_range("Limit", limit, 0, 60)?;
        let limit = if limit == 0 { 60 } else { limit };
        let after = decode_token(token)?;
        let all = self.store.groups_of(pool_id, &user.username_key).await?;
        let items: Vec<Group> = all
            .into_iter()
            .filter(|g| after.as_deref().is_none_or(|a| g.name.as_str() > a))
            .take(limit as usize + 1)
            .collect();
        Ok(page(items, limit, |g| &g.name))
    }

    pub async fn users_in_group(
        &self,
        pool_id: &str,
        group: &str,
        limit: Option<i64>,
        token: Option<&str>,
    ) -> Result<Page<User>> {
        self.get_group(pool_id, group).await?;
        let limit = limit.unwrap_or(60);
        check_range("Limit", limit, 0, 60)?;
        let limit = if limit == 0 { 60 } else { limit };
        let after = decode_token(token)?;
        let items = self.store.members(pool_id, group, after.as_deref(), limit + 1).await?;
        Ok(page(items, limit, |u| &u.username_key))
    }

    /// The groups claims of a user's tokens: names, distinct role ARNs, and
    /// the preferred role (lowest precedence; groups without precedence come
    /// last; no preferred role when the best precedence is shared by groups
    /// with different roles).
    pub(super) async fn group_claims(&self, user: &User) -> Result<GroupClaims> {
        let mut groups = self.store.groups_of(&user.pool_id, &user.username_key).await?;
        groups.sort_by(|a, b| {
            (a.precedence.is_none(), a.precedence, &a.name).cmp(&(
                b.precedence.is_none(),
                b.precedence,
                &b.name,
            ))
        });
        let names = groups.iter().map(|g| g.name.clone()).collect();
        let mut roles: Vec<String> = Vec::new();
        for g in &groups {
            if let Some(r) = &g.role_arn
                && !roles.contains(r)
            {
                roles.push(r.clone());
            }
        }
        let with_roles: Vec<&Group> = groups.iter().filter(|g| g.role_arn.is_some()).collect();
        let preferred = with_roles.first().and_then(|best| {
            let tied: Vec<&&Group> = with_roles.iter().filter(|g| g.precedence == best.precedence).collect();
            let role = best.role_arn.clone();
            if tied.iter().all(|g| g.role_arn == role) { role } else { None }
        });
        Ok(GroupClaims { names, roles, preferred_role: preferred })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupClaims {
    pub names: Vec<String>,
    pub roles: Vec<String>,
    pub preferred_role: Option<String>,
}
