//! A provider that asks the application's backend for tokens over HTTP.
//!
//! This is the usual TalkJS setup: the backend holds the app's secret key, and a client fetches a
//! token for its user from a URL the backend serves. The request is
//! `GET <url>?appId=<app>&userId=<user>`; the answer is either JSON `{"token": "..."}` or the
//! token as plain text. Anything else is a [`TokenError`] that says what went wrong (the status,
//! the connection error, the timeout) and never contains the token itself.

use std::fmt;
use std::time::Duration;

use awc::error::{ConnectError, SendRequestError};
use awc::http::header::{self, HeaderName, HeaderValue};

use super::{TokenError, TokenFuture, TokenProvider, TokenRequest};

/// How long a fetch may take, from connecting to the last byte of the body, unless
/// [`HttpTokenEndpoint::timeout`] says otherwise. Our choice, not the protocol's: long enough for
/// a cold-starting backend, short enough that a hung one does not stall the session for long.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest body accepted. A JWT is well under a kilobyte; anything near this size is an
/// error page, not a token.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// What we ask the endpoint for: the two shapes we can read.
const ACCEPT: &str = "application/json, text/plain";

/// Your backend's token URL.
///
/// Extra headers (a session cookie, an API key) go along with every request; they are kept out
/// of `Debug` output, as is anything the endpoint answers.
///
/// ```
/// use std::time::Duration;
/// use talkjs_actors::token::HttpTokenEndpoint;
///
/// let endpoint = HttpTokenEndpoint::new("http://127.0.0.1:8080/talkjs/token")
///     .header("Authorization", "Bearer my-backend-key")
///     .timeout(Duration::from_secs(3));
/// // A session fetches from it when it needs a token:
/// // GET /talkjs/token?appId=<app>&userId=<user>
/// # let _ = endpoint;
/// ```
#[derive(Clone)]
pub struct HttpTokenEndpoint {
    url: String,
    headers: Vec<(String, String)>,
    timeout: Duration,
}

