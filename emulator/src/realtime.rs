//! The realtime websocket: one task per socket.
//!
//! The task reads frames, answers requests through the [`World`], and writes the pushes the world
//! queues for it, numbering them with this socket's PUBLISH ids (from 1, strictly increasing, as
//! the official client requires). It also owns the socket's authentication: nothing but
//! `/session/renew` and `/ping` is served before a token is accepted, a `session.expired` push
//! goes out shortly before the token expires, and requests after expiry get 401 until the client
//! renews.
//!
//! Input that is not a frame at all (not JSON, not one of the four shapes, binary data, a frame
//! only a server sends) closes the socket cleanly with a close code that says why. A well-formed
//! request the emulator cannot serve gets an error response and the socket stays open; so does
//! a request whose method does not exist (405), when the rest of the frame is well-formed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_ws::{AggregatedMessage, CloseCode, CloseReason, Session};
use futures_util::StreamExt;
use serde_json::value::RawValue;
use talkjs_protocol::error::codes;
use talkjs_protocol::event::Event;
use talkjs_protocol::frame::{Frame, Method, Request, Response};
use talkjs_protocol::path::{Route, RouteError, Topic};
use talkjs_protocol::request::ParticipantActionsResponse;
use talkjs_protocol::request::{
    RenewResponse, RequestBody, SendMessageResponse, TranslateResponse, Translation,
};
use tracing::Instrument;

use crate::auth::{self, AuthError};
use crate::batch;
use crate::config::Limits;
pub use crate::login::EXPIRY_WARNING;
use crate::login::{self, Due, Login};
use crate::outbox::{self, Overflow, QueueLimits};
use crate::pending::PendingSlot;
use crate::world::{ApiError, ApiResult, ConnId, Outbound, TYPING_TIMEOUT, World};

/// Error code of the answer to a request whose method the protocol does not have (status 405).
pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
/// Largest frame accepted from a client.
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;
/// How long a close frame may take to be queued: a peer that stops reading cannot take it, and
/// the socket is dropped anyway after this.
const CLOSE_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// The world, shared by every socket and HTTP handler of one emulator.
pub type SharedWorld = Arc<Mutex<World>>;

/// Locks the world. A panic while holding the lock is a bug, but the data is still consistent
/// (operations validate before they mutate), so keep serving.
pub(crate) fn lock(world: &SharedWorld) -> std::sync::MutexGuard<'_, World> {
    world
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The per-socket state the task keeps.
struct Socket {
    conn: ConnId,
    user_id: String,
    login: Login,
    publish_id: u64,
}

/// Why a write did not happen.
enum WriteError {
    /// The peer is gone.
    Closed,
    /// The socket's queue crossed its limits while the write waited.
    Overflow,
}

/// Writes one frame, giving up as soon as the socket's queue overflows: a peer that does not
/// read blocks the write, and must not block its own closing.
async fn write(session: &mut Session, overflow: &Overflow, text: String) -> Result<(), WriteError> {
    tokio::select! {
        biased;
        () = overflow.happened() => Err(WriteError::Overflow),
        r = session.text(text) => r.map_err(|_| WriteError::Closed),
    }
}

