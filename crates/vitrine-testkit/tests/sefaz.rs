//! The SEFAZ client (`vitrine_nfe::sefaz`) against the fake SEFAZ (`fakes::sefaz`), over
//! HTTPS with mutual TLS on 127.0.0.1. Here rather than in vitrine-nfe because the test kit
//! depends on vitrine-nfe.
//!
//! Archives are checked twice: by the client with the crate's validator, and here with
//! `xmllint` (schemas written from the crate's embedded copies) and `xmlsec1 --verify`. Under CI
//! a missing tool fails; elsewhere those checks are skipped with a message.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use time::OffsetDateTime;
use time::macros::datetime;
use vitrine_nfe::sefaz::messages::{self, Event, EventDetail, Voiding};
use vitrine_nfe::sefaz::{
    ClientConfig, Credentials, SefazClient, SefazError, Service, TransportKind, schemas, soap,
};
use vitrine_nfe::{
    Address, Cnf, Cnpj, Contingency, ContingencyKind, Cpf, Emitter, Environment, FreightMode, Item,
    ItemTaxes, NfeInput, Origin, Payment, Recipient, SignedNfe, TaxId, TaxRegime,
    TechnicalResponsible, Uf,
};
use vitrine_testkit::fakes::sefaz::{FakeSefaz, ShopCertificate};

const EMITTER: &str = "06117473000150";

fn cnpj(s: &str) -> Cnpj {
    Cnpj::parse(s).expect("valid CNPJ")
}

fn address() -> Address {
    Address {
        street: "Avenida Paulista".into(),
        number: "1578".into(),
        complement: None,
        district: "Bela Vista".into(),
        municipality_code: 3550308,
        municipality_name: "Sao Paulo".into(),
        uf: Uf::SP,
        cep: "01310-200".into(),
        phone: None,
    }
}

fn input(environment: Environment, number: u32, cnf: &str) -> NfeInput {
    NfeInput {
        environment,
        series: 1,
        number,
        cnf: Cnf::parse(cnf).expect("cNF"),
        issued_at: datetime!(2026-08-20 14:30:00 -03:00),
        nature_of_operation: "VENDA DE MERCADORIA".into(),
        app_version: "vitrine 0.1.0".into(),
        contingency: None,
        emitter: Emitter {
            cnpj: cnpj(EMITTER),
            ie: "110.042.490.114".into(),
            regime: TaxRegime::SimplesNacional,
            name: "Loja Teste Ltda".into(),
            trade_name: None,
            address: address(),
        },
        recipient: Recipient {
            tax_id: TaxId::Cpf(Cpf::parse("529.982.247-25").expect("CPF")),
            name: "Maria da Conceicao".into(),
            address: address(),
            email: None,
        },
        items: vec![Item {
            code: "SKU-0001".into(),
            gtin: None,
            description: "Caneca de ceramica".into(),
            ncm: "6912.00.00".into(),
            cfop: 5102,
            unit: "UN".into(),
            quantity: 1,
            unit_price: 4_990,
            origin: Origin::NATIONAL,
            freight: 0,
            discount: 0,
            taxes: ItemTaxes::SimplesNacional,
        }],
        freight_total: 0,
        discount_total: 0,
        freight_mode: FreightMode::BySeller,
        payment: Payment::Pix {
            psp_cnpj: None,
            end_to_end_id: None,
        },
        technical_responsible: TechnicalResponsible {
            cnpj: cnpj("11222333000181"),
            contact: "Equipe Vitrine".into(),
            email: "nfe@vitrine.example".into(),
            phone: "11 3003-1234".into(),
        },
        additional_info: Vec::new(),
    }
}

struct Setup {
    fake: FakeSefaz,
    shop: ShopCertificate,
    credentials: Credentials,
    client: SefazClient,
}

fn config(fake: &FakeSefaz) -> ClientConfig {
    let mut config = ClientConfig::new(Uf::SP, Environment::Homologation);
    config.endpoint_overrides = fake.endpoint_overrides();
    config.extra_roots_pem = vec![fake.ca_pem().to_owned()];
    config.connect_timeout = Duration::from_secs(5);
    config.request_timeout = Duration::from_secs(20);
    config.receipt_interval = Duration::from_millis(10);
    config
}

