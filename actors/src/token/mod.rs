//! Tokens: where a session gets the JWT (or other token) it authenticates with.
//!
//! A session asks for a token by sending [`NeedToken`] to a `Recipient<NeedToken>`: any actor can
//! be the token source. Most applications give a [`TokenProvider`] instead, and the session wraps
//! it in a [`TokenActor`], which makes sure concurrent requests share one fetch.
//!
//! Providers shipped here: [`FixedToken`] (one token, never refreshed), [`TokenFn`] (an async
//! closure), [`HttpTokenEndpoint`] (your backend's token URL, fetched with awc) and [`JwtSigner`]
//! (for backends that hold the app's secret key and sign tokens themselves).
//!
//! A session asks for a token before the first connection, before the current token expires
//! (scheduled from its `exp`), when the server answers 401, and on `session.expired`. A provider
//! that fails terminates the session with [`crate::ErrorKind::AuthFailed`].

mod closure;
mod fixed;
mod http;
mod jwt;

use std::future::Future;
use std::pin::Pin;

use actix::prelude::*;

pub use closure::TokenFn;
pub use fixed::FixedToken;
pub use http::HttpTokenEndpoint;
pub use jwt::JwtSigner;

/// Why a session needs a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenReason {
    /// The session has no token yet.
    Initial,
    /// The current token expires soon.
    Expiring,
    /// The server refused the current token (401).
    Rejected,
    /// The server said the session expired (`session.expired`).
    SessionExpired,
}

/// What a token is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenRequest {
    /// The TalkJS app.
    pub app_id: String,
    /// The user the session acts as (the token's `sub`).
    pub user_id: String,
    /// Why it is needed.
    pub reason: TokenReason,
}

/// A token source failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token provider failed: {0}")]
pub struct TokenError(pub String);

/// The message a session sends to its token source.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<String, TokenError>")]
pub struct NeedToken(pub TokenRequest);

/// A future returned by a provider. It runs on the session's arbiter, so it need not be `Send`
/// (awc's futures are not).
pub type TokenFuture = Pin<Box<dyn Future<Output = Result<String, TokenError>>>>;

/// Something that can produce tokens.
pub trait TokenProvider: Send + 'static {
    /// Fetches a token for the request's user.
    fn fetch_token(&self, request: TokenRequest) -> TokenFuture;
}

/// Serves [`NeedToken`] from a [`TokenProvider`], one fetch at a time: requests that arrive while
/// a fetch is running get its result.
pub struct TokenActor {
    provider: Box<dyn TokenProvider>,
    waiting: Vec<tokio::sync::oneshot::Sender<Result<String, TokenError>>>,
}

impl TokenActor {
    /// An actor around a provider.
    pub fn new(provider: impl TokenProvider) -> TokenActor {
        TokenActor {
            provider: Box::new(provider),
            waiting: Vec::new(),
        }
    }
}

impl Actor for TokenActor {
    type Context = Context<Self>;
}

impl Handler<NeedToken> for TokenActor {
    type Result = ResponseFuture<Result<String, TokenError>>;

    fn handle(&mut self, msg: NeedToken, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.waiting.push(tx);
        if self.waiting.len() == 1 {
            let fetch = self.provider.fetch_token(msg.0);
            ctx.spawn(fetch.into_actor(self).map(|result, act, _| {
                for waiter in act.waiting.drain(..) {
                    let _ = waiter.send(result.clone());
                }
            }));
        }
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| Err(TokenError("the token actor stopped".into())))
        })
    }
}