/// Serves one socket until it closes. `slot` counts it against its address until it
/// authenticates.
pub(crate) async fn run(
    world: SharedWorld,
    user_id: String,
    slot: Option<PendingSlot>,
    mut session: Session,
    stream: actix_ws::MessageStream,
) {
    let limits = lock(&world).config().limits.clone();
    let (outbox, mut inbox) = outbox::channel(QueueLimits {
        frames: limits.max_queued_frames,
        bytes: limits.max_queued_bytes,
    });
    let conn = lock(&world).connect(&user_id, outbox);
    let mut socket = Socket {
        conn,
        user_id,
        login: Login::new(&limits, slot),
        publish_id: 0,
    };
    let mut stream = stream
        .max_frame_size(MAX_FRAME_BYTES)
        .aggregate_continuations();
    let overflow = inbox.overflow();
    let too_slow = || Some(reason(CloseCode::Policy, &overflow.reason()));
    let close: Option<CloseReason> = loop {
        let due = login::sleep_until(socket.login.next_due());
        tokio::select! {
            () = overflow.happened() => break too_slow(),
            msg = stream.next() => {
                let reply = match msg {
                    Some(Ok(AggregatedMessage::Text(text))) => match Frame::parse(&text) {
                        Ok(Frame::Request(req)) => {
                            Frame::Response(handle(&world, &mut socket, &limits, req).await).to_text()
                        }
                        Ok(Frame::Ack(_)) => continue,
                        Ok(Frame::Response(_) | Frame::Publish(_)) => {
                            break Some(reason(CloseCode::Policy, "clients send requests and acks only"));
                        }
                        Err(e) => match unknown_method(&text) {
                            Some(req) => {
                                Frame::Response(answer_unknown_method(&world, &socket, req)).to_text()
                            }
                            None => break Some(reason(CloseCode::Invalid, &format!("not a frame: {e}"))),
                        },
                    },
                    Some(Ok(AggregatedMessage::Binary(_))) => {
                        break Some(reason(CloseCode::Unsupported, "frames are JSON text"));
                    }
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        if session.pong(&bytes).await.is_err() {
                            break None;
                        }
                        continue;
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => continue,
                    Some(Ok(AggregatedMessage::Close(_))) | None => break None,
                    Some(Err(e)) => break Some(reason(CloseCode::Protocol, &e.to_string())),
                };
                match write(&mut session, &overflow, reply).await {
                    Ok(()) => {}
                    Err(WriteError::Closed) => break None,
                    Err(WriteError::Overflow) => break too_slow(),
                }
            }
            out = inbox.recv() => match out {
                Some(Outbound::Publish(events)) => {
                    socket.publish_id += 1;
                    match write(&mut session, &overflow, events.frame(socket.publish_id)).await {
                        Ok(()) => {}
                        Err(WriteError::Closed) => break None,
                        Err(WriteError::Overflow) => break too_slow(),
                    }
                }
                Some(Outbound::Close(code, text)) => break Some(reason(CloseCode::from(code), &text)),
                None => break None,
            },
            due = due => match due {
                Due::Warn => {
                    // Warn once per token; requests keep working until the token really expires.
                    socket.login.warned();
                    lock(&world).push_to(socket.conn, &Event::SessionExpired);
                }
                Due::Lapse => {
                    socket.login.lapse(&limits);
                    lock(&world).deauthenticate(socket.conn);
                }
                Due::Close(why) => break Some(reason(CloseCode::Policy, why)),
            },
        }
    };
    lock(&world).disconnect(socket.conn);
    let _ = tokio::time::timeout(CLOSE_WRITE_TIMEOUT, session.close(close)).await;
}

fn reason(code: CloseCode, description: &str) -> CloseReason {
    CloseReason {
        code,
        description: Some(description.to_owned()),
    }
}

/// A request frame whose only fault is its method: the parts of `[seq, "WORD", "path", {data},
/// {headers}]` where `WORD` is no method (nor a word only servers send).
struct UnknownMethod {
    seq: u64,
    method: String,
    path: String,
    data: Box<RawValue>,
}

/// Reads `text` as a well-formed request with a method the protocol does not have. Anything
/// else (not JSON, a wrong shape, a known method) is `None`: those are not requests at all.
fn unknown_method(text: &str) -> Option<UnknownMethod> {
    type Parts = (u64, String, String, Box<RawValue>, Box<RawValue>);
    let (seq, method, path, data, headers): Parts = serde_json::from_str(text).ok()?;
    let well_formed = data.get().starts_with('{') && headers.get().starts_with('{');
    let unknown = Method::parse(&method).is_none() && method != "PUBLISH" && method != "ACK";
    (well_formed && unknown).then_some(UnknownMethod {
        seq,
        method,
        path,
        data,
    })
}

/// Answers a request with an unknown method: 405 `METHOD_NOT_ALLOWED` with the standard error
/// body, the socket stays open. 405 because the frame is a request and only its method is wrong
/// (HTTP's 501 would fit a method the server does not know, but the official client mishandles
/// every status outside its retry table, §3.9, while 405 resolves as an error there and in the
/// runtime). Served before authentication is checked, as an unknown route is: no token makes the
/// method exist.
fn answer_unknown_method(world: &SharedWorld, socket: &Socket, req: UnknownMethod) -> Response {
    lock(world).record(&socket.user_id, &req.method, &req.path, req.data.get());
    tracing::debug!(seq = req.seq, method = %req.method, path = %req.path, "unknown method");
    let methods = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Subscribe,
        Method::Unsubscribe,
    ]
    .map(Method::as_str)
    .join(", ");
    let error = ApiError::new(
        405,
        METHOD_NOT_ALLOWED,
        format!(
            "unknown method {:?} (on {}); the methods are {methods}",
            req.method, req.path
        ),
    );
    Response::error(req.seq, error.status, &error.body)
}

/// Answers one request.
async fn handle(
    world: &SharedWorld,
    socket: &mut Socket,
    limits: &Limits,
    req: Request,
) -> Response {
    let seq = req.seq;
    let span = tracing::debug_span!("request", seq, method = %req.method, path = %req.path, user = %socket.user_id);
    async {
        let started = std::time::Instant::now();
        let (resp, status) = match serve(world, socket, limits, &req).await {
            Ok(resp) => (resp, 200),
            Err(e) => {
                tracing::debug!(status = e.status, code = %e.body.error_code, "request refused");
                (Response::error(seq, e.status, &e.body), e.status)
            }
        };
        // One line per realtime request; never its data (a renew carries the token).
        tracing::debug!(
            user = %socket.user_id,
            method = %req.method,
            path = %req.path,
            status,
            duration_ms = started.elapsed().as_secs_f64() * 1000.0,
            "realtime request"
        );
        resp
    }
    .instrument(span)
    .await
}

