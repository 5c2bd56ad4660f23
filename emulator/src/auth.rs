//! Authentication: user tokens (JWT), bokens, and identity-verification signatures.
//!
//! With a secret configured, a socket must present either a JWT signed with it (HS256, `iss` =
//! app id, `sub` = user id, `tokenType` = `"user"`, optional `exp`/`nbf` in seconds) or a boken this
//! emulator issued for that user; boken requests must carry the user id's HMAC-SHA256 signature.
//!
//! Without a secret the app is unauthenticated, as TalkJS apps that do not require
//! authentication: bokens are handed out freely and any token is accepted, except one whose
//! readable claims name another app or user, or that has expired. Expiry is enforced either way so
//! that refresh flows can be tested against an emulator without a secret.

use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::Sha256;

use crate::config::Config;

/// The `tokenType` claim TalkJS user tokens carry.
pub const USER_TOKEN_TYPE: &str = "user";
/// Prefix of bokens this emulator issues.
const BOKEN_PREFIX: &str = "boken.";
/// Key for bokens when no secret is configured (bokens then prove nothing, as in TalkJS apps
/// without authentication).
const UNAUTHENTICATED_BOKEN_KEY: &[u8] = b"talkjs-emulator unauthenticated app";

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The token is empty.
    #[error("no token given")]
    Missing,
    /// The token is not a valid JWT or boken for this app and user.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The token's `exp` has passed.
    #[error("token expired")]
    Expired,
}

/// What a valid token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenInfo {
    /// Expiry (Unix seconds), if the token has one.
    pub expires_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    token_type: Option<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
}

/// Checks `token` for `user_id` at time `now` (Unix seconds).
pub fn verify_token(
    config: &Config,
    user_id: &str,
    token: &str,
    now: i64,
) -> Result<TokenInfo, AuthError> {
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    if token.starts_with(BOKEN_PREFIX) {
        return match boken_user(config, token) {
            Some(owner) if owner == user_id => Ok(TokenInfo { expires_at: None }),
            _ => Err(AuthError::Invalid(
                "boken was not issued for this user".into(),
            )),
        };
    }
    let claims = match &config.secret {
        Some(secret) => verified_claims(config, secret, token)?,
        None => match unverified_claims(token) {
            Some(c) => c,
            // An opaque token in an unauthenticated app: nothing to check.
            None => return Ok(TokenInfo { expires_at: None }),
        },
    };
    if claims
        .iss
        .as_deref()
        .is_some_and(|iss| iss != config.app_id)
    {
        return Err(AuthError::Invalid(format!(
            "iss must be the app id {}",
            config.app_id
        )));
    }
    if claims.sub.as_deref().is_some_and(|sub| sub != user_id) {
        return Err(AuthError::Invalid(format!(
            "sub must be the user id {user_id}"
        )));
    }
    if config.secret.is_some() && (claims.iss.is_none() || claims.sub.is_none()) {
        return Err(AuthError::Invalid("iss and sub are required".into()));
    }
    if claims
        .token_type
        .as_deref()
        .is_some_and(|t| t != USER_TOKEN_TYPE)
        || (config.secret.is_some() && claims.token_type.is_none())
    {
        return Err(AuthError::Invalid(format!(
            "tokenType must be {USER_TOKEN_TYPE:?}"
        )));
    }
    if claims.nbf.is_some_and(|nbf| now < nbf) {
        return Err(AuthError::Invalid("token is not valid yet (nbf)".into()));
    }
    if claims.exp.is_some_and(|exp| now >= exp) {
        return Err(AuthError::Expired);
    }
    Ok(TokenInfo {
        expires_at: claims.exp,
    })
}

fn verified_claims(config: &Config, secret: &str, token: &str) -> Result<Claims, AuthError> {
    let mut v = Validation::new(Algorithm::HS256);
    // Claims are checked by hand above, with TalkJS's rules (exp optional, no leeway).
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    let _ = config;
    jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(secret.as_bytes()), &v)
        .map(|data| data.claims)
        .map_err(|e| AuthError::Invalid(e.to_string()))
}

