//! The client: HTTPS with mutual TLS (reqwest + rustls), one method per service.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};

use super::endpoints::{self, Endpoint, Service};
use super::messages::{self, Event, Voiding, child_text, text_of};
use super::{
    Authorisation, EventResult, Protocol, QueryResult, SefazError, ServiceStatus, TransportKind,
    VoidingResult, schemas, soap,
};
use crate::build::NFE_NAMESPACE;
use crate::ids::Uf;
use crate::key::AccessKey;
use crate::model::Environment;
use crate::sign::{self, SignedNfe, SigningCertificate, XML_DECLARATION};
use crate::validate::SchemaDocument;

/// The shop's A1 certificate, used twice: as the TLS client identity and to sign events and
/// voiding requests. Accepted as the signer accepts it: a PKCS#12 file, or PEM (certificate,
/// optionally followed by its chain, and a PKCS#8 or PKCS#1 RSA key).
#[derive(Clone)]
pub struct Credentials {
    signer: SigningCertificate,
    tls_pem: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = BASE64.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// The PEM blocks of `text`: (label, DER).
fn pem_blocks(text: &str) -> Result<Vec<(String, Vec<u8>)>, SefazError> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let label_end = after
            .find("-----")
            .ok_or_else(|| SefazError::Setup("a PEM header is not closed".into()))?;
        let label = after[..label_end].to_owned();
        let end_marker = format!("-----END {label}-----");
        let body_end = after
            .find(&end_marker)
            .ok_or_else(|| SefazError::Setup(format!("PEM block {label} has no end")))?;
        let body: String = after[label_end + 5..body_end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = BASE64
            .decode(body)
            .map_err(|e| SefazError::Setup(format!("PEM block {label}: {e}")))?;
        out.push((label, der));
        rest = &after[body_end + end_marker.len()..];
    }
    Ok(out)
}

impl Credentials {
    /// From a PKCS#12 (`.pfx`/`.p12`) file.
    pub fn from_pkcs12(der: &[u8], password: &str) -> Result<Credentials, SefazError> {
        let signer = SigningCertificate::from_pkcs12(der, password)
            .map_err(|e| SefazError::Setup(e.to_string()))?;
        let store = p12_keystore::KeyStore::from_pkcs12(der, password)
            .map_err(|e| SefazError::Setup(format!("PKCS#12: {e}")))?;
        let (_, chain) = store
            .private_key_chain()
            .ok_or_else(|| SefazError::Setup("the PKCS#12 file holds no private key".into()))?;
        let key = RsaPrivateKey::from_pkcs8_der(chain.key())
            .or_else(|_| RsaPrivateKey::from_pkcs1_der(chain.key()))
            .map_err(|e| SefazError::Setup(format!("the key is not RSA: {e}")))?;
        let others: Vec<Vec<u8>> = chain
            .chain()
            .iter()
            .map(|c| c.as_der().to_vec())
            .filter(|c| c != signer.certificate_der())
            .collect();
        Credentials::assemble(signer, &key, &others)
    }

    /// From PEM text: the certificate (then any chain certificates) and the RSA private key
    /// (`PRIVATE KEY` PKCS#8 or `RSA PRIVATE KEY` PKCS#1, unencrypted).
    pub fn from_pem(certificate_pem: &str, key_pem: &str) -> Result<Credentials, SefazError> {
        let certs: Vec<Vec<u8>> = pem_blocks(certificate_pem)?
            .into_iter()
            .filter(|(label, _)| label == "CERTIFICATE")
            .map(|(_, der)| der)
            .collect();
        let (leaf, chain) = certs
            .split_first()
            .ok_or_else(|| SefazError::Setup("no CERTIFICATE in the certificate PEM".into()))?;
        let key = pem_blocks(key_pem)?
            .into_iter()
            .find_map(|(label, der)| match label.as_str() {
                "PRIVATE KEY" => {
                    Some(RsaPrivateKey::from_pkcs8_der(&der).map_err(|e| e.to_string()))
                }
                "RSA PRIVATE KEY" => {
                    Some(RsaPrivateKey::from_pkcs1_der(&der).map_err(|e| e.to_string()))
                }
                _ => None,
            })
            .ok_or_else(|| SefazError::Setup("no PRIVATE KEY in the key PEM".into()))?
            .map_err(|e| SefazError::Setup(format!("the key is not RSA: {e}")))?;
        let pkcs8 = key
            .to_pkcs8_der()
            .map_err(|e| SefazError::Setup(format!("key encoding: {e}")))?;
        let signer = SigningCertificate::from_der(pkcs8.as_bytes(), leaf)
            .map_err(|e| SefazError::Setup(e.to_string()))?;
        Credentials::assemble(signer, &key, chain)
    }

