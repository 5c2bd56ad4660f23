//! The filter normaliser: any JSON that reads as a conversation or message filter normalises
//! without a panic, and normalising is idempotent (the normal form is its own normal form).
#![no_main]

use libfuzzer_sys::fuzz_target;
use talkjs_protocol::filter::{ConversationFilter, MessageFilter};

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = serde_json::from_slice::<ConversationFilter>(data) {
        let n = f.normalise();
        assert_eq!(n.normalise(), n);
        let _ = f.normalised_key();
        let _ = f.matches_nothing();
    }
    if let Ok(f) = serde_json::from_slice::<MessageFilter>(data) {
        let n = f.normalise();
        assert_eq!(n.normalise(), n);
        let _ = f.normalised_key();
    }
});
