//! Accounts: sign-up, confirmation, sign-in, refresh, sign-out, password reset.

use crate::route_table::{RouteTable, route};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::dto::{
    ConfirmInput, EmailInput, MessageDto, RefreshInput, ResetInput, SignInInput, SignUpInput,
    TokensDto,
};
use crate::extract::{ClientAddr, DEVICE_COOKIE, Json, MaybeAuth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

pub fn routes() -> RouteTable {
    RouteTable::new()
        .with(route!(sign_up))
        .with(route!(confirm))
        .with(route!(resend_code))
        .with(route!(sign_in))
        .with(route!(refresh))
        .with(route!(sign_out))
        .with(route!(forgot_password))
        .with(route!(reset_password))
}

fn accepted(message: &str) -> (StatusCode, axum::Json<MessageDto>) {
    (
        StatusCode::ACCEPTED,
        axum::Json(MessageDto {
            message: message.to_owned(),
        }),
    )
}

/// Create an account. A confirmation code is sent by e-mail. The answer is the same whether or
/// not the e-mail was already registered, and whether or not the address's mail budget let the
/// mail go (docs/operations.md, "Abuse limits"); 429 when this client asked for too many.
#[utoipa::path(post, path = "/auth/sign-up", tag = "auth", request_body = SignUpInput,
    responses((status = 202, body = MessageDto), (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
async fn sign_up(
    State(s): State<AppState>,
    client: ClientAddr,
    Json(i): Json<SignUpInput>,
) -> ApiResult<(StatusCode, axum::Json<MessageDto>)> {
    s.app
        .sign_up(&i.email, &i.password, &i.name, &client.info(None))
        .await?;
    Ok(accepted("check your e-mail for the confirmation code"))
}

/// Confirm an account with the code from the e-mail.
#[utoipa::path(post, path = "/auth/confirm", tag = "auth", request_body = ConfirmInput,
    responses((status = 204), (status = 400, body = Problem, content_type = "application/problem+json")))]
async fn confirm(
    State(s): State<AppState>,
    client: ClientAddr,
    Json(i): Json<ConfirmInput>,
) -> ApiResult<StatusCode> {
    s.app
        .confirm_sign_up(&i.email, &i.code, &client.info(None))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a new confirmation code.
#[utoipa::path(post, path = "/auth/resend-code", tag = "auth", request_body = EmailInput,
    responses((status = 202, body = MessageDto), (status = 429, body = Problem, content_type = "application/problem+json")))]
async fn resend_code(
    State(s): State<AppState>,
    client: ClientAddr,
    Json(i): Json<EmailInput>,
) -> ApiResult<(StatusCode, axum::Json<MessageDto>)> {
    s.app.resend_code(&i.email, &client.info(None)).await?;
    Ok(accepted(
        "if the account exists and is not confirmed, a new code is on its way",
    ))
}

/// Sign in with e-mail and password; optionally merge an anonymous cart.
#[utoipa::path(post, path = "/auth/sign-in", tag = "auth", request_body = SignInInput,
    responses((status = 200, body = TokensDto), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
async fn sign_in(
    State(s): State<AppState>,
    client: ClientAddr,
    Json(i): Json<SignInInput>,
) -> ApiResult<Response> {
    let info = client.info(i.device_token.as_deref());
    let t = s
        .app
        .sign_in(&i.email, &i.password, &info, i.cart_token.as_deref())
        .await?;
    let mut response = axum::Json(TokensDto {
        id_token: t.id_token,
        access_token: t.access_token,
        refresh_token: t.refresh_token,
        expires_in: t.expires_in,
        token_type: t.token_type,
        device_token: t.device.clone(),
    })
    .into_response();
    if let Some(device) = t.device
        && let Ok(cookie) = HeaderValue::from_str(&format!(
            "{DEVICE_COOKIE}={device}; Path=/api/v1/auth/sign-in; Max-Age={}; HttpOnly; SameSite=Strict{}",
            DEVICE_COOKIE_SECS,
            if s.security.hsts { "; Secure" } else { "" }
        ))
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// How long a browser keeps the device cookie (a year; each sign-in renews it).
const DEVICE_COOKIE_SECS: u64 = 365 * 24 * 3600;

/// New id and access tokens from a refresh token.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshInput,
    responses((status = 200, body = TokensDto), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn refresh(
    State(s): State<AppState>,
    Json(i): Json<RefreshInput>,
) -> ApiResult<axum::Json<TokensDto>> {
    let t = s.app.refresh(&i.refresh_token).await?;
    Ok(axum::Json(TokensDto {
        id_token: t.id_token,
        access_token: t.access_token,
        refresh_token: t.refresh_token,
        expires_in: t.expires_in,
        token_type: t.token_type,
        device_token: None,
    }))
}

/// Revoke a refresh token; with the session's access token in `Authorization`, that session's
/// access tokens too (refused everywhere within a minute).
#[utoipa::path(post, path = "/auth/sign-out", tag = "auth", request_body = RefreshInput, responses((status = 204)),
    security((), ("bearer" = [])))]
async fn sign_out(
    State(s): State<AppState>,
    MaybeAuth(who): MaybeAuth,
    Json(i): Json<RefreshInput>,
) -> ApiResult<StatusCode> {
    s.app.sign_out(&i.refresh_token, who.as_ref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a password reset code (the answer does not say whether the e-mail is registered).
#[utoipa::path(post, path = "/auth/forgot-password", tag = "auth", request_body = EmailInput,
    responses((status = 202, body = MessageDto), (status = 429, body = Problem, content_type = "application/problem+json")))]
async fn forgot_password(
    State(s): State<AppState>,
    client: ClientAddr,
    Json(i): Json<EmailInput>,
) -> ApiResult<(StatusCode, axum::Json<MessageDto>)> {
    s.app.forgot_password(&i.email, &client.info(None)).await?;
    Ok(accepted(
        "if the account exists, a reset code is on its way",
    ))
}

/// Set a new password with the reset code.
#[utoipa::path(post, path = "/auth/reset-password", tag = "auth", request_body = ResetInput,
    responses((status = 204), (status = 400, body = Problem, content_type = "application/problem+json")))]
async fn reset_password(
    State(s): State<AppState>,
    client: ClientAddr,
    Json(i): Json<ResetInput>,
) -> ApiResult<StatusCode> {
    s.app
        .reset_password(&i.email, &i.code, &i.new_password, &client.info(None))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