    fn assemble(
        signer: SigningCertificate,
        key: &RsaPrivateKey,
        chain: &[Vec<u8>],
    ) -> Result<Credentials, SefazError> {
        let pkcs8 = key
            .to_pkcs8_der()
            .map_err(|e| SefazError::Setup(format!("key encoding: {e}")))?;
        let mut tls_pem = pem("CERTIFICATE", signer.certificate_der());
        for cert in chain {
            tls_pem.push_str(&pem("CERTIFICATE", cert));
        }
        tls_pem.push_str(&pem("PRIVATE KEY", pkcs8.as_bytes()));
        Ok(Credentials { signer, tls_pem })
    }

    /// The XML signer.
    pub fn signer(&self) -> &SigningCertificate {
        &self.signer
    }
}

/// Where and how the client talks.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The emitter's UF (chooses the authoriser).
    pub uf: Uf,
    /// Homologation (`tpAmb` 2) or production (1).
    pub environment: Environment,
    /// Send to the UF's contingency authoriser (SVC-AN / SVC-RS) instead.
    pub contingency: bool,
    /// Extra trusted CA certificates (PEM), e.g. the ICP-Brasil roots SEFAZ's servers chain
    /// to. Verification is never disabled.
    pub extra_roots_pem: Vec<String>,
    /// TCP + TLS connection timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// URLs replacing the table's for some services (tests point the client at a fake).
    pub endpoint_overrides: HashMap<Service, String>,
    /// Receipt queries after an asynchronous answer (103) before giving up.
    pub receipt_attempts: u32,
    /// Wait before each receipt query (SEFAZ's `tMed` is used when shorter).
    pub receipt_interval: Duration,
}

impl ClientConfig {
    /// Defaults: no contingency, no extra roots, 10 s to connect, 60 s per request, 5 receipt
    /// queries 2 s apart.
    pub fn new(uf: Uf, environment: Environment) -> ClientConfig {
        ClientConfig {
            uf,
            environment,
            contingency: false,
            extra_roots_pem: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            endpoint_overrides: HashMap::new(),
            receipt_attempts: 5,
            receipt_interval: Duration::from_secs(2),
        }
    }
}

/// The SEFAZ client (cheap to clone: the HTTP connection pool is shared).
#[derive(Debug, Clone)]
pub struct SefazClient {
    config: ClientConfig,
    credentials: Credentials,
    http: reqwest::Client,
}

fn parse_cstat(node: roxmltree::Node<'_, '_>) -> Result<(u16, String), SefazError> {
    let cstat = child_text(node, "cStat")
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| SefazError::Malformed(format!("{} has no cStat", node.tag_name().name())))?;
    Ok((cstat, child_text(node, "xMotivo").unwrap_or_default()))
}

fn parse_protocol(source: &str, prot: roxmltree::Node<'_, '_>) -> Result<Protocol, SefazError> {
    let inf = child(prot, "infProt")?;
    let (cstat, reason) = parse_cstat(inf)?;
    Ok(Protocol {
        key: child_text(inf, "chNFe").unwrap_or_default(),
        cstat,
        reason,
        number: child_text(inf, "nProt"),
        received_at: child_text(inf, "dhRecbto").unwrap_or_default(),
        digest_value: child_text(inf, "digVal"),
        xml: source[prot.range()].to_owned(),
    })
}

/// The first child `name` (NF-e namespace) of `node`, or a malformed-answer error.
fn child<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    name: &str,
) -> Result<roxmltree::Node<'a, 'i>, SefazError> {
    node.children()
        .find(|n| n.has_tag_name((NFE_NAMESPACE, name)))
        .ok_or_else(|| SefazError::Malformed(format!("{} has no {name}", node.tag_name().name())))
}

/// An archive `<root xmlns versao>` + signed request + SEFAZ's answer element, validated.
fn archive(
    root: &str,
    version: &str,
    signed: &str,
    answer: &str,
    document: SchemaDocument,
) -> Result<String, SefazError> {
    let xml = format!(
        "{XML_DECLARATION}<{root} xmlns=\"{NFE_NAMESPACE}\" versao=\"{version}\">{signed}{}</{root}>",
        standalone(answer)
    );
    schemas::validate(document, &xml)
        .map_err(|e| SefazError::Malformed(format!("{root} fails its schema: {e}")))?;
    Ok(xml)
}

