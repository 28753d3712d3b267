//! Sales reports over HTTP: an admin generates one, lists the files and downloads them; the
//! totals equal the sum of the sold orders computed here independently; only admins see them.

mod common;

use common::{TestApp, buy_now};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn an_admin_generates_lists_and_downloads_sales_reports_with_the_right_totals() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@example.com").await;
    t.product(&admin, "relatorio", &[("REL-1", 100)]).await;
    let buyers = t.customers("rel", 3).await;
    let mut sold_total = 0i64;
    let mut sold = 0u64;
    for (i, token) in buyers.iter().enumerate() {
        let mut body = buy_now("REL-1", i as i64 + 1);
        if i == 2 {
            body["shipping_address"]["uf"] = json!("RJ");
            body["shipping_address"]["city"] = json!("Rio de Janeiro");
            body["shipping_address"]["cep"] = json!("20040-002");
        }
        let res = t
            .req(Method::POST, "/api/v1/orders", Some(token))
            .header("Idempotency-Key", format!("rel-{i}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let order: Value = res.json().await.unwrap();
        // The first two are paid; the third stays unpaid and is not a sale.
        if i < 2 {
            let id = order["id"].as_str().unwrap();
            let res = t
                .post(
                    &format!("/api/v1/admin/orders/{id}/mark-paid"),
                    Some(&admin),
                    json!({ "reference": format!("TED-{i}") }),
                )
                .await;
            assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
            sold_total += order["total_centavos"].as_i64().unwrap();
            sold += 1;
        }
    }

    assert_eq!(
        t.post("/api/v1/admin/reports", Some(&buyers[0]), json!({}))
            .await
            .status(),
        403
    );
    assert_eq!(t.get("/api/v1/admin/reports", None).await.status(), 401);
    let res = t
        .post("/api/v1/admin/reports", Some(&admin), json!({}))
        .await;
    assert_eq!(res.status(), 201);
    let made: Value = res.json().await.unwrap();
    assert_eq!(made["items"].as_array().unwrap().len(), 6, "{made}");

    let list: Value = t
        .get("/api/v1/admin/reports", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    let url_of = |name: &str| {
        items
            .iter()
            .find(|i| i["name"].as_str().unwrap().ends_with(name))
            .map(|i| i["url"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("{name} in {list}"))
    };
    let csv = |name: &str| {
        let url = url_of(name);
        let t = &t;
        let admin = admin.clone();
        async move {
            let res = t.get(&url, Some(&admin)).await;
            assert_eq!(res.status(), 200);
            res.text().await.unwrap()
        }
    };
    let by_month = csv("sales-by-month.csv").await;
    let rows: Vec<&str> = by_month.lines().collect();
    assert_eq!(rows[0], "month,orders,revenue_brl,average_ticket_brl");
    assert_eq!(rows.len(), 2, "{by_month}");
    let cols: Vec<&str> = rows[1].split(',').collect();
    assert_eq!(cols[1], sold.to_string());
    assert_eq!(
        cols[2],
        format!("{}.{:02}", sold_total / 100, sold_total % 100)
    );
    let by_uf = csv("sales-by-uf.csv").await;
    assert!(
        by_uf.contains("\r\nSP,2,") && !by_uf.contains("RJ"),
        "{by_uf}"
    );
    let top = csv("top-products.csv").await;
    assert!(
        top.contains("REL-1,") && top.contains(",3,"),
        "1 + 2 units: {top}"
    );
    let svg = t.get(&url_of("revenue-by-day.svg"), Some(&admin)).await;
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().starts_with("<svg"));
    assert_eq!(
        t.get(&url_of("sales-by-day.csv"), Some(&buyers[1]))
            .await
            .status(),
        403
    );
    assert_eq!(
        t.get(
            "/api/v1/admin/reports/2026-01-01-000000/nope.csv",
            Some(&admin)
        )
        .await
        .status(),
        404
    );
}
