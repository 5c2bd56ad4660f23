//! A token the application already has, e.g. one minted by its backend at deploy time.
//!
//! It can be handed out once. When the session needs another one (the token is about to expire,
//! or the server refused it) there is nothing new to give, and handing back the same token would
//! make the session retry a dead credential forever. So every later request fails, which ends the
//! session with an authentication error: the official client behaves the same way ("Cannot
//! refresh token, no onNeedToken provided").

use std::fmt;

use super::{TokenError, TokenFuture, TokenProvider, TokenReason, TokenRequest};

/// Why a [`FixedToken`] refuses every request after the first.
const CANNOT_REFRESH: &str =
    "it was given a fixed token, which cannot be refreshed (give the session a provider that can)";

/// A provider that holds one token and gives it out for the session's first connection only.
///
/// ```
/// use talkjs_actors::token::{FixedToken, TokenProvider, TokenReason, TokenRequest};
///
/// let provider = FixedToken::new("eyJhbGciOi...");
/// let request = |reason| TokenRequest {
///     app_id: "app".into(),
///     user_id: "alice".into(),
///     reason,
/// };
/// actix_rt::System::new().block_on(async {
///     let first = provider.fetch_token(request(TokenReason::Initial)).await;
///     assert_eq!(first.as_deref(), Ok("eyJhbGciOi..."));
///     // When it expires, there is no new token to give.
///     assert!(provider.fetch_token(request(TokenReason::Expiring)).await.is_err());
/// });
/// ```
#[derive(Clone)]
pub struct FixedToken {
    token: String,
}

impl FixedToken {
    /// A provider for `token`.
    pub fn new(token: impl Into<String>) -> FixedToken {
        FixedToken {
            token: token.into(),
        }
    }
}

impl TokenProvider for FixedToken {
    fn fetch_token(&self, request: TokenRequest) -> TokenFuture {
        let result = match request.reason {
            TokenReason::Initial => Ok(self.token.clone()),
            TokenReason::Expiring | TokenReason::Rejected | TokenReason::SessionExpired => {
                Err(TokenError(CANNOT_REFRESH.into()))
            }
        };
        Box::pin(std::future::ready(result))
    }
}

// A token is a credential: keep it out of logs.
impl fmt::Debug for FixedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedToken")
            .field("token", &"[redacted]")
            .finish()
    }
}
