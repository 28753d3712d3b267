//! NF-e authorised by SEFAZ: the store configured as a shop would be (`[fiscal]` with its CNPJ,
//! its A1 certificate as PEM, the authoriser's roots and addresses), against the testkit's fake
//! authoriser of SP and a fake SVC-AN, both over mutual TLS and holding every request to the
//! official schemas.
//!
//! - 50 orders paid at once → 50 authorised NF-e numbered 1..50, no gap, no number or sale
//!   authorised twice, each `nfeProc` valid against `procNFe_v4.00.xsd` (xmllint) with its
//!   signature verified by xmlsec1 — with the authoriser timing out on every third request.
//! - The authoriser down: issuing moves to SVC-AN (tpEmis 6), recorded with its reason, and
//!   back to the authoriser once it answers again; numbers stay gapless across the switch.
//! - A rejection: an admin alert with SEFAZ's code and text, the order stays paid; the retry
//!   authorises the same number.
//! - The admin's operations through the API: correction letters (sequence 1, 2), a cancellation
//!   (the order cancelled, its stock back and its payment refunded), each archive valid against
//!   its schema with its signature verified; a cancellation after the 24-hour window refused,
//!   by the store's own check and by SEFAZ (220); the number of a refused NF-e of a cancelled
//!   order voided (`procInutNFe`), and the next order numbered after it.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::{TestApp, buy_now, external_check, test_config_with};
use serde_json::Value;
use vitrine_app::ports::{Clock, ManualClock, SystemClock};
use vitrine_nfe::sefaz::Service;
use vitrine_nfe::{Environment, Uf};
use vitrine_testkit::fakes::sefaz::FakeSefaz;

/// The state's authoriser and its contingency service.
struct Sefaz {
    normal: FakeSefaz,
    svc: FakeSefaz,
}

impl Sefaz {
    async fn start() -> Sefaz {
        let sp = Uf::parse("SP").unwrap();
        let normal = FakeSefaz::start(sp, Environment::Homologation)
            .await
            .unwrap();
        let svc = normal.contingency_for(6).await.unwrap();
        Sefaz { normal, svc }
    }

    fn violations(&self) -> Vec<String> {
        let mut all = self.normal.violations();
        all.extend(self.svc.violations());
        all.extend(self.normal.own_violations());
        all.extend(self.svc.own_violations());
        all
    }
}

/// Where a fake answers: its services are at `{base}/{operation}`.
fn base(fake: &FakeSefaz) -> String {
    let url = fake.url(Service::Status);
    url.rsplit_once('/').unwrap().0.to_owned()
}

/// A store of its own (CNPJ, certificate issued by the fake's CA, the fakes' roots) on `sefaz`.
async fn store(sefaz: &Sefaz) -> TestApp {
    store_on(sefaz, Arc::new(SystemClock)).await
}

/// [`store`] on `clock`.
async fn store_on(sefaz: &Sefaz, clock: Arc<dyn Clock>) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let shop = sefaz
        .normal
        .issue_shop_certificate("LOJA EXEMPLO LTDA")
        .unwrap();
    let certificate = dir.path().join("a1.pem");
    std::fs::write(&certificate, format!("{}{}", shop.cert_pem, shop.key_pem)).unwrap();
    let roots = dir.path().join("sefaz-roots.pem");
    std::fs::write(&roots, sefaz.normal.ca_pem()).unwrap();
    let toml = format!(
        r#"
[fiscal]
cnpj = "11444777000161"
ie = "110042490114"
name = "LOJA EXEMPLO LTDA"
street = "Rua Augusta"
number = "100"
district = "Consolacao"
city = "São Paulo"
uf = "SP"
cep = "01305000"
certificate = "{certificate}"
sefaz_roots_file = "{roots}"
sefaz_url = "{normal}"
svc_url = "{svc}"
sefaz_timeout_secs = 2
contingency_check_secs = 1
"#,
        certificate = certificate.display(),
        roots = roots.display(),
        normal = base(&sefaz.normal),
        svc = base(&sefaz.svc),
    );
    let config = test_config_with(data_dir, &toml);
    TestApp::spawn_on(dir, config, clock, |_| {}).await
}

