//! Who may call the REST API: the holder of the app's secret key.
//!
//! TalkJS accepts `Authorization: Bearer <token>` where the token is either the secret key itself
//! or an app JWT: HS256 signed with the secret, `tokenType: "app"`, `iss` = the app id, and
//! usually a short `exp` (docs/protocol.md §12.7). The emulator checks both.
//!
//! An emulator started without `--secret` has no key to compare with. It then accepts any
//! bearer token that does not contradict itself (an app JWT for another app, or an expired one,
//! is still refused), but never a request without one: a backend that forgets to authenticate
//! fails against the emulator as it would against TalkJS.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::config::Config;

/// The `tokenType` claim of app tokens.
pub const APP_TOKEN_TYPE: &str = "app";

/// Why a REST request was refused authentication.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestAuthError {
    /// No `Authorization: Bearer` header.
    #[error("missing Authorization: Bearer header")]
    Missing,
    /// The token is neither the secret key nor a valid app token.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The app token has expired.
    #[error("the app token has expired")]
    Expired,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppClaims {
    iss: Option<String>,
    token_type: Option<String>,
    exp: Option<i64>,
}

/// Checks the value of an `Authorization` header at `now` (Unix seconds).
pub fn authorize(config: &Config, header: Option<&str>, now: i64) -> Result<(), RestAuthError> {
    let token = header
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(RestAuthError::Missing)?;
    let claims = match &config.secret {
        Some(secret) => {
            if bool::from(token.as_bytes().ct_eq(secret.as_bytes())) {
                return Ok(());
            }
            let mut v = Validation::new(Algorithm::HS256);
            // Claims are checked below with TalkJS's rules: exp is optional, no leeway.
            v.required_spec_claims.clear();
            v.validate_exp = false;
            v.validate_aud = false;
            jsonwebtoken::decode::<AppClaims>(
                token,
                &DecodingKey::from_secret(secret.as_bytes()),
                &v,
            )
            .map_err(|_| {
                RestAuthError::Invalid("not the secret key nor an app token signed with it".into())
            })?
            .claims
        }
        None => match jsonwebtoken::dangerous::insecure_decode::<AppClaims>(token) {
            Ok(data) => data.claims,
            // Not a JWT: an opaque key, and there is no key to compare it with.
            Err(_) => return Ok(()),
        },
    };
    if claims.token_type.as_deref() != Some(APP_TOKEN_TYPE) {
        return Err(RestAuthError::Invalid(format!(
            "tokenType must be {APP_TOKEN_TYPE:?}"
        )));
    }
    if claims.iss.as_deref() != Some(config.app_id.as_str()) {
        return Err(RestAuthError::Invalid(format!(
            "iss must be the app id {}",
            config.app_id
        )));
    }
    if claims.exp.is_some_and(|exp| now >= exp) {
        return Err(RestAuthError::Expired);
    }
    Ok(())
}
