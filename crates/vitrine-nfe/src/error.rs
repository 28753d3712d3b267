//! Why an input cannot become a valid NF-e.

use thiserror::Error;

use crate::ids::IdError;
use crate::key::KeyError;

/// The input cannot make a schema-valid (or SEFAZ-acceptable) document. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BuildError {
    /// `det` is `1..990`: an invoice without items.
    #[error("an NF-e needs at least one item")]
    NoItems,
    /// More than 990 items: split the order into several invoices.
    #[error("an NF-e holds at most 990 items, got {0}")]
    TooManyItems(usize),
    /// A field cannot be written as the schema wants it; `field` is its path in the document
    /// (`det[3]/prod/NCM`, `dest/enderDest/CEP`…).
    #[error("{field}: {reason}")]
    Invalid {
        /// Path of the field in the document.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// `dhEmi` needs a whole-hour UTC offset between −11:00 and +12:00 (`TDateTimeUTC`).
    #[error(
        "the issue time's UTC offset must be a whole hour from -11:00 to +12:00, got {0} seconds"
    )]
    Offset(i32),
    /// An order total differs from the sum of the items' shares.
    #[error("{field}: the order says {declared} centavos but the items add up to {items}")]
    TotalsMismatch {
        /// `ICMSTot/vFrete` or `ICMSTot/vDesc`.
        field: &'static str,
        /// The total given in the input.
        declared: i64,
        /// The sum over the items.
        items: i64,
    },
    /// An identifier was refused (convenience for callers parsing inputs with `?`).
    #[error(transparent)]
    Id(#[from] IdError),
    /// The key or `cNF` was refused.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A valid case this crate does not generate (yet).
    #[error("not supported: {0}")]
    Unsupported(String),
}

impl BuildError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> BuildError {
        BuildError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
