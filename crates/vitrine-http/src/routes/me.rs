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
        .with(route!(get_me, put_me))
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
