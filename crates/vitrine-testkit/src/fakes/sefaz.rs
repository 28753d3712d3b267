//! A fake SEFAZ authoriser (NF-e 4.00, model 55) for one UF and one environment.
//!
//! HTTPS with mutual TLS on `127.0.0.1` ([`super::tls`]): a client without a certificate from
//! the fake's CA fails the handshake. Each service answers at `/<operation>` (e.g.
//! `/NFeAutorizacao4`) in SOAP 1.2, checking the `action` of the `Content-Type` and the
//! `nfeDadosMsg` namespace. Every message is validated against the official schema with the
//! crate's validator (a violation is recorded and answered 225 for a lote, 215 otherwise), its
//! XMLDSig checked (digest over the canonical signed element and RSA value with the embedded
//! certificate: 297 digest, 298 shape), and the business rules applied:
//!
//! - key: check digit (253) and agreement with `cUF`, `dhEmi` (AAMM), emitter CNPJ, model,
//!   series, number, `tpEmis`, `cNF` (502); `tpAmb` (252); `cUF` of this authoriser (226);
//! - emission type: a normal authoriser ([`FakeSefaz::start`]) takes only `tpEmis` 1 (570
//!   otherwise) without `dhCont`/`xJust` (556); a contingency authoriser
//!   ([`FakeSefaz::start_contingency`], SVC-AN 6 / SVC-RS 7) takes only its own `tpEmis` (713)
//!   with `dhCont` and `xJust` (557);
//! - homologation: `dest/xNome` must be the fixed text (598);
//! - numbering: the same number with another key (539), the same key again (204);
//! - events: the NF-e must be authorised (580), author CNPJ (574), cancellation protocol (222),
//!   24 h window (220), no second cancellation (573), correction letters with increasing
//!   `nSeqEvento` (573) up to 20 (594);
//! - voiding: a number already used (241) or voided (256).
//!
//! Modes settable from the test: [`FakeSefaz::set_delay`], [`FakeSefaz::set_down`] (HTTP 503;
//! for "connection refused", drop the fake),
//! [`FakeSefaz::reject_next`], [`FakeSefaz::set_asynchronous`] (103 + receipt, 105 once, then
//! 104), [`FakeSefaz::timeout_every`] (processes the authorisation but answers only after
//! [`FakeSefaz::set_hang`]). Its clock is the wall clock plus [`FakeSefaz::advance_clock`].
//! Every answer is validated against its own schema too: [`FakeSefaz::own_violations`] must
//! stay empty.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, Response, StatusCode};
use rsa::pkcs8::EncodePrivateKey as _;
use time::{OffsetDateTime, UtcOffset};
use vitrine_nfe::key::check_digit;
use vitrine_nfe::model::HOMOLOGATION_RECIPIENT_NAME;
use vitrine_nfe::sefaz::messages::{child_text, date_time, standalone_det_evento, text_of};
use vitrine_nfe::sefaz::{Service, schemas, soap};
use vitrine_nfe::sign::{VerifyError, verify, verify_element};
use vitrine_nfe::{Environment, SchemaDocument, Uf};

use super::tls::{Pki, TlsServer};

const NFE: &str = "http://www.portalfiscal.inf.br/nfe";
const VER_APLIC: &str = "FAKE-SEFAZ-1.0";

/// A certificate and key (PEM) the fake's CA issued for a shop: RSA 2048, usable to sign XML
/// and as the TLS client identity (`vitrine_nfe::sefaz::Credentials::from_pem`).
pub struct ShopCertificate {
    pub cert_pem: String,
    pub key_pem: String,
}

/// An authorised NF-e as the fake keeps it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub key: String,
    pub cnpj: String,
    pub series: u32,
    pub number: u32,
    pub protocol: String,
    pub prot_nfe: String,
    pub authorised_at: OffsetDateTime,
    pub cancelled: bool,
    pub last_correction: u8,
    pub events: Vec<String>,
}

#[derive(Default)]
struct State {
    clock_offset: time::Duration,
    delay: Duration,
    down: bool,
    reject: Option<(u32, u16)>,
    asynchronous: bool,
    timeout_every: Option<u32>,
    hang: Duration,
    authorisation_requests: u32,
    sequence: u64,
    authorised: HashMap<String, Stored>,
    receipts: HashMap<String, (u32, Vec<String>)>,
    voided: Vec<(String, u32, u32, u32)>,
    violations: Vec<String>,
    own_violations: Vec<String>,
    requests: Vec<(String, String)>,
}

struct Inner {
    uf: Uf,
    environment: Environment,
    /// The only `tpEmis` accepted: 1 (the UF's own authoriser), 6 (SVC-AN) or 7 (SVC-RS).
    tp_emis: u8,
    state: Mutex<State>,
}

/// The fake; stopped when dropped.
pub struct FakeSefaz {
    inner: Arc<Inner>,
    pki: Arc<Pki>,
    server: TlsServer,
}

impl FakeSefaz {
    /// Starts the fake authoriser of `uf` in `environment` (normal emission, `tpEmis` 1).
    pub async fn start(uf: Uf, environment: Environment) -> Result<FakeSefaz, String> {
        FakeSefaz::start_as(uf, environment, 1).await
    }

