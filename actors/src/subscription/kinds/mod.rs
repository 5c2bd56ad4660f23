//! One file per kind of subscription: what it subscribes to, how it loads, how events change it.
//! `conversation` also holds the `Entry` a conversation list shares; `user_list` the state and
//! operations the participants and reactions lists share.

pub(crate) mod conversation;
pub(crate) mod conversations;
pub(crate) mod message_window;
pub(crate) mod messages;
pub(crate) mod online;
pub(crate) mod participant;
pub(crate) mod participants;
pub(crate) mod reactions;
pub(crate) mod typing;
pub(crate) mod user;
pub(crate) mod user_list;
