//! Wire parity: for every flow recorded from the official client
//! (`protocol/tests/fixtures/frames/`), our runtime, making the same calls against a server that
//! replays the recording (`talkjs_testkit::replay`), sends the same frames: same methods, paths,
//! data and headers, in the same order and the same rounds, on the same sockets, with the same
//! acks, and the same plain HTTP requests. Sequence numbers are left out; tokens and idempotency
//! keys are compared as placeholders numbered in order of appearance, so a retry that reuses its
//! key is checked too. The tests of pushed events also compare the snapshots our subscriptions
//! show with the states the official client's scenario captured.
//!
//! Deliberate differences are stated where they apply (`any_order_within_rounds`, `without`,
//! `extra`, each with its reason) and listed in docs/protocol.md §13.

mod parity;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use parity::{Parity, assert_parity};
use serde_json::{Value, json};
use talkjs::params::{
    CreateConversationParams, CreateUserParams, EditMessageParams, EditTextMessageParams,
    SendMessageParams, SendTextMessageParams, SetConversationParams, SetUserParams,
};
use talkjs::protocol::content::{FileToken, LocationBlock, SendContentBlock, SendFileBlock};
use talkjs::protocol::filter::ConversationFilter;
use talkjs::protocol::snapshot::TypingSnapshot;
use talkjs::protocol::wire::{Access, Notify};
use talkjs_testkit::replay::ReplayServer;

#[actix_rt::test]
async fn creating_users() {
    assert_parity("user_create_if_not_exists", async |s| {
        let bob = CreateUserParams::new("Bob")
            .custom("team", "red")
            .locale("nl-NL")
            .photo_url("https://example.com/bob.png")
            .welcome_message("Hi there")
            .email("bob@example.com")
            .phone("+15550001")
            .phone("+15550002")
            .push_token("fcm:tok1");
        let _ = s.user("bob").create_if_not_exists(bob).await;
        let _ = s
            .user("carol")
            .create_if_not_exists(CreateUserParams::new("Carol").role("admin"))
            .await;
    })
    .await;
}

#[actix_rt::test]
async fn setting_users() {
    assert_parity("user_set", async |s| {
        let first = SetUserParams::new()
            .name("Bob2")
            .clear_custom_key("team")
            .custom("level", "2")
            .clear_locale()
            .clear_photo_url()
            .clear_role()
            .clear_welcome_message()
            .clear_email()
            .phone("+1555")
            .remove_push_token("fcm:tok1");
        let _ = s.user("bob").set(first).await;
        let second = SetUserParams::new()
            .role("admin")
            .email("b1@example.com")
            .email("b2@example.com")
            .clear_custom()
            .clear_push_tokens();
        let _ = s.user("bob").set(second).await;
    })
    .await;
}

#[actix_rt::test]
async fn creating_a_conversation() {
    assert_parity("conversation_create_if_not_exists", async |s| {
        let p = CreateConversationParams::new()
            .subject("Hello")
            .photo_url("https://example.com/c1.png")
            .welcome_message("Welcome!")
            .welcome_message("Be nice")
            .custom("a", "b")
            .access(Access::ReadWrite)
            .notify(Notify::MentionsOnly);
        let _ = s.conversation("c1").create_if_not_exists(p).await;
    })
    .await;
}

#[actix_rt::test]
async fn setting_a_conversation() {
    assert_parity("conversation_set", async |s| {
        let first = SetConversationParams::new()
            .subject("New")
            .clear_photo_url()
            .clear_welcome_messages()
            .clear_custom_key("a")
            .custom("b", "x")
            .access(Access::Read)
            .notify(Notify::Off);
        let _ = s.conversation("c1").set(first).await;
        let mut second = SetConversationParams::new()
            .clear_subject()
            .welcome_messages(["hi"])
            .clear_custom();
        second.access = Some(None);
        second.notify = Some(None);
        let _ = s.conversation("c1").set(second).await;
    })
    .await;
}

#[actix_rt::test]
async fn read_unread_and_typing() {
    assert_parity("conversation_mark_read_unread_typing", async |s| {
        let c = s.conversation("c1");
        let _ = c.mark_as_read().await;
        let _ = c.mark_as_unread().await;
        let _ = c.mark_as_typing().await;
    })
    .await;
}

