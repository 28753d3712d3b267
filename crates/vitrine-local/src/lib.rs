//! vitrine's embedded adapters: everything `vitrine serve` needs on one machine with nothing else
//! installed. SQLite for the table, a folder for blobs, `.eml` files for mail (or an SMTP server
//! when one is configured), and a built-in identity provider that issues Cognito-shaped tokens.

pub mod fs_blobs;
pub mod identity;
pub mod mail;
pub mod sms;
pub mod smtp;
pub mod sqlite;
