//! Product images: the admin upload, in the admin router behind its guard, and the public read
//! (`GET /media/{key}`, outside `/api`: an image URL is a plain path a browser fetches).
//!
//! The upload the web admin uses, the same on both shapes: `POST
//! /api/v1/admin/products/{id}/image-uploads` hands out a target (an S3 presigned PUT on AWS, the
//! store's own signed `PUT /uploads/{key}` in `vitrine serve`, [`receive_upload`]); the browser
//! sends the file there, then `POST .../image-uploads/register` attaches it to the product.
//!
//! `POST /api/v1/admin/products/{id}/images`, the direct upload, takes the raw image as the body (no multipart), with its `Content-Type`; the
//! router's 64 KiB body limit does not apply to it (it reads at most
//! [`MAX_IMAGE_BYTES`](vitrine_app::media::MAX_IMAGE_BYTES) itself). Rules (accepted types, the
//! signature check, the product's version) live in `vitrine_app::media`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use futures::StreamExt;
use vitrine_app::media::{ImageType, MAX_IMAGE_BYTES};

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use serde::Deserialize;

use crate::dto::{ImageRegistration, ImageUploadDto, ImageUploadRequest, ProductDto};
use crate::extract::{IfMatch, Json, etag};
use crate::problem::{ApiResult, Problem};
use crate::route_table::{RouteTable, route};
use crate::state::AppState;

/// Routes for the admin router (nested under `/api/v1/admin`).
pub fn admin_routes() -> RouteTable {
    RouteTable::new()
        .with(route!(upload_image))
        .with(route!(request_image_upload))
        .with(route!(register_image_upload))
}

/// Ask for an upload target for an image of the product: answers where to `PUT` the file (with
/// exactly the headers given; the URL binds its content type and exact size, and lasts 10
/// minutes). Then register the answer's `key`.
#[utoipa::path(post, path = "/products/{id}/image-uploads", tag = "admin",
    params(("id" = String, Path, description = "product id")),
    request_body = ImageUploadRequest,
    responses((status = 201, body = ImageUploadDto),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "not an accepted type, empty or over 5 MiB, or too many images")),
    security(("bearer" = [])))]
async fn request_image_upload(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<ImageUploadRequest>,
) -> ApiResult<Response> {
    let upload = s
        .app
        .request_image_upload(&id, &body.content_type, body.size)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ImageUploadDto::from(upload)),
    )
        .into_response())
}

/// Register a sent upload: the file is checked (there, of the announced size, really of its
/// type) and appended to the product's images. Needs `If-Match` with the product's ETag, like
/// every product edit; answers the product with its new ETag, and the image's URL in
/// `Location`.
#[utoipa::path(post, path = "/products/{id}/image-uploads/register", tag = "admin",
    params(("id" = String, Path, description = "product id"), ("If-Match" = String, Header)),
    request_body = ImageRegistration,
    responses((status = 201, body = ProductDto),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "no such product, or no such upload (unknown key, or the file was not sent)"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "the upload is registered already"),
        (status = 410, body = Problem, content_type = "application/problem+json", description = "the upload expired"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "the file is not of its type or size, or too many images"),
        (status = 428, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn register_image_upload(
    State(s): State<AppState>,
    Path(id): Path<String>,
    version: IfMatch,
    Json(body): Json<ImageRegistration>,
) -> ApiResult<Response> {
    let version = version.required()?;
    let product = s.app.register_image_upload(&id, &body.key, version).await?;
    Ok(created_with_image(&product))
}

/// The query of an upload URL the store hands out itself.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    expires: i64,
    signature: String,
}

/// `PUT /uploads/{key}?expires=…&signature=…`: a file sent to an upload target of the store
/// itself (`vitrine serve`; on AWS browsers send to S3 and this answers 404). The signature
/// binds the key, the `Content-Type`, the exact size and the expiry; the body is read up to
/// that size and no further. Outside the OpenAPI document: a URL the API hands out, not an
/// operation to call.
pub async fn receive_upload(
    State(s): State<AppState>,
    Path(key): Path<String>,
    query: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Ok(Query(query)) = query else {
        return Problem::unauthenticated("an upload URL carries expires and signature")
            .into_response();
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = match read_at_most(body, MAX_IMAGE_BYTES).await {
        Ok(bytes) => bytes,
        Err(p) => return p.into_response(),
    };
    match s
        .app
        .receive_upload(&key, &content_type, query.expires, &query.signature, bytes)
        .await
    {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

fn too_large(limit: usize) -> Problem {
    let size = if limit >= 1024 * 1024 {
        format!("{} MiB", limit / 1024 / 1024)
    } else {
        format!("{} KiB", limit / 1024)
    };
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        "Body too large",
        format!("an image has at most {size}"),
    )
}

/// Read a body of at most `limit` bytes, whether or not the client sent a Content-Length.
async fn read_at_most(body: Body, limit: usize) -> Result<bytes::Bytes, Problem> {
    let mut bytes = BytesMut::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            Problem::bad_request("unreadable-body", "the request body could not be read")
        })?;
        if bytes.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.freeze())
}