fn ok<T: serde::Serialize>(seq: u64, data: &T) -> ApiResult<Response> {
    Response::ok(seq, data).map_err(|e| ApiError::new(500, codes::INTERNAL_ERROR, e.to_string()))
}

async fn serve(
    world: &SharedWorld,
    socket: &mut Socket,
    limits: &Limits,
    req: &Request,
) -> ApiResult<Response> {
    let seq = req.seq;
    lock(world).record(
        &socket.user_id,
        req.method.as_str(),
        &req.path,
        req.data.get(),
    );
    let route = Route::parse(req.method, &req.path).map_err(|e| match e {
        RouteError::Unknown { .. } => ApiError::not_found(codes::NOT_FOUND, e.to_string()),
        other => ApiError::bad_request(other.to_string()),
    })?;
    let body = RequestBody::decode(&route, req.data.get()).map_err(|e| {
        ApiError::bad_request(format!("invalid data for {} {}: {e}", req.method, req.path))
    })?;

    if route == Route::Ping {
        return Ok(Response::ok_empty(seq));
    }
    if let RequestBody::Renew(renew) = &body {
        return renew_session(world, socket, limits, seq, &renew.token);
    }
    let now = lock(world).clock.unix_seconds();
    socket
        .login
        .may_serve(now)
        .map_err(ApiError::unauthorized)?;
    if let (Route::ParticipantActions { conversation }, RequestBody::ParticipantActions(r)) =
        (&route, &body)
    {
        // Applied in slices, each under its own hold of the lock (see batch.rs).
        let responses = batch::participant_actions(world, conversation, r.actions.clone()).await;
        return ok(seq, &ParticipantActionsResponse { responses });
    }
    let mut w = lock(world);
    let me = socket.user_id.clone();
    let conn = socket.conn;
    use Route as R;
    match (route, body) {
        (R::GetUsers, RequestBody::GetUsers(r)) => ok(seq, &w.get_users(&r.ids)),
        (R::CreateUser { user }, RequestBody::CreateUser(p)) => {
            w.create_user(&user, p).map(|()| Response::ok_empty(seq))
        }
        (R::SetUser { user }, RequestBody::SetUser(p)) => {
            w.set_user(&user, p).map(|()| Response::ok_empty(seq))
        }
        (R::GetUserOnline { user }, _) => ok(seq, &w.get_online(&user)?),
        (R::ListConversations, RequestBody::ListConversations(r)) => ok(
            seq,
            &w.list_conversations(&me, Some(r.limit as usize), r.filter, r.cursor.as_deref())?,
        ),
        (R::GetConversation { conversation }, _) => {
            ok(seq, &w.get_conversation(&conversation, &me)?)
        }
        (R::CreateConversation { conversation }, RequestBody::CreateConversation(p)) => w
            .create_conversation(&conversation, p)
            .map(|()| Response::ok_empty(seq)),
        (R::SetConversation { conversation }, RequestBody::SetConversation(p)) => w
            .set_conversation(&conversation, p)
            .map(|()| Response::ok_empty(seq)),
        (R::DeleteParticipant { conversation, user }, _) => w
            .remove_participant(&conversation, &user)
            .map(|()| Response::ok_empty(seq)),
        (R::ListParticipants { conversation }, RequestBody::List(l)) => ok(
            seq,
            &w.list_participants(
                &conversation,
                &me,
                Some(l.limit as usize),
                l.cursor.as_deref(),
            )?,
        ),
        (R::GetParticipant { conversation, user }, _) => {
            ok(seq, &w.get_participant(&conversation, &me, &user)?)
        }
        (R::ListMessages { conversation }, RequestBody::List(l)) => ok(
            seq,
            &w.list_messages(
                &conversation,
                &me,
                Some(l.limit as usize),
                l.cursor.as_deref(),
            )?,
        ),
        (
            R::GetMessage {
                conversation,
                message,
            },
            _,
        ) => ok(seq, &w.get_message(&conversation, &me, &message)?),
        (R::SendMessage { conversation }, RequestBody::SendMessage(m)) => {
            let sent = w.send_message(&conversation, &me, m)?;
            ok(seq, &SendMessageResponse { id: sent.id })
        }
        (
            R::EditMessage {
                conversation,
                message,
            },
            RequestBody::EditMessage(e),
        ) => w
            .edit_message(&conversation, &me, &message, e)
            .map(|()| Response::ok_empty(seq)),
        (
            R::DeleteMessage {
                conversation,
                message,
            },
            _,
        ) => w
            .delete_message(&conversation, &me, &message)
            .map(|()| Response::ok_empty(seq)),
        (
            R::AddReaction {
                conversation,
                message,
                emoji,
                user,
            },
            _,
        ) => w
            .add_reaction(&conversation, &me, &message, &emoji, &user)
            .map(|()| Response::ok_empty(seq)),
        (
            R::RemoveReaction {
                conversation,
                message,
                emoji,
                user,
            },
            _,
        ) => w
            .remove_reaction(&conversation, &me, &message, &emoji, &user)
            .map(|()| Response::ok_empty(seq)),
        (
            R::ListReactions {
                conversation,
                message,
                emoji,
            },
            RequestBody::List(l),
        ) => ok(
            seq,
            &w.list_reactions(
                &conversation,
                &me,
                &message,
                &emoji,
                Some(l.limit as usize),
                l.cursor.as_deref(),
            )?,
        ),
        (R::MarkAsRead { conversation }, _) => w
            .mark_read(&conversation, &me)
            .map(|()| Response::ok_empty(seq)),
        (R::MarkAsUnread { conversation }, _) => w
            .mark_unread(&conversation, &me)
            .map(|()| Response::ok_empty(seq)),
        (R::MarkAsTyping { conversation }, _) => {
            let started = w.mark_typing(&conversation, &me)?;
            schedule_typing_expiry(world.clone(), conversation, me, started);
            Ok(Response::ok_empty(seq))
        }
        (R::GetTyping { conversation }, _) => ok(seq, &w.get_typing(&conversation, &me)?),
        (R::Translate { conversation }, RequestBody::Translate(t)) => {
            if t.lang.trim().is_empty() {
                return Err(ApiError::bad_request("lang must not be empty"));
            }
            let data = w
                .translate(&conversation, &me, &t.ids)?
                .into_iter()
                .map(|(id, content)| (id, content.map(|content| Translation::Content { content })))
                .collect();
            ok(seq, &TranslateResponse { data })
        }
        (R::ValidateFile, RequestBody::ValidateFile(f)) => w
            .validate_file(&f.filename, f.filesize)
            .map(|()| Response::ok_empty(seq)),
        (R::Subscribe(topic), body) => {
            let ids = users_of(&topic, &body)?;
            w.subscribe(conn, topic, &ids);
            Ok(Response::ok_empty(seq))
        }
        (R::Unsubscribe(topic), body) => {
            let ids = users_of(&topic, &body)?;
            match topic {
                Topic::User { user } => w.unsubscribe(conn, &Topic::Users, &[user]),
                other => w.unsubscribe(conn, &other, &ids),
            }
            Ok(Response::ok_empty(seq))
        }
        (route, _) => Err(ApiError::bad_request(format!(
            "unexpected data for {route:?}"
        ))),
    }
}

