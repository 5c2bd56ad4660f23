//! Opaque page cursors.
//!
//! A cursor must carry everything the next page needs, because the official client sends only the
//! cursor (and a limit) after the first page: for conversation lists that includes the filter.
//! Cursors are JSON, hex-encoded so they are safe in any transport and clearly opaque.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{ApiError, ApiResult};

/// Encodes a cursor.
pub(crate) fn encode<T: Serialize>(value: &T) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let json = serde_json::to_vec(value).unwrap_or_default();
    let mut out = String::with_capacity(json.len() * 2);
    for b in json {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 0xF) as usize] as char);
    }
    out
}

/// Decodes a cursor made by [`encode`]; anything else is a 400.
pub(crate) fn decode<T: DeserializeOwned>(cursor: &str) -> ApiResult<T> {
    let bad = || ApiError::bad_request("invalid cursor");
    if !cursor.len().is_multiple_of(2) || !cursor.is_ascii() {
        return Err(bad());
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&cursor[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let c = encode(&(12_i64, "a/b ü".to_string()));
        assert_eq!(
            decode::<(i64, String)>(&c).unwrap(),
            (12, "a/b ü".to_string())
        );
        for bad in ["", "zz", "abc", "null", "7b"] {
            assert!(decode::<(i64, String)>(bad).is_err(), "{bad}");
        }
    }
}
