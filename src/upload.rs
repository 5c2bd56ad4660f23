//! Uploading files: validated over the realtime connection first, then sent as multipart HTTP,
//! as the official client does (docs/protocol.md §1.6). The returned [`FileToken`] goes into a
//! message with [`crate::ConversationRef::send`].

use std::sync::Arc;

use talkjs_actors::session::HttpToken;
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

    let boundary = format!("talkjs-rs-{:016x}", talkjs_actors::random::u64());
    let body = multipart(&boundary, &data, meta);
    let url = format!("{}/{}/files", session.urls().rest, session.app_id());
    let mut refreshed = false;
    let mut retried_5xx = false;
    loop {
        let token = session
            .actor()
            .send(HttpToken { refresh: refreshed })
            .await
            .map_err(|_| {
                Error::new(
                    op.clone(),
                    ErrorKind::SessionTerminated("the session stopped".into()),
                )
            })??;
        let client = talkjs_actors::http::client(UPLOAD_TIMEOUT);
        let sent = client
            .post(&url)
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header((
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            ))
            .send_body(body.clone())
            .await;
        let mut resp = match sent {
            Ok(r) => r,
            Err(e) if !retried_5xx => {
                retried_5xx = true;
                tracing::debug!(error = %e, "upload failed; retrying once");
                continue;
            }
            Err(e) => return Err(Error::new(op, ErrorKind::Transport(e.to_string()))),
        };
        let status = resp.status().as_u16();
        match status {
            200..=299 => {
                // Decoded whatever the content type says, as the official client does.
                let bytes = resp.body().await.map_err(|e| {
                    Error::new(
                        op.clone(),
                        ErrorKind::Transport(format!("upload answer not read: {e}")),
                    )
                })?;
                let r: UploadResponse = serde_json::from_slice(&bytes).map_err(|e| {
                    Error::new(
                        op.clone(),
                        ErrorKind::Transport(format!("unreadable upload answer: {e}")),
                    )
                })?;
                return Ok(r.file_token);
            }
            401 if !refreshed => refreshed = true,
            500..=599 if !retried_5xx => retried_5xx = true,
            _ => {
                let bytes = resp.body().await.unwrap_or_default();
                let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                    talkjs_protocol::ErrorBody::new(
                        "",
                        String::from_utf8_lossy(&bytes).into_owned(),
                    )
                });
                return Err(Error::from_status(op, status, body));
            }
        }
    }
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