/// 201 with the product, its ETag, and its newest image's URL in `Location`.
fn created_with_image(product: &vitrine_domain::catalog::Product) -> Response {
    let mut res = (
        StatusCode::CREATED,
        [etag(product.version)],
        axum::Json(ProductDto::from_product(product, None)),
    )
        .into_response();
    if let Some(key) = product.images.last()
        && let Ok(location) = HeaderValue::from_str(&format!("/media/{key}"))
    {
        res.headers_mut().insert(header::LOCATION, location);
    }
    res
}

/// How long a presigned image URL (S3) handed out by a redirect stays valid.
const REDIRECT_URL_SECS: u64 = 3600;

/// Add an image to a product. The body is the image itself (PNG, JPEG, WebP or AVIF, at most
/// 5 MiB) with its `Content-Type`; it must start with that format's signature. Needs `If-Match`
/// with the product's ETag, like every product edit; answers the product with its new ETag.
/// The new image's key is the last of `images`; browsers load it from `/media/{key}`.
#[utoipa::path(post, path = "/products/{id}/images", tag = "admin",
    params(("id" = String, Path, description = "product id"), ("If-Match" = String, Header)),
    request_body(content = Vec<u8>, content_type = "image/png", description = "the image's bytes: image/png, image/jpeg, image/webp or image/avif"),
    responses((status = 201, body = ProductDto),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "not that kind of image, or too many images"),
        (status = 428, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn upload_image(
    State(s): State<AppState>,
    Path(id): Path<String>,
    version: IfMatch,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let (kind, bytes) = image_body(&headers, body, MAX_IMAGE_BYTES).await?;
    let version = version.required()?;
    let product = s.app.add_product_image(&id, kind, bytes, version).await?;
    Ok(created_with_image(&product))
}

/// An image sent as the request body with its `Content-Type`: its type and its bytes, at most
/// `limit` (415 for another type, 413 over the limit, announced or not).
pub(crate) async fn image_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<(ImageType, bytes::Bytes), Problem> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(kind) = ImageType::from_content_type(declared) else {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "send the image as image/png, image/jpeg, image/webp or image/avif",
        ));
    };
    if headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > limit)
    {
        return Err(too_large(limit));
    }
    Ok((kind, read_at_most(body, limit).await?))
}

/// `GET /media/{key}`: a product image, public. Served from the Blobs port with the type its
/// extension names and a year of caching (image keys are never rewritten); on a Blobs adapter
/// that hands out direct URLs (S3), a redirect to one. Anything that is not an image under
/// `images/` is a 404.
pub async fn media(
    State(s): State<AppState>,
    Path(key): Path<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    // Image keys are never rewritten: the key is the version. A browser that has it is told so
    // without the blob store being read.
    let etag = format!("\"{key}\"");
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag)
        })
        && key.starts_with("images/")
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    match serve(&s, &key).await {
        Ok(res) => res,
        Err(p) => p.into_response(),
    }
}

async fn serve(s: &AppState, key: &str) -> ApiResult<Response> {
    if let Some(url) = s.app.media_url(key, REDIRECT_URL_SECS).await? {
        let location = HeaderValue::from_str(&url)
            .map_err(|e| Problem::internal(format!("media URL: {e}")))?;
        return Ok((
            StatusCode::FOUND,
            [
                (header::LOCATION, location),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=600"),
                ),
            ],
        )
            .into_response());
    }
    let (blob, kind) = s.app.media(key).await?.ok_or(Problem::not_found("image"))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(kind.content_type()),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
            (
                header::ETAG,
                HeaderValue::from_str(&format!("\"{key}\""))
                    .unwrap_or_else(|_| HeaderValue::from_static("\"image\"")),
            ),
            // An image needs no capabilities, whatever a browser makes of it.
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            ),
        ],
        blob.bytes,
    )
        .into_response())
}
