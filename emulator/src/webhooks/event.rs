//! The events the emulator posts: their types and the JSON body every receiver gets.

use serde_json::{Value, json};
pub use talkjs_protocol::webhook::WebhookEventType as WebhookType;
use talkjs_protocol::wire::Millis;

/// The body of an event: `{id, type, createdAt, data}`, serialised once and shared by every
/// URL, attempt and replay (only the timestamp and signature headers change).
pub(crate) fn body(id: &str, kind: &WebhookType, created_at: Millis, data: Value) -> Vec<u8> {
    let event = json!({
        "id": id,
        "type": kind.as_str(),
        "createdAt": created_at,
        "data": data,
    });
    // A `Value` with string keys always serialises.
    serde_json::to_vec(&event).unwrap_or_default()
}
