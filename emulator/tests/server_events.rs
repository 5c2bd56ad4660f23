//! What the emulator does on its own initiative, over real sockets on loopback: clearing a
//! conversation (`conversation.cleared`), announcing a restart (`upstream.restarting`) and
//! restarting, and answering a request whose method does not exist without closing the socket.

use awc::ws::CloseCode;
use serde_json::json;
use talkjs_emulator::AdminError;

mod common;

use common::{alice_and_bob_in_c1, connect, emulator, login, send};

#[actix_rt::test]
async fn clearing_a_conversation_empties_it_and_tells_message_and_conversation_watchers() {
    let emu = emulator().await;
    let mut alice = login(&emu, "alice").await;
    alice_and_bob_in_c1(&mut alice).await;
    for text in ["one", "two", "three"] {
        send(&mut alice, "c1", text).await;
    }
    // bob watches the messages (the only store that consumes the event), and the conversation;
    // another socket of his watches only his list.
    let mut bob = login(&emu, "bob").await;
    for topic in ["/me/conversations/c1/messages", "/me/conversations/c1"] {
        assert_eq!(bob.request("SUBSCRIBE", topic, json!({})).await.0, 200);
    }
    let mut bob_list = login(&emu, "bob").await;
    assert_eq!(
        bob_list
            .request("SUBSCRIBE", "/me/conversations", json!({}))
            .await
            .0,
        200
    );
    let (_, before) = bob.request("GET", "/me/conversations/c1", json!({})).await;
    assert_eq!(before["unreadMessageCount"], 3);
    let joined_at = before["joinedAt"].clone();
    assert_ne!(before["lastMessageAt"], joined_at);

    assert_eq!(emu.clear_conversation("c1"), Ok(3));

    let cleared = bob
        .event("conversation.cleared", |e| {
            e["type"] == "conversation.cleared"
        })
        .await;
    assert_eq!(
        cleared,
        json!({"type": "conversation.cleared", "conversationId": "c1"})
    );
    let edited = bob
        .event("side.edited", |e| e["type"] == "side.edited")
        .await;
    assert_eq!(edited["conversationId"], "c1");
    assert_eq!(
        edited["diff"]["lastMessageAt"], joined_at,
        "no messages: lastMessageAt is joinedAt"
    );
    assert_eq!(edited["diff"]["unreadMessageCount"], 0);
    assert_eq!(edited["diff"]["isUnread"], false);

    // The store is empty, and the GETs say so.
    assert!(emu.inspect(|w| w.store().messages("c1", None, 100).is_empty()));
    let (status, page) = bob
        .request("GET", "/me/conversations/c1/messages", json!({"limit": 30}))
        .await;
    assert_eq!((status, page), (200, json!({"data": [], "cursor": null})));
    let (_, after) = bob.request("GET", "/me/conversations/c1", json!({})).await;
    assert_eq!(after["lastMessageAt"], joined_at);
    assert_eq!(after["unreadMessageCount"], 0);

    // The list-only socket gets the side.edited but not conversation.cleared. A later message is
    // the marker: pushes are queued in order, so whatever the clear sent came before it.
    let marker = send(&mut alice, "c1", "after the clear").await;
    bob_list
        .event("the marker's side.edited", |e| {
            e["type"] == "side.edited" && e["diff"]["lastMessageAt"] != joined_at
        })
        .await;
    assert_eq!(bob_list.types(), ["side.edited", "side.edited"]);
    assert_eq!(bob_list.events[0]["diff"]["lastMessageAt"], joined_at);
    // The conversation lives on.
    bob.event("the new message", |e| e["messageId"] == marker.as_str())
        .await;
    assert_eq!(
        emu.inspect(|w| w.store().messages("c1", None, 100).len()),
        1
    );

    // Clearing what is empty already is fine; an unknown conversation is an error.
    assert_eq!(emu.clear_conversation("c1"), Ok(1));
    assert_eq!(emu.clear_conversation("c1"), Ok(0));
    assert_eq!(
        emu.clear_conversation("nope"),
        Err(AdminError::ConversationNotFound("nope".into()))
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn a_restart_announcement_reaches_every_authenticated_socket() {
    let emu = emulator().await;
    let mut alice = login(&emu, "alice").await;
    alice_and_bob_in_c1(&mut alice).await;
    let mut alice_two = login(&emu, "alice").await;
    let mut bob = login(&emu, "bob").await;
    // Subscriptions do not matter: one socket has some, the others none.
    assert_eq!(
        bob.request("SUBSCRIBE", "/me/conversations/c1/messages", json!({}))
            .await
            .0,
        200
    );
    let mut stranger = connect(&emu, "carol").await;

    assert_eq!(emu.announce_restart(), 3, "every authenticated socket");
    for c in [&mut alice, &mut alice_two, &mut bob] {
        c.event("upstream.restarting", |e| {
            e["type"] == "upstream.restarting"
        })
        .await;
        assert_eq!(c.events, [json!({"type": "upstream.restarting"})]);
        // An announcement alone leaves the socket open.
        assert_eq!(c.request("GET", "/ping", json!({})).await.0, 200);
    }
    assert_eq!(stranger.request("GET", "/ping", json!({})).await.0, 200);
    assert!(stranger.events.is_empty(), "not authenticated: not told");

    // A restart announces again, then closes every socket, the announcement first.
    assert_eq!(emu.restart(), 3);
    for c in [&mut alice, &mut alice_two, &mut bob] {
        let reason = c.closed().await;
        assert_eq!(reason.code, CloseCode::Away);
        assert_eq!(c.types(), ["upstream.restarting", "upstream.restarting"]);
    }
    assert_eq!(stranger.closed().await.code, CloseCode::Away);
    assert!(stranger.events.is_empty());

    // The server and its data are still there: a new socket is served.
    let mut again = login(&emu, "bob").await;
    let (status, conv) = again
        .request("GET", "/me/conversations/c1", json!({}))
        .await;
    assert_eq!((status, conv["id"].as_str()), (200, Some("c1")));
    emu.stop().await;
}

#[actix_rt::test]
async fn an_unknown_method_is_answered_405_and_the_socket_stays_open() {
    let emu = emulator().await;
    // Before authentication too, as an unknown route is.
    let mut c = connect(&emu, "alice").await;
    let (status, body) = c.request("FETCH", "/users", json!({"ids": ["x"]})).await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(body["errorCode"], "METHOD_NOT_ALLOWED");
    let reasons = body["reasons"].as_array().expect("reasons is an array");
    assert!(
        reasons.len() == 1 && reasons[0].as_str().is_some_and(|r| r.contains("FETCH")),
        "{body}"
    );
    let (status, _) = c
        .request("POST", "/session/renew", json!({"token": "any"}))
        .await;
    assert_eq!(status, 200);
    for method in ["get", "PUBLISH_ALL", ""] {
        let (status, body) = c.request(method, "/ping", json!({})).await;
        assert_eq!(
            (status, body["errorCode"].as_str()),
            (405, Some("METHOD_NOT_ALLOWED")),
            "{method:?}"
        );
    }
    assert_eq!(c.request("GET", "/ping", json!({})).await.0, 200);

    // A frame that is malformed apart from its method still closes the socket.
    for garbage in [
        json!([9, "FETCH", "/x", {}]),
        json!([9, "FETCH", "/x", {}, {}, {}]),
        json!([9, "FETCH", 5, {}, {}]),
        json!([9, "FETCH", "/x", [], {}]),
        json!([9, "FETCH", "/x", {}, null]),
        json!([-1, "FETCH", "/x", {}, {}]),
        json!([9, "ACK", "/x", {}, {}]),
    ] {
        let mut c = login(&emu, "alice").await;
        c.send_text(garbage.to_string()).await;
        let reason = c.closed().await;
        assert_eq!(reason.code, CloseCode::Invalid, "{garbage}");
    }
    emu.stop().await;
}
