//! The wire-parity harness shared by `wire_parity*.rs`: replays a recorded flow of the official
//! client (`protocol/tests/fixtures/frames/`) with `talkjs_testkit::replay`, runs the same calls
//! on our runtime, and asserts that the frames and plain HTTP requests are the same.
#![allow(dead_code)]

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use talkjs::token::JwtSigner;
use talkjs::{SessionBuilder, TalkSession};
use talkjs_testkit::replay::{Fixture, HttpAnswers, HttpSeen, ReplayServer};

/// The recorder's app and user.
pub const APP: &str = "app1";
pub const USER: &str = "alice";

/// A user token like the recorder's (any signature: the replay does not check it).
pub fn jwt(user: &str) -> String {
    JwtSigner::new("test-secret")
        .sign(APP, user)
        .expect("signing works")
}

/// One parity check: a scenario, how its session is made, and its own HTTP answers.
pub struct Parity {
    scenario: &'static str,
    user: &'static str,
    setup: Box<dyn FnOnce(SessionBuilder) -> SessionBuilder>,
    http: Option<HttpAnswers>,
    /// How long the client must be silent before the transcript is taken.
    settle: Duration,
    /// Compare each round as a set (see [`Parity::any_order_within_rounds`]).
    any_order: bool,
    /// Official lines we deliberately do not send (see [`Parity::without`]).
    without: Vec<String>,
    /// Lines we deliberately send that the official client does not (see [`Parity::extra`]).
    extra: Vec<String>,
}

impl Parity {
    pub fn new(scenario: &'static str) -> Parity {
        Parity {
            scenario,
            user: USER,
            setup: Box::new(|b| b.token(jwt(USER))),
            http: None,
            settle: Duration::from_millis(300),
            any_order: false,
            without: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// Replaces the default session setup (a static token).
    pub fn session(
        mut self,
        setup: impl FnOnce(SessionBuilder) -> SessionBuilder + 'static,
    ) -> Self {
        self.setup = Box::new(setup);
        self
    }

    pub fn user(mut self, user: &'static str) -> Self {
        self.user = user;
        self
    }

    pub fn http(
        mut self,
        answers: impl Fn(&HttpSeen) -> Option<(u16, String)> + Send + Sync + 'static,
    ) -> Self {
        self.http = Some(Arc::new(answers));
        self
    }

    pub fn settle(mut self, quiet: Duration) -> Self {
        self.settle = quiet;
        self
    }

    /// Compares each round as a set: the same requests in the same round, in any order. For
    /// flows where the official client's order within a round is its JavaScript microtask order
    /// (docs/protocol.md §13); every use says why.
    pub fn any_order_within_rounds(mut self) -> Self {
        self.any_order = true;
        self
    }

    /// Expects these official lines not to be sent (each once), for documented differences
    /// (docs/protocol.md §13); every use says why.
    pub fn without(mut self, lines: &[&str]) -> Self {
        self.without = lines.iter().map(|l| (*l).to_owned()).collect();
        self
    }

    /// Expects these lines, which the official client does not send, from us (each once), for
    /// documented differences (docs/protocol.md §13); every use says why.
    pub fn extra(mut self, lines: &[&str]) -> Self {
        self.extra = lines.iter().map(|l| (*l).to_owned()).collect();
        self
    }

    /// Replays the scenario, runs `calls` on a fresh session, and compares what was sent.
    /// Returns what `calls` returned, to be checked after the frames were.
    pub async fn run<F, Fut, T>(self, calls: F) -> T
    where
        F: FnOnce(TalkSession, Arc<ReplayServer>) -> Fut,
        Fut: Future<Output = T>,
    {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol/tests/fixtures/frames");
        let fixture = Fixture::load(&dir, self.scenario);
        let replay = Arc::new(ReplayServer::start(&fixture, self.http).expect("replay server"));
        let builder = talkjs::get_talk_session(APP, self.user)
            .host(replay.host())
            .force_create_new();
        let session = (self.setup)(builder).await.expect("session");
        let out = calls(session.clone(), replay.clone()).await;
        replay.quiesce(self.settle, Duration::from_secs(20)).await;
        let (mut official, mut ours) = (fixture.client_lines(), replay.client_lines());
        for (lines, from, whose) in [
            (&self.without, &mut official, "official"),
            (&self.extra, &mut ours, "our"),
        ] {
            for line in lines {
                let at = from.iter().position(|l| l == line);
                let at = at.unwrap_or_else(|| panic!("{}: no {whose} line {line}", self.scenario));
                from.remove(at);
            }
        }
        let same = if self.any_order {
            rounds(&ours) == rounds(&official)
        } else {
            ours == official
        };
        assert!(
            same,
            "{}: our frames differ from the official client's\n--- official\n{}\n--- ours\n{}\n--- unmatched\n{}",
            self.scenario,
            official.join("\n"),
            ours.join("\n"),
            replay.unmatched().join("\n"),
        );
        let http: Vec<(String, String)> = replay
            .http()
            .into_iter()
            .map(|h| (h.method, h.url))
            .collect();
        assert_eq!(
            http, fixture.http,
            "{}: plain HTTP requests differ",
            self.scenario
        );
        session.terminate("parity check done");
        if let Ok(replay) = Arc::try_unwrap(replay) {
            replay.stop().await;
        }
        out
    }
}

/// The common case: default session, calls only.
pub async fn assert_parity<F, Fut>(scenario: &'static str, calls: F)
where
    F: FnOnce(TalkSession) -> Fut,
    Fut: Future<Output = ()>,
{
    Parity::new(scenario).run(|s, _| calls(s)).await;
}

/// The lines of each round, sorted.
fn rounds(lines: &[String]) -> Vec<Vec<String>> {
    lines
        .split(|l| l == talkjs_testkit::replay::ROUND)
        .map(|round| {
            let mut round = round.to_vec();
            round.sort();
            round
        })
        .collect()
}
