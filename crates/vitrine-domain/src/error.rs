//! Domain errors: what the rules refuse, in words a shop owner or a customer can act on.

use serde::Serialize;

/// One invalid field of an input, named as the API names it (`variants[0].price_centavos`).
///
/// `message` is plain English and complete. A few problems also carry a stable `code` and the
/// values their wording needs (`params`), so that a client can say the same in its own language
/// (the storefront does, in Portuguese): `city-not-in-uf` and `cep-not-in-uf` (see
/// [`crate::order::Address::validate`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub params: serde_json::Map<String, serde_json::Value>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            code: None,
            params: serde_json::Map::new(),
        }
    }

    /// The same error with a stable code for clients that word it themselves.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// The same error with one more value for the code's wording.
    pub fn with_param(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        self.params.insert(name.to_owned(), value.into());
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// A state-machine move that is not allowed from the current state.
    #[error("cannot {action} an order that is {from}")]
    IllegalTransition {
        action: &'static str,
        from: &'static str,
    },
    #[error("{0}")]
    Rule(String),
}

impl DomainError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        DomainError::Invalid(vec![FieldError::new(field, message)])
    }

    /// One line for a log or a command-line message: each invalid field with its message.
    pub fn describe(&self) -> String {
        match self {
            DomainError::Invalid(errors) => errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        }
    }
}
