//! Domain errors: what the rules refuse, in words a shop owner or a customer can act on.

use serde::Serialize;

/// One invalid field of an input, named as the API names it (`variants[0].price_centavos`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
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
