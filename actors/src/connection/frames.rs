//! The websocket's framing, sized for the traffic the socket has: buffers that exist while the
//! socket is busy and are given back once it has been quiet for a moment.
//!
//! An `actix_codec::Framed` (what awc's websocket client hands over) keeps an 8 KiB read buffer
//! and an 8 KiB write buffer for as long as the socket is open, traffic or not. Most sockets of a bot
//! are idle most of the time (a session holding a subscription hears a push now and then), so
//! those 16 KiB were half of what an idle session cost. [`LeanFramed`] is the same `Stream` of
//! frames and `Sink` of messages over the same socket and codec, but:
//!
//! - it reads into a scratch buffer on the stack and keeps only the bytes that arrived (a
//!   frame split across reads is kept until it is complete);
//! - a socket that is not in a burst gives its buffers back as soon as everything in them is
//!   decoded or written, so a session that hears a frame now and then, or is just setting up
//!   (a renew, a subscribe, a first page), holds none between frames;
//! - in a burst ([`BURST`] frames within [`QUIET`] of each other), its read and write buffers
//!   stay allocated, so the burst costs no allocation per frame: a buffer is reused once the
//!   frames decoded from it are dropped (bytes' `reserve` reclaims a buffer it owns alone);
//! - after [`QUIET`] without a byte in or out, both buffers are given back and so is the timer
//!   that noticed the quiet. The timer is armed once per burst.
//!
//! Keeping buffers only in a burst matters for memory, not just CPU: thousands of sessions
//! that each kept an 8 KiB buffer for a moment after setting up would leave holes between
//! their long-lived allocations, and the process's resident size would grow by more than its
//! live heap.
//!
//! Why not free on every `Pending`, as an earlier version did: under a burst the socket is
//! drained after nearly every frame, so each frame paid for a fresh allocation of a kilobyte or
//! more, and glibc's allocator consolidated its free lists on each one (about a sixth of the
//! receive CPU in a profile of 40,000 pushes).
//!
//! The cost is one copy of each received chunk (memcpy, small beside decoding its JSON).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_codec::{AsyncRead, AsyncWrite, Decoder, Encoder, ReadBuf};
use actix_rt::time::{Instant, Sleep, sleep_until};
use awc::error::WsProtocolError;
use awc::ws;
use bytes::{Buf, BytesMut};
use futures_core::Stream;
use futures_util::Sink;

use super::dial::WsIo;

/// The largest read from the socket at once (actix-codec's high-water mark).
const READ_CHUNK: usize = 8 * 1024;
/// Writes go out once this much is buffered, as actix-codec's `Framed` does.
const WRITE_HIGH_WATER: usize = 8 * 1024;
/// A socket this long without traffic gives its buffers back, and frames further apart than
/// this are not a burst.
const QUIET: Duration = Duration::from_millis(250);
/// Frames received within [`QUIET`] of each other from which the socket counts as in a burst.
const BURST: u32 = 8;

/// A websocket's frames in, messages out; see the module docs.
pub(super) struct LeanFramed<Io = WsIo> {
    io: Io,
    codec: ws::Codec,
    /// Bytes received and not yet decoded; kept while the socket is busy.
    read_buf: BytesMut,
    /// Bytes encoded and not yet written; kept while the socket is busy.
    write_buf: BytesMut,
    /// The socket reached its end: decode what is left, then end the stream.
    eof: bool,
    /// Bytes moved since the quiet timer was armed.
    busy: bool,
    /// Frames received in the current run of frames less than [`QUIET`] apart.
    run: u32,
    /// When the last frame was received.
    last_frame: Option<Instant>,
    /// Fires [`QUIET`] after it was armed; exists only while a buffer is held.
    quiet: Option<Pin<Box<Sleep>>>,
}

