//! Realtime order events over WebSocket, against the real server on 127.0.0.1: who receives
//! what, the resume after a reconnect, refused tokens, garbage from clients, heartbeats and
//! token expiry.
//!
//! Waits are bounded (10 s) only so that a broken push fails the test instead of hanging it;
//! no assertion is about timing. The push latency is printed, not asserted.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use common::{TestApp, buy_now, test_config};
use futures::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use vitrine_app::auth::{Claims, TokenSigner, TokenUse, TokenVerifier};
use vitrine_app::events::dispatch::{Dispatcher, Pass};
use vitrine_app::events::{ConsumeError, Consumer, Delivery};
use vitrine_app::notify::RealtimePusher;
use vitrine_http::AppState;
use vitrine_http::realtime::{
    CLOSE_BAD_FRAME, CLOSE_NO_PONG, CLOSE_TOKEN_EXPIRED, Hub, HubSettings,
};
use vitrine_testkit::counting_table::CountingTable;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A guard against a push that never comes, not a timing expectation.
const GUARD: Duration = Duration::from_secs(10);

/// The socket's URL (no token: a token never goes in the URL), resuming after `after`.
fn ws_url(base: &str, after: Option<&str>) -> String {
    let mut url = format!("{}/api/v1/ws", base.replacen("http://", "ws://", 1));
    if let Some(after) = after {
        url.push_str(&format!("?after={after}"));
    }
    url
}

/// The handshake request a browser sends: the token in the subprotocol list.
fn ws_request(url: &str, token: &str) -> tungstenite::handshake::client::Request {
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_str(&format!("bearer, {token}")).unwrap(),
    );
    request
}

/// Connect and read the `ready` frame (the socket is registered from then on).
async fn connect(base: &str, token: &str, after: Option<&str>) -> (Ws, Vec<Value>, Value) {
    let (mut ws, res) = tokio_tungstenite::connect_async(ws_request(&ws_url(base, after), token))
        .await
        .expect("WebSocket handshake");
    assert_eq!(res.headers()["sec-websocket-protocol"], "bearer");
    let mut replayed = Vec::new();
    loop {
        let frame = next_json(&mut ws).await;
        if frame["type"] == "ready" {
            return (ws, replayed, frame);
        }
        replayed.push(frame);
    }
}

/// The next JSON text frame (pings and pongs are skipped; the client answers pings itself).
async fn next_json(ws: &mut Ws) -> Value {
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("no frame within the guard time")
            .expect("the socket ended")
            .expect("a WebSocket error");
        match frame {
            Message::Text(text) => return serde_json::from_str(&text).expect("a JSON frame"),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame: {other:?}"),
        }
    }
}

/// The next order event frame.
async fn next_event(ws: &mut Ws) -> Value {
    let frame = next_json(ws).await;
    assert_eq!(frame["type"], "event", "{frame}");
    frame
}

/// Read until the server closes; returns the close code.
async fn close_code(ws: &mut Ws) -> u16 {
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        match tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("not closed within the guard time")
        {
            Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
            Some(Ok(Message::Close(None))) | None => panic!("closed without a code"),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("socket error before the close frame: {e}"),
        }
    }
}