    /// Starts a fake contingency authoriser serving `uf`'s emitters in `environment`: SVC-AN
    /// (`tp_emis` 6) or SVC-RS (7); any other value is an error. It authorises only documents
    /// with that `tpEmis`, `dhCont` and `xJust`; the rest of its behaviour is [`FakeSefaz::start`]'s.
    pub async fn start_contingency(
        uf: Uf,
        environment: Environment,
        tp_emis: u8,
    ) -> Result<FakeSefaz, String> {
        if !matches!(tp_emis, 6 | 7) {
            return Err(format!(
                "a contingency authoriser is SVC-AN (tpEmis 6) or SVC-RS (7), not tpEmis {tp_emis}"
            ));
        }
        FakeSefaz::start_as(uf, environment, tp_emis).await
    }

    /// A contingency authoriser (SVC-AN, `tp_emis` 6, or SVC-RS, 7) for this fake's state and
    /// environment, sharing its CA: one shop certificate and one trusted root serve both, as
    /// ICP-Brasil's do for the real services.
    pub async fn contingency_for(&self, tp_emis: u8) -> Result<FakeSefaz, String> {
        if !matches!(tp_emis, 6 | 7) {
            return Err(format!(
                "a contingency authoriser is SVC-AN (tpEmis 6) or SVC-RS (7), not tpEmis {tp_emis}"
            ));
        }
        FakeSefaz::start_with(
            self.inner.uf,
            self.inner.environment,
            tp_emis,
            self.pki.clone(),
        )
        .await
    }

    async fn start_as(uf: Uf, environment: Environment, tp_emis: u8) -> Result<FakeSefaz, String> {
        let pki = Arc::new(Pki::generate("fake SEFAZ")?);
        FakeSefaz::start_with(uf, environment, tp_emis, pki).await
    }

    async fn start_with(
        uf: Uf,
        environment: Environment,
        tp_emis: u8,
        pki: Arc<Pki>,
    ) -> Result<FakeSefaz, String> {
        let inner = Arc::new(Inner {
            uf,
            environment,
            tp_emis,
            state: Mutex::new(State {
                hang: Duration::from_secs(30),
                ..State::default()
            }),
        });
        let handler_inner = inner.clone();
        let handler: super::tls::Handler = Arc::new(move |request| {
            let inner = handler_inner.clone();
            Box::pin(async move { inner.handle(request).await })
        });
        let server = TlsServer::start(pki.acceptor()?, handler).await?;
        Ok(FakeSefaz { inner, pki, server })
    }

    /// The `tpEmis` this fake authorises: 1, or 6 / 7 when started as a contingency authoriser.
    pub fn tp_emis(&self) -> u8 {
        self.inner.tp_emis
    }

    /// The URL of `service`.
    pub fn url(&self, service: Service) -> String {
        format!(
            "https://127.0.0.1:{}/{}",
            self.server.addr.port(),
            service.default_operation()
        )
    }

    /// Every service's URL, for the client's `endpoint_overrides`.
    pub fn endpoint_overrides(&self) -> HashMap<Service, String> {
        Service::ALL.iter().map(|&s| (s, self.url(s))).collect()
    }

    /// The CA (PEM) of the server certificate, for the client's extra roots.
    pub fn ca_pem(&self) -> &str {
        &self.pki.ca_pem
    }

    /// A fresh RSA certificate for a shop, issued by the fake's CA (accepted for mutual TLS).
    pub fn issue_shop_certificate(&self, company: &str) -> Result<ShopCertificate, String> {
        let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
            .map_err(|e| format!("RSA key: {e}"))?;
        let der = key.to_pkcs8_der().map_err(|e| format!("PKCS#8: {e}"))?;
        let issued = self.pki.issue_rsa_client(company, der.as_bytes())?;
        Ok(ShopCertificate {
            cert_pem: issued.cert_pem,
            key_pem: issued.key_pem,
        })
    }

    /// TLS handshakes refused (e.g. a client without a certificate).
    pub fn refused_handshakes(&self) -> usize {
        self.server.refused_handshakes()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.lock()
    }

    /// Every answer waits `delay` first.
    pub fn set_delay(&self, delay: Duration) {
        self.state().delay = delay;
    }

    /// Down: every request gets HTTP 503 with a SOAP fault.
    pub fn set_down(&self, down: bool) {
        self.state().down = down;
    }

    /// The next `count` requests are refused with `cstat` (in `protNFe` for an authorisation,
    /// in the answer's own `cStat` otherwise).
    pub fn reject_next(&self, count: u32, cstat: u16) {
        self.state().reject = (count > 0).then_some((count, cstat));
    }

    /// Authorisations answer 103 + receipt; the receipt answers 105 once, then 104.
    pub fn set_asynchronous(&self, on: bool) {
        self.state().asynchronous = on;
    }

    /// Every `n`-th authorisation request is processed (and the NF-e authorised) but answered
    /// only after the hang time; `None` turns it off.
    pub fn timeout_every(&self, n: Option<u32>) {
        self.state().timeout_every = n.filter(|n| *n > 0);
    }

