//! JWT signing and verification (RS256, Cognito's claim shape) and JWKS.
//!
//! Both identity adapters (the built-in provider and Cognito) issue RS256 JWTs whose claims have
//! Cognito's shape, so one [`TokenVerifier`] built from the provider's JWKS authenticates every
//! request. [`TokenSigner`] is what the built-in provider signs with.
//!
//! This module is pure computation: it reads no clock (callers pass `now`), fetches nothing (the
//! JWKS is handed in; header fields such as `jku` or `x5u` are ignored, never followed) and logs
//! nothing.
//!
//! Invariants of [`TokenVerifier`]:
//! - Only `alg: "RS256"` is accepted, and only with a `kid` present in the JWKS it was built from.
//!   The algorithm is fixed by the verifier, never chosen by the token: `none`, HMAC (including
//!   the "HS256 keyed with the public key" confusion) and other RSA variants are refused before any
//!   cryptography runs.
//! - The signature is checked before the claims are parsed or trusted.
//! - A token is valid while `now < exp` — no leeway. Our own tokens are checked by the process
//!   that issued them (one clock), Cognito's by servers kept in sync by NTP, and clients refresh
//!   ahead of expiry; a grace period would only stretch the life of a stolen token. `nbf`, when
//!   present, must be `<= now`.
//! - `iss` must be the configured issuer; access tokens must carry `client_id` equal to the
//!   configured client, id tokens `aud` equal to it; `token_use` must match the method called, so an
//!   id token is never accepted where an access token is required (and vice versa).
//! - Tokens longer than [`MAX_TOKEN_BYTES`] are refused unread.
//! - [`AuthError`] names the reason only: it never carries any part of the token.
//! - The signature is checked by `ring` (its RSA is constant-time and an order of magnitude
//!   faster than the pure-Rust `rsa` crate's, which only signs here). A token that passed every
//!   check is remembered by the SHA-256 of its whole text, with its claims, in a bounded cache
//!   ([`TOKEN_CACHE_ENTRIES`]) shared by the verifier's clones: the same bytes verify the same
//!   way until they expire, so a cached token is only checked again against `now` (`exp`,
//!   `nbf`) and the use asked for, with the very errors a full check gives. Refused tokens are
//!   never cached, and revocation is checked by the caller after this, cached or not.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::der::zeroize::Zeroizing;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::rand_core::OsRng;
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vitrine_domain::Timestamp;

use crate::ports::identity::{GROUP_ADMIN, GROUP_STAFF_CATALOG, GROUP_STAFF_ORDERS};

/// The longest token accepted, in bytes. Cognito's tokens are 1–2 KB even with many groups;
/// the cap bounds the work (base64, JSON, RSA) an anonymous request can make us do.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The only signature algorithm issued and accepted.
pub const ALG_RS256: &str = "RS256";

/// Size of the keys [`TokenSigner::generate`] makes.
pub const RSA_KEY_BITS: usize = 2048;

/// The smallest RSA modulus accepted, for signing keys and JWKS keys alike.
const MIN_RSA_KEY_BITS: usize = 2048;

/// How many verified tokens a [`TokenVerifier`] remembers (about 400 bytes each). When full,
/// the expired ones are dropped, and if none was, all of them: a burst of new tokens costs a
/// verification each, never unbounded memory.
pub const TOKEN_CACHE_ENTRIES: usize = 10_000;

/// One key of a JWKS (RFC 7517), as Cognito serves it at `/.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
    /// Modulus, base64url without padding, big-endian.
    pub n: String,
    /// Public exponent, base64url without padding, big-endian.
    pub e: String,
}

/// A JSON Web Key Set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// What a token is for (Cognito's `token_use` claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenUse {
    /// Identifies the user to the client (carries `aud` and `email`).
    Id,
    /// Authorizes API calls (carries `client_id` and `username`).
    Access,
}

/// The claims of an id or access token, in Cognito's shape. Claims Cognito adds that vitrine does
/// not use (`event_id`, `scope`, `cognito:username`, ...) are ignored when reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's stable identifier.
    pub sub: String,
    pub iss: String,
    pub token_use: TokenUse,
    /// Absent from Cognito tokens when the user is in no group, hence the default.
    #[serde(
        rename = "cognito:groups",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub groups: Vec<String>,
    /// The app client, on access tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The app client, on id tokens. A single string, as Cognito writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
    /// Issue time, seconds since the Unix epoch.
    pub iat: i64,
    /// When the user last authenticated with a password (kept across refreshes).
    pub auth_time: i64,
    /// This token's unique id.
    pub jti: String,
    /// On access tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// On id tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// On id tokens, when the user has a name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The id of the sign-in this token descends from (shared by refreshed tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_jti: Option<String>,
    /// Not before, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

/// The authenticated caller, as the API sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub sub: String,
    pub groups: Vec<String>,
    /// From access tokens.
    pub username: Option<String>,
    /// From id tokens.
    pub email: Option<String>,
    /// The sign-in the token descends from (`origin_jti`: shared by the tokens a refresh
    /// issues), by which a signed-out session is refused before its tokens expire.
    pub session: Option<String>,
    /// When the token was issued (`iat`, seconds): tokens issued before a password reset are
    /// refused.
    pub issued_at: i64,
}

