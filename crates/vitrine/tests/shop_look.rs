//! The shop's look over HTTP on the real server: the owner sets the name, description, colours,
//! contact and logo (with `If-Match`, refused with clear problems when bad, owner only), and the
//! store shows them — the public look and its stylesheet, the server-rendered pages' head,
//! header and footer, the customer's e-mails, and the NF-e's trade name (`xFant`). The web apps
//! showing it are checked in the browser (`e2e/shop-look.test.js`).

mod common;

use std::time::Duration;

use common::{TestApp, buy_now, problem};
use reqwest::Method;
use serde_json::{Value, json};
use vitrine_app::auth::StaffRole;
use vitrine_testkit::mail::read_mail_folder;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde";

fn look() -> Value {
    json!({
        "name": "Ateliê Bela Flor",
        "description": "Cerâmica feita à mão em Minas Gerais.",
        "brand": "#7a1f5c",
        "accent": "#1d4e89",
        "contact": {
            "email": "contato@belaflor.com.br",
            "phone": "(31) 3456-7890",
            "whatsapp": "31 98765-4321",
            "address": "Rua da Bahia, 100 — Belo Horizonte, MG",
            "hours": "Seg a sex, 9h às 18h"
        }
    })
}

async fn put_look(t: &TestApp, token: &str, version: &str, body: &Value) -> reqwest::Response {
    t.req(Method::PUT, "/api/v1/admin/shop", Some(token))
        .header("if-match", version)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn put_logo(
    t: &TestApp,
    token: &str,
    version: &str,
    kind: &str,
    bytes: &'static [u8],
) -> reqwest::Response {
    t.req(Method::PUT, "/api/v1/admin/shop/logo", Some(token))
        .header("if-match", version)
        .header("content-type", kind)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_owner_sets_the_look_and_bad_input_changes_nothing() {
    let t = TestApp::spawn().await;
    let owner = t.admin("dona@loja.test").await;

    // A new store: the platform's look, version 0, and its stylesheet.
    let shop = t.get_json("/api/v1/shop", None).await;
    assert_eq!(shop["name"], "vitrine");
    assert_eq!(shop["brand"], "#0a5c36");
    assert_eq!(shop["version"], 0);
    let res = t.get("/api/v1/shop/look.css", None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/css; charset=utf-8");
    assert!(res.text().await.unwrap().contains("--brand: #0a5c36;"));

    // Without If-Match: 428. Every bad field named at once, nothing saved.
    let res = t
        .req(Method::PUT, "/api/v1/admin/shop", Some(&owner))
        .json(&look())
        .send()
        .await
        .unwrap();
    problem(res, 428).await;
    let mut bad = look();
    bad["name"] = json!("x");
    bad["brand"] = json!("#ffd700");
    bad["contact"]["email"] = json!("not-an-address");
    let p = problem(put_look(&t, &owner, "\"0\"", &bad).await, 422).await;
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "brand", "contact.email"], "{p}");
    let brand = &p["errors"][1];
    assert_eq!(brand["code"], "colour-too-light", "{p}");
    assert_eq!(brand["params"]["contrast"], "1.4", "{p}");
    let mut unknown = look();
    unknown["font"] = json!("Comic Sans");
    problem(put_look(&t, &owner, "\"0\"", &unknown).await, 422).await;
    assert_eq!(t.get_json("/api/v1/shop", None).await["version"], 0);

    // Saved: the ETag moves on; a save over the old one is 412.
    let res = put_look(&t, &owner, "\"0\"", &look()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"], "\"1\"");
    let saved: Value = res.json().await.unwrap();
    assert_eq!(saved["name"], "Ateliê Bela Flor");
    assert_eq!(saved["brand_ink"], "#ffffff");
    assert_eq!(saved["contact"]["phone"], "+553134567890");
    assert_eq!(saved["contact"]["phone_display"], "(31) 3456-7890");
    assert_eq!(
        saved["contact"]["whatsapp_link"],
        "https://wa.me/5531987654321"
    );
    problem(put_look(&t, &owner, "\"0\"", &look()).await, 412).await;
    let shop = t.get_json("/api/v1/shop", None).await;
    assert_eq!(
        shop["name"], "Ateliê Bela Flor",
        "the saving process sees it at once"
    );
    let css = t
        .get("/api/v1/shop/look.css", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(css.contains("--brand: #7a1f5c;"), "{css}");
    assert!(css.contains("--accent: #1d4e89;"), "{css}");

    // The logo: the bytes must be the image they claim; then it is public under /media.
    problem(
        put_logo(
            &t,
            &owner,
            "\"1\"",
            "image/svg+xml",
            b"<svg onload=alert(1)>",
        )
        .await,
        415,
    )
    .await;
    problem(
        put_logo(&t, &owner, "\"1\"", "image/png", b"<html>not a png</html>").await,
        422,
    )
    .await;
    let res = put_logo(&t, &owner, "\"1\"", "image/png", PNG).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"], "\"2\"");
    let with_logo: Value = res.json().await.unwrap();
    let logo_url = with_logo["logo_url"].as_str().unwrap().to_owned();
    assert!(logo_url.starts_with("/media/images/shop/"), "{logo_url}");
    let res = t.get(&logo_url, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);
    // Removed: the file goes too.
    let res = t
        .req(Method::DELETE, "/api/v1/admin/shop/logo", Some(&owner))
        .header("if-match", "\"2\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["logo"], Value::Null);
    assert_eq!(t.get(&logo_url, None).await.status(), 404);
    t.stop().await;
}

#[tokio::test]
async fn only_the_owner_changes_the_look() {
    let t = TestApp::spawn().await;
    let catalog = t.staff("catalogo@loja.test", StaffRole::Catalog).await;
    let orders = t.staff("pedidos@loja.test", StaffRole::Orders).await;
    let customer = t.customer("ana@example.com").await;
    for token in [&catalog, &orders] {
        problem(put_look(&t, token, "\"0\"", &look()).await, 403).await;
        problem(put_logo(&t, token, "\"0\"", "image/png", PNG).await, 403).await;
    }
    problem(put_look(&t, &customer, "\"0\"", &look()).await, 403).await;
    problem(put_look(&t, "", "\"0\"", &look()).await, 401).await;
    assert_eq!(t.get_json("/api/v1/shop", None).await["version"], 0);
    t.stop().await;
}

#[tokio::test]
async fn pages_e_mails_and_the_nfe_name_the_shop() {
    let t = TestApp::spawn().await;
    let owner = t.admin("dona@loja.test").await;
    assert_eq!(put_look(&t, &owner, "\"0\"", &look()).await.status(), 200);
    assert_eq!(
        put_logo(&t, &owner, "\"1\"", "image/png", PNG)
            .await
            .status(),
        200
    );
    let logo_url = t.get_json("/api/v1/shop", None).await["logo_url"]
        .as_str()
        .unwrap()
        .to_owned();
    t.product(&owner, "vaso-azul", &[("VASO-1", 5)]).await;

    // The server-rendered pages: title, site name, theme colour, logo, footer contact.
    let html = t
        .get("/produto/vaso-azul", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<title>Produto vaso-azul — Ateliê Bela Flor</title>"),
        "{html}"
    );
    assert!(html.contains("<meta property=\"og:site_name\" content=\"Ateliê Bela Flor\">"));
    assert!(html.contains("<meta name=\"theme-color\" content=\"#7a1f5c\">"));
    assert!(html.contains(&format!(
        "<a class=\"logo\" href=\"/\"><img src=\"{logo_url}\" alt=\"Ateliê Bela Flor\""
    )));
    assert!(html.contains(
        "<a href=\"https://wa.me/5531987654321\" rel=\"noopener\">WhatsApp (31) 98765-4321</a>"
    ));
    assert!(html.contains("<a href=\"mailto:contato@belaflor.com.br\">"));
    assert!(html.contains("Seg a sex, 9h às 18h"));
    assert!(!html.contains(">vitrine<"), "{html}");
    let home = t.get("/", None).await.text().await.unwrap();
    assert!(home.contains("<title>Ateliê Bela Flor — loja virtual</title>"));
    assert!(home.contains("<h1>Bem-vindo à Ateliê Bela Flor</h1>"));
    assert!(
        home.contains(
            "<meta name=\"description\" content=\"Cerâmica feita à mão em Minas Gerais.\">"
        )
    );
    assert!(home.contains("\"@type\":\"Organization\""), "{home}");
    assert!(
        home.contains(&format!("\"logo\":\"{}{logo_url}\"", t.url(""))),
        "{home}"
    );

    // An order: the e-mail wears the look; the NF-e's xFant is the shop's name.
    let ana = t.customer("ana@example.com").await;
    let order = t.place(&ana, &buy_now("VASO-1", 1)).await;
    let id = order["id"].as_str().unwrap();
    t.pay_by_pix(&ana, &order).await;
    let order = t.settled_within(&ana, id, 30).await;
    assert_eq!(order["status"], "invoiced", "{order}");
    let xml = t
        .get(&format!("/api/v1/orders/{id}/invoice"), Some(&ana))
        .await
        .text()
        .await
        .unwrap();
    assert!(xml.contains("<xFant>Ateliê Bela Flor</xFant>"), "{xml}");
    let mut placed = None;
    for _ in 0..300 {
        placed = read_mail_folder(&t.data_dir.join("mail"))
            .into_iter()
            .find(|m| m.to == "ana@example.com" && m.subject.contains(id));
        if placed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mail = placed.expect("an order e-mail to the buyer within 30 s");
    assert!(mail.text.contains("Ateliê Bela Flor"), "{}", mail.text);
    assert!(
        mail.text
            .contains("contato@belaflor.com.br · (31) 3456-7890 · WhatsApp (31) 98765-4321"),
        "{}",
        mail.text
    );
    let html = mail.html.as_deref().unwrap_or_default();
    assert!(html.contains("background:#7a1f5c;color:#ffffff;"), "{html}");
    t.stop().await;
}