/// `n` orders of `buyers` (round robin) paid at once: (buyer, order).
async fn paid_orders(t: &TestApp, buyers: &[String], sku: &str, n: usize) -> Vec<(String, Value)> {
    let mut orders = Vec::new();
    for i in 0..n {
        let token = buyers[i % buyers.len()].clone();
        let order = t.place(&token, &buy_now(sku, 1)).await;
        orders.push((token, order));
    }
    futures::future::join_all(
        orders
            .iter()
            .map(|(token, order)| t.pay_by_pix(token, order)),
    )
    .await;
    orders
}

/// What the store says of each order's NF-e once every one is invoiced: `invoice/info`.
async fn invoiced(t: &TestApp, orders: &[(String, Value)]) -> Vec<Value> {
    let mut infos = Vec::new();
    for (token, order) in orders {
        let id = order["id"].as_str().unwrap();
        let o = t.settled_within(token, id, 120).await;
        assert_eq!(o["status"], "invoiced", "{o}");
        let info = t
            .get_json(&format!("/api/v1/orders/{id}/invoice/info"), Some(token))
            .await;
        assert_eq!(info["transmission"], "authorized", "{info}");
        assert!(
            info["protocol"].as_str().is_some_and(|p| p.len() == 15),
            "{info}"
        );
        infos.push(info);
    }
    infos
}

