//! SQL for identity providers and provider links; one macro body for both
//! backends.

pub(super) const INSERT_IDP: &str = "INSERT INTO identity_providers (pool_id, name, provider_type, details_sealed, \
     attribute_mapping, idp_identifiers, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
pub(super) const UPDATE_IDP: &str = "UPDATE identity_providers SET details_sealed = $3, attribute_mapping = $4, \
     idp_identifiers = $5, updated_at = $6 WHERE pool_id = $1 AND name = $2";
pub(super) const SELECT_IDP: &str = "SELECT pool_id, name, provider_type, details_sealed, attribute_mapping, \
     idp_identifiers, created_at, updated_at FROM identity_providers WHERE pool_id = $1 AND name = $2";
pub(super) const LIST_IDP: &str = "SELECT pool_id, name, provider_type, details_sealed, attribute_mapping, \
     idp_identifiers, created_at, updated_at FROM identity_providers WHERE pool_id = $1 AND name > $2 \
     ORDER BY name LIMIT $3";
pub(super) const DELETE_IDP: &str = "DELETE FROM identity_providers WHERE pool_id = $1 AND name = $2";
pub(super) const DELETE_IDP_LINKS: &str =
    "DELETE FROM provider_links WHERE pool_id = $1 AND provider_name = $2";

pub(super) const INSERT_LINK: &str = "INSERT INTO provider_links (pool_id, provider_name, provider_subject, \
     username_key, created_at) VALUES ($1, $2, $3, $4, $5)";
pub(super) const SELECT_LINK: &str = "SELECT pool_id, provider_name, provider_subject, username_key, created_at \
     FROM provider_links WHERE pool_id = $1 AND provider_name = $2 AND provider_subject = $3";
pub(super) const USER_LINKS: &str = "SELECT pool_id, provider_name, provider_subject, username_key, created_at \
     FROM provider_links WHERE pool_id = $1 AND username_key = $2 ORDER BY provider_name, provider_subject";
pub(super) const DELETE_LINK: &str =
    "DELETE FROM provider_links WHERE pool_id = $1 AND provider_name = $2 AND provider_subject = $3";

pub(super) const INSERT_SP_KEY: &str =
    "INSERT INTO saml_sp_keys (pool_id, key_sealed, cert_der, created_at) VALUES ($1, $2, $3, $4)";
pub(super) const SELECT_SP_KEY: &str = "SELECT key_sealed, cert_der FROM saml_sp_keys WHERE pool_id = $1";

