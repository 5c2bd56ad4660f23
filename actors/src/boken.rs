//! Bokens: the tokens of apps that do not require authentication (docs/protocol.md §1.5).
//!
//! A session given no token source fetches a boken from `GET {internal}/{app}/bokens/{user}`,
//! optionally with an identity-verification `signature`, and uses it like a JWT.

use std::time::Duration;

use talkjs_protocol::path::encode_component;
use talkjs_protocol::request::BokenResponse;

use crate::token::{TokenError, TokenFuture, TokenProvider, TokenRequest};

/// 5xx answers (other than 502) tolerated before giving up, as the official client does (§1.5).
pub const MAX_SERVER_ERRORS: u32 = 5;
/// Longest retry delay.
const MAX_DELAY: Duration = Duration::from_secs(30);
/// The first retry delay; it grows by [`DELAY_FACTOR`] per try, as the official client's does.
const FIRST_DELAY: Duration = Duration::from_millis(240);
/// Growth of the retry delay.
const DELAY_FACTOR: f64 = 1.2;
/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Fetches bokens from the internal API. Like the official client (docs/protocol.md §1.5): 401,
/// 404 and other 4xx are final; 429, 502 and network errors are retried for as long as it takes;
/// other 5xx are retried up to [`MAX_SERVER_ERRORS`] times.
#[derive(Debug, Clone)]
pub struct BokenProvider {
    internal_url: String,
    signature: Option<String>,
}

impl BokenProvider {
    /// A provider for the internal API at `internal_url` (e.g. `http://127.0.0.1:8787/api/v0`).
    pub fn new(internal_url: impl Into<String>, signature: Option<String>) -> BokenProvider {
        BokenProvider {
            internal_url: internal_url.into(),
            signature,
        }
    }
}

impl TokenProvider for BokenProvider {
    fn fetch_token(&self, request: TokenRequest) -> TokenFuture {
        let mut url = format!("{}/{}/bokens/", self.internal_url, request.app_id);
        encode_component(&request.user_id, &mut url);
        url.push_str("?signature=");
        encode_component(self.signature.as_deref().unwrap_or(""), &mut url);
        Box::pin(async move {
            let client = crate::http::client(TIMEOUT);
            let mut delay = FIRST_DELAY;
            let mut server_errors = 0;
            loop {
                match client.get(&url).send().await {
                    Ok(mut resp) => match resp.status().as_u16() {
                        200 => {
                            // Decoded whatever the content type says.
                            let bytes = resp
                                .body()
                                .await
                                .map_err(|e| TokenError(format!("boken answer not read: {e}")))?;
                            let body: BokenResponse =
                                serde_json::from_slice(&bytes).map_err(|e| {
                                    TokenError(format!("unreadable boken response: {e}"))
                                })?;
                            return Ok(body.boken);
                        }
                        status @ (401 | 403 | 404) => {
                            let body = resp.body().await.unwrap_or_default();
                            let said = String::from_utf8_lossy(&body);
                            let hint = match status {
                                404 => "the app id is not known to the server",
                                _ => {
                                    "the app requires a signed token (JWT), or the signature is not valid"
                                }
                            };
                            return Err(TokenError(format!(
                                "the server refused a boken with status {status} {said}: {hint}"
                            )));
                        }
                        429 | 502 => {
                            tracing::debug!("boken request throttled or upstream down; retrying")
                        }
                        status @ 500..=599 => {
                            server_errors += 1;
                            if server_errors >= MAX_SERVER_ERRORS {
                                return Err(TokenError(format!(
                                    "fetching a boken failed with status {status} {server_errors} times; retrying did not help"
                                )));
                            }
                        }
                        other => {
                            return Err(TokenError(format!(
                                "unexpected HTTP {other} fetching a boken"
                            )));
                        }
                    },
                    Err(e) => tracing::debug!(error = %e, "boken request failed; retrying"),
                }
                tokio::time::sleep(delay).await;
                delay = delay.mul_f64(DELAY_FACTOR).min(MAX_DELAY);
            }
        })
    }
}
