//! NF-e issuing over HTTP: a paid order is invoiced by the `invoices` consumer with a signed,
//! schema-valid document its owner downloads; 50 orders paid at once (and issued by racing
//! issuers) get numbers 1..50 with no gap or repeat; a document that cannot be made is never
//! stored, raises `invoice.failed` and dead-letters its delivery, and uses up no number.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{TestApp, buy_now, external_check};
use serde_json::{Value, json};
use vitrine_app::invoices::Issued;
use vitrine_testkit::mail::{ReceivedMail, read_mail_folder};

async fn place(t: &TestApp, token: &str, body: Value) -> Value {
    t.place(token, &body).await
}

async fn pay(t: &TestApp, token: &str, order: &Value) {
    t.pay_by_pix(token, order).await;
}

/// The order once its status is not `paid` any more (bounded wait).
async fn settled(t: &TestApp, token: &str, id: &str) -> Value {
    t.settled_within(token, id, 30).await
}

/// The e-mail with attachments sent to `to`, from the mail folder (bounded wait: the `email`
/// consumer sends it after the order moves).
async fn invoiced_mail(t: &TestApp, to: &str) -> ReceivedMail {
    for _ in 0..300 {
        let found = read_mail_folder(&t.data_dir.join("mail"))
            .into_iter()
            .find(|m| m.to == to && !m.attachments.is_empty());
        if let Some(mail) = found {
            assert_eq!(mail.attachments.len(), 2, "{mail:?}");
            return mail;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no e-mail with attachments to {to} within 30 s");
}

#[tokio::test]
async fn a_paid_order_is_invoiced_and_only_its_owner_downloads_the_signed_xml() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@example.com").await;
    t.product(&admin, "nota", &[("NOTA-1", 5)]).await;
    let [ana, bia] = [
        t.customer("ana@example.com").await,
        t.customer("bia@example.com").await,
    ];
    let order = place(&t, &ana, buy_now("NOTA-1", 2)).await;
    let id = order["id"].as_str().unwrap();
    // Not invoiced yet: nothing to download.
    assert_eq!(
        t.get(&format!("/api/v1/orders/{id}/invoice"), Some(&ana))
            .await
            .status(),
        404
    );
    pay(&t, &ana, &order).await;
    let order = settled(&t, &ana, id).await;
    assert_eq!(order["status"], "invoiced", "{order}");
    let key = order["invoice_key"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 44);
    assert!(key.starts_with("35"), "issued in SP: {key}");

    let res = t
        .get(&format!("/api/v1/orders/{id}/invoice"), Some(&ana))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/xml");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("{key}-procNFe.xml")),
        "the authorised file: the NF-e with SEFAZ's protocol"
    );
    let xml = res.text().await.unwrap();
    // The buyer's "invoiced" e-mail carries the same XML, and the DANFE (checked below).
    let mail = invoiced_mail(&t, "ana@example.com").await;
    let xml_attached = &mail.attachments[1];
    assert_eq!(xml_attached.filename, format!("NFe{key}.xml"));
    assert_eq!(xml_attached.bytes, xml.as_bytes());
    let verified = vitrine_nfe::verify(&xml).expect("the signature verifies");
    assert_eq!(verified.reference_id, format!("NFe{key}"));
    assert!(xml.contains("<tpAmb>2</tpAmb>"), "homologation by default");
    assert!(xml.contains("<tPag>17</tPag>"), "paid by Pix");
    assert!(
        xml.contains(&format!("<cAut>E{id}</cAut>")),
        "the Pix end-to-end id"
    );
    vitrine_nfe::SchemaValidator::validate(
        &vitrine_nfe::Xmllint::new().expect("xmllint is installed (scripts/test.sh)"),
        vitrine_nfe::SchemaDocument::NfeProc,
        &xml,
    )
    .expect("schema-valid");

    // Stored under invoices/{yyyy}/{mm}/, with its DANFE beside it.
    let files = t.app.ports.blobs.list("invoices/").await.unwrap();
    let mut names: Vec<&str> = files
        .iter()
        .map(|f| f.key.rsplit('/').next().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            format!("{key}-danfe.pdf"),
            format!("{key}-nfe.xml"),
            format!("{key}-procNFe.xml")
        ],
        "{files:?}"
    );

    // The DANFE: a PDF naming the key (in groups of four, as printed), for the owner and admins.
    let res = t
        .get(&format!("/api/v1/orders/{id}/invoice/danfe"), Some(&ana))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let pdf = res.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    let danfe_attached = &mail.attachments[0];
    assert_eq!(danfe_attached.filename, format!("DANFE-{key}.pdf"));
    assert_eq!(danfe_attached.content_type, "application/pdf");
    assert_eq!(
        danfe_attached.bytes,
        pdf.as_ref(),
        "the stored DANFE is attached"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("danfe.pdf"), &pdf).unwrap();
    let text = std::process::Command::new("pdftotext")
        .args(["-layout", "danfe.pdf", "-"])
        .current_dir(dir.path())
        .output()
        .expect("pdftotext runs (poppler-utils, installed by scripts/test.sh)");
    let text = String::from_utf8_lossy(&text.stdout);
    let grouped: Vec<String> = key
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    assert!(text.contains(&grouped.join(" ")), "{text}");
    assert!(text.contains("SEM VALOR FISCAL"), "homologation: {text}");
    assert_eq!(
        t.get(&format!("/api/v1/orders/{id}/invoice/danfe"), Some(&bia))
            .await
            .status(),
        404
    );
    assert_eq!(
        t.get(&format!("/api/v1/orders/{id}/invoice/danfe"), Some(&admin))
            .await
            .status(),
        200
    );

    let info = t
        .get_json(&format!("/api/v1/orders/{id}/invoice/info"), Some(&ana))
        .await;
    assert_eq!(info["number"], 1);
    assert_eq!(info["series"], 1);
    assert_eq!(info["environment"], "homologation");
    // Authorised by the built-in SEFAZ simulator (the demo emitter's default), as the admins
    // are told.
    assert_eq!(info["transmission"], "authorized");
    let fiscal = t.get_json("/api/v1/admin/fiscal", Some(&admin)).await;
    assert_eq!(fiscal["authority"], "sefaz-simulator", "{fiscal}");
    assert_eq!(fiscal["environment"], "homologation", "{fiscal}");
    assert!(
        info["protocol"].as_str().is_some_and(|p| p.len() == 15),
        "{info}"
    );
    assert_eq!(info["access_key"], key.as_str());

    // Another customer learns nothing; an admin may download it.
    assert_eq!(
        t.get(&format!("/api/v1/orders/{id}/invoice"), Some(&bia))
            .await
            .status(),
        404
    );
    assert_eq!(
        t.get(&format!("/api/v1/orders/{id}/invoice"), None)
            .await
            .status(),
        401
    );
    assert_eq!(
        t.get(&format!("/api/v1/orders/{id}/invoice"), Some(&admin))
            .await
            .status(),
        200
    );
    // Issuing again is a no-op that returns the same invoice.
    match t.app.issue_invoice(id).await.unwrap() {
        Issued::Issued(i) => assert_eq!(i.access_key.as_deref(), Some(key.as_str())),
        other => panic!("{other:?}"),
    }
    assert_eq!(t.app.ports.blobs.list("invoices/").await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_company_paying_by_card_in_3_installments_to_another_state_gets_a_valid_nfe() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@example.com").await;
    t.product(&admin, "empresa", &[("EMP-1", 10), ("EMP-2", 10)])
        .await;
    let ana = t.customer("compras@empresa.example.com").await;
    let mut body = buy_now("EMP-1", 2);
    body["items"] = json!([{ "sku": "EMP-1", "quantity": 2 }, { "sku": "EMP-2", "quantity": 1 }]);
    body["payment_method"] = json!("card");
    body["tax_id"] = json!("11.444.777/0001-61");
    body["shipping_address"] = json!({
        "recipient": "Empresa Exemplo", "street": "Rua da Praia", "number": "50",
        "district": "Centro Histórico", "city": "Porto Alegre", "uf": "RS", "cep": "90010-000"
    });
    let order = place(&t, &ana, body).await;
    let id = order["id"].as_str().unwrap();
    let res = t
        .post(
            &format!("/api/v1/orders/{id}/payment"),
            Some(&ana),
            json!({ "method": "card", "card": { "number": "4111 1111 1111 1111", "holder": "EMPRESA EXEMPLO" }, "installments": 3 }),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let order = settled(&t, &ana, id).await;
    assert_eq!(order["status"], "invoiced", "{order}");
    let xml = t
        .get(&format!("/api/v1/orders/{id}/invoice"), Some(&ana))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        xml.contains("<CNPJ>11444777000161</CNPJ>"),
        "the buyer's CNPJ"
    );
    assert!(
        xml.contains("<tPag>03</tPag>") && xml.contains("<tBand>01</tBand>"),
        "a Visa card"
    );
    assert!(xml.contains("em 3x"), "the installments in infCpl");
    assert!(xml.contains("<CFOP>6102</CFOP>"), "a sale to another state");
    assert!(
        xml.contains("<cMun>4314902</cMun>"),
        "Porto Alegre's IBGE code"
    );
    assert_eq!(xml.matches("<det nItem=").count(), 2);
    let schema = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../vitrine-nfe/schemas/procNFe_v4.00.xsd"
    );
    external_check("xmllint", &["--noout", "--nonet", "--schema", schema], &xml)
        .expect("schema-valid");
    external_check(
        "xmlsec1",
        &["--verify", "--insecure", "--id-attr:Id", "infNFe"],
        &xml,
    )
    .expect("the signature verifies");
}