    /// How long a "timeout" answer is held (30 s by default).
    pub fn set_hang(&self, hang: Duration) {
        self.state().hang = hang;
    }

    /// Moves the fake's clock forward (cancellation window).
    pub fn advance_clock(&self, by: Duration) {
        self.state().clock_offset += time::Duration::try_from(by).unwrap_or(time::Duration::ZERO);
    }

    /// The authorised NF-e with this key.
    pub fn authorised(&self, key: &str) -> Option<Stored> {
        self.state().authorised.get(key).cloned()
    }

    /// How many NF-e were authorised.
    pub fn authorised_count(&self) -> usize {
        self.state().authorised.len()
    }

    /// How many authorisation requests arrived.
    pub fn authorisation_requests(&self) -> u32 {
        self.state().authorisation_requests
    }

    /// Schema or signature violations found in requests.
    pub fn violations(&self) -> Vec<String> {
        self.state().violations.clone()
    }

    /// Answers of the fake that failed their own schema (must stay empty).
    pub fn own_violations(&self) -> Vec<String> {
        self.state().own_violations.clone()
    }

    /// Every (request message, answer message), in order.
    pub fn exchanges(&self) -> Vec<(String, String)> {
        self.state().requests.clone()
    }
}

/// SOAP faults and HTTP errors.
fn http(status: StatusCode, body: String, content_type: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

fn soap_fault(status: StatusCode, reason: &str) -> Response<Full<Bytes>> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap12:Envelope xmlns:soap12=\"{}\">\
         <soap12:Body><soap12:Fault><soap12:Code><soap12:Value>soap12:Receiver</soap12:Value>\
         </soap12:Code><soap12:Reason><soap12:Text xml:lang=\"pt\">{}</soap12:Text>\
         </soap12:Reason></soap12:Fault></soap12:Body></soap12:Envelope>",
        soap::SOAP12_NAMESPACE,
        soap::escape(reason)
    );
    http(status, body, "application/soap+xml;charset=utf-8")
}

fn motivo(cstat: u16) -> &'static str {
    match cstat {
        100 => "Autorizado o uso da NF-e",
        101 => "Cancelamento de NF-e homologado",
        102 => "Inutilizacao de numero homologado",
        103 => "Lote recebido com sucesso",
        104 => "Lote processado",
        105 => "Lote em processamento",
        106 => "Lote nao localizado",
        107 => "Servico em Operacao",
        108 => "Servico Paralisado Momentaneamente (curto prazo)",
        109 => "Servico Paralisado sem Previsao",
        128 => "Lote de Evento Processado",
        135 => "Evento registrado e vinculado a NF-e",
        204 => "Duplicidade de NF-e",
        215 => "Rejeicao: Falha no schema XML",
        217 => "Rejeicao: NF-e nao consta na base de dados da SEFAZ",
        220 => "Rejeicao: Prazo de Cancelamento superior ao previsto na Legislacao",
        222 => "Rejeicao: Protocolo de Autorizacao de Uso difere do cadastrado",
        225 => "Rejeicao: Falha no Schema XML do lote de NFe",
        226 => "Rejeicao: Codigo da UF do Emitente diverge da UF autorizadora",
        236 => "Rejeicao: Chave de Acesso com digito verificador invalido",
        241 => "Rejeicao: Um numero da faixa ja foi utilizado",
        252 => "Rejeicao: Ambiente informado diverge do Ambiente de recebimento",
        253 => "Rejeicao: Digito Verificador da chave de acesso composta invalida",
        256 => "Rejeicao: Uma NF-e da faixa ja esta inutilizada na Base de dados da SEFAZ",
        297 => "Rejeicao: Assinatura difere do calculado",
        298 => "Rejeicao: Assinatura difere do padrao do Sistema",
        502 => {
            "Rejeicao: Erro na Chave de Acesso - Campo Id nao corresponde a concatenacao dos campos correspondentes"
        }
        539 => "Duplicidade de NF-e com diferenca na Chave de Acesso",
        556 => {
            "Rejeicao: Justificativa de entrada em contingencia nao deve ser informada para tipo de emissao normal"
        }
        557 => "Rejeicao: A Justificativa de entrada em contingencia deve ser informada",
        570 => "Rejeicao: Tipo de Emissao 3, 6 ou 7 so e valido nas contingencias SCAN/SVC",
        573 => "Rejeicao: Duplicidade de Evento",
        574 => "Rejeicao: O autor do evento diverge do emissor da NF-e",
        580 => "Rejeicao: O evento exige uma NF-e autorizada",
        594 => "Rejeicao: O numero de sequencia do evento informado e maior que o permitido",
        598 => {
            "Rejeicao: NF-e emitida em ambiente de homologacao com Razao Social do destinatario diferente de NF-E EMITIDA EM AMBIENTE DE HOMOLOGACAO - SEM VALOR FISCAL"
        }
        656 => "Rejeicao: Consumo Indevido",
        713 => "Rejeicao: Tipo de Emissao diferente de 6 ou 7 para contingencia da SVC acessada",
        _ => "Rejeicao",
    }
}

