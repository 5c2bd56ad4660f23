//! Conversation filters: the official client's normalisation, byte for byte (docs/protocol.md §5.5
//! table and examples, and the recorded `conversations_list_filters` scenario), and evaluation
//! against conversations.

use talkjs_protocol::filter::{
    ConversationFilter, CustomFieldFilter, NumberFilter, SimpleConversationFilter, StringFilter,
};
use talkjs_protocol::wire::{Access, ConversationWire};

/// Normalises a filter given as JSON and returns the JSON that goes on the wire.
fn normalised(input: &str) -> String {
    let f: ConversationFilter =
        serde_json::from_str(input).unwrap_or_else(|e| panic!("{input}: {e}"));
    serde_json::to_string(&f.normalise()).unwrap()
}

#[track_caller]
fn assert_normalises(input: &str, expected: &str) {
    assert_eq!(normalised(input), expected, "normalising {input}");
}

// --- The table of §5.5, one row per test -------------------------------------------------------

#[test]
fn no_filter_and_empty_filter_are_the_empty_object() {
    assert_normalises("{}", "{}");
    assert_eq!(
        serde_json::to_string(&ConversationFilter::default().normalise()).unwrap(),
        "{}"
    );
}

#[test]
fn an_any_branch_that_matches_everything_makes_everything_match() {
    assert_normalises(r#"["any",[{"isUnread":true},{}]]"#, "{}");
    assert_normalises(
        r#"["any",[{"isUnread":true},{"access":["oneOf",["Read","ReadWrite"]]}]]"#,
        "{}",
    );
}

#[test]
fn keys_are_sorted_recursively_inside_custom() {
    assert_normalises(
        r#"{"subject":["==","s"],"isUnread":false,"custom":{"z":"exists","a":["==","1"]},"access":["==","Read"]}"#,
        r#"{"access":["==","Read"],"custom":{"a":["==","1"],"z":"exists"},"isUnread":false,"subject":["==","s"]}"#,
    );
}

#[test]
fn access_equal_is_unchanged() {
    assert_normalises(
        r#"{"access":["==","ReadWrite"]}"#,
        r#"{"access":["==","ReadWrite"]}"#,
    );
}

#[test]
fn access_not_equal_becomes_the_other_value() {
    assert_normalises(
        r#"{"access":["!=","ReadWrite"]}"#,
        r#"{"access":["==","Read"]}"#,
    );
    assert_normalises(
        r#"{"access":["!oneOf",["Read"]]}"#,
        r#"{"access":["==","ReadWrite"]}"#,
    );
}

#[test]
fn access_one_of_both_values_is_removed() {
    assert_normalises(r#"{"access":["oneOf",["Read","ReadWrite"]]}"#, "{}");
    assert_normalises(
        r#"{"access":["oneOf",["ReadWrite","Read"]],"isUnread":true}"#,
        r#"{"isUnread":true}"#,
    );
}

#[test]
fn access_that_accepts_no_value_matches_nothing() {
    assert_normalises(
        r#"{"access":["!oneOf",["Read","ReadWrite"]]}"#,
        r#"["any",[]]"#,
    );
}

#[test]
fn at_least_becomes_greater_than_one_less() {
    assert_normalises(r#"{"createdAt":[">=",100]}"#, r#"{"createdAt":[">",99]}"#);
}

#[test]
fn at_most_becomes_less_than_one_more() {
    assert_normalises(r#"{"joinedAt":["<=",100]}"#, r#"{"joinedAt":["<",101]}"#);
}

#[test]
fn one_of_one_value_becomes_equal_and_larger_lists_are_deduplicated_and_sorted() {
    assert_normalises(
        r#"{"subject":["oneOf",["s"]]}"#,
        r#"{"subject":["==","s"]}"#,
    );
    assert_normalises(
        r#"{"subject":["oneOf",["s","s"]]}"#,
        r#"{"subject":["==","s"]}"#,
    );
    assert_normalises(
        r#"{"subject":["oneOf",["b","a","b"]]}"#,
        r#"{"subject":["oneOf",["a","b"]]}"#,
    );
    assert_normalises(
        r#"{"subject":["!oneOf",["b","a"]]}"#,
        r#"{"subject":["!oneOf",["a","b"]]}"#,
    );
    assert_normalises(
        r#"{"subject":["!oneOf",["a"]]}"#,
        r#"{"subject":["!=","a"]}"#,
    );
}

#[test]
fn sorting_follows_javascript_null_is_the_string_null_and_strings_compare_by_utf16() {
    assert_normalises(
        r#"{"subject":["oneOf",["zz",null,"a"]]}"#,
        r#"{"subject":["oneOf",["a",null,"zz"]]}"#,
    );
    // U+FF5E sorts after U+1F600 by code point, before it by UTF-16 code unit (0xD83D).
    assert_normalises(
        r#"{"subject":["oneOf",["～","😀"]]}"#,
        r#"{"subject":["oneOf",["😀","～"]]}"#,
    );
}

#[test]
fn one_of_nothing_matches_nothing() {
    assert_normalises(r#"{"subject":["oneOf",[]]}"#, r#"["any",[]]"#);
    assert_normalises(
        r#"{"custom":{"k":["oneOf",[]]},"isUnread":true}"#,
        r#"["any",[]]"#,
    );
}

#[test]
fn not_one_of_nothing_is_removed() {
    assert_normalises(r#"{"subject":["!oneOf",[]]}"#, "{}");
    assert_normalises(r#"{"custom":{"k":["!oneOf",[]]}}"#, "{}");
}

#[test]
fn an_empty_between_matches_nothing() {
    assert_normalises(r#"{"createdAt":["between",[5,5]]}"#, r#"["any",[]]"#);
    assert_normalises(r#"{"createdAt":["between",[5,1]]}"#, r#"["any",[]]"#);
    assert_normalises(
        r#"{"createdAt":["between",[1,5]]}"#,
        r#"{"createdAt":["between",[1,5]]}"#,
    );
}

#[test]
fn an_empty_not_between_is_removed() {
    assert_normalises(r#"{"createdAt":["!between",[5,1]]}"#, "{}");
    assert_normalises(
        r#"{"createdAt":["!between",[1,5]]}"#,
        r#"{"createdAt":["!between",[1,5]]}"#,
    );
}

#[test]
fn exists_and_booleans_are_unchanged() {
    assert_normalises(
        r#"{"custom":{"a":"exists","b":"!exists"},"hasMessages":false,"isUnread":true}"#,
        r#"{"custom":{"a":"exists","b":"!exists"},"hasMessages":false,"isUnread":true}"#,
    );
}

#[test]
fn equality_and_strict_comparisons_are_unchanged() {
    assert_normalises(
        r#"{"custom":{"a":["!=","x"]},"lastActivityAt":["<",7],"subject":["==",null]}"#,
        r#"{"custom":{"a":["!=","x"]},"lastActivityAt":["<",7],"subject":["==",null]}"#,
    );
}

#[test]
fn any_members_are_normalised_deduplicated_and_sorted() {
    assert_normalises(
        r#"["any",[{"subject":["oneOf",["s"]]},{"isUnread":true},{"subject":["==","s"]}]]"#,
        r#"["any",[{"isUnread":true},{"subject":["==","s"]}]]"#,
    );
}

#[test]
fn any_members_that_match_nothing_are_dropped_and_a_single_survivor_stands_alone() {
    assert_normalises(
        r#"["any",[{"subject":["oneOf",[]]},{"isUnread":true}]]"#,
        r#"{"isUnread":true}"#,
    );
    assert_normalises(r#"["any",[{"isUnread":true}]]"#, r#"{"isUnread":true}"#);
}

#[test]
fn any_without_survivors_matches_nothing() {
    assert_normalises(r#"["any",[{"subject":["oneOf",[]]}]]"#, r#"["any",[]]"#);
    assert_normalises(r#"["any",[]]"#, r#"["any",[]]"#);
}

// --- The three examples of §5.5 ------------------------------------------------------------------

#[test]
fn example_not_read_write() {
    assert_normalises(
        r#"{"access":["!=","ReadWrite"],"isUnread":true}"#,
        r#"{"access":["==","Read"],"isUnread":true}"#,
    );
}

#[test]
fn example_custom_and_subject() {
    assert_normalises(
        r#"{"custom":{"b":["oneOf",["y","x","x"]],"a":"exists","c":["!oneOf",[]]},"subject":["oneOf",["s"]]}"#,
        r#"{"custom":{"a":"exists","b":["oneOf",["x","y"]]},"subject":["==","s"]}"#,
    );
}

#[test]
fn example_that_matches_nothing() {
    assert_normalises(
        r#"{"lastActivityAt":[">=",100],"createdAt":["<=",200],"joinedAt":["between",[5,1]]}"#,
        r#"["any",[]]"#,
    );
    let f: ConversationFilter = serde_json::from_str(
        r#"{"lastActivityAt":[">=",100],"createdAt":["<=",200],"joinedAt":["between",[5,1]]}"#,
    )
    .unwrap();
    assert!(f.matches_nothing());
}

// --- The recorded scenario -----------------------------------------------------------------------

/// The filters the official client sent in `conversations_list_filters`, for the filters its
/// scenario passed to `subscribeConversations`.
#[test]
fn recorded_first_page_filters_match_ours() {
    let fixture: serde_json::Value = serde_json::from_str(include_str!(
        "fixtures/frames/conversations_list_filters.json"
    ))
    .unwrap();
    let sent: Vec<String> = fixture["frames"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["from"] == "client" && f["frame"][1] == "GET" && f["frame"][2] == "/me/conversations"
        })
        .map(|f| serde_json::to_string(&f["frame"][3]["filter"]).unwrap())
        .collect();
    let ours = [
        // {filter:{access:['!=','ReadWrite'], isUnread:true}}
        SimpleConversationFilter::new()
            .access(StringFilter::Ne(Access::ReadWrite))
            .is_unread(true),
        // {filter:{custom:{b:['oneOf',['y','x','x']], a:'exists', c:['!oneOf',[]]}, subject:['oneOf',['s']], lastActivityAt:['>=',100]}}
        SimpleConversationFilter::new()
            .custom("b", CustomFieldFilter::one_of(["y", "x", "x"]))
            .custom("a", CustomFieldFilter::exists())
            .custom("c", CustomFieldFilter::not_one_of(Vec::<String>::new()))
            .subject(StringFilter::OneOf(vec![Some("s".into())]))
            .last_activity_at(NumberFilter::Ge(100)),
    ]
    .map(|f| serde_json::to_string(&ConversationFilter::from(f).normalise()).unwrap());
    assert_eq!(sent, ours);
}

#[test]
fn the_client_key_of_a_compound_has_a_space() {
    let f: ConversationFilter =
        serde_json::from_str(r#"["any",[{"isUnread":true},{"hasMessages":true}]]"#).unwrap();
    assert_eq!(
        f.normalised_key(),
        r#"["any", [{"hasMessages":true},{"isUnread":true}]]"#
    );
    assert_eq!(ConversationFilter::default().normalised_key(), "{}");
    let single: ConversationFilter = serde_json::from_str(r#"{"isUnread":true}"#).unwrap();
    assert_eq!(single.normalised_key(), r#"{"isUnread":true}"#);
}

#[test]
fn malformed_filters_are_rejected() {
    for bad in [
        r#"{"access":["~=","Read"]}"#,
        r#"{"access":["==","Write"]}"#,
        r#"{"createdAt":["between",[1]]}"#,
        r#"{"createdAt":[">",1,2]}"#,
        r#"{"custom":{"a":"present"}}"#,
        r#"{"colour":["==","red"]}"#,
        r#"["all",[]]"#,
        r#"["any",{}]"#,
    ] {
        assert!(
            serde_json::from_str::<ConversationFilter>(bad).is_err(),
            "{bad} should be rejected"
        );
    }
}

#[test]
fn filters_round_trip_in_their_authors_order() {
    let raw = r#"{"custom":{"b":["==","1"],"a":"exists"}}"#;
    let f: ConversationFilter = serde_json::from_str(raw).unwrap();
    assert_eq!(serde_json::to_string(&f).unwrap(), raw);
    let any = r#"["any",[{"isUnread":true},{"access":["==","Read"]}]]"#;
    let f: ConversationFilter = serde_json::from_str(any).unwrap();
    assert_eq!(serde_json::to_string(&f).unwrap(), any);
}

// --- Evaluation ----------------------------------------------------------------------------------

/// A conversation joined at 1000, with its last message at `last_message_at`.
fn conversation(last_message_at: i64) -> ConversationWire {
    serde_json::from_value(serde_json::json!({
        "id": "c1", "subject": "Shoes", "photoUrl": null, "welcomeMessages": [],
        "custom": {"category": "shoes", "colour": "red"},
        "createdAt": 500, "joinedAt": 1000, "lastMessageAt": last_message_at,
        "unreadMessageCount": 1, "isUnread": true, "access": "ReadWrite", "notify": true,
        "readUntil": 1000, "everyoneReadUntil": 1000
    }))
    .unwrap()
}

fn matches(filter: &str, c: &ConversationWire) -> bool {
    serde_json::from_str::<ConversationFilter>(filter)
        .unwrap()
        .matches(c)
}

#[test]
fn the_empty_filter_matches_everything_and_an_empty_any_nothing() {
    let c = conversation(2000);
    assert!(matches("{}", &c));
    assert!(!matches(r#"["any",[]]"#, &c));
}

#[test]
fn has_messages_compares_last_message_time_with_join_time() {
    let empty = conversation(1000);
    let busy = conversation(2000);
    assert!(matches(r#"{"hasMessages":false}"#, &empty));
    assert!(!matches(r#"{"hasMessages":true}"#, &empty));
    assert!(matches(r#"{"hasMessages":true}"#, &busy));
}

#[test]
fn last_activity_is_the_last_message_time() {
    let c = conversation(2000);
    assert!(matches(r#"{"lastActivityAt":[">",1999]}"#, &c));
    assert!(!matches(r#"{"lastActivityAt":[">",2000]}"#, &c));
    assert!(matches(r#"{"lastActivityAt":[">=",2000]}"#, &c));
    assert!(matches(r#"{"lastActivityAt":["<=",2000]}"#, &c));
    assert!(!matches(r#"{"lastActivityAt":["<",2000]}"#, &c));
}

#[test]
fn between_includes_the_lower_bound_and_excludes_the_upper() {
    let c = conversation(2000);
    assert!(matches(r#"{"createdAt":["between",[500,501]]}"#, &c));
    assert!(!matches(r#"{"createdAt":["between",[400,500]]}"#, &c));
    assert!(matches(r#"{"createdAt":["!between",[400,500]]}"#, &c));
    assert!(!matches(r#"{"joinedAt":["!between",[1000,1001]]}"#, &c));
}

#[test]
fn custom_predicates_treat_unset_keys_as_missing() {
    let c = conversation(2000);
    assert!(matches(
        r#"{"custom":{"category":"exists","size":"!exists"}}"#,
        &c
    ));
    assert!(!matches(r#"{"custom":{"size":"exists"}}"#, &c));
    assert!(!matches(r#"{"custom":{"size":["==","x"]}}"#, &c));
    assert!(matches(r#"{"custom":{"size":["!=","x"]}}"#, &c));
    assert!(!matches(r#"{"custom":{"size":["oneOf",["x"]]}}"#, &c));
    assert!(matches(r#"{"custom":{"size":["!oneOf",["x"]]}}"#, &c));
    assert!(matches(
        r#"{"custom":{"category":["==","shoes"],"colour":["oneOf",["red","blue"]]}}"#,
        &c
    ));
    assert!(!matches(
        r#"{"custom":{"category":["==","shoes"],"colour":["!=","red"]}}"#,
        &c
    ));
}

#[test]
fn subject_access_and_unread() {
    let c = conversation(2000);
    assert!(matches(
        r#"{"subject":["oneOf",["Shoes","Hats"]],"access":["==","ReadWrite"],"isUnread":true}"#,
        &c
    ));
    assert!(!matches(r#"{"subject":["==",null]}"#, &c));
    assert!(!matches(r#"{"access":["!=","ReadWrite"]}"#, &c));
    let mut untitled = conversation(2000);
    untitled.subject = None;
    assert!(matches(r#"{"subject":["==",null]}"#, &untitled));
    assert!(matches(r#"{"subject":["!=","Shoes"]}"#, &untitled));
}

#[test]
fn any_matches_when_one_member_does() {
    let c = conversation(1000);
    assert!(matches(
        r#"["any",[{"hasMessages":true},{"subject":["==","Shoes"]}]]"#,
        &c
    ));
    assert!(!matches(
        r#"["any",[{"hasMessages":true},{"subject":["==","Hats"]}]]"#,
        &c
    ));
}

/// Normalising never changes which conversations match.
#[test]
fn normalising_preserves_meaning() {
    let filters = [
        r#"{"access":["!=","ReadWrite"]}"#,
        r#"{"lastActivityAt":[">=",2000],"createdAt":["<=",500]}"#,
        r#"{"custom":{"colour":["oneOf",["red","red"]],"x":["!oneOf",[]]}}"#,
        r#"["any",[{"joinedAt":["between",[5,1]]},{"isUnread":true}]]"#,
        r#"{"joinedAt":["between",[5,1]]}"#,
        r#"{"createdAt":["!between",[9,1]],"subject":["!oneOf",["Shoes"]]}"#,
    ];
    let conversations = [conversation(1000), conversation(2000), conversation(1999)];
    for f in filters {
        let f: ConversationFilter = serde_json::from_str(f).unwrap();
        let n = f.normalise();
        for c in &conversations {
            assert_eq!(
                f.matches(c),
                n.matches(c),
                "{f:?} vs {n:?} on {}",
                c.last_message_at
            );
        }
    }
}
