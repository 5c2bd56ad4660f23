//! The HTTP client every HTTP request of the runtime goes through: awc with TLS (rustls with the
//! `ring` backend and the Mozilla root certificates from `webpki-roots`), so `https://` URLs of
//! TalkJS itself work as well as the plain `http://` of a local emulator. Websockets dial with
//! the same TLS configuration but without awc (`connection/dial.rs`).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The TLS configuration, built once: rustls with `ring`, the webpki roots, HTTP/1.1 (websockets
/// need it).
pub(crate) fn tls() -> Option<Arc<rustls::ClientConfig>> {
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

/// A client with TLS and this request timeout, with at most 100 connections open at once
/// (awc's default).
pub fn client(timeout: Duration) -> awc::Client {
    let mut connector = awc::Connector::new();
    if let Some(tls) = tls() {
        connector = connector.rustls_0_23(tls);
    }
    // Not `.max_http_version(..)`: awc rebuilds its own TLS configuration there, dropping ours.
    // Ours offers only HTTP/1.1 (ALPN), which a websocket's upgrade needs (connection/dial.rs
    // dials with the same configuration).
    awc::Client::builder()
        .connector(connector)
        .timeout(timeout)
        .finish()
}
