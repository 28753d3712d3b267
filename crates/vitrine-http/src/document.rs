//! What the OpenAPI document says beyond the handlers' annotations, added in one place:
//!
//! - **Unique operation ids**: admin operations are `admin_<handler>` (the customer's
//!   `get_order` and the admin's are different operations).
//! - **Problem responses** every operation may give, so a client (and schemathesis, which the
//!   hardening run uses) finds every status the API answers in the document: `400` malformed
//!   request and `422` invalid input where there is input; `401` where a token is read; `403`
//!   on admin routes; `404` where the path names something; `413` and `415` where there is a
//!   body; `428` where a stale version is a `412`; `429` (per-client rate limit) and `503` (the store's storage does not answer)
//!   everywhere. An annotation's own description of a status is kept.
//! - **Links** from the operations that create something to those that use it (OpenAPI 3.1
//!   `links`), so stateful clients can follow an order, a product, a coupon from its creation.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder};

pub(crate) const ADMIN: &str = "/api/v1/admin/";

/// Complete `doc` (see the module docs).
pub fn complete(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let admin = path.starts_with(ADMIN);
        let has_path_params = path.contains('{');
        for op in operations(item) {
            if admin
                && let Some(id) = &op.operation_id
                && !id.starts_with("admin_")
            {
                op.operation_id = Some(format!("admin_{id}"));
            }
            add_problems(op, admin, has_path_params);
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn problem(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}

fn add_problems(op: &mut Operation, admin: bool, has_path_params: bool) {
    let has_body = op.request_body.is_some();
    let has_input =
        has_body || has_path_params || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let mut wanted: Vec<(&str, &str)> = Vec::new();
    if has_input {
        wanted.push((
            "400",
            "malformed request (body, query or path that cannot be read)",
        ));
        wanted.push(("422", "invalid input; `errors` lists each field"));
    }
    if secured || admin {
        wanted.push((
            "401",
            "no token where one is needed, or a token that is not valid",
        ));
    }
    if admin {
        wanted.push(("403", "the caller is not in the admin group"));
    }
    if has_path_params {
        wanted.push(("404", "not found"));
    }
    if has_body {
        wanted.push(("413", "body too large"));
        wanted.push(("415", "unsupported content type"));
    }
    // An edit that checks the version (`412` on a stale one) needs `If-Match`.
    if op.responses.responses.contains_key("412") {
        wanted.push(("428", "If-Match with the current ETag is required"));
    }
    wanted.push(("429", "too many requests from this client; see Retry-After"));
    wanted.push(("503", "the store's storage does not answer; try again"));
    for (status, description) in wanted {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| problem(description));
    }
}

/// JSON pointer to an operation of this document (RFC 6901: `/` is written `~1`).
fn operation_ref(path: &str, method: &str) -> String {
    format!(
        "#/paths/{}/{method}",
        path.replace('~', "~0").replace('/', "~1")
    )
}

/// The links, by creating operation (`POST`, answering `201`) and the field of its answer that
/// names what it created: (source path, JSON pointer into the answer, [(link name, target path,
/// target method)]). Each target path has one parameter, which the field fills.
type LinkGroup = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str, &'static str)],
);

const LINKS: &[LinkGroup] = &[
    (
        "/api/v1/orders",
        "/id",
        &[
            ("GetOrder", "/api/v1/orders/{id}", "get"),
            ("CancelOrder", "/api/v1/orders/{id}/cancel", "post"),
            ("PayOrder", "/api/v1/orders/{id}/payment", "post"),
            ("GetPayment", "/api/v1/orders/{id}/payment", "get"),
            ("GetPaymentQr", "/api/v1/orders/{id}/payment/qr.svg", "get"),
            ("GetInvoice", "/api/v1/orders/{id}/invoice", "get"),
            ("GetInvoiceInfo", "/api/v1/orders/{id}/invoice/info", "get"),
            ("AdminGetOrder", "/api/v1/admin/orders/{id}", "get"),
            ("AdminShipOrder", "/api/v1/admin/orders/{id}/ship", "post"),
            (
                "AdminCancelOrder",
                "/api/v1/admin/orders/{id}/cancel",
                "post",
            ),
            (
                "AdminDeliverOrder",
                "/api/v1/admin/orders/{id}/deliver",
                "post",
            ),
            (
                "AdminMarkPaid",
                "/api/v1/admin/orders/{id}/mark-paid",
                "post",
            ),
        ],
    ),
    (
        "/api/v1/admin/products",
        "/id",
        &[
            ("GetProduct", "/api/v1/admin/products/{id}", "get"),
            ("UpdateProduct", "/api/v1/admin/products/{id}", "put"),
            ("UploadImage", "/api/v1/admin/products/{id}/images", "post"),
            ("ShowProduct", "/api/v1/products/{id_or_slug}", "get"),
        ],
    ),
    (
        "/api/v1/admin/products",
        "/variants/0/sku",
        &[
            ("GetStock", "/api/v1/admin/stock/{sku}", "get"),
            (
                "AdjustStock",
                "/api/v1/admin/stock/{sku}/adjustments",
                "post",
            ),
            ("SetCartItem", "/api/v1/cart/items/{sku}", "put"),
            ("RemoveCartItem", "/api/v1/cart/items/{sku}", "delete"),
        ],
    ),
    (
        "/api/v1/admin/categories",
        "/id",
        &[("UpdateCategory", "/api/v1/admin/categories/{id}", "put")],
    ),
    (
        "/api/v1/admin/coupons",
        "/code",
        &[
            ("GetCoupon", "/api/v1/admin/coupons/{code}", "get"),
            ("UpdateCoupon", "/api/v1/admin/coupons/{code}", "put"),
        ],
    ),
    (
        "/api/v1/me/addresses",
        "/id",
        &[("DeleteAddress", "/api/v1/me/addresses/{id}", "delete")],
    ),
];

/// Add the links of [`LINKS`] to the document as JSON. (utoipa 5.5's `Link` serialises its
/// fields in snake case, `operation_ref`, which no client reads; the links are written here
/// with OpenAPI's names.)
pub fn add_links(doc: &mut serde_json::Value) {
    for &(source, field, targets) in LINKS {
        for &(name, target, target_method) in targets {
            let param = target
                .split_once('{')
                .and_then(|(_, rest)| rest.split_once('}'))
                .map_or("", |(param, _)| param);
            if doc["paths"][target][target_method].is_null() {
                continue;
            }
            let Some(response) = doc
                .pointer_mut(&format!(
                    "/paths/{}/post/responses/201",
                    source.replace('/', "~1")
                ))
                .and_then(|r| r.as_object_mut())
            else {
                continue;
            };
            let links = response
                .entry("links")
                .or_insert_with(|| serde_json::json!({}));
            links[name] = serde_json::json!({
                "operationRef": operation_ref(target, target_method),
                "parameters": { param: format!("$response.body#{field}") },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_refs_escape_slashes() {
        assert_eq!(
            operation_ref("/api/v1/orders/{id}", "get"),
            "#/paths/~1api~1v1~1orders~1{id}/get"
        );
    }
}