async fn setup() -> Setup {
    let fake = FakeSefaz::start(Uf::SP, Environment::Homologation)
        .await
        .expect("fake SEFAZ");
    setup_with(fake, false)
}

/// A fake SVC (`tp_emis` 6 or 7) for SP's emitters and a client in contingency pointed at it.
async fn contingency_setup(tp_emis: u8) -> Setup {
    let fake = FakeSefaz::start_contingency(Uf::SP, Environment::Homologation, tp_emis)
        .await
        .expect("fake SVC");
    setup_with(fake, true)
}

fn setup_with(fake: FakeSefaz, contingency: bool) -> Setup {
    let shop = fake
        .issue_shop_certificate("LOJA TESTE LTDA")
        .expect("shop certificate");
    let credentials = Credentials::from_pem(&shop.cert_pem, &shop.key_pem).expect("credentials");
    let mut config = config(&fake);
    config.contingency = contingency;
    let client = SefazClient::new(config, credentials.clone()).expect("client");
    Setup {
        fake,
        shop,
        credentials,
        client,
    }
}

impl Setup {
    fn nfe(&self, number: u32, cnf: &str) -> SignedNfe {
        vitrine_nfe::build(&input(Environment::Homologation, number, cnf))
            .expect("build")
            .sign(self.credentials.signer())
            .expect("sign")
    }

    /// An NF-e issued in SVC contingency (`kind`'s `tpEmis`, `dhCont`, `xJust`).
    fn contingency_nfe(&self, kind: ContingencyKind, number: u32, cnf: &str) -> SignedNfe {
        let mut input = input(Environment::Homologation, number, cnf);
        input.contingency = Some(Contingency {
            kind,
            since: datetime!(2026-08-20 14:00:00 -03:00),
            justification: "SEFAZ-SP paralisada sem previsao (109)".into(),
        });
        vitrine_nfe::build(&input)
            .expect("build")
            .sign(self.credentials.signer())
            .expect("sign")
    }

    /// A raw SOAP call with the shop's certificate (or none), for what the client never sends.
    async fn raw(&self, with_certificate: bool, service: Service, message: &str) -> String {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(
                reqwest::Certificate::from_pem(self.fake.ca_pem().as_bytes()).expect("CA"),
            )
            .timeout(Duration::from_secs(20));
        if with_certificate {
            let pem = format!("{}{}", self.shop.cert_pem, self.shop.key_pem);
            builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).expect("id"));
        }
        let namespace = format!(
            "{}{}",
            vitrine_nfe::sefaz::endpoints::WSDL_NAMESPACE_PREFIX,
            service.default_operation()
        );
        let response = builder
            .build()
            .expect("client")
            .post(self.fake.url(service))
            .header(
                "content-type",
                soap::content_type(&format!("{namespace}/{}", service.default_method())),
            )
            .body(soap::envelope("nfeDadosMsg", &namespace, message))
            .send()
            .await;
        match response {
            Ok(r) => {
                let text = r.text().await.expect("body");
                soap::unwrap(&text, "nfeResultMsg").expect("answer").message
            }
            Err(e) => format!("ERROR: {e}"),
        }
    }

    fn clean(&self) {
        assert_eq!(self.fake.violations(), Vec::<String>::new());
        assert_eq!(self.fake.own_violations(), Vec::<String>::new());
    }
}

fn cstat_of(message: &str, element: &str) -> String {
    let doc = roxmltree::Document::parse(message).expect("XML");
    let node = doc
        .descendants()
        .find(|n| n.tag_name().name() == element)
        .unwrap_or_else(|| panic!("no {element} in {message}"));
    messages::child_text(node, "cStat").expect("cStat")
}

// ---- the oracles: xmllint with the embedded schemas, xmlsec1 ----