#[actix_rt::test]
async fn sending_markup() {
    assert_parity("send_markup_string", async |s| {
        let _ = s
            .conversation("c1")
            .send("Hello *world* _it_ ~gone~ see https://talkjs.com <!!mention:bob|Bob>")
            .await;
    })
    .await;
}

#[actix_rt::test]
async fn sending_replies_with_custom_data() {
    assert_parity("send_text_reply", async |s| {
        let c = s.conversation("c1");
        let _ = c
            .send(
                SendTextMessageParams::new("hi")
                    .reply_to("m5")
                    .custom("k", "v"),
            )
            .await;
        let _ = c
            .send(SendTextMessageParams::new("again").reply_to(c.message("m6").id()))
            .await;
        // The official client ignores a `referencedMessageId` param; Rust has no such param.
        let _ = c.send("ignored ref").await;
    })
    .await;
}

#[actix_rt::test]
async fn sending_a_location_and_a_file() {
    assert_parity("send_location", async |s| {
        let at = LocationBlock {
            latitude: 51.5074,
            longitude: -0.1278,
        };
        let _ = s
            .conversation("c1")
            .send(SendMessageParams::new(SendContentBlock::Location(at)))
            .await;
    })
    .await;
    assert_parity("send_file", async |s| {
        let file = SendContentBlock::File(SendFileBlock {
            file_token: FileToken("FILETOKEN_1".into()),
        });
        let p = SendMessageParams::new(file)
            .reply_to("m6")
            .custom("kind", "doc");
        let _ = s.conversation("c1").send(p).await;
    })
    .await;
}

#[actix_rt::test]
async fn editing_messages() {
    assert_parity("message_edit_variants", async |s| {
        let m = s.conversation("c1").message("m9");
        let _ = m.edit("edited *text* <https://a.com|label>").await;
        let _ = m
            .edit(
                EditTextMessageParams::new()
                    .text("plain")
                    .custom("x", "1")
                    .clear_custom_key("y"),
            )
            .await;
        let location = SendContentBlock::Location(LocationBlock {
            latitude: 1.0,
            longitude: 2.0,
        });
        let _ = m
            .edit(EditMessageParams::new().content(location).clear_custom())
            .await;
        let _ = m
            .edit(EditTextMessageParams::new().text("").custom("a", "b"))
            .await;
        let _ = m.edit("").await;
    })
    .await;
}

#[actix_rt::test]
async fn deleting_messages_and_participants_and_reacting() {
    assert_parity("message_delete", async |s| {
        for m in ["m1", "m2", "m3"] {
            let _ = s.conversation("c1").message(m).delete().await;
        }
    })
    .await;
    assert_parity("participant_delete", async |s| {
        for u in ["bob", "carol"] {
            let _ = s.conversation("c1").participant(u).delete().await;
        }
    })
    .await;
    assert_parity("reactions_add_remove", async |s| {
        let m = s.conversation("c1").message("m2");
        let _ = m.reactions("👍").add().await;
        let _ = m.reaction(":cat-roomba:").add().await;
        let _ = m.reactions("👍").remove().await;
        let _ = m.reactions("❤️").remove().await;
    })
    .await;
}

#[actix_rt::test]
async fn participant_writes_in_one_tick_share_one_frame() {
    use talkjs::params::{CreateParticipantParams, SetParticipantParams};
    assert_parity("participant_batch_set_edit_create", async |s| {
        let c = s.conversation("c1");
        let mut read_only = SetParticipantParams::new().access(Access::Read);
        read_only.notify = Some(None); // `notify: null`: back to the server's default
        let (bob, carol, dave, erin) = (
            c.participant("bob"),
            c.participant("carol"),
            c.participant("dave"),
            c.participant(s.user("erin").id()),
        );
        let _ = futures_util::join!(
            bob.set(read_only),
            carol.edit(SetParticipantParams::new().notify(Notify::MentionsOnly)),
            dave.create_if_not_exists(
                CreateParticipantParams::new()
                    .access(Access::ReadWrite)
                    .notify(Notify::All)
            ),
            erin.create_if_not_exists(CreateParticipantParams::new()),
        );
    })
    .await;
}

