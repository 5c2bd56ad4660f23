//! How an uploaded file is served: never as a page of the emulator's origin.
//!
//! A download URL is the capability to read the file (docs/protocol.md §12.10); what it must not
//! become is a way to run an uploader's HTML or script in the emulator's origin. So every
//! download carries `X-Content-Type-Options: nosniff` (the browser keeps the type given),
//! a `Content-Security-Policy` that sandboxes anything that still renders, and a
//! `Content-Disposition` with the file's name: `inline` for images, audio and video, which a chat
//! shows in place, and `attachment` (save, never render) for everything else. Types that are
//! active documents (HTML, XML, SVG, script) are served as `application/octet-stream`.

use actix_web::HttpResponse;
use actix_web::http::header;

use crate::store::FileRecord;

/// The type active content is served as: bytes, which no browser renders.
const INERT_TYPE: &str = "application/octet-stream";
/// Sandboxes whatever a browser would still render: no scripts, no plugins, no same origin.
const DOWNLOAD_CSP: &str = "default-src 'none'; sandbox";

/// Whether a media type is shown in place by a chat and cannot run script: images except SVG
/// (an XML document that may hold script), audio and video.
fn inline_media(content_type: &str) -> bool {
    let essence = essence(content_type);
    (essence.starts_with("image/") && !essence.contains("svg"))
        || essence.starts_with("audio/")
        || essence.starts_with("video/")
}

/// Whether a media type is a document a browser would run or render as a page.
fn active(content_type: &str) -> bool {
    let essence = essence(content_type);
    ["html", "xml", "svg", "script", "ecmascript", "xsl"]
        .iter()
        .any(|word| essence.contains(word))
}

/// The type without parameters, lower-cased: `Text/HTML; charset=utf-8` is `text/html`.
fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// `filename*=UTF-8''...` (RFC 6266 and RFC 8187): every byte outside the unreserved set
/// percent-encoded, so no name can break out of the header.
fn disposition(kind: &str, filename: &str) -> String {
    let mut out = format!("{kind}; filename*=UTF-8''");
    for b in filename.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The answer to a download of `file`.
pub(crate) fn serve(file: &FileRecord) -> HttpResponse {
    let content_type = if active(&file.content_type) {
        INERT_TYPE
    } else {
        file.content_type.as_str()
    };
    let kind = if inline_media(&file.content_type) {
        "inline"
    } else {
        "attachment"
    };
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, DOWNLOAD_CSP))
        .insert_header((
            header::CONTENT_DISPOSITION,
            disposition(kind, &file.filename),
        ))
        .body(file.bytes.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_types_are_never_served_as_themselves_and_only_media_is_inline() {
        for t in [
            "text/html",
            "Text/HTML; charset=utf-8",
            "application/xhtml+xml",
            "image/svg+xml",
            "text/javascript",
            "application/xml",
        ] {
            assert!(active(t), "{t}");
            assert!(!inline_media(t), "{t}");
        }
        for t in ["image/png", "video/mp4", "audio/ogg; codecs=opus"] {
            assert!(!active(t), "{t}");
            assert!(inline_media(t), "{t}");
        }
        assert!(!inline_media("application/pdf"));
        assert!(!active("application/pdf"));
    }

    #[test]
    fn names_cannot_break_out_of_the_disposition() {
        assert_eq!(
            disposition("attachment", "a \"b\";\r\nc ü.html"),
            "attachment; filename*=UTF-8''a%20%22b%22%3B%0D%0Ac%20%C3%BC.html"
        );
    }
}
