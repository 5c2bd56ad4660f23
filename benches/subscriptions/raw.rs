//! The raw limit: the least a client can do to receive the messages the CPU measurement sends.
//!
//! One websocket (awc's client, as the runtime uses) on loopback that authenticates
//! (`POST /session/renew`), subscribes to the conversation's messages topic and then, for each
//! pushed frame, parses it with serde_json into talkjs-protocol's typed model (`Frame::parse`,
//! then every event into an [`Event`], so a `message.created` carries a full `MessageWire`),
//! acknowledges it as the protocol requires, answers pings, and keeps each new message's id.
//! Nothing else: no session or connection actors, no subscription state, no snapshots, no
//! hydration. The runtime's receive CPU beside this one's, at the same M, is the overhead of
//! everything the runtime adds on top of reading the wire.

use std::time::Duration;

use awc::error::WsProtocolError;
use awc::ws;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use talkjs::token::JwtSigner;
use talkjs_protocol::endpoints::ApiUrls;
use talkjs_protocol::event::Event;
use talkjs_protocol::frame::{Ack, Frame, Method, Request};
use talkjs_protocol::path::Topic;
use talkjs_protocol::request::RenewRequest;

use super::receive::Measuring;
use super::{ACTIVE_TIMEOUT, Res, STALL, TOKEN_LIFETIME, Target, merge};

/// Largest frame accepted from the server (as the runtime's connection).
const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// awc's websocket: frames in, messages out.
trait Socket:
    futures_util::Stream<Item = Result<ws::Frame, WsProtocolError>>
    + futures_util::Sink<ws::Message, Error = WsProtocolError>
    + Unpin
{
}

impl<S> Socket for S where
    S: futures_util::Stream<Item = Result<ws::Frame, WsProtocolError>>
        + futures_util::Sink<ws::Message, Error = WsProtocolError>
        + Unpin
{
}

/// Receives `messages` messages into `conversation` as `receiver`, on a bare socket; reports
/// the same fields as the runtime's receiver.
pub(super) async fn receive(
    target: &Target,
    conversation: &str,
    receiver: &str,
    messages: usize,
) -> Res<Value> {
    let token = match &target.secret {
        Some(secret) => JwtSigner::new(secret)
            .lifetime(TOKEN_LIFETIME)
            .sign(&target.app, receiver)?,
        None => return Err("the raw client needs a JWT secret (SECRET)".into()),
    };
    let urls = ApiUrls::for_host(&target.host);
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    let url = urls.realtime_url(
        &target.app,
        receiver,
        "talkjs-rs-raw-bench",
        "rawbench",
        now_ms.as_millis() as i64,
    );
    let (_, mut socket) = awc::Client::new()
        .ws(url)
        .max_frame_size(MAX_FRAME_BYTES)
        .connect()
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;

    let renew = Request::new(0, Method::Post, "/session/renew", &RenewRequest { token })?;
    request(&mut socket, renew).await?;
    let topic = Topic::Messages {
        conversation: conversation.to_owned(),
    };
    let subscribe = Request::new(1, Method::Subscribe, topic.path().encode(), &json!({}))?;
    request(&mut socket, subscribe).await?;

    let mut ids: Vec<String> = Vec::with_capacity(messages);
    let mut pushes = 0u64;
    let measuring = Measuring::start()?;
    while ids.len() < messages {
        let Some(Frame::Publish(publish)) = next_frame(&mut socket, STALL).await? else {
            continue;
        };
        pushes += 1;
        send(&mut socket, Frame::Ack(Ack { id: publish.id })).await?;
        for event in publish.events() {
            if let Event::MessageCreated(created) = event?
                && created.conversation_id == conversation
            {
                ids.push(created.message_id);
            }
        }
    }
    let mut result = measuring.stop()?;
    merge(
        &mut result,
        json!({ "updates": pushes, "newest_changes": pushes, "ids": ids }),
    );
    Ok(result)
}

/// Sends a request and waits for its answer (pushes meanwhile are acknowledged and dropped;
/// nothing is subscribed yet).
async fn request(socket: &mut impl Socket, request: Request) -> Res<()> {
    let seq = request.seq;
    let what = format!("{} {}", request.method.as_str(), request.path);
    send(socket, Frame::Request(request)).await?;
    loop {
        let Some(frame) = next_frame(socket, ACTIVE_TIMEOUT).await? else {
            continue;
        };
        match frame {
            Frame::Response(r) if r.seq == seq && r.is_ok() => return Ok(()),
            Frame::Response(r) if r.seq == seq => {
                return Err(format!("{what} failed: {:?}", r.error_body()).into());
            }
            Frame::Publish(p) => send(socket, Frame::Ack(Ack { id: p.id })).await?,
            _ => {}
        }
    }
}

async fn send(socket: &mut impl Socket, frame: Frame) -> Res<()> {
    socket
        .send(ws::Message::Text(frame.to_text().into()))
        .await
        .map_err(|e| format!("cannot write to the socket: {e}").into())
}

/// The next text frame, parsed (`None` for other frames, and for text that is not a frame:
/// pings are answered), or an error after `limit` without any frame.
async fn next_frame(socket: &mut impl Socket, limit: Duration) -> Res<Option<Frame>> {
    let frame = actix_rt::time::timeout(limit, socket.next())
        .await
        .map_err(|_| format!("no frame for {} s", limit.as_secs()))?
        .ok_or("the server closed the socket")?
        .map_err(|e| format!("protocol error: {e}"))?;
    match frame {
        ws::Frame::Text(bytes) => Ok(Frame::parse(std::str::from_utf8(&bytes)?).ok()),
        ws::Frame::Ping(bytes) => {
            socket
                .send(ws::Message::Pong(bytes))
                .await
                .map_err(|e| format!("cannot write to the socket: {e}"))?;
            Ok(None)
        }
        ws::Frame::Close(reason) => Err(format!("the server closed: {reason:?}").into()),
        _ => Ok(None),
    }
}