/// What part of the admin a route belongs to; who may use it is [`Principal::may`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffArea {
    /// Products, categories, stock, images, coupons.
    Catalog,
    /// Orders, invoices, refunds; seeing any customer's order.
    Orders,
    /// What every member of staff sees: the dashboard.
    Shared,
    /// The rest: events and dead letters, reports, metrics, and anything not named above.
    Owner,
}

/// A member of staff's role, by the group that gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffRole {
    /// The store's owner (`admin`): every part of the admin.
    Owner,
    /// `staff-orders`: orders, invoices, refunds, the dashboard.
    Orders,
    /// `staff-catalog`: products, categories, stock, images, coupons, the dashboard.
    Catalog,
}

impl StaffRole {
    pub fn group(self) -> &'static str {
        match self {
            StaffRole::Owner => GROUP_ADMIN,
            StaffRole::Orders => GROUP_STAFF_ORDERS,
            StaffRole::Catalog => GROUP_STAFF_CATALOG,
        }
    }

    /// `owner`, `orders` or `catalog` (the CLI's `--role`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "owner" => Some(StaffRole::Owner),
            "orders" => Some(StaffRole::Orders),
            "catalog" => Some(StaffRole::Catalog),
            _ => None,
        }
    }
}

impl Principal {
    /// The store's owner (the `admin` group): every part of the admin.
    pub fn is_admin(&self) -> bool {
        self.in_group(GROUP_ADMIN)
    }

    /// The owner or a member of staff: may open the admin.
    pub fn is_staff(&self) -> bool {
        self.is_admin() || self.in_group(GROUP_STAFF_ORDERS) || self.in_group(GROUP_STAFF_CATALOG)
    }

    /// May use `area` of the admin: the owner all of it, each member of staff their own part
    /// and the shared one.
    pub fn may(&self, area: StaffArea) -> bool {
        self.is_admin()
            || match area {
                StaffArea::Catalog => self.in_group(GROUP_STAFF_CATALOG),
                StaffArea::Orders => self.in_group(GROUP_STAFF_ORDERS),
                StaffArea::Shared => self.is_staff(),
                StaffArea::Owner => false,
            }
    }

    fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

/// Why a token (or a key) was refused. Variants name the reason and never carry token content,
/// so they are safe to log and to map to a 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("token longer than {MAX_TOKEN_BYTES} bytes")]
    TooLarge,
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("unsupported token algorithm (only RS256 is accepted)")]
    UnsupportedAlgorithm,
    #[error("token signed with an unknown key")]
    UnknownKey,
    #[error("bad token signature")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("token not valid yet")]
    NotYetValid,
    #[error("token from another issuer")]
    WrongIssuer,
    #[error("token issued for another client")]
    WrongAudience,
    #[error("wrong kind of token (id vs access)")]
    WrongTokenUse,
    /// A signing key or JWKS that cannot be used (never caused by a token).
    #[error("invalid key: {0}")]
    InvalidKey(String),
}

/// The private key the built-in provider signs tokens with. `Debug` shows only the `kid`.
#[derive(Clone)]
pub struct TokenSigner {
    kid: String,
    key: RsaPrivateKey,
}

impl fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TokenSigner {
    /// A fresh [`RSA_KEY_BITS`]-bit key from the OS random source.
    pub fn generate() -> Result<Self, AuthError> {
        let key = RsaPrivateKey::new(&mut OsRng, RSA_KEY_BITS)
            .map_err(|e| AuthError::InvalidKey(format!("cannot generate an RSA key: {e}")))?;
        Self::from_key(key)
    }

    /// Load a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) RSA key of at least 2048 bits.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, AuthError> {
        // The underlying error is not shown: it could quote the key material.
        let key = RsaPrivateKey::from_pkcs8_pem(pem)
            .map_err(|_| AuthError::InvalidKey("not a PKCS#8 PEM RSA private key".into()))?;
        key.validate()
            .map_err(|e| AuthError::InvalidKey(format!("inconsistent RSA key: {e}")))?;
        Self::from_key(key)
    }

    /// The key as PKCS#8 PEM; the buffer is wiped when dropped.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, AuthError> {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| AuthError::InvalidKey(format!("cannot encode the key: {e}")))
    }

    fn from_key(key: RsaPrivateKey) -> Result<Self, AuthError> {
        let bits = key.size() * 8;
        if bits < MIN_RSA_KEY_BITS {
            return Err(AuthError::InvalidKey(format!(
                "RSA key of {bits} bits; at least {MIN_RSA_KEY_BITS} required"
            )));
        }
        let kid = thumbprint(&key.to_public_key());
        Ok(Self { kid, key })
    }

    /// The key id: the RFC 7638 thumbprint of the public key, so it is stable for a given key
    /// without being stored, and changes whenever the key does.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half, as published in the JWKS.
    pub fn jwk(&self) -> Jwk {
        let public = self.key.to_public_key();
        Jwk {
            kty: "RSA".into(),
            kid: self.kid.clone(),
            alg: ALG_RS256.into(),
            use_: "sig".into(),
            n: URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            e: URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        }
    }

    /// A JWKS holding this key alone.
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: vec![self.jwk()],
        }
    }

    /// Sign the claims as a compact JWS with header `{"alg":"RS256","kid":…,"typ":"JWT"}`.
    pub fn sign(&self, claims: &Claims) -> String {
        let header = Header {
            alg: ALG_RS256.into(),
            kid: Some(self.kid.clone()),
            typ: Some("JWT".into()),
        };
        sign_parts(&self.key, &header, claims)
    }
}