#[actix_rt::test]
async fn translations_in_one_tick_share_a_frame_per_language() {
    assert_parity("message_translate", async |s| {
        let c = s.conversation("c1");
        let (m1, m2, m3) = (c.message("m1"), c.message("m2"), c.message("m3"));
        let _ = futures_util::join!(
            m1.translate("fr"),
            m2.translate("fr"),
            m3.translate("fr"),
            m1.translate("de")
        );
    })
    .await;
}

#[actix_rt::test]
async fn user_reads_subscribe_in_one_frame_and_repeats_are_answered_locally() {
    assert_parity("user_get_batched", async |s| {
        let (bob, carol, nobody) = (s.user("bob"), s.user("carol"), s.user("nobody1"));
        let _ = futures_util::join!(bob.get(), carol.get(), nobody.get());
        let _ = s.user("bob").get().await;
    })
    .await;
}

#[actix_rt::test]
async fn reading_the_current_user() {
    assert_parity("login_current_user_get", async |s| {
        let _ = s.current_user().get().await;
    })
    .await;
}

// --- Reads ---------------------------------------------------------------------------------
// The official client reads through a short-lived subscription: SUBSCRIBE, GET, and UNSUBSCRIBE
// once nothing has used the path for a while. Each test checks the frames first, then the results.

#[actix_rt::test]
async fn reading_a_conversation() {
    for (scenario, id) in [
        ("conversation_get", "c1"),
        ("conversation_get_not_found", "missing"),
        ("conversation_get_not_a_participant", "secret"),
    ] {
        let got = Parity::new(scenario)
            .run(|s, _| async move { s.conversation(id).get().await })
            .await;
        match got {
            Ok(Some(c)) => {
                assert_eq!(id, "c1");
                let last = c.last_message.expect("a last message");
                assert_eq!(last.id, "m3");
                let replied = last.referenced_message.as_ref().expect("m3 replies to m1");
                assert_eq!(
                    replied.sender.as_ref().map(|u| u.id.as_str()),
                    Some("alice")
                );
            }
            Ok(None) => assert_ne!(id, "c1", "{scenario}"),
            Err(e) => panic!("{scenario}: {e}"),
        }
    }
}

#[actix_rt::test]
async fn reading_a_message() {
    let m = Parity::new("message_get")
        .run(|s, _| async move { s.conversation("c1").message("m3").get().await })
        .await
        .expect("no error")
        .expect("m3 exists");
    assert_eq!(m.sender.as_ref().map(|u| u.id.as_str()), Some("carol"));
    let (gone, other) = Parity::new("message_get_not_found")
        .run(|s, _| async move {
            let gone = s.conversation("c1").message("gone").get().await;
            let other = s.conversation("cx").message("m1").get().await;
            (gone, other)
        })
        .await;
    assert!(gone.unwrap().is_none());
    assert!(other.unwrap().is_none());
    let cached = Parity::new("message_get_cached")
        .run(|s, _| async move {
            let sub = s.conversation("c1").subscribe_messages();
            sub.connected().await.expect("active");
            s.conversation("c1").message("m2").get().await
        })
        .await;
    assert!(cached.unwrap().is_some());
}

#[actix_rt::test]
async fn reading_participants() {
    let (bob, carol) = Parity::new("participant_get")
        .run(|s, _| async move {
            let c = s.conversation("c1");
            (
                c.participant("bob").get().await,
                c.participant("carol").get().await,
            )
        })
        .await;
    assert!(bob.unwrap().is_some());
    assert!(carol.unwrap().is_none());
    let (bob, alice) = Parity::new("participant_get_not_a_participant")
        .run(|s, _| async move {
            let c = s.conversation("c9");
            (
                c.participant("bob").get().await,
                c.participant("alice").get().await,
            )
        })
        .await;
    assert!(bob.is_err());
    assert!(alice.unwrap().is_none());
}

#[actix_rt::test]
async fn reading_first_reactions() {
    let first = Parity::new("reactions_get_first")
        .run(|s, _| async move {
            let r = s.conversation("c1").message("m2").reactions("🎉");
            r.get_first_reactions().await
        })
        .await;
    assert_eq!(first.unwrap().expect("reactions").len(), 10);
}

