//! A token the application already has, e.g. one minted by its backend at deploy time.
//!
//! It can be handed out once (and is not kept after that: the session holds it from then on). When the session needs another one (the token is about to expire,
//! or the server refused it) there is nothing new to give, and handing back the same token would
//! make the session retry a dead credential forever. So every later request fails, which ends the
//! session with an authentication error: the official client behaves the same way ("Cannot
//! refresh token, no onNeedToken provided").

use std::fmt;
use std::sync::{Mutex, PoisonError};

use super::{TokenError, TokenFuture, TokenProvider, TokenReason, TokenRequest};

/// Why a [`FixedToken`] refuses every request after the first.
const CANNOT_REFRESH: &str =
    "it was given a fixed token, which cannot be refreshed (give the session a provider that can)";

/// A provider that holds one token and gives it out for the session's first connection only;
/// it does not keep a copy once it has handed it over (a clone made before then has its own).
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
///     // When it expires, there is no new token to give, and it gives its token once.
///     assert!(provider.fetch_token(request(TokenReason::Expiring)).await.is_err());
///     assert!(provider.fetch_token(request(TokenReason::Initial)).await.is_err());
/// });
/// ```
pub struct FixedToken {
    /// `None` once handed out.
    token: Mutex<Option<String>>,
}

impl FixedToken {
    /// A provider for `token`.
    pub fn new(token: impl Into<String>) -> FixedToken {
        FixedToken {
            token: Mutex::new(Some(token.into())),
        }
    }

    fn take(&self) -> Option<String> {
        self.token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

impl Clone for FixedToken {
    /// A provider with the same token, if this one still has it.
    fn clone(&self) -> FixedToken {
        let token = self.token.lock().unwrap_or_else(PoisonError::into_inner);
        FixedToken {
            token: Mutex::new(token.clone()),
        }
    }
}

impl TokenProvider for FixedToken {
    fn fetch_token(&self, request: TokenRequest) -> TokenFuture {
        let token = match request.reason {
            TokenReason::Initial => self.take(),
            TokenReason::Expiring | TokenReason::Rejected | TokenReason::SessionExpired => None,
        };
        let result = token.ok_or_else(|| TokenError(CANNOT_REFRESH.into()));
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
