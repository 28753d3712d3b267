//! Forged tokens against the real binary: every forgery of `vitrine_testkit::attacks`, on a
//! customer route and an admin route. A control token (the same claims re-signed by the server's
//! key) must be accepted, or the refusals would prove nothing.

use std::path::Path;

use anyhow::{Context as _, bail};
use vitrine_app::auth::TokenSigner;
use vitrine_testkit::attacks;

use crate::api;
use crate::server::{NO_SEED, USER_NAME, client, key_file, vitrine};

#[derive(Debug, Default, Clone)]
pub struct AttackReport {
    /// (forgery, requests sent, accepted)
    pub tried: Vec<(String, usize, usize)>,
}

impl AttackReport {
    pub fn sent(&self) -> usize {
        self.tried.iter().map(|t| t.1).sum()
    }

    pub fn accepted(&self) -> usize {
        self.tried.iter().map(|t| t.2).sum()
    }
}

const ROUTES: [&str; 4] = [
    "/api/v1/orders",
    "/api/v1/me",
    "/api/v1/cart",
    "/api/v1/admin/orders",
];

pub async fn run(bin: &Path, work: &Path) -> anyhow::Result<AttackReport> {
    let data_dir = work.join("attacks-data");
    let v = vitrine(bin, &data_dir, &work.join("attacks-logs"));
    v.add_user("alvo@loja.test", USER_NAME, false)?;
    let c = client();
    let mut server = v.start("attacks", NO_SEED).await?;
    let tokens = api::sign_in(&c, &server, "alvo@loja.test").await?;
    let access = api::access(&tokens);
    let id = tokens["id_token"].as_str().unwrap_or_default().to_owned();
    let pem = std::fs::read_to_string(key_file(&data_dir, "jwt-signing-key.pem"))
        .context("reading the server's signing key")?;
    let server_key = TokenSigner::from_pkcs8_pem(&pem)?;
    let stranger = TokenSigner::generate()?;
    let jwks = c
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await?
        .bytes()
        .await?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    let control = attacks::resigned(&server_key, &attacks::claims_of(&access));
    for token in [&access, &control] {
        let status = c
            .get(server.url("/api/v1/orders"))
            .bearer_auth(token)
            .send()
            .await?
            .status();
        if status != 200 {
            bail!(
                "the control token was refused ({status}): the attack results would mean nothing"
            );
        }
    }

    let mut report = AttackReport::default();
    for forgery in attacks::forgeries(&server_key, &stranger, &access, &id, &jwks, now) {
        let mut accepted = 0;
        for route in ROUTES {
            let status = c
                .get(server.url(route))
                .bearer_auth(&forgery.token)
                .send()
                .await?
                .status();
            if status != 401 {
                accepted += 1;
            }
        }
        report
            .tried
            .push((forgery.name.to_owned(), ROUTES.len(), accepted));
    }
    server.stop().await?;
    Ok(report)
}
