//! SQL for resource servers; one macro body for both backends.

pub(super) const INSERT_RS: &str =
    "INSERT INTO resource_servers (pool_id, identifier, name, scopes) VALUES ($1, $2, $3, $4)";
pub(super) const SELECT_RS: &str =
    "SELECT pool_id, identifier, name, scopes FROM resource_servers WHERE pool_id = $1 AND identifier = $2";
pub(super) const UPDATE_RS: &str =
    "UPDATE resource_servers SET name = $3, scopes = $4 WHERE pool_id = $1 AND identifier = $2";
pub(super) const DELETE_RS: &str = "DELETE FROM resource_servers WHERE pool_id = $1 AND identifier = $2";
pub(super) const LIST_RS: &str = "SELECT pool_id, identifier, name, scopes FROM resource_servers \
     WHERE pool_id = $1 AND identifier > $2 ORDER BY identifier LIMIT $3";

macro_rules! resource_store {
    ($store:ident, $row:ty) => {
        use crate::model::ResourceServer;
        use crate::store::ResourceServerStore;
        use crate::store::sql_resource::*;

        fn rs_from_row(row: &$row) -> Result<ResourceServer, sqlx::Error> {
            let scopes: String = row.try_get("scopes")?;
            Ok(ResourceServer {
                pool_id: row.try_get("pool_id")?,
                identifier: row.try_get("identifier")?,
                name: row.try_get("name")?,
                scopes: serde_json::from_str(&scopes).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            })
        }

        fn scopes_text(rs: &ResourceServer) -> Result<String, StoreError> {
            serde_json::to_string(&rs.scopes)
                .map_err(|e| StoreError::Database(sqlx::Error::Encode(Box::new(e))))
        }

        #[async_trait]
        impl ResourceServerStore for $store {
            async fn insert_resource_server(&self, rs: &ResourceServer) -> Result<(), StoreError> {
                sqlx::query(INSERT_RS)
                    .bind(&rs.pool_id)
                    .bind(&rs.identifier)
                    .bind(&rs.name)
                    .bind(scopes_text(rs)?)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict_or)?;
                Ok(())
            }

            async fn get_resource_server(
                &self,
                pool_id: &str,
                identifier: &str,
            ) -> Result<Option<ResourceServer>, StoreError> {
                let row =
                    sqlx::query(SELECT_RS).bind(pool_id).bind(identifier).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().map(rs_from_row).transpose()?)
            }

            async fn update_resource_server(&self, rs: &ResourceServer) -> Result<bool, StoreError> {
                let done = sqlx::query(UPDATE_RS)
                    .bind(&rs.pool_id)
                    .bind(&rs.identifier)
                    .bind(&rs.name)
                    .bind(scopes_text(rs)?)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_resource_server(
                &self,
                pool_id: &str,
                identifier: &str,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(DELETE_RS).bind(pool_id).bind(identifier).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn list_resource_servers(
                &self,
                pool_id: &str,
                after: Option<&str>,
                limit: i64,
            ) -> Result<Vec<ResourceServer>, StoreError> {
                let rows = sqlx::query(LIST_RS)
                    .bind(pool_id)
                    .bind(after.unwrap_or(""))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.iter().map(rs_from_row).collect::<Result<_, _>>()?)
            }
        }
    };
}

pub(super) use resource_store;
