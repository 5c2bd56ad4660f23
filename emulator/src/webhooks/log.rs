//! The delivery log: one entry per event and URL, newest first, in a ring of bounded length and
//! bounded body bytes, so a busy app or a dead receiver cannot grow it without end. It keeps
//! each entry's body so that an entry can be replayed.

use std::collections::VecDeque;

use actix_web::web::Bytes;
use serde::Serialize;
use talkjs_protocol::wire::Millis;

use super::event::WebhookType;

/// Most body bytes the log keeps (bodies shared by several entries count once per entry): past
/// this the oldest entries go, even below the entry cap. 16 MiB holds 1,000 events of up to
/// 16 KiB each, far more than a chat message's JSON usually takes.
pub const MAX_LOG_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DeliveryState {
    /// Queued, or being attempted (possibly between retries).
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed.
    Failed,
    /// Never attempted: the URL's queue was full.
    Dropped,
}

/// One delivery of one event to one URL.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The entry's id (what the replay endpoint takes).
    pub id: u64,
    /// The event's `id`; a replay has the same one.
    pub event_id: String,
    /// The event's type.
    #[serde(rename = "type")]
    pub kind: WebhookType,
    /// The receiver.
    pub url: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// The status of the last answer, if one came.
    pub last_status: Option<u16>,
    /// Why the last attempt failed without a status (timeout, connection refused, ...).
    pub last_error: Option<String>,
    /// How long the last attempt took, in milliseconds.
    pub duration_ms: Option<u64>,
    /// Where it stands.
    pub state: DeliveryState,
    /// The entry this one replays, if it is a replay.
    pub replay_of: Option<u64>,
    /// When the entry was made (Unix ms).
    pub created_at: Millis,
    /// When it last changed (Unix ms).
    pub updated_at: Millis,
    /// Which configured URL, by index.
    #[serde(skip)]
    pub(crate) url_index: usize,
    /// The delivery lane (`conversation:{id}` or `user:{id}`): events of one lane go one after
    /// another.
    #[serde(skip)]
    pub(crate) lane: String,
    /// The event's body.
    #[serde(skip)]
    pub(crate) body: Bytes,
}

/// The ring of deliveries. See the module docs.
#[derive(Debug)]
pub struct DeliveryLog {
    entries: VecDeque<Delivery>,
    cap: usize,
    body_bytes: usize,
    next_id: u64,
}

impl DeliveryLog {
    /// An empty log keeping at most `cap` entries (at least one).
    pub fn new(cap: usize) -> DeliveryLog {
        DeliveryLog {
            entries: VecDeque::new(),
            cap: cap.max(1),
            body_bytes: 0,
            next_id: 1,
        }
    }

    /// Adds an entry (its `id` is assigned here) and returns the id; the oldest entries go if
    /// the log is over its bounds.
    pub fn push(&mut self, mut d: Delivery) -> u64 {
        d.id = self.next_id;
        self.next_id += 1;
        self.body_bytes += d.body.len();
        let id = d.id;
        self.entries.push_front(d);
        while self.entries.len() > self.cap
            || (self.body_bytes > MAX_LOG_BODY_BYTES && self.entries.len() > 1)
        {
            if let Some(old) = self.entries.pop_back() {
                self.body_bytes -= old.body.len();
            }
        }
        id
    }

    /// The entry with this id, if it is still in the log.
    pub fn get(&self, id: u64) -> Option<&Delivery> {
        // Ids are contiguous and newest first, so the position follows from the id.
        let newest = self.entries.front()?.id;
        let at = usize::try_from(newest.checked_sub(id)?).ok()?;
        self.entries.get(at).filter(|d| d.id == id)
    }

    /// Changes the entry with this id, if it is still in the log.
    pub fn update(&mut self, id: u64, f: impl FnOnce(&mut Delivery)) {
        let Some(newest) = self.entries.front().map(|d| d.id) else {
            return;
        };
        let Some(at) = newest.checked_sub(id).and_then(|n| usize::try_from(n).ok()) else {
            return;
        };
        if let Some(d) = self.entries.get_mut(at).filter(|d| d.id == id) {
            f(d);
        }
    }

    /// Every entry, newest first.
    pub fn entries(&self) -> impl Iterator<Item = &Delivery> {
        self.entries.iter()
    }
}

/// A fresh pending entry (its id is set by [`DeliveryLog::push`]).
pub(crate) fn pending(
    event_id: String,
    kind: WebhookType,
    url_index: usize,
    url: String,
    lane: String,
    body: Bytes,
    now: Millis,
) -> Delivery {
    Delivery {
        id: 0,
        event_id,
        kind,
        url,
        attempts: 0,
        last_status: None,
        last_error: None,
        duration_ms: None,
        state: DeliveryState::Pending,
        replay_of: None,
        created_at: now,
        updated_at: now,
        url_index,
        lane,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(body: usize) -> Delivery {
        pending(
            "evt_1".into(),
            WebhookType::MessageSent,
            0,
            "http://x".into(),
            "conversation:c".into(),
            Bytes::from(vec![b' '; body]),
            0,
        )
    }

    #[test]
    fn keeps_the_newest_entries_within_its_bounds() {
        let mut log = DeliveryLog::new(3);
        let ids: Vec<u64> = (0..5).map(|_| log.push(entry(1))).collect();
        let kept: Vec<u64> = log.entries().map(|d| d.id).collect();
        assert_eq!(kept, vec![ids[4], ids[3], ids[2]]);
        assert!(log.get(ids[1]).is_none());
        log.update(ids[3], |d| d.attempts = 7);
        assert_eq!(log.get(ids[3]).map(|d| d.attempts), Some(7));

        let mut log = DeliveryLog::new(100);
        for _ in 0..3 {
            log.push(entry(MAX_LOG_BODY_BYTES / 2));
        }
        assert_eq!(log.entries().count(), 2, "bounded by body bytes too");
    }
}
