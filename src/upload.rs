//! Uploading files: validated over the realtime connection first, then sent as multipart HTTP,
//! as the official client does (docs/protocol.md §1.6). The returned [`FileToken`] goes into a
//! message with [`crate::ConversationRef::send`].

use std::sync::Arc;

use talkjs_protocol::content::FileToken;
use talkjs_protocol::params::{
    AudioFileMetadata, FileMetadata, GenericFileMetadata, ImageFileMetadata, VideoFileMetadata,
    VoiceRecordingFileMetadata,
};
use talkjs_protocol::path::Route;
use talkjs_protocol::request::{UploadResponse, ValidateFileRequest};

use crate::session::TalkSession;
use crate::{Error, ErrorKind, Result};

/// How long one upload request may take.
const UPLOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

impl TalkSession {
    /// Uploads a generic file.
    pub async fn upload_file(
        &self,
        data: impl Into<Vec<u8>>,
        metadata: GenericFileMetadata,
    ) -> Result<FileToken> {
        upload(self, data.into(), &metadata).await
    }

    /// Uploads a picture (with optional width and height).
    pub async fn upload_image(
        &self,
        data: impl Into<Vec<u8>>,
        metadata: ImageFileMetadata,
    ) -> Result<FileToken> {
        upload(self, data.into(), &metadata).await
    }

    /// Uploads a video (with optional width, height and duration).
    pub async fn upload_video(
        &self,
        data: impl Into<Vec<u8>>,
        metadata: VideoFileMetadata,
    ) -> Result<FileToken> {
        upload(self, data.into(), &metadata).await
    }

    /// Uploads an audio file (with optional duration).
    pub async fn upload_audio(
        &self,
        data: impl Into<Vec<u8>>,
        metadata: AudioFileMetadata,
    ) -> Result<FileToken> {
        upload(self, data.into(), &metadata).await
    }

    /// Uploads a voice recording (with optional duration).
    pub async fn upload_voice(
        &self,
        data: impl Into<Vec<u8>>,
        metadata: VoiceRecordingFileMetadata,
    ) -> Result<FileToken> {
        upload(self, data.into(), &metadata).await
    }
}

async fn upload(
    session: &TalkSession,
    data: Vec<u8>,
    meta: &impl FileMetadata,
) -> Result<FileToken> {
    let op: Arc<str> = "Upload file".into();
    if meta.filename().is_empty() {
        return Err(Error::invalid(op, "filename must not be empty"));
    }
    let validate = ValidateFileRequest {
        filename: meta.filename().to_owned(),
        filesize: data.len() as u64,
    };
    session
        .call_unit(op.clone(), &Route::ValidateFile, &validate)
        .await?;

    let boundary = format!("talkjs-rs-{:016x}", talkjs_actors::random_u64());
    let request = AuthorizedRequest {
        method: awc::http::Method::POST,
        url: format!("{}/{}/files", session.urls().rest, session.app_id()),
        content_type: format!("multipart/form-data; boundary={boundary}"),
        body: Some(multipart(&boundary, &data, meta)),
        timeout: UPLOAD_TIMEOUT,
        body_limit: UPLOAD_ANSWER_LIMIT,
    };
    // Decoded whatever the content type says, as the official client does.
    let bytes = send_authorized(session, &op, request).await?;
    let r: UploadResponse =
        serde_json::from_slice(&bytes).map_err(|e| Error::unreadable(op.clone(), e))?;
    Ok(r.file_token)
}

/// The largest upload answer read (awc's default; the answer is a small JSON object).
const UPLOAD_ANSWER_LIMIT: usize = 2 * 1024 * 1024;

/// An HTTP request to TalkJS that carries the session's token as `Authorization: Bearer`
/// (uploads, search).
pub(crate) struct AuthorizedRequest {
    /// The method.
    pub(crate) method: awc::http::Method,
    /// The full URL.
    pub(crate) url: String,
    /// The `Content-Type` header (the official client sends `application/json` even on GET).
    pub(crate) content_type: String,
    /// The body, sent again on each try; `None` for none.
    pub(crate) body: Option<Vec<u8>>,
    /// How long one try may take, answer included.
    pub(crate) timeout: std::time::Duration,
    /// The largest answer body read.
    pub(crate) body_limit: usize,
}

