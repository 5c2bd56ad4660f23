//! Dialling a websocket: TCP (and TLS for `wss://`), then the HTTP/1.1 upgrade of RFC 6455
//! §4.1, and nothing kept from it but the socket.
//!
//! awc's websocket client did this before, through its HTTP/1.1 machinery: an 8 KiB read and an
//! 8 KiB write buffer for the handshake, a request head, a pooled connection and a boxed socket
//! that held a pool guard for as long as the socket was open. The buffers were freed once the
//! socket was handed over, but a bot starting sessions a hundred at a time had a hundred of
//! them at once, and the holes they left between long-lived allocations stayed in the process's
//! resident set (about a third of the resident bytes an idle session cost). The handshake here
//! writes one request, reads its answer into a buffer sized for it, checks it and hands the
//! socket and any bytes that came after the answer to [`LeanFramed`].

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_codec::{AsyncRead, AsyncWrite, ReadBuf};
use awc::http::Uri;
use awc::ws;
use base64::Engine;
use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::frames::LeanFramed;

/// The longest answer head to an upgrade that is read; a longer one is refused.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// What the answer is read in, at first (a typical answer is under 200 bytes).
const HEAD_CHUNK: usize = 512;
/// Headers an answer may have.
const MAX_HEADERS: usize = 64;

/// A websocket's transport: plain TCP, or TLS over TCP (boxed: its state is large and most
/// sockets of a local emulator don't need it).
pub(crate) enum WsIo {
    /// `ws://`
    Plain(TcpStream),
    /// `wss://`
    Tls(Box<TlsStream<TcpStream>>),
}

/// Why a dial failed; the connection reports it as `could not connect: {this}`.
#[derive(Debug, thiserror::Error)]
pub(super) enum DialError {
    /// The URL is not a `ws://` or `wss://` URL with a host.
    #[error("{0}")]
    Url(String),
    /// TCP: resolving or connecting.
    #[error("{addr}: {source}")]
    Tcp {
        /// `host:port`.
        addr: String,
        /// What the system said.
        source: io::Error,
    },
    /// TLS: no configuration, or the handshake failed.
    #[error("TLS with {host}: {reason}")]
    Tls {
        /// The server's name.
        host: String,
        /// What failed.
        reason: String,
    },
    /// Writing the request or reading the answer failed.
    #[error("the websocket upgrade failed: {0}")]
    Io(io::Error),
    /// The server answered, but not with a websocket.
    #[error("the server refused the websocket upgrade: {0}")]
    Refused(String),
    /// Nothing within the time allowed.
    #[error("no websocket within {0:?}")]
    Timeout(Duration),
}

/// Where to dial, from a `ws://` or `wss://` URL.
#[derive(Debug, PartialEq)]
struct Target {
    tls: bool,
    /// The host to connect to and to name in TLS (an IPv6 literal without its brackets).
    host: String,
    port: u16,
    /// The `Host` header: the URL's authority.
    authority: String,
    /// Path and query.
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target, DialError> {
        let bad = |why: &str| DialError::Url(format!("{why}: {url:?}"));
        let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
        let tls = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("ws") => false,
            Some(s) if s.eq_ignore_ascii_case("wss") => true,
            _ => return Err(bad("not a ws:// or wss:// URL")),
        };
        let authority = uri.authority().ok_or_else(|| bad("no host in the URL"))?;
        if authority.as_str().contains('@') {
            return Err(bad("credentials in a websocket URL are not supported"));
        }
        let host = authority.host();
        if host.is_empty() {
            return Err(bad("no host in the URL"));
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Ok(Target {
            tls,
            host: host.to_owned(),
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            authority: authority.as_str().to_owned(),
            path: match uri.path_and_query().map_or("/", |p| p.as_str()) {
                query if query.starts_with('?') => format!("/{query}"),
                path => path.to_owned(),
            },
        })
    }
}

/// Dials `url` and upgrades to a websocket whose frames may be up to `max_frame` bytes,
/// all within `timeout`.
pub(super) async fn dial(
    url: &str,
    max_frame: usize,
    timeout: Duration,
) -> Result<LeanFramed<WsIo>, DialError> {
    let target = Target::parse(url)?;
    match actix_rt::time::timeout(timeout, connect_and_upgrade(target, max_frame)).await {
        Ok(done) => done,
        Err(_) => Err(DialError::Timeout(timeout)),
    }
}

