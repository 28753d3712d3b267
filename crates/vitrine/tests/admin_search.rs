//! The admin's customers and order search over HTTP on the real server (SQLite, and DynamoDB on
//! the emulator with `VITRINE_TEST_BACKEND=aws`): customers found by name, e-mail, CPF and phone;
//! orders by id, customer, CPF, status, method, dates and totals, combined; every page walked
//! with its cursor returns each result once; the CSV export; bad filters named in a 422. That each
//! search reads its index and nothing else is the Table conformance suite's
//! (`vitrine_testkit::table`, `order_search_*` and `customer_search_*`).

mod common;

use std::collections::BTreeSet;

use common::{TestApp, buy_now, problem};
use reqwest::Method;
use serde_json::{Value, json};

async fn profile(t: &TestApp, token: &str, body: Value) {
    let res = t
        .req(Method::PUT, "/api/v1/me", Some(token))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

/// Every result of `path` (which has its `?`), walking pages of `limit`; panics on a repeat.
async fn walk(t: &TestApp, admin: &str, path: &str, limit: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..200 {
        let mut url = format!("{path}&limit={limit}");
        if let Some(a) = &after {
            url.push_str(&format!("&after={a}"));
        }
        let res = t.get(&url, Some(admin)).await;
        assert_eq!(res.status(), 200, "{url}");
        let body: Value = res.json().await.unwrap();
        let items = body["items"].as_array().unwrap();
        assert!(items.len() <= limit);
        out.extend(items.iter().cloned());
        match body["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => {
                let ids: BTreeSet<String> = out
                    .iter()
                    .map(|v| v["id"].as_str().or(v["sub"].as_str()).unwrap().to_owned())
                    .collect();
                assert_eq!(ids.len(), out.len(), "a result twice: {path}");
                return out;
            }
        }
    }
    panic!("{path} does not end");
}

