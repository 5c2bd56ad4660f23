//! Decoding a realistic message page: typed models versus `serde_json::Value`.
//!
//! The frame is what a server sends for `GET /me/conversations/{c}/messages {limit:30}`: thirty
//! messages with formatted text, links, mentions, a file, replies, custom data and reactions. The
//! typed path is what the runtime does for every page: parse the frame envelope, then decode its
//! data into `Page<MessageWire>`. The untyped path parses the same bytes into a `Value`.
//!
//! Run with `cargo bench --bench decode`; compare the two lines of one run (the machine is noisy).

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use serde_json::{Value, json};
use talkjs::protocol::frame::Frame;
use talkjs::protocol::wire::{MessageWire, Page};

/// Messages per page: the official client's initial message window.
const PAGE_SIZE: usize = 30;

fn message(i: usize) -> Value {
    let content = if i % 10 == 7 {
        json!([{"type": "file", "subtype": "image", "fileToken": format!("FT_{i}"),
                 "url": format!("https://files.example.com/app/{i}/holiday%20photo.jpg"),
                 "size": 183_211, "filename": "holiday photo.jpg", "width": 1024, "height": 768}])
    } else {
        json!([{"type": "text", "children": [
            format!("Message number {i}: here is what I found "),
            {"type": "bold", "children": ["important"]},
            ", see ",
            {"type": "autoLink", "url": "https://example.com/docs?page=2", "text": "https://example.com/docs?page=2"},
            " and ask ",
            {"type": "mention", "id": "bob", "text": "Bob"},
            {"type": "bulletList", "children": [
                {"type": "bulletPoint", "children": ["first point"]},
                {"type": "bulletPoint", "children": [{"type": "italic", "children": ["second"]}, " point"]}
            ]}
        ]}])
    };
    json!({
        "id": format!("msg_{i:04}"),
        "type": if i.is_multiple_of(15) { "SystemMessage" } else { "UserMessage" },
        "senderId": if i.is_multiple_of(15) { Value::Null } else { json!(if i.is_multiple_of(2) { "alice" } else { "bob" }) },
        "custom": {"ticket": format!("T-{i}"), "channel": "support"},
        "createdAt": 1_700_000_000_000_i64 + (PAGE_SIZE - i) as i64 * 60_000,
        "editedAt": if i.is_multiple_of(4) { json!(1_700_000_100_000_i64) } else { Value::Null },
        "referencedMessageId": if i % 5 == 3 { json!(format!("msg_{:04}", i + 1)) } else { Value::Null },
        "origin": "web",
        "content": content,
        "reactions": if i.is_multiple_of(3) {
            json!({"👍": {"count": 2, "currentUserReacted": true, "createdAt": 1_700_000_000_500_i64},
                   ":cat:": {"count": 1, "currentUserReacted": false, "createdAt": 1_700_000_000_900_i64}})
        } else { json!({}) }
    })
}

fn page_frame() -> String {
    let data: Vec<Value> = (0..PAGE_SIZE).map(message).collect();
    serde_json::to_string(&json!([12, 200, {"data": data, "cursor": "cursor_30"}]))
        .expect("valid JSON")
}

fn decode(c: &mut Criterion) {
    let text = page_frame();
    // Check once, outside the timing, that the typed path really decodes everything.
    let Ok(Frame::Response(resp)) = Frame::parse(&text) else {
        panic!("bench frame does not parse")
    };
    let page: Page<MessageWire> = resp.data().expect("bench page decodes");
    assert_eq!(page.data.len(), PAGE_SIZE);

    let mut group = c.benchmark_group("decode_30_message_page");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("typed: Frame + Page<MessageWire>", |b| {
        b.iter(|| {
            let Ok(Frame::Response(resp)) = Frame::parse(black_box(&text)) else {
                unreachable!()
            };
            let page: Page<MessageWire> = resp.data().expect("decodes");
            black_box(page)
        })
    });
    group.bench_function("untyped: serde_json::Value", |b| {
        b.iter(|| {
            let v: Value = serde_json::from_str(black_box(&text)).expect("decodes");
            black_box(v)
        })
    });
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
