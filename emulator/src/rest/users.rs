//! `/users`: upsert one or many users, read one, and list a user's conversations.

use serde_json::{Map, Value, json};
use talkjs_protocol::error::{ErrorBody, codes};
use talkjs_protocol::params::SetUserParams;
use talkjs_protocol::wire::ConversationWire;

use super::{Call, Reply, decode, limit, object, page, query_number, shapes};
use crate::world::{ApiError, ApiResult, World};

/// Most users one `PUT /users` may set (TalkJS's documented limit).
pub const MAX_USERS_PER_BATCH: usize = 100;

/// A user body as the client API's patch. TalkJS unregisters a push token with `null`, which the
/// patch spells `false`.
fn user_patch(v: &Value) -> ApiResult<SetUserParams> {
    let mut v = v.clone();
    if let Some(Value::Object(tokens)) = v.get_mut("pushTokens") {
        for on in tokens.values_mut() {
            if on.is_null() {
                *on = Value::Bool(false);
            }
        }
    }
    if !v.is_object() {
        return Err(ApiError::bad_request("a user must be a JSON object"));
    }
    decode("user", v)
}

/// `PUT /users/{id}`: create, or merge into the existing user.
pub fn put(w: &mut World, id: &str, call: &Call) -> Reply {
    let p = user_patch(&Value::Object(object(call)?.clone()))?;
    w.upsert_user(id, p).map(|()| json!({}))
}

/// `PUT /users`: `{id: user, ...}`, at most [`MAX_USERS_PER_BATCH`], all or nothing: one invalid
/// entry answers 400 with a reason per invalid user, and nothing is applied.
pub fn put_many(w: &mut World, call: &Call) -> Reply {
    let users: &Map<String, Value> = object(call)?;
    if users.len() > MAX_USERS_PER_BATCH {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_USERS_PER_BATCH} users per request, got {}",
            users.len()
        )));
    }
    let mut patches = Vec::with_capacity(users.len());
    let mut reasons = Vec::new();
    for (id, body) in users {
        match user_patch(body).and_then(|p| w.check_user_patch(id, &p).map(|()| p)) {
            Ok(p) => patches.push((id.clone(), p)),
            Err(e) => reasons.extend(e.body.reasons.iter().map(|r| format!("{id}: {r}"))),
        }
    }
    if !reasons.is_empty() {
        let mut body = ErrorBody::new(codes::BAD_REQUEST, "no user was updated");
        body.reasons.extend(reasons);
        return Err(ApiError { status: 400, body });
    }
    for (id, p) in patches {
        w.upsert_user(&id, p)?;
    }
    Ok(json!({}))
}

/// `GET /users/{id}`.
pub fn get(w: &World, id: &str) -> Reply {
    w.user_exists(id)?;
    Ok(w.store().user(id).map(shapes::user).unwrap_or_default())
}

/// `GET /users/{id}/conversations`: newest activity first, with the user's unread state.
/// Filters `unreadsOnly`, `lastMessageBefore`, `lastMessageAfter` (Unix ms, exclusive); paging
/// with `limit` and `startingAfter` (a conversation id of the previous page).
pub fn conversations(w: &World, id: &str, call: &Call) -> Reply {
    w.user_exists(id)?;
    let limit = limit(call)?;
    let unreads_only = match call.query.get("unreadsOnly").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::bad_request("unreadsOnly must be true or false")),
    };
    if call.query.contains_key("orderBy") || call.query.contains_key("orderDirection") {
        return Err(ApiError::bad_request(
            "the emulator lists by last activity, newest first, only (no orderBy)",
        ));
    }
    let before = query_number(call, "lastMessageBefore")?;
    let after = query_number(call, "lastMessageAfter")?;
    let store = w.store();
    let mut views: Vec<ConversationWire> = store
        .conversations_of(id)
        .iter()
        .filter_map(|c| store.conversation(c))
        .filter_map(|c| w.conversation_wire(c, id))
        .filter(|v| !unreads_only || v.is_unread)
        .filter(|v| before.is_none_or(|t| v.last_message_at < t))
        .filter(|v| after.is_none_or(|t| v.last_message_at > t))
        .collect();
    views.sort_by(|a, b| {
        b.last_message_at
            .cmp(&a.last_message_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    let start = match call.query.get("startingAfter") {
        None => 0,
        Some(c) => {
            views.iter().position(|v| v.id == *c).ok_or_else(|| {
                ApiError::bad_request(format!("startingAfter {c} is not in this list"))
            })? + 1
        }
    };
    let data = views
        .iter()
        .skip(start)
        .take(limit)
        .filter_map(|v| {
            let c = store.conversation(&v.id)?;
            let mut shape = shapes::conversation(w, c);
            if let Some(o) = shape.as_object_mut() {
                o.insert("isUnread".into(), json!(v.is_unread));
                o.insert("unreadMessageCount".into(), json!(v.unread_message_count));
                o.insert("readUntil".into(), json!(v.read_until));
            }
            Some(shape)
        })
        .collect();
    Ok(page(data))
}
