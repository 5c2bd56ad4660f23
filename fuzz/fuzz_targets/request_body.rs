//! Routes and request bodies: `METHOD path` on the first line, the request's data after it.
//! Any route string and any data is a route and body or a typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use talkjs_protocol::Method;
use talkjs_protocol::path::Route;
use talkjs_protocol::request::RequestBody;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (head, body) = text.split_once('\n').unwrap_or((text, "{}"));
    let (method, path) = head.split_once(' ').unwrap_or(("GET", head));
    let Some(method) = Method::parse(method) else {
        return;
    };
    if let Ok(route) = Route::parse(method, path) {
        let _ = RequestBody::decode(&route, body);
    }
});
