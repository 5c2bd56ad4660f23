//! Uploaded files are private: named by random tokens, and attachable only by their uploader.
//!
//! A file token is 128 random bits (from the operating system, via `getrandom`), so the token,
//! and the download URL that carries it, cannot be guessed; the URL is the capability to read the
//! file, as TalkJS's own file URLs are (docs/protocol.md §12.10). Only the user who uploaded a file
//! may put its token in a message: another user who learnt the token (from a message they can
//! see) cannot re-send it where its uploader did not.

use talkjs_protocol::content::FileBlock;

use super::{ApiError, ApiResult, World};
use crate::store::FileRecord;

/// Random bytes in a file token: 128 bits, the strength of a random UUID.
const FILE_TOKEN_BYTES: usize = 16;
/// Prefix of every file token, so a token is recognisable in logs.
const FILE_TOKEN_PREFIX: &str = "file_";

/// Error code: a file token that no upload of this user returned.
pub const INVALID_FILE_TOKEN: &str = "INVALID_FILE_TOKEN";

/// A fresh unguessable file token.
pub(crate) fn random_file_token() -> ApiResult<String> {
    let mut bytes = [0u8; FILE_TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| {
        ApiError::new(
            500,
            talkjs_protocol::error::codes::INTERNAL_ERROR,
            format!("no randomness for a file token: {e}"),
        )
    })?;
    let mut token = String::with_capacity(FILE_TOKEN_PREFIX.len() + 2 * FILE_TOKEN_BYTES);
    token.push_str(FILE_TOKEN_PREFIX);
    for b in bytes {
        token.push_str(&format!("{b:02x}"));
    }
    Ok(token)
}

impl World {
    /// The block for a file `sender` attaches to a message: refused, in the same words as an
    /// unknown token (so the answer tells nothing about other users' files), unless `sender`
    /// uploaded it.
    pub(crate) fn own_file_block(&self, sender: &str, token: &str) -> ApiResult<FileBlock> {
        match self.store.file(token) {
            Some(file) if file.uploader == sender => Ok(self.file_block(file)),
            _ => Err(ApiError::new(
                400,
                INVALID_FILE_TOKEN,
                format!("no file uploaded by {sender} has token {token}"),
            )),
        }
    }

    /// Registers a file `uploader` uploaded, under a fresh random token, and returns the token.
    pub fn add_file(&mut self, mut file: FileRecord) -> ApiResult<String> {
        let token = random_file_token()?;
        file.token = token.clone();
        self.store.put_file(file);
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_128_random_bits_in_hex() {
        let a = random_file_token().unwrap();
        let b = random_file_token().unwrap();
        assert_ne!(a, b);
        let hex = a.strip_prefix(FILE_TOKEN_PREFIX).unwrap();
        assert_eq!(hex.len(), 32);
        assert!(hex.bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
