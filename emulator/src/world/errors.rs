//! How world operations fail: [`ApiError`] (a status and the `{errorCode, reasons}` body a
//! client reads) for client requests, [`AdminError`] for server-side operations.

use talkjs_protocol::error::{ErrorBody, codes};

/// A request's failure: an HTTP-like status and the error body the client reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {body}")]
pub struct ApiError {
    /// Status (never 200).
    pub status: u16,
    /// `{errorCode, reasons}`.
    pub body: ErrorBody,
}

impl ApiError {
    /// An error with a status, code and one reason.
    pub fn new(status: u16, code: &str, reason: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody::new(code, reason),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(reason: impl Into<String>) -> ApiError {
        ApiError::new(400, codes::BAD_REQUEST, reason)
    }

    /// 401: the token is missing, invalid or expired.
    pub fn unauthorized(reason: impl Into<String>) -> ApiError {
        ApiError::new(401, codes::INVALID_TOKEN, reason)
    }

    /// 403 `NOT_A_PARTICIPANT`.
    pub fn not_a_participant(conversation: &str) -> ApiError {
        ApiError::new(
            403,
            codes::NOT_A_PARTICIPANT,
            format!("you are not a participant of conversation {conversation}"),
        )
    }

    /// 404 `CONVERSATION_NOT_FOUND`.
    pub fn conversation_not_found(conversation: &str) -> ApiError {
        ApiError::new(
            404,
            codes::CONVERSATION_NOT_FOUND,
            format!("conversation {conversation} does not exist"),
        )
    }

    /// 403 with a specific code.
    pub fn forbidden(code: &str, reason: impl Into<String>) -> ApiError {
        ApiError::new(403, code, reason)
    }

    /// 404 with a specific code.
    pub fn not_found(code: &str, reason: impl Into<String>) -> ApiError {
        ApiError::new(404, code, reason)
    }

    /// 409 `ALREADY_EXISTS`.
    pub fn conflict(reason: impl Into<String>) -> ApiError {
        ApiError::new(409, codes::ALREADY_EXISTS, reason)
    }
}

/// The result of a world operation.
pub type ApiResult<T> = Result<T, ApiError>;

/// Why a server-side operation (one a test or TalkJS's REST API performs, with no user behind
/// it, e.g. [`World::clear_conversation`](super::World::clear_conversation)) was refused. Client requests fail with [`ApiError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// No conversation has this id.
    #[error("conversation {0} does not exist")]
    ConversationNotFound(String),
}
