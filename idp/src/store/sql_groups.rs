//! SQL for groups, memberships and sign-in events; one macro body for both
//! backends.

pub(super) const GROUP_COLUMNS: &str =
    "pool_id, name, description, role_arn, precedence, created_at, updated_at";
pub(super) const INSERT_GROUP: &str = "INSERT INTO user_groups (pool_id, name, description, role_arn, precedence, \
     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub(super) const UPDATE_GROUP: &str = "UPDATE user_groups SET description = $3, role_arn = $4, precedence = $5, \
     updated_at = $6 WHERE pool_id = $1 AND name = $2";
pub(super) const DELETE_GROUP: &str = "DELETE FROM user_groups WHERE pool_id = $1 AND name = $2";
pub(super) const ADD_MEMBER: &str = "INSERT INTO group_members (pool_id, group_name, username_key) VALUES ($1, $2, $3) \
     ON CONFLICT DO NOTHING";
pub(super) const REMOVE_MEMBER: &str =
    "DELETE FROM group_members WHERE pool_id = $1 AND group_name = $2 AND username_key = $3";
pub(super) const INSERT_EVENT: &str = "INSERT INTO auth_events (event_id, pool_id, username_key, created_at, event_type, \
     response, client_id, ip_address, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
pub(super) const LIST_EVENTS: &str = "SELECT event_id, pool_id, username_key, created_at, event_type, response, \
     client_id, ip_address, user_agent FROM auth_events WHERE pool_id = $1 AND username_key = $2 \
     AND (created_at, event_id) < ($3, $4) ORDER BY created_at DESC, event_id DESC LIMIT $5";

macro_rules! group_store {
    ($store:ident, $row:ty) => {
        use crate::model::{AuthEvent, Group};
        use crate::store::sql_groups::*;
        use crate::store::{EventStore, GroupStore};

        fn group_from_row(row: &$row) -> Result<Group, sqlx::Error> {
            Ok(Group {
                pool_id: row.try_get("pool_id")?,
                name: row.try_get("name")?,
                description: row.try_get("description")?,
                role_arn: row.try_get("role_arn")?,
                precedence: row.try_get("precedence")?,
                created_ms: row.try_get("created_at")?,
                updated_ms: row.try_get("updated_at")?,
            })
        }

        #[async_trait]
        impl GroupStore for $store {
            async fn insert_group(&self, g: &Group) -> Result<(), StoreError> {
                sqlx::query(INSERT_GROUP)
                    .bind(&g.pool_id)
                    .bind(&g.name)
                    .bind(&g.description)
                    .bind(&g.role_arn)
                    .bind(g.precedence)
                    .bind(g.created_ms)
                    .bind(g.updated_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict_or)?;
                Ok(())
            }

            async fn get_group(&self, pool_id: &str, name: &str) -> Result<Option<Group>, StoreError> {
                let sql = format!("SELECT {GROUP_COLUMNS} FROM user_groups WHERE pool_id = $1 AND name = $2");
                let row =
                    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(pool_id).bind(name).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().map(group_from_row).transpose()?)
            }

            async fn update_group(&self, g: &Group) -> Result<bool, StoreError> {
                let done = sqlx::query(UPDATE_GROUP)
                    .bind(&g.pool_id)
                    .bind(&g.name)
                    .bind(&g.description)
                    .bind(&g.role_arn)
                    .bind(g.precedence)
                    .bind(g.updated_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_group(&self, pool_id: &str, name: &str) -> Result<bool, StoreError> {
                let done = sqlx::query(DELETE_GROUP).bind(pool_id).bind(name).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn list_groups(&self, pool_id: &str, after: Option<&str>, limit: i64) -> Result<Vec<Group>, StoreError> {
                let sql = format!(
                    "SELECT {GROUP_COLUMNS} FROM user_groups WHERE pool_id = $1 AND name > $2 ORDER BY name LIMIT $3"
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(pool_id)
                    .bind(after.unwrap_or(""))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.iter().map(group_from_row).collect::<Result<_, _>>()?)
            }

            async fn add_member(&self, pool_id: &str, group: &str, username_key: &str) -> Result<(), StoreError> {
                sqlx::query(ADD_MEMBER).bind(pool_id).bind(group).bind(username_key).execute(&self.pool).await?;
                Ok(())
            }

            async fn remove_member(&self, pool_id: &str, group: &str, username_key: &str) -> Result<(), StoreError> {
                sqlx::query(REMOVE_MEMBER).bind(pool_id).bind(group).bind(username_key).execute(&self.pool).await?;
                Ok(())
            }

            async fn groups_of(&self, pool_id: &str, username_key: &str) -> Result<Vec<Group>, StoreError> {
                let sql = "SELECT g.pool_id, g.name, g.description, g.role_arn, g.precedence, g.created_at, \
                           g.updated_at FROM group_members m JOIN user_groups g \
                           ON g.pool_id = m.pool_id AND g.name = m.group_name \
                           WHERE m.pool_id = $1 AND m.username_key = $2 ORDER BY g.name";
                let rows = sqlx::query(sql).bind(pool_id).bind(username_key).fetch_all(&self.pool).await?;
                Ok(rows.iter().map(group_from_row).collect::<Result<_, _>>()?)
            }

            async fn members(
                &self,
                pool_id: &str,
                group: &str,
                after: Option<&str>,
                limit: i64,
            ) -> Result<Vec<User>, StoreError> {
                let sql = format!(
                    "SELECT {USER_COLUMNS} FROM group_members m JOIN users u \
                     ON u.pool_id = m.pool_id AND u.username_key = m.username_key \
                     WHERE m.pool_id = $1 AND m.group_name = $2 AND m.username_key > $3 \
                     ORDER BY m.username_key LIMIT $4"
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(pool_id)
                    .bind(group)
                    .bind(after.unwrap_or(""))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.iter().map(user_from_row).collect::<Result<_, _>>()?)
            }
        }

        #[async_trait]
        impl EventStore for $store {
            async fn insert_auth_event(&self, e: &AuthEvent) -> Result<(), StoreError> {
                sqlx::query(INSERT_EVENT)
                    .bind(&e.event_id)
                    .bind(&e.pool_id)
                    .bind(&e.username_key)
                    .bind(e.created_ms)
                    .bind(&e.event_type)
                    .bind(&e.response)
                    .bind(&e.client_id)
                    .bind(&e.ip_address)
                    .bind(&e.user_agent)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn auth_events(
                &self,
                pool_id: &str,
                username_key: &str,
                before: Option<(i64, &str)>,
                limit: i64,
            ) -> Result<Vec<AuthEvent>, StoreError> {
                let (before_ms, before_id) = before.unwrap_or((i64::MAX, ""));
                let rows = sqlx::query(LIST_EVENTS)
                    .bind(pool_id)
                    .bind(username_key)
                    .bind(before_ms)
                    .bind(before_id)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok(AuthEvent {
                            event_id: r.try_get("event_id")?,
                            pool_id: r.try_get("pool_id")?,
                            username_key: r.try_get("username_key")?,
                            created_ms: r.try_get("created_at")?,
                            event_type: r.try_get("event_type")?,
                            response: r.try_get("response")?,
                            client_id: r.try_get("client_id")?,
                            ip_address: r.try_get("ip_address")?,
                            user_agent: r.try_get("user_agent")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(Into::into)
            }
        }
    };
}

pub(super) use group_store;
