//! Where a client connects: the three base URLs derived from a `host` option
//! (docs/protocol.md §1.1), and the realtime websocket URL (§1.2).

use std::fmt::Write;

use crate::path::encode_component;

/// The protocol version the realtime URL announces. The official client 1.12.0 sends `1.11.2`
/// (§1.2); this is the protocol we speak, so we announce the same.
pub const PROTOCOL_VERSION: &str = "1.11.2";

/// The three base URLs of a TalkJS deployment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiUrls {
    /// Realtime websocket base, e.g. `wss://realtime.talkjs.com/v1`.
    pub realtime: String,
    /// Internal HTTP API base (app check, bokens), e.g. `https://app.talkjs.com/api/v0`.
    pub internal: String,
    /// REST API base (uploads, search), e.g. `https://api.talkjs.com/v1`.
    pub rest: String,
}

/// The hosts of TalkJS's own default deployment.
const DEFAULT_SUBDOMAINS: [&str; 4] = ["app", "cdn", "api", "realtime"];

impl ApiUrls {
    /// TalkJS's production URLs.
    pub fn talkjs() -> ApiUrls {
        ApiUrls {
            realtime: "wss://realtime.talkjs.com/v1".into(),
            internal: "https://app.talkjs.com/api/v0".into(),
            rest: "https://api.talkjs.com/v1".into(),
        }
    }

    /// The URLs for a `host` option, by the official client's rules: TalkJS's own hosts (and
    /// their regions), local hosts over plain `ws`/`http`, and any other host over TLS.
    ///
    /// ```
    /// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
    /// use talkjs::protocol::endpoints::ApiUrls;
    /// let local = ApiUrls::for_host("127.0.0.1:8787");
    /// assert_eq!(local.realtime, "ws://127.0.0.1:8787/public_api/v1");
    /// assert_eq!(ApiUrls::for_host("eu.talkjs.com").rest, "https://api-eu.talkjs.com/v1");
    /// ```
    pub fn for_host(host: &str) -> ApiUrls {
        if let Some(sub) = host.strip_suffix(".talkjs.com") {
            // `X.talkjs.com` or `pfx-X.talkjs.com`: X is a default subdomain or a region.
            let x = sub.rsplit('-').next().unwrap_or(sub);
            if DEFAULT_SUBDOMAINS.contains(&x) {
                return ApiUrls::talkjs();
            }
            return ApiUrls {
                realtime: format!("wss://realtime-{x}.talkjs.com/v1"),
                internal: format!("https://app-{x}.talkjs.com/api/v0"),
                rest: format!("https://api-{x}.talkjs.com/v1"),
            };
        }
        let (ws, http) = if is_local(host) {
            ("ws", "http")
        } else {
            ("wss", "https")
        };
        ApiUrls {
            realtime: format!("{ws}://{host}/public_api/v1"),
            internal: format!("{http}://{host}/api/v0"),
            rest: format!("{http}://{host}/public_api/v1"),
        }
    }

    /// The realtime websocket URL for a user.
    pub fn realtime_url(
        &self,
        app_id: &str,
        user_id: &str,
        client_build: &str,
        client_id: &str,
        now_ms: i64,
    ) -> String {
        let mut url = format!("{}/{app_id}/realtime/", self.realtime);
        encode_component(user_id, &mut url);
        url.push_str("?talkjs-client-build=");
        encode_component(client_build, &mut url);
        let _ = write!(
            url,
            "&talkjs-core={PROTOCOL_VERSION}&talkjs-client-id={client_id}&talkjs-time={now_ms}"
        );
        url
    }
}

/// Whether the official client would talk to `host` without TLS: it names localhost or
/// localtest.me, or is a dotted IPv4 address with an optional port.
fn is_local(host: &str) -> bool {
    if host.contains("localhost") || host.contains("localtest.me") {
        return true;
    }
    let addr = host.split(':').next().unwrap_or(host);
    let parts: Vec<&str> = addr.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_map_like_the_official_client() {
        assert_eq!(ApiUrls::for_host("app.talkjs.com"), ApiUrls::talkjs());
        assert_eq!(
            ApiUrls::for_host("pfx-realtime.talkjs.com"),
            ApiUrls::talkjs()
        );
        assert_eq!(
            ApiUrls::for_host("localhost:8921").internal,
            "http://localhost:8921/api/v0"
        );
        assert_eq!(
            ApiUrls::for_host("chat.example.com").realtime,
            "wss://chat.example.com/public_api/v1"
        );
        assert_eq!(
            ApiUrls::for_host("10.0.0.1").rest,
            "http://10.0.0.1/public_api/v1"
        );
        assert_eq!(
            ApiUrls::for_host("1.2.3.4.5").rest,
            "https://1.2.3.4.5/public_api/v1"
        );
    }

    #[test]
    fn the_realtime_url_encodes_the_user_but_not_the_app() {
        let u = ApiUrls::for_host("localhost:8921").realtime_url(
            "app1",
            "al/ice",
            "standalone",
            "123",
            5,
        );
        assert_eq!(
            u,
            "ws://localhost:8921/public_api/v1/app1/realtime/al%2Fice?talkjs-client-build=standalone&talkjs-core=1.11.2&talkjs-client-id=123&talkjs-time=5"
        );
    }
}
