//! The session's auth state: the current token, where the next one comes from (a
//! [`NeedToken`] recipient: the token actor of a provider, bokens, or any actor of yours), and
//! its refresh before expiry, on the official client's schedule (docs/protocol.md §2.5).
//!
//! A connection asks the session for tokens (`Notice::NeedToken`): the cached one for a first
//! socket, a new one after a refusal. The session and its connection share one copy of the
//! token (an `Arc<str>`). A source that fails ends the session with `AuthFailed`.

use std::time::Duration;

use actix::prelude::*;

use super::{Session, TokenSource};
use crate::boken::BokenProvider;
use crate::connection::{SetToken, Token, TokenReply};
use crate::error::{Error, ErrorKind};
use crate::token::{NeedToken, TokenError, TokenProvider, TokenReason, TokenRequest};

/// A token fetch's answer: `None` when the source is gone (or there is none).
type Answer = Option<Result<String, TokenError>>;

/// Where the session's next token comes from.
pub(super) enum Source {
    /// A provider (bokens included), run on the session's own context one fetch at a time:
    /// requests that arrive while a fetch runs get its result (what a
    /// [`TokenActor`](crate::token::TokenActor) does, without an actor per session).
    Inline(Box<dyn TokenProvider>),
    /// Any actor that answers [`NeedToken`].
    Actor(Recipient<NeedToken>),
}

/// Refresh a token this long before it expires, when it lives longer than twice this
/// (official client: 300 s, else at half its life).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// The shortest wait before a scheduled token refresh.
pub const MIN_REFRESH_DELAY: Duration = Duration::from_secs(5);

/// When to refresh a token that expires in `life`: [`REFRESH_MARGIN`] before expiry when it lives
/// longer than twice that, else at half its life (the official client's schedule, §2.5).
pub fn refresh_delay(life: Duration) -> Duration {
    let delay = if life > REFRESH_MARGIN * 2 {
        life - REFRESH_MARGIN
    } else {
        life / 2
    };
    // A server that says "0 s left" must not start a refresh loop.
    delay.max(MIN_REFRESH_DELAY)
}

/// Use this token now (also switches a boken session to tokens for future refreshes).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct SetSessionToken(pub(crate) String);

impl std::fmt::Debug for SetSessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens never appear in logs.
        f.write_str("SetSessionToken([redacted])")
    }
}

/// Gets future tokens from this actor instead.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct SetTokenSource(pub(crate) Recipient<NeedToken>);

/// The token to use on HTTP requests (uploads, search): the current one, or a fresh one when
/// `refresh` is set (after a 401).
#[derive(Debug, Message)]
#[rtype(result = "Result<String, Error>")]
pub(crate) struct HttpToken {
    /// Ask the source for a new token instead of using the cached one.
    pub(crate) refresh: bool,
}

impl Session {
    /// Takes up the configured token source.
    pub(super) fn start_token_source(&mut self) {
        let source = match self.tokens.take() {
            Some(TokenSource::Actor(r)) => Source::Actor(r),
            Some(TokenSource::Provider(p)) => Source::Inline(p),
            Some(TokenSource::Boken { signature }) => Source::Inline(Box::new(BokenProvider::new(
                self.urls.internal.clone(),
                signature,
            ))),
            None => return,
        };
        self.source = Some(source);
    }

    /// Asks the source for a token. An inline provider runs one fetch at a time on the
    /// session's context; a request made while one runs waits for its result.
    fn ask_source(
        &mut self,
        msg: NeedToken,
        ctx: &mut Context<Self>,
    ) -> futures_util::future::LocalBoxFuture<'static, Answer> {
        match &self.source {
            None => Box::pin(std::future::ready(None)),
            Some(Source::Actor(r)) => {
                let r = r.clone();
                Box::pin(async move { r.send(msg).await.ok() })
            }
            Some(Source::Inline(provider)) => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                if self.token_waiting.is_empty() {
                    let fetch = provider.fetch_token(msg.0);
                    ctx.spawn(fetch.into_actor(self).map(|result, act, _| {
                        for waiter in act.token_waiting.drain(..) {
                            let _ = waiter.send(result.clone());
                        }
                        act.token_waiting = Vec::new();
                    }));
                }
                self.token_waiting.push(tx);
                Box::pin(async move { rx.await.ok() })
            }
        }
    }

    fn token_request(&self, reason: TokenReason) -> NeedToken {
        NeedToken(TokenRequest {
            app_id: self.app_id.to_string(),
            user_id: self.user_id.to_string(),
            reason,
        })
    }

    /// Schedules a token refresh before expiry, as the official client does (§2.5).
    pub(super) fn schedule_refresh(&mut self, expires_in: u64, ctx: &mut Context<Self>) {
        if self.terminated.is_some() {
            return;
        }
        if let Some(h) = self.refresh_timer.take() {
            ctx.cancel_future(h);
        }
        let delay = refresh_delay(Duration::from_secs(expires_in));
        tracing::debug!(parent: &self.span, expires_in, ?delay, "token refresh scheduled");
        self.refresh_timer = Some(ctx.run_later(delay, |act, ctx| {
            act.refresh_timer = None;
            let request = act.token_request(TokenReason::Expiring);
            let fetch = act.ask_source(request, ctx);
            ctx.spawn(fetch.into_actor(act).map(|result, act, _| match result {
                        Some(Ok(token)) => {
                            let token = Token::from(token);
                            act.token = Some(token.clone());
                            if let Some(conn) = &act.connection {
                                conn.do_send(SetToken(token));
                            }
                        }
                        // Not fatal: the session lives until the server expires the token,
                        // and then the connection asks again.
                        Some(Err(e)) => {
                            tracing::warn!(parent: &act.span, error = %e, "scheduled token refresh failed")
                        }
                        None => {
                            tracing::warn!(parent: &act.span, "token source gone before a scheduled refresh")
                        }
                    }));
        }));
    }
}

