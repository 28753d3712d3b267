//! The smallest `lambda_http` function: an axum router that says hello to every request. The
//! baseline `bench/lambda-init.sh` compares the API Lambda's cold start with; never deployed.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;

// Same runtime flavour as the API Lambda, so the comparison is about what the API builds.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let router = Router::new().fallback(hello);
    lambda_http::run(router).await
}

async fn hello() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"hello":"world"}"#,
    )
}
