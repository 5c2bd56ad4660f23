//! The [`Client`] handle, its builder, and the one place every request goes through: the token,
//! the timeout, the retries, the span, and the turning of answers into results.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use talkjs_protocol::endpoints::ApiUrls;
use talkjs_protocol::path::encode_component;
use tracing::Instrument;

use super::auth::Credentials;
use super::error::{self, NoAnswer};
use super::request::{Request, attempt};
use super::retry::{Repeat, RetryPolicy};
use crate::{Error, ErrorKind, Result};
use talkjs_actors::run_on_runtime;

/// TalkJS's REST API host.
pub const DEFAULT_HOST: &str = "https://api.talkjs.com";
/// How long one attempt may take, answer included, unless [`ClientBuilder::timeout`] says
/// otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// Builds a [`Client`]: [`Client::builder`].
#[derive(Debug, Clone)]
#[must_use = "call .build() to get a Client"]
pub struct ClientBuilder {
    app_id: String,
    credentials: Option<Credentials>,
    host: Option<String>,
    timeout: Duration,
    retry: RetryPolicy,
}

impl ClientBuilder {
    /// Authenticates with app tokens signed with this secret key (the dashboard's "Secret key",
    /// `sk_test_...` / `sk_live_...`): each attempt carries a fresh HS256 JWT valid for
    /// [`APP_TOKEN_LIFETIME`](super::APP_TOKEN_LIFETIME). TalkJS recommends this over sending
    /// the key itself.
    pub fn secret(mut self, secret: impl AsRef<str>) -> ClientBuilder {
        let secret = secret.as_ref();
        self.credentials = (!secret.is_empty()).then(|| Credentials::jwt(secret));
        self
    }

    /// Authenticates with the secret key itself as the bearer token (TalkJS's older way).
    pub fn raw_secret(mut self, secret: impl Into<String>) -> ClientBuilder {
        let secret = secret.into();
        self.credentials = (!secret.is_empty()).then_some(Credentials::RawSecret(secret));
        self
    }

    /// The server: [`DEFAULT_HOST`] unless set. A URL (`http://127.0.0.1:8787`) is used as it
    /// is; a bare host follows the Data API's `host` rule (local hosts over `http`, others over
    /// `https`, TalkJS's regional hosts to their REST host), so an emulator's
    /// `RunningEmulator::host()` works for both.
    pub fn host(mut self, host: impl Into<String>) -> ClientBuilder {
        self.host = Some(host.into());
        self
    }

    /// How long one attempt may take, from sending to the last byte of the answer (default
    /// [`DEFAULT_TIMEOUT`]). A call takes at most about `(retries + 1) × timeout` plus backoff.
    pub fn timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.timeout = timeout;
        self
    }

    /// How many times a failed request is retried (default 3; 0 never retries). See
    /// [`RetryPolicy`] for which failures are retried.
    pub fn retries(mut self, retries: u32) -> ClientBuilder {
        self.retry.retries = retries;
        self
    }

    /// The whole retry policy.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> ClientBuilder {
        self.retry = policy;
        self
    }

    /// The client; an `InvalidArgument` error for an empty app id, no (or an empty) secret, a
    /// zero timeout or a host that is not `http(s)`.
    pub fn build(self) -> Result<Client> {
        let op = "Build REST client";
        if self.app_id.is_empty() {
            return Err(Error::invalid(op, "the app id must not be empty"));
        }
        let credentials = self.credentials.ok_or_else(|| {
            Error::invalid(
                op,
                "a secret key is needed (.secret(..) or .raw_secret(..))",
            )
        })?;
        if self.timeout.is_zero() {
            return Err(Error::invalid(op, "the timeout must be above zero"));
        }
        let host = self.host.as_deref().unwrap_or(DEFAULT_HOST);
        let base = base_url(host).map_err(|reason| Error::invalid(op, reason))?;
        let mut api = format!("{base}/v1/");
        encode_component(&self.app_id, &mut api);
        Ok(Client {
            inner: Arc::new(Inner {
                app_id: self.app_id,
                api,
                credentials,
                timeout: self.timeout,
                retry: self.retry,
            }),
        })
    }
}

/// The base URL (scheme and host, no path) for a `host` option.
fn base_url(host: &str) -> std::result::Result<String, String> {
    let host = host.trim().trim_end_matches('/');
    if host.is_empty() {
        return Err("the host must not be empty".into());
    }
    if host.starts_with("http://") || host.starts_with("https://") {
        return Ok(host.to_owned());
    }
    if host.contains("://") {
        return Err(format!("the host {host:?} is not http:// or https://"));
    }
    // One rule for which hosts are local and where TalkJS's regions live: the Data API's.
    let rest = ApiUrls::for_host(host).rest;
    Ok(rest
        .trim_end_matches("/v1")
        .trim_end_matches("/public_api")
        .to_owned())
}