/// The claims of something shaped like a JWT, read without checking a signature.
fn unverified_claims(token: &str) -> Option<Claims> {
    let mut parts = token.split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    serde_json::from_slice(&base64url_decode(payload)?).ok()
}

fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            b'=' => continue,
            _ => return None,
        };
        buf = (buf << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn hmac(key: &[u8], message: &str) -> Hmac<Sha256> {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(message.as_bytes());
    mac
}

fn hmac_hex(key: &[u8], message: &str) -> String {
    hex_encode(&hmac(key, message).finalize().into_bytes())
}

/// Whether `hex_mac` is the HMAC of `message`, compared in constant time (`Mac::verify_slice`),
/// so the time a refusal takes says nothing about how much of a forged MAC was right.
fn hmac_matches(key: &[u8], message: &str, hex_mac: &str) -> bool {
    hex_decode(&hex_mac.to_ascii_lowercase())
        .is_some_and(|bytes| hmac(key, message).verify_slice(&bytes).is_ok())
}

fn boken_key(config: &Config) -> &[u8] {
    config
        .secret
        .as_deref()
        .map_or(UNAUTHENTICATED_BOKEN_KEY, str::as_bytes)
}

fn boken_message(config: &Config, user_id: &str) -> String {
    format!("boken:{}:{user_id}", config.app_id)
}

fn boken_mac(config: &Config, user_id: &str) -> String {
    hmac_hex(boken_key(config), &boken_message(config, user_id))
}

/// The user a token was issued for, checked as [`verify_token`] checks it. HTTP endpoints (upload,
/// search) have no user id in their URL; the bearer token names the user.
pub fn token_user(
    config: &Config,
    token: &str,
    now: i64,
) -> Result<(String, TokenInfo), AuthError> {
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    let user = if token.starts_with(BOKEN_PREFIX) {
        boken_user(config, token)
            .ok_or_else(|| AuthError::Invalid("not a boken of this app".into()))?
    } else {
        let claims = match &config.secret {
            Some(secret) => verified_claims(config, secret, token)?,
            None => {
                unverified_claims(token).ok_or_else(|| AuthError::Invalid("not a JWT".into()))?
            }
        };
        claims
            .sub
            .ok_or_else(|| AuthError::Invalid("the token names no user (sub)".into()))?
    };
    let info = verify_token(config, &user, token, now)?;
    Ok((user, info))
}

/// The user of a well-formed boken of this app: `boken.<hex user id>.<mac>`.
fn boken_user(config: &Config, token: &str) -> Option<String> {
    let rest = token.strip_prefix(BOKEN_PREFIX)?;
    let (hex_user, mac) = rest.split_once('.')?;
    let user = String::from_utf8(hex_decode(hex_user)?).ok()?;
    hmac_matches(boken_key(config), &boken_message(config, &user), mac).then_some(user)
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    // `from_str_radix` alone would accept a sign ("+f"): only hex digits are hex.
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The identity-verification signature of a user id: hex HMAC-SHA256 of the id with the secret.
pub fn signature(secret: &str, user_id: &str) -> String {
    hmac_hex(secret.as_bytes(), user_id)
}

/// Issues a boken for `user_id`, checking the signature when the app has a secret.
pub fn issue_boken(
    config: &Config,
    user_id: &str,
    signature_param: &str,
) -> Result<String, AuthError> {
    if let Some(secret) = &config.secret
        && !hmac_matches(secret.as_bytes(), user_id, signature_param)
    {
        return Err(AuthError::Invalid(
            "signature does not match the user id".into(),
        ));
    }
    Ok(format!(
        "{BOKEN_PREFIX}{}.{}",
        hex_encode(user_id.as_bytes()),
        boken_mac(config, user_id)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    fn config(secret: Option<&str>) -> Config {
        Config {
            app_id: "app1".into(),
            secret: secret.map(Into::into),
            ..Config::default()
        }
    }

    fn jwt(secret: &str, claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    #[test]
    fn a_signed_user_token_is_accepted_with_its_expiry() {
        let c = config(Some("s"));
        let t = jwt(
            "s",
            json!({"iss":"app1","sub":"alice","tokenType":"user","exp":2000}),
        );
        assert_eq!(
            verify_token(&c, "alice", &t, 1000),
            Ok(TokenInfo {
                expires_at: Some(2000)
            })
        );
    }

    #[test]
    fn wrong_secret_user_app_type_or_time_is_refused() {
        let c = config(Some("s"));
        let ok = json!({"iss":"app1","sub":"alice","tokenType":"user"});
        assert!(matches!(
            verify_token(&c, "alice", &jwt("other", ok.clone()), 0),
            Err(AuthError::Invalid(_))
        ));
        assert!(matches!(
            verify_token(&c, "bob", &jwt("s", ok), 0),
            Err(AuthError::Invalid(_))
        ));
        let wrong_app = json!({"iss":"app2","sub":"alice","tokenType":"user"});
        assert!(verify_token(&c, "alice", &jwt("s", wrong_app), 0).is_err());
        let wrong_type = json!({"iss":"app1","sub":"alice","tokenType":"app"});
        assert!(verify_token(&c, "alice", &jwt("s", wrong_type), 0).is_err());
        let expired = json!({"iss":"app1","sub":"alice","tokenType":"user","exp":10});
        assert_eq!(
            verify_token(&c, "alice", &jwt("s", expired), 10),
            Err(AuthError::Expired)
        );
        let early = json!({"iss":"app1","sub":"alice","tokenType":"user","nbf":100});
        assert!(verify_token(&c, "alice", &jwt("s", early), 10).is_err());
        assert_eq!(verify_token(&c, "alice", "", 0), Err(AuthError::Missing));
        assert!(verify_token(&c, "alice", "not-a-jwt", 0).is_err());
    }

    #[test]
    fn bokens_are_bound_to_their_user_and_need_the_signature_with_a_secret() {
        let c = config(Some("s"));
        assert!(issue_boken(&c, "alice", "nope").is_err());
        let b = issue_boken(&c, "alice", &signature("s", "alice")).unwrap();
        assert!(verify_token(&c, "alice", &b, 0).is_ok());
        assert!(verify_token(&c, "bob", &b, 0).is_err());
        assert_eq!(token_user(&c, &b, 0).unwrap().0, "alice");
        assert!(token_user(&c, "boken.616c696365.forged", 0).is_err());
        // The MAC with one hex digit changed, or signed: refused.
        let mac = b.rsplit('.').next().unwrap();
        let flipped = format!(
            "{}{}",
            if mac.starts_with('0') { '1' } else { '0' },
            &mac[1..]
        );
        assert!(token_user(&c, &format!("boken.616c696365.{flipped}"), 0).is_err());
        assert!(token_user(&c, &format!("boken.616c696365.+{}", &mac[1..]), 0).is_err());
        assert!(issue_boken(&c, "alice", &signature("s", "alice").to_uppercase()).is_ok());
    }

    #[test]
    fn without_a_secret_claims_are_still_checked_when_readable() {
        let c = config(None);
        assert!(verify_token(&c, "alice", "anything", 0).is_ok());
        let other_user = jwt("x", json!({"sub":"bob"}));
        assert!(verify_token(&c, "alice", &other_user, 0).is_err());
        let expired = jwt("x", json!({"sub":"alice","exp":5}));
        assert_eq!(
            verify_token(&c, "alice", &expired, 6),
            Err(AuthError::Expired)
        );
        let b = issue_boken(&c, "alice", "").unwrap();
        assert!(verify_token(&c, "alice", &b, 0).is_ok());
    }
}