async fn connect_and_upgrade(
    target: Target,
    max_frame: usize,
) -> Result<LeanFramed<WsIo>, DialError> {
    let tcp = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|source| DialError::Tcp {
            addr: format!("{}:{}", target.host, target.port),
            source,
        })?;
    // Frames are small and each is a whole message: send them at once, as browsers do.
    let _ = tcp.set_nodelay(true);
    let mut io = if target.tls {
        // Boxed: the TLS handshake's state is most of a dial's, and plain dials need none of it.
        WsIo::Tls(Box::new(Box::pin(tls(&target.host, tcp)).await?))
    } else {
        WsIo::Plain(tcp)
    };
    let key = new_key();
    io.write_all(request(&target, &key).as_bytes())
        .await
        .map_err(DialError::Io)?;
    io.flush().await.map_err(DialError::Io)?;
    let rest = read_answer(&mut io, &key).await?;
    let codec = ws::Codec::new().max_size(max_frame).client_mode();
    Ok(LeanFramed::new(io, codec, rest))
}

/// The TLS handshake with `host`, with the runtime's TLS configuration.
async fn tls(host: &str, tcp: TcpStream) -> Result<TlsStream<TcpStream>, DialError> {
    let failed = |reason: String| DialError::Tls {
        host: host.to_owned(),
        reason,
    };
    let config: Arc<rustls::ClientConfig> =
        crate::http::tls().ok_or_else(|| failed("TLS is unavailable in this build".into()))?;
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| failed(format!("not a server name: {e}")))?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| failed(e.to_string()))
}

/// A `Sec-WebSocket-Key`: 16 random bytes, base64.
fn new_key() -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&crate::random::u64().to_le_bytes());
    bytes[8..].copy_from_slice(&crate::random::u64().to_le_bytes());
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The upgrade request (RFC 6455 §4.1).
fn request(target: &Target, key: &str) -> String {
    format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        target.path, target.authority
    )
}

/// Reads the answer's head and checks it is the upgrade asked for with `key`; returns the bytes
/// that came after it (the first frames, if the server wrote them in the same packet).
async fn read_answer<Io: AsyncRead + Unpin>(io: &mut Io, key: &str) -> Result<BytesMut, DialError> {
    let mut buf = BytesMut::with_capacity(HEAD_CHUNK);
    loop {
        if buf.len() == buf.capacity() {
            if buf.len() >= MAX_HEAD_BYTES {
                return Err(DialError::Refused(format!(
                    "the answer's head is longer than {MAX_HEAD_BYTES} bytes"
                )));
            }
            buf.reserve(buf.len().min(MAX_HEAD_BYTES - buf.len()));
        }
        let read = io.read_buf(&mut buf).await.map_err(DialError::Io)?;
        if read == 0 {
            return Err(DialError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection before answering",
            )));
        }
        if let Some(head_len) = check_answer(&buf, key)? {
            let rest = &buf[head_len..];
            // A buffer of its own, sized for what came: the head's buffer goes now.
            return Ok(if rest.is_empty() {
                BytesMut::new()
            } else {
                BytesMut::from(rest)
            });
        }
    }
}

/// `Some(head length)` once `buf` holds a whole answer head that accepts the upgrade, `None`
/// while it holds part of one.
fn check_answer(buf: &[u8], key: &str) -> Result<Option<usize>, DialError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut answer = httparse::Response::new(&mut headers);
    let head_len = match answer.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => {
            return Err(DialError::Refused(format!("not an HTTP answer ({e})")));
        }
    };
    let code = answer.code.unwrap_or(0);
    if code != 101 {
        return Err(DialError::Refused(format!(
            "HTTP {code} {}",
            answer.reason.unwrap_or("")
        )));
    }
    // Every value of a header (it may come on several lines).
    let values = |name: &'static str| {
        answer
            .headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    let header = |name: &'static str| values(name).next();
    let upgrade_ok =
        header("upgrade").is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"websocket"));
    let connection_ok = values("connection").any(|v| {
        v.split(|b| *b == b',')
            .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
    });
    if !upgrade_ok || !connection_ok {
        return Err(DialError::Refused(
            "HTTP 101 without `Upgrade: websocket` and `Connection: upgrade`".into(),
        ));
    }
    let expected = actix_http::ws::hash_key(key.as_bytes());
    if header("sec-websocket-accept").map(<[u8]>::trim_ascii) != Some(&expected[..]) {
        return Err(DialError::Refused(
            "its Sec-WebSocket-Accept does not answer our key".into(),
        ));
    }
    Ok(Some(head_len))
}

impl AsyncRead for WsIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WsIo::Plain(s) => Pin::new(s).poll_read(cx, buf),
            WsIo::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for WsIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WsIo::Plain(s) => Pin::new(s).poll_write(cx, buf),
            WsIo::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WsIo::Plain(s) => Pin::new(s).poll_flush(cx),
            WsIo::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WsIo::Plain(s) => Pin::new(s).poll_shutdown(cx),
            WsIo::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
#[path = "dial_tests.rs"]
mod tests;
