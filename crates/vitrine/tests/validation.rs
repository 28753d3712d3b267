//! Bad input: each case gets a 4xx problem+json naming what is wrong, never a 5xx, and writes
//! nothing (no order, no stock moved, the cart as it was).

mod common;

use common::{TestApp, address, buy_now, problem};
use reqwest::Method;
use serde_json::{Value, json};

struct Case {
    name: &'static str,
    body: Vec<u8>,
    content_type: &'static str,
    status: u16,
    /// A field the problem must name, when it is a validation problem.
    field: Option<&'static str>,
}

fn json_case(name: &'static str, body: Value, status: u16, field: Option<&'static str>) -> Case {
    Case {
        name,
        body: serde_json::to_vec(&body).unwrap(),
        content_type: "application/json",
        status,
        field,
    }
}

#[tokio::test]
async fn bad_checkouts_are_4xx_problems_and_write_nothing() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    t.product(&admin, "valida", &[("VAL-1", 5)]).await;
    let res = t
        .post(
            "/api/v1/admin/coupons",
            Some(&admin),
            json!({ "code": "VENCIDO", "kind": "percent", "basis_points": 500, "starts_at": "2020-01-01T00:00:00Z", "ends_at": "2020-02-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let token = t.customer("v@example.com").await;
    // The cart holds something, so "empty cart" is not what stops the bad requests below.
    assert_eq!(
        t.post(
            "/api/v1/cart/items",
            Some(&token),
            json!({ "sku": "VAL-1", "quantity": 1 })
        )
        .await
        .status(),
        200
    );

    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = buy_now("VAL-1", 1);
        f(&mut b);
        b
    };
    let cases = vec![
        Case {
            name: "malformed JSON",
            body: b"{\"items\": [".to_vec(),
            content_type: "application/json",
            status: 400,
            field: None,
        },
        Case {
            name: "not JSON at all",
            body: b"items=1".to_vec(),
            content_type: "application/x-www-form-urlencoded",
            status: 415,
            field: None,
        },
        json_case(
            "wrong type",
            with(&|b| b["items"][0]["quantity"] = json!("two")),
            422,
            Some("items[0].quantity"),
        ),
        json_case(
            "unknown field",
            with(&|b| b["gift_wrap"] = json!(true)),
            422,
            Some("gift_wrap"),
        ),
        json_case(
            "unknown nested field",
            with(&|b| b["shipping_address"]["andar"] = json!(3)),
            422,
            Some("andar"),
        ),
        Case {
            name: "oversize body",
            body: serde_json::to_vec(&with(&|b| b["coupon"] = json!("X".repeat(200_000)))).unwrap(),
            content_type: "application/json",
            status: 413,
            field: None,
        },
        json_case(
            "invalid CPF",
            with(&|b| b["tax_id"] = json!("123.456.789-00")),
            422,
            Some("tax_id"),
        ),
        json_case(
            "invalid CEP",
            with(&|b| b["shipping_address"]["cep"] = json!("123")),
            422,
            Some("cep"),
        ),
        json_case(
            "unknown UF",
            with(&|b| b["shipping_address"]["uf"] = json!("XX")),
            422,
            Some("uf"),
        ),
        json_case(
            "zero quantity",
            with(&|b| b["items"][0]["quantity"] = json!(0)),
            422,
            Some("items[0].quantity"),
        ),
        json_case(
            "negative quantity",
            with(&|b| b["items"][0]["quantity"] = json!(-2)),
            422,
            Some("items[0].quantity"),
        ),
        json_case(
            "unknown SKU",
            with(&|b| b["items"][0]["sku"] = json!("NAO-EXISTE")),
            422,
            Some("items[0].sku"),
        ),
        json_case(
            "malformed SKU",
            with(&|b| b["items"][0]["sku"] = json!("com espaço")),
            422,
            Some("sku"),
        ),
        json_case(
            "expired coupon",
            with(&|b| b["coupon"] = json!("VENCIDO")),
            422,
            Some("coupon"),
        ),
        json_case(
            "unknown coupon",
            with(&|b| b["coupon"] = json!("NENHUM")),
            422,
            Some("coupon"),
        ),
        json_case(
            "unknown shipping method",
            with(&|b| b["shipping_method"] = json!("drone")),
            422,
            Some("shipping_method"),
        ),
        json_case(
            "no address",
            with(&|b| drop(b.as_object_mut().unwrap().remove("shipping_address"))),
            422,
            Some("shipping_address"),
        ),
        json_case(
            "blank street",
            with(&|b| b["shipping_address"]["street"] = json!("  ")),
            422,
            Some("shipping_address.street"),
        ),
        json_case(
            "more than in stock",
            with(&|b| b["items"][0]["quantity"] = json!(6)),
            409,
            None,
        ),
        json_case(
            "unknown payment method",
            with(&|b| b["payment_method"] = json!("boleto")),
            422,
            Some("payment_method"),
        ),
    ];

    for (i, case) in cases.into_iter().enumerate() {
        let res = t
            .req(Method::POST, "/api/v1/orders", Some(&token))
            .header("Idempotency-Key", format!("bad-{i}"))
            .header("content-type", case.content_type)
            .body(case.body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        assert_eq!(
            status,
            case.status,
            "{}: got {status}: {}",
            case.name,
            res.text().await.unwrap()
        );
        let body = problem(res, case.status).await;
        if let Some(field) = case.field {
            let fields: Vec<&str> = body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["field"].as_str().unwrap())
                .collect();
            assert!(
                fields.iter().any(|f| f.contains(field)),
                "{}: fields {fields:?} should name {field}",
                case.name
            );
        }
    }

    let orders: Value = t
        .get("/api/v1/orders", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        orders["items"].as_array().unwrap().is_empty(),
        "no order was written"
    );
    assert_eq!(t.stock(&admin, "VAL-1").await, 5, "no stock moved");
    let cart: Value = t
        .get("/api/v1/cart", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cart["lines"][0]["quantity"], 1, "the cart is as it was");
    t.stop().await;
}

#[tokio::test]
async fn bad_cart_and_catalog_requests_are_4xx_problems() {
    let t = TestApp::spawn().await;
    for (body, field) in [
        (json!({ "sku": "CAM-BAS-M", "quantity": 0 }), "quantity"),
        (json!({ "sku": "CAM-BAS-M", "quantity": -1 }), "quantity"),
        (json!({ "sku": "CAM-BAS-M", "quantity": 1.5 }), "quantity"),
        (json!({ "sku": "NAO-EXISTE", "quantity": 1 }), "sku"),
        (json!({ "sku": "CAM-BAS-M" }), "quantity"),
        (
            json!({ "sku": "CAM-BAS-M", "quantity": 1, "extra": 1 }),
            "extra",
        ),
    ] {
        let p = problem(t.post("/api/v1/cart/items", None, body.clone()).await, 422).await;
        assert!(
            p["errors"][0]["field"].as_str().unwrap().contains(field),
            "{body}: {p}"
        );
    }
    problem(
        t.post(
            "/api/v1/cart/items",
            None,
            json!({ "sku": "CAM-BAS-M", "quantity": 99 }),
        )
        .await,
        409,
    )
    .await;
    let res = t
        .req(Method::GET, "/api/v1/cart", None)
        .header("X-Cart-Token", "../../etc/passwd")
        .send()
        .await
        .unwrap();
    problem(res, 404).await;
    for q in [
        "limit=0",
        "limit=101",
        "sort=random",
        "min_price_centavos=-1",
        "after=%%%",
        "after=bm90LWEtY3Vyc29y",
        "category=nada",
        "color=blue",
    ] {
        problem(t.get(&format!("/api/v1/products?{q}"), None).await, 422).await;
    }
    for q in [
        "cep=123&weight_g=100",
        "cep=01310100&weight_g=0",
        "cep=01310100",
    ] {
        problem(
            t.get(&format!("/api/v1/shipping/quote?{q}"), None).await,
            422,
        )
        .await;
    }
    problem(t.get("/api/v1/products/nao-existe", None).await, 404).await;
    let addr = json!({ "label": "casa", "recipient": "A", "street": "R", "number": "1", "district": "D", "city": "São Paulo", "uf": "SP", "cep": "01310100" });
    let token = t.customer("x@example.com").await;
    assert_eq!(
        t.post("/api/v1/me/addresses", Some(&token), addr)
            .await
            .status(),
        201
    );
    let mut bad = address();
    bad["cep"] = json!("00000-000");
    problem(t.post("/api/v1/me/addresses", Some(&token), bad).await, 422).await;
    problem(
        t.req(Method::PUT, "/api/v1/me", Some(&token))
            .json(&json!({ "name": "X", "tax_id": "111.111.111-11" }))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    t.stop().await;
}

#[tokio::test]
async fn admin_edits_need_the_current_etag() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    let p = t.product(&admin, "etag", &[("ETAG-1", 1)]).await;
    let id = p["id"].as_str().unwrap();
    let body = json!({ "name": "Novo nome", "variants": [{ "sku": "ETAG-1", "price_centavos": 6000 }, { "sku": "ETAG-2", "price_centavos": 7000, "stock": 3 }] });
    let put = |etag: Option<&str>| {
        let mut r = t
            .req(
                Method::PUT,
                &format!("/api/v1/admin/products/{id}"),
                Some(&admin),
            )
            .json(&body);
        if let Some(e) = etag {
            r = r.header("If-Match", e);
        }
        r.send()
    };
    problem(put(None).await.unwrap(), 428).await;
    let res = put(Some("\"1\"")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"], "\"2\"");
    // A second editor still holding version 1 is told it changed.
    let stale = problem(put(Some("\"1\"")).await.unwrap(), 412).await;
    assert_eq!(stale["type"], "urn:vitrine:problem:version-mismatch");
    assert_eq!(t.stock(&admin, "ETAG-2").await, 3);
    let shown: Value = t
        .get("/api/v1/products/etag", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["name"], "Novo nome");
    assert_eq!(shown["variants"][1]["available"], 3);

    // Another product may not take a SKU that exists.
    let dup = t
        .post(
            "/api/v1/admin/products",
            Some(&admin),
            json!({ "name": "Outro", "variants": [{ "sku": "ETAG-1", "price_centavos": 100 }] }),
        )
        .await;
    problem(dup, 409).await;
    let adj = t
        .post(
            "/api/v1/admin/stock/ETAG-1/adjustments",
            Some(&admin),
            json!({ "delta": -5, "reason": "quebra" }),
        )
        .await;
    problem(adj, 422).await;
    let adj = t
        .post(
            "/api/v1/admin/stock/ETAG-1/adjustments",
            Some(&admin),
            json!({ "delta": 9, "reason": "reposição" }),
        )
        .await;
    assert_eq!(adj.json::<Value>().await.unwrap()["available"], 10);
    t.stop().await;
}

#[tokio::test]
async fn errors_outside_handlers_are_problems_too() {
    let t = TestApp::spawn().await;
    let res = t
        .req(Method::DELETE, "/api/v1/products", None)
        .send()
        .await
        .unwrap();
    let p = problem(res, 405).await;
    assert_eq!(p["type"], "urn:vitrine:problem:method-not-allowed");
    let token = t.customer("e@example.com").await;
    let p = problem(
        t.get("/api/v1/orders?after=Zm9yamFkbw", Some(&token)).await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "after");
    // A cart token the server never issued opens nothing and creates nothing.
    let res = t
        .req(Method::POST, "/api/v1/cart/items", None)
        .header("X-Cart-Token", "01ARZ3NDEKTSV4RRFFQ69G5FAV")
        .json(&json!({ "sku": "CAM-BAS-M", "quantity": 1 }))
        .send()
        .await
        .unwrap();
    problem(res, 404).await;
    t.stop().await;
}

#[tokio::test]
async fn a_fifty_line_checkout_that_drops_every_sku_to_low_stock_fits_one_batch() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    let skus: Vec<String> = (0..50).map(|i| format!("LOW-{i}")).collect();
    let variants: Vec<(&str, i64)> = skus.iter().map(|s| (s.as_str(), 6)).collect();
    t.product(&admin, "muitos", &variants).await;
    let token = t.customer("f@example.com").await;
    let mut body = buy_now("X", 1);
    body["items"] = json!(
        skus.iter()
            .map(|s| json!({ "sku": s, "quantity": 2 }))
            .collect::<Vec<_>>()
    );
    let res = t
        .req(Method::POST, "/api/v1/orders", Some(&token))
        .header("Idempotency-Key", "fifty")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let low: Value = t
        .get("/api/v1/admin/stock-low", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        low.as_array()
            .unwrap()
            .iter()
            .filter(|s| s["sku"].as_str().unwrap().starts_with("LOW-"))
            .count(),
        50
    );
    t.stop().await;
}