/// The pause before the one retry after a 5xx or a network failure: 0.2 s × 1.2 with ±5 %
/// jitter, as the official client's HTTP helper waits (docs/protocol.md §1.3).
fn retry_delay() -> std::time::Duration {
    std::time::Duration::from_secs_f64(0.24 * (0.95 + 0.1 * talkjs_actors::random_unit()))
}

/// Sends `request` with the official client's HTTP policy (docs/protocol.md §1.3, §1.6, §1.7) and
/// returns the body of a 2xx answer:
///
/// - the token is the session's current one; a 401 asks the session for a new token (which also
///   renews a live socket) and tries once more;
/// - a 5xx answer or a network failure is tried once more, about 240 ms later;
/// - any other status is an error built from the `{errorCode, reasons}` body (or, when the body
///   is not that JSON, an empty code and the body's text as the reason), attributed to `op`.
pub(crate) async fn send_authorized(
    session: &TalkSession,
    op: &Arc<str>,
    request: AuthorizedRequest,
) -> Result<Vec<u8>> {
    let request = Arc::new(request);
    let mut refreshed = false;
    let mut retried = false;
    loop {
        let token = session
            .handle()
            .http_token(refreshed)
            .await
            .map_err(|e| e.with_operation(op.clone()))?;
        // awc runs on the session's thread: its futures are not `Send`.
        let attempt = request.clone();
        let sent = session
            .handle()
            .run_local(op.clone(), move || send_once(attempt, token))
            .await?;
        let (status, body) = match sent {
            Ok(answer) => answer,
            Err(e) if !retried => {
                retried = true;
                tracing::debug!(error = %e, operation = %op, "HTTP request failed; retrying once");
                pause(session, op, retry_delay()).await?;
                continue;
            }
            Err(e) => return Err(Error::new(op.clone(), ErrorKind::Transport(e))),
        };
        match status {
            200..=299 => {
                return body.map_err(|e| {
                    Error::new(
                        op.clone(),
                        ErrorKind::Transport(format!("answer not read: {e}")),
                    )
                });
            }
            401 if !refreshed => refreshed = true,
            500..=599 if !retried => {
                retried = true;
                tracing::debug!(status, operation = %op, "HTTP request answered 5xx; retrying once");
                pause(session, op, retry_delay()).await?;
            }
            _ => {
                let bytes = body.unwrap_or_default();
                let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                    talkjs_protocol::ErrorBody::new(
                        "",
                        String::from_utf8_lossy(&bytes).into_owned(),
                    )
                });
                return Err(Error::from_status(op.clone(), status, body));
            }
        }
    }
}

/// Waits on the session's thread, so a caller without an async runtime's timer can wait.
async fn pause(session: &TalkSession, op: &Arc<str>, d: std::time::Duration) -> Result<()> {
    session
        .handle()
        .run_local(op.clone(), move || tokio::time::sleep(d))
        .await
}

/// One try of an authorized request: its status and body (or why the body could not be read),
/// or why no answer came.
async fn send_once(
    request: Arc<AuthorizedRequest>,
    token: String,
) -> std::result::Result<(u16, std::result::Result<Vec<u8>, String>), String> {
    let client = talkjs_actors::http_client(request.timeout);
    let builder = client
        .request(request.method.clone(), &request.url)
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("Content-Type", request.content_type.clone()));
    let sent = match &request.body {
        Some(body) => builder.send_body(body.clone()).await,
        None => builder.send().await,
    };
    let mut resp = sent.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp
        .body()
        .limit(request.body_limit)
        .await
        .map(|b| b.to_vec())
        .map_err(|e| e.to_string());
    Ok((status, body))
}

/// The multipart body: the `file` part, then the metadata fields in the official client's order.
fn multipart(boundary: &str, data: &[u8], meta: &impl FileMetadata) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 512);
    let filename = meta
        .filename()
        .replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    out.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {}\r\n\r\n",
            content_type(meta.filename())
        )
        .as_bytes(),
    );
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    for (name, value) in meta.form_fields() {
        out.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

/// A MIME type from a file name's extension; `application/octet-stream` when unknown, as the
/// official client sends for a blob without a type.
fn content_type(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mov" => "video/quicktime",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        "wav" => "audio/wav",
        "m4a" => "audio/mp4",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "json" => "application/json",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}
