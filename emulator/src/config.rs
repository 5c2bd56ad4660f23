//! The emulator's settings.

/// Default address the binary listens on.
pub const DEFAULT_BIND: &str = "127.0.0.1:8787";
/// Default app id.
pub const DEFAULT_APP_ID: &str = "demo";
/// Default largest accepted upload: 25 MiB, TalkJS's documented file size limit.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 25 * 1024 * 1024;

/// How the emulator behaves. Every field has a default that suits tests and local development.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The one app this emulator serves; other app ids get 404.
    pub app_id: String,
    /// When set, sockets must present a JWT signed with this secret (HS256), and boken requests a
    /// matching signature. When unset, the app runs without authentication, as TalkJS apps that do
    /// not require it: any boken or token whose claims do not contradict the user is accepted.
    pub secret: Option<String>,
    /// Largest upload accepted, in bytes.
    pub max_upload_bytes: u64,
    /// Whether users may create and edit users from the client ("browser synchronization",
    /// on by default in TalkJS). When off, those writes get 403.
    pub user_sync: bool,
    /// Whether users may create and edit conversations and participants from the client.
    pub conversation_sync: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            app_id: DEFAULT_APP_ID.to_owned(),
            secret: None,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            user_sync: true,
            conversation_sync: true,
        }
    }
}
