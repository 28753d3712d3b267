//! The sales reports (`vitrine_app::reports`), for admins: the list of files, a download, and
//! generating one now. In the admin router, behind its guard.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::dto::{ReportFileDto, ReportListDto, rfc3339};
use crate::problem::ApiResult;
use crate::route_table::{RouteTable, route};
use crate::state::AppState;

/// Routes for the admin router (nested under `/api/v1/admin`).
pub fn admin_routes() -> RouteTable {
    RouteTable::new()
        .with(route!(list_reports, generate_report))
        .with(route!(report_file))
}

fn list_dto(files: Vec<vitrine_app::reports::ReportFile>) -> ReportListDto {
    ReportListDto {
        items: files
            .into_iter()
            .map(|f| {
                let name = f
                    .key
                    .strip_prefix(vitrine_app::reports::PREFIX)
                    .unwrap_or(&f.key)
                    .to_owned();
                ReportFileDto {
                    url: format!("/api/v1/admin/reports/{name}"),
                    name,
                    size: f.size,
                    created_at: f.created_at.map(rfc3339),
                    key: f.key,
                }
            })
            .collect(),
    }
}

/// The report files, newest first.
#[utoipa::path(get, path = "/reports", tag = "admin", responses((status = 200, body = ReportListDto)), security(("bearer" = [])))]
async fn list_reports(State(s): State<AppState>) -> ApiResult<axum::Json<ReportListDto>> {
    Ok(axum::Json(list_dto(s.app.report_files().await?)))
}

/// Generate a sales report of every sold order now; answers its files.
#[utoipa::path(post, path = "/reports", tag = "admin", responses((status = 201, body = ReportListDto)), security(("bearer" = [])))]
async fn generate_report(
    State(s): State<AppState>,
) -> ApiResult<(StatusCode, axum::Json<ReportListDto>)> {
    let generated = s.app.generate_report(None, None, &|_| {}).await?;
    let files = s
        .app
        .report_files()
        .await?
        .into_iter()
        .filter(|f| generated.files.contains(&f.key))
        .collect();
    Ok((StatusCode::CREATED, axum::Json(list_dto(files))))
}

/// One report file: the bytes, or a redirect to the blob store (S3).
#[utoipa::path(get, path = "/reports/{folder}/{file}", tag = "admin",
    params(("folder" = String, Path, example = "2026-11-28-203012"), ("file" = String, Path, example = "sales-by-day.csv")),
    responses((status = 200, description = "the file (CSV or SVG)"), (status = 303, description = "download it from `Location`"),
        (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn report_file(
    State(s): State<AppState>,
    Path((folder, file)): Path<(String, String)>,
) -> ApiResult<Response> {
    let name = format!("{folder}/{file}");
    let key = format!("{}{name}", vitrine_app::reports::PREFIX);
    let content_type = if name.ends_with(".svg") {
        "image/svg+xml"
    } else {
        "text/csv; charset=utf-8"
    };
    Ok(match s.app.report_file(&key).await? {
        (Some(url), _) => (StatusCode::SEE_OTHER, [(header::LOCATION, url)]).into_response(),
        (None, Some(bytes)) => (
            [
                (header::CONTENT_TYPE, content_type.to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"{}\"",
                        name.rsplit('/').next().unwrap_or("report")
                    ),
                ),
            ],
            bytes,
        )
            .into_response(),
        (None, None) => crate::problem::Problem::not_found("report").into_response(),
    })
}