#[tokio::test]
async fn category_edits_need_the_current_version() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    let res = t
        .post(
            "/api/v1/admin/categories",
            Some(&admin),
            json!({ "name": "Promoções" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let c: Value = res.json().await.unwrap();
    let path = format!("/api/v1/admin/categories/{}", c["id"].as_str().unwrap());
    let put = |etag: Option<&str>| {
        let mut r = t
            .req(Method::PUT, &path, Some(&admin))
            .json(&json!({ "name": "Ofertas" }));
        if let Some(e) = etag {
            r = r.header("If-Match", e);
        }
        r.send()
    };
    problem(put(None).await.unwrap(), 428).await;
    assert_eq!(put(Some("\"1\"")).await.unwrap().status(), 200);
    problem(put(Some("\"1\"")).await.unwrap(), 412).await;
    // Moving a category inside its own child is refused.
    let child: Value = t
        .post(
            "/api/v1/admin/categories",
            Some(&admin),
            json!({ "name": "Filha", "parent_id": c["id"] }),
        )
        .await
        .json()
        .await
        .unwrap();
    let res = t
        .req(Method::PUT, &path, Some(&admin))
        .header("If-Match", "\"2\"")
        .json(&json!({ "name": "Ofertas", "parent_id": child["id"] }))
        .send()
        .await
        .unwrap();
    problem(res, 422).await;
    t.stop().await;
}

/// An address whose city is not a municipality of its UF, or whose CEP lies outside the UF,
/// could never be invoiced (the NF-e needs the city's IBGE code), so it is refused at checkout
/// and when saved, naming the field, before anything is reserved.
#[tokio::test]
async fn an_address_no_invoice_could_carry_is_refused_naming_its_field() {
    let (t, admin, token) = store_selling_end_1().await;

    // A misspelt city (the closest municipality of the UF is suggested), a city of another
    // state, a CEP of Rio de Janeiro for an address in São Paulo.
    for (name, value, field, message, code) in [
        (
            "city",
            "Sao Paolo",
            "shipping_address.city",
            "\"Sao Paolo\" is not a municipality of SP; did you mean São Paulo?",
            "city-not-in-uf",
        ),
        (
            "city",
            "Curitiba",
            "shipping_address.city",
            "\"Curitiba\" is not a municipality of SP (there is one in PR)",
            "city-not-in-uf",
        ),
        (
            "cep",
            "20040-002",
            "shipping_address.cep",
            "CEP 20040-002 is in RJ, not in SP",
            "cep-not-in-uf",
        ),
    ] {
        let e = refused_checkout(&t, &token, &|b| b["shipping_address"][name] = json!(value)).await;
        assert_eq!(e["field"], field, "{e}");
        assert_eq!(e["message"], message, "{e}");
        assert_eq!(e["code"], code, "{e}");
        let params = &e["params"];
        match value {
            "Sao Paolo" => assert_eq!(params["suggestions"], json!(["São Paulo"]), "{e}"),
            "Curitiba" => assert_eq!(params["found_in"], json!(["PR"]), "{e}"),
            _ => assert_eq!(params["cep_uf"], "RJ", "{e}"),
        }
    }

    // Accents and case do not matter.
    let mut body = buy_now("END-1", 1);
    body["shipping_address"]["city"] = json!("SAO PAULO");
    t.place(&token, &body).await;

    // A saved address gets the same check; its body is the address, so fields are bare.
    let mut saved = address();
    saved["city"] = json!("Curitiba");
    saved["uf"] = json!("PR");
    let p = problem(
        t.post("/api/v1/me/addresses", Some(&token), saved.clone())
            .await,
        422,
    )
    .await;
    let e = only_error(&p);
    assert_eq!(e["field"], "cep");
    assert_eq!(e["message"], "CEP 01310-100 is in SP, not in PR");
    saved["cep"] = json!("80020-310");
    assert_eq!(
        t.post("/api/v1/me/addresses", Some(&token), saved)
            .await
            .status(),
        201
    );

    // Only the good checkout placed an order and reserved stock.
    let orders: Value = t
        .get("/api/v1/orders", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(orders["items"].as_array().unwrap().len(), 1, "{orders}");
    assert_eq!(t.stock(&admin, "END-1").await, 4);
    t.stop().await;
}

/// A store selling 5 of END-1, its admin's token and a customer's.
async fn store_selling_end_1() -> (TestApp, String, String) {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    t.product(&admin, "endereco", &[("END-1", 5)]).await;
    let token = t.customer("e@example.com").await;
    (t, admin, token)
}

/// The one field error of a checkout of END-1 refused with 422 after `change` to its body.
async fn refused_checkout(t: &TestApp, token: &str, change: &dyn Fn(&mut Value)) -> Value {
    let mut body = buy_now("END-1", 1);
    change(&mut body);
    let res = t
        .req(Method::POST, "/api/v1/orders", Some(token))
        .header("Idempotency-Key", format!("endereco-{}", ulid::Ulid::new()))
        .json(&body)
        .send()
        .await
        .unwrap();
    only_error(&problem(res, 422).await)
}

fn only_error(p: &Value) -> Value {
    let errors = p["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{p}");
    errors[0].clone()
}

/// A saved address kept from before addresses were checked, in a city no invoice can carry, is
/// refused when a checkout uses it, on `address_id`, and nothing is reserved.
#[tokio::test]
async fn a_saved_address_from_before_the_check_is_refused_at_checkout() {
    use vitrine_app::customers::SavedAddress;
    use vitrine_app::ports::WriteOp;
    use vitrine_app::store;

    let (t, admin, token) = store_selling_end_1().await;
    let res = t
        .post("/api/v1/me/addresses", Some(&token), address())
        .await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let me: Value = t
        .get("/api/v1/me", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    let sub = me["id"].as_str().unwrap();
    let table = &*t.app.ports.table;
    let mut saved: SavedAddress = store::customers::load_address(table, sub, &id)
        .await
        .unwrap()
        .unwrap();
    saved.address.city = "Cidade Que Não Existe".into();
    let item = store::data_item(store::address(sub, &id), &saved).unwrap();
    table.write(vec![WriteOp::put(item)]).await.unwrap();

    let e = refused_checkout(&t, &token, &|b| {
        let b = b.as_object_mut().unwrap();
        b.remove("shipping_address");
        b.insert("address_id".into(), json!(id));
    })
    .await;
    assert_eq!(e["field"], "address_id");
    assert_eq!(
        e["message"],
        "the saved address needs correcting: city: \"Cidade Que Não Existe\" is not a municipality of SP"
    );
    assert_eq!(e["code"], "city-not-in-uf");
    assert_eq!(t.stock(&admin, "END-1").await, 5);
    t.stop().await;
}
