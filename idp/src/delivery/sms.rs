//! SMS through a webhook (JSON POST signed with HMAC-SHA256) or the outbox.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

use super::{DeliveryError, SmsMessage, SmsSender};

/// Posts `{"kind":"sms","to","message","pool_id","purpose"}` with
/// `X-Cirrus-Timestamp` and `X-Cirrus-Signature: sha256=<hex HMAC-SHA256(secret,
/// timestamp + "." + body)>`; any 2xx answer is a delivery.
pub struct WebhookSms {
    url: String,
    secret: String,
    client: reqwest::Client,
}

impl WebhookSms {
    pub fn new(url: String, secret: String) -> Result<Self, DeliveryError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| DeliveryError(format!("SMS webhook client: {e}")))?;
        Ok(Self { url, secret, client })
    }
}

fn payload(message: &SmsMessage) -> Vec<u8> {
    serde_json::json!({
        "kind": "sms",
        "to": message.to,
        "message": message.body,
        "pool_id": message.pool_id,
        "purpose": message.purpose,
    })
    .to_string()
    .into_bytes()
}

pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    format!("sha256={}", hex::encode(secrets::hmac_sha256(secret.as_bytes(), &signed)))
}

#[async_trait]
impl SmsSender for WebhookSms {
    async fn send_sms(&self, message: &SmsMessage) -> Result<(), DeliveryError> {
        let body = payload(message);
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let sig = signature(&self.secret, timestamp, &body);
        let mut last = String::new();
        // Retried once on a connection failure or a 5xx: the webhook is
        // expected to be idempotent per message, as the signature is fixed.
        for _ in 0..2 {
            let sent = self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .header("x-cirrus-timestamp", timestamp.to_string())
                .header("x-cirrus-signature", &sig)
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) if r.status().is_server_error() => last = format!("webhook answered {}", r.status()),
                Ok(r) => return Err(DeliveryError(format!("SMS webhook answered {}", r.status()))),
                Err(e) => last = format!("SMS webhook: {e}"),
            }
        }
        Err(DeliveryError(last))
    }
}

/// Writes each message as `<id>.sms.json` into a directory.
pub struct OutboxSms {
    dir: PathBuf,
}

impl OutboxSms {
    pub fn new(dir: PathBuf) -> Result<Self, DeliveryError> {
        std::fs::create_dir_all(&dir).map_err(|e| DeliveryError(format!("outbox {}: {e}", dir.display())))?;
        Ok(Self { dir })
    }
}

#[async_trait]
impl SmsSender for OutboxSms {
    async fn send_sms(&self, message: &SmsMessage) -> Result<(), DeliveryError> {
        let path = self.dir.join(format!("{}.sms.json", uuid::Uuid::new_v4()));
        tokio::fs::write(&path, payload(message))
            .await
            .map_err(|e| DeliveryError(format!("outbox {}: {e}", path.display())))?;
        tracing::info!(file = %path.display(), "SMS written to the outbox");
        Ok(())
    }
}
