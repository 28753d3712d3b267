//! The stored user and the keys of the provider's items (the item layout of the module docs).

use anyhow::anyhow;
use sha2::{Digest, Sha256};
use vitrine_app::ports::{IdentityError, Item, Key, Value};

use super::hex;

/// A user as stored.
#[derive(Debug, Clone)]
pub(super) struct User {
    pub(super) sub: String,
    pub(super) email: String,
    pub(super) name: String,
    /// argon2id PHC string.
    pub(super) password: String,
    pub(super) confirmed: bool,
    pub(super) groups: Vec<String>,
    pub(super) session_gen: i64,
    pub(super) version: i64,
    pub(super) created_at: i64,
}

impl User {
    pub(super) fn to_item(&self) -> Item {
        Item::new(user_key(&self.sub))
            .with("sub", self.sub.as_str())
            .with("email", self.email.as_str())
            .with("name", self.name.as_str())
            .with("password", self.password.as_str())
            .with("confirmed", self.confirmed)
            .with("groups", strings(&self.groups))
            .with("session_gen", self.session_gen)
            .with("version", self.version)
            .with("created_at", self.created_at)
    }

    pub(super) fn from_item(item: &Item) -> Result<Self, IdentityError> {
        let corrupt = |what: &str| {
            IdentityError::Unavailable(anyhow!("user item {}: bad {what}", item.key.pk))
        };
        let text = |name: &str| {
            item.str(name)
                .map(str::to_owned)
                .ok_or_else(|| corrupt(name))
        };
        let groups = match item.get("groups") {
            Some(Value::L(list)) => list
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| corrupt("groups"))
                })
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
            Some(_) => return Err(corrupt("groups")),
        };
        Ok(Self {
            sub: text("sub")?,
            email: text("email")?,
            name: text("name")?,
            password: text("password")?,
            confirmed: item
                .get("confirmed")
                .and_then(Value::as_bool)
                .ok_or_else(|| corrupt("confirmed"))?,
            groups,
            session_gen: item.num("session_gen").unwrap_or(0),
            version: item.num("version").unwrap_or(0),
            created_at: item.num("created_at").unwrap_or(0),
        })
    }
}

pub(super) fn user_pk(sub: &str) -> String {
    format!("USER#{sub}")
}

pub(super) fn user_key(sub: &str) -> Key {
    Key::new(user_pk(sub), "PROFILE")
}

pub(super) fn email_ref_key(email: &str) -> Key {
    Key::new(format!("UREF#EMAIL#{email}"), "UREF")
}

pub(super) fn refresh_key(token: &str) -> Key {
    Key::new(
        format!("RTOKEN#{}", hex(&Sha256::digest(token.as_bytes()))),
        "RTOKEN",
    )
}

pub(super) fn strings(list: &[String]) -> Value {
    Value::L(list.iter().map(|s| Value::S(s.clone())).collect())
}
