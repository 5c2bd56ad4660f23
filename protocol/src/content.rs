//! Message content: blocks (text, file, location) and the rich-text node tree inside text blocks.
//!
//! Node type names come in two spellings on the wire. The official client's markup parser emits
//! lower-case names (`bulletlist`, `codespan`, `autolink`, ...) and sends them as they are; servers
//! store and return camelCase names (`bulletList`, `codeSpan`, `autoLink`, ...), and the official
//! client drops lower-case nodes it receives. So decoding accepts both spellings, [`TextNode`]'s
//! `Serialize` writes camelCase (what a server sends), and [`Spelling::Sent`] through
//! [`SentContent`] writes lower-case (what the official client sends), byte for byte.
//!
//! Node types this crate does not know are kept as [`TextNode::Unknown`] rather than dropped, so a
//! newer server's content survives a round trip through an older runtime.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An opaque token naming an uploaded file; returned by an upload and put in a file block to send it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FileToken(pub String);

impl FileToken {
    /// The token as the string that goes on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FileToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One block of a message as received: text, a file, or a location.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ContentBlock {
    /// Formatted text.
    Text(TextBlock),
    /// An uploaded file, with its download URL and metadata.
    File(FileBlock),
    /// A geographical location.
    Location(LocationBlock),
}

/// One block of a message as sent: text, a file token, or a location.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SendContentBlock {
    /// Formatted text.
    Text(TextBlock),
    /// A file uploaded beforehand, named by its token.
    File(SendFileBlock),
    /// A geographical location.
    Location(LocationBlock),
}

/// Reads a block's `type` from its raw text, then decodes the text straight into the variant's
/// struct. Serde's internally tagged enums would first buffer every block into a generic tree.
macro_rules! tagged_block_deserialize {
    ($enum:ident { $($tag:literal => $variant:ident),* $(,)? }) => {
        impl<'de> Deserialize<'de> for $enum {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                #[derive(Deserialize)]
                struct Tag<'a> {
                    #[serde(rename = "type", borrow)]
                    ty: std::borrow::Cow<'a, str>,
                }
                let raw: Box<serde_json::value::RawValue> = Deserialize::deserialize(d)?;
                let text = raw.get();
                let tag: Tag<'_> = serde_json::from_str(text).map_err(de::Error::custom)?;
                match tag.ty.as_ref() {
                    $($tag => serde_json::from_str(text).map($enum::$variant).map_err(de::Error::custom),)*
                    other => Err(de::Error::unknown_variant(other, &[$($tag),*])),
                }
            }
        }
    };
}

tagged_block_deserialize!(ContentBlock { "text" => Text, "file" => File, "location" => Location });
tagged_block_deserialize!(SendContentBlock { "text" => Text, "file" => File, "location" => Location });

/// A block of formatted text: a list of nodes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TextBlock {
    /// The text, as plain strings and formatting nodes.
    pub children: Vec<TextNode>,
}

/// The kind of file in a [`FileBlock`]; `None` in the block means a generic file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileSubtype {
    /// A picture; may carry `width` and `height`.
    Image,
    /// A video; may carry `width`, `height` and `duration`.
    Video,
    /// An audio file; may carry `duration`.
    Audio,
    /// A voice recording; may carry `duration`.
    Voice,
}

impl FileSubtype {
    /// The wire name (`"image"`, `"video"`, `"audio"`, `"voice"`), also the multipart `subtype` field.
    pub fn as_str(self) -> &'static str {
        match self {
            FileSubtype::Image => "image",
            FileSubtype::Video => "video",
            FileSubtype::Audio => "audio",
            FileSubtype::Voice => "voice",
        }
    }
}

/// A file attached to a received message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileBlock {
    /// What kind of file this is; absent for a generic file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtype: Option<FileSubtype>,
    /// The token the file was sent with; can be re-sent in another message.
    pub file_token: FileToken,
    /// Where the file can be downloaded.
    pub url: String,
    /// Size in bytes.
    pub size: u64,
    /// The file's name as given at upload.
    pub filename: String,
    /// Width in pixels (images and videos).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Height in pixels (images and videos).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Duration in seconds (videos, audio and voice recordings).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "js_number::serialize_some"
    )]
    pub duration: Option<f64>,
}