#[tokio::test]
async fn fifty_orders_paid_at_once_get_numbers_1_to_50_without_gap_or_repeat() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@example.com").await;
    t.product(&admin, "lote", &[("LOTE-1", 100)]).await;
    let buyers = t.customers("lote", 10).await;
    let mut orders = Vec::new();
    for i in 0..50 {
        let token = buyers[i % buyers.len()].clone();
        let order = place(&t, &token, buy_now("LOTE-1", 1)).await;
        orders.push((token, order));
    }
    // Pay all 50 at once.
    futures::future::join_all(orders.iter().map(|(token, order)| pay(&t, token, order))).await;
    // Racing issuers, as several Lambda instances would be, beside the server's own consumer.
    let racing = futures::future::join_all(orders.iter().map(|(_, order)| {
        let app = t.app.clone();
        let id = order["id"].as_str().unwrap().to_owned();
        async move { app.issue_invoice(&id).await }
    }))
    .await;
    for r in racing {
        assert!(matches!(r, Ok(Issued::Issued(_))), "{r:?}");
    }
    let mut numbers = Vec::new();
    let mut keys = BTreeSet::new();
    for (token, order) in &orders {
        let id = order["id"].as_str().unwrap();
        let o = settled(&t, token, id).await;
        assert_eq!(o["status"], "invoiced", "{o}");
        let info = t
            .get_json(&format!("/api/v1/orders/{id}/invoice/info"), Some(token))
            .await;
        assert_eq!(info["access_key"], o["invoice_key"]);
        numbers.push(info["number"].as_u64().unwrap());
        keys.insert(o["invoice_key"].as_str().unwrap().to_owned());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=50).collect::<Vec<u64>>());
    assert_eq!(keys.len(), 50);
    assert_eq!(nfe_files(&t).await, 50);
}

