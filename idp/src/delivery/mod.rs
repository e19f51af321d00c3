//! Delivery of codes and messages: email over SMTP or to an outbox
//! directory, SMS to a signed webhook or to the outbox. Nothing is dropped
//! silently: a message either leaves or the caller gets
//! `CodeDeliveryFailureException`.

use std::sync::Arc;

use async_trait::async_trait;

pub mod email;
pub mod sms;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailMessage {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsMessage {
    pub to: String,
    pub body: String,
    pub pool_id: String,
    /// Why it was sent (`signup`, `invitation`, …).
    pub purpose: &'static str,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DeliveryError(pub String);

#[async_trait]
pub trait EmailSender: Send + Sync {
    async fn send_email(&self, message: &EmailMessage) -> Result<(), DeliveryError>;
}

#[async_trait]
pub trait SmsSender: Send + Sync {
    async fn send_sms(&self, message: &SmsMessage) -> Result<(), DeliveryError>;
}

/// The channels of one process, shared by every pool.
#[derive(Clone)]
pub struct Delivery {
    pub email: Arc<dyn EmailSender>,
    pub sms: Arc<dyn SmsSender>,
    /// `From` when the pool's EmailConfiguration names none.
    pub default_from: String,
}

/// `j***@e***` and `+*******1234`, as Cognito shows destinations.
pub fn mask_destination(value: &str) -> String {
    if let Some((local, domain)) = value.split_once('@') {
        let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
        return format!("{}***@{}***", first(local), first(domain));
    }
    let digits: Vec<char> = value.chars().collect();
    let keep = digits.len().min(4);
    let (hidden, shown) = digits.split_at(digits.len() - keep);
    let mut out = String::new();
    for (i, c) in hidden.iter().enumerate() {
        out.push(if i == 0 && *c == '+' { '+' } else { '*' });
    }
    out.extend(shown);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask_destination("jane@example.com"), "j***@e***");
        assert_eq!(mask_destination("+15555550123"), "+*******0123");
        assert_eq!(mask_destination("12"), "12");
    }
}
