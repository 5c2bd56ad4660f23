//! The markup parser against the official client: every recorded input must give exactly the
//! children the official client sent, plus readable examples of each rule and property checks on
//! generated input.
//!
//! The fixtures come from `conformance/record-markup.mjs` (see there for how they are made).

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use serde_json::Value;
use talkjs_protocol::content::{SentContent, Spelling, TextNode};
use talkjs_protocol::markup::{Profile, parse, parse_edit, parse_send};
use talkjs_protocol::plaintext::text_plaintext;

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/markup")
        .join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&replace_lone_surrogates(&text))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The official client works on UTF-16 and can cut an emoji in two (a host name may start at its
/// second half), leaving `\udXXX` escapes without their pair in the recorded JSON. A Rust string
/// cannot hold half a character; the parser writes U+FFFD there, and so does this loader.
fn replace_lone_surrogates(json: &str) -> String {
    let surrogate_at = |s: &str| -> Option<u16> {
        let hex = s.strip_prefix("\\u")?.get(..4)?;
        u16::from_str_radix(hex, 16)
            .ok()
            .filter(|u| (0xD800..=0xDFFF).contains(u))
    };
    let mut out = String::with_capacity(json.len());
    let mut rest = json;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        match surrogate_at(rest) {
            Some(high @ 0xD800..=0xDBFF)
                if surrogate_at(&rest[6..]).is_some_and(|low| low >= 0xDC00) =>
            {
                let _ = high;
                out.push_str(&rest[..12]);
                rest = &rest[12..];
            }
            Some(_) => {
                out.push_str("\\ufffd");
                rest = &rest[6..];
            }
            None => {
                // Any other escape: copy the backslash and the escaped character.
                let len = rest[1..].chars().next().map_or(1, |c| 1 + c.len_utf8());
                out.push_str(&rest[..len]);
                rest = &rest[len..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// What the official client would have put on the wire for these nodes.
fn sent(nodes: &[TextNode]) -> Value {
    serde_json::to_value(SentContent(nodes, Spelling::Sent)).expect("nodes serialise")
}

fn t(s: &str) -> TextNode {
    TextNode::text(s)
}

fn bold(children: Vec<TextNode>) -> TextNode {
    TextNode::Bold(children)
}

fn italic(children: Vec<TextNode>) -> TextNode {
    TextNode::Italic(children)
}

fn autolink(url: &str, text: &str) -> TextNode {
    TextNode::AutoLink {
        url: url.into(),
        text: text.into(),
    }
}

fn point(text: &str) -> TextNode {
    TextNode::BulletPoint(vec![t(text)])
}

// ---------------------------------------------------------------------------------------------
// Recorded fixtures

/// Inputs that make the official client throw instead of sending; the Rust parser cannot fail and
/// keeps the undecodable mention id as written.
const THROWING_INPUTS: [&str; 1] = ["<!!mention:bad%zz|Name>"];

fn check_recorded(file: &str, profile: Profile) {
    let cases = fixture(file);
    let cases = cases.as_array().expect("an array of cases");
    let mut mismatches = Vec::new();
    let mut errors = 0;
    for case in cases {
        let input = case["input"].as_str().expect("input is a string");
        let ours = parse(input, profile);
        match case.get("children") {
            Some(children) => {
                let got = sent(&ours);
                if &got != children {
                    mismatches.push(format!(
                        "input {input:?}\n  official: {children}\n  ours:     {got}"
                    ));
                }
            }
            None => {
                errors += 1;
                assert!(
                    THROWING_INPUTS.contains(&input),
                    "official client threw on an unexpected input {input:?}: {}",
                    case["error"]
                );
            }
        }
    }
    assert!(cases.len() > 1000, "{file} has only {} cases", cases.len());
    assert_eq!(errors, THROWING_INPUTS.len());
    assert!(
        mismatches.is_empty(),
        "{} of {} {file} cases differ from the official client:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_recorded_send_matches_the_official_client() {
    check_recorded("send.json", Profile::Send);
}

#[test]
fn every_recorded_edit_matches_the_official_client() {
    check_recorded("edit.json", Profile::Edit);
}

#[test]
fn a_mention_id_the_official_client_cannot_decode_is_kept_as_written() {
    assert_eq!(
        parse("<!!mention:bad%zz|Name>", Profile::Send),
        vec![TextNode::Mention {
            id: "bad%zz".into(),
            text: "Name".into()
        }]
    );
}

/// Whether a line of a sweep, given the nodes parsed from it, counts as a hit.
type LineCheck = dyn Fn(&[TextNode], &str) -> bool;

/// Mirrors the recorder: lines of one template per code unit, sent in chunks.
const SWEEP_CHUNK_LINES: usize = 4096;

fn sweep_hits(template: &str, subjects: &[String], hit: &LineCheck) -> Vec<bool> {
    let lines: Vec<String> = subjects
        .iter()
        .map(|s| template.replace("{c}", s).replace("{tld}", s))
        .collect();
    let mut hits = Vec::with_capacity(lines.len());
    for chunk in lines.chunks(SWEEP_CHUNK_LINES) {
        let text = chunk.join("\n") + "\n";
        let nodes = parse(&text, Profile::Send);
        let mut per_line: Vec<Vec<TextNode>> = vec![Vec::new(); chunk.len()];
        let mut line = 0;
        for node in nodes {
            match node {
                TextNode::Text(s) => line += s.matches('\n').count(),
                other if line < chunk.len() => per_line[line].push(other),
                _ => {}
            }
        }
        hits.extend(
            per_line
                .iter()
                .zip(chunk)
                .map(|(nodes, line)| hit(nodes, line)),
        );
    }
    hits
}

fn ranges(units: impl Iterator<Item = u32>) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for u in units {
        match out.last_mut() {
            Some(last) if last.1 + 1 == u => last.1 = u,
            _ => out.push((u, u)),
        }
    }
    out
}

#[test]
fn character_classes_match_the_official_sweeps() {
    let sweeps = fixture("sweeps.json");
    let units: Vec<u32> = (0..0x1_0000u32)
        .filter(|&u| u != 0x0A && !(0xD800..=0xDFFF).contains(&u))
        .collect();
    let subjects: Vec<String> = units
        .iter()
        .map(|&u| char::from_u32(u).expect("not a surrogate").to_string())
        .collect();
    let has =
        |pred: fn(&TextNode) -> bool| move |nodes: &[TextNode], _: &str| nodes.iter().any(pred);
    let checks: [(&str, Box<LineCheck>); 6] = [
        (
            "emphasisPrefix",
            Box::new(has(|n| matches!(n, TextNode::Italic(_)))),
        ),
        (
            "emphasisSuffix",
            Box::new(has(|n| matches!(n, TextNode::Italic(_)))),
        ),
        (
            "emphasisContent",
            Box::new(has(|n| matches!(n, TextNode::Italic(_)))),
        ),
        (
            "autolinkLabel",
            Box::new(|nodes: &[TextNode], line: &str| {
                nodes
                    .iter()
                    .any(|n| matches!(n, TextNode::AutoLink { text, .. } if text == line))
            }),
        ),
        (
            "phonePrefix",
            Box::new(has(
                |n| matches!(n, TextNode::AutoLink { url, .. } if url.starts_with("tel:")),
            )),
        ),
        (
            "phoneSuffix",
            Box::new(has(
                |n| matches!(n, TextNode::AutoLink { url, .. } if url.starts_with("tel:")),
            )),
        ),
    ];
    for (name, hit) in checks {
        let sweep = &sweeps[name];
        let template = sweep["template"].as_str().expect("template");
        let expected: Vec<(u32, u32)> =
            serde_json::from_value(sweep["members"].clone()).expect("ranges");
        let hits = sweep_hits(template, &subjects, &*hit);
        let ours = ranges(
            units
                .iter()
                .zip(&hits)
                .filter(|(_, hit)| **hit)
                .map(|(u, _)| *u),
        );
        assert_eq!(ours, expected, "sweep {name} ({template}) differs");
    }
}

#[test]
fn known_top_level_domains_match_the_official_sweep() {
    let sweep = &fixture("sweeps.json")["tlds"];
    let members: Vec<String> = serde_json::from_value(sweep["members"].clone()).expect("members");
    let rejected: Vec<String> =
        serde_json::from_value(sweep["rejected"].clone()).expect("rejected");
    let template = sweep["template"].as_str().expect("template");
    for (list, linked) in [(&members, true), (&rejected, false)] {
        let hits = sweep_hits(template, list, &|nodes, line| {
            nodes
                .iter()
                .any(|n| matches!(n, TextNode::AutoLink { text, .. } if text == line))
        });
        let wrong: Vec<&String> = list
            .iter()
            .zip(hits)
            .filter(|(_, hit)| *hit != linked)
            .map(|(tld, _)| tld)
            .collect();
        assert!(
            wrong.is_empty(),
            "TLDs linked={linked} expected but not: {wrong:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Readable examples of each rule

#[test]
fn plain_text_stays_one_string() {
    assert_eq!(parse("plain text", Profile::Send), vec![t("plain text")]);
    assert_eq!(parse("", Profile::Send), vec![]);
}

#[test]
fn stars_underscores_and_tildes_make_bold_italic_and_strikethrough() {
    assert_eq!(
        parse("*bold* _italic_ ~strike~", Profile::Send),
        vec![
            bold(vec![t("bold")]),
            t(" "),
            italic(vec![t("italic")]),
            t(" "),
            TextNode::Strikethrough(vec![t("strike")]),
        ]
    );
}

#[test]
fn styles_nest_inside_each_other() {
    assert_eq!(
        parse("*_bold italic_*", Profile::Send),
        vec![bold(vec![italic(vec![t("bold italic")])])]
    );
    assert_eq!(
        parse("_a *b* c_", Profile::Send),
        vec![italic(vec![t("a "), bold(vec![t("b")]), t(" c")])]
    );
}

#[test]
fn markers_inside_words_or_next_to_spaces_do_nothing() {
    for input in [
        "a*b*c snake_case_word 2*3*4",
        "*bold with space *",
        "*bold across\nlines*",
    ] {
        assert_eq!(parse(input, Profile::Send), vec![t(input)], "{input:?}");
    }
}

#[test]
fn the_boundary_before_an_opening_marker_becomes_a_space() {
    assert_eq!(
        parse("(*paren bold*)", Profile::Send),
        vec![t(" "), bold(vec![t("paren bold")]), t(")")]
    );
    assert_eq!(
        parse("**double**", Profile::Send),
        vec![t(" "), bold(vec![t("double")]), t("*")]
    );
}

#[test]
fn the_longest_emphasis_run_is_tried_first() {
    assert_eq!(
        parse("*a* *b*", Profile::Send),
        vec![bold(vec![t("a* *b")])]
    );
}

#[test]
fn dash_star_and_plus_lines_become_a_bullet_list() {
    assert_eq!(
        parse("intro\n* star item\n+ plus item\nafter", Profile::Send),
        vec![
            t("intro"),
            TextNode::BulletList(vec![point("star item"), point("plus item")]),
            t("after"),
        ]
    );
    assert_eq!(
        parse("-not a bullet", Profile::Send),
        vec![t("-not a bullet")]
    );
}

#[test]
fn an_item_after_a_carriage_return_is_a_bullet_point_without_a_list() {
    assert_eq!(parse("x\r- a", Profile::Send), vec![t("x\r"), point("a")]);
}

#[test]
fn triple_backticks_make_a_code_span_that_keeps_markup_as_text() {
    assert_eq!(
        parse("```code *not bold* https://x.com```", Profile::Send),
        vec![TextNode::CodeSpan("code *not bold* https://x.com".into())]
    );
    assert_eq!(
        parse(
            "```hi <!!mention:u1|Ann> <!!customemoji:cat>```",
            Profile::Send
        ),
        vec![TextNode::CodeSpan("hi @Ann cat".into())]
    );
    assert_eq!(parse("`single`", Profile::Send), vec![t("`single`")]);
}

#[test]
fn mention_markup_becomes_a_mention_with_a_decoded_id() {
    assert_eq!(
        parse("hi <!!mention:user%2F1|Ann Lee>", Profile::Send),
        vec![
            t("hi "),
            TextNode::Mention {
                id: "user/1".into(),
                text: "Ann Lee".into()
            }
        ]
    );
    assert_eq!(
        parse("*<!!mention:bob|Bob>*", Profile::Send),
        vec![
            t("*"),
            TextNode::Mention {
                id: "bob".into(),
                text: "Bob".into()
            },
            t("*")
        ]
    );
}

#[test]
fn custom_emoji_markup_becomes_a_custom_emoji() {
    assert_eq!(
        parse("<!!customemoji:party>", Profile::Send),
        vec![TextNode::CustomEmoji("party".into())]
    );
}

#[test]
fn urls_and_email_addresses_become_autolinks_without_trailing_punctuation() {
    assert_eq!(
        parse(
            "visit www.example.com or https://example.com/path?q=1#f.",
            Profile::Send
        ),
        vec![
            t("visit "),
            autolink("http://www.example.com", "www.example.com"),
            t(" or "),
            autolink(
                "https://example.com/path?q=1#f",
                "https://example.com/path?q=1#f"
            ),
            t("."),
        ]
    );
    assert_eq!(
        parse("mail me@example.org now", Profile::Send),
        vec![
            t("mail "),
            autolink("mailto:me@example.org", "me@example.org"),
            t(" now")
        ]
    );
    assert_eq!(parse("foo.local", Profile::Send), vec![t("foo.local")]);
}

#[test]
fn text_inside_html_anchor_tags_is_not_linked() {
    assert_eq!(
        parse("<a>x.com</a> y.com", Profile::Send),
        vec![t("<a>x.com</a> "), autolink("http://y.com", "y.com")]
    );
}

#[test]
fn phone_numbers_become_tel_links_except_year_and_time_ranges() {
    assert_eq!(
        parse("call +1 (555) 123-4567 or 0612345678", Profile::Send),
        vec![
            t("call +1 (555) "),
            autolink("tel:1234567", "123-4567"),
            t(" or "),
            autolink("tel:0612345678", "0612345678"),
        ]
    );
    assert_eq!(
        parse(
            "years 2020-2021 and 1999-1990 time 10.30-11.45",
            Profile::Send
        ),
        vec![
            t("years 2020-2021 and "),
            autolink("tel:19991990", "1999-1990"),
            t(" time 10.30-11.45"),
        ]
    );
}

#[test]
fn formatted_links_are_parsed_on_edit_but_not_on_send() {
    let input = "<https://a.com|label> and <mailto:x@y.z|mail>";
    assert_eq!(
        parse_edit(input).children,
        vec![
            TextNode::Link {
                url: "https://a.com".into(),
                children: vec![t("label")]
            },
            t(" and "),
            TextNode::Link {
                url: "mailto:x@y.z".into(),
                children: vec![t("mail")]
            },
        ]
    );
    assert_eq!(
        parse_send(input).children,
        vec![
            t("<"),
            autolink("https://a.com", "https://a.com"),
            t("|label> and <mailto:x@y.z|mail>")
        ]
    );
}

#[test]
fn urls_in_a_link_label_stay_text() {
    assert_eq!(
        parse("<https://a.com|see https://b.com>", Profile::Edit),
        vec![TextNode::Link {
            url: "https://a.com".into(),
            children: vec![t("see https://b.com")]
        }]
    );
}

#[test]
fn action_links_and_buttons_carry_their_decoded_parameters() {
    let params = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        parse(
            "<actionlink:doThing?a=1&b=x+y%2F|Click> <actionbutton:btn|Press>",
            Profile::Edit
        ),
        vec![
            TextNode::ActionLink {
                action: "doThing".into(),
                params: params(&[("a", "1"), ("b", "x y/")]),
                children: vec![t("Click")]
            },
            t(" "),
            TextNode::ActionButton {
                action: "btn".into(),
                params: params(&[]),
                children: vec![t("Press")]
            },
        ]
    );
    let input = "<actionlink:doThing?a=1|Click>";
    assert_eq!(parse(input, Profile::Send), vec![t(input)]);
}

#[test]
fn parsed_output_uses_the_lower_case_type_names_the_official_client_sends() {
    let json = serde_json::to_string(&SentContent(
        &parse("- ```x```", Profile::Send)[..],
        Spelling::Sent,
    ))
    .unwrap();
    assert_eq!(
        json,
        r#"[{"type":"bulletlist","children":[{"type":"bulletpoint","children":[{"type":"codespan","text":"x"}]}]}]"#
    );
}

// ---------------------------------------------------------------------------------------------
// Properties over generated input

/// xorshift64*: a tiny deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const FRAGMENTS: &[&str] = &[
    "*",
    "_",
    "~",
    " ",
    " ",
    "\n",
    "\r",
    "\r\n",
    "\u{2028}",
    "- ",
    "* ",
    "+ ",
    "  - ",
    "```",
    "`",
    "a",
    "bc",
    "Word",
    "x.com",
    "www.y.org",
    "me@x.com",
    "https://q.io/p?x=(1)",
    "http://a.b/c:d",
    "(",
    ")",
    "[",
    "]",
    ".",
    ",",
    "!",
    "?",
    ":",
    "/",
    "#",
    "@",
    "|",
    ">",
    "<",
    "'",
    "\"",
    "\t",
    "\u{a0}",
    "é",
    "😀",
    "👍🏽",
    "日本",
    "\u{301}",
    "0612345678",
    "+31 6 1234 5678",
    "2020-2021",
    "10.30-11.45",
    "123-4567",
    "1.2.3.4",
    "<!!mention:u%2F1|Ann>",
    "<!!mention:%zz|Bad>",
    "<!!customemoji:cat>",
    "<https://a.com|lbl>",
    "<actionlink:do?a=1&b=%20|go>",
    "<b>",
    "</a>",
    "<a>",
    "<!--",
    "-->",
    "&nbsp;",
    "&lt;",
    "%20",
    "=",
    "::",
    "//",
];

fn generated(rng: &mut Rng, fragments: &[&str]) -> String {
    let n = 1 + rng.below(16);
    (0..n)
        .map(|_| fragments[rng.below(fragments.len())])
        .collect()
}

/// Arbitrary characters, including ones no fragment has.
fn arbitrary(rng: &mut Rng) -> String {
    let n = rng.below(24);
    (0..n)
        .map(|_| {
            let c = match rng.below(4) {
                0 => rng.below(0x80) as u32,
                1 => rng.below(0x3000) as u32,
                2 => rng.below(0x11_0000) as u32,
                _ => b"*_~`<>|-+!:/.@#()\n\r "[rng.below(20)] as u32,
            };
            char::from_u32(c).unwrap_or('\u{FFFD}')
        })
        .collect()
}

const GENERATED_CASES: usize = 3000;

fn for_generated(mut check: impl FnMut(&str)) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..GENERATED_CASES {
        let input = if i % 3 == 0 {
            arbitrary(&mut rng)
        } else {
            generated(&mut rng, FRAGMENTS)
        };
        check(&input);
    }
}

fn walk(nodes: &[TextNode], f: &mut dyn FnMut(&TextNode, &[TextNode])) {
    for node in nodes {
        f(node, nodes);
        if let Some(children) = node.children() {
            walk(children, f);
        }
    }
}

#[test]
fn parsing_never_panics_and_leaves_no_empty_or_adjacent_strings() {
    for_generated(|input| {
        for profile in [Profile::Send, Profile::Edit] {
            let nodes = parse(input, profile);
            let mut previous_was_text = false;
            walk(&nodes, &mut |node, _| {
                if let TextNode::Text(s) = node {
                    assert!(!s.is_empty(), "empty string in {input:?}");
                }
            });
            for node in &nodes {
                let is_text = matches!(node, TextNode::Text(_));
                assert!(
                    !(is_text && previous_was_text),
                    "adjacent strings in {input:?}"
                );
                previous_was_text = is_text;
            }
        }
    });
}

#[test]
fn parsed_content_survives_a_json_round_trip_in_both_spellings() {
    for_generated(|input| {
        let nodes = parse(input, Profile::Edit);
        for spelling in [Spelling::Sent, Spelling::Received] {
            let json = serde_json::to_value(SentContent(&nodes[..], spelling)).unwrap();
            let back: Vec<TextNode> = serde_json::from_value(json).unwrap();
            assert_eq!(back, nodes, "{input:?} in {spelling:?}");
        }
    });
}

/// Without tokens whose markup is dropped (mention ids, link URLs, action names), parsing only
/// removes markers and boundary characters: every letter and digit of the input is still in the
/// plaintext, in order. Only URLs overlapping each other (which needs a `:`) repeat text, so
/// without `:` nothing is added either.
#[test]
fn plaintext_of_parsed_text_keeps_every_letter_and_digit_in_order() {
    let fragments: Vec<&str> = FRAGMENTS
        .iter()
        .copied()
        .filter(|f| !f.starts_with("<!!") && !f.starts_with("<http") && !f.starts_with("<action"))
        .collect();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for _ in 0..GENERATED_CASES {
        let input = generated(&mut rng, &fragments);
        let wanted: Vec<char> = input.chars().filter(|c| c.is_alphanumeric()).collect();
        for profile in [Profile::Send, Profile::Edit] {
            let plain = text_plaintext(&parse(&input, profile));
            let got: Vec<char> = plain.chars().filter(|c| c.is_alphanumeric()).collect();
            let mut rest = got.iter();
            assert!(
                wanted.iter().all(|c| rest.any(|g| g == c)),
                "{input:?} lost letters: {plain:?}"
            );
            if !input.contains(':') {
                assert_eq!(got, wanted, "{input:?} gained letters: {plain:?}");
            }
        }
    }
}
