//! Signed links: what an e-mail can carry to let its reader do one thing without signing in
//! (today: turn off cart reminders, `crate::cart_reminders`).
//!
//! A token is `{subject, base64url}.{HMAC-SHA256 of "{purpose}\n{subject}", base64url}`: it names
//! whom it is about and proves the store wrote it. The purpose is signed but not written, so a
//! token made for one thing is refused for any other. Tokens do not expire: an unsubscribe link
//! has to keep working as long as the e-mail that carries it is read.
//!
//! The key is 32 random bytes kept in the table (`store::cart_reminders`, item `LINKKEY`), made by
//! the first process that needs it: both shapes have the table, so the `expire` function that
//! sends a reminder and the `api` function that receives its link agree on it with no secret to
//! deploy (`App::link_key`, in `crate::cart_reminders`, its one user today). Whoever can read
//! the table could sign links; they could as well change the preference itself. Each process
//! reads the key once. This module is pure computation: no I/O.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{AppError, AppResult};

/// What a link lets its reader do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Turn off the cart reminders of the customer it names.
    CartRemindersOff,
}

impl LinkPurpose {
    fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::CartRemindersOff => "cart-reminders-off",
        }
    }
}

/// The longest subject a token may name (a customer's `sub`): longer tokens are refused before
/// any decoding.
const MAX_SUBJECT: usize = 200;

/// The key links are signed with.
pub struct LinkKey {
    secret: Vec<u8>,
}

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(..)")
    }
}

impl LinkKey {
    /// Sign with `secret` (any length; the store makes 32 bytes).
    pub fn new(secret: Vec<u8>) -> Self {
        Self { secret }
    }

    fn mac(&self, purpose: LinkPurpose, subject: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(purpose.as_str().as_bytes());
        mac.update(b"\n");
        mac.update(subject.as_bytes());
        mac
    }

    /// A token that lets its bearer do `purpose` for `subject`.
    pub fn sign(&self, purpose: LinkPurpose, subject: &str) -> String {
        let tag = self.mac(purpose, subject).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(subject),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// The subject `token` names, when this key signed it for `purpose`.
    pub fn verify(&self, purpose: LinkPurpose, token: &str) -> Option<String> {
        if token.len() > 2 * MAX_SUBJECT {
            return None;
        }
        let (subject, tag) = token.split_once('.')?;
        let subject = String::from_utf8(URL_SAFE_NO_PAD.decode(subject).ok()?).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(purpose, &subject).verify_slice(&tag).ok()?;
        Some(subject)
    }
}

/// A new key: 32 random bytes, and how the table keeps them (base64url).
pub(crate) fn fresh_secret() -> (Arc<LinkKey>, String) {
    let bytes: Vec<u8> = (0..32).map(|_| rand::random::<u8>()).collect();
    let text = URL_SAFE_NO_PAD.encode(&bytes);
    (Arc::new(LinkKey::new(bytes)), text)
}

/// The key kept in the table as `secret` (base64url).
pub(crate) fn decode_secret(secret: &str) -> AppResult<Arc<LinkKey>> {
    URL_SAFE_NO_PAD
        .decode(secret)
        .ok()
        .filter(|b| !b.is_empty())
        .map(|b| Arc::new(LinkKey::new(b)))
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the stored link key is not base64url")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &[u8]) -> LinkKey {
        LinkKey::new(secret.to_vec())
    }

    #[test]
    fn a_token_names_its_subject_for_its_purpose_under_its_key_only() {
        let k = key(b"0123456789abcdef0123456789abcdef");
        let token = k.sign(LinkPurpose::CartRemindersOff, "sub-ana");
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "safe in a URL as it is: {token}"
        );
        assert_eq!(
            k.verify(LinkPurpose::CartRemindersOff, &token).as_deref(),
            Some("sub-ana")
        );
        // Another key (another store) refuses it.
        assert_eq!(
            key(b"another key entirely, 32 bytes!!").verify(LinkPurpose::CartRemindersOff, &token),
            None
        );
    }

    #[test]
    fn a_forged_or_altered_token_is_refused() {
        let k = key(b"0123456789abcdef0123456789abcdef");
        let token = k.sign(LinkPurpose::CartRemindersOff, "sub-ana");
        let (_, tag) = token.split_once('.').unwrap();
        // Someone else's subject with Ana's signature.
        let other = format!("{}.{tag}", URL_SAFE_NO_PAD.encode("sub-bia"));
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        let long = format!("{}.{tag}", URL_SAFE_NO_PAD.encode("x".repeat(500)));
        for bad in [
            other.as_str(),
            flipped.as_str(),
            "",
            ".",
            "no-dot",
            "c3Vi.!!!",
            long.as_str(),
        ] {
            assert_eq!(k.verify(LinkPurpose::CartRemindersOff, bad), None, "{bad}");
        }
    }

    #[test]
    fn a_stored_key_that_is_not_base64url_is_an_error_not_an_empty_key() {
        assert!(decode_secret("").is_err());
        assert!(decode_secret("not base64!").is_err());
        let secret = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let k = decode_secret(&secret).unwrap();
        let token = k.sign(LinkPurpose::CartRemindersOff, "sub");
        assert_eq!(
            key(&[7u8; 32])
                .verify(LinkPurpose::CartRemindersOff, &token)
                .as_deref(),
            Some("sub")
        );
    }
}
