//! A provider written as an async closure: the application fetches or mints tokens however it
//! likes (its own HTTP client, a secrets manager, a database) and the session calls it when it
//! needs one.

use std::fmt;
use std::future::Future;

use super::{TokenError, TokenFuture, TokenProvider, TokenRequest};

/// A provider that calls an async closure for every token.
///
/// The closure's error can be any type that displays; its message becomes the [`TokenError`]. An
/// empty (or blank) token is treated as a failure, since the server would refuse it anyway.
///
/// ```
/// use talkjs_actors::token::{TokenFn, TokenProvider, TokenReason, TokenRequest};
///
/// let provider = TokenFn::new(|request: TokenRequest| async move {
///     if request.user_id == "alice" {
///         Ok(format!("token-for-{}", request.user_id))
///     } else {
///         Err(format!("{} may not chat", request.user_id))
///     }
/// });
/// let request = |user_id: &str| TokenRequest {
///     app_id: "app".into(),
///     user_id: user_id.into(),
///     reason: TokenReason::Initial,
/// };
/// actix_rt::System::new().block_on(async {
///     assert_eq!(
///         provider.fetch_token(request("alice")).await.as_deref(),
///         Ok("token-for-alice")
///     );
///     let refused = provider.fetch_token(request("mallory")).await;
///     assert_eq!(refused.map_err(|e| e.0), Err("mallory may not chat".to_string()));
/// });
/// ```
pub struct TokenFn<F> {
    f: F,
}

impl<F, Fut, E> TokenFn<F>
where
    F: Fn(TokenRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, E>> + 'static,
    E: fmt::Display + 'static,
{
    /// A provider that calls `f`.
    pub fn new(f: F) -> TokenFn<F> {
        TokenFn { f }
    }
}

impl<F, Fut, E> TokenProvider for TokenFn<F>
where
    F: Fn(TokenRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, E>> + 'static,
    E: fmt::Display + 'static,
{
    fn fetch_token(&self, request: TokenRequest) -> TokenFuture {
        let fetch = (self.f)(request);
        Box::pin(async move {
            match fetch.await {
                Ok(token) if token.trim().is_empty() => Err(TokenError(
                    "the token closure returned an empty token".into(),
                )),
                Ok(token) => Ok(token),
                Err(e) => Err(TokenError(e.to_string())),
            }
        })
    }
}

impl<F> fmt::Debug for TokenFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenFn").finish_non_exhaustive()
    }
}
