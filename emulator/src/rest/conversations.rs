//! `/conversations/{id}` and its participants.

use serde_json::json;
use talkjs_protocol::error::codes;
use talkjs_protocol::params::{SetConversationParams, SetParticipantParams};

use super::{Call, Reply, decode, object, patch_field, shapes};
use crate::world::conversations::{DEFAULT_ACCESS, DEFAULT_NOTIFY, ParticipantWrite};
use crate::world::{ApiError, World};

/// Most participants one `PUT /conversations/{id}` may add: the largest page of the client API,
/// so that no single request does unbounded work under the world's lock.
pub const MAX_PARTICIPANTS_PER_PUT: usize = crate::world::conversations::MAX_PAGE;

/// `PUT /conversations/{id}`: create or merge `subject`, `photoUrl`, `welcomeMessages`, `custom`
/// (`null` clears), and add the `participants` (user ids; never removes any). Every participant
/// must be an existing user, or nothing is applied (404).
pub fn put(w: &mut World, id: &str, call: &Call) -> Reply {
    let body = object(call)?;
    let participants: Vec<String> = match body.get("participants") {
        None => Vec::new(),
        Some(v) => decode("participants", v.clone())?,
    };
    if participants.len() > MAX_PARTICIPANTS_PER_PUT {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_PARTICIPANTS_PER_PUT} participants per request"
        )));
    }
    for u in &participants {
        w.user_exists(u)?;
    }
    let mut attributes = body.clone();
    attributes.remove("participants");
    let p: SetConversationParams = decode("conversation", attributes.into())?;
    w.upsert_conversation(id, p);
    for u in &participants {
        let joined = w
            .store()
            .conversation(id)
            .is_some_and(|c| c.participants.contains_key(u));
        if !joined {
            w.apply_participant_write(id, u, ParticipantWrite::Set, Default::default())?;
        }
    }
    Ok(json!({}))
}

/// `GET /conversations/{id}`.
pub fn get(w: &World, id: &str) -> Reply {
    let c = w
        .store()
        .conversation(id)
        .ok_or_else(|| ApiError::conversation_not_found(id))?;
    Ok(shapes::conversation(w, c))
}

/// `PUT` (join, or overwrite the settings: missing ones go back to the defaults), `PATCH` (change
/// the given settings; 404 if not a participant) and `DELETE` (leave; idempotent) of
/// `/conversations/{c}/participants/{u}`.
pub fn participant(w: &mut World, method: &str, c: &str, u: &str, call: &Call) -> Reply {
    let settings = |call: &Call| -> Result<SetParticipantParams, ApiError> {
        let Some(body) = &call.body else {
            return Ok(SetParticipantParams::default());
        };
        let body = body
            .as_object()
            .ok_or_else(|| ApiError::bad_request("the body must be a JSON object"))?;
        Ok(SetParticipantParams {
            access: patch_field(body, "access")?,
            notify: patch_field(body, "notify")?,
        })
    };
    match method {
        "PUT" => {
            let p = settings(call)?;
            let p = SetParticipantParams {
                access: Some(Some(p.access.flatten().unwrap_or(DEFAULT_ACCESS))),
                notify: Some(Some(p.notify.flatten().unwrap_or(DEFAULT_NOTIFY))),
            };
            w.user_exists(u)?;
            w.apply_participant_write(c, u, ParticipantWrite::Set, p)?;
        }
        "PATCH" => {
            let p = settings(call)?;
            w.apply_participant_write(c, u, ParticipantWrite::Edit, p)?;
        }
        "DELETE" => match w.apply_remove_participant(c, u) {
            Err(e) if e.body.error_code == codes::PARTICIPANT_NOT_FOUND => {}
            other => other?,
        },
        _ => {
            return Err(ApiError::new(
                405,
                crate::realtime::METHOD_NOT_ALLOWED,
                format!("{method} is not allowed on a participant (PUT, PATCH, DELETE)"),
            ));
        }
    }
    Ok(json!({}))
}
