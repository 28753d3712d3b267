//! Forged tokens: every way an attacker may try to get a token vitrine accepts, built from a
//! real access token the server issued. `tests/attacks.rs` (crate `vitrine`) sends each to a
//! running server in a test of its own; the hardening summary (`vitrine-hardening`) sends them
//! all and counts how many were accepted.
//!
//! Each forgery starts from the claims of a genuine access token, so the only thing wrong with it
//! is the one thing its name says. [`resigned`] is the control: the same claims signed again
//! with the server's own key, which the server must accept (otherwise a refusal would prove
//! nothing).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use vitrine_app::auth::{Claims, TokenSigner};

/// One forged token, and what is wrong with it.
#[derive(Debug, Clone)]
pub struct Forgery {
    pub name: &'static str,
    pub token: String,
}

/// The claims of a compact JWS, read without checking anything.
pub fn claims_of(token: &str) -> Claims {
    let payload = token
        .split('.')
        .nth(1)
        .expect("a compact JWS has a payload");
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .expect("the payload is base64url");
    serde_json::from_slice(&json).expect("the payload holds claims")
}

/// `claims` signed by the server's own key: a token the server must accept.
pub fn resigned(server_key: &TokenSigner, claims: &Claims) -> String {
    server_key.sign(claims)
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn compact(header: &serde_json::Value, claims: &Claims) -> String {
    format!(
        "{}.{}",
        b64(serde_json::to_vec(header).expect("a header serialises")),
        b64(serde_json::to_vec(claims).expect("claims serialise"))
    )
}

/// The names of every forgery [`forgeries`] builds, in order.
pub const NAMES: [&str; 11] = [
    "alg none",
    "HS256 keyed with the public key set",
    "expired",
    "not yet valid",
    "wrong issuer",
    "another app client",
    "id token used as access token",
    "tampered payload (admin group added)",
    "signed by another key (unknown kid)",
    "signed by another key claiming our kid",
    "no signature",
];

/// Every forgery of a genuine `access_token` (and its companion `id_token`), at `now` (Unix
/// seconds). `server_key` is the server's signing key, used only to keep the rest of a forgery
/// genuine; `stranger` is any other key; `jwks` is the public key set as the server publishes it.
pub fn forgeries(
    server_key: &TokenSigner,
    stranger: &TokenSigner,
    access_token: &str,
    id_token: &str,
    jwks: &[u8],
    now: i64,
) -> Vec<Forgery> {
    let claims = claims_of(access_token);
    let kid = server_key.kid().to_owned();
    let with = |edit: &dyn Fn(&mut Claims)| {
        let mut c = claims.clone();
        edit(&mut c);
        server_key.sign(&c)
    };

    let alg_none = format!(
        "{}.",
        compact(&serde_json::json!({ "alg": "none", "typ": "JWT" }), &claims)
    );
    let hs256 = {
        let input = compact(
            &serde_json::json!({ "alg": "HS256", "kid": kid, "typ": "JWT" }),
            &claims,
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(jwks).expect("HMAC takes any key");
        mac.update(input.as_bytes());
        format!("{input}.{}", b64(mac.finalize().into_bytes()))
    };
    let tampered = {
        let mut parts = access_token.split('.');
        let (header, _, signature) = (parts.next(), parts.next(), parts.next());
        let mut c = claims.clone();
        c.groups = vec!["admin".into()];
        format!(
            "{}.{}.{}",
            header.unwrap_or_default(),
            b64(serde_json::to_vec(&c).expect("claims serialise")),
            signature.unwrap_or_default()
        )
    };
    let our_kid_their_key = {
        // The stranger's signature under a header naming our key.
        let theirs = stranger.sign(&claims);
        let signature = theirs.rsplit('.').next().unwrap_or_default().to_owned();
        let input = compact(
            &serde_json::json!({ "alg": "RS256", "kid": kid, "typ": "JWT" }),
            &claims,
        );
        format!("{input}.{signature}")
    };
    let unsigned = {
        let genuine = server_key.sign(&claims);
        let cut = genuine.rfind('.').map_or(genuine.len(), |i| i + 1);
        genuine[..cut].to_owned()
    };

    let tokens = [
        alg_none,
        hs256,
        with(&|c| {
            c.exp = now - 60;
            c.iat = now - 3_660;
        }),
        with(&|c| c.nbf = Some(now + 3_600)),
        with(&|c| c.iss = "https://evil.example/".into()),
        with(&|c| c.client_id = Some("another-client".into())),
        id_token.to_owned(),
        tampered,
        stranger.sign(&claims),
        our_kid_their_key,
        unsigned,
    ];
    NAMES
        .iter()
        .zip(tokens)
        .map(|(&name, token)| Forgery { name, token })
        .collect()
}
