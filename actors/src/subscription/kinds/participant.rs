//! One participant (`ParticipantRef::subscribe`): the user's membership of a conversation,
//! `None` while they are not a participant (or the current user is not one).
//!
//! - **Load**: `SUBSCRIBE /me/conversations/{c}/participants/{u}`, then `GET` of the participant
//!   and, beside it, the user through the cache (watched, so a rename re-emits), as the
//!   official client asks for both at once.
//! - **Events** for that user: `participant.created` sets it if it was `None`,
//!   `participant.edited` applies its diff, `participant.deleted` clears it. `side.created`
//!   reloads (the current user joined); `side.deleted` shows `None`.

use std::sync::Arc;

use futures_util::future::LocalBoxFuture;
use talkjs_protocol::error::codes;
use talkjs_protocol::event::Event;
use talkjs_protocol::path::{Route, Topic};
use talkjs_protocol::snapshot::{ParticipantSnapshot, UserSnapshot};
use talkjs_protocol::wire::ParticipantWire;

use crate::error::Error;
use crate::session::routes::{Found, Lookup, RouteKey};
use crate::subscription::hydrate;
use crate::subscription::{Apply, Kind, LoadReason, Scope, Step};

/// See the module docs.
#[derive(Debug)]
pub struct ParticipantKind {
    conversation: String,
    user: String,
    wire: Option<ParticipantWire>,
    /// `None` while the user does not exist (or is not known yet).
    user_snapshot: Option<Arc<UserSnapshot>>,
    snapshot: Option<Arc<ParticipantSnapshot>>,
    /// Whether asking about someone else in a conversation the current user is not in fails
    /// (a read, as in the official client) rather than showing `None` (a subscription).
    refuse_outsiders: bool,
}

/// A load's result: the participant, and their user.
pub struct Loaded {
    wire: Option<ParticipantWire>,
    user: Option<Arc<UserSnapshot>>,
}

impl ParticipantKind {
    /// The participant `user` of `conversation`.
    pub fn new(conversation: impl Into<String>, user: impl Into<String>) -> ParticipantKind {
        ParticipantKind {
            conversation: conversation.into(),
            user: user.into(),
            wire: None,
            user_snapshot: None,
            snapshot: None,
            refuse_outsiders: false,
        }
    }

    /// The same, for a one-off read: someone else's participation in a conversation the
    /// current user is not in is refused (`NOT_A_PARTICIPANT`) instead of shown as `None`.
    pub fn for_read(conversation: impl Into<String>, user: impl Into<String>) -> ParticipantKind {
        ParticipantKind {
            refuse_outsiders: true,
            ..ParticipantKind::new(conversation, user)
        }
    }

    /// Rebuilds the snapshot; true if it changed.
    fn rebuild(&mut self) -> bool {
        let next = match (&self.wire, &self.user_snapshot) {
            (Some(w), Some(u)) => Some(ParticipantSnapshot::from_wire(w, u.clone())),
            _ => None,
        };
        if next.as_ref() == self.snapshot.as_deref() {
            return false;
        }
        self.snapshot = next.map(Arc::new);
        true
    }

    fn step(&mut self) -> Step<Self> {
        if self.rebuild() {
            Step::Changed
        } else {
            Step::Unchanged
        }
    }
}

impl Kind for ParticipantKind {
    type Snapshot = Option<Arc<ParticipantSnapshot>>;
    type Loaded = Loaded;

    fn describe(&self) -> String {
        format!(
            "me/conversations/{}/participants/{}",
            self.conversation, self.user
        )
    }

    fn route_keys(&self) -> Vec<RouteKey> {
        vec![RouteKey::Conversation(self.conversation.clone())]
    }

    fn topics(&self) -> Vec<Topic> {
        vec![Topic::Participant {
            conversation: self.conversation.clone(),
            user: self.user.clone(),
        }]
    }

    fn load(
        &self,
        _reason: LoadReason,
        scope: &mut Scope<'_>,
    ) -> LocalBoxFuture<'static, Result<Loaded, Error>> {
        let route = Route::GetParticipant {
            conversation: self.conversation.clone(),
            user: self.user.clone(),
        };
        let op = format!(
            "Get participant {} in conversation {}",
            self.user, self.conversation
        );
        // For a read, someone else's participation in a conversation the current user is not
        // in is refused, as the official client refuses it; the user's own is simply absent.
        let refuse = self.refuse_outsiders && *self.user != *scope.env.me;
        let absent = move |e: &Error| {
            e.is_absent() && !(refuse && e.error_code() == Some(codes::NOT_A_PARTICIPANT))
        };
        let both =
            hydrate::item_with_user::<ParticipantWire>(scope, op, &route, &self.user, absent);
        Box::pin(async move {
            let (wire, user) = both.await?;
            Ok(Loaded { wire, user })
        })
    }

    fn install(&mut self, loaded: Loaded, _: LoadReason, _: &mut Scope<'_>) -> bool {
        self.wire = loaded.wire;
        if loaded.user.is_some() {
            self.user_snapshot = loaded.user;
        }
        self.rebuild()
    }

    fn on_event(&mut self, event: &Arc<Event>, scope: &mut Scope<'_>) -> Step<Self> {
        if event.conversation_id() != Some(self.conversation.as_str()) {
            return Step::Unchanged;
        }
        match &**event {
            Event::SideCreated(_) => Step::Reload,
            Event::SideDeleted(_) => {
                self.wire = None;
                self.step()
            }
            Event::ParticipantCreated(e) if e.user_id == self.user => {
                if self.wire.is_some() {
                    return Step::Unchanged;
                }
                if self.user_snapshot.is_some() {
                    self.wire = Some(e.state.clone());
                    return self.step();
                }
                let user = scope
                    .env
                    .cache
                    .users([self.user.clone()], Some(scope.watcher.clone()));
                let wire = e.state.clone();
                let id = self.user.clone();
                Step::Later(Box::pin(async move {
                    let found = user.await?.remove(&id);
                    let apply: Apply<ParticipantKind> = Box::new(move |k, _| {
                        if k.wire.is_none() {
                            k.wire = Some(wire);
                        }
                        if found.is_some() {
                            k.user_snapshot = found;
                        }
                        k.rebuild()
                    });
                    Ok(apply)
                }))
            }
            Event::ParticipantEdited(e) if e.user_id == self.user => match &mut self.wire {
                Some(w) => {
                    w.apply(&e.diff);
                    self.step()
                }
                None => Step::Unchanged,
            },
            Event::ParticipantDeleted(e) if e.user_id == self.user => {
                self.wire = None;
                self.step()
            }
            _ => Step::Unchanged,
        }
    }

    fn on_user(&mut self, user: &Arc<UserSnapshot>) -> bool {
        if user.id != self.user || self.user_snapshot.as_ref() == Some(user) {
            return false;
        }
        self.user_snapshot = Some(user.clone());
        self.rebuild()
    }

    fn find(&self, lookup: &Lookup) -> Option<Found> {
        match lookup {
            Lookup::Participant { conversation, user }
                if *conversation == self.conversation && *user == self.user =>
            {
                self.snapshot.clone().map(Found::Participant)
            }
            _ => None,
        }
    }

    fn snapshot(&self) -> Self::Snapshot {
        self.snapshot.clone()
    }
}