async fn place(t: &TestApp, token: &str) -> String {
    let res = t
        .req(Method::POST, "/api/v1/orders", Some(token))
        .header("Idempotency-Key", format!("rt-{}", ulid::Ulid::new()))
        .json(&buy_now("CAM-BAS-M", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn mark_paid(t: &TestApp, admin: &str, id: &str) {
    let res = t
        .post(
            &format!("/api/v1/admin/orders/{id}/mark-paid"),
            Some(admin),
            json!({ "reference": "pix-realtime-1" }),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

fn assert_event(frame: &Value, event_type: &str, order_id: &str, status: &str) {
    assert_eq!(frame["event_type"], event_type, "{frame}");
    assert_eq!(frame["order_id"], order_id, "{frame}");
    assert_eq!(frame["status"], status, "{frame}");
    assert_eq!(frame["data"]["order_id"], order_id, "{frame}");
    assert!(
        frame["id"].as_str().is_some_and(|id| !id.is_empty()),
        "{frame}"
    );
}

#[tokio::test]
async fn order_events_reach_their_owner_and_the_admins_and_no_other_customer() {
    let t = TestApp::spawn().await;
    let a = t.customer("rt-a@example.com").await;
    let b = t.customer("rt-b@example.com").await;
    let admin = t.admin("rt-admin@example.com").await;
    let (mut ws_a, _, _) = connect(&t.base, &a, None).await;
    let (mut ws_b, _, _) = connect(&t.base, &b, None).await;
    let (mut ws_admin, _, _) = connect(&t.base, &admin, None).await;

    let order = place(&t, &a).await;
    let placed = next_event(&mut ws_a).await;
    assert_event(&placed, "order.placed", &order, "pending_payment");
    assert_eq!(next_event(&mut ws_admin).await, placed);

    mark_paid(&t, &admin, &order).await;
    let answered = Instant::now();
    let paid = next_event(&mut ws_a).await;
    let latency = answered.elapsed();
    assert_event(&paid, "order.paid", &order, "paid");
    assert_ne!(paid["id"], placed["id"]);
    assert_eq!(next_event(&mut ws_admin).await, paid);
    eprintln!(
        "realtime: order.paid reached its owner {:.1} ms after the mark-paid response",
        latency.as_secs_f64() * 1000.0
    );

    // B saw none of A's events: the first event B receives is its own order's.
    let own = place(&t, &b).await;
    let first = next_event(&mut ws_b).await;
    assert_event(&first, "order.placed", &own, "pending_payment");
    assert_eq!(next_event(&mut ws_admin).await["order_id"], own);

    t.stop().await;
}

#[tokio::test]
async fn a_missing_or_refused_token_is_a_401_before_the_upgrade() {
    let t = TestApp::spawn().await;
    let url = ws_url(&t.base, None);
    // A good token in an `Authorization` header is not read: the subprotocol list is the one
    // place a token travels.
    let good = t.customer("rt-header@example.com").await;
    let mut in_header = url.as_str().into_client_request().unwrap();
    in_header
        .headers_mut()
        .insert("authorization", format!("Bearer {good}").parse().unwrap());
    for request in [
        ws_request(&url, "not-a-token"),
        ws_request(&url, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"),
        url.as_str().into_client_request().unwrap(),
        in_header,
    ] {
        match tokio_tungstenite::connect_async(request).await {
            Err(tungstenite::Error::Http(res)) => {
                assert_eq!(res.status(), 401);
                assert_eq!(res.headers()["content-type"], "application/problem+json");
            }
            other => panic!("expected a 401, got {:?}", other.map(|(_, r)| r.status())),
        }
    }
    // The same refusal for a plain GET, with the problem body.
    let res = t.get("/api/v1/ws", Some("nope")).await;
    common::problem(res, 401).await;
    t.stop().await;
}

/// A URL is written to every proxy's access log: a token in it is refused, even a good one and
/// even beside a good one in the subprotocol list, and the answer does not repeat it.
#[tokio::test]
async fn a_token_in_the_url_is_refused_before_the_upgrade() {
    let t = TestApp::spawn().await;
    let a = t.customer("rt-url@example.com").await;
    let in_url = format!("{}?access_token={a}", ws_url(&t.base, None));
    for request in [
        in_url.as_str().into_client_request().unwrap(),
        ws_request(&in_url, &a),
    ] {
        match tokio_tungstenite::connect_async(request).await {
            Err(tungstenite::Error::Http(res)) => {
                assert_eq!(res.status(), 400);
                let body = String::from_utf8_lossy(res.body().as_deref().unwrap_or_default());
                assert!(!body.contains(&a), "the token is echoed: {body}");
            }
            other => panic!("expected a 400, got {:?}", other.map(|(_, r)| r.status())),
        }
    }
    let res = t
        .get(&format!("/api/v1/ws?access_token={a}"), Some(&a))
        .await;
    let problem = common::problem(res, 400).await;
    assert_eq!(
        problem["type"]
            .as_str()
            .map(|t| t.ends_with("token_in_url")),
        Some(true),
        "{problem}"
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Sec-WebSocket-Protocol"),
        "{problem}"
    );
    assert!(!problem.to_string().contains(&a), "{problem}");

    // The same customer, token in the subprotocol list, is served.
    let (_ws, replayed, ready) = connect(&t.base, &a, None).await;
    assert!(replayed.is_empty());
    assert_eq!(ready["type"], "ready");
    t.stop().await;
}

#[tokio::test]
async fn the_token_in_the_subprotocol_list_selects_bearer_and_events_follow() {
    let t = TestApp::spawn().await;
    let a = t.customer("rt-proto@example.com").await;
    let (mut ws, res) = tokio_tungstenite::connect_async(ws_request(&ws_url(&t.base, None), &a))
        .await
        .expect("handshake");
    assert_eq!(res.headers()["sec-websocket-protocol"], "bearer");
    assert_eq!(next_json(&mut ws).await["type"], "ready");

    let order = place(&t, &a).await;
    assert_event(
        &next_event(&mut ws).await,
        "order.placed",
        &order,
        "pending_payment",
    );
    t.stop().await;
}

#[tokio::test]
async fn a_client_that_reconnects_with_after_gets_what_it_missed_once() {
    let t = TestApp::spawn().await;
    let a = t.customer("rt-resume@example.com").await;
    let admin = t.admin("rt-resume-admin@example.com").await;
    let (mut ws_admin, _, _) = connect(&t.base, &admin, None).await;
    let (mut ws_a, _, _) = connect(&t.base, &a, None).await;

    let order = place(&t, &a).await;
    let placed = next_event(&mut ws_a).await;
    assert_event(&placed, "order.placed", &order, "pending_payment");
    ws_a.close(None).await.unwrap();
    drop(ws_a);

    // Paid while A is away; the admin's socket shows the event has been pushed.
    assert_eq!(
        next_event(&mut ws_admin).await["event_type"],
        "order.placed"
    );
    mark_paid(&t, &admin, &order).await;
    let paid = next_event(&mut ws_admin).await;
    assert_eq!(paid["event_type"], "order.paid");

    let after = placed["id"].as_str().unwrap();
    let (mut ws_a, replayed, ready) = connect(&t.base, &a, Some(after)).await;
    assert_eq!(replayed, [paid], "only what came after order.placed");
    assert_eq!(ready["replayed"], 1);
    assert_eq!(ready["truncated"], false);

    // Live from here, with no repeat of the replayed event: the next is a new order's.
    let second = place(&t, &a).await;
    assert_event(
        &next_event(&mut ws_a).await,
        "order.placed",
        &second,
        "pending_payment",
    );

    // A malformed `after` is refused before the upgrade.
    let res = t
        .req(Method::GET, "/api/v1/ws?after=x'y", None)
        .header("sec-websocket-protocol", format!("bearer, {a}"))
        .send()
        .await
        .unwrap();
    common::problem(res, 422).await;
    t.stop().await;
}

/// A customer who missed three of their own events while others' orders went on gets exactly
/// those three on reconnecting, oldest first, and nothing of anyone else's.
#[tokio::test]
async fn a_customer_who_missed_three_of_their_events_gets_exactly_those_three() {
    let t = TestApp::spawn().await;
    let a = t.customer("rt-three@example.com").await;
    let b = t.customer("rt-three-other@example.com").await;
    let admin = t.admin("rt-three-admin@example.com").await;
    let (mut ws_admin, _, _) = connect(&t.base, &admin, None).await;
    let (mut ws_a, _, _) = connect(&t.base, &a, None).await;
    let first = place(&t, &a).await;
    let seen = next_event(&mut ws_a).await;
    assert_event(&seen, "order.placed", &first, "pending_payment");
    assert_eq!(next_event(&mut ws_admin).await, seen);
    ws_a.close(None).await.unwrap();
    drop(ws_a);

    // While A is away: two orders of B, and three events of A's (two orders, one payment).
    let mut mine = Vec::new();
    let mut orders = vec![place(&t, &b).await, place(&t, &a).await];
    orders.push(place(&t, &b).await);
    orders.push(place(&t, &a).await);
    mark_paid(&t, &admin, &first).await;
    for _ in 0..5 {
        let pushed = next_event(&mut ws_admin).await;
        if pushed["order_id"] == first
            || pushed["order_id"] == orders[1]
            || pushed["order_id"] == orders[3]
        {
            mine.push(pushed);
        }
    }
    mine.sort_by(|x, y| x["id"].as_str().cmp(&y["id"].as_str()));
    assert_eq!(mine.len(), 3);

    let (_ws_a, replayed, ready) = connect(&t.base, &a, seen["id"].as_str()).await;
    assert_eq!(
        replayed, mine,
        "exactly A's three missed events, oldest first"
    );
    assert_eq!(ready["replayed"], 3);
    assert_eq!(ready["truncated"], false);
    t.stop().await;
}

/// An order event of `customer`, recorded as the realtime subscriber's delivery through the app
/// (what the AWS consumer does for each event it pushes).
async fn record_realtime(app: &vitrine_app::App, customer: &str) -> String {
    let id = app.ports.ids.new_id();
    let order_id = app.ports.ids.new_id();
    let event = vitrine_domain::Event::new(
        "order.placed",
        order_id.clone(),
        json!({ "order_id": order_id, "status": "pending_payment", "total_centavos": 100,
                "tracking_code": null, "version": 1 }),
    )
    .for_customer(customer);
    app.record_delivered("realtime", &id, &event, 1)
        .await
        .unwrap();
    id
}

/// The attack: a customer connects with `after=0` to a store that has thousands of other
/// customers' events of the last days. They get their own events only, and the server reads a
/// bounded number of items — counted by the table itself, in the running server — where it
/// used to read every event of the week. An admin's `after=0` is capped too.
#[tokio::test]
async fn a_resume_after_0_reads_a_bounded_number_of_items_and_only_the_callers() {
    let counting: std::sync::Mutex<Option<Arc<CountingTable>>> = std::sync::Mutex::new(None);
    let t = TestApp::spawn_with(|store| {
        let table = Arc::new(CountingTable::new(store.app.ports.table.clone()));
        let ports = vitrine_app::Ports {
            table: table.clone(),
            ..store.app.ports.clone()
        };
        store.app = vitrine_app::App::new(ports, store.app.settings.clone());
        *counting.lock().unwrap() = Some(table);
    })
    .await;
    let table = counting.lock().unwrap().take().unwrap();
    let email = "rt-bounded@example.com";
    let sub = t
        .app
        .create_user(email, "senha-forte-123", "Cliente Teste", false)
        .await
        .unwrap();
    let token = t.sign_in(email, "senha-forte-123").await;
    let admin = t.admin("rt-bounded-admin@example.com").await;

    const OTHERS: usize = 2_000;
    let mut own = Vec::new();
    for n in 0..OTHERS {
        record_realtime(&t.app, &format!("someone-else-{}", n % 40)).await;
        if n % 700 == 350 {
            own.push(record_realtime(&t.app, &sub).await);
        }
    }
    assert_eq!(own.len(), 3);

    table.take();
    let (_ws, replayed, ready) = connect(&t.base, &token, Some("0")).await;
    let read = table.take();
    let ids: Vec<&str> = replayed.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids, own, "the caller's own events only");
    assert_eq!(ready["replayed"], 3);
    eprintln!("realtime: a customer's resume after 0 read {read} items ({OTHERS} others' kept)");
    // Their 3 events and one to see nothing predates the window; a little room for what the
    // server's own workers read meanwhile (their queues are empty).
    assert!(
        read <= 3 + 1 + 10,
        "read {read} items for one customer's resume"
    );

    table.take();
    let (_ws, replayed, ready) = connect(&t.base, &admin, Some("0")).await;
    let read = table.take();
    let cap = t.app.settings.realtime_resume_max_events;
    assert_eq!(replayed.len(), cap);
    assert_eq!(ready["replayed"], cap);
    assert_eq!(
        ready["truncated"], true,
        "the admin is told to reload over REST"
    );
    eprintln!("realtime: an admin's resume after 0 read {read} items");
    assert!(
        read <= cap + 1 + 10,
        "read {read} items for an admin's resume"
    );
    t.stop().await;
}

#[tokio::test]
async fn garbage_from_a_client_does_not_end_its_connection() {
    let t = TestApp::spawn().await;
    let a = t.customer("rt-garbage@example.com").await;
    let (mut ws, _, _) = connect(&t.base, &a, None).await;

    ws.send(Message::text("{not json")).await.unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "error");
    ws.send(Message::binary(vec![0u8, 159, 146, 150]))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "error");
    ws.send(Message::text(r#"{"type":"subscribe","order_id":"x"}"#))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "error");
    ws.send(Message::Ping(vec![1, 2, 3].into())).await.unwrap();

    let order = place(&t, &a).await;
    assert_event(
        &next_event(&mut ws).await,
        "order.placed",
        &order,
        "pending_payment",
    );

    // A frame over the 4 KiB limit ends that connection (1008), and only that one.
    ws.send(Message::text("x".repeat(8 * 1024))).await.unwrap();
    assert_eq!(close_code(&mut ws).await, CLOSE_BAD_FRAME);
    let (mut again, _, _) = connect(&t.base, &a, None).await;
    let order = place(&t, &a).await;
    assert_eq!(next_event(&mut again).await["order_id"], order);
    t.stop().await;
}

/// Serve the router on `state` on a random port; returns its base URL.
async fn serve(state: AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            vitrine_http::router(state)
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    base
}

/// The realtime consumer, held at a gate: it tells when a delivery reached it, and pushes only
/// once let through.
struct Gated {
    inner: RealtimePusher,
    reached: Notify,
    gate: Semaphore,
}

#[async_trait]
impl Consumer for Gated {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn handle(&self, delivery: &Delivery) -> Result<(), ConsumeError> {
        self.reached.notify_one();
        self.gate.acquire().await.unwrap().forget();
        self.inner.handle(delivery).await
    }
}

/// Start a dispatch pass and wait until its event reaches the gate; let it through unless `hold`.
/// Returns the pass, to be awaited.
async fn start_pass(
    dispatcher: &Arc<Dispatcher>,
    gated: &Gated,
    hold: bool,
) -> tokio::task::JoinHandle<vitrine_app::AppResult<Pass>> {
    let pass = tokio::spawn(Arc::clone(dispatcher).pass());
    gated.reached.notified().await;
    if !hold {
        gated.gate.add_permits(1);
    }
    pass
}

/// The seam between the replay and live events, made to happen: an event whose delivery is
/// recorded (so the replay reads it) but not yet pushed when the client connects is pushed
/// live after the replay, and the client gets it once.
#[tokio::test]
async fn an_event_both_replayed_and_pushed_live_reaches_the_client_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path().join("data"));
    let store = vitrine::compose::build_default(&config).expect("build store");
    vitrine::seed::seed(&store.app).await.expect("seed");
    let app = store.app.clone();
    let hub = Arc::new(Hub::default());
    let state = AppState::with_keys(store.app, store.keys, store.jwks).with_hub(hub.clone());
    let base = serve(state).await;
    let gated = Arc::new(Gated {
        inner: RealtimePusher::new(hub.clone()),
        reached: Notify::new(),
        gate: Semaphore::new(0),
    });
    let dispatcher = Arc::new(Dispatcher::new(app.clone(), vec![gated.clone()]));
    app.create_user(
        "rt-seam@example.com",
        "senha-forte-123",
        "Cliente Teste",
        false,
    )
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{base}/api/v1/auth/sign-in"))
        .json(&json!({ "email": "rt-seam@example.com", "password": "senha-forte-123" }))
        .send()
        .await
        .unwrap();
    let token = res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let place = || async {
        let res = client
            .post(format!("{base}/api/v1/orders"))
            .bearer_auth(&token)
            .header("Idempotency-Key", ulid::Ulid::new().to_string())
            .json(&buy_now("CAM-BAS-M", 1))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (mut ws, _, _) = connect(&base, &token, None).await;
    let first = place().await;
    start_pass(&dispatcher, &gated, false)
        .await
        .await
        .unwrap()
        .unwrap();
    let placed = next_event(&mut ws).await;
    assert_eq!(placed["order_id"], first);
    drop(ws);

    // The second order's event is recorded for the realtime subscriber, and held at the gate.
    let second = place().await;
    let held = start_pass(&dispatcher, &gated, true).await;
    let (mut ws, replayed, ready) = connect(&base, &token, placed["id"].as_str()).await;
    assert_eq!(ready["replayed"], 1);
    assert_eq!(replayed[0]["order_id"], second);

    // Now it is pushed live as well; the socket skips it. The next frame is the third order's.
    gated.gate.add_permits(1);
    held.await.unwrap().unwrap();
    let third = place().await;
    start_pass(&dispatcher, &gated, false)
        .await
        .await
        .unwrap()
        .unwrap();
    let next = next_event(&mut ws).await;
    assert_eq!(
        next["order_id"], third,
        "the replayed event came again: {next}"
    );
}

/// The router on its own server with a hub of short heartbeats, and a signer whose tokens it
/// takes (so that a test can hold a token that expires in a second or two).
async fn short_heartbeat_server() -> (String, TokenSigner, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path().join("data"));
    let store = vitrine::compose::build_default(&config).expect("build store");
    let signer = TokenSigner::generate().unwrap();
    let verifier =
        TokenVerifier::new("test-issuer".into(), "test-client".into(), &signer.jwks()).unwrap();
    let hub = Arc::new(Hub::new(HubSettings {
        ping_every: Duration::from_millis(200),
        pong_timeout: Duration::from_millis(1_000),
        ..HubSettings::default()
    }));
    let state = AppState::new(store.app, verifier, None).with_hub(hub);
    (serve(state).await, signer, dir)
}

fn token(signer: &TokenSigner, lives_secs: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    signer.sign(&Claims {
        sub: "c0ffee00-0000-4000-8000-00000000beef".into(),
        iss: "test-issuer".into(),
        token_use: TokenUse::Access,
        groups: vec!["customer".into()],
        client_id: Some("test-client".into()),
        aud: None,
        exp: now + lives_secs,
        iat: now,
        auth_time: now,
        jti: ulid::Ulid::new().to_string(),
        username: Some("c0ffee00-0000-4000-8000-00000000beef".into()),
        email: None,
        name: None,
        origin_jti: None,
        nbf: None,
    })
}

#[tokio::test]
async fn a_connection_closes_with_4001_when_its_token_expires() {
    let (base, signer, _dir) = short_heartbeat_server().await;
    let (mut ws, _, _) = connect(&base, &token(&signer, 2), None).await;
    // Reading answers the pings, so only the expiry can close it.
    assert_eq!(close_code(&mut ws).await, CLOSE_TOKEN_EXPIRED);
}

#[tokio::test]
async fn a_connection_that_stops_answering_pings_is_closed() {
    let (base, signer, _dir) = short_heartbeat_server().await;
    let (mut ws, _, _) = connect(&base, &token(&signer, 3600), None).await;
    // Not reading: the client library answers pings only while it reads.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(close_code(&mut ws).await, CLOSE_NO_PONG);
}

#[tokio::test]
async fn a_connection_that_answers_pings_stays_open() {
    let (base, signer, _dir) = short_heartbeat_server().await;
    let (mut ws, _, _) = connect(&base, &token(&signer, 3600), None).await;
    let until = tokio::time::Instant::now() + Duration::from_millis(2_000);
    let mut pings = 0;
    while let Ok(frame) = tokio::time::timeout_at(until, ws.next()).await {
        match frame {
            Some(Ok(Message::Ping(_))) => pings += 1,
            Some(Ok(Message::Close(frame))) => panic!("closed while answering pings: {frame:?}"),
            other => panic!("unexpected: {other:?}"),
        }
    }
    assert!(pings >= 2, "pinged {pings} times");
}

#[tokio::test]
async fn the_web_apps_learn_the_socket_is_on_this_server() {
    let t = TestApp::spawn().await;
    let res = t.get("/api/v1/config", None).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    // null: the socket is on this server (`/api/v1/ws`).
    assert_eq!(body["realtime_url"], serde_json::Value::Null, "{body}");
}
