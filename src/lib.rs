//! `talkjs`: a Rust runtime for the TalkJS Data API.
//!
//! A session acts as one TalkJS user: it reads and writes users, conversations, participants,
//! messages and reactions, and subscribes to live snapshots, over the same realtime protocol as the
//! official JavaScript client. The public API will mirror `@talkjs/core` in snake_case.
//!
//! For now this crate re-exports the wire protocol; the runtime arrives with the actor crate.

pub use talkjs_protocol as protocol;
