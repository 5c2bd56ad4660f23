//! Webhooks: the emulator posts TalkJS's webhook events (`message.sent`, `user.created`, ...) to
//! the URLs given with `--webhook-url`, signed as TalkJS signs them (docs/protocol.md §12.11).
//!
//! The world decides *which* events an action fires, in `world/webhooks.rs`, at the one place
//! each write is applied, so client writes, REST writes and batches all fire them, once per
//! action. It hands them to [`Webhooks::emit`], which never waits: it logs a pending entry per
//! URL and puts the event on a bounded channel (a full URL queue drops the event and logs it as
//! dropped). That push happens under the world's lock on purpose: it is what makes the channel's
//! order the order the world applied the writes in (two writers enqueueing after unlocking could
//! swap), and it never blocks. One dispatcher task (`delivery.rs`), on a thread of its own, takes them off the channel into lanes, one per
//! URL and conversation (or user): a lane posts its events one after another, lanes run in
//! parallel. So a slow or dead receiver holds up only its own lanes, never the world's lock or a
//! socket, and costs at most its queue caps (events and bytes) in memory.

mod delivery;
pub mod event;
pub mod log;
mod routes;
pub mod sign;

use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::web::Bytes;
use serde_json::Value;
use talkjs_protocol::wire::Millis;
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::config::WebhookConfig;
pub use event::WebhookType;
use log::{Delivery, DeliveryLog, DeliveryState};
pub use routes::routes;

/// Checks that `url` is one the emulator can post to: `http://` with a host (the emulator has no
/// TLS client; a local receiver or a tunnel's http address is what it is for).
pub fn check_url(url: &str) -> Result<(), String> {
    let uri: awc::http::Uri = url
        .parse()
        .map_err(|e| format!("webhook URL {url:?} is not an http://HOST[:PORT]/PATH URL: {e}"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http"), Some(host)) if !host.is_empty() => Ok(()),
        _ => Err(format!(
            "webhook URL {url:?} must be http://HOST[:PORT]/PATH (no TLS in the emulator)"
        )),
    }
}

/// One delivery to make: the log entry it updates, and what to send where.
#[derive(Debug, Clone)]
struct Job {
    entry: u64,
    url_index: usize,
    lane: String,
    body: Bytes,
}

/// The webhook sender of one emulator: a cheap handle shared by the world (which emits) and the
/// log endpoints. See the module docs. When the last handle goes (the emulator stopped), the
/// dispatcher's thread ends, abandoning what was still queued or in flight.
#[derive(Clone)]
pub struct Webhooks {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Job>,
}

/// What the handles and the dispatcher share.
struct Shared {
    config: WebhookConfig,
    secret: Option<String>,
    log: Mutex<DeliveryLog>,
    /// What waits (queued or in flight) for each URL.
    waiting: Vec<Waiting>,
    next_event: AtomicU64,
    clock: Clock,
}

impl Webhooks {
    /// Starts the dispatcher on a thread of its own (when there is a URL) and returns the
    /// handle. Without `secret` events go out unsigned (no `X-TalkJS-Signature`). A URL that is
    /// not `http://HOST...` is refused with [`io::ErrorKind::InvalidInput`].
    pub fn start(config: WebhookConfig, secret: Option<String>) -> io::Result<Webhooks> {
        for url in &config.urls {
            check_url(url).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        }
        // The per-URL caps bound what is in the channel, so it never refuses for being full.
        let capacity = config.queue.max(1).saturating_mul(config.urls.len().max(1));
        let (tx, rx) = mpsc::channel(capacity);
        if !config.urls.is_empty() && secret.is_none() {
            tracing::warn!("webhooks are sent unsigned: the emulator has no --secret");
        }
        let shared = Arc::new(Shared {
            waiting: config.urls.iter().map(|_| Waiting::default()).collect(),
            log: Mutex::new(DeliveryLog::new(config.log)),
            config,
            secret,
            next_event: AtomicU64::new(1),
            clock: Clock::default(),
        });
        if !shared.config.urls.is_empty() {
            // Its own thread and runtime: posting, retry timers and slow receivers cost the
            // server's threads (and an in-process caller's) nothing but the channel's wake-up.
            let dispatcher = shared.clone();
            std::thread::Builder::new()
                .name("talkjs-webhooks".into())
                .spawn(move || actix_rt::System::new().block_on(delivery::run(dispatcher, rx)))?;
        }
        Ok(Webhooks { shared, tx })
    }

    /// Whether any URL is configured: the world builds no event data otherwise.
    pub fn active(&self) -> bool {
        !self.shared.config.urls.is_empty()
    }

    /// Sends an event to every URL, without waiting: `lane` is what orders it (events of one
    /// lane are delivered one after another), `created_at` its time, `data` its `data` field.
    pub fn emit(&self, kind: WebhookType, lane: String, created_at: Millis, data: Value) {
        if !self.active() {
            return;
        }
        let n = self.shared.next_event.fetch_add(1, Ordering::Relaxed);
        let event_id = format!("evt_{n:06}");
        let body = Bytes::from(event::body(&event_id, &kind, created_at, data));
        for (i, url) in self.shared.config.urls.iter().enumerate() {
            let entry = log::pending(
                event_id.clone(),
                kind.clone(),
                i,
                url.clone(),
                lane.clone(),
                body.clone(),
                self.shared.clock.now(),
            );
            self.enqueue(entry);
        }
    }

    /// Sends the event of log entry `id` again, to the same URL, with a fresh timestamp and
    /// signature; the new entry, or `None` if `id` is no longer in the log.
    pub fn replay(&self, id: u64) -> Option<Delivery> {
        let mut entry = self.shared.log().get(id)?.clone();
        let now = self.shared.clock.now();
        entry.attempts = 0;
        entry.last_status = None;
        entry.last_error = None;
        entry.duration_ms = None;
        entry.state = DeliveryState::Pending;
        entry.replay_of = Some(id);
        entry.created_at = now;
        entry.updated_at = now;
        let new = self.enqueue(entry);
        self.shared.log().get(new).cloned()
    }

    /// The delivery log, newest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.log().entries().cloned().collect()
    }

    /// Logs the entry and queues it, or logs it dropped when its URL's queue is full.
    fn enqueue(&self, entry: Delivery) -> u64 {
        let (url_index, lane, body) = (entry.url_index, entry.lane.clone(), entry.body.clone());
        let (kind, url) = (entry.kind.clone(), entry.url.clone());
        let id = self.shared.log().push(entry);
        let waiting = &self.shared.waiting[url_index];
        let size = body.len();
        let job = Job {
            entry: id,
            url_index,
            lane,
            body,
        };
        let admitted = waiting.reserve(size, self.shared.config.queue);
        if !admitted || self.tx.try_send(job).is_err() {
            if admitted {
                waiting.release(size);
            }
            tracing::warn!(%url, event = %kind, entry = id, "webhook dropped: the URL's queue is full");
            self.shared.update(id, |d| d.state = DeliveryState::Dropped);
        }
        id
    }
}

