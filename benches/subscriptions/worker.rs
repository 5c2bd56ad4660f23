//! A measurement in a process of its own: this binary again, with `--role`, talking to the
//! orchestrator over its stdout.

use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Res, Target};

/// A measurement in a fresh process: this binary again, with `--role`. Killed when dropped.
pub(super) struct Worker {
    role: String,
    child: Child,
    stdout: Option<BufReader<ChildStdout>>,
}

impl Worker {
    pub(super) fn spawn(role: &str, target: &Target, args: &[(&str, String)]) -> Res<Worker> {
        // BENCH_WRAP="heaptrack -o /tmp/idle" runs each measured process under a profiler.
        let exe = std::env::current_exe()?;
        let mut command = match std::env::var("BENCH_WRAP") {
            Ok(wrap) if !wrap.trim().is_empty() => {
                let mut words = wrap.split_whitespace();
                let mut command = Command::new(words.next().unwrap_or_default());
                command.args(words).arg(exe);
                command
            }
            _ => Command::new(exe),
        };
        command.args(["--role", role]).args(target.to_args());
        for (name, value) in args {
            command.arg(format!("--{name}")).arg(value);
        }
        // The worker's stdout is its protocol lines; its stderr is ours.
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().map(BufReader::new);
        Ok(Worker {
            role: role.to_owned(),
            child,
            stdout,
        })
    }

    /// The worker's next stdout line, read on a blocking thread so the orchestrator's sessions
    /// keep running meanwhile.
    /// Lines that are neither `ready` nor JSON are a wrapper's (`BENCH_WRAP`): passed to stderr.
    pub(super) async fn line(&mut self) -> Res<String> {
        loop {
            let mut stdout = self.stdout.take().ok_or("the worker's stdout is closed")?;
            let (stdout, read) = actix_rt::task::spawn_blocking(move || {
                let mut line = String::new();
                let read = stdout.read_line(&mut line).map(|_| line);
                (stdout, read)
            })
            .await?;
            self.stdout = Some(stdout);
            let line = read?;
            if line.is_empty() {
                let status = self.child.wait()?;
                return Err(format!("{} exited ({status}) before reporting", self.role).into());
            }
            if line.trim() == "ready" || line.starts_with('{') {
                return Ok(line);
            }
            eprint!("[{}] {line}", self.role);
        }
    }

    /// The worker's result: its next line, parsed.
    pub(super) async fn result(&mut self) -> Res<Value> {
        let line = self.line().await?;
        match serde_json::from_str::<Value>(&line) {
            Ok(v) if v.get("error").is_none() => Ok(v),
            _ => Err(self.failure(&line)),
        }
    }

    pub(super) fn failure(&self, line: &str) -> Box<dyn Error> {
        let line = line.trim();
        match serde_json::from_str::<Value>(line) {
            Ok(v) if v["error"].is_string() => {
                format!("{}: {}", self.role, v["error"].as_str().unwrap_or_default()).into()
            }
            _ => format!("{}: unexpected line {line:?}", self.role).into(),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // A profiler (BENCH_WRAP) writes its data as the worker exits: let it.
        if std::env::var_os("BENCH_WRAP").is_some() {
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One line to the orchestrator.
pub(super) fn report(line: &str) -> Res<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}
