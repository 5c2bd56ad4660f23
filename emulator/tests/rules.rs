//! The emulator's rules, tested on its state directly (no sockets): who may do what, what a
//! refused request leaves behind (nothing), derived fields, paging, and who receives which event.

use talkjs_emulator::Config;
use talkjs_emulator::outbox::{self, Inbox, QueueLimits};
use talkjs_emulator::store::MemoryStore;
use talkjs_emulator::world::conversations::ParticipantWrite;
use talkjs_emulator::world::{ApiError, ConnId, Outbound, World};
use talkjs_protocol::content::{FileToken, SendContentBlock, SendFileBlock, TextBlock, TextNode};
use talkjs_protocol::error::codes;
use talkjs_protocol::event::Event;
use talkjs_protocol::frame::Frame;
use talkjs_protocol::params::{
    CreateConversationParams, CreateUserParams, SetParticipantParams, SetUserParams,
};
use talkjs_protocol::path::Topic;
use talkjs_protocol::request::{EditMessageRequest, IdempotencyKey, SendMessageRequest};
use talkjs_protocol::wire::Access;

fn world() -> World {
    let mut w = World::new(Config::default(), Box::new(MemoryStore::new()));
    for (id, name) in [("alice", "Alice"), ("bob", "Bob"), ("carol", "Carol")] {
        w.create_user(id, CreateUserParams::new(name))
            .expect("user created");
    }
    w
}

/// alice and bob in conversation `c1`; carol is not in it.
fn with_conversation() -> World {
    let mut w = world();
    w.create_conversation("c1", CreateConversationParams::new().subject("Hi"))
        .unwrap();
    join(&mut w, "c1", "alice", Access::ReadWrite);
    join(&mut w, "c1", "bob", Access::ReadWrite);
    w
}

fn join(w: &mut World, c: &str, user: &str, access: Access) {
    w.write_participant(
        c,
        user,
        ParticipantWrite::Set,
        SetParticipantParams::new().access(access),
    )
    .expect("joined");
}

fn text(s: &str) -> Vec<SendContentBlock> {
    vec![SendContentBlock::Text(TextBlock {
        children: vec![TextNode::text(s)],
    })]
}

fn send(w: &mut World, c: &str, from: &str, body: &str, key: &str) -> Result<String, ApiError> {
    w.send_message(
        c,
        from,
        SendMessageRequest {
            content: text(body),
            referenced_message_id: None,
            custom: None,
            idempotency_key: IdempotencyKey(key.to_owned()),
        },
    )
    .map(|m| m.id)
}

fn code(e: ApiError) -> (u16, String) {
    (e.status, e.body.error_code)
}

#[test]
fn carol_who_is_not_a_participant_can_neither_read_nor_write_the_conversation() {
    let mut w = with_conversation();
    let nap = (403, codes::NOT_A_PARTICIPANT.to_owned());
    assert_eq!(code(w.get_conversation("c1", "carol").unwrap_err()), nap);
    assert_eq!(
        code(w.list_messages("c1", "carol", None, None).unwrap_err()),
        nap
    );
    assert_eq!(
        code(w.list_participants("c1", "carol", None, None).unwrap_err()),
        nap
    );
    assert_eq!(code(w.get_typing("c1", "carol").unwrap_err()), nap);
    assert_eq!(
        code(send(&mut w, "c1", "carol", "hi", "k1").unwrap_err()),
        nap
    );
    assert_eq!(code(w.mark_read("c1", "carol").unwrap_err()), nap);
    assert_eq!(
        code(w.get_conversation("nope", "alice").unwrap_err()),
        (404, codes::CONVERSATION_NOT_FOUND.to_owned())
    );
}

#[test]
fn a_read_only_participant_can_read_but_not_send_or_type() {
    let mut w = with_conversation();
    join(&mut w, "c1", "carol", Access::Read);
    assert!(w.list_messages("c1", "carol", None, None).is_ok());
    assert_eq!(
        code(send(&mut w, "c1", "carol", "hi", "k").unwrap_err()).0,
        403
    );
    assert_eq!(code(w.mark_typing("c1", "carol").unwrap_err()).0, 403);
    assert!(
        w.list_messages("c1", "alice", None, None)
            .unwrap()
            .data
            .is_empty()
    );
}