/// A client of TalkJS's REST API v1 (or the emulator's): cheap to clone, `Send + Sync`, its
/// futures `Send`, usable from any async runtime (see the [module docs](super)).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    app_id: String,
    /// `{base}/v1/{appId}`.
    api: String,
    credentials: Credentials,
    timeout: Duration,
    retry: RetryPolicy,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("api", &self.inner.api)
            .field("timeout", &self.inner.timeout)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A builder for the app `app_id`; give it a secret, then [`build`](ClientBuilder::build).
    pub fn builder(app_id: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            app_id: app_id.into(),
            credentials: None,
            host: None,
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }

    /// The app id.
    pub fn app_id(&self) -> &str {
        &self.inner.app_id
    }

    /// The API's base URL, `{host}/v1/{appId}`.
    pub fn api_url(&self) -> &str {
        &self.inner.api
    }

    /// Sends `request` and decodes the answer's JSON.
    pub(crate) async fn call<R: DeserializeOwned>(&self, request: Request) -> Result<R> {
        let op = request.operation.clone();
        let (bytes, attempts) = self.execute(request).await?;
        serde_json::from_slice(&bytes).map_err(|e| error::unreadable(&op, e, attempts))
    }

    /// Sends `request`; the answer's body is not looked at (TalkJS answers writes with `{}`).
    pub(crate) async fn call_unit(&self, request: Request) -> Result<()> {
        self.execute(request).await.map(|_| ())
    }

    /// Sends `request` with the retry policy: the body of a 2xx answer and the attempts made.
    async fn execute(&self, request: Request) -> Result<(Vec<u8>, u32)> {
        let span = tracing::info_span!(
            "talkjs_rest",
            method = %request.method,
            path = %request.path,
            status = tracing::field::Empty,
            attempt = tracing::field::Empty,
        );
        self.retry_loop(request, span.clone())
            .instrument(span)
            .await
    }

    async fn retry_loop(&self, request: Request, span: tracing::Span) -> Result<(Vec<u8>, u32)> {
        let inner = &self.inner;
        let op = &request.operation;
        let url = Arc::<str>::from(format!("{}{}", inner.api, request.path_and_query()));
        let policy = inner.retry;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            span.record("attempt", attempts);
            let token = inner
                .credentials
                .token(&inner.app_id)
                .map_err(|e| Error::new(op.clone(), ErrorKind::AuthFailed(e)))?;
            let (method, url2, body, timeout) = (
                request.method.clone(),
                url.clone(),
                request.body.clone(),
                inner.timeout,
            );
            let outcome = run_on_runtime(move || attempt(method, url2, token, body, timeout))
                .await
                .ok_or_else(|| {
                    Error::new(
                        op.clone(),
                        ErrorKind::Transport("the REST client's runtime stopped".into()),
                    )
                })?;
            let may_retry = attempts <= policy.retries;
            let answer = match outcome {
                Ok(answer) => answer,
                Err(why) => {
                    if may_retry && (why.nothing_sent() || request.repeat == Repeat::Safe) {
                        let wait = policy.backoff(attempts);
                        tracing::debug!(error = ?why, ?wait, "no answer; retrying");
                        sleep(op, wait).await?;
                        continue;
                    }
                    return Err(error::no_answer(op, why, attempts));
                }
            };
            span.record("status", answer.status);
            match (answer.status, answer.body) {
                (200..=299, Ok(body)) => return Ok((body, attempts)),
                (200..=299, Err(e)) => {
                    let why = NoAnswer::Transport(format!("the answer could not be read: {e}"));
                    if may_retry && request.repeat == Repeat::Safe {
                        sleep(op, policy.backoff(attempts)).await?;
                        continue;
                    }
                    return Err(error::no_answer(op, why, attempts));
                }
                (status, body) => {
                    let wait = match status {
                        // Nothing was applied: always worth another try, when the wait is
                        // bounded.
                        429 => match answer.retry_after {
                            Some(d) if d > policy.max_retry_after => None,
                            Some(d) => Some(d),
                            None => Some(policy.backoff(attempts)),
                        },
                        500..=599 if request.repeat == Repeat::Safe => {
                            Some(policy.backoff(attempts))
                        }
                        _ => None,
                    };
                    if let (true, Some(wait)) = (may_retry, wait) {
                        tracing::debug!(status, ?wait, "retrying");
                        sleep(op, wait).await?;
                        continue;
                    }
                    let body = error::error_body(&body.unwrap_or_default());
                    tracing::debug!(status, attempts, "refused");
                    return Err(error::refused(
                        op,
                        status,
                        body,
                        attempts,
                        answer.retry_after,
                    ));
                }
            }
        }
    }
}

/// Waits `d` on the client's arbiter, so callers without a runtime timer can wait.
async fn sleep(op: &Arc<str>, d: Duration) -> Result<()> {
    run_on_runtime(move || tokio::time::sleep(d))
        .await
        .ok_or_else(|| {
            Error::new(
                op.clone(),
                ErrorKind::Transport("the REST client's runtime stopped".into()),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_become_base_urls() {
        assert_eq!(base_url("127.0.0.1:8787").unwrap(), "http://127.0.0.1:8787");
        assert_eq!(base_url("localhost:1").unwrap(), "http://localhost:1");
        assert_eq!(base_url("http://x:1/").unwrap(), "http://x:1");
        assert_eq!(
            base_url("api.talkjs.com").unwrap(),
            "https://api.talkjs.com"
        );
        assert_eq!(
            base_url("eu.talkjs.com").unwrap(),
            "https://api-eu.talkjs.com"
        );
        assert_eq!(
            base_url("chat.example.com").unwrap(),
            "https://chat.example.com"
        );
        assert!(base_url("ftp://x").is_err());
        assert!(base_url(" ").is_err());
    }
}
