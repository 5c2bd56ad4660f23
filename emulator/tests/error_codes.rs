//! Every error code the emulator can send is one the runtime knows: each code the emulator
//! declares (a `pub const NAME: &str = "NAME"` in its sources, or a `codes::` constant of the
//! protocol crate) parses into a known `ErrorCode`, not `ErrorCode::Other`.

use std::path::Path;

use talkjs_protocol::error::ErrorCode;

fn sources(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("emulator sources") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(std::fs::read_to_string(&path).expect("readable"));
        }
    }
}

/// `pub const NAME: &str = "NAME";`: how the emulator names an error code of its own.
fn declared_codes(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("pub const ")?;
            let (name, value) = rest.split_once(": &str = \"")?;
            let value = value.strip_suffix("\";")?;
            (name == value).then(|| value.to_owned())
        })
        .collect()
}

#[test]
fn every_code_the_emulator_declares_is_a_known_error_code() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let codes: Vec<String> = files.iter().flat_map(|s| declared_codes(s)).collect();
    assert!(codes.len() >= 9, "found the emulator's codes: {codes:?}");
    for code in &codes {
        assert!(
            !matches!(ErrorCode::from(code.as_str()), ErrorCode::Other(_)),
            "{code} is not a known ErrorCode"
        );
    }
    // The protocol crate's constants are the rest of what the emulator sends.
    for code in ErrorCode::KNOWN {
        assert_eq!(&ErrorCode::from(code.as_str()), code);
    }
}