#[tokio::test]
async fn a_document_that_cannot_be_made_is_not_stored_alerts_and_uses_no_number() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@example.com").await;
    t.product(&admin, "falha", &[("FALHA-1", 10)]).await;
    let ana = t.customer("ana@example.com").await;
    // A city IBGE does not know: the NF-e cannot carry it. Checkout refuses such an address
    // now, so the order is stored as one placed before that check would have been.
    let bad = place(&t, &ana, buy_now("FALHA-1", 1)).await;
    let bad_id = bad["id"].as_str().unwrap().to_owned();
    rewrite_city(&t, &bad_id, "Cidade Que Não Existe").await;
    pay(&t, &ana, &bad).await;

    // The invoices delivery is dead-lettered with the reason, and `invoice.failed` is raised.
    let dead = t.dead_letter(&admin, "invoices").await;
    assert_eq!(dead["subject"], bad_id.as_str(), "{dead}");
    assert!(
        dead["last_error"]
            .as_str()
            .unwrap()
            .contains("not an IBGE municipality"),
        "{dead}"
    );
    let alerted = failed_events(&t).await;
    assert!(
        alerted.contains(&bad_id),
        "invoice.failed for {bad_id}: {alerted:?}"
    );
    let order = t
        .get_json(&format!("/api/v1/orders/{bad_id}"), Some(&ana))
        .await;
    assert_eq!(order["status"], "paid");
    assert!(
        t.app
            .ports
            .blobs
            .list("invoices/")
            .await
            .unwrap()
            .is_empty()
    );

    // The next good order gets number 1: the failure used none.
    let good = place(&t, &ana, buy_now("FALHA-1", 1)).await;
    let good_id = good["id"].as_str().unwrap();
    pay(&t, &ana, &good).await;
    assert_eq!(settled(&t, &ana, good_id).await["status"], "invoiced");
    let info: Value = t
        .get(
            &format!("/api/v1/orders/{good_id}/invoice/info"),
            Some(&ana),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["number"], 1);
    assert_eq!(nfe_files(&t).await, 1);
}

/// How many NF-e documents are stored (each has its DANFE beside it).
async fn nfe_files(t: &TestApp) -> usize {
    let files = t.app.ports.blobs.list("invoices/").await.unwrap();
    let nfe = files.iter().filter(|f| f.key.ends_with("-nfe.xml")).count();
    let danfe = files
        .iter()
        .filter(|f| f.key.ends_with("-danfe.pdf"))
        .count();
    assert_eq!(nfe, danfe, "a DANFE beside every NF-e: {files:?}");
    nfe
}

/// Store order `id` again with another shipping city, as if it had been placed so.
async fn rewrite_city(t: &TestApp, id: &str, city: &str) {
    use vitrine_app::ports::WriteOp;
    use vitrine_app::store::orders;
    let table = &*t.app.ports.table;
    let mut order = orders::load(table, id).await.unwrap().unwrap();
    order.shipping_address.city = city.into();
    table
        .write(vec![WriteOp::put(orders::order_item(&order).unwrap())])
        .await
        .unwrap();
}

/// The subjects of the `invoice.failed` events handed to the admin-alerts subscriber.
async fn failed_events(t: &TestApp) -> Vec<String> {
    use vitrine_app::ports::{Index, Query};
    for _ in 0..100 {
        let deliveries = t
            .app
            .ports
            .table
            .query(Query::new(Index::Primary, "DELIVERY#admin-alerts"))
            .await
            .unwrap();
        let subjects: Vec<String> = deliveries
            .items
            .iter()
            .filter(|i| i.str("event_type") == Some("invoice.failed"))
            .filter_map(|i| i.str("subject").map(str::to_owned))
            .collect();
        if !subjects.is_empty() {
            return subjects;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Vec::new()
}