/// A file block as sent: only the token of a file uploaded beforehand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendFileBlock {
    /// The token an upload returned.
    pub file_token: FileToken,
}

/// A geographical location.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LocationBlock {
    /// Latitude in degrees.
    #[serde(serialize_with = "js_number::serialize")]
    pub latitude: f64,
    /// Longitude in degrees.
    #[serde(serialize_with = "js_number::serialize")]
    pub longitude: f64,
}

/// Writes numbers as JavaScript's `JSON.stringify` does: an integral value has no fraction
/// (`1`, not serde's `1.0`), so our frames equal the official client's byte for byte.
pub(crate) mod js_number {
    use serde::Serializer;

    /// Largest integer a JavaScript number represents exactly (2^53 - 1).
    const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

    /// Serialises one number.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.fract() == 0.0 && v.abs() <= MAX_SAFE_INTEGER {
            // Exact: the value is an integer within i64's range.
            s.serialize_i64(*v as i64)
        } else {
            s.serialize_f64(*v)
        }
    }

    /// Serialises an optional number (only called when present).
    pub fn serialize_some<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => serialize(v, s),
            None => s.serialize_none(),
        }
    }
}

/// One node of formatted text.
///
/// The variants are the node types of `talkSession.d.ts` plus [`TextNode::Unknown`]. See the module
/// docs for how the two spellings of type names are handled.
#[derive(Debug, Clone, PartialEq)]
pub enum TextNode {
    /// Plain text.
    Text(String),
    /// `*bold*` text.
    Bold(Vec<TextNode>),
    /// `_italic_` text.
    Italic(Vec<TextNode>),
    /// `~strikethrough~` text.
    Strikethrough(Vec<TextNode>),
    /// A bullet list; its children are normally [`TextNode::BulletPoint`]s.
    BulletList(Vec<TextNode>),
    /// One point of a bullet list.
    BulletPoint(Vec<TextNode>),
    /// Text shown as code (from three backticks).
    CodeSpan(String),
    /// A link with a label (`<https://x|label>`).
    Link {
        /// The link target.
        url: String,
        /// The label.
        children: Vec<TextNode>,
    },
    /// A URL, e-mail address or phone number recognised in plain text.
    AutoLink {
        /// The target (`https://...`, `mailto:...`, `tel:...`).
        url: String,
        /// The text as written.
        text: String,
    },
    /// A link that triggers an action in the UI.
    ActionLink {
        /// The action name.
        action: String,
        /// The action's parameters.
        params: BTreeMap<String, String>,
        /// The label.
        children: Vec<TextNode>,
    },
    /// A button that triggers an action in the UI.
    ActionButton {
        /// The action name.
        action: String,
        /// The action's parameters.
        params: BTreeMap<String, String>,
        /// The label.
        children: Vec<TextNode>,
    },
    /// A custom emoji such as `:cat:`.
    CustomEmoji(String),
    /// A mention of a user.
    Mention {
        /// The mentioned user's id.
        id: String,
        /// The name shown.
        text: String,
    },
    /// A node of a type this crate does not know, kept as the JSON object it arrived as.
    Unknown(Map<String, Value>),
}

impl TextNode {
    /// A plain-text node.
    pub fn text(s: impl Into<String>) -> Self {
        TextNode::Text(s.into())
    }

