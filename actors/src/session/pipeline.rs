//! The request pipeline: every request goes through the status policy ([`super::policy`]) on
//! the session's connection, which it starts when there is none (the last one went idle).
//!
//! Ordering: a request's first attempt is handed to the connection synchronously in the
//! handler, so frames leave in call order. A call that meets a connection closing for idleness
//! is answered `CallError::Closed` and sent again on a new connection.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use serde_json::value::RawValue;
use talkjs_protocol::frame::Method;
use tracing::Instrument;

use super::Session;
use super::policy::{THROTTLE_START, retries};
use crate::connection::{
    Call, CallError, Connection, ConnectionConfig, SetSubscriptions, SetToken,
};
use crate::error::{Error, ErrorKind};

/// Immediate retries of a request whose connection closed under it, before pausing between them.
const MAX_CLOSED_RETRIES_WITHOUT_PAUSE: u32 = 3;
/// The pause between further such retries (a stopping connection is gone within a tick or two).
const CLOSED_RETRY_PAUSE: Duration = Duration::from_millis(10);

/// Send a request and await its data (the status policy applied).
#[derive(Debug, Message)]
#[rtype(result = "Result<Box<RawValue>, Error>")]
pub(crate) struct Request {
    /// The operation, for error messages (e.g. `Send message to conversation c1`).
    pub(crate) operation: Arc<str>,
    /// Method.
    pub(crate) method: Method,
    /// Encoded path.
    pub(crate) path: String,
    /// Request data.
    pub(crate) data: Box<RawValue>,
}

/// The live connection, started if needed.
#[derive(Message)]
#[rtype(result = "Result<Addr<Connection>, Error>")]
struct EnsureConnection(Arc<str>);

/// The answer of a request, as the pipeline hands it back.
pub(crate) type Pipeline =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Box<RawValue>, Error>>>>;

/// The error of a call whose session actor is gone.
pub(crate) fn gone(operation: &Arc<str>) -> Error {
    Error::new(
        operation.clone(),
        ErrorKind::SessionTerminated("the session stopped".into()),
    )
}

impl Session {
    /// The live connection; a new one if the last stopped.
    pub(super) fn connection(&mut self, ctx: &mut Context<Self>) -> Addr<Connection> {
        if let Some(conn) = &self.connection
            && conn.connected()
        {
            return conn.clone();
        }
        let (urls, app, user, client_id) = (
            self.urls.clone(),
            self.app_id.clone(),
            self.user_id.clone(),
            self.client_id,
        );
        let config = ConnectionConfig {
            url: Arc::new(move |now| {
                let client_id = client_id.to_string();
                urls.realtime_url(&app, &user, super::CLIENT_BUILD, &client_id, now)
            }),
            timings: self.timings.clone(),
            id: u64::from(self.connections_started) + 1,
        };
        let conn = Connection::new(config, &self.span, ctx.address().recipient()).start();
        self.connections_started += 1;
        if let Some(token) = &self.token {
            conn.do_send(SetToken(token.clone()));
        }
        if !self.topics.is_empty() {
            conn.do_send(SetSubscriptions(self.topics.len()));
        }
        self.connection = Some(conn.clone());
        conn
    }

    /// Starts a request through the status policy. The first attempt is handed to the connection
    /// before this returns, so requests go out in the order they were started.
    pub(super) fn start(&mut self, req: Request, ctx: &mut Context<Self>) -> Pipeline {
        if let Some(e) = self.terminated_error(req.operation.clone()) {
            return Box::pin(async move { Err(e) });
        }
        let call = |req: &Request| Call {
            operation: req.operation.clone(),
            method: req.method,
            path: req.path.clone(),
            data: req.data.clone(),
        };
        let first = self.connection(ctx).send(call(&req));
        let me = ctx.address();
        let throttle = self.throttle.clone();
        let span = tracing::debug_span!(parent: &self.span, "request", op = %req.operation, method = %req.method, path = %req.path);
        Box::pin(
            async move {
                let mut tries_500 = 0;
                let mut closed = 0u32;
                let mut attempt = Some(first);
                loop {
                    let pending = match attempt.take() {
                        Some(first) => first,
                        None => me
                            .send(EnsureConnection(req.operation.clone()))
                            .await
                            .map_err(|_| gone(&req.operation))??
                            .send(call(&req)),
                    };
                    let resp = match pending.await {
                        Ok(Ok(resp)) => resp,
                        Ok(Err(CallError::Failed(e))) => return Err(e),
                        // The connection closed (idle) or stopped before answering: the session
                        // forgets it when it reports `Terminated`, and the next try redials.
                        Ok(Err(CallError::Closed)) | Err(_) => {
                            closed += 1;
                            if closed > MAX_CLOSED_RETRIES_WITHOUT_PAUSE {
                                tokio::time::sleep(CLOSED_RETRY_PAUSE).await;
                            }
                            continue;
                        }
                    };
                    if retries(resp.status, &mut tries_500) {
                        let wait = throttle
                            .lock()
                            .map(|mut t| t.next_wait())
                            .unwrap_or(THROTTLE_START);
                        tracing::debug!(status = resp.status, ?wait, "retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    if let Ok(mut t) = throttle.lock() {
                        t.reset();
                    }
                    tracing::debug!(status = resp.status, "answered");
                    return if resp.is_ok() {
                        Ok(resp.data)
                    } else {
                        Err(Error::from_status(
                            req.operation.clone(),
                            resp.status,
                            resp.error_body(),
                        ))
                    };
                }
            }
            .instrument(span),
        )
    }
}

impl Handler<Request> for Session {
    type Result = ResponseFuture<Result<Box<RawValue>, Error>>;

    fn handle(&mut self, req: Request, ctx: &mut Context<Self>) -> Self::Result {
        // A pending batch goes first, so calls reach the server in the order they were made.
        self.flush_before_request(req.method, ctx);
        self.start(req, ctx)
    }
}

impl Handler<EnsureConnection> for Session {
    type Result = Result<Addr<Connection>, Error>;

    fn handle(&mut self, msg: EnsureConnection, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(e) = self.terminated_error(msg.0) {
            return Err(e);
        }
        Ok(self.connection(ctx))
    }
}
