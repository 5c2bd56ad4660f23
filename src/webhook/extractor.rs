//! An actix-web extractor for TalkJS webhooks (cargo feature `actix-web`, on by default):
//! a handler that takes a [`Verified`] runs only for a genuine, fresh webhook, and gets its
//! event.
//!
//! The extractor reads the raw body (at most [`WebhookSecret::body_limit`] bytes), verifies it
//! with [`verify_headers`] and the secret registered as app data, and answers the refusals
//! itself with a short plain-text reason:
//!
//! | refusal | status |
//! |---|---|
//! | missing or wrong signature, missing, malformed or stale timestamp | 401 |
//! | a genuine request whose body is not a webhook event | 400 |
//! | a body over the limit | 413 |
//! | a body that could not be read | 400 |
//! | no [`WebhookSecret`] registered (a bug in the app) | 500 |

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::web::{BytesMut, Data};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;

use super::{WebhookError, WebhookEvent, verify_headers};

/// How far a webhook's timestamp may be from now unless [`WebhookSecret::tolerance`] says
/// otherwise: five minutes, the usual window for signed webhooks, wide enough for TalkJS's one
/// retry and modest clock skew.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);
/// The largest webhook body read unless [`WebhookSecret::body_limit`] says otherwise (events are
/// a few kilobytes).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// What [`Verified`] checks webhooks with: the app's secret key, the timestamp tolerance and the
/// body limit. Register it as app data, as `web::Data<WebhookSecret>` or as a plain
/// `WebhookSecret` (`App::new().app_data(..)`).
///
/// ```
/// use actix_web::{App, HttpResponse, web};
/// use talkjs::webhook::{Verified, WebhookEventType, WebhookSecret};
///
/// async fn talkjs_webhook(Verified(event): Verified) -> HttpResponse {
///     if event.kind == WebhookEventType::MessageSent {
///         println!("{:?} wrote in {:?}", event.sender_id(), event.conversation_id());
///     }
///     HttpResponse::Ok().finish()
/// }
///
/// let app = App::new()
///     .app_data(web::Data::new(WebhookSecret::new("sk_test_...")))
///     .route("/talkjs/webhook", web::post().to(talkjs_webhook));
/// # let _ = app;
/// ```
#[derive(Clone)]
pub struct WebhookSecret {
    secret: Arc<str>,
    tolerance: Duration,
    body_limit: usize,
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSecret")
            .field("tolerance", &self.tolerance)
            .field("body_limit", &self.body_limit)
            .finish_non_exhaustive()
    }
}

impl WebhookSecret {
    /// Checks with this secret key, [`DEFAULT_TOLERANCE`] and [`DEFAULT_BODY_LIMIT`].
    pub fn new(secret: impl Into<Arc<str>>) -> WebhookSecret {
        WebhookSecret {
            secret: secret.into(),
            tolerance: DEFAULT_TOLERANCE,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// How far from now a timestamp may be.
    pub fn tolerance(mut self, tolerance: Duration) -> WebhookSecret {
        self.tolerance = tolerance;
        self
    }

    /// The largest body read; a larger one is refused with 413.
    pub fn body_limit(mut self, bytes: usize) -> WebhookSecret {
        self.body_limit = bytes;
        self
    }
}

/// A webhook event whose signature and timestamp were verified: an actix-web extractor (see
/// [`WebhookSecret`] for an example).
#[derive(Debug, Clone, PartialEq)]
pub struct Verified(pub WebhookEvent);

impl Verified {
    /// The event.
    pub fn into_inner(self) -> WebhookEvent {
        self.0
    }
}

impl std::ops::Deref for Verified {
    type Target = WebhookEvent;
    fn deref(&self) -> &WebhookEvent {
        &self.0
    }
}

/// Why [`Verified`] refused a request; its response is the status in the module's table with
/// the reason as plain text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookRejection {
    /// The signature, the timestamp or the body failed the check.
    #[error(transparent)]
    Invalid(#[from] WebhookError),
    /// The body is larger than the limit.
    #[error("the webhook body is over {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body could not be read.
    #[error("the webhook body could not be read: {0}")]
    Payload(String),
    /// No [`WebhookSecret`] is registered as app data.
    #[error("the server has no webhook secret configured")]
    NotConfigured,
}

impl ResponseError for WebhookRejection {
    fn status_code(&self) -> StatusCode {
        match self {
            WebhookRejection::Invalid(WebhookError::Body(_)) => StatusCode::BAD_REQUEST,
            WebhookRejection::Invalid(_) => StatusCode::UNAUTHORIZED,
            WebhookRejection::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            WebhookRejection::Payload(_) => StatusCode::BAD_REQUEST,
            WebhookRejection::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .content_type("text/plain; charset=utf-8")
            .body(self.to_string())
    }
}

impl FromRequest for Verified {
    type Error = WebhookRejection;
    type Future = LocalBoxFuture<'static, Result<Verified, WebhookRejection>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let config = req
            .app_data::<Data<WebhookSecret>>()
            .map(|d| d.get_ref().clone())
            .or_else(|| req.app_data::<WebhookSecret>().cloned());
        let headers = req.headers().clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let config = config.ok_or(WebhookRejection::NotConfigured)?;
            let limit = config.body_limit;
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| WebhookRejection::Payload(e.to_string()))?;
                if body.len() + chunk.len() > limit {
                    return Err(WebhookRejection::TooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            let checked = verify_headers(&config.secret, &headers, &body, config.tolerance);
            if let Err(e) = &checked {
                tracing::debug!(error = %e, "webhook refused");
            }
            Ok(Verified(checked?))
        })
    }
}