fn xml_doc(xml: &str) -> Result<roxmltree::Document<'_>, SefazError> {
    roxmltree::Document::parse(xml).map_err(|e| SefazError::Malformed(format!("not XML: {e}")))
}

fn expect_root(doc: &roxmltree::Document<'_>, name: &str) -> Result<(), SefazError> {
    if doc.root_element().has_tag_name((NFE_NAMESPACE, name)) {
        Ok(())
    } else {
        Err(SefazError::Malformed(format!(
            "expected {name}, got {:?}",
            doc.root_element().tag_name()
        )))
    }
}

/// Whether the answer element declares the NF-e namespace itself (cut out, it must).
fn standalone(element: &str) -> String {
    let end = element.find('>').unwrap_or(0);
    if element[..end].contains("xmlns=") {
        return element.to_owned();
    }
    let name_end = element[1..]
        .find([' ', '>', '/'])
        .map_or(element.len(), |i| i + 1);
    format!(
        "{} xmlns=\"{NFE_NAMESPACE}\"{}",
        &element[..name_end],
        &element[name_end..]
    )
}

impl SefazClient {
    /// Builds the HTTP client (TLS identity, trusted roots, timeouts).
    pub fn new(config: ClientConfig, credentials: Credentials) -> Result<SefazClient, SefazError> {
        let identity = reqwest::Identity::from_pem(credentials.tls_pem.as_bytes())
            .map_err(|e| SefazError::Setup(format!("TLS identity: {e}")))?;
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .identity(identity)
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .https_only(true);
        for root in &config.extra_roots_pem {
            for (label, der) in pem_blocks(root)? {
                if label == "CERTIFICATE" {
                    let cert = reqwest::Certificate::from_der(&der)
                        .map_err(|e| SefazError::Setup(format!("trusted root: {e}")))?;
                    builder = builder.add_root_certificate(cert);
                }
            }
        }
        let http = builder
            .build()
            .map_err(|e| SefazError::Setup(format!("HTTP client: {e}")))?;
        Ok(SefazClient {
            config,
            credentials,
            http,
        })
    }

    /// The endpoint used for `service` (override first, then the table).
    pub fn endpoint(&self, service: Service) -> Result<Endpoint, SefazError> {
        if let Some(url) = self.config.endpoint_overrides.get(&service) {
            let mut endpoint = endpoints::endpoint(
                self.config.uf,
                self.config.environment,
                service,
                self.config.contingency,
            )
            .unwrap_or_else(|_| Endpoint::at(url.clone(), service));
            endpoint.url.clone_from(url);
            return Ok(endpoint);
        }
        Ok(endpoints::endpoint(
            self.config.uf,
            self.config.environment,
            service,
            self.config.contingency,
        )?)
    }

    /// Validates `message`, wraps it, POSTs it and returns the answer message cut out of the
    /// envelope, checked against `answer` (root element name).
    async fn call(
        &self,
        service: Service,
        document: SchemaDocument,
        message: &str,
        answer: &str,
    ) -> Result<String, SefazError> {
        schemas::validate(document, message).map_err(SefazError::InvalidRequest)?;
        let endpoint = self.endpoint(service)?;
        let body = soap::envelope("nfeDadosMsg", &endpoint.namespace(), message);
        let response = self
            .http
            .post(&endpoint.url)
            .header(
                reqwest::header::CONTENT_TYPE,
                soap::content_type(&endpoint.action()),
            )
            .body(body)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let text = response.text().await.map_err(transport)?;
        if !status.is_success() {
            let message =
                soap::fault(&text).unwrap_or_else(|| text.chars().take(200).collect::<String>());
            return Err(SefazError::Http {
                status: status.as_u16(),
                message,
            });
        }
        let unwrapped = soap::unwrap(&text, "nfeResultMsg").map_err(SefazError::Malformed)?;
        if unwrapped.namespace != endpoint.namespace() {
            return Err(SefazError::Malformed(format!(
                "nfeResultMsg in namespace {}, expected {}",
                unwrapped.namespace,
                endpoint.namespace()
            )));
        }
        if unwrapped.name != answer {
            return Err(SefazError::Malformed(format!(
                "expected {answer}, got {}",
                unwrapped.name
            )));
        }
        Ok(unwrapped.message)
    }

