//! The emulator over real sockets on loopback: a raw websocket client speaking frames, and HTTP.

use std::time::Duration;

use actix_web::web::Bytes;
use awc::ws::{self, CloseCode};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use talkjs_emulator::{Emulator, RunningEmulator};
use talkjs_protocol::frame::Frame;

/// How long a test waits for a frame before failing.
const WAIT: Duration = Duration::from_secs(5);

type Conn = actix_codec::Framed<awc::BoxedSocket, ws::Codec>;

async fn emulator() -> RunningEmulator {
    Emulator::builder()
        .app_id("app1")
        .start("127.0.0.1:0")
        .await
        .expect("emulator starts")
}

async fn connect(emu: &RunningEmulator, user: &str) -> Conn {
    let url = format!(
        "ws://{}/public_api/v1/app1/realtime/{user}?talkjs-client-build=test",
        emu.host()
    );
    let (_, conn) = awc::Client::new()
        .ws(url)
        .connect()
        .await
        .expect("websocket connects");
    conn
}

async fn send(conn: &mut Conn, frame: Value) {
    conn.send(ws::Message::Text(frame.to_string().into()))
        .await
        .expect("frame sent");
}

/// The next text frame, parsed.
async fn next(conn: &mut Conn) -> Value {
    loop {
        match actix_rt::time::timeout(WAIT, conn.next()).await {
            Ok(Some(Ok(ws::Frame::Text(t)))) => {
                return serde_json::from_slice(&t).expect("JSON frame");
            }
            Ok(Some(Ok(ws::Frame::Ping(_) | ws::Frame::Pong(_)))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// The response to `seq`, skipping pushes (which are acknowledged).
async fn response(conn: &mut Conn, seq: u64) -> (u64, Value) {
    loop {
        let f = next(conn).await;
        if f[1] == "PUBLISH" {
            send(conn, json!([f[0], "ACK"])).await;
            continue;
        }
        assert_eq!(f[0], seq, "response to the wrong request: {f}");
        return (f[1].as_u64().expect("status"), f[2].clone());
    }
}

async fn request(conn: &mut Conn, seq: u64, method: &str, path: &str, data: Value) -> (u64, Value) {
    send(conn, json!([seq, method, path, data, {}])).await;
    response(conn, seq).await
}

async fn login(emu: &RunningEmulator, user: &str) -> Conn {
    let mut conn = connect(emu, user).await;
    let (status, body) = request(
        &mut conn,
        0,
        "POST",
        "/session/renew",
        json!({"token": "any"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.get("expiresInSeconds").is_some(),
        "expiresInSeconds must always be present"
    );
    conn
}

#[actix_rt::test]
async fn nothing_but_ping_is_served_before_the_socket_authenticates() {
    let emu = emulator().await;
    let mut conn = connect(&emu, "alice").await;
    assert_eq!(
        request(&mut conn, 0, "GET", "/ping", json!({})).await.0,
        200
    );
    let (status, body) = request(
        &mut conn,
        1,
        "GET",
        "/users",
        json!({"ids": ["alice"], "includePrivateFields": false}),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["errorCode"], "INVALID_TOKEN");
    assert!(body["reasons"].is_array());
    emu.stop().await;
}

#[actix_rt::test]
async fn a_garbage_frame_closes_the_socket_with_a_reason() {
    let emu = emulator().await;
    // (A well-formed request with an unknown method is answered instead: server_events.rs.)
    for garbage in ["{not json", "[1]", "{\"a\":1}", "[1,\"FETCH\",\"/x\",{}]"] {
        let mut conn = login(&emu, "alice").await;
        conn.send(ws::Message::Text(garbage.into())).await.unwrap();
        match actix_rt::time::timeout(WAIT, conn.next()).await {
            Ok(Some(Ok(ws::Frame::Close(Some(reason))))) => {
                assert_eq!(reason.code, CloseCode::Invalid, "{garbage}");
                assert!(reason.description.is_some());
            }
            other => panic!("{garbage}: expected a close frame, got {other:?}"),
        }
    }
    let mut conn = login(&emu, "alice").await;
    conn.send(ws::Message::Binary(Bytes::from_static(b"\x00\x01")))
        .await
        .unwrap();
    assert!(matches!(
        actix_rt::time::timeout(WAIT, conn.next()).await,
        Ok(Some(Ok(ws::Frame::Close(Some(r))))) if r.code == CloseCode::Unsupported
    ));
    emu.stop().await;
}

#[actix_rt::test]
async fn well_formed_requests_the_emulator_cannot_serve_get_error_bodies_and_the_socket_stays_open()
{
    let emu = emulator().await;
    let mut conn = login(&emu, "alice").await;
    let (status, body) = request(&mut conn, 1, "GET", "/no/such/route", json!({})).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    let (status, _) = request(&mut conn, 2, "GET", "/users", json!({"ids": "not-a-list"})).await;
    assert_eq!(status, 400);
    let (status, _) = request(&mut conn, 3, "POST", "/users/", json!({"name": "x"})).await;
    assert_eq!(status, 400, "empty id");
    let (status, _) = request(&mut conn, 4, "GET", "/users/a%zz/online", json!({})).await;
    assert_eq!(status, 400, "bad escape");
    assert_eq!(
        request(&mut conn, 5, "GET", "/ping", json!({})).await.0,
        200
    );
    emu.stop().await;
}

#[actix_rt::test]
async fn bob_receives_alices_messages_as_pushes_numbered_from_one() {
    let emu = emulator().await;
    let mut alice = login(&emu, "alice").await;
    let mut bob = login(&emu, "bob").await;
    for (seq, (id, name)) in [("alice", "Alice"), ("bob", "Bob")].into_iter().enumerate() {
        let (status, _) = request(
            &mut alice,
            seq as u64 + 1,
            "POST",
            &format!("/users/{id}"),
            json!({"name": name}),
        )
        .await;
        assert_eq!(status, 200);
    }
    assert_eq!(
        request(&mut alice, 3, "POST", "/conversations/c1", json!({}))
            .await
            .0,
        200
    );
    let actions = json!({"actions": [{"id": "alice", "method": "POST", "params": {}}, {"id": "bob", "method": "POST", "params": {}}]});
    let (status, body) = request(
        &mut alice,
        4,
        "POST",
        "/conversations/c1/participants",
        actions,
    )
    .await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"responses": [{"status": 200}, {"status": 200}]})
        )
    );
    assert_eq!(
        request(
            &mut bob,
            1,
            "SUBSCRIBE",
            "/me/conversations/c1/messages",
            json!({})
        )
        .await
        .0,
        200
    );

    for i in 0..3 {
        let key = format!("KEY_{i:016}");
        let data = json!({"content": [{"type": "text", "children": [format!("hello {i}")]}], "idempotencyKey": key});
        let (status, body) = request(
            &mut alice,
            5 + i,
            "POST",
            "/conversations/c1/messages",
            data,
        )
        .await;
        assert_eq!(status, 200);
        assert!(body["id"].is_string());
    }
    let mut ids = Vec::new();
    while ids.len() < 3 {
        let f = next(&mut bob).await;
        assert_eq!(f[1], "PUBLISH", "{f}");
        send(&mut bob, json!([f[0], "ACK"])).await;
        let Ok(Frame::Publish(p)) = Frame::parse(&f.to_string()) else {
            panic!()
        };
        ids.push(p.id);
        assert_eq!(f[2]["type"], "message.created");
        assert!(f[2]["messageId"].is_string());
    }
    assert_eq!(ids, [1, 2, 3]);
    emu.stop().await;
}

#[actix_rt::test]
async fn with_a_secret_only_a_correctly_signed_token_for_this_user_is_accepted() {
    use jsonwebtoken::{EncodingKey, Header};
    let emu = Emulator::builder()
        .app_id("app1")
        .secret("s3cret")
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let jwt = |secret: &str, sub: &str| {
        let claims = json!({"iss": "app1", "sub": sub, "tokenType": "user", "exp": exp});
        jsonwebtoken::encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let mut conn = connect(&emu, "alice").await;
    for (seq, token) in [
        jwt("wrong", "alice"),
        jwt("s3cret", "bob"),
        "opaque".to_owned(),
    ]
    .into_iter()
    .enumerate()
    {
        let (status, body) = request(
            &mut conn,
            seq as u64,
            "POST",
            "/session/renew",
            json!({ "token": token }),
        )
        .await;
        assert_eq!(
            (status, body["errorCode"].as_str()),
            (401, Some("INVALID_TOKEN"))
        );
    }
    let (status, body) = request(
        &mut conn,
        9,
        "POST",
        "/session/renew",
        json!({"token": jwt("s3cret", "alice")}),
    )
    .await;
    assert_eq!(status, 200);
    let left = body["expiresInSeconds"].as_u64().unwrap();
    assert!((3590..=3600).contains(&left), "{left}");
    emu.stop().await;
}

#[actix_rt::test]
async fn the_http_side_checks_the_app_issues_bokens_and_serves_uploads() {
    let emu = emulator().await;
    let http = awc::Client::new();
    let url = emu.url();
    assert_eq!(
        http.get(format!("{url}/api/v0/app1"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let mut r = http.get(format!("{url}/api/v0/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errorCode"], "APP_NOT_FOUND");

    let mut r = http
        .get(format!("{url}/api/v0/app1/bokens/al%2Fice?signature="))
        .send()
        .await
        .unwrap();
    let boken = r.json::<Value>().await.unwrap()["boken"]
        .as_str()
        .unwrap()
        .to_owned();
    // The boken authenticates al/ice, and only her.
    let mut conn = connect(&emu, "al%2Fice").await;
    assert_eq!(
        request(
            &mut conn,
            0,
            "POST",
            "/session/renew",
            json!({"token": boken})
        )
        .await
        .0,
        200
    );
    let mut other = connect(&emu, "bob").await;
    assert_eq!(
        request(
            &mut other,
            0,
            "POST",
            "/session/renew",
            json!({"token": boken})
        )
        .await
        .0,
        401
    );

    let boundary = "XBOUNDARYX";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"pic ü.png\"\r\nContent-Type: image/png\r\n\r\nPNGDATA\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"subtype\"\r\n\r\nimage\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"width\"\r\n\r\n640\r\n--{boundary}--\r\n"
    );
    let mut r = http
        .post(format!("{url}/public_api/v1/app1/files"))
        .insert_header(("Authorization", format!("Bearer {boken}")))
        .insert_header((
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        ))
        .send_body(body.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.unwrap()["fileToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let url_of_file = emu.inspect(|w| {
        let f = w.store().file(&token).expect("stored").clone();
        assert_eq!((f.filename.as_str(), f.width), ("pic ü.png", Some(640)));
        w.file_block_url(&token)
    });
    let mut r = http.get(url_of_file.expect("a url")).send().await.unwrap();
    assert_eq!(r.body().await.unwrap().as_ref(), b"PNGDATA");

    let r = http
        .post(format!("{url}/public_api/v1/app1/files"))
        .insert_header((
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        ))
        .send_body(body)
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "uploads need a token");
    emu.stop().await;
}

#[actix_rt::test]
async fn an_upload_over_the_limit_is_refused_with_413() {
    let emu = Emulator::builder()
        .app_id("app1")
        .max_upload_bytes(4)
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let http = awc::Client::new();
    let boken: Value = http
        .get(format!("{}/api/v0/app1/bokens/alice?signature=", emu.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\r\n0123456789\r\n--B--\r\n";
    let mut r = http
        .post(format!("{}/public_api/v1/app1/files", emu.url()))
        .insert_header((
            "Authorization",
            format!("Bearer {}", boken["boken"].as_str().unwrap()),
        ))
        .insert_header(("Content-Type", "multipart/form-data; boundary=B"))
        .send_body(body)
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.json::<Value>().await.unwrap()["errorCode"],
        "FILE_TOO_LARGE"
    );
    assert_eq!(emu.inspect(|w| w.connection_count()), 0);
    emu.stop().await;
}
