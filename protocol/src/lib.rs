//! The TalkJS realtime wire protocol, as spoken by `@talkjs/core` 1.12.0.
//!
//! Both sides of talkjs-rs build on this crate: the client runtime (`talkjs-actors`, `talkjs`) and
//! the local server (`talkjs-emulator`). It does no I/O, so everything here can be tested without a
//! socket. `docs/protocol.md` in the repository is the reference this code implements.
//!
//! - [`frame`]: the four frame shapes on the websocket and their typed, non-panicking parser.
//! - [`path`]: request routes and subscription topics, with the client's segment encoding.
//! - [`event`]: the events a server pushes inside `PUBLISH` frames.
//! - [`wire`]: the JSON objects the server returns (users, conversations, messages, ...).
//! - [`content`]: message content blocks and the rich-text node tree.
//! - [`markup`]: TalkJS markup strings to content, as the official client parses them.
//! - [`message_diff`]: applying a `message.edited` diff, to a wire message or a snapshot.
//! - [`plaintext`]: content to the plaintext the official client shows.
//! - [`snapshot`], [`params`], [`filter`], [`request`]: the public snapshot and parameter types of
//!   `talkSession.d.ts`, conversation filters, and the typed bodies of each route.
//! - [`error`]: the `{errorCode, reasons}` error body.
//! - [`endpoints`]: base URLs from a `host` option, and the realtime URL.

#![deny(missing_docs)]

pub mod content;
pub mod endpoints;
pub mod error;
pub mod event;
pub mod filter;
pub mod frame;
pub mod markup;
pub mod message_diff;
pub mod params;
pub mod path;
pub mod plaintext;
pub mod request;
pub mod snapshot;
pub mod webhook;
pub mod wire;

pub use error::ErrorBody;
pub use event::Event;
pub use frame::{Frame, FrameError, Method};
pub use path::Path;