    /// NFeStatusServico4.
    pub async fn status(&self) -> Result<ServiceStatus, SefazError> {
        let request = messages::status_request(self.config.environment, self.config.uf);
        let answer = self
            .call(
                Service::Status,
                SchemaDocument::ConsStatServ,
                &request,
                "retConsStatServ",
            )
            .await?;
        let doc = xml_doc(&answer)?;
        let root = doc.root_element();
        let (cstat, reason) = parse_cstat(root)?;
        Ok(ServiceStatus {
            cstat,
            reason,
            received_at: child_text(root, "dhRecbto").unwrap_or_default(),
            average_seconds: child_text(root, "tMed").and_then(|t| t.parse().ok()),
        })
    }

    /// NFeAutorizacao4 with one NF-e, synchronous (`indSinc` 1), `lote` as `idLote`
    /// (1–15 digits). Follows a receipt (103) with bounded NFeRetAutorizacao4 queries.
    /// Returns SEFAZ's protocol for the NF-e whatever its verdict (check
    /// [`Protocol::is_authorised`]); a lote-level refusal (e.g. 225 schema, 656) is
    /// [`SefazError::Rejected`]. On 100/150, `nfe_proc` holds the archive (NOTES.md §4).
    pub async fn authorise(&self, nfe: &SignedNfe, lote: u64) -> Result<Authorisation, SefazError> {
        let request = messages::authorisation_request(lote, true, nfe.nfe_element());
        let answer = self
            .call(
                Service::Authorisation,
                SchemaDocument::EnviNfe,
                &request,
                "retEnviNFe",
            )
            .await?;
        let doc = xml_doc(&answer)?;
        expect_root(&doc, "retEnviNFe")?;
        let root = doc.root_element();
        let (cstat, reason) = parse_cstat(root)?;
        let (protocol, receipt) = match cstat {
            104 => (parse_protocol(&answer, child(root, "protNFe")?)?, None),
            103 => {
                let receipt = text_of(root, "nRec")
                    .ok_or_else(|| SefazError::Malformed("103 without nRec".into()))?;
                let average = text_of(root, "tMed").and_then(|t| t.parse::<u64>().ok());
                let protocol = self
                    .poll_receipt(&receipt, nfe.access_key(), average)
                    .await?;
                (protocol, Some(receipt))
            }
            _ => return Err(SefazError::Rejected { cstat, reason }),
        };
        let nfe_proc = if protocol.is_authorised() {
            Some(nfe_proc(nfe, &protocol)?)
        } else {
            None
        };
        Ok(Authorisation {
            protocol,
            receipt,
            nfe_proc,
        })
    }

    async fn poll_receipt(
        &self,
        receipt: &str,
        key: &AccessKey,
        average_seconds: Option<u64>,
    ) -> Result<Protocol, SefazError> {
        let wait = average_seconds
            .map(Duration::from_secs)
            .map_or(self.config.receipt_interval, |t| {
                t.min(self.config.receipt_interval)
            });
        for attempt in 1..=self.config.receipt_attempts {
            tokio::time::sleep(wait).await;
            match self.receipt(receipt, key).await? {
                Some(protocol) => return Ok(protocol),
                None if attempt == self.config.receipt_attempts => break,
                None => {}
            }
        }
        Err(SefazError::StillProcessing {
            receipt: receipt.to_owned(),
            attempts: self.config.receipt_attempts,
        })
    }

    /// NFeRetAutorizacao4: `Ok(None)` while the lote is in processing (105), the protocol of
    /// `key` once processed (104).
    pub async fn receipt(
        &self,
        receipt: &str,
        key: &AccessKey,
    ) -> Result<Option<Protocol>, SefazError> {
        let request = messages::receipt_request(self.config.environment, receipt);
        let answer = self
            .call(
                Service::ReceiptQuery,
                SchemaDocument::ConsReciNfe,
                &request,
                "retConsReciNFe",
            )
            .await?;
        let doc = xml_doc(&answer)?;
        let root = doc.root_element();
        let (cstat, reason) = parse_cstat(root)?;
        match cstat {
            105 => Ok(None),
            104 => {
                let prot = root
                    .children()
                    .filter(|n| n.has_tag_name((NFE_NAMESPACE, "protNFe")))
                    .find(|p| text_of(*p, "chNFe").as_deref() == Some(key.as_str()))
                    .ok_or_else(|| {
                        SefazError::Malformed(format!("104 without a protNFe for {key}"))
                    })?;
                Ok(Some(parse_protocol(&answer, prot)?))
            }
            _ => Err(SefazError::Rejected { cstat, reason }),
        }
    }