impl Session {
    /// A token for the connection: the cached one for a first connection, else a new one from
    /// the source (which then becomes the cached one).
    fn token_for(
        &mut self,
        reason: TokenReason,
        ctx: &mut Context<Self>,
    ) -> ResponseActFuture<Self, Result<Token, TokenError>> {
        if self.terminated.is_some() {
            let e = TokenError("the session was terminated".into());
            return Box::pin(async move { Err(e) }.into_actor(self));
        }
        if reason == TokenReason::Initial
            && let Some(token) = self.token.clone()
        {
            return Box::pin(async move { Ok(token) }.into_actor(self));
        }
        let request = self.token_request(reason);
        Box::pin(
            self.ask_source(request, ctx)
                .into_actor(self)
                .map(|result, act, _| {
                    let result = result
                        .unwrap_or_else(|| Err(TokenError("the token source stopped".into())));
                    // A failure is the asker's to report: the connection adds what the server said
                    // when it refused the last token, and ends the session with the whole story.
                    let token = Token::from(result?);
                    act.token = Some(token.clone());
                    Ok(token)
                }),
        )
    }

    /// The connection asked for a token (`Notice::NeedToken`): answers it when there is one.
    pub(super) fn answer_token(
        &mut self,
        reason: TokenReason,
        reply: TokenReply,
        ctx: &mut Context<Self>,
    ) {
        let token = self.token_for(reason, ctx);
        ctx.spawn(token.map(|token, _, _| {
            let _ = reply.send(token);
        }));
    }
}

impl Handler<SetSessionToken> for Session {
    type Result = ();

    fn handle(&mut self, msg: SetSessionToken, _ctx: &mut Context<Self>) {
        let token = Token::from(msg.0);
        self.token = Some(token.clone());
        if let Some(conn) = &self.connection
            && conn.connected()
        {
            conn.do_send(SetToken(token));
        }
    }
}

impl Handler<SetTokenSource> for Session {
    type Result = ();

    fn handle(&mut self, msg: SetTokenSource, _ctx: &mut Context<Self>) {
        self.source = Some(Source::Actor(msg.0));
    }
}

impl Handler<HttpToken> for Session {
    type Result = ResponseActFuture<Self, Result<String, Error>>;

    fn handle(&mut self, msg: HttpToken, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(e) = self.terminated_error("Authenticate".into()) {
            return Box::pin(async move { Err(e) }.into_actor(self));
        }
        let reason = match (msg.refresh, &self.token) {
            (false, Some(token)) => {
                let token = token.to_string();
                return Box::pin(async move { Ok(token) }.into_actor(self));
            }
            (false, None) => TokenReason::Initial,
            (true, _) => TokenReason::Rejected,
        };
        let fetch = self.token_for(reason, ctx);
        Box::pin(fetch.map(move |result, act, ctx| {
            let token = match result {
                Ok(token) => token,
                Err(e) => {
                    let error = Error::new("Authenticate", ErrorKind::AuthFailed(e.to_string()));
                    act.terminate(error.clone(), ctx);
                    return Err(error);
                }
            };
            if let Some(conn) = &act.connection
                && conn.connected()
                && reason == TokenReason::Rejected
            {
                // A new token also renews the live socket, as the official client does.
                conn.do_send(SetToken(token.clone()));
            }
            Ok(token.to_string())
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_refreshed_before_they_expire() {
        assert_eq!(
            refresh_delay(Duration::from_secs(86_400)),
            Duration::from_secs(86_100)
        );
        assert_eq!(
            refresh_delay(Duration::from_secs(600)),
            Duration::from_secs(300)
        );
        assert_eq!(
            refresh_delay(Duration::from_secs(40)),
            Duration::from_secs(20)
        );
    }
}