    /// The node's type name in the given spelling; `None` for plain text and unknown nodes.
    pub fn type_name(&self, spelling: Spelling) -> Option<&'static str> {
        let camel = spelling == Spelling::Received;
        Some(match self {
            TextNode::Text(_) | TextNode::Unknown(_) => return None,
            TextNode::Bold(_) => "bold",
            TextNode::Italic(_) => "italic",
            TextNode::Strikethrough(_) => "strikethrough",
            TextNode::BulletList(_) if camel => "bulletList",
            TextNode::BulletList(_) => "bulletlist",
            TextNode::BulletPoint(_) if camel => "bulletPoint",
            TextNode::BulletPoint(_) => "bulletpoint",
            TextNode::CodeSpan(_) if camel => "codeSpan",
            TextNode::CodeSpan(_) => "codespan",
            TextNode::Link { .. } => "link",
            TextNode::AutoLink { .. } if camel => "autoLink",
            TextNode::AutoLink { .. } => "autolink",
            TextNode::ActionLink { .. } if camel => "actionLink",
            TextNode::ActionLink { .. } => "actionlink",
            TextNode::ActionButton { .. } if camel => "actionButton",
            TextNode::ActionButton { .. } => "actionbutton",
            TextNode::CustomEmoji(_) if camel => "customEmoji",
            TextNode::CustomEmoji(_) => "customemoji",
            TextNode::Mention { .. } => "mention",
        })
    }

    /// The child nodes of a node that has them.
    pub fn children(&self) -> Option<&[TextNode]> {
        match self {
            TextNode::Bold(c)
            | TextNode::Italic(c)
            | TextNode::Strikethrough(c)
            | TextNode::BulletList(c)
            | TextNode::BulletPoint(c)
            | TextNode::Link { children: c, .. }
            | TextNode::ActionLink { children: c, .. }
            | TextNode::ActionButton { children: c, .. } => Some(c),
            _ => None,
        }
    }
}

impl From<&str> for TextNode {
    fn from(s: &str) -> Self {
        TextNode::Text(s.to_owned())
    }
}

impl From<String> for TextNode {
    fn from(s: String) -> Self {
        TextNode::Text(s)
    }
}

/// Which spelling of node type names to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Spelling {
    /// camelCase (`bulletList`): what servers store and return, and what the official client keeps.
    Received,
    /// lower-case (`bulletlist`): what the official client's markup parser produces and sends.
    Sent,
}

/// Serialises nodes, blocks or block lists with a chosen [`Spelling`] of node type names.
///
/// `TextNode`'s own `Serialize` writes [`Spelling::Received`]; wrap content in this to write what
/// the official client sends:
///
/// ```
/// # mod talkjs { pub use talkjs_protocol::{filter, params, snapshot}; pub use talkjs_protocol as protocol; }
/// use talkjs::protocol::content::{SentContent, Spelling, TextNode};
/// let nodes = vec![TextNode::CodeSpan("x".into())];
/// let json = serde_json::to_string(&SentContent(&nodes[..], Spelling::Sent)).unwrap();
/// assert_eq!(json, r#"[{"type":"codespan","text":"x"}]"#);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SentContent<'a, T: ?Sized>(pub &'a T, pub Spelling);

impl Serialize for SentContent<'_, [TextNode]> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_nodes(self.0, self.1, s)
    }
}

impl Serialize for SentContent<'_, TextNode> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_node(self.0, self.1, s)
    }
}

impl Serialize for SentContent<'_, SendContentBlock> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            SendContentBlock::Text(t) => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("type", "text")?;
                m.serialize_entry("children", &SentContent(&t.children[..], self.1))?;
                m.end()
            }
            other => other.serialize(s),
        }
    }
}

impl Serialize for SentContent<'_, [SendContentBlock]> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for block in self.0 {
            seq.serialize_element(&SentContent(block, self.1))?;
        }
        seq.end()
    }
}

struct Nodes<'a>(&'a [TextNode], Spelling);

impl Serialize for Nodes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_nodes(self.0, self.1, s)
    }
}

fn serialize_nodes<S: Serializer>(
    nodes: &[TextNode],
    spelling: Spelling,
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(nodes.len()))?;
    for node in nodes {
        seq.serialize_element(&SentContent(node, spelling))?;
    }
    seq.end()
}