#[test]
fn only_the_sender_may_edit_or_delete_a_message() {
    let mut w = with_conversation();
    let m = send(&mut w, "c1", "alice", "original", "k1").unwrap();
    let edit = EditMessageRequest {
        content: Some(text("changed")),
        custom: None,
    };
    assert_eq!(
        code(w.edit_message("c1", "bob", &m, edit.clone()).unwrap_err()).0,
        403
    );
    assert_eq!(code(w.delete_message("c1", "bob", &m).unwrap_err()).0, 403);
    w.edit_message("c1", "alice", &m, edit).unwrap();
    let got = w.get_message("c1", "bob", &m).unwrap();
    assert!(got.edited_at.is_some());
    w.delete_message("c1", "alice", &m).unwrap();
    assert_eq!(code(w.get_message("c1", "bob", &m).unwrap_err()).0, 404);
}

#[test]
fn a_send_replayed_with_the_same_idempotency_key_creates_one_message() {
    let mut w = with_conversation();
    let first = send(&mut w, "c1", "alice", "once", "KEY_REPLAYED_000001").unwrap();
    let again = send(&mut w, "c1", "alice", "once", "KEY_REPLAYED_000001").unwrap();
    assert_eq!(first, again);
    assert_eq!(
        w.list_messages("c1", "bob", None, None).unwrap().data.len(),
        1
    );
    // The key belongs to the sender: bob using the same key sends his own message.
    send(&mut w, "c1", "bob", "mine", "KEY_REPLAYED_000001").unwrap();
    assert_eq!(
        w.list_messages("c1", "bob", None, None).unwrap().data.len(),
        2
    );
}

#[test]
fn a_refused_send_leaves_no_message_and_no_remembered_key() {
    let mut w = with_conversation();
    let bad_file = SendMessageRequest {
        content: vec![SendContentBlock::File(SendFileBlock {
            file_token: FileToken("never-uploaded".into()),
        })],
        referenced_message_id: None,
        custom: None,
        idempotency_key: IdempotencyKey("KEY_FAILED_00000001".into()),
    };
    assert_eq!(
        code(w.send_message("c1", "alice", bad_file).unwrap_err()).0,
        400
    );
    let reply_to_nothing = SendMessageRequest {
        content: text("x"),
        referenced_message_id: Some("missing".into()),
        custom: None,
        idempotency_key: IdempotencyKey("KEY_FAILED_00000001".into()),
    };
    assert_eq!(
        code(w.send_message("c1", "alice", reply_to_nothing).unwrap_err()).0,
        400
    );
    assert_eq!(
        code(send(&mut w, "c1", "alice", "   ", "KEY_FAILED_00000001").unwrap_err()).0,
        400
    );
    assert!(
        w.list_messages("c1", "alice", None, None)
            .unwrap()
            .data
            .is_empty()
    );
    // The key was not consumed by the failures.
    send(&mut w, "c1", "alice", "now it works", "KEY_FAILED_00000001").unwrap();
    assert_eq!(
        w.list_messages("c1", "alice", None, None)
            .unwrap()
            .data
            .len(),
        1
    );
}

#[test]
fn unread_counts_follow_sends_and_reads() {
    let mut w = with_conversation();
    for i in 0..3 {
        send(&mut w, "c1", "alice", &format!("m{i}"), &format!("k{i}")).unwrap();
    }
    let bob = w.get_conversation("c1", "bob").unwrap();
    assert_eq!((bob.unread_message_count, bob.is_unread), (3, true));
    let alice = w.get_conversation("c1", "alice").unwrap();
    assert_eq!((alice.unread_message_count, alice.is_unread), (0, false));
    assert!(bob.last_message_at > bob.joined_at);
    w.mark_read("c1", "bob").unwrap();
    let bob = w.get_conversation("c1", "bob").unwrap();
    assert_eq!((bob.unread_message_count, bob.is_unread), (0, false));
    assert_eq!(
        bob.everyone_read_until,
        alice.read_until.min(bob.read_until)
    );
    w.mark_unread("c1", "bob").unwrap();
    assert!(w.get_conversation("c1", "bob").unwrap().is_unread);
}

#[test]
fn a_conversation_without_messages_has_last_message_at_equal_to_joined_at() {
    let w = with_conversation();
    let c = w.get_conversation("c1", "bob").unwrap();
    assert_eq!(c.last_message_at, c.joined_at);
}

#[test]
fn deleting_a_message_clears_the_reference_of_replies_to_it() {
    let mut w = with_conversation();
    let original = send(&mut w, "c1", "alice", "question", "k1").unwrap();
    let reply = w
        .send_message(
            "c1",
            "bob",
            SendMessageRequest {
                content: text("answer"),
                referenced_message_id: Some(original.clone()),
                custom: None,
                idempotency_key: IdempotencyKey("k2".into()),
            },
        )
        .unwrap();
    assert_eq!(
        reply.referenced_message_id.as_deref(),
        Some(original.as_str())
    );
    w.delete_message("c1", "alice", &original).unwrap();
    assert_eq!(
        w.get_message("c1", "alice", &reply.id)
            .unwrap()
            .referenced_message_id,
        None
    );
}