#[actix_rt::test]
async fn reads_unsubscribe_after_the_delay() {
    // Short delays, so the test need not wait the official 10 s (paths) and 30 s (users).
    let short = |users| talkjs::Timings {
        unsubscribe_delay: Duration::from_millis(300),
        user_unsubscribe_delay: users,
        ..Default::default()
    };
    // Users outlive the reactions path: only the path is unsubscribed in the recording.
    let first = Parity::new("reactions_get_first_then_unsubscribe")
        .session(move |b| {
            b.token(parity::jwt(parity::USER))
                .timings(short(Duration::from_secs(30)))
        })
        .settle(Duration::from_millis(800))
        .run(|s, _| async move {
            let r = s.conversation("c1").message("m2").reactions("👍");
            r.get_first_reactions().await
        })
        .await;
    assert_eq!(first.unwrap().expect("reactions").len(), 2);
    // The recording's keepalive pushes (sent to keep heartbeats quiet during the official 30 s)
    // come before the UNSUBSCRIBE: a delay longer than the replay takes to push them keeps that.
    let bob = Parity::new("user_get_then_unsubscribe")
        .session(move |b| {
            b.token(parity::jwt(parity::USER))
                .timings(short(Duration::from_secs(2)))
        })
        .settle(Duration::from_millis(2500))
        .run(|s, _| async move { s.user("bob").get().await })
        .await;
    assert!(bob.unwrap().is_some());
}

#[actix_rt::test]
async fn a_refused_subscribe() {
    let (messages, conversation) = Parity::new("error_subscribe_rejected")
        .run(|s, _| async move {
            let sub = s.conversation("cerr").subscribe_messages();
            let messages = sub.connected().await.map(|_| ());
            (messages, s.conversation("cforbidden").get().await)
        })
        .await;
    assert!(messages.is_err());
    assert!(conversation.is_err());
}

// --- Subscriptions ---------------------------------------------------------------------------

fn filter(json: serde_json::Value) -> ConversationFilter {
    serde_json::from_value(json).expect("a filter")
}

#[actix_rt::test]
async fn conversation_lists() {
    Parity::new("conversations_list_filters")
        .run(|s, _| async move {
            let a = s.subscribe_conversations(filter(
                json!({"access": ["!=", "ReadWrite"], "isUnread": true}),
            ));
            let b = s.subscribe_conversations(filter(json!({
                "custom": {"b": ["oneOf", ["y", "x", "x"]], "a": "exists", "c": ["!oneOf", []]},
                "subject": ["oneOf", ["s"]],
                "lastActivityAt": [">=", 100]
            })));
            let _ = futures_util::join!(a.connected(), b.connected());
        })
        .await;
    Parity::new("conversations_list_load_more")
        .run(|s, _| async move {
            let sub = s.subscribe_conversations(ConversationFilter::default());
            sub.connected().await.expect("active");
            sub.load_more(2).await.expect("loads");
        })
        .await;
}

#[actix_rt::test]
async fn message_lists() {
    Parity::new("messages_subscribe_load_more")
        .run(|s, _| async move {
            let sub = s.conversation("c1").subscribe_messages();
            sub.connected().await.expect("active");
            sub.load_more(5).await.expect("loads");
        })
        .await;
    // The next page is asked for in the same round as the first page's senders.
    let first = Parity::new("messages_subscribe_short_page")
        .run(|s, _| async move {
            let sub = s.conversation("c1").subscribe_messages();
            sub.connected().await.map(|u| u.snapshot)
        })
        .await;
    let ids: Vec<String> = first
        .expect("active")
        .expect("visible")
        .iter()
        .map(|m| m.id.clone())
        .collect();
    assert_eq!(ids, ["m3", "m2", "m1"]);
}

#[actix_rt::test]
async fn participant_and_reaction_lists() {
    Parity::new("participants_subscribe_load_more")
        .run(|s, _| async move {
            let sub = s.conversation("c1").subscribe_participants();
            sub.connected().await.expect("active");
            sub.load_more(3).await.expect("loads");
        })
        .await;
    Parity::new("reactions_subscribe_load_more")
        .run(|s, _| async move {
            let sub = s
                .conversation("c1")
                .message("m2")
                .reactions("👍")
                .subscribe();
            sub.connected().await.expect("active");
            sub.load_more(30).await.expect("loads");
        })
        .await;
}