/// The downloaded `nfeProc` of an order: valid against `procNFe_v4.00.xsd`, its signature
/// verified by xmlsec1, its protocol the one the store recorded.
async fn check_nfe_proc(t: &TestApp, token: &str, id: &str, info: &Value) {
    let res = t
        .get(&format!("/api/v1/orders/{id}/invoice"), Some(token))
        .await;
    assert_eq!(res.status(), 200);
    let xml = res.text().await.unwrap();
    assert!(xml.contains("<nfeProc"), "the authorised file: {xml:.200}");
    let protocol = info["protocol"].as_str().unwrap();
    assert!(xml.contains(&format!("<nProt>{protocol}</nProt>")));
    let schema = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../vitrine-nfe/schemas/procNFe_v4.00.xsd"
    );
    external_check("xmllint", &["--noout", "--nonet", "--schema", schema], &xml)
        .expect("nfeProc is schema-valid");
    external_check(
        "xmlsec1",
        &["--verify", "--insecure", "--id-attr:Id", "infNFe"],
        &xml,
    )
    .expect("the NF-e's signature verifies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_paid_orders_get_fifty_authorised_nfe_numbered_1_to_50_through_timeouts() {
    let sefaz = Sefaz::start().await;
    // Every third request is processed, then answered only after the client gave up.
    sefaz.normal.timeout_every(Some(3));
    sefaz.normal.set_hang(Duration::from_secs(4));
    let t = store(&sefaz).await;
    let admin = t.admin("admin@example.com").await;
    t.product(&admin, "lote", &[("LOTE-1", 100)]).await;
    let buyers = t.customers("lote", 10).await;
    let orders = paid_orders(&t, &buyers, "LOTE-1", 50).await;
    let infos = invoiced(&t, &orders).await;

    let numbers: BTreeSet<u64> = infos
        .iter()
        .map(|i| i["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=50).collect(), "1..50, no gap, no repeat");
    let keys: BTreeSet<&str> = infos
        .iter()
        .map(|i| i["access_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 50);
    for key in &keys {
        assert_eq!(&key[34..35], "1", "normal emission: {key}");
        assert!(sefaz.normal.authorised(key).is_some(), "{key}");
    }
    assert_eq!(
        sefaz.normal.authorised_count(),
        50,
        "no sale authorised twice"
    );
    assert_eq!(sefaz.svc.authorised_count(), 0);
    // Each timed-out document was asked about (consSitNFe) and found authorised: not resent.
    let requests = sefaz.normal.authorisation_requests();
    let queries = sefaz
        .normal
        .exchanges()
        .iter()
        .filter(|(request, _)| request.starts_with("<consSitNFe"))
        .count();
    assert!(
        queries >= 16,
        "a third of 50 sends timed out, each followed by a query: {queries} queries"
    );
    for ((token, order), info) in orders.iter().zip(&infos) {
        check_nfe_proc(&t, token, order["id"].as_str().unwrap(), info).await;
    }
    assert_eq!(sefaz.violations(), Vec::<String>::new());
    eprintln!(
        "50 orders: {requests} authorisation requests (every third timed out), {queries} protocol queries, 50 authorised"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_authoriser_down_issuing_moves_to_svc_and_back() {
    let sefaz = Sefaz::start().await;
    let t = store(&sefaz).await;
    let admin = t.admin("admin@example.com").await;
    t.product(&admin, "lote", &[("LOTE-1", 100)]).await;
    let buyers = t.customers("svc", 5).await;

    sefaz.normal.set_down(true);
    let down = paid_orders(&t, &buyers, "LOTE-1", 10).await;
    let infos = invoiced(&t, &down).await;
    for info in &infos {
        let key = info["access_key"].as_str().unwrap();
        assert_eq!(&key[34..35], "6", "SVC-AN contingency: {key}");
        assert!(sefaz.svc.authorised(key).is_some(), "{key}");
    }
    let mode = vitrine_app::store::invoices::load_mode(&*t.app.ports.table)
        .await
        .unwrap();
    let stamp = mode.contingency.expect("the switch is recorded");
    assert!(
        stamp.reason.starts_with("Autorizadora da UF indisponivel"),
        "{}",
        stamp.reason
    );
    // The admins see it.
    let fiscal = t.get_json("/api/v1/admin/fiscal", Some(&admin)).await;
    assert_eq!(fiscal["authority"], "sefaz", "{fiscal}");
    assert_eq!(
        fiscal["contingency"]["reason"],
        stamp.reason.as_str(),
        "{fiscal}"
    );
    for ((token, order), info) in down.iter().zip(&infos) {
        check_nfe_proc(&t, token, order["id"].as_str().unwrap(), info).await;
    }

    // Back: after the check interval, the next documents go to the state's authoriser again.
    sefaz.normal.set_down(false);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let back = paid_orders(&t, &buyers, "LOTE-1", 5).await;
    let back_infos = invoiced(&t, &back).await;
    for info in &back_infos {
        let key = info["access_key"].as_str().unwrap();
        assert_eq!(&key[34..35], "1", "normal emission again: {key}");
        assert!(sefaz.normal.authorised(key).is_some(), "{key}");
    }
    let mode = vitrine_app::store::invoices::load_mode(&*t.app.ports.table)
        .await
        .unwrap();
    assert!(mode.contingency.is_none(), "{mode:?}");
    let fiscal = t.get_json("/api/v1/admin/fiscal", Some(&admin)).await;
    assert!(fiscal["contingency"].is_null(), "{fiscal}");
    let numbers: BTreeSet<u64> = infos
        .iter()
        .chain(&back_infos)
        .map(|i| i["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=15).collect(), "gapless across the switch");
    assert_eq!(
        sefaz.svc.authorised_count() + sefaz.normal.authorised_count(),
        15
    );
    assert_eq!(sefaz.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_rejection_alerts_the_admins_and_the_retry_authorises_the_same_number() {
    let sefaz = Sefaz::start().await;
    let t = store(&sefaz).await;
    let admin = t.admin("admin@example.com").await;
    t.product(&admin, "nota", &[("NOTA-1", 10)]).await;
    let ana = t.customer("ana@example.com").await;
    // The next answer: 598, "NF-e emitida em ambiente de homologacao com Razao Social do
    // destinatario diferente de NF-E EMITIDA EM AMBIENTE DE HOMOLOGACAO - SEM VALOR FISCAL".
    sefaz.normal.reject_next(1, 598);
    let orders = paid_orders(&t, std::slice::from_ref(&ana), "NOTA-1", 1).await;
    let id = orders[0].1["id"].as_str().unwrap().to_owned();

    // The delivery is dead-lettered with SEFAZ's code and text (the alert the admins get says
    // the same); the order stays paid, with its number held.
    let dead = t.dead_letter(&admin, "invoices").await;
    let error = dead["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("SEFAZ rejected NF-e number 1 of series 1: 598"),
        "{dead}"
    );
    let invoice = vitrine_app::store::invoices::load(&*t.app.ports.table, &id)
        .await
        .unwrap()
        .expect("the number is held");
    let rejection = invoice
        .rejection
        .clone()
        .expect("the rejection is recorded");
    assert_eq!(rejection.code, 598, "{rejection:?}");
    assert_eq!(t.order(&ana, &id).await["status"], "paid");
    assert_eq!(sefaz.normal.authorised_count(), 0);

    // The retry (what the admin's "issue again" does) authorises the same number.
    let issued = t.app.issue_invoice(&id).await.unwrap();
    let vitrine_app::invoices::Issued::Issued(done) = issued else {
        panic!("{issued:?}")
    };
    assert_eq!(done.number, invoice.number);
    assert_eq!(t.order(&ana, &id).await["status"], "invoiced");
    assert_eq!(sefaz.normal.authorised_count(), 1);
    assert_eq!(sefaz.violations(), Vec::<String>::new());
}

/// An archive of the store's (a blob) valid against `schema` (under vitrine-nfe's `schemas/`)
/// with the signature of its `id_element` verified.
async fn check_archive(t: &TestApp, file: &str, schema: &str, id_element: &str) -> String {
    let blob = t
        .app
        .ports
        .blobs
        .get(file)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{file} is stored"));
    let xml = String::from_utf8(blob.bytes.to_vec()).unwrap();
    let schema = format!(
        "{}/../vitrine-nfe/schemas/{schema}",
        env!("CARGO_MANIFEST_DIR")
    );
    external_check(
        "xmllint",
        &["--noout", "--nonet", "--schema", &schema],
        &xml,
    )
    .unwrap_or_else(|e| panic!("{file} against its schema: {e}"));
    let id = format!("--id-attr:Id {id_element}");
    let args: Vec<&str> = ["--verify", "--insecure"]
        .into_iter()
        .chain(id.split(' '))
        .collect();
    external_check("xmlsec1", &args, &xml)
        .unwrap_or_else(|e| panic!("{file}: the signature verifies: {e}"));
    xml
}

/// Posts as an admin: (status, JSON body).
struct Poster<'a> {
    t: &'a TestApp,
    token: String,
}

impl<'a> Poster<'a> {
    fn new(t: &'a TestApp, token: &str) -> Poster<'a> {
        Poster {
            t,
            token: token.to_owned(),
        }
    }

    async fn post(&self, path: String, body: Value) -> (u16, Value) {
        let res = self.t.post(&path, Some(&self.token), body).await;
        let status = res.status().as_u16();
        (status, res.json::<Value>().await.unwrap())
    }
}

async fn stored_invoice(t: &TestApp, id: &str) -> vitrine_app::invoices::Invoice {
    vitrine_app::store::invoices::load(&*t.app.ports.table, id)
        .await
        .unwrap()
        .expect("an invoice record")
}

async fn refunded_within(t: &TestApp, token: &str, id: &str) -> Value {
    for _ in 0..400 {
        let payment = t
            .get_json(&format!("/api/v1/orders/{id}/payment"), Some(token))
            .await;
        if payment["status"] == "refunded" {
            return payment;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("order {id} was never refunded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_corrects_cancels_and_voids_with_sefaz() {
    let sefaz = Sefaz::start().await;
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let t = store_on(&sefaz, clock.clone()).await;
    let admin = t.admin("admin@example.com").await;
    t.product(&admin, "nota", &[("NOTA-1", 10)]).await;
    let ana = t.customer("ana@example.com").await;
    let orders = paid_orders(&t, std::slice::from_ref(&ana), "NOTA-1", 3).await;
    invoiced(&t, &orders).await;
    let id = |i: usize| orders[i].1["id"].as_str().unwrap().to_owned();
    let (a, b, c) = (id(0), id(1), id(2));
    assert_eq!(t.stock(&admin, "NOTA-1").await, 7);
    let mut admin_post = Poster::new(&t, &admin);

    // Correction letters: checked text, then sequence 1 and 2, each registered by SEFAZ.
    let (status, problem) = admin_post
        .post(
            format!("/api/v1/admin/orders/{a}/invoice/corrections"),
            serde_json::json!({ "correction": "curta" }),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "correction", "{problem}");
    for (n, text) in [
        (1, "Onde se le Rua Augusta 10, leia-se Rua Augusta 100"),
        (
            2,
            "Onde se le Rua Augusta 10, leia-se Rua Augusta 100, apto 12",
        ),
    ] {
        let (status, invoice) = admin_post
            .post(
                format!("/api/v1/admin/orders/{a}/invoice/corrections"),
                serde_json::json!({ "correction": text }),
            )
            .await;
        assert_eq!(status, 200, "{invoice}");
        let letter = &invoice["corrections"][n - 1];
        assert_eq!(letter["sequence"], n, "{invoice}");
        assert_eq!(letter["registered"], true, "{invoice}");
        assert_eq!(letter["by"], "admin@example.com", "{invoice}");
        assert!(letter["protocol"].as_str().is_some_and(|p| p.len() == 15));
    }
    let record = stored_invoice(&t, &a).await;
    for letter in &record.corrections {
        let xml = check_archive(
            &t,
            letter.file.as_deref().unwrap(),
            "ws/evento/procEventoNFe_v1.00.xsd",
            "infEvento",
        )
        .await;
        assert!(xml.contains("<tpEvento>110110</tpEvento>"), "{xml:.300}");
    }
    let key_a = record.access_key.clone().unwrap();
    assert_eq!(sefaz.normal.authorised(&key_a).unwrap().last_correction, 2);

    // Cancellation: the order is cancelled with it, its stock back and its money refunded.
    let (status, invoice) = admin_post
        .post(
            format!("/api/v1/admin/orders/{a}/invoice/cancel"),
            serde_json::json!({ "justification": "Pedido cancelado a pedido do cliente" }),
        )
        .await;
    assert_eq!(status, 200, "{invoice}");
    assert_eq!(invoice["cancelled"], true, "{invoice}");
    assert!(invoice["cancellable_until"].is_null(), "{invoice}");
    assert!(sefaz.normal.authorised(&key_a).unwrap().cancelled);
    assert_eq!(t.order(&ana, &a).await["status"], "cancelled");
    assert_eq!(t.stock(&admin, "NOTA-1").await, 8);
    refunded_within(&t, &ana, &a).await;
    let record = stored_invoice(&t, &a).await;
    let xml = check_archive(
        &t,
        record
            .cancellation
            .as_ref()
            .unwrap()
            .file
            .as_deref()
            .unwrap(),
        "ws/evento/procEventoNFe_v1.00.xsd",
        "infEvento",
    )
    .await;
    assert!(xml.contains("<tpEvento>110111</tpEvento>"), "{xml:.300}");
    // Asking again is answered with the same cancellation; a cancelled NF-e takes no letter.
    let (status, again) = admin_post
        .post(
            format!("/api/v1/admin/orders/{a}/invoice/cancel"),
            serde_json::json!({ "justification": "Pedido cancelado a pedido do cliente" }),
        )
        .await;
    assert_eq!(
        (status, &again["cancellation"]),
        (200, &invoice["cancellation"])
    );
    let (status, problem) = admin_post
        .post(
            format!("/api/v1/admin/orders/{a}/invoice/corrections"),
            serde_json::json!({ "correction": "Onde se le azul, leia-se verde escuro" }),
        )
        .await;
    assert_eq!(status, 422, "{problem}");

    // Voiding: SEFAZ refuses order D's NF-e (number 4); the order is cancelled and refunded,
    // then its number is voided, and order E is numbered 5.
    sefaz.normal.reject_next(1, 598);
    let d = paid_orders(&t, std::slice::from_ref(&ana), "NOTA-1", 1).await[0].1["id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.dead_letter(&admin, "invoices").await;
    let justification = serde_json::json!({ "justification": "NF-e rejeitada e pedido cancelado" });
    let (status, problem) = admin_post
        .post(
            format!("/api/v1/admin/orders/{d}/invoice/void"),
            justification.clone(),
        )
        .await;
    assert_eq!(status, 422, "a paid order waits for its NF-e: {problem}");
    let (status, numbered) = t
        .get(&format!("/api/v1/admin/orders/{d}/invoice"), Some(&admin))
        .await
        .json::<Value>()
        .await
        .map(|v| (200, v))
        .unwrap();
    assert_eq!(
        (status, numbered["status"].as_str()),
        (200, Some("numbered")),
        "{numbered}"
    );
    assert_eq!(numbered["number"], 4, "{numbered}");
    assert_eq!(numbered["rejection"]["code"], 598, "{numbered}");
    let res = t
        .post(
            &format!("/api/v1/admin/orders/{d}/cancel"),
            Some(&admin),
            serde_json::json!({ "reason": "NF-e rejeitada" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (status, voided) = admin_post
        .post(
            format!("/api/v1/admin/orders/{d}/invoice/void"),
            justification,
        )
        .await;
    assert_eq!(status, 200, "{voided}");
    assert_eq!(voided["status"], "voided", "{voided}");
    assert_eq!(voided["voiding"]["registered"], true, "{voided}");
    let record = stored_invoice(&t, &d).await;
    let xml = check_archive(
        &t,
        record.voiding.as_ref().unwrap().file.as_deref().unwrap(),
        "ws/procInutNFe_v4.00.xsd",
        "infInut",
    )
    .await;
    assert!(xml.contains("<nNFIni>4</nNFIni>"), "{xml:.400}");
    assert!(matches!(
        t.app.issue_invoice(&d).await.unwrap(),
        vitrine_app::invoices::Issued::NotDue(_)
    ));
    let e = paid_orders(&t, std::slice::from_ref(&ana), "NOTA-1", 1).await;
    let infos = invoiced(&t, &e).await;
    assert_eq!(infos[0]["number"], 5, "{}", infos[0]);
    // Out of the window: SEFAZ's own refusal (its clock a day on), then the store's check.
    sefaz.normal.advance_clock(Duration::from_secs(25 * 3600));
    let (status, problem) = admin_post
        .post(
            format!("/api/v1/admin/orders/{c}/invoice/cancel"),
            serde_json::json!({ "justification": "Pedido cancelado a pedido do cliente" }),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("SEFAZ refused the cancellation") && detail.contains("220"),
        "{problem}"
    );
    assert!(
        stored_invoice(&t, &c).await.cancellation.is_none(),
        "the refused request is taken back"
    );
    clock.advance_secs(25 * 3600);
    // A day on, the tokens of before have expired.
    let admin = t.sign_in("admin@example.com", "senha-forte-123").await;
    let ana = t.sign_in("ana@example.com", "senha-forte-123").await;
    admin_post = Poster::new(&t, &admin);
    let (status, problem) = admin_post
        .post(
            format!("/api/v1/admin/orders/{b}/invoice/cancel"),
            serde_json::json!({ "justification": "Pedido cancelado a pedido do cliente" }),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("within 24 hours"), "{problem}");
    assert_eq!(t.order(&ana, &b).await["status"], "invoiced");
    assert_eq!(t.order(&ana, &c).await["status"], "invoiced");

    assert_eq!(sefaz.violations(), Vec::<String>::new());
}