fn users_of(topic: &Topic, body: &RequestBody) -> ApiResult<Vec<String>> {
    match (topic, body) {
        (Topic::Users, RequestBody::SubscribeUsers(r)) => Ok(r.ids.clone()),
        (Topic::Users, _) => Err(ApiError::bad_request("SUBSCRIBE /users needs {ids}")),
        _ => Ok(Vec::new()),
    }
}

fn renew_session(
    world: &SharedWorld,
    socket: &mut Socket,
    limits: &Limits,
    seq: u64,
    token: &str,
) -> ApiResult<Response> {
    let mut w = lock(world);
    let now = w.clock.unix_seconds();
    match auth::verify_token(w.config(), &socket.user_id, token, now) {
        Ok(info) => {
            socket.login.renewed(info, now);
            w.authenticated(socket.conn);
            let expires_in_seconds = info.expires_at.map(|exp| (exp - now).max(0) as u64);
            ok(seq, &RenewResponse { expires_in_seconds })
        }
        Err(e @ (AuthError::Missing | AuthError::Invalid(_) | AuthError::Expired)) => {
            tracing::debug!(error = %e, "token refused");
            // A failed renew ends what the previous token allowed: no pushes, closed after the
            // grace period unless a renew succeeds.
            if socket.login.lapse(limits) {
                w.deauthenticate(socket.conn);
            }
            Err(ApiError::unauthorized(e.to_string()))
        }
    }
}

/// Ends a `markAsTyping` after [`TYPING_TIMEOUT`] unless it was renewed meanwhile.
fn schedule_typing_expiry(
    world: SharedWorld,
    conversation: String,
    user: String,
    started: talkjs_protocol::wire::Millis,
) {
    actix_rt::spawn(async move {
        tokio::time::sleep(TYPING_TIMEOUT).await;
        lock(&world).expire_typing(&conversation, &user, started);
    });
}