#[test]
fn paging_through_45_conversations_returns_each_once_newest_first() {
    let mut w = world();
    for i in 0..45 {
        let c = format!("conv{i:02}");
        w.create_conversation(&c, CreateConversationParams::new())
            .unwrap();
        join(&mut w, &c, "alice", Access::ReadWrite);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for limit in [20, 5, 20, 20] {
        let page = w
            .list_conversations("alice", Some(limit), None, cursor.as_deref())
            .unwrap();
        seen.extend(page.data.iter().map(|c| (c.last_message_at, c.id.clone())));
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 45);
    assert!(
        seen.windows(2).all(|p| p[0].0 >= p[1].0),
        "newest activity first"
    );
    let mut ids: Vec<_> = seen.iter().map(|(_, id)| id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 45);
    assert_eq!(
        code(
            w.list_conversations("alice", None, None, Some("not-a-cursor"))
                .unwrap_err()
        )
        .0,
        400
    );
    assert_eq!(
        code(
            w.list_conversations("nobody", None, None, None)
                .unwrap_err()
        ),
        (404, codes::USER_NOT_FOUND.to_owned())
    );
}

#[test]
fn with_sync_disabled_clients_cannot_write_users_or_conversations() {
    let config = Config {
        user_sync: false,
        conversation_sync: false,
        ..Config::default()
    };
    let mut w = World::new(config, Box::new(MemoryStore::new()));
    assert_eq!(
        code(
            w.create_user("alice", CreateUserParams::new("Alice"))
                .unwrap_err()
        )
        .0,
        403
    );
    assert!(w.get_users(&["alice".into()]).is_empty());
    assert_eq!(
        code(
            w.set_user("dave", SetUserParams::new().name("Dave"))
                .unwrap_err()
        )
        .0,
        403
    );
    let e = w
        .create_conversation("c", CreateConversationParams::new())
        .unwrap_err();
    assert_eq!(code(e), (403, codes::UNAUTHORIZED_TO_EDIT.to_owned()));
}

#[test]
fn creating_what_exists_is_a_conflict_and_changes_nothing() {
    let mut w = with_conversation();
    assert_eq!(
        code(
            w.create_user("alice", CreateUserParams::new("Other"))
                .unwrap_err()
        )
        .0,
        409
    );
    assert_eq!(w.get_users(&["alice".into()])["alice"].name, "Alice");
    assert_eq!(
        code(
            w.create_conversation("c1", CreateConversationParams::new().subject("Other"))
                .unwrap_err()
        )
        .0,
        409
    );
    assert_eq!(
        w.get_conversation("c1", "alice")
            .unwrap()
            .subject
            .as_deref(),
        Some("Hi")
    );
    let e = w
        .write_participant(
            "c1",
            "bob",
            ParticipantWrite::Create,
            SetParticipantParams::new(),
        )
        .unwrap_err();
    assert_eq!(e.status, 409);
    let e = w
        .write_participant(
            "c1",
            "carol",
            ParticipantWrite::Edit,
            SetParticipantParams::new(),
        )
        .unwrap_err();
    assert_eq!(code(e), (404, codes::PARTICIPANT_NOT_FOUND.to_owned()));
}

// -- who receives what ----------------------------------------------------------------------

struct Socket {
    id: ConnId,
    rx: Inbox,
}

fn socket(w: &mut World, user: &str, topics: &[Topic]) -> Socket {
    let (tx, rx) = outbox::channel(QueueLimits::UNBOUNDED);
    let id = w.connect(user, tx);
    w.authenticated(id);
    for t in topics {
        w.subscribe(id, t.clone(), &[]);
    }
    Socket { id, rx }
}

fn events(s: &mut Socket) -> Vec<Event> {
    let mut out = Vec::new();
    while let Some(msg) = s.rx.try_recv() {
        if let Outbound::Publish(enc) = msg {
            let Ok(Frame::Publish(p)) = Frame::parse(&enc.frame(1)) else {
                panic!("not a publish frame")
            };
            out.extend(p.events().map(|e| e.expect("event decodes")));
        }
    }
    out
}

#[test]
fn bob_who_watches_the_messages_gets_alices_message_and_carol_gets_nothing() {
    let mut w = with_conversation();
    let messages = Topic::Messages {
        conversation: "c1".into(),
    };
    let mut bob = socket(&mut w, "bob", std::slice::from_ref(&messages));
    let mut carol = socket(&mut w, "carol", &[messages]);
    let mut alice = socket(&mut w, "alice", &[]);
    let id = send(&mut w, "c1", "alice", "hello bob", "k1").unwrap();
    let got = events(&mut bob);
    assert!(
        matches!(got.as_slice(), [Event::MessageCreated(m)] if m.message_id == id),
        "bob got {got:?}"
    );
    assert!(events(&mut carol).is_empty(), "carol is not a participant");
    assert!(events(&mut alice).is_empty(), "alice subscribed to nothing");
    w.disconnect(bob.id);
}

#[test]
fn a_conversation_list_subscriber_learns_unread_counts_from_side_edited() {
    let mut w = with_conversation();
    let mut bob = socket(&mut w, "bob", &[Topic::Conversations]);
    send(&mut w, "c1", "alice", "ping", "k1").unwrap();
    let got = events(&mut bob);
    let side = got
        .iter()
        .find_map(|e| match e {
            Event::SideEdited(s) => Some(s),
            _ => None,
        })
        .expect("a side.edited");
    assert_eq!(side.diff.unread_message_count, Some(1));
    assert_eq!(side.diff.is_unread, Some(true));
}

#[test]
fn typing_is_seen_by_others_never_by_the_typist_and_ends_on_send() {
    let mut w = with_conversation();
    let typing = Topic::Typing {
        conversation: "c1".into(),
    };
    let mut alice = socket(&mut w, "alice", std::slice::from_ref(&typing));
    let mut bob = socket(&mut w, "bob", &[typing]);
    w.mark_typing("c1", "alice").unwrap();
    assert!(events(&mut alice).is_empty());
    let got = events(&mut bob);
    assert!(
        matches!(&got[..], [Event::TypingChanged(t)] if t.diff.users_typing.as_ref().is_some_and(|u| u.get("alice").is_some_and(Option::is_some)))
    );
    send(&mut w, "c1", "alice", "done typing", "k1").unwrap();
    let got = events(&mut bob);
    assert!(
        matches!(&got[..], [Event::TypingChanged(t)] if t.diff.users_typing.as_ref().is_some_and(|u| u.get("alice") == Some(&None)))
    );
}

#[test]
fn reactions_tell_each_viewer_whether_they_reacted() {
    let mut w = with_conversation();
    let id = send(&mut w, "c1", "alice", "react to me", "k1").unwrap();
    let messages = Topic::Messages {
        conversation: "c1".into(),
    };
    let mut alice = socket(&mut w, "alice", std::slice::from_ref(&messages));
    let mut bob = socket(&mut w, "bob", &[messages]);
    w.add_reaction("c1", "bob", &id, "👍", "bob").unwrap();
    let reacted = |evs: Vec<Event>| -> Option<bool> {
        evs.into_iter().find_map(|e| match e {
            Event::MessageEdited(m) => {
                m.diff
                    .reactions
                    .flatten()?
                    .get("👍")
                    .cloned()
                    .flatten()?
                    .current_user_reacted
            }
            _ => None,
        })
    };
    assert_eq!(reacted(events(&mut bob)), Some(true));
    assert_eq!(reacted(events(&mut alice)), Some(false));
    assert_eq!(
        code(w.add_reaction("c1", "alice", &id, "👍", "bob").unwrap_err()).0,
        403
    );
    assert_eq!(
        code(
            w.add_reaction("c1", "alice", &id, "not an emoji", "alice")
                .unwrap_err()
        )
        .0,
        400
    );
    let page = w
        .list_reactions("c1", "alice", &id, "👍", None, None)
        .unwrap();
    assert_eq!(
        page.data
            .iter()
            .map(|r| r.user_id.as_str())
            .collect::<Vec<_>>(),
        ["bob"]
    );
}

#[test]
fn leaving_a_conversation_tells_the_leaver_their_side_is_gone() {
    let mut w = with_conversation();
    let mut bob = socket(&mut w, "bob", &[Topic::Conversations]);
    w.remove_participant("c1", "bob").unwrap();
    assert!(
        events(&mut bob)
            .iter()
            .any(|e| matches!(e, Event::SideDeleted(s) if s.conversation_id == "c1"))
    );
    assert_eq!(code(w.get_conversation("c1", "bob").unwrap_err()).0, 403);
    assert_eq!(code(w.remove_participant("c1", "bob").unwrap_err()).0, 404);
}
