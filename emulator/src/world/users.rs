//! Users: create, set (patch), batched get, online status.

use std::collections::BTreeMap;

use talkjs_protocol::error::codes;
use talkjs_protocol::event::{Event, UserCreated, UserEdited};
use talkjs_protocol::params::{CreateUserParams, DEFAULT_ROLE, SetUserParams};
use talkjs_protocol::wire::{OnlineWire, UserDiff, UserWire, apply_custom_patch};

use super::view::user_wire;
use super::{ApiError, ApiResult, World};
use crate::store::UserRecord;
use crate::webhooks::WebhookType;

/// Code for user writes refused because user synchronization is off.
pub const UNAUTHORIZED_TO_EDIT_USER: &str = "UNAUTHORIZED_TO_EDIT_USER";

impl World {
    fn check_user_sync(&self) -> ApiResult<()> {
        if self.config.user_sync {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                UNAUTHORIZED_TO_EDIT_USER,
                "user synchronization from clients is disabled for this app",
            ))
        }
    }

    /// `POST /users/{u}`: create the user; 409 if it exists.
    pub fn create_user(&mut self, id: &str, p: CreateUserParams) -> ApiResult<()> {
        self.check_user_sync()?;
        if self.store.user(id).is_some() {
            return Err(ApiError::conflict(format!("user {id} already exists")));
        }
        if p.name.trim().is_empty() {
            return Err(ApiError::bad_request("a user needs a non-empty name"));
        }
        let user = UserRecord {
            id: id.to_owned(),
            name: p.name,
            custom: p.custom.unwrap_or_default(),
            locale: p.locale,
            photo_url: p.photo_url,
            role: p.role.unwrap_or_else(|| DEFAULT_ROLE.to_owned()),
            welcome_message: p.welcome_message,
            email: p.email,
            phone: p.phone,
            push_tokens: p
                .push_tokens
                .unwrap_or_default()
                .into_iter()
                .map(|t| (t, true))
                .collect(),
        };
        self.insert_user(user);
        Ok(())
    }

    fn insert_user(&mut self, user: UserRecord) {
        let id = user.id.clone();
        let event = Event::UserCreated(UserCreated {
            user_id: id.clone(),
            state: user_wire(&user),
        });
        self.webhook_user(WebhookType::UserCreated, &user);
        self.store.put_user(user);
        self.publish_user_event(&id, &event);
    }

    /// `PUT /users/{u}`: create the user, or apply the patch to it.
    pub fn set_user(&mut self, id: &str, p: SetUserParams) -> ApiResult<()> {
        self.check_user_sync()?;
        self.upsert_user(id, p)
    }

    /// Whether [`World::upsert_user`] would accept this patch, without applying it.
    pub(crate) fn check_user_patch(&self, id: &str, p: &SetUserParams) -> ApiResult<()> {
        if matches!(&p.name, Some(n) if n.trim().is_empty()) {
            return Err(ApiError::bad_request("a user needs a non-empty name"));
        }
        if self.store.user(id).is_none() && p.name.is_none() {
            return Err(ApiError::bad_request(format!(
                "user {id} does not exist; creating it needs a name"
            )));
        }
        Ok(())
    }

    /// Creates the user or merges the patch into it, whatever the sync setting: `PUT /users/{u}`
    /// of the client API once allowed, and of the REST API.
    pub(crate) fn upsert_user(&mut self, id: &str, p: SetUserParams) -> ApiResult<()> {
        self.check_user_patch(id, &p)?;
        let Some(old) = self.store.user(id).cloned() else {
            let name = p.name.clone().unwrap_or_default();
            let mut user = UserRecord {
                id: id.to_owned(),
                name,
                custom: Default::default(),
                locale: None,
                photo_url: None,
                role: DEFAULT_ROLE.to_owned(),
                welcome_message: None,
                email: None,
                phone: None,
                push_tokens: BTreeMap::new(),
            };
            apply_user_patch(&mut user, &p);
            self.insert_user(user);
            return Ok(());
        };
        let mut user = old.clone();
        apply_user_patch(&mut user, &p);
        let diff = user_diff(&old, &user, &p);
        // Private fields (e-mail, phone, push tokens) change no client's view, but they are an
        // update for webhooks.
        if user != old {
            self.webhook_user(WebhookType::UserUpdated, &user);
        }
        self.store.put_user(user);
        if diff != UserDiff::default() {
            self.publish_user_event(
                id,
                &Event::UserEdited(UserEdited {
                    user_id: id.to_owned(),
                    diff,
                }),
            );
        }
        Ok(())
    }

    /// `GET /users {ids}`: the users that exist, by id.
    pub fn get_users(&self, ids: &[String]) -> BTreeMap<String, UserWire> {
        ids.iter()
            .filter_map(|id| self.store.user(id).map(|u| (id.clone(), user_wire(u))))
            .collect()
    }

    /// `GET /users/{u}/online`.
    pub fn get_online(&self, id: &str) -> ApiResult<OnlineWire> {
        if self.store.user(id).is_none() {
            return Err(ApiError::not_found(
                codes::USER_NOT_FOUND,
                format!("user {id} does not exist"),
            ));
        }
        Ok(OnlineWire {
            is_connected: self.is_online(id),
        })
    }
}

fn apply_user_patch(u: &mut UserRecord, p: &SetUserParams) {
    if let Some(name) = &p.name {
        u.name = name.clone();
    }
    match &p.custom {
        Some(Some(patch)) => apply_custom_patch(&mut u.custom, patch),
        Some(None) => u.custom.clear(),
        None => {}
    }
    if let Some(v) = &p.locale {
        u.locale = v.clone();
    }
    if let Some(v) = &p.photo_url {
        u.photo_url = v.clone();
    }
    if let Some(v) = &p.welcome_message {
        u.welcome_message = v.clone();
    }
    if let Some(v) = &p.role {
        u.role = v.clone().unwrap_or_else(|| DEFAULT_ROLE.to_owned());
    }
    if let Some(v) = &p.email {
        u.email = v.clone();
    }
    if let Some(v) = &p.phone {
        u.phone = v.clone();
    }
    match &p.push_tokens {
        Some(Some(changes)) => {
            for (token, on) in changes {
                if *on {
                    u.push_tokens.insert(token.clone(), true);
                } else {
                    u.push_tokens.remove(token);
                }
            }
        }
        Some(None) => u.push_tokens.clear(),
        None => {}
    }
}

/// The public fields that changed, as the diff clients merge.
fn user_diff(old: &UserRecord, new: &UserRecord, p: &SetUserParams) -> UserDiff {
    let custom = if old.custom == new.custom {
        None
    } else if p.custom == Some(None) || new.custom.is_empty() {
        Some(None)
    } else {
        let mut patch = BTreeMap::new();
        for (k, v) in &new.custom {
            if old.custom.get(k) != Some(v) {
                patch.insert(k.clone(), Some(v.clone()));
            }
        }
        for k in old.custom.keys() {
            if !new.custom.contains_key(k) {
                patch.insert(k.clone(), None);
            }
        }
        Some(Some(patch))
    };
    UserDiff {
        name: (old.name != new.name).then(|| new.name.clone()),
        custom,
        locale: (old.locale != new.locale).then(|| new.locale.clone()),
        photo_url: (old.photo_url != new.photo_url).then(|| new.photo_url.clone()),
        role: (old.role != new.role).then(|| new.role.clone()),
        welcome_message: (old.welcome_message != new.welcome_message)
            .then(|| new.welcome_message.clone()),
    }
}
