//! The tax authority behind vitrine's `FiscalAuthority` port: SEFAZ's NF-e 4.00 web services,
//! spoken by [`vitrine_nfe::sefaz::SefazClient`] (SOAP 1.2 over mutual TLS with the shop's A1
//! certificate).
//!
//! [`SefazAuthority`] holds two clients: the state's authoriser and its contingency service
//! (SVC-AN or SVC-RS, `vitrine_nfe::sefaz::endpoints::contingency_authoriser`). It turns SEFAZ's
//! answers into the port's three outcomes:
//!
//! | SEFAZ | port |
//! |---|---|
//! | `protNFe` 100 / 150 | `Transmission::Authorized` with the `nfeProc` |
//! | `protNFe` 204 (the same key authorised already) | the protocol query's authorisation |
//! | any other `protNFe` or lote `cStat` (539, 598, 225…), denied 110/301–303 | `FiscalError::Rejected` with the code and text |
//! | 108 / 109 (paralysed), 656 (too many requests), HTTP 503, no connection | `Unavailable`, known not received |
//! | timeout or broken connection after sending, other 5xx, lote still processing, unreadable answer | `Unavailable`, outcome unknown: query before sending again |
//! | certificate, endpoint or schema problems on our side, HTTP 4xx | `Misconfigured` |
//! | event 135 / 136 / 155, voiding 102 | `Registered` with the archive |
//! | event 573 (duplicate) whose registration the protocol query lists | that `Registered` |
//! | any other event or voiding `cStat` (220 out of the window, 241 number used…) | `Rejected` |
//!
//! Deciding when to query, when to resend and when to move to contingency is the application's
//! (`vitrine_app::invoices`); this adapter sends each request once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use async_trait::async_trait;
use vitrine_app::fiscal::{FiscalIdentity, FiscalSettings};
use vitrine_app::ports::{Authoriser, FiscalAuthority, FiscalError, Registered, Transmission};
use vitrine_nfe::SignedNfe;
use vitrine_nfe::sefaz::{
    ClientConfig, Credentials, Event, Protocol, SefazClient, SefazError, Service, Voiding,
};

/// SEFAZ for one state and environment: its authoriser and its contingency service.
pub struct SefazAuthority {
    normal: SefazClient,
    contingency: SefazClient,
    lote: AtomicU64,
}

impl std::fmt::Debug for SefazAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SefazAuthority").finish_non_exhaustive()
    }
}

impl SefazAuthority {
    /// Clients for `normal` (its `contingency` flag is ignored) and for the contingency service
    /// (`contingency`'s settings with the flag set; `None`: the same settings as `normal`).
    /// Tests point each at its own fake with `endpoint_overrides`.
    pub fn new(
        normal: ClientConfig,
        contingency: Option<ClientConfig>,
        credentials: Credentials,
    ) -> Result<SefazAuthority, SefazError> {
        let mut contingency = contingency.unwrap_or_else(|| normal.clone());
        contingency.contingency = true;
        let mut normal = normal;
        normal.contingency = false;
        // `idLote`: 1–15 digits, unique enough per sender; milliseconds since 1970 are 13.
        let start = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        Ok(SefazAuthority {
            normal: SefazClient::new(normal, credentials.clone())?,
            contingency: SefazClient::new(contingency, credentials)?,
            lote: AtomicU64::new(u64::try_from(start).unwrap_or(1)),
        })
    }

    /// The SEFAZ of a store's settings: `identity`'s state and environment; the addresses of
    /// `settings.sefaz_url` / `svc_url` when set, else the state's authoriser and contingency
    /// service from the vendored tables; `roots` (PEM, e.g. read from `sefaz_roots_file`) and
    /// `settings.sefaz_roots_pem` trusted besides the web's roots.
    pub fn from_settings(
        identity: &FiscalIdentity,
        settings: &FiscalSettings,
        mut roots: Vec<String>,
        credentials: Credentials,
    ) -> anyhow::Result<SefazAuthority> {
        roots.extend(settings.sefaz_roots_pem.iter().cloned());
        let mut config = ClientConfig::new(identity.emitter.address.uf, identity.environment);
        config.extra_roots_pem = roots;
        config.request_timeout = Duration::from_secs(match settings.sefaz_timeout_secs {
            Some(0) => anyhow::bail!("fiscal.sefaz_timeout_secs must be at least 1"),
            s => s.unwrap_or(30),
        });
        config.connect_timeout = config.request_timeout.min(Duration::from_secs(10));
        let mut contingency = config.clone();
        config.endpoint_overrides = overrides(settings.sefaz_url.as_deref(), "sefaz_url")?;
        contingency.endpoint_overrides = overrides(settings.svc_url.as_deref(), "svc_url")?;
        SefazAuthority::new(config, Some(contingency), credentials)
            .context("fiscal: the SEFAZ client")
    }

