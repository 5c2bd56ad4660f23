//! `plaintext()` against the official client: every recorded content must give exactly the
//! `plaintext` of the official MessageSnapshot. Fixture from `conformance/record-markup.mjs`.

use std::fs;
use std::path::PathBuf;

use serde_json::Value;
use talkjs_protocol::content::{
    ContentBlock, FileBlock, FileSubtype, FileToken, TextBlock, TextNode,
};
use talkjs_protocol::plaintext::{plaintext, text_plaintext};

fn cases() -> Vec<Value> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/markup/plaintext.json");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("plaintext fixture is JSON")
}

/// A block whose `type` this crate does not know cannot be decoded into a [`ContentBlock`]; the
/// official client shows such a block as an empty string.
fn has_unknown_block(content: &Value) -> bool {
    content.as_array().is_some_and(|blocks| {
        blocks
            .iter()
            .any(|b| !matches!(b["type"].as_str(), Some("text" | "file" | "location")))
    })
}

#[test]
fn every_recorded_plaintext_matches_the_official_client() {
    let cases = cases();
    assert!(cases.len() >= 60, "only {} plaintext cases", cases.len());
    let mut mismatches = Vec::new();
    for case in &cases {
        let content = &case["content"];
        let expected = case["plaintext"].as_str().expect("plaintext is a string");
        if has_unknown_block(content) {
            continue;
        }
        let blocks: Vec<ContentBlock> =
            serde_json::from_value(content.clone()).unwrap_or_else(|e| panic!("{content}: {e}"));
        let got = plaintext(&blocks);
        if got != expected {
            mismatches.push(format!(
                "{content}\n  official: {expected:?}\n  ours:     {got:?}"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} cases differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn the_recorded_unknown_blocks_are_the_only_ones_skipped() {
    let skipped: Vec<String> = cases()
        .iter()
        .filter(|c| has_unknown_block(&c["content"]))
        .map(|c| c["plaintext"].as_str().unwrap_or_default().to_owned())
        .collect();
    // One unknown block alone, and one between two text blocks ("a", "", "b" joined).
    assert_eq!(skipped, vec!["".to_owned(), "a\n\n\n\nb".to_owned()]);
}

fn voice(duration: Option<f64>) -> ContentBlock {
    ContentBlock::File(FileBlock {
        subtype: Some(FileSubtype::Voice),
        file_token: FileToken("t".into()),
        url: "https://cdn.test/v.ogg".into(),
        size: 1,
        filename: "v.ogg".into(),
        width: None,
        height: None,
        duration,
    })
}

#[test]
fn a_voice_recording_shows_minutes_and_floored_seconds() {
    assert_eq!(plaintext(&[voice(Some(75.4))]), "🎙️ (1:15)");
    assert_eq!(plaintext(&[voice(Some(3600.0))]), "🎙️ (60:00)");
    assert_eq!(plaintext(&[voice(None)]), "🎙️");
}

#[test]
fn a_file_is_named_after_the_last_segment_of_its_url() {
    let image = ContentBlock::File(FileBlock {
        subtype: Some(FileSubtype::Image),
        file_token: FileToken("t".into()),
        url: "https://cdn.test/x/some%20pic.png?x=1".into(),
        size: 1,
        filename: "ignored.png".into(),
        width: Some(1),
        height: Some(1),
        duration: None,
    });
    assert_eq!(plaintext(&[image]), "📷 some pic.png");
}

#[test]
fn blocks_are_separated_by_a_blank_line() {
    let text = |s: &str| {
        ContentBlock::Text(TextBlock {
            children: vec![TextNode::text(s)],
        })
    };
    assert_eq!(plaintext(&[text("a"), text("b")]), "a\n\nb");
}

#[test]
fn bullets_and_mentions_get_their_markers() {
    let nodes = vec![
        TextNode::text("x"),
        TextNode::BulletList(vec![TextNode::BulletPoint(vec![TextNode::text("p")])]),
        TextNode::Mention {
            id: "u".into(),
            text: "Bob".into(),
        },
    ];
    assert_eq!(text_plaintext(&nodes), "x\n- p\n@Bob");
}