macro_rules! federation_store {
    ($store:ident, $row:ty) => {
        use crate::model::{ProviderLink, ProviderRecord};
        use crate::store::FederationStore;
        use crate::store::sql_federation::*;

        fn idp_from_row(row: &$row) -> Result<ProviderRecord, sqlx::Error> {
            let mapping: String = row.try_get("attribute_mapping")?;
            let identifiers: String = row.try_get("idp_identifiers")?;
            let decode = |e: serde_json::Error| sqlx::Error::Decode(Box::new(e));
            Ok(ProviderRecord {
                pool_id: row.try_get("pool_id")?,
                name: row.try_get("name")?,
                provider_type: row.try_get("provider_type")?,
                details_sealed: row.try_get("details_sealed")?,
                attribute_mapping: serde_json::from_str(&mapping).map_err(decode)?,
                idp_identifiers: serde_json::from_str(&identifiers).map_err(decode)?,
                created_ms: row.try_get("created_at")?,
                updated_ms: row.try_get("updated_at")?,
            })
        }

        fn link_from_row(row: &$row) -> Result<ProviderLink, sqlx::Error> {
            Ok(ProviderLink {
                pool_id: row.try_get("pool_id")?,
                provider_name: row.try_get("provider_name")?,
                provider_subject: row.try_get("provider_subject")?,
                username_key: row.try_get("username_key")?,
                created_ms: row.try_get("created_at")?,
            })
        }

        fn json_text<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
            serde_json::to_string(value).map_err(|e| StoreError::Database(sqlx::Error::Encode(Box::new(e))))
        }

        #[async_trait]
        impl FederationStore for $store {
            async fn insert_provider(&self, p: &ProviderRecord) -> Result<(), StoreError> {
                sqlx::query(INSERT_IDP)
                    .bind(&p.pool_id)
                    .bind(&p.name)
                    .bind(&p.provider_type)
                    .bind(&p.details_sealed)
                    .bind(json_text(&p.attribute_mapping)?)
                    .bind(json_text(&p.idp_identifiers)?)
                    .bind(p.created_ms)
                    .bind(p.updated_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict_or)?;
                Ok(())
            }

            async fn update_provider(&self, p: &ProviderRecord) -> Result<bool, StoreError> {
                let done = sqlx::query(UPDATE_IDP)
                    .bind(&p.pool_id)
                    .bind(&p.name)
                    .bind(&p.details_sealed)
                    .bind(json_text(&p.attribute_mapping)?)
                    .bind(json_text(&p.idp_identifiers)?)
                    .bind(p.updated_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn get_provider(
                &self,
                pool_id: &str,
                name: &str,
            ) -> Result<Option<ProviderRecord>, StoreError> {
                let row = sqlx::query(SELECT_IDP).bind(pool_id).bind(name).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().map(idp_from_row).transpose()?)
            }

            async fn list_providers(
                &self,
                pool_id: &str,
                after: Option<&str>,
                limit: i64,
            ) -> Result<Vec<ProviderRecord>, StoreError> {
                let rows = sqlx::query(LIST_IDP)
                    .bind(pool_id)
                    .bind(after.unwrap_or(""))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.iter().map(idp_from_row).collect::<Result<_, _>>()?)
            }

            async fn delete_provider(&self, pool_id: &str, name: &str) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(DELETE_IDP_LINKS).bind(pool_id).bind(name).execute(&mut *tx).await?;
                let done = sqlx::query(DELETE_IDP).bind(pool_id).bind(name).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_link(&self, link: &ProviderLink) -> Result<(), StoreError> {
                sqlx::query(INSERT_LINK)
                    .bind(&link.pool_id)
                    .bind(&link.provider_name)
                    .bind(&link.provider_subject)
                    .bind(&link.username_key)
                    .bind(link.created_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict_or)?;
                Ok(())
            }

            async fn get_link(
                &self,
                pool_id: &str,
                provider: &str,
                subject: &str,
            ) -> Result<Option<ProviderLink>, StoreError> {
                let row = sqlx::query(SELECT_LINK)
                    .bind(pool_id)
                    .bind(provider)
                    .bind(subject)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(link_from_row).transpose()?)
            }

            async fn user_links(
                &self,
                pool_id: &str,
                username_key: &str,
            ) -> Result<Vec<ProviderLink>, StoreError> {
                let rows =
                    sqlx::query(USER_LINKS).bind(pool_id).bind(username_key).fetch_all(&self.pool).await?;
                Ok(rows.iter().map(link_from_row).collect::<Result<_, _>>()?)
            }

            async fn insert_sp_key(
                &self,
                pool_id: &str,
                key_sealed: &[u8],
                cert_der: &[u8],
                now_ms: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(INSERT_SP_KEY)
                    .bind(pool_id)
                    .bind(key_sealed)
                    .bind(cert_der)
                    .bind(now_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict_or)?;
                Ok(())
            }

            async fn get_sp_key(&self, pool_id: &str) -> Result<Option<(Vec<u8>, Vec<u8>)>, StoreError> {
                let row: Option<(Vec<u8>, Vec<u8>)> =
                    sqlx::query_as(SELECT_SP_KEY).bind(pool_id).fetch_optional(&self.pool).await?;
                Ok(row)
            }

            async fn delete_link(
                &self,
                pool_id: &str,
                provider: &str,
                subject: &str,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(DELETE_LINK)
                    .bind(pool_id)
                    .bind(provider)
                    .bind(subject)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(super) use federation_store;
