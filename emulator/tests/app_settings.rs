//! The app settings that TalkJS's UI components fetch before rendering
//! (`GET /api/v0/{app}//app`, `talkjs_emulator::app_settings`): answered for a signed-in user,
//! refused without a valid token or for another app, and reachable from a page on another origin.
//! The browser test (conformance/browser/) shows the official Chatbox rendering with them.

use awc::http::StatusCode;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use talkjs_emulator::{Emulator, RunningEmulator};

const APP: &str = "app1";
const SECRET: &str = "s3cret";
/// A JWT expiry far in the future (2100-01-01), so tokens never expire during a run.
const FAR_FUTURE: u64 = 4_102_444_800;
/// The query string the Chatbox sends (a session id it makes up and the user's role).
const QUERY: &str = "sessionId=3f1d2c7a-0000-4000-8000-000000000000&role_name=default";

async fn emulator() -> RunningEmulator {
    Emulator::builder()
        .app_id(APP)
        .secret(SECRET)
        .start("127.0.0.1:0")
        .await
        .expect("emulator starts")
}

fn jwt(secret: &str, app: &str, user: &str) -> String {
    let claims = json!({"iss": app, "sub": user, "tokenType": "user", "exp": FAR_FUTURE});
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("a JWT")
}

/// `GET path` with `token` as the bearer token (none if empty): the status and the JSON body.
async fn get(emu: &RunningEmulator, path: &str, token: &str) -> (StatusCode, Value) {
    let mut req = awc::Client::new().get(format!("{}{path}?{QUERY}", emu.url()));
    if !token.is_empty() {
        req = req.bearer_auth(token);
    }
    let mut resp = req.send().await.expect("the request is answered");
    let body = resp.json::<Value>().await.expect("a JSON body");
    (resp.status(), body)
}

#[actix_rt::test]
async fn a_signed_in_user_gets_the_apps_settings_with_the_defaults_for_every_role() {
    let emu = emulator().await;
    let token = jwt(SECRET, APP, "alice");
    let (status, body) = get(&emu, &format!("/api/v0/{APP}//app"), &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["appMetadata"]["id"], APP);
    assert_eq!(body["appMetadata"]["defaultLocale"], "en-US");
    assert_eq!(body["configuration"], json!({}));
    let features = body["features"].as_array().expect("a features list");
    for feature in ["file_sharing", "search_conv_and_messages"] {
        assert!(features.contains(&json!(feature)), "{feature} in {body}");
    }
    let (status, single) = get(&emu, &format!("/api/v0/{APP}/app"), &token).await;
    assert_eq!(status, 200, "one slash works too");
    assert_eq!(single, body);
    emu.stop().await;
}

#[actix_rt::test]
async fn the_settings_are_refused_without_a_valid_token_and_for_another_app() {
    let emu = emulator().await;
    let path = format!("/api/v0/{APP}//app");
    for (what, token) in [
        ("no token", String::new()),
        (
            "a token signed with another secret",
            jwt("wrong", APP, "alice"),
        ),
        ("a token of another app", jwt(SECRET, "other", "alice")),
        ("not a JWT", "garbage".to_owned()),
    ] {
        let (status, body) = get(&emu, &path, &token).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(body["errorCode"], "INVALID_TOKEN", "{what}");
    }
    let (status, body) = get(&emu, "/api/v0/other//app", &jwt(SECRET, APP, "alice")).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["errorCode"], "APP_NOT_FOUND");
    emu.stop().await;
}

#[actix_rt::test]
async fn a_page_on_another_origin_may_fetch_the_settings() {
    let emu = emulator().await;
    let origin = ("Origin", "http://localhost:3000");
    let preflight = awc::Client::new()
        .request(
            awc::http::Method::OPTIONS,
            format!("{}/api/v0/{APP}//app?{QUERY}", emu.url()),
        )
        .insert_header(origin)
        .insert_header(("Access-Control-Request-Method", "GET"))
        .insert_header((
            "Access-Control-Request-Headers",
            "authorization,content-type",
        ))
        .send()
        .await
        .expect("the preflight is answered");
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let header = |name: &str| {
        preflight
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("access-control-allow-origin"), "*");
    assert!(header("access-control-allow-methods").contains("GET"));
    assert!(header("access-control-allow-headers").contains("authorization"));
    let answer = awc::Client::new()
        .get(format!("{}/api/v0/{APP}//app?{QUERY}", emu.url()))
        .insert_header(origin)
        .bearer_auth(jwt(SECRET, APP, "alice"))
        .send()
        .await
        .expect("the request is answered");
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.headers().get("access-control-allow-origin").unwrap(),
        "*"
    );
    emu.stop().await;
}
