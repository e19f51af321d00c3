//! The store suite: the same checks against the SQLite and PostgreSQL
//! implementations of the user-pool store traits.

use cirrus::db::Database;
use idp::model::{AppClient, ClientSettings, PoolSettings, UserPool};
use idp::store::{IdpStore, StoreError};

use crate::harness::*;

fn pool(id: &str) -> UserPool {
    UserPool {
        id: id.into(),
        name: format!("name-{id}"),
        created_ms: 1_700_000_000_123,
        updated_ms: 1_700_000_000_123,
        settings: PoolSettings { sms_verification_message: Some("code {####}".into()), ..Default::default() },
        schema: vec![],
    }
}

fn client(pool_id: &str, id: &str) -> AppClient {
    AppClient {
        client_id: id.into(),
        pool_id: pool_id.into(),
        name: "c".into(),
        secret_sealed: Some(vec![1, 2, 3, 0, 255]),
        created_ms: 1,
        updated_ms: 2,
        settings: ClientSettings {
            callback_urls: Some(vec!["https://x.example/cb".into()]),
            ..Default::default()
        },
    }
}

async fn suite(store: &dyn IdpStore, backend: Backend) {
    let p = pool("us-east-1_aaaaaaaaa");
    store.insert_pool(&p).await.unwrap();
    assert!(matches!(store.insert_pool(&p).await, Err(StoreError::Conflict)), "{backend:?}: duplicate id");
    assert_eq!(store.get_pool(&p.id).await.unwrap().as_ref(), Some(&p), "{backend:?}: round trip");
    assert!(store.get_pool("us-east-1_zzzzzzzzz").await.unwrap().is_none());

    let mut changed = p.clone();
    changed.name = "renamed".into();
    changed.updated_ms += 5;
    changed.settings.sms_verification_message = None;
    assert!(store.update_pool(&changed).await.unwrap());
    assert_eq!(store.get_pool(&p.id).await.unwrap(), Some(changed.clone()));
    assert!(!store.update_pool(&pool("us-east-1_nothere00")).await.unwrap());

    for id in ["us-east-1_bbbbbbbbb", "us-east-1_ccccccccc", "us-east-1_ddddddddd"] {
        store.insert_pool(&pool(id)).await.unwrap();
    }
    let first = store.list_pools(None, 2).await.unwrap();
    assert_eq!(
        first.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["us-east-1_aaaaaaaaa", "us-east-1_bbbbbbbbb"]
    );
    let rest = store.list_pools(Some("us-east-1_bbbbbbbbb"), 10).await.unwrap();
    assert_eq!(rest.len(), 2);

    let c = client(&p.id, "client1");
    store.insert_client(&c).await.unwrap();
    assert!(matches!(store.insert_client(&c).await, Err(StoreError::Conflict)));
    assert_eq!(store.get_client(&p.id, "client1").await.unwrap(), Some(c.clone()));
    assert!(
        store.get_client("us-east-1_bbbbbbbbb", "client1").await.unwrap().is_none(),
        "client of another pool"
    );
    let orphan = client("us-east-1_nothere00", "client9");
    assert!(store.insert_client(&orphan).await.is_err(), "{backend:?}: a client needs its pool");
    let mut c2 = c.clone();
    c2.name = "renamed".into();
    c2.settings.callback_urls = None;
    assert!(store.update_client(&c2).await.unwrap());
    assert_eq!(store.get_client(&p.id, "client1").await.unwrap(), Some(c2));
    store.insert_client(&client(&p.id, "client2")).await.unwrap();
    let listed = store.list_clients(&p.id, Some("client1"), 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].client_id, "client2");

    assert!(store.delete_client(&p.id, "client2").await.unwrap());
    assert!(!store.delete_client(&p.id, "client2").await.unwrap());
    assert!(store.delete_pool(&p.id).await.unwrap());
    assert!(store.get_client(&p.id, "client1").await.unwrap().is_none(), "{backend:?}: cascade");
    assert!(!store.delete_pool(&p.id).await.unwrap());
}

#[tokio::test]
async fn store_suite_on_both_backends() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let config = base_config(dir.path(), backend);
        let (db, _) = Database::connect(&config)
            .await
            .unwrap_or_else(|e| panic!("{backend:?} unreachable (set CIRRUS_TEST_POSTGRES_URL): {e:#}"));
        db.migrate().await.unwrap();
        db.migrate().await.expect("migrations are idempotent");
        suite(db.idp_store().as_ref(), backend).await;
        db.close().await;
        if let Some(schema) = &config.database_schema {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA \"{schema}\" CASCADE")))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
}
