//! A provider that signs tokens itself, for programs that hold the app's secret key (a backend
//! bot, a test against the emulator). Clients that must not see the secret use
//! [`super::HttpTokenEndpoint`] instead.
//!
//! The tokens follow TalkJS's format for user tokens: HS256, signed with the secret key, with
//! `tokenType: "user"`, the app id as issuer and the user id as subject.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::{TokenError, TokenFuture, TokenProvider, TokenRequest};

/// How long a signed token is valid unless [`JwtSigner::lifetime`] says otherwise. An hour is our
/// choice: the session refreshes before `exp`, so a short life costs one signature an hour and
/// limits what a leaked token is worth.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// The claims of a TalkJS user token.
#[derive(Serialize)]
struct Claims<'a> {
    #[serde(rename = "tokenType")]
    token_type: &'static str,
    iss: &'a str,
    /// The user; app tokens have none.
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
    iat: u64,
    exp: u64,
}

/// Signs a fresh user token for every request with the app's secret key.
///
/// ```
/// use std::time::Duration;
/// use talkjs_actors::token::{JwtSigner, TokenProvider, TokenReason, TokenRequest};
///
/// let signer = JwtSigner::new("sk_test_secret").lifetime(Duration::from_secs(600));
/// let request = TokenRequest {
///     app_id: "app".into(),
///     user_id: "alice".into(),
///     reason: TokenReason::Initial,
/// };
/// let token = actix_rt::System::new().block_on(signer.fetch_token(request));
/// // Three base64url parts: header, claims, signature.
/// assert_eq!(token.map(|t| t.split('.').count()), Ok(3));
/// // The secret stays out of logs.
/// assert!(!format!("{signer:?}").contains("sk_test_secret"));
/// ```
#[derive(Clone)]
pub struct JwtSigner {
    key: EncodingKey,
    lifetime: Duration,
}

impl JwtSigner {
    /// A signer with the app's secret key (the one the TalkJS dashboard shows as "Secret key").
    pub fn new(secret: impl AsRef<[u8]>) -> JwtSigner {
        JwtSigner {
            key: EncodingKey::from_secret(secret.as_ref()),
            lifetime: DEFAULT_LIFETIME,
        }
    }

    /// How long each token is valid, counted from when it is signed, in whole seconds (default one
    /// hour).
    pub fn lifetime(mut self, lifetime: Duration) -> JwtSigner {
        self.lifetime = lifetime;
        self
    }

    /// A token for the request's app and user, issued now.
    /// Signs a token for `user_id` in app `app_id` now, e.g. to hand to a browser client.
    pub fn sign(&self, app_id: &str, user_id: &str) -> Result<String, TokenError> {
        self.sign_claims("user", app_id, Some(user_id))
    }

    /// Signs an app token for `app_id` now (`tokenType: "app"`, no user): what TalkJS's REST API
    /// takes as a bearer token, and what `talkjs::rest::Client` sends.
    pub fn sign_app(&self, app_id: &str) -> Result<String, TokenError> {
        self.sign_claims("app", app_id, None)
    }

    fn sign_claims(
        &self,
        token_type: &'static str,
        app_id: &str,
        user_id: Option<&str>,
    ) -> Result<String, TokenError> {
        if self.key.as_bytes().is_empty() {
            return Err(TokenError(
                "cannot sign a token with an empty secret key".into(),
            ));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| TokenError("the system clock is before 1970".into()))?
            .as_secs();
        let claims = Claims {
            token_type,
            iss: app_id,
            sub: user_id,
            iat: now,
            exp: now.saturating_add(self.lifetime.as_secs()),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
            .map_err(|e| TokenError(format!("could not sign a token: {e}")))
    }
}

impl TokenProvider for JwtSigner {
    fn fetch_token(&self, request: TokenRequest) -> TokenFuture {
        Box::pin(std::future::ready(
            self.sign(&request.app_id, &request.user_id),
        ))
    }
}

impl fmt::Debug for JwtSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtSigner")
            .field("secret", &"[redacted]")
            .field("lifetime", &self.lifetime)
            .finish()
    }
}