fn serialize_node<S: Serializer>(
    node: &TextNode,
    spelling: Spelling,
    s: S,
) -> Result<S::Ok, S::Error> {
    let ty = match node {
        TextNode::Text(t) => return s.serialize_str(t),
        TextNode::Unknown(map) => return map.serialize(s),
        _ => node.type_name(spelling).unwrap_or_default(),
    };
    // Field order follows the official client's output, so frames compare byte for byte.
    let mut m = s.serialize_map(None)?;
    m.serialize_entry("type", ty)?;
    match node {
        TextNode::Bold(c)
        | TextNode::Italic(c)
        | TextNode::Strikethrough(c)
        | TextNode::BulletList(c)
        | TextNode::BulletPoint(c) => m.serialize_entry("children", &Nodes(c, spelling))?,
        TextNode::CodeSpan(text) | TextNode::CustomEmoji(text) => {
            m.serialize_entry("text", text)?
        }
        TextNode::Link { url, children } => {
            m.serialize_entry("url", url)?;
            m.serialize_entry("children", &Nodes(children, spelling))?;
        }
        TextNode::AutoLink { url, text } => {
            m.serialize_entry("url", url)?;
            m.serialize_entry("text", text)?;
        }
        TextNode::ActionLink {
            action,
            params,
            children,
        }
        | TextNode::ActionButton {
            action,
            params,
            children,
        } => {
            m.serialize_entry("action", action)?;
            m.serialize_entry("params", params)?;
            m.serialize_entry("children", &Nodes(children, spelling))?;
        }
        TextNode::Mention { id, text } => {
            m.serialize_entry("id", id)?;
            m.serialize_entry("text", text)?;
        }
        TextNode::Text(_) | TextNode::Unknown(_) => {}
    }
    m.end()
}

impl Serialize for TextNode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_node(self, Spelling::Received, s)
    }
}

