//! The HTTP client every provider adapter calls its provider with.

/// A provider's HTTP client: `builder` (the provider's own options) with the vitrine user agent,
/// no redirects followed (a payment call is never sent on somewhere else), and `ca_pem` trusted
/// besides the system's roots (a private CA, or a test's). Errors name the provider.
pub(crate) fn provider_client(
    provider: &str,
    builder: reqwest::ClientBuilder,
    ca_pem: Option<&str>,
) -> Result<reqwest::Client, String> {
    let mut builder = builder
        .user_agent(concat!("vitrine/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = ca_pem {
        let ca = reqwest::Certificate::from_pem(pem.as_bytes())
            .map_err(|e| format!("{provider}: ca_pem is not a PEM certificate: {e}"))?;
        builder = builder.add_root_certificate(ca);
    }
    builder
        .build()
        .map_err(|e| format!("{provider}: cannot build the HTTPS client: {e}"))
}