fn tool(name: &str, package: &str) -> bool {
    let ok = Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!("{name} is required under CI (Debian package {package})");
        }
        eprintln!("SKIPPED: {name} not installed (apt-get install {package})");
    }
    ok
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vitrine-sefaz-{}-{}", std::process::id(), name));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// `xmllint --schema <folder>/<schema>` on `xml`; the folder is `nfe/`, `` or `evento/`.
fn xmllint(folder: &str, schema: &str, xml: &str) {
    if !tool("xmllint", "libxml2-utils") {
        return;
    }
    let dir = scratch(&format!("xsd-{schema}"));
    for (sub, files) in schemas::files() {
        std::fs::create_dir_all(dir.join(sub)).expect("folder");
        for (name, bytes) in files {
            std::fs::write(dir.join(sub).join(name), bytes).expect("schema file");
        }
    }
    let file = dir.join("document.xml");
    std::fs::write(&file, xml).expect("document");
    let out = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(dir.join(folder).join(schema))
        .arg(&file)
        .output()
        .expect("run xmllint");
    assert!(
        out.status.success(),
        "xmllint {schema}: {}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn xmlsec1(xml: &str, id_attr: &str) {
    if !tool("xmlsec1", "xmlsec1") {
        return;
    }
    let file: &Path = &scratch(&format!("dsig-{id_attr}")).join("signed.xml");
    std::fs::write(file, xml).expect("document");
    let out = Command::new("xmlsec1")
        .args(["--verify", "--insecure", "--id-attr:Id", id_attr])
        .arg(file)
        .output()
        .expect("run xmlsec1");
    assert!(
        out.status.success(),
        "xmlsec1: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---- the cases ----

#[tokio::test]
async fn status_is_107_and_the_modes_show_through() {
    let s = setup().await;
    let status = s.client.status().await.expect("status");
    assert_eq!(status.cstat, 107, "{status:?}");
    assert!(status.in_operation());

    s.fake.reject_next(1, 108);
    assert_eq!(s.client.status().await.expect("status").cstat, 108);
    assert_eq!(s.client.status().await.expect("status").cstat, 107);

    s.fake.set_delay(Duration::from_millis(50));
    assert_eq!(s.client.status().await.expect("slow status").cstat, 107);
    s.fake.set_delay(Duration::ZERO);

    s.fake.set_down(true);
    let err = s.client.status().await.expect_err("down");
    assert!(
        matches!(err, SefazError::Http { status: 503, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    s.fake.set_down(false);
    s.clean();

    // Nothing listening: connection refused, nothing sent.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut config = config(&s.fake);
    config.endpoint_overrides.insert(
        Service::Status,
        format!("https://127.0.0.1:{closed_port}/NFeStatusServico4"),
    );
    let client = SefazClient::new(config, s.credentials.clone()).expect("client");
    let err = client.status().await.expect_err("refused");
    assert!(
        matches!(
            err,
            SefazError::Transport {
                kind: TransportKind::Connect,
                outcome_unknown: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn one_nfe_is_authorised_synchronously_into_a_valid_nfe_proc() {
    let s = setup().await;
    let nfe = s.nfe(1001, "61275652");
    let auth = s.client.authorise(&nfe, 1).await.expect("authorise");
    assert_eq!(auth.protocol.cstat, 100, "{:?}", auth.protocol);
    assert!(auth.receipt.is_none());
    assert_eq!(auth.protocol.key, nfe.access_key().as_str());
    assert_eq!(
        auth.protocol.digest_value.as_deref(),
        Some(nfe.digest_value())
    );
    let number = auth.protocol.number.clone().expect("nProt");
    assert_eq!(number.len(), 15);
    let proc = auth.nfe_proc.expect("nfeProc");
    assert!(
        proc.contains(nfe.nfe_element()),
        "NFe inserted byte for byte"
    );
    xmllint("nfe/", "procNFe_v4.00.xsd", &proc);
    xmlsec1(&proc, "infNFe");
    assert!(s.fake.authorised(nfe.access_key().as_str()).is_some());
    s.clean();
}

#[tokio::test]
async fn asynchronous_mode_gives_a_receipt_then_the_protocol() {
    let s = setup().await;
    s.fake.set_asynchronous(true);
    let nfe = s.nfe(1002, "61275653");
    let auth = s.client.authorise(&nfe, 2).await.expect("authorise");
    assert_eq!(auth.protocol.cstat, 100);
    let receipt = auth.receipt.expect("nRec");
    assert_eq!(receipt.len(), 15);
    assert!(auth.nfe_proc.is_some());
    let answers: Vec<String> = s
        .fake
        .exchanges()
        .into_iter()
        .filter(|(_, answer)| answer.starts_with("<retConsReciNFe"))
        .map(|(_, answer)| cstat_of(&answer, "retConsReciNFe"))
        .collect();
    assert_eq!(answers, ["105", "104"]);
    s.clean();
}

#[tokio::test]
async fn a_duplicate_number_is_539_and_the_query_finds_the_first() {
    let s = setup().await;
    let first = s.nfe(1003, "61275654");
    let auth = s.client.authorise(&first, 3).await.expect("authorise");
    assert_eq!(auth.protocol.cstat, 100);

    let second = s.nfe(1003, "71234568");
    assert_ne!(first.access_key(), second.access_key());
    let dup = s.client.authorise(&second, 4).await.expect("answer");
    assert_eq!(dup.protocol.cstat, 539, "{:?}", dup.protocol);
    assert!(dup.protocol.reason.contains(first.access_key().as_str()));
    assert!(dup.nfe_proc.is_none());

    let again = s.client.authorise(&first, 5).await.expect("answer");
    assert_eq!(again.protocol.cstat, 204);

    let found = s.client.query(first.access_key()).await.expect("query");
    assert_eq!(found.cstat, 100);
    let protocol = found.protocol.expect("protNFe");
    assert_eq!(protocol.number, auth.protocol.number);
    s.client
        .nfe_proc(&first, &protocol)
        .expect("nfeProc from the query");
    let mut other_digest = protocol.clone();
    other_digest.digest_value = Some("AAAAAAAAAAAAAAAAAAAAAAAAAAA=".into());
    assert!(matches!(
        s.client.nfe_proc(&first, &other_digest),
        Err(SefazError::Malformed(_))
    ));
    assert!(matches!(
        s.client.nfe_proc(&second, &protocol),
        Err(SefazError::Malformed(_))
    ));

    let unknown = s.client.query(second.access_key()).await.expect("query");
    assert_eq!(unknown.cstat, 217);
    assert_eq!(s.fake.authorised_count(), 1);
    s.clean();
}

/// The NF-e with the first `from` in `infNFe` replaced by `to`, signed again properly (for
/// documents the builder never writes: another recipient name in homologation, a key that
/// disagrees with its fields).
fn resigned(s: &Setup, nfe: &SignedNfe, from: &str, to: &str) -> String {
    let element = nfe.nfe_element();
    let inf_start = element.find("<infNFe").expect("infNFe");
    let inf_end = element.find("<Signature").expect("signature");
    let inf = &element[inf_start..inf_end];
    assert!(inf.contains(from), "{from} not in infNFe");
    let changed = inf.replacen(from, to, 1);
    let id_start = changed.find("Id=\"").expect("Id") + 4;
    let id = &changed[id_start..id_start + changed[id_start..].find('"').expect("quote")];
    let container = format!("<NFe xmlns=\"http://www.portalfiscal.inf.br/nfe\">{changed}</NFe>");
    vitrine_nfe::sign::sign_element(
        &container,
        id,
        s.credentials.signer(),
        &cnpj(EMITTER),
        datetime!(2026-08-20 14:30:00 -03:00),
    )
    .expect("re-sign")
}

async fn judged(s: &Setup, nfe_element: &str) -> String {
    let answer = s
        .raw(
            true,
            Service::Authorisation,
            &messages::authorisation_request(30, true, nfe_element),
        )
        .await;
    cstat_of(&answer, "infProt")
}

#[tokio::test]
async fn a_key_with_a_wrong_check_digit_or_fields_is_refused() {
    let s = setup().await;
    let nfe = s.nfe(1010, "61275662");
    let key = nfe.access_key().as_str();
    let dv = key.as_bytes()[43] - b'0';
    let wrong_dv = format!("{}{}", &key[..43], (dv + 1) % 10);
    let bad_dv = resigned(
        &s,
        &nfe,
        &format!("Id=\"NFe{key}\""),
        &format!("Id=\"NFe{wrong_dv}\""),
    );
    assert_eq!(judged(&s, &bad_dv).await, "253");
    let bad_fields = resigned(&s, &nfe, "<cNF>61275662</cNF>", "<cNF>61275663</cNF>");
    assert_eq!(judged(&s, &bad_fields).await, "502");
    assert_eq!(s.fake.authorised_count(), 0);
    s.clean();
}

#[tokio::test]
async fn homologation_with_another_recipient_name_is_598_and_tampering_is_297() {
    let s = setup().await;
    let nfe = s.nfe(1004, "61275655");
    let wrong = resigned(
        &s,
        &nfe,
        "NF-E EMITIDA EM AMBIENTE DE HOMOLOGACAO - SEM VALOR FISCAL",
        "Maria da Conceicao",
    );
    vitrine_nfe::verify(&wrong).expect("the rewritten NF-e is properly signed");
    let answer = s
        .raw(
            true,
            Service::Authorisation,
            &messages::authorisation_request(6, true, &wrong),
        )
        .await;
    assert_eq!(cstat_of(&answer, "infProt"), "598", "{answer}");

    // The same change without re-signing: the digest no longer matches.
    let element = nfe.nfe_element();
    let tampered = element.replacen(
        "NF-E EMITIDA EM AMBIENTE DE HOMOLOGACAO - SEM VALOR FISCAL",
        "NF-E EMITIDA EM AMBIENTE DE HOMOLOGACAO - SEM VALOR FISCAl",
        1,
    );
    assert_ne!(tampered, element);
    let answer = s
        .raw(
            true,
            Service::Authorisation,
            &messages::authorisation_request(7, true, &tampered),
        )
        .await;
    assert_eq!(cstat_of(&answer, "infProt"), "297", "{answer}");

    // A lote that breaks the schema: 225, recorded.
    let answer = s
        .raw(
            true,
            Service::Authorisation,
            &messages::authorisation_request(8, true, element).replace("<idLote>8", "<idLote>X8"),
        )
        .await;
    assert_eq!(cstat_of(&answer, "retEnviNFe"), "225", "{answer}");
    assert_eq!(s.fake.violations().len(), 2, "{:?}", s.fake.violations());
    assert_eq!(s.fake.authorised_count(), 0);
    assert_eq!(s.fake.own_violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused_at_tls() {
    let s = setup().await;
    let before = s.fake.refused_handshakes();
    let answer = s
        .raw(
            false,
            Service::Status,
            &messages::status_request(Environment::Homologation, Uf::SP),
        )
        .await;
    assert!(answer.starts_with("ERROR: "), "{answer}");
    assert!(s.fake.refused_handshakes() > before);
    assert!(s.fake.exchanges().is_empty());
}

#[tokio::test]
async fn a_timeout_is_resolved_by_a_query_without_a_second_authorisation() {
    let s = setup().await;
    let mut config = config(&s.fake);
    config.request_timeout = Duration::from_secs(5);
    let client = SefazClient::new(config, s.credentials.clone()).expect("client");
    s.fake.timeout_every(Some(1));
    let nfe = s.nfe(1005, "61275656");
    let err = client.authorise(&nfe, 9).await.expect_err("timeout");
    assert!(
        matches!(
            err,
            SefazError::Transport {
                kind: TransportKind::Timeout,
                outcome_unknown: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.outcome_unknown());
    s.fake.timeout_every(None);
    let found = client.query(nfe.access_key()).await.expect("query");
    assert_eq!(found.cstat, 100);
    let proc = client
        .nfe_proc(&nfe, &found.protocol.expect("protNFe"))
        .expect("nfeProc");
    xmllint("nfe/", "procNFe_v4.00.xsd", &proc);
    assert_eq!(s.fake.authorisation_requests(), 1);
    assert_eq!(s.fake.authorised_count(), 1);
    s.clean();
}

async fn authorised(s: &Setup, number: u32, cnf: &str) -> (SignedNfe, String) {
    let nfe = s.nfe(number, cnf);
    let auth = s.client.authorise(&nfe, 10).await.expect("authorise");
    assert_eq!(auth.protocol.cstat, 100);
    (nfe, auth.protocol.number.expect("nProt"))
}

fn cancellation(nfe: &SignedNfe, protocol: &str) -> Event {
    Event {
        key: nfe.access_key().clone(),
        emitter: cnpj(EMITTER),
        sequence: 1,
        at: OffsetDateTime::now_utc(),
        detail: EventDetail::Cancellation {
            protocol: protocol.to_owned(),
            justification: "Pedido cancelado pelo cliente antes do envio".into(),
        },
    }
}

#[tokio::test]
async fn cancellation_within_the_window_is_135_with_a_valid_proc_evento() {
    let s = setup().await;
    let (nfe, protocol) = authorised(&s, 1006, "61275657").await;
    let result = s
        .client
        .send_event(&cancellation(&nfe, &protocol), 11)
        .await
        .expect("event");
    assert_eq!(result.cstat, 135, "{result:?}");
    assert!(result.is_registered());
    let proc = result.proc_evento.expect("procEventoNFe");
    xmllint("evento/", "procEventoNFe_v1.00.xsd", &proc);
    xmlsec1(&proc, "infEvento");

    let found = s.client.query(nfe.access_key()).await.expect("query");
    assert_eq!(found.cstat, 101);
    assert_eq!(found.events.len(), 1);

    let again = s
        .client
        .send_event(&cancellation(&nfe, &protocol), 12)
        .await
        .expect("event");
    assert_eq!(again.cstat, 573);
    assert!(again.proc_evento.is_none());
    s.clean();
}

#[tokio::test]
async fn cancellation_after_the_window_is_220() {
    let s = setup().await;
    let (nfe, protocol) = authorised(&s, 1007, "61275658").await;
    s.fake.advance_clock(Duration::from_secs(25 * 3600));
    let result = s
        .client
        .send_event(&cancellation(&nfe, &protocol), 13)
        .await
        .expect("event");
    assert_eq!(result.cstat, 220, "{result:?}");
    assert!(!result.is_registered());
    let wrong_protocol = s
        .client
        .send_event(&cancellation(&nfe, "135260000009999"), 14)
        .await
        .expect("event");
    assert_eq!(wrong_protocol.cstat, 222);
    s.clean();
}

#[tokio::test]
async fn correction_letters_go_in_sequence() {
    let s = setup().await;
    let (nfe, _) = authorised(&s, 1008, "61275659").await;
    let letter = |sequence: u8, text: &str| Event {
        key: nfe.access_key().clone(),
        emitter: cnpj(EMITTER),
        sequence,
        at: OffsetDateTime::now_utc(),
        detail: EventDetail::CorrectionLetter {
            correction: text.to_owned(),
        },
    };
    let first = s
        .client
        .send_event(&letter(1, "Complemento do endereco: apto 42"), 15)
        .await
        .expect("event");
    assert_eq!(first.cstat, 135, "{first:?}");
    let second = s
        .client
        .send_event(&letter(2, "Complemento do endereco: apto 43, bloco B"), 16)
        .await
        .expect("event");
    assert_eq!(second.cstat, 135, "{second:?}");
    let proc = second.proc_evento.expect("procEventoNFe");
    xmllint("evento/", "procEventoNFe_v1.00.xsd", &proc);
    let repeated = s
        .client
        .send_event(&letter(2, "Complemento do endereco: apto 44"), 17)
        .await
        .expect("event");
    assert_eq!(repeated.cstat, 573);
    assert_eq!(
        s.fake
            .authorised(nfe.access_key().as_str())
            .expect("stored")
            .events
            .len(),
        2
    );
    s.clean();
}

#[tokio::test]
async fn voiding_a_range_is_102_with_a_valid_proc_inut() {
    let s = setup().await;
    let voiding = |first: u32, last: u32| Voiding {
        uf: Uf::SP,
        emitter: cnpj(EMITTER),
        year: 26,
        series: 1,
        first,
        last,
        justification: "Numeracao pulada por falha do sistema".into(),
        at: OffsetDateTime::now_utc(),
    };
    let result = s
        .client
        .void_range(&voiding(2000, 2004))
        .await
        .expect("void");
    assert_eq!(result.cstat, 102, "{result:?}");
    assert!(result.is_voided());
    let proc = result.proc_inut.expect("procInutNFe");
    xmllint("", "procInutNFe_v4.00.xsd", &proc);
    xmlsec1(&proc, "infInut");

    let overlapping = s
        .client
        .void_range(&voiding(2004, 2006))
        .await
        .expect("void");
    assert_eq!(overlapping.cstat, 256);
    let (_, _) = authorised(&s, 2010, "61275660").await;
    let used = s
        .client
        .void_range(&voiding(2009, 2011))
        .await
        .expect("void");
    assert_eq!(used.cstat, 241);
    s.clean();
}

#[tokio::test]
async fn a_pkcs12_certificate_from_another_ca_opens_but_is_refused_at_tls() {
    let s = setup().await;
    let p12 = vitrine_nfe::demo::demo_pkcs12(
        &cnpj(EMITTER),
        "Loja Teste",
        datetime!(2026-01-01 00:00 UTC),
        365,
        "senha",
    )
    .expect("PKCS#12");
    assert!(Credentials::from_pkcs12(&p12, "errada").is_err());
    let credentials = Credentials::from_pkcs12(&p12, "senha").expect("credentials");
    assert_eq!(
        credentials.signer().info().icp_brasil_cnpj.as_deref(),
        Some(EMITTER)
    );
    let client = SefazClient::new(config(&s.fake), credentials).expect("client");
    let before = s.fake.refused_handshakes();
    let err = client.status().await.expect_err("refused");
    assert!(matches!(err, SefazError::Transport { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(s.fake.refused_handshakes() > before);
    assert!(s.fake.exchanges().is_empty());
}

/// Where each message's schema is among the files [`schemas::files`] writes.
fn schema_of(root: &str) -> (&'static str, String) {
    let folder = match root {
        "enviNFe" | "retEnviNFe" | "consReciNFe" | "retConsReciNFe" => "nfe/",
        "envEvento" | "retEnvEvento" => "evento/",
        _ => "",
    };
    let version = if folder == "evento/" { "1.00" } else { "4.00" };
    (folder, format!("{root}_v{version}.xsd"))
}

#[tokio::test]
async fn every_message_of_a_session_is_valid_for_xmllint_too() {
    let s = setup().await;
    s.client.status().await.expect("status");
    s.fake.set_asynchronous(true);
    let (nfe, protocol) = authorised(&s, 3001, "61275661").await;
    s.fake.set_asynchronous(false);
    s.client.query(nfe.access_key()).await.expect("query");
    let letter = Event {
        key: nfe.access_key().clone(),
        emitter: cnpj(EMITTER),
        sequence: 1,
        at: OffsetDateTime::now_utc(),
        detail: EventDetail::CorrectionLetter {
            correction: "Referencia do pedido: 2026-000123".into(),
        },
    };
    assert_eq!(
        s.client.send_event(&letter, 20).await.expect("cce").cstat,
        135
    );
    let cancel = cancellation(&nfe, &protocol);
    assert_eq!(
        s.client
            .send_event(&cancel, 21)
            .await
            .expect("cancel")
            .cstat,
        135
    );
    let found = s.client.query(nfe.access_key()).await.expect("query");
    assert_eq!((found.cstat, found.events.len()), (101, 2));
    let voiding = Voiding {
        uf: Uf::SP,
        emitter: cnpj(EMITTER),
        year: 26,
        series: 1,
        first: 3002,
        last: 3002,
        justification: "Numero pulado por falha do sistema".into(),
        at: OffsetDateTime::now_utc(),
    };
    assert_eq!(
        s.client.void_range(&voiding).await.expect("void").cstat,
        102
    );

    let exchanges = s.fake.exchanges();
    assert_eq!(
        exchanges.len(),
        9,
        "status, authorise, 2 receipts, 2 queries, 2 events, void"
    );
    for (request, answer) in exchanges {
        for message in [request, answer] {
            let root = roxmltree::Document::parse(&message)
                .expect("XML")
                .root_element()
                .tag_name()
                .name()
                .to_owned();
            let (folder, schema) = schema_of(&root);
            xmllint(folder, &schema, &message);
        }
    }
    s.clean();
}

// ---- contingency (SVC) ----

const CONTINGENCY_FIELDS: &str = "<dhCont>2026-08-20T14:00:00-03:00</dhCont><xJust>SEFAZ-SP paralisada sem previsao (109)</xJust>";

#[tokio::test]
async fn the_normal_authoriser_refuses_contingency_documents() {
    let s = setup().await;
    assert_eq!(s.fake.tp_emis(), 1);
    let svc = s.contingency_nfe(ContingencyKind::SvcAn, 1101, "61275701");
    assert_eq!(&svc.access_key().as_str()[34..35], "6");
    let auth = s.client.authorise(&svc, 41).await.expect("answer");
    assert_eq!(auth.protocol.cstat, 570, "{:?}", auth.protocol);
    assert!(auth.nfe_proc.is_none());

    // tpEmis 1 carrying a justification (the builder never writes it): 556.
    let normal = s.nfe(1102, "61275702");
    let justified = resigned(
        &s,
        &normal,
        "</verProc>",
        &format!("</verProc>{CONTINGENCY_FIELDS}"),
    );
    assert_eq!(judged(&s, &justified).await, "556");
    assert_eq!(s.fake.authorised_count(), 0);
    s.clean();
}

#[tokio::test]
async fn the_svc_an_fake_authorises_tp_emis_6_through_the_client_in_contingency() {
    let s = contingency_setup(6).await;
    assert_eq!(s.fake.tp_emis(), 6);
    let endpoint = s.client.endpoint(Service::Authorisation).expect("endpoint");
    assert_eq!(endpoint.authoriser, "SVCAN", "SP's contingency authoriser");
    assert_eq!(endpoint.url, s.fake.url(Service::Authorisation));

    let status = s.client.status().await.expect("status");
    assert_eq!(status.cstat, 107);

    let nfe = s.contingency_nfe(ContingencyKind::of(Uf::SP), 1111, "61275711");
    let auth = s.client.authorise(&nfe, 42).await.expect("authorise");
    assert_eq!(auth.protocol.cstat, 100, "{:?}", auth.protocol);
    assert_eq!(auth.protocol.key, nfe.access_key().as_str());
    let proc = auth.nfe_proc.expect("nfeProc");
    assert!(proc.contains(nfe.nfe_element()));
    assert!(proc.contains("<tpEmis>6</tpEmis>") && proc.contains(CONTINGENCY_FIELDS));
    xmllint("nfe/", "procNFe_v4.00.xsd", &proc);
    xmlsec1(&proc, "infNFe");
    assert!(s.fake.authorised(nfe.access_key().as_str()).is_some());

    let found = s.client.query(nfe.access_key()).await.expect("query");
    assert_eq!(found.cstat, 100);
    assert_eq!(s.fake.authorised_count(), 1);
    s.clean();
}

#[tokio::test]
async fn the_svc_an_fake_refuses_other_emission_types_and_a_missing_justification() {
    let s = contingency_setup(6).await;
    let normal = s.nfe(1121, "61275721");
    let refused = s.client.authorise(&normal, 43).await.expect("answer");
    assert_eq!(refused.protocol.cstat, 713, "{:?}", refused.protocol);
    assert!(refused.nfe_proc.is_none());

    let svc_rs = s.contingency_nfe(ContingencyKind::SvcRs, 1122, "61275722");
    let refused = s.client.authorise(&svc_rs, 44).await.expect("answer");
    assert_eq!(refused.protocol.cstat, 713, "SVC-RS's tpEmis 7 at SVC-AN");

    // tpEmis 6 without dhCont/xJust (schema-valid, the builder never writes it): 557.
    let svc = s.contingency_nfe(ContingencyKind::SvcAn, 1123, "61275723");
    let unjustified = resigned(&s, &svc, CONTINGENCY_FIELDS, "");
    assert_eq!(judged(&s, &unjustified).await, "557");
    assert_eq!(s.fake.authorised_count(), 0);
    s.clean();
}

#[tokio::test]
async fn the_svc_rs_fake_takes_tp_emis_7_and_only_svc_types_start_a_contingency_fake() {
    let s = contingency_setup(7).await;
    let nfe = s.contingency_nfe(ContingencyKind::SvcRs, 1131, "61275731");
    let auth = s.client.authorise(&nfe, 45).await.expect("authorise");
    assert_eq!(auth.protocol.cstat, 100, "{:?}", auth.protocol);
    let svc_an = s.contingency_nfe(ContingencyKind::SvcAn, 1132, "61275732");
    let refused = s.client.authorise(&svc_an, 46).await.expect("answer");
    assert_eq!(refused.protocol.cstat, 713);
    s.clean();

    for tp_emis in [1, 3, 8] {
        assert!(
            FakeSefaz::start_contingency(Uf::SP, Environment::Homologation, tp_emis)
                .await
                .is_err(),
            "tpEmis {tp_emis}"
        );
    }
}
