//! The REST client's `Authorization: Bearer` token: a fresh short-lived app JWT per attempt (what
//! TalkJS recommends), or the secret key itself (the older way, still accepted).
//!
//! App tokens are HS256 JWTs signed with the secret key with the claims `tokenType: "app"`,
//! `iss` = the app id and `exp` [`APP_TOKEN_LIFETIME`] from now (TalkJS's docs show about 30 s;
//! docs/protocol.md §12.7 for what the emulator checks). Signing one costs a few microseconds, so
//! every attempt gets its own and a retry never carries an expired token. Neither the secret nor
//! a token is ever logged: `Debug` shows neither.

use std::fmt;
use std::time::Duration;

use talkjs_actors::token::JwtSigner;

/// How long a minted app token is valid.
pub const APP_TOKEN_LIFETIME: Duration = Duration::from_secs(30);

/// Where the bearer token comes from.
#[derive(Clone)]
pub(crate) enum Credentials {
    /// Mint app JWTs with this signer (its lifetime is [`APP_TOKEN_LIFETIME`]).
    Jwt(JwtSigner),
    /// Send the secret key itself.
    RawSecret(String),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Jwt(_) => f.write_str("Jwt(..)"),
            Credentials::RawSecret(_) => f.write_str("RawSecret(..)"),
        }
    }
}

impl Credentials {
    /// Credentials that mint app JWTs with `secret`.
    pub(crate) fn jwt(secret: &str) -> Credentials {
        Credentials::Jwt(JwtSigner::new(secret).lifetime(APP_TOKEN_LIFETIME))
    }

    /// The bearer token for one attempt, or why none could be made.
    pub(crate) fn token(&self, app_id: &str) -> Result<String, String> {
        match self {
            Credentials::RawSecret(s) => Ok(s.clone()),
            Credentials::Jwt(signer) => signer
                .sign_app(app_id)
                .map_err(|e| format!("could not sign an app token: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use jsonwebtoken::Algorithm;

    use super::*;

    #[test]
    fn app_tokens_carry_talkjss_claims_and_verify_with_the_secret() {
        let token = Credentials::jwt("sk_test_x").token("app1").unwrap();
        let mut v = jsonwebtoken::Validation::new(Algorithm::HS256);
        v.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &jsonwebtoken::DecodingKey::from_secret(b"sk_test_x"),
            &v,
        )
        .unwrap()
        .claims;
        assert_eq!(claims["tokenType"], "app");
        assert_eq!(claims["iss"], "app1");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let exp = claims["exp"].as_u64().unwrap();
        assert!((now + 29..=now + 31).contains(&exp), "{exp} vs {now}");
        assert!(!format!("{:?}", Credentials::RawSecret("sk_test_x".into())).contains("sk_"));
    }
}