impl<'de> Deserialize<'de> for TextNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = TextNode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a text node object with a `type`")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<TextNode, E> {
        Ok(TextNode::Text(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<TextNode, E> {
        Ok(TextNode::Text(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<TextNode, A::Error> {
        // Fast path: servers and the official client write `type` first, so the fields that follow
        // can be decoded straight into their final types. A node whose `type` comes later, or is
        // unknown, is collected as JSON and converted once the type is known.
        let mut fields = NodeFields::default();
        let mut extra = Map::new();
        while let Some(key) = access.next_key::<std::borrow::Cow<'de, str>>()? {
            let known = fields.ty.as_deref().is_some_and(is_known_type);
            match key.as_ref() {
                "type" if fields.ty.is_none() => fields.ty = Some(access.next_value()?),
                "children" if known => fields.children = Some(access.next_value()?),
                "text" if known => fields.text = Some(access.next_value()?),
                "url" if known => fields.url = Some(access.next_value()?),
                "id" if known => fields.id = Some(access.next_value()?),
                "action" if known => fields.action = Some(access.next_value()?),
                "params" if known => {
                    fields.params = access.next_value::<Option<BTreeMap<String, String>>>()?
                }
                _ => {
                    extra.insert(key.into_owned(), access.next_value()?);
                }
            }
        }
        fields.build(extra).map_err(de::Error::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<TextNode, A::Error> {
        Err(de::Error::invalid_type(de::Unexpected::Seq, &self))
    }
}

/// Whether a lower-cased type name is one this crate decodes into its own variant.
fn is_known_type(ty: &str) -> bool {
    matches!(
        ty.to_ascii_lowercase().as_str(),
        "bold"
            | "italic"
            | "strikethrough"
            | "bulletlist"
            | "bulletpoint"
            | "codespan"
            | "customemoji"
            | "link"
            | "autolink"
            | "actionlink"
            | "actionbutton"
            | "mention"
    )
}

/// The fields of a node object as they are read; see `NodeVisitor::visit_map`.
#[derive(Default)]
struct NodeFields {
    ty: Option<String>,
    children: Option<Vec<TextNode>>,
    text: Option<String>,
    url: Option<String>,
    id: Option<String>,
    action: Option<String>,
    params: Option<BTreeMap<String, String>>,
}

impl NodeFields {
    /// Builds the node, accepting both spellings of the type name. `extra` holds fields that were
    /// not decoded directly (all of them when `type` came late).
    fn build(mut self, mut extra: Map<String, Value>) -> Result<TextNode, String> {
        let Some(ty_raw) = self.ty.take() else {
            return Err("text node without a string `type`".into());
        };
        let ty = ty_raw.to_ascii_lowercase();
        if !is_known_type(&ty) {
            extra.insert("type".into(), Value::String(ty_raw));
            return Ok(TextNode::Unknown(extra));
        }
        fn field<T: serde::de::DeserializeOwned>(
            direct: Option<T>,
            extra: &mut Map<String, Value>,
            key: &str,
            ty: &str,
        ) -> Result<T, String> {
            if let Some(v) = direct {
                return Ok(v);
            }
            let v = extra
                .remove(key)
                .ok_or_else(|| format!("`{ty}` node without `{key}`"))?;
            serde_json::from_value(v).map_err(|e| format!("`{ty}` node field `{key}`: {e}"))
        }
        let e = &mut extra;
        let t = ty.as_str();
        Ok(match t {
            "bold" => TextNode::Bold(field(self.children, e, "children", t)?),
            "italic" => TextNode::Italic(field(self.children, e, "children", t)?),
            "strikethrough" => TextNode::Strikethrough(field(self.children, e, "children", t)?),
            "bulletlist" => TextNode::BulletList(field(self.children, e, "children", t)?),
            "bulletpoint" => TextNode::BulletPoint(field(self.children, e, "children", t)?),
            "codespan" => TextNode::CodeSpan(field(self.text, e, "text", t)?),
            "customemoji" => TextNode::CustomEmoji(field(self.text, e, "text", t)?),
            "link" => TextNode::Link {
                url: field(self.url, e, "url", t)?,
                children: field(self.children, e, "children", t)?,
            },
            "autolink" => TextNode::AutoLink {
                url: field(self.url, e, "url", t)?,
                text: field(self.text, e, "text", t)?,
            },
            "mention" => TextNode::Mention {
                id: field(self.id, e, "id", t)?,
                text: field(self.text, e, "text", t)?,
            },
            _ => {
                // actionlink / actionbutton
                let action = field(self.action, e, "action", t)?;
                let params = match self.params {
                    Some(p) => p,
                    None => match e.remove("params") {
                        None | Some(Value::Null) => BTreeMap::new(),
                        Some(v) => serde_json::from_value(v)
                            .map_err(|err| format!("`{t}` params: {err}"))?,
                    },
                };
                let children = field(self.children, e, "children", t)?;
                if t == "actionlink" {
                    TextNode::ActionLink {
                        action,
                        params,
                        children,
                    }
                } else {
                    TextNode::ActionButton {
                        action,
                        params,
                        children,
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_spellings_decode_to_the_same_node() {
        let lower: TextNode =
            serde_json::from_value(json!({"type":"codespan","text":"x"})).unwrap();
        let camel: TextNode =
            serde_json::from_value(json!({"type":"codeSpan","text":"x"})).unwrap();
        assert_eq!(lower, camel);
        assert_eq!(
            serde_json::to_value(&camel).unwrap(),
            json!({"type":"codeSpan","text":"x"})
        );
    }

    #[test]
    fn unknown_nodes_survive_a_round_trip() {
        let v = json!({"type":"blockquote","children":["q"],"extra":1});
        let node: TextNode = serde_json::from_value(v.clone()).unwrap();
        assert!(matches!(node, TextNode::Unknown(_)));
        assert_eq!(serde_json::to_value(&node).unwrap(), v);
    }

    #[test]
    fn malformed_nodes_are_errors_not_panics() {
        for bad in [
            json!({"type":"bold"}),
            json!({"children":[]}),
            json!(3),
            json!([1]),
        ] {
            assert!(serde_json::from_value::<TextNode>(bad).is_err());
        }
    }

    #[test]
    fn integral_coordinates_are_written_without_a_fraction_like_javascript_does() {
        let loc = LocationBlock {
            latitude: 1.0,
            longitude: -2.5,
        };
        assert_eq!(
            serde_json::to_string(&loc).unwrap(),
            r#"{"latitude":1,"longitude":-2.5}"#
        );
    }

    #[test]
    fn sent_spelling_is_lower_case_throughout() {
        let block = SendContentBlock::Text(TextBlock {
            children: vec![TextNode::BulletList(vec![TextNode::BulletPoint(vec![
                TextNode::AutoLink {
                    url: "http://a.b".into(),
                    text: "a.b".into(),
                },
            ])])],
        });
        let json = serde_json::to_string(&SentContent(&block, Spelling::Sent)).unwrap();
        assert_eq!(
            json,
            r#"{"type":"text","children":[{"type":"bulletlist","children":[{"type":"bulletpoint","children":[{"type":"autolink","url":"http://a.b","text":"a.b"}]}]}]}"#
        );
    }
}