#[actix_rt::test]
async fn unsubscribing() {
    Parity::new("subscription_unsubscribe_debounced")
        .session(|b| {
            b.token(parity::jwt(parity::USER)).timings(talkjs::Timings {
                unsubscribe_delay: Duration::from_millis(300),
                ..Default::default()
            })
        })
        .settle(Duration::from_millis(800))
        .run(|s, _| async move {
            let sub = s.conversation("c1").subscribe_typing();
            sub.connected().await.expect("active");
            sub.unsubscribe();
        })
        .await;
    // Subscriptions ended in the task that made them send nothing at all: the official client
    // still sends their SUBSCRIBEs and GETs (docs/protocol.md §13). The other call's frame is
    // the same.
    Parity::new("unsubscribe_before_connected")
        .without(&[
            r#"s0 SUBSCRIBE /users {"ids":["bob"]} {}"#,
            r#"s0 SUBSCRIBE /me/conversations/c1/messages {} {}"#,
            r#"s0 GET /users {"ids":["bob"],"includePrivateFields":false} {}"#,
            r#"s0 GET /me/conversations/c1/messages {"limit":1} {}"#,
        ])
        .run(|s, _| async move {
            s.user("bob").subscribe().unsubscribe();
            s.conversation("c1").subscribe_messages().unsubscribe();
            s.conversation("c1").mark_as_read().await.expect("marked");
        })
        .await;
}

// --- Pushed events ---------------------------------------------------------------------------

/// Every distinct state a subscription shows, in order, as `shape` renders it.
fn states<T: Clone + Send + Sync + 'static>(
    sub: &talkjs::Subscription<T>,
    shape: impl Fn(&T) -> Value + Send + 'static,
) -> Arc<Mutex<Vec<Value>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = seen.clone();
    sub.on_snapshot(move |snapshot, _| {
        let state = shape(snapshot);
        let mut out = out.lock().unwrap();
        if out.last() != Some(&state) {
            out.push(state);
        }
    });
    seen
}

/// The official client's results of a scenario.
fn fixture_results(scenario: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("protocol/tests/fixtures/frames/{scenario}.json"));
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    file["results"].clone()
}

/// The states the official client's scenario captured (JSON pointers into its `results`), with
/// repeats of the same state left out.
fn official_states(scenario: &str, pointers: &[&str]) -> Vec<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("protocol/tests/fixtures/frames/{scenario}.json"));
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out: Vec<Value> = Vec::new();
    for p in pointers {
        let state = file["results"]
            .pointer(p)
            .expect("a captured state")
            .clone();
        if out.last() != Some(&state) {
            out.push(state);
        }
    }
    out
}

/// Holds subscriptions until the replay has played the whole recording (every recorded push
/// sent), and a little longer for the last one to be applied.
async fn hold_while_pushed<T>(replay: &ReplayServer, subs: T) {
    assert!(
        replay.wait_played_all(Duration::from_secs(10)).await,
        "the recording was not played to its end"
    );
    actix_rt::time::sleep(Duration::from_millis(200)).await;
    drop(subs);
}

#[actix_rt::test]
async fn events_on_a_conversation_and_the_list() {
    // The list reuses the latest message the conversation's subscription fetched.
    let (list, one) = Parity::new("events_conversation")
        .run(|s, replay| async move {
            let list = s.subscribe_conversations(ConversationFilter::default());
            let one = s.conversation("c1").subscribe();
            let seen = (
                states(&list, |l| {
                    let ids: Vec<&str> = l
                        .iter()
                        .flat_map(|l| l.iter())
                        .map(|c| c.id.as_str())
                        .collect();
                    json!(ids)
                }),
                states(&one, |c| match c {
                    None => Value::Null,
                    Some(c) => json!({
                        "subject": c.subject,
                        "custom": c.custom,
                        "unreadMessageCount": c.unread_message_count,
                        "isUnread": c.is_unread,
                        "lastMessage": c.last_message.as_ref().map(|m| m.id.as_str()),
                    }),
                }),
            );
            hold_while_pushed(&replay, (list, one)).await;
            seen
        })
        .await;
    // The same states as the official client's, in the same order.
    let after = [
        "initial",
        "afterSideCreated",
        "afterSideEdited",
        "afterConversationEdited",
    ];
    let after = after.iter().chain(&["afterCleared", "afterSideDeleted"]);
    let pointers =
        |what: &str| -> Vec<String> { after.clone().map(|a| format!("/{a}/{what}")).collect() };
    let present = |scenario: &str, ps: Vec<String>| {
        let file = fixture_results(scenario);
        let ps: Vec<&str> = ps
            .iter()
            .map(String::as_str)
            .filter(|p| file.pointer(p).is_some())
            .collect();
        official_states(scenario, &ps)
    };
    assert_eq!(
        *list.lock().unwrap(),
        present("events_conversation", pointers("list"))
    );
    assert_eq!(
        *one.lock().unwrap(),
        present("events_conversation", pointers("conversation"))
    );
}

