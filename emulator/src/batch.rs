//! Serving a participant batch without stalling other sockets.
//!
//! A batch may hold thousands of actions. One of up to [`ACTIONS_PER_LOCK`] actions (what clients
//! send day to day) is applied at once, like any request; a larger one on a blocking thread, off
//! the server's workers (whose other sockets keep being served), a slice at a time, each slice under its own
//! short hold of the world's lock, letting other threads take the lock between slices: sockets
//! wait for one slice at most. Each slice sees the conversation as the slices before it left it,
//! so the batch means what it meant applied at once.

use talkjs_protocol::error::{ErrorBody, codes};
use talkjs_protocol::params::SetParticipantParams;
use talkjs_protocol::request::{ActionResult, ParticipantAction as WireAction, ParticipantMethod};

use crate::realtime::{SharedWorld, lock};
use crate::world::conversations::ParticipantWrite;
use crate::world::participants::ParticipantAction;

/// Actions applied per hold of the world's lock. A slice costs one copy of the conversation
/// plus its actions: with 10,000 participants, well under a millisecond.
pub const ACTIONS_PER_LOCK: usize = 64;

/// Applies `actions` to `conversation`, a slice at a time; one result per action, in order.
pub(crate) async fn participant_actions(
    world: &SharedWorld,
    conversation: &str,
    actions: Vec<WireAction>,
) -> Vec<ActionResult> {
    let count = actions.len();
    if count <= ACTIONS_PER_LOCK {
        // One slice: applied at once on this worker, as any other request, so a client's
        // one-action joins are answered as fast as before batches moved off the workers (a
        // slower answer widened a race in the official client's stores; issue 17's note).
        return in_slices(world, conversation, actions);
    }
    let (world, conversation) = (world.clone(), conversation.to_owned());
    let applied = actix_rt::task::spawn_blocking(move || in_slices(&world, &conversation, actions));
    applied.await.unwrap_or_else(|e| {
        // A panic is a bug; every action of the batch gets the same 500.
        let body = ErrorBody::new(codes::INTERNAL_ERROR, format!("the batch failed: {e}"));
        vec![ActionResult::error(500, body); count]
    })
}

fn in_slices(
    world: &SharedWorld,
    conversation: &str,
    actions: Vec<WireAction>,
) -> Vec<ActionResult> {
    let mut results = Vec::with_capacity(actions.len());
    let mut actions = actions.into_iter().map(from_wire).peekable();
    while actions.peek().is_some() {
        let slice: Vec<ParticipantAction> = actions.by_ref().take(ACTIONS_PER_LOCK).collect();
        let done = lock(world).write_participants(conversation, slice);
        results.extend(done.into_iter().map(|r| match r {
            Ok(()) => ActionResult::ok(),
            Err(e) => ActionResult::error(e.status, e.body),
        }));
        // The lock is free: let a thread waiting for it have it before the next slice.
        std::thread::yield_now();
    }
    results
}

fn from_wire(a: WireAction) -> ParticipantAction {
    ParticipantAction {
        user: a.id,
        kind: match a.method {
            ParticipantMethod::Post => ParticipantWrite::Create,
            ParticipantMethod::Put => ParticipantWrite::Set,
            ParticipantMethod::Patch => ParticipantWrite::Edit,
        },
        params: SetParticipantParams {
            access: a.params.access,
            notify: a.params.notify,
        },
    }
}
