//! The frame parser: any text a peer sends is a frame or a typed error, never a panic; a parsed
//! frame written back out parses again to the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use talkjs_protocol::Frame;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(frame) = Frame::parse(text) {
        let again = Frame::parse(&frame.to_text()).expect("a written frame parses");
        assert_eq!(again.to_text(), frame.to_text());
    }
});
