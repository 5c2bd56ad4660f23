//! The HTTP client every request of the runtime goes through: awc with TLS (rustls with the
//! `ring` backend and the Mozilla root certificates from `webpki-roots`), so `wss://` and
//! `https://` URLs of TalkJS itself work as well as the plain `ws://` of a local emulator.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The TLS configuration, built once: rustls with `ring`, the webpki roots, HTTP/1.1 (websockets
/// need it).
fn tls() -> Option<Arc<rustls::ClientConfig>> {
    static CONFIG: OnceLock<Option<Arc<rustls::ClientConfig>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            match rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions() {
                Ok(builder) => {
                    let mut config = builder.with_root_certificates(roots).with_no_client_auth();
                    config.alpn_protocols = vec![b"http/1.1".to_vec()];
                    Some(Arc::new(config))
                }
                Err(e) => {
                    tracing::error!(error = %e, "TLS is unavailable; only plain ws:// and http:// will work");
                    None
                }
            }
        })
        .clone()
}

/// A client with TLS and this request timeout.
pub fn client(timeout: Duration) -> awc::Client {
    build(timeout, CONNECTION_LIMIT)
}

/// Connections a [`client`] has open at once (awc's default).
const CONNECTION_LIMIT: usize = 100;

/// How long dialling a websocket (TCP, TLS and the handshake) may take.
const WS_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The websocket client of this thread, shared by every connection dialling from it.
///
/// A socket holds on to the connection pool of the client that dialled it for as long as it is
/// open (awc's pool guard), so a client per dial kept a pool per session alive. One client per
/// thread shares it. Its pool has no connection limit (0): every open websocket counts against
/// the limit, and a limit of 100 would make the 101st session's dial wait.
pub(crate) fn ws_client() -> awc::Client {
    thread_local! {
        static WS: std::cell::OnceCell<awc::Client> = const { std::cell::OnceCell::new() };
    }
    WS.with(|cell| cell.get_or_init(|| build(WS_CONNECT_TIMEOUT, 0)).clone())
}

/// A client with TLS, this request timeout and this many connections at once (0: no limit).
fn build(timeout: Duration, limit: usize) -> awc::Client {
    let mut connector = awc::Connector::new().limit(limit);
    if let Some(tls) = tls() {
        connector = connector.rustls_0_23(tls);
    }
    // Not `.max_http_version(..)`: awc rebuilds its own TLS configuration there, dropping ours.
    // Ours already offers only HTTP/1.1 (ALPN), which websockets need.
    awc::Client::builder()
        .connector(connector)
        .timeout(timeout)
        .finish()
}
