//! The `talkjs-emulator` binary: runs the emulator until stopped (see `--help`).
//!
//! When ready it prints exactly one line to stdout: `listening on http://HOST:PORT`. Logs go to
//! stderr, filtered by `RUST_LOG` (default `info`): one line per connection and per HTTP
//! request, and at `debug` one per realtime request. Secrets and tokens are never logged.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use talkjs_emulator::Emulator;
use talkjs_emulator::config::{DEFAULT_APP_ID, DEFAULT_BIND, DEFAULT_MAX_UPLOAD_BYTES};
use talkjs_emulator::state_file::StateFile;
use tracing_subscriber::EnvFilter;

/// The log filter when `RUST_LOG` is not set.
const DEFAULT_LOG: &str = "info";

/// A TalkJS-compatible local server: the realtime and HTTP API of TalkJS's clients, TalkJS's
/// REST API v1, and state that survives restarts with --data.
#[derive(Debug, Parser)]
#[command(name = "talkjs-emulator", version, about)]
struct Cli {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "TALKJS_EMULATOR_BIND", value_name = "ADDR:PORT", default_value = DEFAULT_BIND)]
    bind: String,
    /// The app id to serve.
    #[arg(long, env = "TALKJS_EMULATOR_APP_ID", value_name = "ID", default_value = DEFAULT_APP_ID)]
    app_id: String,
    /// The app's secret key: user JWTs (HS256) must be signed with it, and the REST API accepts
    /// it or app tokens signed with it. Without it the app is unauthenticated.
    #[arg(
        long,
        env = "TALKJS_EMULATOR_SECRET",
        value_name = "KEY",
        hide_env_values = true
    )]
    secret: Option<String>,
    /// Largest accepted upload, in bytes.
    #[arg(long, env = "TALKJS_EMULATOR_MAX_UPLOAD_BYTES", value_name = "N", default_value_t = DEFAULT_MAX_UPLOAD_BYTES)]
    max_upload_bytes: u64,
    /// Refuse user writes from clients (403); the REST API still writes.
    #[arg(long)]
    no_user_sync: bool,
    /// Refuse conversation and participant writes from clients (403); the REST API still writes.
    #[arg(long)]
    no_conversation_sync: bool,
    /// Keep the state in an SQLite database in DIR: it survives restarts, even kill -9.
    #[arg(long, env = "TALKJS_EMULATOR_DATA", value_name = "DIR")]
    data: Option<PathBuf>,
    /// A JSON fixture (the export format) loaded at start when the state is empty, and restored
    /// by every POST /emulator/v1/apps/{appId}/reset.
    #[arg(long, env = "TALKJS_EMULATOR_SEED", value_name = "FILE")]
    seed: Option<PathBuf>,
    /// Replace the state with this JSON export at start.
    #[arg(long, value_name = "FILE")]
    import: Option<PathBuf>,
    /// Write the state to FILE as JSON (atomically) and exit, or with --export-on-exit serve
    /// and write it when stopped by SIGTERM or Ctrl-C.
    #[arg(long, value_name = "FILE")]
    export: Option<PathBuf>,
    /// Serve, and write --export FILE on SIGTERM or Ctrl-C.
    #[arg(long, requires = "export")]
    export_on_exit: bool,
    /// Post TalkJS webhook events (message.sent, user.created, ...) to URL, signed with --secret.
    /// Repeat for more receivers (in the environment variable: comma-separated). The delivery
    /// log is at GET /emulator/v1/apps/{appId}/webhooks.
    #[arg(
        long,
        env = "TALKJS_EMULATOR_WEBHOOK_URL",
        value_name = "URL",
        value_delimiter = ',',
        value_parser = webhook_url
    )]
    webhook_url: Vec<String>,
}

/// A `--webhook-url` the emulator can post to, or why not.
fn webhook_url(url: &str) -> Result<String, String> {
    talkjs_emulator::webhooks::check_url(url).map(|()| url.to_owned())
}

/// Why the binary stops with an error.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    State(#[from] talkjs_emulator::state_file::StateFileError),
    #[error("cannot listen on {0}: {1}")]
    Listen(String, std::io::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

fn emulator(cli: &Cli) -> Result<Emulator, Failure> {
    let mut e = Emulator::builder()
        .app_id(cli.app_id.clone())
        .max_upload_bytes(cli.max_upload_bytes)
        .user_sync(!cli.no_user_sync)
        .conversation_sync(!cli.no_conversation_sync);
    if let Some(secret) = &cli.secret {
        e = e.secret(secret.clone());
    }
    for url in &cli.webhook_url {
        e = e.webhook_url(url.clone());
    }
    if let Some(dir) = &cli.data {
        e = e.data_dir(dir.clone());
    }
    if let Some(file) = &cli.seed {
        e = e.seed(StateFile::read(file)?);
    }
    if let Some(file) = &cli.import {
        e = e.import(StateFile::read(file)?);
    }
    Ok(e)
}

/// Resolves on the first SIGTERM or Ctrl-C.
async fn stop_signal() -> std::io::Result<()> {
    let mut term = actix_rt::signal::unix::signal(actix_rt::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = actix_rt::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let emulator = emulator(&cli)?;
    let one_shot_export = cli.export.as_ref().filter(|_| !cli.export_on_exit);
    // A one-shot export binds nothing that outlives it: port 0 on loopback.
    let bind = if one_shot_export.is_some() {
        "127.0.0.1:0"
    } else {
        &cli.bind
    };
    let running = emulator
        .start(bind)
        .await
        .map_err(|e| Failure::Listen(bind.to_owned(), e))?;
    if let Some(file) = one_shot_export {
        running.export_state().write_atomic(file)?;
        tracing::info!(file = %file.display(), "exported");
        running.stop().await;
        return Ok(());
    }
    println!("listening on {}", running.url());
    match &cli.export {
        Some(file) => {
            stop_signal().await?;
            // The state is taken before the server stops; the write is atomic, so a second
            // signal during it leaves the previous export whole.
            running.export_state().write_atomic(file)?;
            tracing::info!(file = %file.display(), "exported on exit");
            running.stop().await;
        }
        None => running.wait().await?,
    }
    Ok(())
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, not for a file or a pipe.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("talkjs-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}