    /// NFeConsultaProtocolo4: what SEFAZ knows of `key` (resolves a timeout or a duplicate).
    pub async fn query(&self, key: &AccessKey) -> Result<QueryResult, SefazError> {
        let request = messages::protocol_query(self.config.environment, key);
        let answer = self
            .call(
                Service::ProtocolQuery,
                SchemaDocument::ConsSitNfe,
                &request,
                "retConsSitNFe",
            )
            .await?;
        let doc = xml_doc(&answer)?;
        let root = doc.root_element();
        let (cstat, reason) = parse_cstat(root)?;
        let protocol = root
            .children()
            .find(|n| n.has_tag_name((NFE_NAMESPACE, "protNFe")))
            .map(|p| parse_protocol(&answer, p))
            .transpose()?;
        let events = root
            .children()
            .filter(|n| n.has_tag_name((NFE_NAMESPACE, "procEventoNFe")))
            .map(|n| standalone(&answer[n.range()]))
            .collect();
        Ok(QueryResult {
            cstat,
            reason,
            protocol,
            events,
        })
    }

    /// Assembles `nfeProc` from a signed NF-e and a protocol obtained elsewhere (e.g. by
    /// [`SefazClient::query`] after a timeout or a 204).
    pub fn nfe_proc(&self, nfe: &SignedNfe, protocol: &Protocol) -> Result<String, SefazError> {
        nfe_proc(nfe, protocol)
    }

    /// NFeRecepcaoEvento4 with one event, signed here (`lote` as `idLote`). A lote-level
    /// refusal is [`SefazError::Rejected`]; the event's own verdict is in the result.
    pub async fn send_event(&self, event: &Event, lote: u64) -> Result<EventResult, SefazError> {
        let unsigned = event.unsigned_xml(self.config.environment);
        let det = messages::standalone_det_evento(&event.detail.det_evento());
        let det_schema = match event.detail {
            messages::EventDetail::Cancellation { .. } => SchemaDocument::DetEventoCancelamento,
            messages::EventDetail::CorrectionLetter { .. } => SchemaDocument::DetEventoCce,
        };
        schemas::validate(det_schema, &det).map_err(SefazError::InvalidRequest)?;
        let signed = sign::sign_element(
            &unsigned,
            &event.id(),
            self.credentials.signer(),
            &event.emitter,
            event.at,
        )?;
        let request = messages::event_request(lote, std::slice::from_ref(&signed));
        let answer = self
            .call(
                Service::Events,
                SchemaDocument::EnvEvento,
                &request,
                "retEnvEvento",
            )
            .await?;
        let doc = xml_doc(&answer)?;
        let root = doc.root_element();
        let (cstat, reason) = parse_cstat(root)?;
        if cstat != 128 {
            return Err(SefazError::Rejected { cstat, reason });
        }
        let ret = child(root, "retEvento")?;
        let inf = child(ret, "infEvento")?;
        let (cstat, reason) = parse_cstat(inf)?;
        let mut result = EventResult {
            cstat,
            reason,
            protocol: child_text(inf, "nProt"),
            registered_at: child_text(inf, "dhRegEvento"),
            proc_evento: None,
        };
        if result.is_registered() {
            result.proc_evento = Some(archive(
                "procEventoNFe",
                "1.00",
                &signed,
                &answer[ret.range()],
                SchemaDocument::ProcEventoNfe,
            )?);
        }
        Ok(result)
    }

    /// NFeInutilizacao4: voids a range of numbers never used (signed here).
    pub async fn void_range(&self, voiding: &Voiding) -> Result<VoidingResult, SefazError> {
        let unsigned = voiding.unsigned_xml(self.config.environment);
        let signed = sign::sign_element(
            &unsigned,
            &voiding.id(),
            self.credentials.signer(),
            &voiding.emitter,
            voiding.at,
        )?;
        let answer = self
            .call(
                Service::Voiding,
                SchemaDocument::InutNfe,
                &signed,
                "retInutNFe",
            )
            .await?;
        let doc = xml_doc(&answer)?;
        let root = doc.root_element();
        let inf = child(root, "infInut")?;
        let (cstat, reason) = parse_cstat(inf)?;
        let mut result = VoidingResult {
            cstat,
            reason,
            protocol: child_text(inf, "nProt"),
            proc_inut: None,
        };
        if result.is_voided() {
            result.proc_inut = Some(archive(
                "ProcInutNFe",
                "4.00",
                &signed,
                &answer,
                SchemaDocument::ProcInutNfe,
            )?);
        }
        Ok(result)
    }
}

