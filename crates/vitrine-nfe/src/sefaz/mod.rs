//! A SEFAZ client: the NF-e 4.00 web services over SOAP 1.2 and mutual TLS (shared
//! `nfe/webservices/NOTES.md`).
//!
//! ```text
//! SefazClient::new(ClientConfig, Credentials)        A1 certificate: TLS identity + XML signer
//!   .status()                consStatServ  → retConsStatServ     (107 = in operation)
//!   .authorise(&SignedNfe)   enviNFe sync  → protNFe inline (104) or receipt (103) → consReciNFe
//!                                            polls (105…) → protNFe; on 100/150 the nfeProc
//!   .query(&AccessKey)       consSitNFe    → retConsSitNFe (protNFe, events)
//!   .send_event(Event)       envEvento     → retEnvEvento (135/136/155) + procEventoNFe
//!   .void_range(Voiding)     inutNFe       → retInutNFe (102) + procInutNFe
//! ```
//!
//! - [`endpoints`]: (UF, environment, service) → URL, SOAP operation and method, from the vendored
//!   community tables; contingency (SVC-AN / SVC-RS) per UF; overrides for tests.
//! - [`soap`]: the envelope; [`messages`]: the request documents; [`schemas`]: the official
//!   web-service schemas in the crate's validator. Every request is validated before it is sent
//!   (a failure is a bug here: [`SefazError::InvalidRequest`], nothing sent), every archive
//!   (`nfeProc`, `procEventoNFe`, `procInutNFe`) before it is returned.
//! - Errors ([`SefazError`]) separate the transport (retryable; after a timeout once the request
//!   was sent the outcome is **unknown**: ask [`SefazClient::query`] before anything else), SEFAZ's
//!   answers (a rejection with its `cStat`/`xMotivo`) and malformed answers.
//!
//! Not done here: the numbering, persistence before sending, retries with backoff and the
//! choice of contingency — the application's adapter decides those.

pub mod client;
pub mod endpoints;
pub mod messages;
pub mod schemas;
pub mod soap;

pub use client::{ClientConfig, Credentials, SefazClient};
pub use endpoints::{Endpoint, EndpointError, Service};
pub use messages::{Event, EventDetail, Voiding};

use crate::sign::SignError;
use crate::validate::ValidationError;

/// How a request failed on the way (no SEFAZ answer was read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// Could not connect (refused, unreachable, DNS).
    Connect,
    /// The TLS handshake or the certificates failed (ours refused, theirs not trusted).
    Tls,
    /// No answer in time.
    Timeout,
    /// The connection broke, or the HTTP exchange failed otherwise.
    Other,
}

/// Why an operation did not give a SEFAZ answer to act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SefazError {
    /// No endpoint for the service.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// The certificate or key could not be used, or the client could not be set up.
    #[error("client set-up: {0}")]
    Setup(String),
    /// Our own request fails the official schema (nothing was sent).
    #[error("the request fails its schema: {0}")]
    InvalidRequest(ValidationError),
    /// The event or voiding request could not be signed (nothing was sent).
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The request did not get an answer. `outcome_unknown`: the request may have reached SEFAZ
    /// (a timeout or a broken connection after sending); for an authorisation, query by key
    /// before sending again.
    #[error("transport ({kind:?}, outcome unknown: {outcome_unknown}): {message}")]
    Transport {
        /// What failed.
        kind: TransportKind,
        /// Whether SEFAZ may have processed the request.
        outcome_unknown: bool,
        /// Details.
        message: String,
    },
    /// An HTTP error status or a SOAP fault instead of an answer (5xx: retry later).
    #[error("HTTP {status}: {message}")]
    Http {
        /// The HTTP status.
        status: u16,
        /// The SOAP fault's reason, or the start of the body.
        message: String,
    },
    /// SEFAZ refused the request as a whole (lote, query or event level `cStat`).
    #[error("SEFAZ rejected the request: {cstat} {reason}")]
    Rejected {
        /// `cStat`.
        cstat: u16,
        /// `xMotivo`.
        reason: String,
    },
    /// The answer is not what the protocol says (not XML, missing fields, wrong digest).
    #[error("malformed SEFAZ answer: {0}")]
    Malformed(String),
    /// The asynchronous lote was still being processed after the allowed receipt queries; the
    /// receipt can be queried later ([`SefazClient::receipt`]).
    #[error("lote still in processing after {attempts} receipt queries (nRec {receipt})")]
    StillProcessing {
        /// `nRec`.
        receipt: String,
        /// Queries made.
        attempts: u32,
    },
}

