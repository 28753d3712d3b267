//! Accounts and tokens: sign-up, confirmation, sign-in, refresh, password reset.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpInput {
    pub email: String,
    pub password: String,
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmInput {
    pub email: String,
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailInput {
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInInput {
    pub email: String,
    pub password: String,
    /// An anonymous cart to merge into the customer's cart.
    pub cart_token: Option<String>,
    /// The `device_token` an earlier sign-in from this device returned (browsers send the
    /// `vitrine_device` cookie instead): this device keeps a failure budget of its own, so
    /// guesses at the account from elsewhere never lock it out.
    pub device_token: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshInput {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetInput {
    pub email: String,
    pub code: String,
    pub new_password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokensDto {
    pub id_token: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: u64,
    pub token_type: String,
    /// After a sign-in with the built-in identity provider: this device's token for this
    /// account (also set as the `vitrine_device` cookie); show it at the next sign-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageDto {
    pub message: String,
}
