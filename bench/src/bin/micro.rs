//! `micro`: the cost of single steps of a request, measured in-process on one thread, to explain
//! the end-to-end figures of `load` (see docs/benchmarks.md). Prints; asserts nothing.
//!
//! - `token`: verifying an RS256 access token (2048-bit key), as every authenticated request
//!   does in `AppState::verify`: on first sight (the signature checked; a verifier that remembers
//!   nothing) and once remembered (the verifier's cache of verified tokens).

use std::time::Instant;

use vitrine_app::auth::{Claims, TokenSigner, TokenUse, TokenVerifier};
use vitrine_domain::time::Timestamp;

fn main() -> anyhow::Result<()> {
    let iterations: u32 = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(2_000);
    let signer = TokenSigner::generate()?;
    let verifier = TokenVerifier::new(
        "http://127.0.0.1:8080".into(),
        "vitrine".into(),
        &signer.jwks(),
    )?;
    let now = 1_800_000_000;
    let token = signer.sign(&Claims {
        sub: "01M8FWFYD6AYN8HGV1JKB6H1E3".into(),
        iss: "http://127.0.0.1:8080".into(),
        token_use: TokenUse::Access,
        groups: Vec::new(),
        client_id: Some("vitrine".into()),
        aud: None,
        exp: now + 3600,
        iat: now,
        auth_time: now,
        jti: "01M8FWFYD6AYN8HGV1JKB6H1E4".into(),
        username: Some("01M8FWFYD6AYN8HGV1JKB6H1E3".into()),
        email: None,
        name: None,
        origin_jti: None,
        nbf: None,
    });
    let at = Timestamp::from_secs(now + 10);
    // Warm-up, and a check that the token is valid at all.
    for _ in 0..50 {
        verifier.verify_access(&token, at)?;
    }
    let first_sight = verifier.clone().remembering(0);
    let start = Instant::now();
    for _ in 0..iterations {
        std::hint::black_box(first_sight.verify_access(std::hint::black_box(&token), at)?);
    }
    let each = start.elapsed() / iterations;
    println!(
        "token: verify_access of an RS256 access token on first sight: {:.1} µs each ({iterations} iterations, one thread)",
        each.as_secs_f64() * 1e6
    );
    let start = Instant::now();
    for _ in 0..iterations {
        std::hint::black_box(verifier.verify_access(std::hint::black_box(&token), at)?);
    }
    let each = start.elapsed() / iterations;
    println!(
        "token: verify_access of an RS256 access token once remembered: {:.2} µs each ({iterations} iterations, one thread)",
        each.as_secs_f64() * 1e6
    );
    Ok(())
}