/// NOTES.md §4: the protocol must be for this key and this digest, with an accepted cStat.
fn nfe_proc(nfe: &SignedNfe, protocol: &Protocol) -> Result<String, SefazError> {
    if protocol.key != nfe.access_key().as_str() {
        return Err(SefazError::Malformed(format!(
            "protNFe for {}, not {}",
            protocol.key,
            nfe.access_key()
        )));
    }
    if protocol.digest_value.as_deref() != Some(nfe.digest_value()) {
        return Err(SefazError::Malformed(format!(
            "protNFe digVal {:?} differs from the NF-e's DigestValue {}",
            protocol.digest_value,
            nfe.digest_value()
        )));
    }
    if !matches!(protocol.cstat, 100 | 150 | 110 | 205 | 301..=303) {
        return Err(SefazError::Malformed(format!(
            "no nfeProc for cStat {}",
            protocol.cstat
        )));
    }
    let proc = format!(
        "{XML_DECLARATION}<nfeProc versao=\"4.00\" xmlns=\"{NFE_NAMESPACE}\">{}{}</nfeProc>",
        nfe.nfe_element(),
        standalone(&protocol.xml)
    );
    schemas::validate(SchemaDocument::NfeProc, &proc)
        .map_err(|e| SefazError::Malformed(format!("nfeProc fails its schema: {e}")))?;
    Ok(proc)
}

fn transport(e: reqwest::Error) -> SefazError {
    let chain = {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    };
    let lower = chain.to_ascii_lowercase();
    let tls = ["tls", "certificate", "handshake", "alert"]
        .iter()
        .any(|w| lower.contains(w));
    let kind = if e.is_timeout() {
        TransportKind::Timeout
    } else if tls {
        TransportKind::Tls
    } else if e.is_connect() {
        TransportKind::Connect
    } else {
        TransportKind::Other
    };
    SefazError::Transport {
        kind,
        // Before the connection is up nothing was sent; after, SEFAZ may have the request.
        outcome_unknown: !e.is_connect() && kind != TransportKind::Tls,
        message: chain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_round_trip_and_report_broken_ones() {
        let der: Vec<u8> = (0..=255u8).collect();
        let text = format!(
            "{}junk\n{}",
            pem("CERTIFICATE", &der),
            pem("PRIVATE KEY", &[1, 2])
        );
        let blocks = pem_blocks(&text).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0], ("CERTIFICATE".to_owned(), der));
        assert_eq!(blocks[1], ("PRIVATE KEY".to_owned(), vec![1, 2]));
        assert!(pem_blocks("-----BEGIN CERTIFICATE-----\nAAAA").is_err());
        assert!(Credentials::from_pem("", "").is_err());
    }

    #[test]
    fn an_element_cut_out_of_an_answer_declares_its_namespace() {
        assert_eq!(
            standalone("<protNFe versao=\"4.00\"><a/></protNFe>"),
            format!("<protNFe xmlns=\"{NFE_NAMESPACE}\" versao=\"4.00\"><a/></protNFe>")
        );
        assert_eq!(
            standalone("<retEvento><a/></retEvento>"),
            format!("<retEvento xmlns=\"{NFE_NAMESPACE}\"><a/></retEvento>")
        );
        let declared = format!("<x xmlns=\"{NFE_NAMESPACE}\"/>");
        assert_eq!(standalone(&declared), declared);
    }

    #[test]
    fn errors_say_whether_to_retry_and_whether_the_outcome_is_known() {
        let timeout = SefazError::Transport {
            kind: TransportKind::Timeout,
            outcome_unknown: true,
            message: String::new(),
        };
        assert!(timeout.is_retryable() && timeout.outcome_unknown());
        let rejected = SefazError::Rejected {
            cstat: 225,
            reason: String::new(),
        };
        assert!(!rejected.is_retryable() && !rejected.outcome_unknown());
        let paralysed = SefazError::Rejected {
            cstat: 108,
            reason: String::new(),
        };
        assert!(paralysed.is_retryable());
        let http = |status| SefazError::Http {
            status,
            message: String::new(),
        };
        assert!(http(503).is_retryable() && !http(400).is_retryable());
    }
}