#[actix_rt::test]
async fn events_on_messages() {
    let seen = Parity::new("events_messages")
        .run(|s, replay| async move {
            let sub = s.conversation("c1").subscribe_messages();
            let seen = states(&sub, |list| {
                list.iter()
                    .flat_map(|l| l.iter())
                    .map(|m| {
                        let reactions: Vec<Value> = m
                            .reactions
                            .iter()
                            .map(|r| {
                                json!({
                                    "emoji": r.emoji,
                                    "count": r.count,
                                    "currentUserReacted": r.current_user_reacted,
                                })
                            })
                            .collect();
                        json!({
                            "id": m.id,
                            "plaintext": m.plaintext,
                            "custom": m.custom,
                            "editedAt": m.edited_at,
                            "reactions": reactions,
                            "referencedMessage": m.referenced_message.as_ref().map(|r| &r.id),
                        })
                    })
                    .collect()
            });
            hold_while_pushed(&replay, sub).await;
            seen
        })
        .await;
    let official = official_states(
        "events_messages",
        &["/initial", "/afterCreated", "/afterEdited", "/afterDeleted"],
    );
    assert_eq!(*seen.lock().unwrap(), official);
}

#[actix_rt::test]
async fn events_on_participants() {
    // Three subscriptions made in one task are three actors: their SUBSCRIBEs and GETs go in
    // the same round as the official client's, but in the order of actor message hops, not of
    // the official client's microtask queue (docs/protocol.md §13).
    let (list, bob, me) = Parity::new("events_participants")
        .any_order_within_rounds()
        .run(|s, replay| async move {
            let c = s.conversation("c1");
            let (list, bob, one) = (
                c.subscribe_participants(),
                c.participant("bob").subscribe(),
                c.subscribe(),
            );
            let participant = |p: &talkjs::protocol::snapshot::ParticipantSnapshot| {
                json!({"user": p.user, "access": p.access, "notify": p.notify, "joinedAt": p.joined_at})
            };
            let seen = (
                states(&list, move |l| {
                    let brief = |p: &talkjs::protocol::snapshot::ParticipantSnapshot| {
                        json!({"user": p.user.id, "access": p.access, "notify": p.notify, "joinedAt": p.joined_at})
                    };
                    l.iter().flat_map(|l| l.iter()).map(|p| brief(p)).collect()
                }),
                states(&bob, move |p| p.as_deref().map_or(Value::Null, participant)),
                states(&one, |c| match c {
                    Some(c) => json!({"access": c.access, "notify": c.notify}),
                    None => Value::Null,
                }),
            );
            hold_while_pushed(&replay, (list, bob, one)).await;
            seen
        })
        .await;
    let official = |p: &[&str]| official_states("events_participants", p);
    assert_eq!(
        *bob.lock().unwrap(),
        official(&[
            "/initial/bob/latestSnapshot",
            "/afterEditedBob/bob/latestSnapshot"
        ])
    );
    assert_eq!(
        *me.lock().unwrap(),
        official(&["/initial/me", "/afterEditedMe/me"])
    );
    // The official client's list was captured after some pushes only: each captured state is
    // one of ours, in order, and the last is the same.
    let list = list.lock().unwrap().clone();
    let captured = official(&[
        "/initial/list",
        "/afterCreated/list",
        "/afterEditedBob/list",
        "/afterDeleted/list",
    ]);
    let mut ours = list.iter();
    for state in &captured {
        assert!(ours.any(|s| s == state), "{state} missing from {list:?}");
    }
    assert_eq!(list.last(), captured.last());
}