    fn client(&self, to: Authoriser) -> &SefazClient {
        match to {
            Authoriser::Normal => &self.normal,
            Authoriser::Contingency => &self.contingency,
        }
    }

    fn next_lote(&self) -> u64 {
        self.lote.fetch_add(1, Ordering::Relaxed) % 1_000_000_000_000_000
    }
}

/// Every service at `{base}/{operation}` (`fiscal.{setting}`), or none.
fn overrides(base: Option<&str>, setting: &str) -> anyhow::Result<HashMap<Service, String>> {
    let Some(base) = base else {
        return Ok(HashMap::new());
    };
    let base = base.trim_end_matches('/');
    if !base.starts_with("https://") {
        anyhow::bail!(
            "fiscal.{setting} must be an https:// address (SEFAZ speaks mutual TLS), not {base:?}"
        );
    }
    Ok(Service::ALL
        .into_iter()
        .map(|s| (s, format!("{base}/{}", s.default_operation())))
        .collect())
}

/// The port's view of a failed exchange (see the module docs' table).
fn failure(e: SefazError) -> FiscalError {
    let unavailable = |outcome_unknown: bool, e: SefazError| FiscalError::Unavailable {
        outcome_unknown,
        source: anyhow::Error::new(e),
    };
    match e {
        SefazError::Transport {
            outcome_unknown, ..
        } => unavailable(outcome_unknown, e),
        SefazError::Http { status: 503, .. } => unavailable(false, e),
        SefazError::Http { status, .. } if status >= 500 => unavailable(true, e),
        SefazError::Http { .. } => FiscalError::Misconfigured(e.to_string()),
        SefazError::Rejected {
            cstat: 108 | 109 | 656,
            ..
        } => unavailable(false, e),
        SefazError::Rejected { cstat, reason } => FiscalError::Rejected {
            code: cstat,
            reason,
        },
        SefazError::StillProcessing { .. } | SefazError::Malformed(_) => unavailable(true, e),
        SefazError::Endpoint(_)
        | SefazError::Setup(_)
        | SefazError::InvalidRequest(_)
        | SefazError::Sign(_) => FiscalError::Misconfigured(e.to_string()),
    }
}

/// The authorisation of `nfe` by `protocol`, with its `nfeProc`.
fn authorized(
    client: &SefazClient,
    nfe: &SignedNfe,
    protocol: &Protocol,
) -> Result<Transmission, FiscalError> {
    let number = protocol
        .number
        .clone()
        .ok_or_else(|| FiscalError::Unavailable {
            outcome_unknown: true,
            source: anyhow!(
                "SEFAZ authorised {} without a protocol number",
                protocol.key
            ),
        })?;
    let nfe_proc = client.nfe_proc(nfe, protocol).map_err(|e| {
        // The authorised document is not this one (another DigestValue under the same key).
        FiscalError::Misconfigured(format!(
            "SEFAZ's authorisation of {} does not match the stored document: {e}",
            protocol.key
        ))
    })?;
    Ok(Transmission::Authorized {
        protocol: number,
        nfe_proc,
    })
}

