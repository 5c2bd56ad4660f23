//! Uploaded files are private, over real HTTP and sockets on loopback: unguessable tokens, a
//! token only its uploader can attach, and downloads that never render as the emulator's pages.

mod common;

use awc::http::header;
use serde_json::{Value, json};
use talkjs_emulator::RunningEmulator;

use common::{alice_and_bob_in_c1, boken, emulator, login};

/// Uploads `data` as `filename` of type `content_type` for `user` (an unauthenticated app takes
/// a boken of any user); returns the file token.
async fn upload_file(
    emu: &RunningEmulator,
    user: &str,
    filename: &str,
    content_type: &str,
    data: &str,
) -> String {
    let token = boken(emu, user).await;
    let part = format!(
        "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
         Content-Type: {content_type}\r\n\r\n{data}\r\n--B--\r\n"
    );
    let (status, body) = common::upload(emu, &token, part).await;
    assert_eq!(status, 200, "{body}");
    body["fileToken"].as_str().unwrap().to_owned()
}

fn file_message(token: &str) -> Value {
    json!({"content": [{"type": "file", "fileToken": token}], "idempotencyKey": format!("K{token}")})
}

#[actix_rt::test]
async fn file_tokens_are_random_128_bit_values() {
    let emu = emulator().await;
    let a = upload_file(&emu, "alice", "a.bin", "application/octet-stream", "1").await;
    let b = upload_file(&emu, "alice", "b.bin", "application/octet-stream", "2").await;
    assert_ne!(a, b);
    for t in [&a, &b] {
        let hex = t.strip_prefix("file_").expect("the file_ prefix");
        assert_eq!(hex.len(), 32, "{t}: 128 bits in hex");
        assert!(hex.bytes().all(|c| c.is_ascii_hexdigit()), "{t}");
    }
    emu.stop().await;
}

#[actix_rt::test]
async fn only_the_uploader_can_attach_a_file_token() {
    let emu = emulator().await;
    let mut alice = login(&emu, "alice").await;
    alice_and_bob_in_c1(&mut alice).await;
    let mut bob = login(&emu, "bob").await;
    let token = upload_file(&emu, "alice", "plan.pdf", "application/pdf", "PDF").await;
    let path = "/conversations/c1/messages";
    let (status, body) = bob.request("POST", path, file_message(&token)).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (400, Some("INVALID_FILE_TOKEN")),
        "{body}"
    );
    let (status, body) = alice.request("POST", path, file_message(&token)).await;
    assert_eq!(status, 200, "{body}");
    emu.stop().await;
}

#[actix_rt::test]
async fn downloads_never_render_active_content_and_say_how_to_show_the_file() {
    let emu = emulator().await;
    let http = awc::Client::new();
    let page = upload_file(
        &emu,
        "alice",
        "x.html",
        "text/html",
        "<script>alert(1)</script>",
    )
    .await;
    let image = upload_file(&emu, "alice", "pic.png", "image/png", "PNG").await;
    for (token, kind, content_type) in [
        (&page, "attachment", "application/octet-stream"),
        (&image, "inline", "image/png"),
    ] {
        let url = emu.inspect(|w| w.file_block_url(token)).expect("a url");
        let r = http.get(url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let h = |name| {
            r.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        assert_eq!(h(header::CONTENT_TYPE), content_type, "{token}");
        assert_eq!(h(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert!(
            h(header::CONTENT_DISPOSITION).starts_with(kind),
            "{}",
            h(header::CONTENT_DISPOSITION)
        );
        assert!(h(header::CONTENT_SECURITY_POLICY).contains("sandbox"));
    }
    let r = http
        .get(format!(
            "{}/public_api/v1/app1/files/file_000001/x.html",
            emu.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "a guessed token finds nothing");
    emu.stop().await;
}