#[actix_rt::test]
async fn events_on_reactions() {
    let seen = Parity::new("events_reactions")
        .run(|s, replay| async move {
            let r = s.conversation("c1").message("m2").reactions("👍");
            let sub = r.subscribe();
            let seen = states(&sub, |list| match list {
                None => Value::Null,
                Some(list) => list
                    .iter()
                    .map(|r| json!({"user": r.user.id, "createdAt": r.created_at}))
                    .collect(),
            });
            hold_while_pushed(&replay, sub).await;
            seen
        })
        .await;
    // The same states as the official client's, in the same order, but the last: the deleted
    // message is another one (m5), and only the deletion of the list's own message ends it here;
    // the official client empties every reaction list of the conversation (docs/protocol.md §13).
    let official = official_states(
        "events_reactions",
        &[
            "/initial",
            "/afterAdded",
            "/afterRemoved",
            "/afterMessageCreated",
        ],
    );
    assert_eq!(*seen.lock().unwrap(), official);
}

#[actix_rt::test]
async fn events_on_typing() {
    let seen = Parity::new("events_typing")
        .run(|s, replay| async move {
            let sub = s.conversation("c1").subscribe_typing();
            let seen = states(&sub, |t| match t.as_deref() {
                None => Value::Null,
                Some(TypingSnapshot::Many) => json!({"many": true}),
                Some(TypingSnapshot::Few { users }) => {
                    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
                    json!({"many": false, "users": ids})
                }
            });
            hold_while_pushed(&replay, sub).await;
            seen
        })
        .await;
    let mut paths = vec!["/initial".to_owned()];
    paths.extend((0..5).map(|i| format!("/after/{i}")));
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    assert_eq!(
        *seen.lock().unwrap(),
        official_states("events_typing", &paths)
    );
}

#[actix_rt::test]
async fn events_on_users() {
    // A user who does not exist yet is subscribed too, so their creation reaches the
    // subscription; the official client only asks for them (docs/protocol.md §13). Three
    // subscriptions made in one task: the same round, in the order of actor message hops.
    let (bob, nobody) = Parity::new("events_user")
        .any_order_within_rounds()
        .extra(&[r#"s0 SUBSCRIBE /users {"ids":["nobody2"]} {}"#])
        .run(|s, replay| async move {
            let bob = s.user("bob").subscribe();
            let online = s.user("bob").subscribe_online();
            let nobody = s.user("nobody2").subscribe();
            let user = |u: &Option<Arc<talkjs::protocol::snapshot::UserSnapshot>>| json!(u);
            let seen = (states(&bob, user), states(&nobody, user));
            hold_while_pushed(&replay, (bob, online, nobody)).await;
            seen
        })
        .await;
    // Bob's edit and nobody2's creation show as they do in the official client.
    let official = |p: &[&str]| official_states("events_user", p);
    assert_eq!(
        *bob.lock().unwrap(),
        official(&["/initial/user/latestSnapshot", "/afterEdit/latestSnapshot"])
    );
    assert_eq!(
        *nobody.lock().unwrap(),
        official(&[
            "/initial/nobody/latestSnapshot",
            "/afterCreated/latestSnapshot"
        ])
    );
}

// --- Coverage ----------------------------------------------------------------------------------

/// Every recorded flow is replayed by one of the parity tests: a new recording without a test
/// fails here.
#[test]
fn every_recorded_flow_has_a_parity_test() {
    let tests = [
        include_str!("wire_parity.rs"),
        include_str!("wire_parity_session.rs"),
    ];
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("protocol/tests/fixtures/frames");
    let mut flows: Vec<String> = std::fs::read_dir(dir)
        .expect("fixtures")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            Some(name.strip_suffix(".json")?.to_owned())
        })
        .collect();
    flows.sort();
    assert!(flows.len() >= 78, "the recordings are missing");
    let untested: Vec<&String> = flows
        .iter()
        .filter(|f| !tests.iter().any(|t| t.contains(&format!("\"{f}\""))))
        .collect();
    assert!(
        untested.is_empty(),
        "recorded flows without a parity test: {untested:?}"
    );
}
