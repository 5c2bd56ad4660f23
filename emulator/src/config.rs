//! The emulator's settings.

use std::time::Duration;

/// Default address the binary listens on.
pub const DEFAULT_BIND: &str = "127.0.0.1:8787";
/// Default app id.
pub const DEFAULT_APP_ID: &str = "demo";
/// Default largest accepted upload: 25 MiB, TalkJS's documented file size limit.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 25 * 1024 * 1024;

/// How long a new socket may take to authenticate: the official client renews as its first
/// request, within milliseconds of opening the socket, so a few seconds leave room for slow
/// machines and debuggers while sockets that never log in cannot pile up.
pub const DEFAULT_LOGIN_DEADLINE: Duration = Duration::from_secs(10);
/// How long a socket whose token expired (or whose renew failed) stays open, receiving nothing,
/// before it is closed: the official client renews on `session.expired`, 30 s before expiry, so
/// this only ends sockets whose owner stopped renewing.
pub const DEFAULT_EXPIRED_GRACE: Duration = Duration::from_secs(30);
/// Most sockets one address may hold open before they authenticate. Local development and the
/// test suites open a handful at once from loopback; 1,003 unauthenticated sockets exhausted a
/// 1,024 file descriptor limit, so the cap stays far below that.
pub const DEFAULT_MAX_PENDING_PER_ADDRESS: usize = 64;
/// Most pushes queued for one socket. The official client acknowledges each push as it reads
/// it; thousands unread means it is not reading.
pub const DEFAULT_MAX_QUEUED_FRAMES: usize = 4096;
/// Most bytes of pushes queued for one socket: eight of the largest frames a client may send
/// (1 MiB, `realtime::MAX_FRAME_BYTES`), so a burst of big edits still fits.
pub const DEFAULT_MAX_QUEUED_BYTES: usize = 8 * 1024 * 1024;

/// How long one webhook delivery attempt may take: TalkJS waits 5 s for an answer.
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);
/// Retries after a failed webhook attempt: TalkJS retries once.
pub const DEFAULT_WEBHOOK_RETRIES: u32 = 1;
/// Wait before the first retry, doubled for each later one. TalkJS retries "shortly after".
pub const DEFAULT_WEBHOOK_BACKOFF: Duration = Duration::from_secs(1);
/// Most webhook events waiting (queued or in flight) for one URL. A dead receiver holds each event
/// for up to (1 + retries) timeouts; at 1,000 a local receiver that stops for minutes loses the
/// newest events, logged as dropped, and the emulator's memory stays bounded.
pub const DEFAULT_WEBHOOK_QUEUE: usize = 1000;
/// Entries kept in the webhook delivery log (`GET /emulator/v1/apps/{appId}/webhooks`).
pub const DEFAULT_WEBHOOK_LOG: usize = 1000;

/// Where and how the emulator posts TalkJS webhook events (docs/protocol.md §12.11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Every event is posted to each of these URLs (`http://` only). None: no webhooks.
    pub urls: Vec<String>,
    /// Retries after a failed attempt (an error, a timeout or a status other than 2xx).
    pub retries: u32,
    /// Wait before the first retry; each later retry waits twice as long as the one before.
    pub backoff: Duration,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// Most events waiting for one URL; more are dropped (the newest) and logged as dropped.
    pub queue: usize,
    /// Entries kept in the delivery log, newest first.
    pub log: usize,
}

impl Default for WebhookConfig {
    fn default() -> WebhookConfig {
        WebhookConfig {
            urls: Vec::new(),
            retries: DEFAULT_WEBHOOK_RETRIES,
            backoff: DEFAULT_WEBHOOK_BACKOFF,
            timeout: DEFAULT_WEBHOOK_TIMEOUT,
            queue: DEFAULT_WEBHOOK_QUEUE,
            log: DEFAULT_WEBHOOK_LOG,
        }
    }
}

/// What one client may cost the emulator: the bounds that keep a hostile or broken client from
/// holding memory, sockets or file descriptors (docs/protocol.md §12.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// A socket that has not authenticated this long after opening is closed.
    pub login_deadline: Duration,
    /// A socket whose token expired, or whose renew failed, gets no pushes and is closed this
    /// long after, unless it renews.
    pub expired_grace: Duration,
    /// Most unauthenticated sockets one IP address may hold; more are refused with 429.
    pub max_pending_per_address: usize,
    /// Most pushes queued for one socket before it is closed as too slow.
    pub max_queued_frames: usize,
    /// Most bytes of pushes queued for one socket before it is closed as too slow.
    pub max_queued_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            login_deadline: DEFAULT_LOGIN_DEADLINE,
            expired_grace: DEFAULT_EXPIRED_GRACE,
            max_pending_per_address: DEFAULT_MAX_PENDING_PER_ADDRESS,
            max_queued_frames: DEFAULT_MAX_QUEUED_FRAMES,
            max_queued_bytes: DEFAULT_MAX_QUEUED_BYTES,
        }
    }
}

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
    /// Per-client bounds.
    pub limits: Limits,
    /// Webhook receivers and delivery settings.
    pub webhooks: WebhookConfig,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            app_id: DEFAULT_APP_ID.to_owned(),
            secret: None,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            user_sync: true,
            conversation_sync: true,
            limits: Limits::default(),
            webhooks: WebhookConfig::default(),
        }
    }
}