impl<Io: AsyncRead + AsyncWrite + Unpin> LeanFramed<Io> {
    /// Frames over `io` with `codec`; `received`: bytes that came with the handshake's answer.
    pub(super) fn new(io: Io, codec: ws::Codec, received: BytesMut) -> LeanFramed<Io> {
        LeanFramed {
            io,
            codec,
            read_buf: received,
            write_buf: BytesMut::new(),
            eof: false,
            busy: false,
            run: 0,
            last_frame: None,
            quiet: None,
        }
    }

    /// Counts a received frame into the current run of frames (see [`BURST`]).
    fn count_frame(&mut self) {
        let now = Instant::now();
        let close = self
            .last_frame
            .is_some_and(|last| now.saturating_duration_since(last) < QUIET);
        self.run = if close { self.run.saturating_add(1) } else { 1 };
        self.last_frame = Some(now);
    }

    /// Outside a burst: gives back each buffer that holds nothing (a half-received frame or
    /// unwritten bytes stay), and the quiet timer if one was left from a burst.
    fn release_drained(&mut self) {
        self.free_empty();
        self.quiet = None;
    }

    /// Gives back each buffer that holds nothing. An empty buffer with no room left may still
    /// share the allocation its last frame was decoded from (decoding splits a frame's bytes
    /// off the front), which would keep that allocation alive for as long as the socket is
    /// open; replacing it drops that share too (`BytesMut::new` allocates nothing).
    fn free_empty(&mut self) {
        if self.read_buf.is_empty() {
            self.read_buf = BytesMut::new();
        }
        if self.write_buf.is_empty() {
            self.write_buf = BytesMut::new();
        }
    }

    /// Whether either buffer holds memory.
    fn holds_buffers(&self) -> bool {
        self.read_buf.capacity() > 0 || self.write_buf.capacity() > 0
    }

    /// Called when reading found nothing more: gives the buffers back once the socket has been
    /// quiet for [`QUIET`], arming (or re-arming) the timer that says when.
    fn poll_quiet(&mut self, cx: &mut Context<'_>) {
        loop {
            if !self.holds_buffers() {
                self.free_empty();
                self.quiet = None;
                return;
            }
            let Some(quiet) = self.quiet.as_mut() else {
                self.busy = false;
                self.quiet = Some(Box::pin(sleep_until(Instant::now() + QUIET)));
                continue;
            };
            if quiet.as_mut().poll(cx).is_pending() {
                return;
            }
            // It fired. Without traffic since it was armed, the empty buffers go; whatever is
            // still held (traffic came, or a half-received frame or unwritten bytes are in a
            // buffer) waits another quiet spell, and with nothing held the timer goes too.
            if !std::mem::take(&mut self.busy) {
                self.free_empty();
            }
            if let Some(quiet) = self.quiet.as_mut() {
                quiet.as_mut().reset(Instant::now() + QUIET);
            }
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
            self.busy = true;
            self.write_buf.advance(n);
        }
        if self.run >= BURST {
            // Empty: `reserve` on the next write starts at the front of the same allocation.
            self.write_buf.clear();
        } else {
            self.write_buf = BytesMut::new();
        }
        Pin::new(&mut self.io).poll_flush(cx).map_err(Into::into)
    }
}

impl<Io: AsyncRead + AsyncWrite + Unpin> Stream for LeanFramed<Io> {
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
                        this.count_frame();
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
                    if this.run >= BURST {
                        this.poll_quiet(cx);
                    } else {
                        this.release_drained();
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                Poll::Ready(Ok(())) => {}
            }
            let filled = buf.filled();
            if filled.is_empty() {
                this.eof = true;
            } else {
                this.busy = true;
                if this.read_buf.capacity() == 0 && this.run >= BURST {
                    // In a burst: room for a full chunk, kept until it is quiet.
                    this.read_buf.reserve(READ_CHUNK);
                }
                this.read_buf.extend_from_slice(filled);
            }
        }
    }
}

impl<Io: AsyncRead + AsyncWrite + Unpin> Sink<ws::Message> for LeanFramed<Io> {
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

#[cfg(test)]
#[path = "frames_tests.rs"]
mod tests;
