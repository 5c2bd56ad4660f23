//! The `talkjs-emulator` binary: runs the emulator until killed.
//!
//! ```text
//! talkjs-emulator [--bind ADDR:PORT] [--app-id ID] [--secret KEY] [--max-upload-bytes N]
//!                 [--no-user-sync] [--no-conversation-sync]
//! ```
//! When ready it prints exactly one line to stdout: `listening on http://HOST:PORT`.

use std::process::ExitCode;

use talkjs_emulator::Emulator;
use talkjs_emulator::config::{DEFAULT_APP_ID, DEFAULT_BIND, DEFAULT_MAX_UPLOAD_BYTES};

fn usage() -> String {
    format!(
        "talkjs-emulator: a TalkJS-compatible local server\n\n\
         Usage: talkjs-emulator [OPTIONS]\n\n\
         Options:\n  \
           --bind ADDR:PORT        address to listen on (default {DEFAULT_BIND}; port 0 picks a free port)\n  \
           --app-id ID             the app id to serve (default {DEFAULT_APP_ID})\n  \
           --secret KEY            require user JWTs (HS256) signed with KEY; without it the app is unauthenticated\n  \
           --max-upload-bytes N    largest accepted upload (default {DEFAULT_MAX_UPLOAD_BYTES})\n  \
           --no-user-sync          refuse user writes from clients (403)\n  \
           --no-conversation-sync  refuse conversation and participant writes from clients (403)\n  \
           -h, --help              print this help\n"
    )
}

struct Args {
    bind: String,
    emulator: Emulator,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut bind = DEFAULT_BIND.to_owned();
    let mut emulator = Emulator::builder();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--bind" => bind = value("--bind")?,
            "--app-id" => emulator = emulator.app_id(value("--app-id")?),
            "--secret" => emulator = emulator.secret(value("--secret")?),
            "--max-upload-bytes" => {
                let n = value("--max-upload-bytes")?;
                let n = n
                    .parse()
                    .map_err(|_| format!("--max-upload-bytes: {n:?} is not a number"))?;
                emulator = emulator.max_upload_bytes(n);
            }
            "--no-user-sync" => emulator = emulator.user_sync(false),
            "--no-conversation-sync" => emulator = emulator.conversation_sync(false),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(Args { bind, emulator }))
}

#[actix_web::main]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("talkjs-emulator: {e}\n\n{}", usage());
            return ExitCode::from(2);
        }
    };
    let running = match args.emulator.start(&args.bind).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("talkjs-emulator: cannot listen on {}: {e}", args.bind);
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", running.url());
    match running.wait().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("talkjs-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}
