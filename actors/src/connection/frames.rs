//! The websocket's framing, sized for an idle socket: buffers that exist only while bytes are
//! in them.
//!
//! awc hands a socket over as an `actix_codec::Framed`, which keeps an 8 KiB read buffer and an
//! 8 KiB write buffer for as long as the socket is open, traffic or not. Most sockets of a bot
//! are idle most of the time (a session holding a subscription hears a push now and then), so
//! those 16 KiB were half of what an idle session cost. [`LeanFramed`] is the same `Stream` of
//! frames and `Sink` of messages over the same socket and codec, but:
//!
//! - it reads into a scratch buffer on the stack and keeps only the bytes that arrived, so a
//!   socket waiting for its next frame holds no read buffer at all (a frame split across
//!   reads is kept until it is complete);
//! - its write buffer is released once a flush has written everything.
//!
//! The cost is one copy of each received chunk (memcpy, small beside decoding its JSON) and an
//! allocation per burst of writes.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_codec::{AsyncRead, AsyncWrite, Decoder, Encoder, Framed, ReadBuf};
use awc::BoxedSocket;
use awc::error::WsProtocolError;
use awc::ws;
use bytes::{Buf, BytesMut};
use futures_core::Stream;
use futures_util::Sink;

/// The largest read from the socket at once (actix-codec's high-water mark).
const READ_CHUNK: usize = 8 * 1024;
/// Writes go out once this much is buffered, as actix-codec's `Framed` does.
const WRITE_HIGH_WATER: usize = 8 * 1024;

/// A websocket's frames in, messages out; see the module docs.
pub(super) struct LeanFramed {
    io: BoxedSocket,
    codec: ws::Codec,
    /// Bytes received and not yet decoded; no allocation while empty.
    read_buf: BytesMut,
    /// Bytes encoded and not yet written; no allocation while empty.
    write_buf: BytesMut,
    /// The socket reached its end: decode what is left, then end the stream.
    eof: bool,
}

impl LeanFramed {
    /// Takes the socket, codec and any bytes already received over from awc's `Framed`.
    pub(super) fn new(framed: Framed<BoxedSocket, ws::Codec>) -> LeanFramed {
        let parts = framed.into_parts();
        let mut lean = LeanFramed {
            io: parts.io,
            codec: parts.codec,
            read_buf: BytesMut::new(),
            write_buf: BytesMut::new(),
            eof: false,
        };
        // Bytes that came with the handshake's response, if any; none are written yet.
        if !parts.read_buf.is_empty() {
            lean.read_buf.extend_from_slice(&parts.read_buf);
        }
        if !parts.write_buf.is_empty() {
            lean.write_buf.extend_from_slice(&parts.write_buf);
        }
        lean
    }

    /// Gives the read buffer's memory back once everything in it is decoded.
    fn release_read(&mut self) {
        if self.read_buf.is_empty() && self.read_buf.capacity() > 0 {
            self.read_buf = BytesMut::new();
        }
    }

    fn poll_flush_buf(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), WsProtocolError>> {
        while !self.write_buf.is_empty() {
            let n = match Pin::new(&mut self.io).poll_write(cx, &self.write_buf) {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                Poll::Pending => return Poll::Pending,
            };
            if n == 0 {
                return Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::WriteZero,
                    "failed to write frame to the socket",
                )
                .into()));
            }
            self.write_buf.advance(n);
        }
        self.write_buf = BytesMut::new();
        Pin::new(&mut self.io).poll_flush(cx).map_err(Into::into)
    }
}

impl Stream for LeanFramed {
    type Item = Result<ws::Frame, WsProtocolError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if !this.read_buf.is_empty() || this.eof {
                let decoded = if this.eof {
                    this.codec.decode_eof(&mut this.read_buf)
                } else {
                    this.codec.decode(&mut this.read_buf)
                };
                match decoded {
                    Ok(Some(frame)) => {
                        this.release_read();
                        return Poll::Ready(Some(Ok(frame)));
                    }
                    Ok(None) if this.eof => return Poll::Ready(None),
                    Ok(None) => {} // A frame's start: read on.
                    Err(e) => return Poll::Ready(Some(Err(e))),
                }
            }
            let mut scratch = [std::mem::MaybeUninit::<u8>::uninit(); READ_CHUNK];
            let mut buf = ReadBuf::uninit(&mut scratch);
            match Pin::new(&mut this.io).poll_read(cx, &mut buf) {
                Poll::Pending => {
                    this.release_read();
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                Poll::Ready(Ok(())) => {}
            }
            let filled = buf.filled();
            if filled.is_empty() {
                this.eof = true;
            } else {
                this.read_buf.extend_from_slice(filled);
            }
        }
    }
}

impl Sink<ws::Message> for LeanFramed {
    type Error = WsProtocolError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        if this.write_buf.len() < WRITE_HIGH_WATER {
            Poll::Ready(Ok(()))
        } else {
            this.poll_flush_buf(cx)
        }
    }

    fn start_send(self: Pin<&mut Self>, item: ws::Message) -> Result<(), Self::Error> {
        let this = self.get_mut();
        this.codec.encode(item, &mut this.write_buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().poll_flush_buf(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        match this.poll_flush_buf(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        Pin::new(&mut this.io).poll_shutdown(cx).map_err(Into::into)
    }
}
