//! Email through lettre: SMTP (plain, STARTTLS or TLS) or an outbox
//! directory of `.eml` files.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{DeliveryError, EmailMessage, EmailSender};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain SMTP (loopback relays and tests only).
    None,
    StartTls,
    Tls,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
}

pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpSender {
    pub fn new(s: &SmtpSettings) -> Result<Self, DeliveryError> {
        let builder = match s.security {
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
            SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)
                .map_err(|e| DeliveryError(format!("SMTP relay {}: {e}", s.host)))?,
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host)
                .map_err(|e| DeliveryError(format!("SMTP relay {}: {e}", s.host)))?,
        };
        let mut builder = builder.port(s.port).timeout(Some(Duration::from_secs(10)));
        if let (Some(user), Some(password)) = (&s.username, &s.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Self { transport: builder.build() })
    }
}

fn build(message: &EmailMessage) -> Result<Message, DeliveryError> {
    let bad = |what: &str, e: &dyn std::fmt::Display| DeliveryError(format!("{what}: {e}"));
    Message::builder()
        .message_id(None)
        .from(message.from.parse().map_err(|e| bad("sender address", &e))?)
        .to(message.to.parse().map_err(|e| bad("recipient address", &e))?)
        .subject(message.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .body(message.body.clone())
        .map_err(|e| bad("message", &e))
}

#[async_trait]
impl EmailSender for SmtpSender {
    async fn send_email(&self, message: &EmailMessage) -> Result<(), DeliveryError> {
        let email = build(message)?;
        // One retry for transient failures (4xx replies, dropped connections);
        // a message is sent at most twice, never queued past the request.
        let mut last = None;
        for attempt in 0..2 {
            match self.transport.send(email.clone()).await {
                Ok(_) => return Ok(()),
                Err(e) if attempt == 0 && (e.is_transient() || e.is_timeout()) => last = Some(e),
                Err(e) => return Err(DeliveryError(format!("SMTP: {e}"))),
            }
        }
        Err(DeliveryError(format!("SMTP: {}", last.map(|e| e.to_string()).unwrap_or_default())))
    }
}

/// Writes each message as `<id>.eml` into a directory.
pub struct OutboxEmail {
    dir: PathBuf,
    transport: AsyncFileTransport<Tokio1Executor>,
}

impl OutboxEmail {
    pub fn new(dir: PathBuf) -> Result<Self, DeliveryError> {
        std::fs::create_dir_all(&dir).map_err(|e| DeliveryError(format!("outbox {}: {e}", dir.display())))?;
        Ok(Self { transport: AsyncFileTransport::new(&dir), dir })
    }
}

#[async_trait]
impl EmailSender for OutboxEmail {
    async fn send_email(&self, message: &EmailMessage) -> Result<(), DeliveryError> {
        let id = self
            .transport
            .send(build(message)?)
            .await
            .map_err(|e| DeliveryError(format!("outbox {}: {e}", self.dir.display())))?;
        tracing::info!(file = %self.dir.join(format!("{id}.eml")).display(), "email written to the outbox");
        Ok(())
    }
}