#[async_trait]
impl FiscalAuthority for SefazAuthority {
    fn name(&self) -> &'static str {
        "sefaz"
    }

    fn has_contingency(&self) -> bool {
        true
    }

    async fn transmit(&self, nfe: &SignedNfe, to: Authoriser) -> Result<Transmission, FiscalError> {
        let client = self.client(to);
        let answer = client
            .authorise(nfe, self.next_lote())
            .await
            .map_err(failure)?;
        let protocol = answer.protocol;
        if protocol.is_authorised() {
            return authorized(client, nfe, &protocol);
        }
        if protocol.cstat == 204 {
            // "Duplicate": this very key is authorised already (an earlier send whose answer
            // was lost). Its protocol comes from the query.
            tracing::info!(nfe.key = %protocol.key, "SEFAZ: duplicate (204); reading the authorisation");
            return self
                .query(nfe, to)
                .await?
                .ok_or_else(|| FiscalError::Unavailable {
                    outcome_unknown: true,
                    source: anyhow!(
                        "SEFAZ answered 204 (duplicate) for {}, but its query finds no authorisation",
                        protocol.key
                    ),
                });
        }
        Err(FiscalError::Rejected {
            code: protocol.cstat,
            reason: protocol.reason,
        })
    }

    async fn query(
        &self,
        nfe: &SignedNfe,
        to: Authoriser,
    ) -> Result<Option<Transmission>, FiscalError> {
        let client = self.client(to);
        let answer = client.query(nfe.access_key()).await.map_err(failure)?;
        match answer.cstat {
            // Authorised (101/151/155: authorised, then cancelled; the protNFe is still the
            // authorisation's).
            100 | 150 | 101 | 151 | 155 => {
                let protocol = answer.protocol.ok_or_else(|| FiscalError::Unavailable {
                    outcome_unknown: true,
                    source: anyhow!(
                        "SEFAZ's query answered {} without the protNFe",
                        answer.cstat
                    ),
                })?;
                authorized(client, nfe, &protocol).map(Some)
            }
            // Unknown to SEFAZ: never received, or received and refused.
            217 => Ok(None),
            code => Err(FiscalError::Rejected {
                code,
                reason: answer.reason,
            }),
        }
    }

    async fn in_operation(&self, to: Authoriser) -> Result<bool, FiscalError> {
        match self.client(to).status().await {
            Ok(status) => Ok(status.in_operation()),
            Err(SefazError::Rejected {
                cstat: 108 | 109, ..
            }) => Ok(false),
            Err(e) => Err(failure(e)),
        }
    }

    async fn register_event(
        &self,
        event: &Event,
        to: Authoriser,
    ) -> Result<Registered, FiscalError> {
        let client = self.client(to);
        let result = client
            .send_event(event, self.next_lote())
            .await
            .map_err(failure)?;
        if let (Some(protocol), Some(xml)) = (result.protocol.clone(), result.proc_evento) {
            return Ok(Registered {
                code: result.cstat,
                protocol,
                xml,
            });
        }
        if result.cstat == 573 {
            // "Duplicate event": registered already (an earlier send whose answer was lost),
            // or another event holds this sequence number. The query lists what is registered.
            let answer = client.query(&event.key).await.map_err(failure)?;
            if let Some(found) = registered_event(&answer.events, &event.id()) {
                tracing::info!(nfe.key = %event.key, event = %event.id(), "SEFAZ: duplicate event (573); its registration read from the query");
                return Ok(found);
            }
        }
        Err(FiscalError::Rejected {
            code: result.cstat,
            reason: result.reason,
        })
    }

    async fn void(&self, voiding: &Voiding) -> Result<Registered, FiscalError> {
        let result = self.normal.void_range(voiding).await.map_err(failure)?;
        match (result.protocol, result.proc_inut) {
            (Some(protocol), Some(xml)) => Ok(Registered {
                code: result.cstat,
                protocol,
                xml,
            }),
            _ => Err(FiscalError::Rejected {
                code: result.cstat,
                reason: result.reason,
            }),
        }
    }
}

/// The registration of event `id` among the `procEventoNFe` a protocol query listed (each
/// already declares the NF-e namespace): the archive and its protocol.
fn registered_event(events: &[String], id: &str) -> Option<Registered> {
    events.iter().find_map(|proc| {
        let doc = roxmltree::Document::parse(proc).ok()?;
        doc.descendants()
            .find(|n| n.tag_name().name() == "infEvento" && n.attribute("Id") == Some(id))?;
        let ret = doc
            .descendants()
            .find(|n| n.tag_name().name() == "retEvento")?;
        let text = |name: &str| {
            ret.descendants()
                .find(|n| n.tag_name().name() == name)
                .and_then(|n| n.text())
                .map(|t| t.trim().to_owned())
        };
        let code: u16 = text("cStat")?.parse().ok()?;
        matches!(code, 135 | 136 | 155).then(|| Registered {
            code,
            protocol: text("nProt").unwrap_or_default(),
            xml: format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{proc}"),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(outcome_unknown: bool) -> SefazError {
        SefazError::Transport {
            kind: vitrine_nfe::sefaz::TransportKind::Timeout,
            outcome_unknown,
            message: "t".into(),
        }
    }

    #[test]
    fn failures_say_whether_the_document_may_have_arrived() {
        let unknown = |e: SefazError| match failure(e) {
            FiscalError::Unavailable {
                outcome_unknown, ..
            } => Some(outcome_unknown),
            _ => None,
        };
        assert_eq!(unknown(transport(true)), Some(true));
        assert_eq!(unknown(transport(false)), Some(false));
        let http = |status| SefazError::Http {
            status,
            message: String::new(),
        };
        assert_eq!(unknown(http(503)), Some(false));
        assert_eq!(unknown(http(500)), Some(true));
        assert!(matches!(failure(http(403)), FiscalError::Misconfigured(_)));
        let rejected = |cstat| SefazError::Rejected {
            cstat,
            reason: "x".into(),
        };
        assert_eq!(unknown(rejected(108)), Some(false));
        assert_eq!(unknown(rejected(656)), Some(false));
        assert!(matches!(
            failure(rejected(225)),
            FiscalError::Rejected { code: 225, .. }
        ));
        assert_eq!(unknown(SefazError::Malformed("x".into())), Some(true));
        assert!(matches!(
            failure(SefazError::Setup("x".into())),
            FiscalError::Misconfigured(_)
        ));
    }
}