impl HttpTokenEndpoint {
    /// An endpoint at `url`. The URL may already carry a query string; `appId` and `userId` are
    /// appended to it.
    pub fn new(url: impl Into<String>) -> HttpTokenEndpoint {
        HttpTokenEndpoint {
            url: url.into(),
            headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sends `name: value` with every request, e.g. a cookie or an API key for your backend. An
    /// invalid name or value makes every fetch fail with an error naming the header.
    pub fn header(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> HttpTokenEndpoint {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// How long a fetch may take in all, connecting and reading the body included (default 10
    /// seconds).
    pub fn timeout(mut self, timeout: Duration) -> HttpTokenEndpoint {
        self.timeout = timeout;
        self
    }

    /// The URL for one request: ours plus `appId` and `userId`.
    fn request_url(&self, request: &TokenRequest) -> String {
        // A fragment is never sent to the server, and the query must come before it.
        let base = self.url.split('#').next().unwrap_or_default();
        let separator = if !base.contains('?') {
            "?"
        } else if base.ends_with('?') || base.ends_with('&') {
            ""
        } else {
            "&"
        };
        format!(
            "{base}{separator}appId={}&userId={}",
            percent_encode(&request.app_id),
            percent_encode(&request.user_id)
        )
    }

    /// The configured headers, checked.
    fn parsed_headers(&self) -> Result<Vec<(HeaderName, HeaderValue)>, TokenError> {
        self.headers
            .iter()
            .map(|(name, value)| {
                let parsed_name = HeaderName::try_from(name.as_str())
                    .map_err(|_| TokenError(format!("invalid header name {name:?}")))?;
                // The value may be a credential, so only the name goes into the message.
                let parsed_value = HeaderValue::try_from(value.as_str())
                    .map_err(|_| TokenError(format!("invalid value for header {name:?}")))?;
                Ok((parsed_name, parsed_value))
            })
            .collect()
    }
}

impl TokenProvider for HttpTokenEndpoint {
    fn fetch_token(&self, request: TokenRequest) -> TokenFuture {
        let url = self.request_url(&request);
        let headers = self.parsed_headers();
        let timeout = self.timeout;
        Box::pin(async move {
            let headers = headers?;
            match tokio::time::timeout(timeout, fetch(url, headers)).await {
                Ok(result) => result,
                Err(_) => Err(TokenError(format!(
                    "the token endpoint did not answer within {timeout:?}"
                ))),
            }
        })
    }
}

/// awc's own timeout is effectively off (a day): the caller's timeout covers the whole exchange.
const NO_CLIENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// One GET and the reading of its answer; the caller bounds it in time.
async fn fetch(url: String, headers: Vec<(HeaderName, HeaderValue)>) -> Result<String, TokenError> {
    // awc clients are tied to the thread they run on, so each fetch makes its own. Its own timeout
    // is off: the caller's covers the whole exchange, body included, which awc's does not.
    let client = crate::http::client(NO_CLIENT_TIMEOUT);
    let mut req = client.get(url).insert_header((header::ACCEPT, ACCEPT));
    for pair in headers {
        req = req.insert_header(pair);
    }
    let mut response = req.send().await.map_err(send_error)?;

    let status = response.status();
    if !status.is_success() {
        return Err(TokenError(format!("the token endpoint answered {status}")));
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let body = response.body().limit(MAX_BODY_BYTES).await.map_err(|e| {
        TokenError(format!(
            "could not read the token endpoint's answer ({status}): {e}"
        ))
    })?;
    let body = std::str::from_utf8(&body).map_err(|_| {
        TokenError(format!(
            "the token endpoint answered {status} with a body that is not UTF-8"
        ))
    })?;
    parse_token(&content_type, body.trim())
        .map_err(|reason| TokenError(format!("the token endpoint answered {status} {reason}")))
}

/// The token in a successful answer, or why there is none (phrased to follow "answered 200").
fn parse_token(content_type: &str, body: &str) -> Result<String, &'static str> {
    if body.is_empty() {
        return Err("with an empty body");
    }
    // A JWT never starts with `{`, so the body itself tells JSON from text even when the
    // content type is missing or generic.
    if content_type.starts_with("application/json") || body.starts_with('{') {
        let json: serde_json::Value =
            serde_json::from_str(body).map_err(|_| "with a body that is not valid JSON")?;
        return match json.get("token").and_then(|t| t.as_str()) {
            Some(token) if !token.trim().is_empty() => Ok(token.trim().to_string()),
            Some(_) => Err("with an empty \"token\""),
            None => Err("with JSON that has no string \"token\" field"),
        };
    }
    // A login page or proxy error served with 200 is not a token.
    if content_type.starts_with("text/html") {
        return Err("with an HTML page instead of a token");
    }
    Ok(body.to_string())
}

/// Why the request got no answer, with a hint where there is one to give.
fn send_error(e: SendRequestError) -> TokenError {
    match e {
        SendRequestError::Connect(ConnectError::SslIsNotSupported) => TokenError(
            "cannot fetch a token over https: TLS could not be set up (see the earlier error log)"
                .into(),
        ),
        e => TokenError(format!("could not reach the token endpoint: {e}")),
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so ids with spaces, `&`,
/// `=` or non-ASCII letters arrive intact.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

// Header values are often credentials: show the names only.
impl fmt::Debug for HttpTokenEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("HttpTokenEndpoint")
            .field("url", &self.url)
            .field("headers", &names)
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::TokenReason;

    fn request(app_id: &str, user_id: &str) -> TokenRequest {
        TokenRequest {
            app_id: app_id.into(),
            user_id: user_id.into(),
            reason: TokenReason::Initial,
        }
    }

    #[test]
    fn ids_join_an_existing_query_and_are_encoded() {
        let r = request("app 1", "ali&ce=é");
        let ids = "appId=app%201&userId=ali%26ce%3D%C3%A9";
        for (url, expected) in [
            ("http://h/t", format!("http://h/t?{ids}")),
            ("http://h/t?", format!("http://h/t?{ids}")),
            ("http://h/t?k=v", format!("http://h/t?k=v&{ids}")),
            ("http://h/t?k=v&", format!("http://h/t?k=v&{ids}")),
            ("http://h/t#frag", format!("http://h/t?{ids}")),
        ] {
            assert_eq!(
                HttpTokenEndpoint::new(url).request_url(&r),
                expected,
                "{url}"
            );
        }
    }

    #[test]
    fn a_json_body_without_a_token_is_refused() {
        assert_eq!(parse_token("", r#"{"token":"abc"}"#), Ok("abc".into()));
        assert!(parse_token("application/json", r#"{"jwt":"abc"}"#).is_err());
        assert!(parse_token("application/json", r#"{"token":3}"#).is_err());
        assert!(parse_token("application/json", "abc").is_err());
        assert!(parse_token("text/html; charset=utf-8", "<html>").is_err());
        assert_eq!(parse_token("text/plain", "abc"), Ok("abc".into()));
    }
}
