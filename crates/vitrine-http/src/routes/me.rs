//! The signed-in customer's profile and addresses.

use crate::route_table::{RouteTable, route};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use vitrine_app::customers::ProfileUpdate;

use crate::dto::{ProfileDto, ProfileInput, SavedAddressDto, SavedAddressInput};
use crate::extract::{Auth, Json};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

pub fn routes() -> RouteTable {
    RouteTable::new()
        .with(route!(get_me, put_me, erase_me))
        .with(route!(my_data))
        .with(route!(list_addresses, add_address))
        .with(route!(delete_address))
}

/// The caller's profile.
#[utoipa::path(get, path = "/me", tag = "customer", responses((status = 200, body = ProfileDto), (status = 401, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn get_me(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<axum::Json<ProfileDto>> {
    let profile = s.app.profile(&p.sub).await?;
    Ok(axum::Json(ProfileDto::new(&profile, &p.groups)))
}

/// Change the caller's profile.
#[utoipa::path(put, path = "/me", tag = "customer", request_body = ProfileInput,
    responses((status = 200, body = ProfileDto), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn put_me(
    State(s): State<AppState>,
    Auth(p): Auth,
    Json(i): Json<ProfileInput>,
) -> ApiResult<axum::Json<ProfileDto>> {
    let update = ProfileUpdate {
        name: i.name,
        tax_id: i.tax_id,
        phone: i.phone,
        sms_opt_in: i.sms_opt_in,
        language: i.language.unwrap_or_default(),
        marketing_emails: i.marketing_emails,
        cart_reminders: i.cart_reminders,
    };
    let profile = s.app.update_profile(&p.sub, update).await?;
    Ok(axum::Json(ProfileDto::new(&profile, &p.groups)))
}

/// The caller's saved addresses.
#[utoipa::path(get, path = "/me/addresses", tag = "customer", responses((status = 200, body = Vec<SavedAddressDto>)), security(("bearer" = [])))]
async fn list_addresses(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<axum::Json<Vec<SavedAddressDto>>> {
    Ok(axum::Json(
        s.app
            .addresses(&p.sub)
            .await?
            .iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Save an address.
#[utoipa::path(post, path = "/me/addresses", tag = "customer", request_body = SavedAddressInput,
    responses((status = 201, body = SavedAddressDto), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn add_address(
    State(s): State<AppState>,
    Auth(p): Auth,
    Json(i): Json<SavedAddressInput>,
) -> ApiResult<(StatusCode, axum::Json<SavedAddressDto>)> {
    let saved = s.app.add_address(&p.sub, i.label, i.address.into()).await?;
    Ok((StatusCode::CREATED, axum::Json((&saved).into())))
}

/// Delete a saved address.
#[utoipa::path(delete, path = "/me/addresses/{id}", tag = "customer", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn delete_address(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.app.delete_address(&p.sub, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How recent a sign-in erasing the account needs (seconds): a token left on a shared computer
/// does not erase anyone.
const ERASE_SIGN_IN_WITHIN_SECS: i64 = 15 * 60;

/// Everything the store keeps of the caller, as JSON (LGPD art. 18): profile with consents,
/// addresses, cart, orders, payments (without card data), invoices, the e-mails sent to them.
#[utoipa::path(get, path = "/me/data", tag = "customer",
    responses((status = 200, description = "the caller's data, as a JSON download"), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn my_data(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<axum::response::Response> {
    let data = s.app.export_personal_data(&p.sub).await?;
    Ok(personal_data_download(&data))
}

/// `data` as a JSON file to save.
pub fn personal_data_download(
    data: &vitrine_app::privacy::PersonalData,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [
            (axum::http::header::CONTENT_TYPE, "application/json"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"meus-dados.json\"",
            ),
        ],
        axum::Json(data),
    )
        .into_response()
}

/// What erasing an account asks for: an explicit yes.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseInput {
    /// Must be `true`.
    pub confirm: bool,
}

/// Erase the caller's account (LGPD art. 18, VI): personal data deleted, orders kept as sales
/// with the buyer erased, issued NF-e kept as fiscal records, sign-in impossible. Needs a sign-in
/// from the last 15 minutes; refused (409) while an order is unpaid or on its way.
#[utoipa::path(delete, path = "/me", tag = "customer", request_body = EraseInput,
    responses((status = 204, description = "erased"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn erase_me(
    State(s): State<AppState>,
    Auth(p): Auth,
    Json(i): Json<EraseInput>,
) -> ApiResult<StatusCode> {
    if !i.confirm {
        return Err(Problem::validation(vec![vitrine_domain::FieldError::new(
            "confirm",
            "send true to erase the account",
        )]));
    }
    let now = s.app.ports.clock.now().secs();
    if now - p.issued_at > ERASE_SIGN_IN_WITHIN_SECS {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "sign-in-again",
            "Sign in again",
            "erasing the account needs a sign-in from the last 15 minutes",
        ));
    }
    s.app.erase_customer(&p.sub, "self").await?;
    Ok(StatusCode::NO_CONTENT)
}
