//! `cirrus serve` and `cirrus migrate`.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)]

use std::path::PathBuf;
use std::process::ExitCode;

use cirrus::Config;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cirrus",
    version,
    about = "Self-hosted identity provider speaking the Cognito, OIDC and STS wires"
)]
struct Cli {
    /// TOML configuration file; CIRRUS_* variables override its keys.
    #[arg(long, global = true, env = "CIRRUS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the server (applies migrations first).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Give a user pool a new token-signing key (old keys stay in its JWKS
    /// until the tokens they signed have expired).
    RotateKeys {
        /// The user pool id, e.g. us-east-1_AbC123xyz.
        #[arg(long)]
        pool_id: String,
    },
    /// Print the key ring that verifies temporary credentials, for resource
    /// servers using the sts-broker library or tower layer
    /// (CIRRUS_SESSION_KEYS). It can also mint credentials: keep it secret.
    SessionKeys,
    /// Print the secret that signs a user pool's trigger webhook calls
    /// (X-Cirrus-Signature), for the hook server's configuration.
    HookSecret {
        /// The user pool id.
        #[arg(long)]
        pool_id: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref(), |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cirrus: {e:#}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&config.log).unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cirrus: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Migrate => cirrus::server::migrate_only(&config).await,
            Command::RotateKeys { pool_id } => {
                cirrus::server::rotate_keys(&config, &pool_id).await.map(|kid| {
                    println!("pool {pool_id} now signs with key {kid}");
                })
            }
            Command::SessionKeys => cirrus::server::master_key(&config).and_then(|key| {
                let ring = cirrus::server::session_keys(&config, &key)?;
                println!("{}", ring.export(&key));
                Ok(())
            }),
            Command::HookSecret { pool_id } => cirrus::server::master_key(&config).map(|key| {
                println!("{}", cirrus::server::hook_secret(&key, &pool_id));
            }),
            Command::Serve => serve(config).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("cirrus: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let server = cirrus::start(config).await?;
    if server.admin_generated {
        // Printed once, on the start that generated them; never logged.
        println!("Admin credentials (shown once; store them now):");
        println!("  aws_access_key_id     = {}", server.admin.access_key_id);
        println!("  aws_secret_access_key = {}", server.admin.secret_access_key());
        println!("Endpoint: {}", server.public_url);
    }
    wait_for_signal().await;
    tracing::info!("shutting down: draining in-flight requests");
    server.shutdown().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("cannot listen for SIGTERM ({e}); stopping on Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}
