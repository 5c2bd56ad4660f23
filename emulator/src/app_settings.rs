//! The app's settings, as TalkJS's UI components (`@talkjs/react-components`) fetch them before
//! they render anything: `GET /api/v0/{app}//app?sessionId=…&role_name=…` with the user's bearer
//! token (docs/protocol.md §12.6). Without an answer they show a loading spinner forever.
//!
//! The body is `{appMetadata, features, configuration}`: the app's identity, the plan features
//! that are on, and the dashboard settings of the user's role, which the components merge over
//! their own defaults. The emulator has no dashboard and no roles, so every role gets the same
//! answer: the defaults (an empty `configuration`) and the features the emulator implements.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::Config;

/// The locale the UI formats dates and picks its texts in: TalkJS's default for a new app
/// ("English (US)"); the emulator has no dashboard setting to change it.
pub const DEFAULT_LOCALE: &str = "en-US";

/// The plan features the UI checks for, and which the emulator serves: file messages (upload and
/// download), location messages, search inside a conversation and search across conversations
/// and messages. The names are the ones the components test the `features` list for. Features the
/// emulator does not have (e-mail and SMS notifications, custom e-mail templates) stay off.
pub const FEATURES: [&str; 4] = [
    "file_sharing",
    "location_sharing",
    "search_in_conv",
    "search_conv_and_messages",
];

/// The answer to the app-settings request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppSettings {
    /// Who the app is.
    pub app_metadata: AppMetadata,
    /// The plan features that are on ([`FEATURES`]).
    pub features: Vec<&'static str>,
    /// The role's dashboard settings, merged by the UI over its defaults; empty, so the defaults
    /// apply (typing indicators on, own messages editable and deletable, reactions and replies).
    pub configuration: Map<String, Value>,
}

/// The app's identity as the UI shows it (e.g. `{{app.name}}` in texts).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppMetadata {
    /// The app id.
    pub id: String,
    /// The app's name: its id, as the emulator has no other.
    pub name: String,
    /// The locale of the UI's texts ([`DEFAULT_LOCALE`]).
    pub default_locale: &'static str,
    /// The app's custom data: none.
    pub custom: Map<String, Value>,
}

impl AppSettings {
    /// The settings of the app `config` serves. Every role gets these.
    pub fn for_app(config: &Config) -> AppSettings {
        AppSettings {
            app_metadata: AppMetadata {
                id: config.app_id.clone(),
                name: config.app_id.clone(),
                default_locale: DEFAULT_LOCALE,
                custom: Map::new(),
            },
            features: FEATURES.to_vec(),
            configuration: Map::new(),
        }
    }
}
