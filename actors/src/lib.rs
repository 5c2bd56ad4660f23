//! The actor system behind the `talkjs` runtime.
//!
//! This crate will hold one actix actor per file, each named for what it owns (see ARCHITECTURE.md):
//! the registry that hands out sessions, the session (auth state and request pipeline), the
//! websocket connection, one actor per live subscription, the cache shards and the token providers.
//! It depends on `talkjs-protocol` for everything that crosses the wire and does no parsing of its own.
