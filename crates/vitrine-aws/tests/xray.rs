//! X-Ray subsegments: the adapters' SDK clients, called inside a sampled trace, send one segment
//! document per AWS call to the daemon address over UDP. A socket on 127.0.0.1 plays the daemon;
//! the calls go to the emulator. Checked: the header line, ids, the parent link, timings, the
//! operation, errors marked, and that unsampled or untraced calls send nothing.

use std::net::UdpSocket;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use vitrine_app::Settings;
use vitrine_app::ports::{Key, SystemClock, UlidIds};
use vitrine_aws::AwsConfig;
use vitrine_aws::compose::{self, AwsResources};
use vitrine_aws::xray::{self, Daemon, TraceHeader};
use vitrine_testkit::moto;

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const PARENT: &str = "53995c3f42cd8ad8";

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Every packet the daemon received until it stays quiet for 500 ms: (header line, document).
fn received(daemon: &UdpSocket) -> Vec<(String, Value)> {
    daemon
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 65_536];
    while let Ok(n) = daemon.recv(&mut buf) {
        let text = String::from_utf8(buf[..n].to_vec()).expect("UTF-8");
        let (header, doc) = text
            .split_once('\n')
            .expect("a header line, then the document");
        out.push((
            header.to_owned(),
            serde_json::from_str(doc).expect("the document is JSON"),
        ));
    }
    out
}

#[tokio::test]
async fn each_aws_call_of_a_sampled_trace_is_a_subsegment_sent_to_the_daemon() {
    let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
    let daemon = Daemon::new(&format!("udp:{}", listener.local_addr().unwrap())).unwrap();
    let endpoint = tokio::task::spawn_blocking(moto::endpoint).await.unwrap();
    let config = AwsConfig {
        region: "us-east-1".into(),
        endpoint: Some(endpoint.to_owned()),
        static_credentials: Some(("testing".into(), "testing".into())),
        emulator: true,
    };
    let names = AwsResources {
        table: moto::unique("xray-t"),
        bucket: moto::unique("xray-b"),
        user_pool_id: moto::unique("xray-p"),
        client_id: String::new(),
        mail_from: "loja@example.com".into(),
        reports_bucket: None,
    };
    let resources = compose::create_resources(&config, &names).await.unwrap();
    let build = |resources: AwsResources| {
        let config = config.clone();
        async move {
            compose::build(
                &config,
                &resources,
                Settings::default(),
                Arc::new(SystemClock),
                Arc::new(UlidIds),
            )
            .await
            .unwrap()
        }
    };
    let store = build(resources.clone()).await;
    let missing = build(AwsResources {
        table: moto::unique("no-such-table"),
        ..resources
    })
    .await;
    // Nothing was traced while setting up.
    assert!(received(&listener).is_empty());

    let sampled = TraceHeader::parse(&format!("Root={ROOT};Parent={PARENT};Sampled=1")).unwrap();
    let unsampled = TraceHeader::parse(&format!("Root={ROOT};Parent={PARENT};Sampled=0")).unwrap();
    let key = Key::new("XRAY#1", "X");
    let before = now_secs();
    xray::scope(Some((daemon.clone(), sampled.clone())), async {
        assert_eq!(store.app.ports.table.get(&key).await.unwrap(), None);
        assert!(missing.app.ports.table.get(&key).await.is_err());
    })
    .await;
    let after = now_secs();
    xray::scope(Some((daemon.clone(), unsampled)), async {
        store.app.ports.table.get(&key).await.unwrap();
    })
    .await;
    store.app.ports.table.get(&key).await.unwrap();

    let docs = received(&listener);
    assert_eq!(docs.len(), 2, "one document per traced call: {docs:#?}");
    for (header, doc) in &docs {
        assert_eq!(header, r#"{"format":"json","version":1}"#);
        assert_eq!(doc["type"], "subsegment");
        assert_eq!(doc["trace_id"], ROOT);
        assert_eq!(doc["parent_id"], PARENT);
        assert_eq!(doc["namespace"], "aws");
        assert!(
            doc["name"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case("dynamodb"),
            "{doc}"
        );
        assert_eq!(doc["aws"]["operation"], "GetItem");
        let id = doc["id"].as_str().unwrap();
        assert!(
            id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
        let (start, end) = (
            doc["start_time"].as_f64().unwrap(),
            doc["end_time"].as_f64().unwrap(),
        );
        assert!(
            before - 0.001 <= start && start <= end && end <= after + 0.001,
            "{doc}"
        );
    }
    assert_ne!(docs[0].1["id"], docs[1].1["id"]);
    let ok = &docs[0].1;
    assert_eq!(ok["http"]["response"]["status"], 200);
    assert!(
        ok.get("error").is_none() && ok.get("fault").is_none(),
        "{ok}"
    );
    let failed = &docs[1].1;
    assert_eq!(failed["http"]["response"]["status"], 400, "{failed}");
    assert_eq!(failed["error"], true, "{failed}");
}