/// Most body bytes waiting for one URL: with the event cap this bounds what a dead receiver
/// costs even when events are large (a message of 1 MiB appears twice in its event, as the
/// message and as the conversation's last message).
pub const MAX_QUEUED_BYTES: usize = 64 * 1024 * 1024;

/// Events and body bytes waiting (queued or in flight) for one URL.
#[derive(Debug, Default)]
struct Waiting {
    events: AtomicUsize,
    bytes: AtomicUsize,
}

impl Waiting {
    /// Counts an event of `size` bytes in, unless that would pass `max_events` or
    /// [`MAX_QUEUED_BYTES`].
    fn reserve(&self, size: usize, max_events: usize) -> bool {
        let events = self.events.fetch_add(1, Ordering::AcqRel);
        let bytes = self.bytes.fetch_add(size, Ordering::AcqRel);
        if events >= max_events || bytes.saturating_add(size) > MAX_QUEUED_BYTES {
            self.release(size);
            return false;
        }
        true
    }

    /// Counts a delivered, failed or refused event out.
    fn release(&self, size: usize) {
        self.events.fetch_sub(1, Ordering::AcqRel);
        self.bytes.fetch_sub(size, Ordering::AcqRel);
    }
}

impl Shared {
    fn log(&self) -> MutexGuard<'_, DeliveryLog> {
        // A panic while holding the log leaves nothing half-written worth refusing service for.
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Changes a log entry (if still in the log) and stamps it.
    fn update(&self, id: u64, f: impl FnOnce(&mut Delivery)) {
        let now = self.clock.now();
        self.log().update(id, |d| {
            f(d);
            d.updated_at = now;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_admits_events_up_to_its_event_and_byte_caps() {
        let w = Waiting::default();
        assert!(w.reserve(10, 2) && w.reserve(10, 2));
        assert!(!w.reserve(10, 2), "a third event passes the event cap");
        w.release(10);
        assert!(w.reserve(10, 2), "room again once one is done");
        let w = Waiting::default();
        assert!(w.reserve(MAX_QUEUED_BYTES - 1, 10));
        assert!(!w.reserve(2, 10), "the bytes would pass the byte cap");
        assert!(w.reserve(1, 10));
        assert_eq!(
            (
                w.events.load(Ordering::Relaxed),
                w.bytes.load(Ordering::Relaxed)
            ),
            (2, MAX_QUEUED_BYTES)
        );
    }
}