fn ids(items: &[Value], field: &str) -> Vec<String> {
    items
        .iter()
        .map(|v| v[field].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn customers_are_found_by_name_e_mail_cpf_and_phone() {
    let t = TestApp::spawn().await;
    let admin = t.admin("dona@loja.test").await;
    let ana = t.customer("ana.souza@cliente.test").await;
    let bia = t.customer("bia@cliente.test").await;
    let joao = t.customer("joao@outro.test").await;
    profile(
        &t,
        &ana,
        json!({ "name": "Ana Souza", "tax_id": "529.982.247-25", "phone": "(11) 98765-4321" }),
    )
    .await;
    profile(&t, &bia, json!({ "name": "Beatriz Anália Lima" })).await;
    profile(
        &t,
        &joao,
        json!({ "name": "João da Silva", "tax_id": "111.444.777-35" }),
    )
    .await;
    let subs: Vec<String> = {
        let mut v = Vec::new();
        for token in [&ana, &bia, &joao] {
            v.push(
                t.get_json("/api/v1/me", Some(token)).await["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        v
    };
    let names = |items: &[Value]| -> Vec<String> { ids(items, "name") };
    let find = |q: &str| format!("/api/v1/admin/customers?q={}", urlencode(q));

    // Everyone (the admin too), newest first, one a page.
    let all = walk(&t, &admin, "/api/v1/admin/customers?", 1).await;
    let all_subs = ids(&all, "sub");
    for s in &subs {
        assert!(all_subs.contains(s), "{s} listed");
    }
    let at = |s: &String| all_subs.iter().position(|x| x == s).unwrap();
    assert!(
        at(&subs[2]) < at(&subs[1]) && at(&subs[1]) < at(&subs[0]),
        "newest first"
    );

    // By the start of any word of the name, accents and case aside.
    assert_eq!(
        names(&walk(&t, &admin, &find("sou"), 5).await),
        ["Ana Souza"]
    );
    assert_eq!(
        names(&walk(&t, &admin, &find("ANA"), 5).await),
        ["Ana Souza", "Beatriz Anália Lima"]
    );
    assert_eq!(
        names(&walk(&t, &admin, &find("ana lim"), 5).await),
        ["Beatriz Anália Lima"]
    );
    assert_eq!(
        names(&walk(&t, &admin, &find("joão silva"), 5).await),
        ["João da Silva"]
    );
    assert!(walk(&t, &admin, &find("souzza"), 5).await.is_empty());
    // By the e-mail's start, the CPF's digits however punctuated, the phone's.
    assert_eq!(
        names(&walk(&t, &admin, &find("Ana.Souza@"), 5).await),
        ["Ana Souza"]
    );
    assert_eq!(
        names(&walk(&t, &admin, &find("111.444"), 5).await),
        ["João da Silva"]
    );
    assert_eq!(
        names(&walk(&t, &admin, &find("52998224725"), 5).await),
        ["Ana Souza"]
    );
    assert_eq!(
        names(&walk(&t, &admin, &find("+55 11 98765"), 5).await),
        ["Ana Souza"]
    );

    // A changed name is found by its new words only.
    profile(
        &t,
        &ana,
        json!({ "name": "Ana Pereira", "tax_id": "529.982.247-25" }),
    )
    .await;
    assert!(walk(&t, &admin, &find("souza"), 5).await.is_empty());
    assert_eq!(
        names(&walk(&t, &admin, &find("pereira"), 5).await),
        ["Ana Pereira"]
    );
    assert!(
        walk(&t, &admin, &find("11 98765"), 5).await.is_empty(),
        "the phone was removed"
    );

    // A profile from before the entries (deleted here) is found again once its owner signs in.
    {
        use vitrine_app::ports::{Index, Query, WriteOp};
        let table = &t.app.ports.table;
        let mut doomed = Vec::new();
        for pk in ["CUSTOMERS", "CUSTOMERS#FIND"] {
            let page = table
                .query(Query::new(Index::Primary, pk).limit(1_000))
                .await
                .unwrap();
            doomed.extend(
                page.items
                    .into_iter()
                    .filter(|i| i.str("sub") == Some(subs[2].as_str()))
                    .map(|i| WriteOp::Delete {
                        key: i.key,
                        condition: None,
                    }),
            );
        }
        assert!(doomed.len() >= 4, "the entries of João: {}", doomed.len());
        table.write(doomed).await.unwrap();
    }
    assert!(walk(&t, &admin, &find("joão"), 5).await.is_empty());
    t.sign_in("joao@outro.test", "senha-forte-123").await;
    assert_eq!(
        names(&walk(&t, &admin, &find("joão"), 5).await),
        ["João da Silva"]
    );

    // One customer's record.
    let one = t
        .get_json(
            &format!("/api/v1/admin/customers/{}", subs[0]),
            Some(&admin),
        )
        .await;
    assert_eq!(one["email"], "ana.souza@cliente.test");
    assert_eq!(one["tax_id"], "52998224725");
    assert!(one["addresses"].as_array().unwrap().is_empty());
    let missing = t.get("/api/v1/admin/customers/nobody", Some(&admin)).await;
    assert_eq!(problem(missing, 404).await["status"], 404);
    // A cursor of another kind of search is refused, naming `after`.
    let page = t
        .get_json(&format!("{}&limit=1", find("a")), Some(&admin))
        .await;
    let cursor = page["next"]
        .as_str()
        .expect("more than one customer has an a-word");
    let res = t
        .get(&format!("{}&after={cursor}", find("@")), Some(&admin))
        .await;
    let p = problem(res, 422).await;
    assert_eq!(p["errors"][0]["field"], "after", "{p}");
    t.stop().await;
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn orders_are_found_by_every_filter_and_exported() {
    let t = TestApp::spawn().await;
    let admin = t.admin("dona@loja.test").await;
    t.product(&admin, "caneca", &[("CANECA-1", 50)]).await;
    let ana = t.customer("ana@cliente.test").await;
    let joao = t.customer("joao@cliente.test").await;
    let ana_sub = t.get_json("/api/v1/me", Some(&ana)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut placed = Vec::new();
    for (token, qty, cpf) in [
        (&ana, 1, "529.982.247-25"),
        (&joao, 2, "111.444.777-35"),
        (&ana, 3, "529.982.247-25"),
        (&joao, 4, "111.444.777-35"),
        (&ana, 5, "529.982.247-25"),
    ] {
        let mut body = buy_now("CANECA-1", qty);
        body["tax_id"] = json!(cpf);
        placed.push(t.place(token, &body).await);
    }
    let id = |i: usize| placed[i]["id"].as_str().unwrap().to_owned();
    let total = |i: usize| placed[i]["total_centavos"].as_i64().unwrap();
    // The second order is cancelled.
    let res = t
        .post(
            &format!("/api/v1/admin/orders/{}/cancel", id(1)),
            Some(&admin),
            json!({"reason": "teste"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let orders = |q: &str| format!("/api/v1/admin/orders?{q}");
    let found = |items: Vec<Value>| ids(&items, "id");

    // Every order, newest first, in pages of two.
    assert_eq!(
        found(walk(&t, &admin, &orders(""), 2).await),
        [id(4), id(3), id(2), id(1), id(0)]
    );
    // One order by id; the buyer's CPF (punctuated or not); the customer.
    assert_eq!(
        found(walk(&t, &admin, &orders(&format!("id={}", id(3))), 5).await),
        [id(3)]
    );
    assert_eq!(
        found(walk(&t, &admin, &orders("tax_id=529.982.247-25"), 1).await),
        [id(4), id(2), id(0)]
    );
    assert_eq!(
        found(walk(&t, &admin, &orders("tax_id=11144477735"), 5).await),
        [id(3), id(1)]
    );
    assert_eq!(
        found(walk(&t, &admin, &orders(&format!("customer={ana_sub}")), 2).await),
        [id(4), id(2), id(0)]
    );
    // Status, alone and with a CPF.
    assert_eq!(
        found(walk(&t, &admin, &orders("status=cancelled"), 5).await),
        [id(1)]
    );
    assert_eq!(
        found(
            walk(
                &t,
                &admin,
                &orders("status=pending_payment&tax_id=11144477735"),
                5
            )
            .await
        ),
        [id(3)]
    );
    // Payment method, and today's date (São Paulo) or another day.
    assert_eq!(walk(&t, &admin, &orders("method=pix"), 2).await.len(), 5);
    assert!(walk(&t, &admin, &orders("method=card"), 2).await.is_empty());
    let today = sao_paulo_today();
    assert_eq!(
        walk(&t, &admin, &orders(&format!("from={today}&to={today}")), 2)
            .await
            .len(),
        5
    );
    assert_eq!(
        found(
            walk(
                &t,
                &admin,
                &orders(&format!("from={today}&status=cancelled")),
                2
            )
            .await
        ),
        [id(1)]
    );
    assert!(
        walk(&t, &admin, &orders("from=2020-01-01&to=2020-01-31"), 2)
            .await
            .is_empty()
    );
    // Totals: alone (largest first), and with a method.
    let between = format!(
        "min_total_centavos={}&max_total_centavos={}",
        total(1),
        total(3)
    );
    assert_eq!(
        found(walk(&t, &admin, &orders(&between), 1).await),
        [id(3), id(2), id(1)]
    );
    assert_eq!(
        found(
            walk(
                &t,
                &admin,
                &orders(&format!("{between}&method=pix&tax_id=52998224725")),
                1
            )
            .await
        ),
        [id(2)]
    );

    // The export: a header and one line per order found.
    let res = t
        .get(
            &orders("tax_id=52998224725").replace("orders?", "orders/export?"),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("pedidos-{}.csv", sao_paulo_today()))
    );
    assert!(res.headers().get("link").is_none());
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], vitrine_http::dto::ORDER_CSV_HEADER);
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[1].starts_with(&format!("{},", id(4))), "{csv}");
    assert!(lines[1].contains(",pending_payment,"), "{csv}");
    assert!(lines[1].contains(",52998224725,pix,5,"), "{csv}");

    // Bad filters are named.
    assert_eq!(
        refused(
            &t,
            &admin,
            &orders("status=lost&from=2026-02-30&method=cash&tax_id=123")
        )
        .await,
        BTreeSet::from([
            "status".to_owned(),
            "from".into(),
            "method".into(),
            "tax_id".into()
        ])
    );
    assert_eq!(
        refused(
            &t,
            &admin,
            &orders("from=2026-12-02&to=2026-12-01&min_total_centavos=5&max_total_centavos=1")
        )
        .await,
        BTreeSet::from(["from".to_owned(), "min_total_centavos".into()])
    );
    let long = "x".repeat(300);
    assert_eq!(
        refused(&t, &admin, &orders(&format!("customer={long}"))).await,
        BTreeSet::from(["customer".to_owned()])
    );
    assert_eq!(
        refused(&t, &admin, &format!("/api/v1/admin/customers?q={long}")).await,
        BTreeSet::from(["q".to_owned()])
    );
    let res = t.get(&orders("after=bogus"), Some(&admin)).await;
    assert_eq!(problem(res, 422).await["errors"][0]["field"], "after");
    // A customer may not search.
    assert_eq!(t.get(&orders(""), Some(&ana)).await.status(), 403);
    assert_eq!(
        t.get("/api/v1/admin/customers", Some(&ana)).await.status(),
        403
    );
    t.stop().await;
}

/// The fields a 422 answer to `GET path` names.
async fn refused(t: &TestApp, admin: &str, path: &str) -> BTreeSet<String> {
    let p = problem(t.get(path, Some(admin)).await, 422).await;
    p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

/// Today in São Paulo (UTC−3), `YYYY-MM-DD`.
fn sao_paulo_today() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let day = (now - 3 * 3_600_000).div_euclid(86_400_000);
    vitrine_app::dashboard::date_of_day(day)
}
