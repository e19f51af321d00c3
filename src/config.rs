//! One typed configuration: a TOML file, then `CIRRUS_*` variables over it.
//! Every key is listed in docs/CONFIGURATION.md with its variable.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: String,
    /// External base URL (issuers, links); default `http://<listen>`.
    pub public_url: Option<String>,
    /// Where SQLite, the generated master key and the outbox live.
    pub data_dir: PathBuf,
    /// `postgres://…` for PostgreSQL, `sqlite://…` for another SQLite file;
    /// default `<data_dir>/cirrus.db`.
    pub database_url: Option<String>,
    /// PostgreSQL schema to use (created if missing); default `public`.
    pub database_schema: Option<String>,
    pub database_max_connections: u32,
    /// Region in pool ids and ARNs.
    pub region: String,
    /// 12-digit account id in ARNs.
    pub account_id: String,
    /// Fixed admin credentials; generated and stored on first start if unset.
    pub admin_access_key_id: Option<String>,
    pub admin_secret_access_key: Option<String>,
    /// Base64 of 32 bytes; default: generated into `<data_dir>/master.key`.
    pub master_key: Option<String>,
    /// tracing filter, e.g. `info` or `cirrus=debug,info`.
    pub log: String,
    /// Origins allowed to call the API from a browser; `*` for any.
    pub cors_allowed_origins: Vec<String>,
    /// How long SIGTERM waits for in-flight requests.
    pub shutdown_grace_seconds: u64,
    /// SMTP relay for email; without it, email goes to `<data_dir>/outbox`.
    pub smtp_host: Option<String>,
    pub smtp_port: u16,
    /// `none`, `starttls` or `tls`.
    pub smtp_tls: String,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<String>,
    /// `From` of messages when the pool's EmailConfiguration names none.
    pub email_from: String,
    /// SMS webhook; without it, SMS go to `<data_dir>/outbox`.
    pub sms_webhook_url: Option<String>,
    pub sms_webhook_secret: Option<String>,
    /// argon2id cost (OWASP defaults).
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Password hashes computed at once (default: the number of cores) and
    /// callers allowed to wait for one before TooManyRequestsException.
    pub hash_concurrency: Option<u32>,
    pub hash_queue: u32,
    /// The key id that seals new temporary-credential session tokens; the
    /// previous id's tokens are still accepted (rotation: add one).
    pub session_key_id: u32,
    /// A directory of hosted-UI templates that replace the built-in ones of
    /// the same file name (see web/templates).
    pub ui_templates_dir: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9229".into(),
            public_url: None,
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_schema: None,
            database_max_connections: 8,
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            admin_access_key_id: None,
            admin_secret_access_key: None,
            master_key: None,
            log: "info".into(),
            cors_allowed_origins: vec!["*".into()],
            shutdown_grace_seconds: 30,
            smtp_host: None,
            smtp_port: 587,
            smtp_tls: "starttls".into(),
            smtp_username: None,
            smtp_password: None,
            email_from: "no-reply@localhost".into(),
            sms_webhook_url: None,
            sms_webhook_secret: None,
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            hash_concurrency: None,
            hash_queue: 32,
            session_key_id: 1,
            ui_templates_dir: None,
        }
    }
}

enum Kind {
    Text,
    Integer,
    List,
}

/// Every key, and how its environment variable is read.
const KEYS: &[(&str, Kind)] = &[
    ("listen", Kind::Text),
    ("public_url", Kind::Text),
    ("data_dir", Kind::Text),
    ("database_url", Kind::Text),
    ("database_schema", Kind::Text),
    ("database_max_connections", Kind::Integer),
    ("region", Kind::Text),
    ("account_id", Kind::Text),
    ("admin_access_key_id", Kind::Text),
    ("admin_secret_access_key", Kind::Text),
    ("master_key", Kind::Text),
    ("log", Kind::Text),
    ("cors_allowed_origins", Kind::List),
    ("shutdown_grace_seconds", Kind::Integer),
    ("smtp_host", Kind::Text),
    ("smtp_port", Kind::Integer),
    ("smtp_tls", Kind::Text),
    ("smtp_username", Kind::Text),
    ("smtp_password", Kind::Text),
    ("email_from", Kind::Text),
    ("sms_webhook_url", Kind::Text),
    ("sms_webhook_secret", Kind::Text),
    ("argon2_memory_kib", Kind::Integer),
    ("argon2_iterations", Kind::Integer),
    ("argon2_parallelism", Kind::Integer),
    ("hash_concurrency", Kind::Integer),
    ("hash_queue", Kind::Integer),
    ("session_key_id", Kind::Integer),
    ("ui_templates_dir", Kind::Text),
];

