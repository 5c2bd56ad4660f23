//! The dispatcher and its lanes: posting events, retrying, keeping per-conversation order.
//!
//! Everything here runs on the dispatcher's own thread and single-threaded runtime (awc's client
//! is single-threaded), so the lanes share their queues through a `RefCell`. When every sender
//! is gone, [`run`] returns and the runtime, with any lane still working, goes with it.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::log::DeliveryState;
use super::sign::{SIGNATURE_HEADER, TIMESTAMP_HEADER, signature, timestamp_now};
use super::{Job, Shared};

/// Most bytes of a receiver's answer read (and ignored): TalkJS's receivers answer an empty 200.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// A lane: one URL (by index) and one conversation or user.
type LaneKey = (usize, String);
/// The queued jobs of each lane that has any; a lane with a queue has exactly one task working
/// through it, front first.
type Lanes = Rc<RefCell<HashMap<LaneKey, VecDeque<Job>>>>;

/// Takes jobs off the channel into their lanes until every sender is gone.
pub(super) async fn run(shared: Arc<Shared>, mut rx: mpsc::Receiver<Job>) {
    let client = awc::Client::builder()
        .timeout(shared.config.timeout)
        .disable_redirects()
        .finish();
    let lanes: Lanes = Rc::default();
    while let Some(job) = rx.recv().await {
        let key = (job.url_index, job.lane.clone());
        let mut queues = lanes.borrow_mut();
        match queues.get_mut(&key) {
            Some(queue) => queue.push_back(job),
            None => {
                queues.insert(key.clone(), VecDeque::from([job]));
                actix_rt::spawn(lane(shared.clone(), client.clone(), lanes.clone(), key));
            }
        }
    }
}

/// Delivers a lane's jobs one after another, and ends when its queue is empty.
async fn lane(shared: Arc<Shared>, client: awc::Client, lanes: Lanes, key: LaneKey) {
    loop {
        let Some(job) = lanes.borrow().get(&key).and_then(|q| q.front().cloned()) else {
            return;
        };
        deliver(&shared, &client, &job).await;
        shared.waiting[job.url_index].release(job.body.len());
        let mut queues = lanes.borrow_mut();
        if let Some(queue) = queues.get_mut(&key) {
            queue.pop_front();
            if queue.is_empty() {
                queues.remove(&key);
                return;
            }
        }
    }
}

/// Attempts one job up to 1 + retries times, waiting `backoff`, then twice that, ... between
/// attempts, and logs each attempt.
async fn deliver(shared: &Shared, client: &awc::Client, job: &Job) {
    let config = &shared.config;
    let url = &config.urls[job.url_index];
    let mut wait = config.backoff;
    for attempt in 1..=config.retries.saturating_add(1) {
        if attempt > 1 {
            actix_rt::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
        }
        let started = Instant::now();
        let outcome = post(shared, client, url, job).await;
        let took = duration_ms(started.elapsed());
        let last = attempt > config.retries;
        let delivered = matches!(outcome, Ok(status) if (200..300).contains(&status));
        shared.update(job.entry, |d| {
            d.attempts = attempt;
            d.duration_ms = Some(took);
            match &outcome {
                Ok(status) => {
                    d.last_status = Some(*status);
                    d.last_error = None;
                }
                Err(e) => {
                    d.last_status = None;
                    d.last_error = Some(e.clone());
                }
            }
            d.state = match (delivered, last) {
                (true, _) => DeliveryState::Delivered,
                (false, true) => DeliveryState::Failed,
                (false, false) => DeliveryState::Pending,
            };
        });
        if delivered {
            return;
        }
        tracing::info!(%url, entry = job.entry, attempt, outcome = ?outcome, "webhook attempt failed");
    }
}

/// One signed POST: the status, or why there was none.
async fn post(shared: &Shared, client: &awc::Client, url: &str, job: &Job) -> Result<u16, String> {
    let timestamp = timestamp_now();
    let mut request = client
        .post(url)
        .insert_header(("Content-Type", "application/json"))
        .insert_header((TIMESTAMP_HEADER, timestamp.as_str()));
    if let Some(secret) = &shared.secret {
        request =
            request.insert_header((SIGNATURE_HEADER, signature(secret, &timestamp, &job.body)));
    }
    let mut response = request
        .send_body(job.body.clone())
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    // Only the status counts, but reading the (usually empty) answer lets the connection be
    // reused for the lane's next event; a receiver that streams a long or endless body gets
    // [`MAX_ANSWER_BYTES`] and the attempt's timeout, not the lane.
    let _ = actix_rt::time::timeout(
        shared.config.timeout,
        response.body().limit(MAX_ANSWER_BYTES),
    )
    .await;
    Ok(status)
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