impl SefazError {
    /// Whether the same request may simply be tried again later (transport failures, 5xx,
    /// SEFAZ "paralysed" 108/109, lote still processing). After an unknown outcome, query first.
    pub fn is_retryable(&self) -> bool {
        match self {
            SefazError::Transport { .. } | SefazError::StillProcessing { .. } => true,
            SefazError::Http { status, .. } => *status >= 500,
            SefazError::Rejected { cstat, .. } => matches!(cstat, 108 | 109 | 656),
            _ => false,
        }
    }

    /// Whether SEFAZ may have processed the request although no answer was read.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            SefazError::Transport {
                outcome_unknown: true,
                ..
            }
        )
    }
}

/// `retConsStatServ`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceStatus {
    /// `cStat`: 107 in operation, 108 paralysed for a short time, 109 paralysed.
    pub cstat: u16,
    /// `xMotivo`.
    pub reason: String,
    /// `dhRecbto`.
    pub received_at: String,
    /// `tMed`: average processing time in seconds, when given.
    pub average_seconds: Option<u32>,
}

impl ServiceStatus {
    /// 107.
    pub fn in_operation(&self) -> bool {
        self.cstat == 107
    }
}

/// `protNFe/infProt`: SEFAZ's verdict on one NF-e, with the element's exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    /// `chNFe`.
    pub key: String,
    /// `cStat`: 100/150 authorised; 110, 301, 302, 303 denied; anything else rejected.
    pub cstat: u16,
    /// `xMotivo`.
    pub reason: String,
    /// `nProt`, when SEFAZ gave one.
    pub number: Option<String>,
    /// `dhRecbto`.
    pub received_at: String,
    /// `digVal`: the NF-e's `DigestValue` as SEFAZ received it.
    pub digest_value: Option<String>,
    /// The `protNFe` element as received.
    pub xml: String,
}

impl Protocol {
    /// 100 or 150: the NF-e may be used.
    pub fn is_authorised(&self) -> bool {
        matches!(self.cstat, 100 | 150)
    }

    /// 110, 301, 302, 303: use denied (the number is consumed).
    pub fn is_denied(&self) -> bool {
        matches!(self.cstat, 110 | 301..=303)
    }
}

/// The outcome of [`SefazClient::authorise`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorisation {
    /// SEFAZ's verdict on the NF-e.
    pub protocol: Protocol,
    /// `nRec` when the authoriser answered asynchronously.
    pub receipt: Option<String>,
    /// On 100/150: `nfeProc` (XML declaration, signed `NFe` byte for byte, `protNFe`), valid
    /// against `procNFe_v4.00.xsd` — the legal file to archive.
    pub nfe_proc: Option<String>,
}

/// The outcome of [`SefazClient::query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryResult {
    /// `cStat`: 100/150 authorised, 101/151/155 cancelled, 110/301/302 denied, 217 unknown…
    pub cstat: u16,
    /// `xMotivo`.
    pub reason: String,
    /// The `protNFe`, when SEFAZ has one.
    pub protocol: Option<Protocol>,
    /// `procEventoNFe` elements (cancellation, correction letters), as received.
    pub events: Vec<String>,
}

/// The outcome of one event ([`SefazClient::send_event`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventResult {
    /// `retEvento/infEvento/cStat`: 135 registered and linked, 136 registered, 155 cancelled
    /// out of time; anything else refused (573 duplicate, 580 not authorised, 220 deadline…).
    pub cstat: u16,
    /// `xMotivo`.
    pub reason: String,
    /// `nProt` of the event, when registered.
    pub protocol: Option<String>,
    /// `dhRegEvento`.
    pub registered_at: Option<String>,
    /// When registered: `procEventoNFe` (signed `evento` + `retEvento`), valid against
    /// `procEventoNFe_v1.00.xsd`.
    pub proc_evento: Option<String>,
}

impl EventResult {
    /// 135, 136 or 155.
    pub fn is_registered(&self) -> bool {
        matches!(self.cstat, 135 | 136 | 155)
    }
}

/// The outcome of [`SefazClient::void_range`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoidingResult {
    /// `cStat`: 102 voided; anything else refused (241 a number already used, 256…).
    pub cstat: u16,
    /// `xMotivo`.
    pub reason: String,
    /// `nProt`, when voided.
    pub protocol: Option<String>,
    /// When voided: `procInutNFe` (signed `inutNFe` + `retInutNFe`), valid against its schema.
    pub proc_inut: Option<String>,
}

impl VoidingResult {
    /// 102.
    pub fn is_voided(&self) -> bool {
        self.cstat == 102
    }
}