fn signature_cstat(e: &VerifyError) -> u16 {
    match e {
        VerifyError::DigestMismatch { .. } | VerifyError::BadSignature => 297,
        _ => 298,
    }
}

/// What a service answers, before wrapping.
struct Answer {
    message: String,
    document: SchemaDocument,
    hang: bool,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> OffsetDateTime {
        let offset = UtcOffset::from_hms(-3, 0, 0).expect("a valid offset");
        (OffsetDateTime::now_utc() + self.lock().clock_offset).to_offset(offset)
    }

    fn amb(&self) -> u8 {
        self.environment.code()
    }

    fn cuf(&self) -> u8 {
        self.uf.ibge_code()
    }

    async fn handle(&self, request: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        let delay = {
            let state = self.lock();
            if state.down {
                return soap_fault(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
            }
            state.delay
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let path = request.uri().path().trim_start_matches('/').to_owned();
        let Some(service) = Service::ALL
            .into_iter()
            .find(|s| s.default_operation() == path)
        else {
            return http(
                StatusCode::NOT_FOUND,
                "no such service".into(),
                "text/plain",
            );
        };
        let namespace = format!(
            "{}{}",
            vitrine_nfe::sefaz::endpoints::WSDL_NAMESPACE_PREFIX,
            path
        );
        let action = format!("{namespace}/{}", service.default_method());
        let content_type = request
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if !content_type.starts_with("application/soap+xml")
            || !content_type.contains(&format!("action=\"{action}\""))
        {
            return soap_fault(
                StatusCode::BAD_REQUEST,
                &format!("expected application/soap+xml with action {action}, got {content_type}"),
            );
        }
        let body = match request.into_body().collect().await {
            Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
            Err(e) => return soap_fault(StatusCode::BAD_REQUEST, &e.to_string()),
        };
        let unwrapped = match soap::unwrap(&body, "nfeDadosMsg") {
            Ok(u) if u.namespace == namespace => u,
            Ok(u) => {
                return soap_fault(
                    StatusCode::BAD_REQUEST,
                    &format!("nfeDadosMsg namespace {} is not {namespace}", u.namespace),
                );
            }
            Err(e) => return soap_fault(StatusCode::BAD_REQUEST, &e),
        };
        let answer = match service {
            Service::Status => self.status(&unwrapped.message),
            Service::Authorisation => self.authorise(&unwrapped.message),
            Service::ReceiptQuery => self.receipt(&unwrapped.message),
            Service::ProtocolQuery => self.query(&unwrapped.message),
            Service::Events => self.events(&unwrapped.message),
            Service::Voiding => self.void(&unwrapped.message),
        };
        let hang = {
            let mut state = self.lock();
            if let Err(e) = schemas::validate(answer.document, &answer.message) {
                state
                    .own_violations
                    .push(format!("{:?}: {e}: {}", answer.document, answer.message));
            }
            state
                .requests
                .push((unwrapped.message.clone(), answer.message.clone()));
            answer.hang.then_some(state.hang)
        };
        if let Some(hang) = hang {
            tokio::time::sleep(hang).await;
        }
        http(
            StatusCode::OK,
            soap::envelope("nfeResultMsg", &namespace, &answer.message),
            "application/soap+xml;charset=utf-8",
        )
    }

    /// Validates a request; records and returns the violation.
    fn check_schema(&self, document: SchemaDocument, message: &str) -> Result<(), String> {
        schemas::validate(document, message).map_err(|e| {
            let violation = format!("{document:?}: {e}");
            self.lock().violations.push(violation.clone());
            violation
        })
    }

    /// Takes one rejection of [`FakeSefaz::reject_next`], if armed.
    fn take_rejection(&self) -> Option<u16> {
        let mut state = self.lock();
        let (left, cstat) = state.reject?;
        state.reject = (left > 1).then_some((left - 1, cstat));
        Some(cstat)
    }

    fn next_sequence(&self) -> u64 {
        let mut state = self.lock();
        state.sequence += 1;
        state.sequence
    }

    /// A 15-digit protocol number: 1 + cUF + yy + 10-digit sequence.
    fn protocol_number(&self) -> String {
        let year = self.now().year() % 100;
        format!("1{:02}{:02}{:010}", self.cuf(), year, self.next_sequence())
    }

    fn status(&self, message: &str) -> Answer {
        let cstat = match self.check_schema(SchemaDocument::ConsStatServ, message) {
            Err(_) => 215,
            Ok(()) => self.take_rejection().unwrap_or(107),
        };
        let t_med = if cstat == 107 { "<tMed>1</tMed>" } else { "" };
        Answer {
            message: format!(
                "<retConsStatServ xmlns=\"{NFE}\" versao=\"4.00\"><tpAmb>{}</tpAmb>\
                 <verAplic>{VER_APLIC}</verAplic><cStat>{cstat}</cStat><xMotivo>{}</xMotivo>\
                 <cUF>{}</cUF><dhRecbto>{}</dhRecbto>{t_med}</retConsStatServ>",
                self.amb(),
                motivo(cstat),
                self.cuf(),
                date_time(self.now())
            ),
            document: SchemaDocument::RetConsStatServ,
            hang: false,
        }
    }

    fn ret_envi(&self, cstat: u16, inner: &str) -> String {
        format!(
            "<retEnviNFe xmlns=\"{NFE}\" versao=\"4.00\"><tpAmb>{}</tpAmb>\
             <verAplic>{VER_APLIC}</verAplic><cStat>{cstat}</cStat><xMotivo>{}</xMotivo>\
             <cUF>{}</cUF><dhRecbto>{}</dhRecbto>{inner}</retEnviNFe>",
            self.amb(),
            motivo(cstat),
            self.cuf(),
            date_time(self.now())
        )
    }

    fn prot_nfe(&self, key: &str, cstat: u16, reason: &str, auth: Option<(&str, &str)>) -> String {
        let (nprot, digval) = match auth {
            Some((nprot, digval)) => (
                format!("<nProt>{nprot}</nProt>"),
                format!("<digVal>{digval}</digVal>"),
            ),
            None => (String::new(), String::new()),
        };
        format!(
            "<protNFe versao=\"4.00\"><infProt><tpAmb>{}</tpAmb><verAplic>{VER_APLIC}</verAplic>\
             <chNFe>{key}</chNFe><dhRecbto>{}</dhRecbto>{nprot}{digval}<cStat>{cstat}</cStat>\
             <xMotivo>{}</xMotivo></infProt></protNFe>",
            self.amb(),
            date_time(self.now()),
            soap::escape(reason)
        )
    }

    fn authorise(&self, message: &str) -> Answer {
        let (count, timeout_every, asynchronous) = {
            let mut state = self.lock();
            state.authorisation_requests += 1;
            (
                state.authorisation_requests,
                state.timeout_every,
                state.asynchronous,
            )
        };
        let hang = timeout_every.is_some_and(|n| count % n == 0);
        let answer = |message: String| Answer {
            message,
            document: SchemaDocument::RetEnviNfe,
            hang,
        };
        if self.check_schema(SchemaDocument::EnviNfe, message).is_err() {
            return answer(self.ret_envi(225, ""));
        }
        let Ok(doc) = roxmltree::Document::parse(message) else {
            return answer(self.ret_envi(225, ""));
        };
        let root = doc.root_element();
        let protocols: Vec<String> = root
            .children()
            .filter(|n| n.has_tag_name((NFE, "NFe")))
            .map(|nfe| self.judge_nfe(&message[nfe.range()]))
            .collect();
        let synchronous = child_text(root, "indSinc").as_deref() == Some("1");
        if asynchronous || !synchronous {
            let receipt = format!("{:015}", 350_000_000_000_000 + self.next_sequence());
            self.lock().receipts.insert(receipt.clone(), (1, protocols));
            return answer(self.ret_envi(
                103,
                &format!("<infRec><nRec>{receipt}</nRec><tMed>1</tMed></infRec>"),
            ));
        }
        answer(self.ret_envi(104, &protocols.concat()))
    }

    /// The `protNFe` for one `NFe` (authorising it when every rule passes).
    fn judge_nfe(&self, nfe: &str) -> String {
        let Ok(doc) = roxmltree::Document::parse(nfe) else {
            return self.prot_nfe(&"0".repeat(44), 225, motivo(225), None);
        };
        let root = doc.root_element();
        let Some(inf) = root.children().find(|n| n.has_tag_name((NFE, "infNFe"))) else {
            return self.prot_nfe(&"0".repeat(44), 225, motivo(225), None);
        };
        let key = inf
            .attribute("Id")
            .and_then(|id| id.strip_prefix("NFe"))
            .unwrap_or("")
            .to_owned();
        let reject = |cstat: u16| self.prot_nfe(&key, cstat, motivo(cstat), None);
        if let Some(cstat) = self.take_rejection() {
            return reject(cstat);
        }
        let signature = match verify(nfe) {
            Ok(v) => v,
            Err(e) => {
                self.lock().violations.push(format!("NFe signature: {e}"));
                return reject(signature_cstat(&e));
            }
        };
        if key.len() != 44 || check_digit(&key[..43]).map(|d| d + b'0') != Some(key.as_bytes()[43])
        {
            return reject(253);
        }
        let ide = |name: &str| {
            inf.children()
                .find(|n| n.has_tag_name((NFE, "ide")))
                .and_then(|ide| child_text(ide, name))
                .unwrap_or_default()
        };
        let emit_cnpj = inf
            .children()
            .find(|n| n.has_tag_name((NFE, "emit")))
            .and_then(|e| child_text(e, "CNPJ"))
            .unwrap_or_default();
        let dh_emi = ide("dhEmi");
        let aamm = format!(
            "{}{}",
            dh_emi.get(2..4).unwrap_or(""),
            dh_emi.get(5..7).unwrap_or("")
        );
        let num = |s: String| s.parse::<u32>().unwrap_or(u32::MAX);
        let (series, number) = (num(ide("serie")), num(ide("nNF")));
        let expected = format!(
            "{:0>2}{aamm}{emit_cnpj}{:0>2}{series:03}{number:09}{}{:0>8}",
            ide("cUF"),
            ide("mod"),
            ide("tpEmis"),
            ide("cNF"),
        );
        if key[..43] != expected || ide("cDV") != key[43..] {
            return reject(502);
        }
        if ide("tpAmb") != self.amb().to_string() {
            return reject(252);
        }
        if ide("cUF") != self.cuf().to_string() {
            return reject(226);
        }
        if let Some(cstat) =
            self.emission_type_rejection(&ide("tpEmis"), |name| !ide(name).is_empty())
        {
            return reject(cstat);
        }
        if self.environment == Environment::Homologation {
            let name = inf
                .children()
                .find(|n| n.has_tag_name((NFE, "dest")))
                .and_then(|d| child_text(d, "xNome"));
            if name.is_some_and(|n| n != HOMOLOGATION_RECIPIENT_NAME) {
                return reject(598);
            }
        }
        let state = self.lock();
        if let Some(stored) = state.authorised.get(&key) {
            let reason = format!("Duplicidade de NF-e [nRec:{}]", stored.protocol);
            drop(state);
            return self.prot_nfe(&key, 204, &reason, None);
        }
        if let Some(other) = state
            .authorised
            .values()
            .find(|s| s.cnpj == emit_cnpj && s.series == series && s.number == number)
        {
            let reason = format!(
                "Duplicidade de NF-e com diferenca na Chave de Acesso [chNFe: {}]",
                other.key
            );
            drop(state);
            return self.prot_nfe(&key, 539, &reason, None);
        }
        drop(state);
        let nprot = self.protocol_number();
        let prot = self.prot_nfe(
            &key,
            100,
            motivo(100),
            Some((&nprot, &signature.digest_value)),
        );
        let now = self.now();
        self.lock().authorised.insert(
            key.clone(),
            Stored {
                key,
                cnpj: emit_cnpj,
                series,
                number,
                protocol: nprot,
                prot_nfe: prot.clone(),
                authorised_at: now,
                cancelled: false,
                last_correction: 0,
                events: Vec::new(),
            },
        );
        prot
    }

    /// The rejection of a document's emission type at this authoriser, if any. Codes and texts
    /// from the status table in the shared `nfe/webservices/cstat.json` (nfephp's
    /// `storage/cstat.json`): 570 a contingency `tpEmis` at a normal authoriser, 713 another
    /// `tpEmis` than the SVC's own at a contingency authoriser, 557 no justification in
    /// contingency, 556 a justification in normal emission. The real services' order of these
    /// checks is not published there \[verify\]. `tpEmis` 2, 4, 5 (FS, EPEC, FS-DA, sent later to
    /// the normal authoriser) are not modelled and get 570 too.
    fn emission_type_rejection(
        &self,
        tp_emis: &str,
        present: impl Fn(&str) -> bool,
    ) -> Option<u16> {
        let with_justification = present("dhCont") || present("xJust");
        if self.tp_emis == 1 {
            if tp_emis != "1" {
                return Some(570);
            }
            return with_justification.then_some(556);
        }
        if tp_emis != self.tp_emis.to_string() {
            return Some(713);
        }
        (!(present("dhCont") && present("xJust"))).then_some(557)
    }

    fn receipt(&self, message: &str) -> Answer {
        let ret = |cstat: u16, receipt: &str, inner: &str| Answer {
            message: format!(
                "<retConsReciNFe xmlns=\"{NFE}\" versao=\"4.00\"><tpAmb>{}</tpAmb>\
                 <verAplic>{VER_APLIC}</verAplic><nRec>{receipt}</nRec><cStat>{cstat}</cStat>\
                 <xMotivo>{}</xMotivo><cUF>{}</cUF><dhRecbto>{}</dhRecbto>{inner}</retConsReciNFe>",
                self.amb(),
                motivo(cstat),
                self.cuf(),
                date_time(self.now())
            ),
            document: SchemaDocument::RetConsReciNfe,
            hang: false,
        };
        if self
            .check_schema(SchemaDocument::ConsReciNfe, message)
            .is_err()
        {
            return ret(215, &"0".repeat(15), "");
        }
        let receipt = roxmltree::Document::parse(message)
            .ok()
            .and_then(|d| text_of(d.root_element(), "nRec"))
            .unwrap_or_default();
        let mut state = self.lock();
        let Some((pending, protocols)) = state.receipts.get_mut(&receipt) else {
            drop(state);
            return ret(106, &receipt, "");
        };
        if *pending > 0 {
            *pending -= 1;
            drop(state);
            return ret(105, &receipt, "");
        }
        let inner = protocols.concat();
        drop(state);
        ret(104, &receipt, &inner)
    }

    fn query(&self, message: &str) -> Answer {
        let ret = |cstat: u16, reason: &str, key: &str, inner: &str| Answer {
            message: format!(
                "<retConsSitNFe xmlns=\"{NFE}\" versao=\"4.00\"><tpAmb>{}</tpAmb>\
                 <verAplic>{VER_APLIC}</verAplic><cStat>{cstat}</cStat><xMotivo>{}</xMotivo>\
                 <cUF>{}</cUF><dhRecbto>{}</dhRecbto><chNFe>{key}</chNFe>{inner}</retConsSitNFe>",
                self.amb(),
                soap::escape(reason),
                self.cuf(),
                date_time(self.now())
            ),
            document: SchemaDocument::RetConsSitNfe,
            hang: false,
        };
        let key = roxmltree::Document::parse(message)
            .ok()
            .and_then(|d| text_of(d.root_element(), "chNFe"))
            .unwrap_or_default();
        if self
            .check_schema(SchemaDocument::ConsSitNfe, message)
            .is_err()
        {
            return ret(215, motivo(215), &"0".repeat(44), "");
        }
        if let Some(cstat) = self.take_rejection() {
            return ret(cstat, motivo(cstat), &key, "");
        }
        let stored = self.lock().authorised.get(&key).cloned();
        match stored {
            Some(stored) => {
                let cstat = if stored.cancelled { 101 } else { 100 };
                let inner = format!("{}{}", stored.prot_nfe, stored.events.concat());
                ret(cstat, motivo(cstat), &key, &inner)
            }
            None => ret(217, motivo(217), &key, ""),
        }
    }

    fn ret_evento(
        &self,
        cstat: u16,
        key: &str,
        tp: &str,
        seq: &str,
        nprot: Option<&str>,
    ) -> String {
        let details = if key.is_empty() {
            String::new()
        } else {
            let name = if tp == "110111" {
                "Cancelamento registrado"
            } else {
                "Carta de Correcao registrada"
            };
            format!(
                "<chNFe>{key}</chNFe><tpEvento>{tp}</tpEvento><xEvento>{name}</xEvento>\
                 <nSeqEvento>{seq}</nSeqEvento>"
            )
        };
        let nprot = nprot
            .map(|p| format!("<nProt>{p}</nProt>"))
            .unwrap_or_default();
        format!(
            "<retEvento versao=\"1.00\"><infEvento><tpAmb>{}</tpAmb><verAplic>{VER_APLIC}</verAplic>\
             <cOrgao>{}</cOrgao><cStat>{cstat}</cStat><xMotivo>{}</xMotivo>{details}\
             <dhRegEvento>{}</dhRegEvento>{nprot}</infEvento></retEvento>",
            self.amb(),
            self.cuf(),
            motivo(cstat),
            date_time(self.now())
        )
    }

    fn events(&self, message: &str) -> Answer {
        let ret = |cstat: u16, lote: &str, inner: &str| Answer {
            message: format!(
                "<retEnvEvento xmlns=\"{NFE}\" versao=\"1.00\"><idLote>{lote}</idLote>\
                 <tpAmb>{}</tpAmb><verAplic>{VER_APLIC}</verAplic><cOrgao>{}</cOrgao>\
                 <cStat>{cstat}</cStat><xMotivo>{}</xMotivo>{inner}</retEnvEvento>",
                self.amb(),
                self.cuf(),
                motivo(cstat)
            ),
            document: SchemaDocument::RetEnvEvento,
            hang: false,
        };
        if self
            .check_schema(SchemaDocument::EnvEvento, message)
            .is_err()
        {
            return ret(215, "0", "");
        }
        let Ok(doc) = roxmltree::Document::parse(message) else {
            return ret(215, "0", "");
        };
        let root = doc.root_element();
        let lote = child_text(root, "idLote").unwrap_or_default();
        if let Some(cstat) = self.take_rejection() {
            return ret(cstat, &lote, "");
        }
        let results: Vec<String> = root
            .children()
            .filter(|n| n.has_tag_name((NFE, "evento")))
            .map(|evento| self.judge_event(evento, message))
            .collect();
        ret(128, &lote, &results.concat())
    }

    fn judge_event(&self, evento: roxmltree::Node<'_, '_>, message: &str) -> String {
        let inf = evento
            .children()
            .find(|n| n.has_tag_name((NFE, "infEvento")));
        let field = |name: &str| inf.and_then(|i| child_text(i, name)).unwrap_or_default();
        let (key, tp, seq) = (field("chNFe"), field("tpEvento"), field("nSeqEvento"));
        let reject = |cstat: u16| self.ret_evento(cstat, &key, &tp, &seq, None);
        let Some(inf) = inf else {
            return reject(215);
        };
        let det = inf
            .children()
            .find(|n| n.has_tag_name((NFE, "detEvento")))
            .map(|d| standalone_det_evento(&message[d.range()]))
            .unwrap_or_default();
        let det_schema = match tp.as_str() {
            "110111" => SchemaDocument::DetEventoCancelamento,
            "110110" => SchemaDocument::DetEventoCce,
            _ => return reject(215),
        };
        if self.check_schema(det_schema, &det).is_err() {
            return reject(215);
        }
        let evento_xml = &message[evento.range()];
        if let Err(e) = verify_element(evento_xml, "evento", "infEvento") {
            self.lock()
                .violations
                .push(format!("evento signature: {e}"));
            return reject(signature_cstat(&e));
        }
        let sequence: u8 = seq.parse().unwrap_or(0);
        if inf.attribute("Id") != Some(&format!("ID{tp}{key}{sequence:02}")) {
            return reject(215);
        }
        if key.len() != 44 || check_digit(&key[..43]).map(|d| d + b'0') != Some(key.as_bytes()[43])
        {
            return reject(236);
        }
        let now = self.now();
        let mut state = self.lock();
        let Some(stored) = state.authorised.get_mut(&key) else {
            drop(state);
            return reject(580);
        };
        if field("CNPJ") != stored.cnpj {
            drop(state);
            return reject(574);
        }
        if stored.cancelled {
            drop(state);
            return reject(if tp == "110111" { 573 } else { 580 });
        }
        if tp == "110111" {
            let nprot = text_of(inf, "nProt").unwrap_or_default();
            if nprot != stored.protocol {
                drop(state);
                return reject(222);
            }
            if now - stored.authorised_at > time::Duration::hours(24) {
                drop(state);
                return reject(220);
            }
        } else {
            if sequence > 20 {
                drop(state);
                return reject(594);
            }
            if sequence <= stored.last_correction {
                drop(state);
                return reject(573);
            }
        }
        drop(state);
        let nprot = self.protocol_number();
        let ret = self.ret_evento(135, &key, &tp, &seq, Some(&nprot));
        let proc = format!(
            "<procEventoNFe versao=\"1.00\">{}{}</procEventoNFe>",
            evento_xml, ret
        );
        let mut state = self.lock();
        if let Some(stored) = state.authorised.get_mut(&key) {
            if tp == "110111" {
                stored.cancelled = true;
            } else {
                stored.last_correction = sequence;
            }
            stored.events.push(proc);
        }
        ret
    }

    fn void(&self, message: &str) -> Answer {
        let doc = roxmltree::Document::parse(message).ok();
        let inf = doc.as_ref().and_then(|d| {
            d.root_element()
                .children()
                .find(|n| n.has_tag_name((NFE, "infInut")))
        });
        let field = |name: &str| inf.and_then(|i| child_text(i, name)).unwrap_or_default();
        let ret = |cstat: u16, nprot: Option<&str>| {
            let echo = if inf.is_some() && cstat != 215 {
                format!(
                    "<ano>{}</ano><CNPJ>{}</CNPJ><mod>55</mod><serie>{}</serie>\
                     <nNFIni>{}</nNFIni><nNFFin>{}</nNFFin>",
                    field("ano"),
                    field("CNPJ"),
                    field("serie"),
                    field("nNFIni"),
                    field("nNFFin")
                )
            } else {
                String::new()
            };
            let nprot = nprot
                .map(|p| format!("<nProt>{p}</nProt>"))
                .unwrap_or_default();
            Answer {
                message: format!(
                    "<retInutNFe xmlns=\"{NFE}\" versao=\"4.00\"><infInut><tpAmb>{}</tpAmb>\
                     <verAplic>{VER_APLIC}</verAplic><cStat>{cstat}</cStat><xMotivo>{}</xMotivo>\
                     <cUF>{}</cUF>{echo}<dhRecbto>{}</dhRecbto>{nprot}</infInut></retInutNFe>",
                    self.amb(),
                    motivo(cstat),
                    self.cuf(),
                    date_time(self.now())
                ),
                document: SchemaDocument::RetInutNfe,
                hang: false,
            }
        };
        if self.check_schema(SchemaDocument::InutNfe, message).is_err() {
            return ret(215, None);
        }
        if let Some(cstat) = self.take_rejection() {
            return ret(cstat, None);
        }
        if let Err(e) = verify_element(message, "inutNFe", "infInut") {
            self.lock()
                .violations
                .push(format!("inutNFe signature: {e}"));
            return ret(signature_cstat(&e), None);
        }
        if field("tpAmb") != self.amb().to_string() {
            return ret(252, None);
        }
        if field("cUF") != self.cuf().to_string() {
            return ret(226, None);
        }
        let num = |s: String| s.parse::<u32>().unwrap_or(0);
        let (cnpj, series) = (field("CNPJ"), num(field("serie")));
        let (first, last) = (num(field("nNFIni")), num(field("nNFFin")));
        let expected_id = format!(
            "ID{:02}{:0>2}{cnpj}55{series:03}{first:09}{last:09}",
            self.cuf(),
            field("ano")
        );
        if inf.and_then(|i| i.attribute("Id")) != Some(expected_id.as_str()) || first > last {
            return ret(215, None);
        }
        let state = self.lock();
        if state
            .authorised
            .values()
            .any(|s| s.cnpj == cnpj && s.series == series && (first..=last).contains(&s.number))
        {
            drop(state);
            return ret(241, None);
        }
        if state
            .voided
            .iter()
            .any(|(c, s, a, b)| *c == cnpj && *s == series && first <= *b && *a <= last)
        {
            drop(state);
            return ret(256, None);
        }
        drop(state);
        self.lock().voided.push((cnpj, series, first, last));
        let nprot = self.protocol_number();
        ret(102, Some(&nprot))
    }
}
