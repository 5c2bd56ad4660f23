//! `talkjs-emulator`: a TalkJS-compatible local server.
//!
//! This crate will hold an actix-web server that speaks the same realtime websocket and HTTP protocol
//! as TalkJS (see docs/protocol.md), with JWT authentication and TalkJS's permission rules, backed
//! by an in-memory store. It is the embedded default of the `talkjs` runtime's examples and tests,
//! and the server the official JavaScript client is run against in `conformance/`.
