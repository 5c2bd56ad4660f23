//! The markup parser (`conversation.send(text)` and `message.edit(text)`): any text gives nodes,
//! never a panic, and no text is lost or invented outside the markup characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use talkjs_protocol::markup::{Profile, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for profile in [Profile::Send, Profile::Edit] {
        let nodes = parse(text, profile);
        // Parsing is pure: the same text gives the same nodes.
        assert_eq!(nodes, parse(text, profile));
    }
});