/// RFC 7638 thumbprint of an RSA public key: SHA-256 over the canonical JSON of its required
/// members, base64url.
fn thumbprint(key: &RsaPublicKey) -> String {
    let canonical = format!(
        r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
        URL_SAFE_NO_PAD.encode(key.n().to_bytes_be())
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The JOSE header fields vitrine reads; any other field (`jku`, `x5u`, `crit`, ...) is ignored.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
}

fn sign_parts(key: &RsaPrivateKey, header: &Header, claims: &Claims) -> String {
    // Serialising these plain structs cannot fail: every field is a string, number or list.
    let header = serde_json::to_vec(header).expect("a JWT header serialises");
    let claims = serde_json::to_vec(claims).expect("JWT claims serialise");
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    // Randomized signing blinds the private-key operation, so its timing does not leak the key.
    let signature =
        SigningKey::<Sha256>::new(key.clone()).sign_with_rng(&mut OsRng, signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    )
}

/// Checks tokens against one issuer, one app client and the keys of one JWKS.
#[derive(Clone)]
pub struct TokenVerifier {
    issuer: String,
    client_id: String,
    keys: HashMap<String, ring::signature::RsaPublicKeyComponents<Vec<u8>>>,
    verified: Arc<VerifiedTokens>,
}

/// Tokens that passed every check, by the SHA-256 of their text, with their claims.
struct VerifiedTokens {
    by_digest: RwLock<HashMap<[u8; 32], Claims>>,
    capacity: usize,
}

impl VerifiedTokens {
    fn new(capacity: usize) -> Self {
        Self {
            by_digest: RwLock::default(),
            capacity,
        }
    }
}

impl VerifiedTokens {
    fn get(&self, digest: &[u8; 32]) -> Option<Claims> {
        let map = self.by_digest.read().unwrap_or_else(|e| e.into_inner());
        map.get(digest).cloned()
    }

    fn insert(&self, digest: [u8; 32], claims: Claims, now_secs: i64) {
        let mut map = self.by_digest.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.capacity {
            map.retain(|_, c| c.exp > now_secs);
            if map.len() >= self.capacity {
                map.clear();
            }
        }
        map.insert(digest, claims);
    }

    fn len(&self) -> usize {
        self.by_digest
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut kids: Vec<&String> = self.keys.keys().collect();
        kids.sort();
        f.debug_struct("TokenVerifier")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("kids", &kids)
            .finish()
    }
}

impl TokenVerifier {
    /// Keep the JWKS keys usable for RS256 signatures (`kty: RSA`, `alg: RS256`, `use: sig`, at
    /// least 2048 bits); others are skipped. Fails when no key is usable or a usable-looking key
    /// does not decode.
    pub fn new(issuer: String, client_id: String, jwks: &Jwks) -> Result<Self, AuthError> {
        let mut keys = HashMap::new();
        for jwk in &jwks.keys {
            if jwk.kty != "RSA" || jwk.alg != ALG_RS256 || jwk.use_ != "sig" {
                continue;
            }
            let decode = |part: &str, what: &str| {
                URL_SAFE_NO_PAD
                    .decode(part)
                    .map(|b| BigUint::from_bytes_be(&b))
                    .map_err(|_| {
                        AuthError::InvalidKey(format!("JWK {}: {what} is not base64url", jwk.kid))
                    })
            };
            let public = RsaPublicKey::new(decode(&jwk.n, "n")?, decode(&jwk.e, "e")?)
                .map_err(|e| AuthError::InvalidKey(format!("JWK {}: {e}", jwk.kid)))?;
            let bits = public.size() * 8;
            if bits < MIN_RSA_KEY_BITS {
                return Err(AuthError::InvalidKey(format!(
                    "JWK {}: RSA key of {bits} bits; at least {MIN_RSA_KEY_BITS} required",
                    jwk.kid
                )));
            }
            keys.insert(
                jwk.kid.clone(),
                ring::signature::RsaPublicKeyComponents {
                    n: public.n().to_bytes_be(),
                    e: public.e().to_bytes_be(),
                },
            );
        }
        if keys.is_empty() {
            return Err(AuthError::InvalidKey(
                "the JWKS has no RS256 signing key".into(),
            ));
        }
        Ok(Self {
            issuer,
            client_id,
            keys,
            verified: Arc::new(VerifiedTokens::new(TOKEN_CACHE_ENTRIES)),
        })
    }

    /// The same verifier remembering at most `entries` verified tokens (0: none), with a memory
    /// of its own.
    pub fn remembering(mut self, entries: usize) -> Self {
        self.verified = Arc::new(VerifiedTokens::new(entries));
        self
    }

    /// How many verified tokens are remembered.
    pub fn remembered(&self) -> usize {
        self.verified.len()
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Verify an access token (the `Authorization: Bearer` of API calls).
    pub fn verify_access(&self, token: &str, now: Timestamp) -> Result<Principal, AuthError> {
        let claims = self.verify(token, now, TokenUse::Access)?;
        Ok(Principal {
            sub: claims.sub,
            groups: claims.groups,
            username: claims.username,
            email: None,
            session: claims.origin_jti,
            issued_at: claims.iat,
        })
    }

    /// Verify an id token.
    pub fn verify_id(&self, token: &str, now: Timestamp) -> Result<Principal, AuthError> {
        let claims = self.verify(token, now, TokenUse::Id)?;
        Ok(Principal {
            sub: claims.sub,
            groups: claims.groups,
            username: None,
            email: claims.email,
            session: claims.origin_jti,
            issued_at: claims.iat,
        })
    }

    /// Verify a token of the given use and return all its claims.
    pub fn verify(
        &self,
        token: &str,
        now: Timestamp,
        expected: TokenUse,
    ) -> Result<Claims, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::TooLarge);
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let claims = match self.verified.get(&digest) {
            Some(claims) => claims,
            None => {
                let claims = self.verify_uncached(token)?;
                if claims.exp > now.secs() && self.verified.capacity > 0 {
                    self.verified.insert(digest, claims.clone(), now.secs());
                }
                claims
            }
        };
        self.check(claims, now, expected)
    }

    /// The signature and the claims that do not depend on the moment or the use asked for: what
    /// a token's bytes settle once and for all.
    fn verify_uncached(&self, token: &str) -> Result<Claims, AuthError> {
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed("not three dot-separated parts"));
        };

        let header = URL_SAFE_NO_PAD
            .decode(header_b64)
            .map_err(|_| AuthError::Malformed("header is not base64url"))?;
        let header: Header = serde_json::from_slice(&header)
            .map_err(|_| AuthError::Malformed("header is not a JOSE JSON object"))?;
        if header.alg != ALG_RS256 {
            return Err(AuthError::UnsupportedAlgorithm);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.get(kid))
            .ok_or(AuthError::UnknownKey)?;

        let signature = URL_SAFE_NO_PAD
            .decode(signature_b64)
            .map_err(|_| AuthError::Malformed("signature is not base64url"))?;
        // The signing input is the token's own bytes up to the second dot, not a re-encoding.
        let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
        key.verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            signing_input.as_bytes(),
            &signature,
        )
        .map_err(|_| AuthError::BadSignature)?;

        let payload = URL_SAFE_NO_PAD
            .decode(payload_b64)
            .map_err(|_| AuthError::Malformed("payload is not base64url"))?;
        let claims: Claims = serde_json::from_slice(&payload)
            .map_err(|_| AuthError::Malformed("payload is not the expected claims"))?;
        if claims.iss != self.issuer {
            return Err(AuthError::WrongIssuer);
        }
        Ok(claims)
    }

    /// What depends on the use asked for and the moment: checked on every call.
    fn check(
        &self,
        claims: Claims,
        now: Timestamp,
        expected: TokenUse,
    ) -> Result<Claims, AuthError> {
        if claims.token_use != expected {
            return Err(AuthError::WrongTokenUse);
        }
        let audience = match expected {
            TokenUse::Access => claims.client_id.as_deref(),
            TokenUse::Id => claims.aud.as_deref(),
        };
        if audience != Some(self.client_id.as_str()) {
            return Err(AuthError::WrongAudience);
        }
        let now = now.secs();
        if claims.exp <= now {
            return Err(AuthError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| nbf > now) {
            return Err(AuthError::NotYetValid);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use hmac::{Hmac, Mac};
    use rsa::pkcs8::EncodePublicKey;

    use super::*;

    const ISSUER: &str = "http://localhost:8080/auth";
    const CLIENT: &str = "vitrine-web";
    const NOW: i64 = 1_750_000_000;

    #[test]
    fn each_role_opens_its_part_of_the_admin_and_the_dashboard() {
        use StaffArea::{Catalog, Orders, Owner, Shared};
        let of = |groups: &[&str]| Principal {
            sub: "s".into(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            username: None,
            email: None,
            session: None,
            issued_at: 0,
        };
        let areas = [Catalog, Orders, Shared, Owner];
        let opened = |p: &Principal| areas.map(|a| p.may(a));
        assert_eq!(opened(&of(&["customer"])), [false; 4]);
        assert!(!of(&["customer"]).is_staff());
        assert_eq!(opened(&of(&["customer", "admin"])), [true; 4]);
        assert_eq!(
            opened(&of(&["customer", "staff-orders"])),
            [false, true, true, false]
        );
        assert_eq!(
            opened(&of(&["customer", "staff-catalog"])),
            [true, false, true, false]
        );
        assert_eq!(
            opened(&of(&["staff-orders", "staff-catalog"])),
            [true, true, true, false]
        );
        for role in [StaffRole::Owner, StaffRole::Orders, StaffRole::Catalog] {
            assert!(crate::ports::identity::GROUPS.contains(&role.group()));
        }
        assert_eq!(StaffRole::parse("orders"), Some(StaffRole::Orders));
        assert_eq!(StaffRole::parse("root"), None);
    }

    /// Generating RSA keys is slow: one per test binary.
    fn signer() -> &'static TokenSigner {
        static SIGNER: OnceLock<TokenSigner> = OnceLock::new();
        SIGNER.get_or_init(|| TokenSigner::generate().unwrap())
    }

    /// A second key, for "signed by someone else" cases.
    fn other_signer() -> &'static TokenSigner {
        static OTHER: OnceLock<TokenSigner> = OnceLock::new();
        OTHER.get_or_init(|| TokenSigner::generate().unwrap())
    }

    fn verifier() -> TokenVerifier {
        TokenVerifier::new(ISSUER.into(), CLIENT.into(), &signer().jwks()).unwrap()
    }

    fn now() -> Timestamp {
        Timestamp::from_secs(NOW)
    }

    fn access_claims() -> Claims {
        Claims {
            sub: "01J0SUB".into(),
            iss: ISSUER.into(),
            token_use: TokenUse::Access,
            groups: vec!["customer".into()],
            client_id: Some(CLIENT.into()),
            aud: None,
            exp: NOW + 3600,
            iat: NOW,
            auth_time: NOW,
            jti: "01J0JTI".into(),
            username: Some("01J0SUB".into()),
            email: None,
            name: None,
            origin_jti: Some("01J0ORIGIN".into()),
            nbf: None,
        }
    }

    fn id_claims() -> Claims {
        Claims {
            token_use: TokenUse::Id,
            client_id: None,
            aud: Some(CLIENT.into()),
            username: None,
            email: Some("ana@example.com".into()),
            name: Some("Ana".into()),
            ..access_claims()
        }
    }

    fn b64(bytes: impl AsRef<[u8]>) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A token with an arbitrary header and payload, RS256-signed by `key`.
    fn rs256_raw(key: &RsaPrivateKey, header: &str, payload: &str) -> String {
        let input = format!("{}.{}", b64(header), b64(payload));
        let sig =
            SigningKey::<Sha256>::new(key.clone()).sign_with_rng(&mut OsRng, input.as_bytes());
        format!("{input}.{}", b64(sig.to_bytes()))
    }

    fn our_header() -> String {
        format!(
            r#"{{"alg":"RS256","kid":"{}","typ":"JWT"}}"#,
            signer().kid()
        )
    }

    #[test]
    fn a_signed_access_token_verifies_into_its_principal() {
        let token = signer().sign(&access_claims());
        let principal = verifier().verify_access(&token, now()).unwrap();
        assert_eq!(
            principal,
            Principal {
                sub: "01J0SUB".into(),
                groups: vec!["customer".into()],
                username: Some("01J0SUB".into()),
                email: None,
                session: Some("01J0ORIGIN".into()),
                issued_at: NOW,
            }
        );
        assert!(!principal.is_admin());
    }

    #[test]
    fn a_signed_id_token_verifies_with_its_email() {
        let token = signer().sign(&id_claims());
        let principal = verifier().verify_id(&token, now()).unwrap();
        assert_eq!(principal.email.as_deref(), Some("ana@example.com"));
        assert_eq!(principal.sub, "01J0SUB");
    }

    #[test]
    fn the_header_names_rs256_the_kid_and_jwt() {
        let token = signer().sign(&access_claims());
        let header = URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap();
        let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg": "RS256", "kid": signer().kid(), "typ": "JWT"})
        );
    }

    #[test]
    fn claims_serialise_with_cognito_names() {
        let claims = Claims {
            groups: vec!["admin".into()],
            ..access_claims()
        };
        let json = serde_json::to_value(&claims).unwrap();
        assert_eq!(json["cognito:groups"], serde_json::json!(["admin"]));
        assert_eq!(json["token_use"], "access");
        assert!(
            json.get("aud").is_none(),
            "absent claims are omitted, as Cognito does"
        );
        let no_groups = serde_json::to_value(Claims {
            groups: vec![],
            ..access_claims()
        })
        .unwrap();
        assert!(no_groups.get("cognito:groups").is_none());
    }

    #[test]
    fn a_cognito_shaped_access_token_with_extra_claims_verifies() {
        let payload = serde_json::json!({
            "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            "cognito:groups": ["admin"],
            "iss": ISSUER,
            "client_id": CLIENT,
            "origin_jti": "o",
            "event_id": "e",
            "token_use": "access",
            "scope": "aws.cognito.signin.user.admin",
            "auth_time": NOW,
            "exp": NOW + 60,
            "iat": NOW,
            "jti": "j",
            "username": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
        });
        let token = rs256_raw(
            &signer().key,
            &format!(r#"{{"kid":"{}","alg":"RS256"}}"#, signer().kid()),
            &payload.to_string(),
        );
        let principal = verifier().verify_access(&token, now()).unwrap();
        assert!(principal.is_admin());
    }

    #[test]
    fn the_jwks_has_cognitos_json_shape_and_round_trips() {
        let json = serde_json::to_value(signer().jwks()).unwrap();
        let key = &json["keys"][0];
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["alg"], "RS256");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["kid"], signer().kid());
        assert_eq!(key["e"], "AQAB");
        let back: Jwks = serde_json::from_value(json).unwrap();
        assert_eq!(back, signer().jwks());
    }

    #[test]
    fn a_pem_round_trip_keeps_the_key_and_its_kid() {
        let pem = signer().to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let again = TokenSigner::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(again.kid(), signer().kid());
        let token = again.sign(&access_claims());
        verifier().verify_access(&token, now()).unwrap();
        assert!(
            !format!("{again:?}").contains("PRIVATE"),
            "Debug must not show the key"
        );
    }

    #[test]
    fn a_pem_that_is_not_a_key_is_refused() {
        assert!(matches!(
            TokenSigner::from_pkcs8_pem(
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
            ),
            Err(AuthError::InvalidKey(_))
        ));
    }

    #[test]
    fn a_small_signing_key_is_refused() {
        let small = RsaPrivateKey::new(&mut OsRng, 1024).unwrap();
        let pem = small.to_pkcs8_pem(LineEnding::LF).unwrap();
        assert!(matches!(
            TokenSigner::from_pkcs8_pem(&pem),
            Err(AuthError::InvalidKey(_))
        ));
    }

    #[test]
    fn a_jwks_with_a_small_key_is_refused() {
        let small = RsaPrivateKey::new(&mut OsRng, 1024)
            .unwrap()
            .to_public_key();
        let jwk = Jwk {
            kty: "RSA".into(),
            kid: "small".into(),
            alg: "RS256".into(),
            use_: "sig".into(),
            n: b64(small.n().to_bytes_be()),
            e: b64(small.e().to_bytes_be()),
        };
        let err = TokenVerifier::new(ISSUER.into(), CLIENT.into(), &Jwks { keys: vec![jwk] })
            .unwrap_err();
        assert!(matches!(err, AuthError::InvalidKey(_)));
    }

    #[test]
    fn jwks_keys_not_meant_for_rs256_signatures_are_skipped() {
        let mut enc = signer().jwk();
        enc.use_ = "enc".into();
        let mut other_alg = signer().jwk();
        other_alg.alg = "RS512".into();
        let err = TokenVerifier::new(
            ISSUER.into(),
            CLIENT.into(),
            &Jwks {
                keys: vec![enc, other_alg],
            },
        )
        .unwrap_err();
        assert!(matches!(err, AuthError::InvalidKey(_)));
    }

    #[test]
    fn alg_none_is_refused() {
        let payload = serde_json::to_string(&access_claims()).unwrap();
        for header in [
            format!(r#"{{"alg":"none","kid":"{}"}}"#, signer().kid()),
            format!(r#"{{"alg":"None","kid":"{}"}}"#, signer().kid()),
        ] {
            let token = format!("{}.{}.", b64(&header), b64(&payload));
            assert_eq!(
                verifier().verify_access(&token, now()),
                Err(AuthError::UnsupportedAlgorithm)
            );
        }
    }

    #[test]
    fn hs256_keyed_with_the_public_key_is_refused() {
        // The classic algorithm-confusion attack: the attacker knows the public key (it is in the
        // JWKS) and uses it as an HMAC secret, hoping the verifier lets the header pick HMAC.
        let public_pem = signer()
            .key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let header = format!(
            r#"{{"alg":"HS256","kid":"{}","typ":"JWT"}}"#,
            signer().kid()
        );
        let payload = serde_json::to_string(&Claims {
            groups: vec!["admin".into()],
            ..access_claims()
        })
        .unwrap();
        let input = format!("{}.{}", b64(&header), b64(&payload));
        for secret in [
            public_pem.as_bytes().to_vec(),
            signer().key.n().to_bytes_be(),
        ] {
            let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
            mac.update(input.as_bytes());
            let token = format!("{input}.{}", b64(mac.finalize().into_bytes()));
            assert_eq!(
                verifier().verify_access(&token, now()),
                Err(AuthError::UnsupportedAlgorithm)
            );
        }
    }

    #[test]
    fn another_rsa_algorithm_is_refused_even_with_a_valid_signature() {
        use rsa::sha2::Sha512;
        let header = format!(r#"{{"alg":"RS512","kid":"{}"}}"#, signer().kid());
        let payload = serde_json::to_string(&access_claims()).unwrap();
        let input = format!("{}.{}", b64(&header), b64(&payload));
        let sig = SigningKey::<Sha512>::new(signer().key.clone())
            .sign_with_rng(&mut OsRng, input.as_bytes());
        let token = format!("{input}.{}", b64(sig.to_bytes()));
        assert_eq!(
            verifier().verify_access(&token, now()),
            Err(AuthError::UnsupportedAlgorithm)
        );
    }

    #[test]
    fn an_unknown_kid_is_refused() {
        let token = other_signer().sign(&access_claims());
        assert_eq!(
            verifier().verify_access(&token, now()),
            Err(AuthError::UnknownKey)
        );
    }

    #[test]
    fn a_token_without_kid_is_refused() {
        let payload = serde_json::to_string(&access_claims()).unwrap();
        let token = rs256_raw(&signer().key, r#"{"alg":"RS256"}"#, &payload);
        assert_eq!(
            verifier().verify_access(&token, now()),
            Err(AuthError::UnknownKey)
        );
    }

    #[test]
    fn another_key_claiming_our_kid_is_a_bad_signature() {
        let payload = serde_json::to_string(&access_claims()).unwrap();
        let token = rs256_raw(&other_signer().key, &our_header(), &payload);
        assert_eq!(
            verifier().verify_access(&token, now()),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn a_tampered_payload_is_a_bad_signature() {
        let token = signer().sign(&access_claims());
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = b64(serde_json::to_string(&Claims {
            groups: vec!["admin".into()],
            ..access_claims()
        })
        .unwrap());
        parts[1] = &forged;
        assert_eq!(
            verifier().verify_access(&parts.join("."), now()),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn a_truncated_signature_is_a_bad_signature() {
        let token = signer().sign(&access_claims());
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        let token = format!("{input}.{}", b64(&sig[..sig.len() - 1]));
        assert_eq!(
            verifier().verify_access(&token, now()),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn a_token_expires_at_exp_exactly() {
        let token = signer().sign(&Claims {
            exp: NOW,
            ..access_claims()
        });
        assert_eq!(
            verifier().verify_access(&token, now()),
            Err(AuthError::Expired)
        );
        let token = signer().sign(&Claims {
            exp: NOW + 1,
            ..access_claims()
        });
        assert!(verifier().verify_access(&token, now()).is_ok());
        assert_eq!(
            verifier().verify_access(&token, Timestamp::from_secs(NOW + 1)),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn a_remembered_token_still_expires_and_keeps_its_use_and_audience() {
        let v = verifier();
        let token = signer().sign(&Claims {
            exp: NOW + 2,
            ..access_claims()
        });
        assert!(v.verify_access(&token, now()).is_ok());
        assert_eq!(v.remembered(), 1);
        // From memory now: the same answers a full check gives.
        assert!(v.verify_access(&token, now()).is_ok());
        assert_eq!(v.verify_id(&token, now()), Err(AuthError::WrongTokenUse));
        let other_client =
            TokenVerifier::new(ISSUER.into(), "outro".into(), &signer().jwks()).unwrap();
        assert_eq!(
            other_client.verify_access(&token, now()),
            Err(AuthError::WrongAudience)
        );
        assert_eq!(
            v.verify_access(&token, Timestamp::from_secs(NOW + 2)),
            Err(AuthError::Expired)
        );
        // A clone shares the memory; a refused token is not remembered.
        let clone = v.clone();
        assert_eq!(clone.remembered(), 1);
        let tampered = format!("{}x", &token[..token.len() - 1]);
        assert!(clone.verify_access(&tampered, now()).is_err());
        assert_eq!(v.remembered(), 1);
    }

    #[test]
    fn the_memory_of_verified_tokens_is_bounded() {
        let v = verifier().remembering(3);
        let tokens: Vec<String> = (0..5)
            .map(|i| {
                signer().sign(&Claims {
                    jti: format!("jti-{i}"),
                    ..access_claims()
                })
            })
            .collect();
        for (i, token) in tokens.iter().enumerate() {
            assert!(v.verify_access(token, now()).is_ok());
            assert!(v.remembered() <= 3, "after {i}: {}", v.remembered());
        }
        // Forgotten or not, every token still verifies.
        for token in &tokens {
            assert!(v.verify_access(token, now()).is_ok());
        }
        let none = verifier().remembering(0);
        assert!(none.verify_access(&tokens[0], now()).is_ok());
        assert_eq!(none.remembered(), 0);
    }

    #[test]
    fn a_token_before_its_nbf_is_refused() {
        let token = signer().sign(&Claims {
            nbf: Some(NOW + 10),
            ..access_claims()
        });
        assert_eq!(
            verifier().verify_access(&token, now()),
            Err(AuthError::NotYetValid)
        );
        assert!(
            verifier()
                .verify_access(&token, Timestamp::from_secs(NOW + 10))
                .is_ok()
        );
    }

    #[test]
    fn a_token_from_another_issuer_is_refused() {
        let token = signer().sign(&Claims {
            iss: "https://evil.example".into(),
            ..access_claims()
        });
        assert_eq!(
            verifier().verify_access(&token, now()),
            Err(AuthError::WrongIssuer)
        );
    }

    #[test]
    fn an_access_token_for_another_client_is_refused() {
        let token = signer().sign(&Claims {
            client_id: Some("other-app".into()),
            ..access_claims()
        });
        assert_eq!(
            verifier().verify_access(&token, now()),
            Err(AuthError::WrongAudience)
        );
        let token = signer().sign(&Claims {
            client_id: None,
            aud: Some(CLIENT.into()),
            ..access_claims()
        });
        assert_eq!(
            verifier().verify_access(&token, now()),
            Err(AuthError::WrongAudience)
        );
    }

    #[test]
    fn an_id_token_for_another_audience_is_refused() {
        let token = signer().sign(&Claims {
            aud: Some("other-app".into()),
            ..id_claims()
        });
        assert_eq!(
            verifier().verify_id(&token, now()),
            Err(AuthError::WrongAudience)
        );
        let token = signer().sign(&Claims {
            aud: None,
            client_id: Some(CLIENT.into()),
            ..id_claims()
        });
        assert_eq!(
            verifier().verify_id(&token, now()),
            Err(AuthError::WrongAudience)
        );
    }

    #[test]
    fn an_id_token_is_not_an_access_token() {
        let id = signer().sign(&Claims {
            client_id: Some(CLIENT.into()),
            ..id_claims()
        });
        assert_eq!(
            verifier().verify_access(&id, now()),
            Err(AuthError::WrongTokenUse)
        );
    }

    #[test]
    fn an_access_token_is_not_an_id_token() {
        let access = signer().sign(&Claims {
            aud: Some(CLIENT.into()),
            ..access_claims()
        });
        assert_eq!(
            verifier().verify_id(&access, now()),
            Err(AuthError::WrongTokenUse)
        );
    }

    #[test]
    fn a_token_without_three_parts_is_malformed() {
        let token = signer().sign(&access_claims());
        let (two, _) = token.rsplit_once('.').unwrap();
        for bad in [
            String::new(),
            two.to_owned(),
            format!("{token}.x"),
            format!("{token}."),
        ] {
            assert!(matches!(
                verifier().verify_access(&bad, now()),
                Err(AuthError::Malformed(_))
            ));
        }
    }

    #[test]
    fn a_header_that_is_not_base64url_is_malformed() {
        let token = signer().sign(&access_claims());
        let (_, rest) = token.split_once('.').unwrap();
        for bad_header in ["e30=", "e3*9", "{}"] {
            let bad = format!("{bad_header}.{rest}");
            assert_eq!(
                verifier().verify_access(&bad, now()),
                Err(AuthError::Malformed("header is not base64url"))
            );
        }
    }

    #[test]
    fn a_header_that_is_not_json_is_malformed() {
        let token = signer().sign(&access_claims());
        let (_, rest) = token.split_once('.').unwrap();
        for header in [
            "not json",
            "[]",
            r#"{"kid":"x"}"#,
            r#"{"alg":"RS256","alg":"none"}"#,
        ] {
            let bad = format!("{}.{rest}", b64(header));
            assert!(
                matches!(
                    verifier().verify_access(&bad, now()),
                    Err(AuthError::Malformed(_))
                ),
                "{header}"
            );
        }
    }

    #[test]
    fn a_signature_that_is_not_base64url_is_malformed() {
        let token = signer().sign(&access_claims());
        let (input, _) = token.rsplit_once('.').unwrap();
        let bad = format!("{input}.@@@");
        assert!(matches!(
            verifier().verify_access(&bad, now()),
            Err(AuthError::Malformed(_))
        ));
    }

    #[test]
    fn a_validly_signed_payload_that_is_not_claims_is_malformed() {
        for payload in [
            "not json",
            "{}",
            r#"{"sub":"x"}"#,
            r#"{"token_use":"refresh"}"#,
        ] {
            let token = rs256_raw(&signer().key, &our_header(), payload);
            assert!(
                matches!(
                    verifier().verify_access(&token, now()),
                    Err(AuthError::Malformed(_))
                ),
                "{payload}"
            );
        }
        // A payload whose base64 is broken but whose bytes were signed as they are.
        let header = b64(our_header());
        let input = format!("{header}.!!!");
        let sig = SigningKey::<Sha256>::new(signer().key.clone())
            .sign_with_rng(&mut OsRng, input.as_bytes());
        let token = format!("{input}.{}", b64(sig.to_bytes()));
        assert_eq!(
            verifier().verify_access(&token, now()),
            Err(AuthError::Malformed("payload is not base64url"))
        );
    }

    #[test]
    fn an_oversized_token_is_refused_even_when_validly_signed() {
        let token = signer().sign(&Claims {
            username: Some("x".repeat(MAX_TOKEN_BYTES)),
            ..access_claims()
        });
        assert_eq!(
            verifier().verify_access(&token, now()),
            Err(AuthError::TooLarge)
        );
        let junk = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(
            verifier().verify_access(&junk, now()),
            Err(AuthError::TooLarge)
        );
    }

    #[test]
    fn errors_never_echo_the_token() {
        let secret_marker = "SECRETMARKER";
        let bad = [
            format!("{secret_marker}.{secret_marker}.{secret_marker}"),
            format!(
                "{}.{}.{secret_marker}",
                b64(format!(r#"{{"alg":"{secret_marker}"}}"#)),
                b64("{}")
            ),
            format!(
                "{}.{}.",
                b64(format!(r#"{{"alg":"RS256","kid":"{secret_marker}"}}"#)),
                b64("{}")
            ),
        ];
        for token in bad {
            let err = verifier().verify_access(&token, now()).unwrap_err();
            assert!(!format!("{err} {err:?}").contains(secret_marker), "{err:?}");
        }
    }

    #[test]
    fn the_admin_group_makes_an_admin() {
        let token = signer().sign(&Claims {
            groups: vec!["customer".into(), "admin".into()],
            ..access_claims()
        });
        assert!(verifier().verify_access(&token, now()).unwrap().is_admin());
    }
}
