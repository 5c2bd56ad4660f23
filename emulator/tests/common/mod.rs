//! HTTP helpers shared by the REST, state and binary tests: one REST call over loopback, and the
//! texts of a message page.
//!
//! Each test file that uses it says `mod common;`; not every file uses every helper.
#![allow(dead_code)]

use serde_json::Value;

/// One HTTP call to `base` + `path` with an optional bearer token and JSON body: the status and
/// the JSON answer (`null` when the answer is not JSON).
pub async fn call(
    base: &str,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = awc::Client::new().request(method, format!("{base}{path}"));
    if let Some(t) = token {
        req = req.insert_header(("Authorization", format!("Bearer {t}")));
    }
    let mut resp = match body {
        Some(b) => req.send_json(&b).await,
        None => req.send().await,
    }
    .expect("request answered");
    let bytes = resp.body().await.expect("body");
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (resp.status().as_u16(), json)
}

/// The `text` of every message of a REST page, newest first.
pub fn texts(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("a data array")
        .iter()
        .map(|m| m["text"].as_str().expect("text").to_owned())
        .collect()
}
