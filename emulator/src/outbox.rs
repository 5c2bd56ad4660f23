//! Each socket's outbound queue, bounded in frames and bytes.
//!
//! The world queues pushes for a socket while holding its lock; the socket's task writes them. A
//! client that stops reading would make that queue grow without end (one non-reading subscriber
//! grew the emulator by 200 MB), so the queue has a cap on both the number of queued pushes and
//! their bytes. The push that would cross it is dropped and the socket is closed at once with
//! [`CLOSE_TOO_SLOW`], even while its task is stuck writing to the peer: the official client
//! reconnects and refetches, so a slow client loses nothing it cannot get back.
//!
//! [`Outbox`] is the world's end, [`Inbox`] the task's; [`channel`] makes a pair.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use talkjs_protocol::frame::EncodedEvents;
use tokio::sync::{Notify, mpsc};

/// Close code for a socket whose peer does not read its pushes fast enough: 1008, "policy
/// violation" (RFC 6455 §7.4.1). The official client reconnects after any close it did not ask for.
pub const CLOSE_TOO_SLOW: u16 = 1008;

/// What a socket's task is asked to write.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// Events to push; the socket adds its next PUBLISH id.
    Publish(Arc<EncodedEvents>),
    /// Close the socket with this code and reason, after the pushes queued before it.
    Close(u16, String),
}

impl QueueLimits {
    /// No limit: for tests and benches that read the queue only at the end.
    pub const UNBOUNDED: QueueLimits = QueueLimits {
        frames: usize::MAX,
        bytes: usize::MAX,
    };
}

/// How much one socket's queue may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Most pushes queued at once.
    pub frames: usize,
    /// Most bytes of pushes queued at once.
    pub bytes: usize,
}

/// What both ends share: the queued totals and whether the cap was crossed.
#[derive(Debug)]
struct Shared {
    limits: QueueLimits,
    frames: AtomicUsize,
    bytes: AtomicUsize,
    overflowed: AtomicBool,
    overflow: Notify,
}

/// The world's end of a socket's queue. Sending never blocks and never grows past the limits.
#[derive(Debug)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<Outbound>,
    shared: Arc<Shared>,
}

/// The socket task's end of its queue.
#[derive(Debug)]
pub struct Inbox {
    rx: mpsc::UnboundedReceiver<Outbound>,
    shared: Arc<Shared>,
}

/// A bounded queue for one socket.
pub fn channel(limits: QueueLimits) -> (Outbox, Inbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        limits,
        frames: AtomicUsize::new(0),
        bytes: AtomicUsize::new(0),
        overflowed: AtomicBool::new(false),
        overflow: Notify::new(),
    });
    (
        Outbox {
            tx,
            shared: shared.clone(),
        },
        Inbox { rx, shared },
    )
}

impl Outbox {
    /// Queues a push. Returns false if it was not queued: the socket is gone, or it is over its
    /// limits (and is now being closed).
    pub fn publish(&self, events: Arc<EncodedEvents>) -> bool {
        let s = &self.shared;
        if s.overflowed.load(Ordering::Acquire) {
            return false;
        }
        let size = events.as_str().len();
        // Only the world (under its lock) adds, so load-then-add cannot race another adder; the
        // task only subtracts, which can only make room.
        let frames = s.frames.load(Ordering::Acquire);
        let bytes = s.bytes.load(Ordering::Acquire);
        if frames + 1 > s.limits.frames || bytes + size > s.limits.bytes {
            s.overflowed.store(true, Ordering::Release);
            s.overflow.notify_one();
            return false;
        }
        s.frames.fetch_add(1, Ordering::AcqRel);
        s.bytes.fetch_add(size, Ordering::AcqRel);
        if self.tx.send(Outbound::Publish(events)).is_err() {
            return false;
        }
        true
    }

    /// Asks the socket to close once the pushes queued before have been written.
    pub fn close(&self, code: u16, reason: &str) {
        let _ = self.tx.send(Outbound::Close(code, reason.to_owned()));
    }
}

impl Inbox {
    /// The next thing to write, or `None` when the world forgot the socket.
    pub async fn recv(&mut self) -> Option<Outbound> {
        let out = self.rx.recv().await?;
        self.took(&out);
        Some(out)
    }

    /// The next thing to write if one is queued, without waiting (for tests and benches that
    /// drive a [`World`](crate::world::World) without sockets).
    pub fn try_recv(&mut self) -> Option<Outbound> {
        let out = self.rx.try_recv().ok()?;
        self.took(&out);
        Some(out)
    }

    fn took(&self, out: &Outbound) {
        if let Outbound::Publish(events) = out {
            self.shared.frames.fetch_sub(1, Ordering::AcqRel);
            self.shared
                .bytes
                .fetch_sub(events.as_str().len(), Ordering::AcqRel);
        }
    }

    /// A handle that tells when this queue overflows, to wait on beside [`Inbox::recv`].
    pub fn overflow(&self) -> Overflow {
        Overflow(self.shared.clone())
    }
}

/// Tells when a queue crossed its limits (see [`Inbox::overflow`]).
#[derive(Debug)]
pub struct Overflow(Arc<Shared>);

impl Overflow {
    /// Resolves once a push was refused for crossing the limits (at once if one already was).
    pub async fn happened(&self) {
        if self.0.overflowed.load(Ordering::Acquire) {
            return;
        }
        self.0.overflow.notified().await;
    }

    /// Why the socket is being closed for overflow.
    pub fn reason(&self) -> String {
        let l = self.0.limits;
        format!(
            "the client is not reading: over {} queued pushes or {} queued bytes",
            l.frames, l.bytes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use talkjs_protocol::event::Event;

    fn event() -> Arc<EncodedEvents> {
        Arc::new(EncodedEvents::encode(&[Event::SessionExpired]).unwrap())
    }

    #[actix_rt::test]
    async fn the_push_over_either_limit_is_refused_and_signals_overflow() {
        let size = event().as_str().len();
        let (out, mut inbox) = channel(QueueLimits {
            frames: 2,
            bytes: 10 * size,
        });
        assert!(out.publish(event()));
        assert!(out.publish(event()));
        assert!(!out.publish(event()), "a third frame is over the limit");
        inbox.overflow().happened().await;
        assert!(!out.publish(event()), "nothing more once over");
        assert!(inbox.recv().await.is_some());

        let (out, inbox) = channel(QueueLimits {
            frames: 100,
            bytes: size + size / 2,
        });
        assert!(out.publish(event()));
        assert!(!out.publish(event()), "the second frame's bytes are over");
        inbox.overflow().happened().await;
    }

    #[actix_rt::test]
    async fn reading_makes_room() {
        let (out, mut inbox) = channel(QueueLimits {
            frames: 1,
            bytes: usize::MAX,
        });
        for _ in 0..5 {
            assert!(out.publish(event()));
            assert!(matches!(inbox.recv().await, Some(Outbound::Publish(_))));
        }
    }
}