impl Config {
    /// Reads `file` (if any), applies `CIRRUS_*` from `env`, validates.
    pub fn load(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading configuration file {}", path.display()))?;
                toml::from_str::<toml::Table>(&text)
                    .with_context(|| format!("parsing configuration file {}", path.display()))?
            }
            None => toml::Table::new(),
        };
        for (key, kind) in KEYS {
            let var = format!("CIRRUS_{}", key.to_ascii_uppercase());
            let Some(raw) = env(&var) else { continue };
            let value = match kind {
                Kind::Text => toml::Value::String(raw),
                Kind::Integer => toml::Value::Integer(
                    raw.trim().parse().with_context(|| format!("{var} must be an integer, not '{raw}'"))?,
                ),
                Kind::List => toml::Value::Array(
                    raw.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| toml::Value::String(s.into()))
                        .collect(),
                ),
            };
            table.insert((*key).to_string(), value);
        }
        let config: Config = table.try_into().context("invalid configuration")?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.listen_addr()?;
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bail!("public_url must start with http:// or https://, not '{url}'");
        }
        if self.region.is_empty()
            || !self.region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            bail!("region must be lowercase letters, digits and '-', like us-east-1; got '{}'", self.region);
        }
        if self.account_id.len() != 12 || !self.account_id.chars().all(|c| c.is_ascii_digit()) {
            bail!("account_id must be 12 digits; got '{}'", self.account_id);
        }
        match (&self.admin_access_key_id, &self.admin_secret_access_key) {
            (Some(id), Some(secret)) => {
                if id.len() < 16 || id.len() > 128 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                    bail!("admin_access_key_id must be 16 to 128 letters and digits");
                }
                if secret.len() < 16 {
                    bail!("admin_secret_access_key must be at least 16 characters");
                }
            }
            (None, None) => {}
            _ => bail!("set both admin_access_key_id and admin_secret_access_key, or neither"),
        }
        if let Some(schema) = &self.database_schema
            && (schema.is_empty() || !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            bail!("database_schema must be letters, digits and '_'");
        }
        if !["none", "starttls", "tls"].contains(&self.smtp_tls.as_str()) {
            bail!("smtp_tls must be none, starttls or tls; got '{}'", self.smtp_tls);
        }
        if self.smtp_username.is_some() != self.smtp_password.is_some() {
            bail!("set both smtp_username and smtp_password, or neither");
        }
        if self.sms_webhook_url.is_some() && self.sms_webhook_secret.as_deref().is_none_or(|s| s.len() < 16) {
            bail!("sms_webhook_url needs sms_webhook_secret (16 characters or more) to sign its calls");
        }
        if self.argon2_memory_kib < 8 * self.argon2_parallelism
            || self.argon2_iterations == 0
            || self.argon2_parallelism == 0
        {
            bail!(
                "argon2 parameters: memory must be at least 8 KiB per lane, iterations and parallelism at least 1"
            );
        }
        if self.database_max_connections == 0 {
            bail!("database_max_connections must be at least 1");
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listen.parse().with_context(|| format!("listen must be address:port, not '{}'", self.listen))
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url
            .as_deref()
            .is_some_and(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_file_then_env() {
        let dir = std::env::temp_dir().join(format!("cirrus-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("cirrus.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:8000\"\nregion = \"eu-west-1\"\n").unwrap();
        let env = |k: &str| match k {
            "CIRRUS_REGION" => Some("ap-south-1".to_string()),
            "CIRRUS_ACCOUNT_ID" => Some("000000000042".to_string()),
            "CIRRUS_CORS_ALLOWED_ORIGINS" => Some("https://a.example, https://b.example".to_string()),
            "CIRRUS_SHUTDOWN_GRACE_SECONDS" => Some("5".to_string()),
            _ => None,
        };
        let c = Config::load(Some(&file), env).unwrap();
        assert_eq!(c.listen, "0.0.0.0:8000");
        assert_eq!(c.region, "ap-south-1");
        assert_eq!(c.account_id, "000000000042");
        assert_eq!(c.cors_allowed_origins, vec!["https://a.example", "https://b.example"]);
        assert_eq!(c.shutdown_grace_seconds, 5);
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let dir = std::env::temp_dir().join(format!("cirrus-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("cirrus.toml");
        std::fs::write(&file, "lissten = \"x\"\n").unwrap();
        assert!(Config::load(Some(&file), |_| None).is_err());
        let bad = |k: &'static str, v: &'static str| move |q: &str| (q == k).then(|| v.to_string());
        assert!(Config::load(None, bad("CIRRUS_LISTEN", "nope")).is_err());
        assert!(Config::load(None, bad("CIRRUS_ACCOUNT_ID", "12")).is_err());
        assert!(Config::load(None, bad("CIRRUS_ADMIN_ACCESS_KEY_ID", "AKIAONLYTHEIDSET")).is_err());
        assert!(Config::load(None, bad("CIRRUS_SHUTDOWN_GRACE_SECONDS", "soon")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
