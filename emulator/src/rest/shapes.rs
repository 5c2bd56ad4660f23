//! The JSON shapes of TalkJS's REST API v1, built from the store's records.
//!
//! These are the server-side views: unlike the client API they include private user fields
//! (`email`, `phone`, `pushTokens`), and a message carries `text`, `attachment`, `location` and
//! `readBy` as TalkJS's REST docs show them (docs/protocol.md §12.7 for what is derived how).

use serde_json::{Value, json};
use talkjs_protocol::content::ContentBlock;
use talkjs_protocol::plaintext::plaintext;

use crate::store::{ConversationRecord, MessageRecord, UserRecord};
use crate::world::World;

/// A user: `{id, name, email, phone, photoUrl, welcomeMessage, role, custom, locale, pushTokens}`.
pub fn user(u: &UserRecord) -> Value {
    json!({
        "id": u.id,
        "name": u.name,
        "email": u.email,
        "phone": u.phone,
        "photoUrl": u.photo_url,
        "welcomeMessage": u.welcome_message,
        "role": u.role,
        "custom": u.custom,
        "locale": u.locale,
        "pushTokens": u.push_tokens,
    })
}

/// A message: `{id, conversationId, type, senderId, origin, text, content, attachment, location,
/// custom, readBy, referencedMessageId, createdAt, editedAt}`. `text` is the plaintext of the
/// content; `content` (the blocks, as the client API has them) is the emulator's addition.
pub fn message(conv: &ConversationRecord, m: &MessageRecord) -> Value {
    let attachment = m.content.iter().find_map(|b| match b {
        ContentBlock::File(f) => Some(json!({"url": f.url, "size": f.size})),
        _ => None,
    });
    let location = m.content.iter().find_map(|b| match b {
        ContentBlock::Location(l) => Some(json!([l.latitude, l.longitude])),
        _ => None,
    });
    // Read by every participant other than the sender whose read time reached the message.
    let read_by: Vec<&str> = conv
        .participants
        .values()
        .filter(|p| Some(&p.user_id) != m.sender_id.as_ref() && p.read_until >= m.created_at)
        .map(|p| p.user_id.as_str())
        .collect();
    json!({
        "id": m.id,
        "conversationId": m.conversation_id,
        "type": m.kind,
        "senderId": m.sender_id,
        "origin": m.origin,
        "text": plaintext(&m.content),
        "content": m.content,
        "attachment": attachment,
        "location": location,
        "custom": m.custom,
        "readBy": read_by,
        "referencedMessageId": m.referenced_message_id,
        "createdAt": m.created_at,
        "editedAt": m.edited_at,
    })
}

/// A conversation: `{id, subject, photoUrl, welcomeMessages, custom, lastMessage, participants:
/// {userId: {access, notify}}, createdAt}`.
pub fn conversation(w: &World, c: &ConversationRecord) -> Value {
    let last = w.store().last_message(&c.id).map(|m| message(c, m));
    let participants: serde_json::Map<String, Value> = c
        .participants
        .values()
        .map(|p| {
            (
                p.user_id.clone(),
                json!({"access": p.access, "notify": p.notify}),
            )
        })
        .collect();
    json!({
        "id": c.id,
        "subject": c.subject,
        "photoUrl": c.photo_url,
        "welcomeMessages": c.welcome_messages,
        "custom": c.custom,
        "lastMessage": last,
        "participants": participants,
        "createdAt": c.created_at,
    })
}
