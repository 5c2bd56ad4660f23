//! What plugins may use: observe a session's connection lifecycle and every pushed event in an
//! actor of their own ([`SessionHandle::observe`](crate::SessionHandle::observe)), and supply
//! tokens from any actor that answers [`NeedToken`] or any [`TokenProvider`].

use std::sync::Arc;

use actix::prelude::*;
use talkjs_protocol::event::Event;

pub use crate::connection::Lifecycle;
pub use crate::token::{NeedToken, TokenError, TokenProvider, TokenReason, TokenRequest};

/// A lifecycle change, as delivered to observers.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct LifecycleEvent(pub Lifecycle);

/// A pushed event, as delivered to observers: the same `Arc` every subscription gets.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct InboundEvent(pub Arc<Event>);
