//! The Blobs port's conformance suite: the contract of `vitrine_app::ports::blobs`, as tests.
//!
//! Every adapter (the folder store now, S3 against its emulator later) runs the same cases:
//!
//! ```text
//! async fn make_blobs() -> (Arc<dyn Blobs>, tempfile::TempDir) { ... }
//! vitrine_testkit::blobs_conformance!(make_blobs);
//! ```
//!
//! The macro expands to one `#[tokio::test]` per case in [`cases`] (the calling crate needs
//! `tokio` with `macros` and `rt-multi-thread`). The second value `make_blobs` returns is kept
//! alive until the case ends.
//!
//! Invariant of the suite: each case works under a key prefix that starts with a fresh ULID, so
//! cases can share one bucket and run in parallel.

/// Expand to one `#[tokio::test]` per Blobs conformance case, each on a store made by `$make`,
/// an `async fn() -> (Arc<dyn Blobs>, impl Sized)`.
#[macro_export]
macro_rules! blobs_conformance {
    ($make:path) => {
        $crate::blobs_conformance!(@cases $make;
            put_then_get_round_trips_bytes_and_content_type,
            get_of_a_missing_key_is_none,
            a_put_replaces_the_object_and_its_content_type,
            list_returns_the_objects_under_a_prefix_in_key_order_with_sizes,
            list_of_an_unused_prefix_is_empty,
            delete_removes_the_object_and_deleting_a_missing_one_is_fine,
            hostile_keys_are_refused_by_every_operation,
            download_url_of_a_valid_key_answers,
            ping_answers,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (blobs, guard) = $make().await;
                $crate::blobs::cases::$case(blobs).await;
                drop(guard);
            }
        )*
    };
}

/// The cases, one `async fn(Arc<dyn Blobs>)` each. Panics are failures.
pub mod cases {
    use std::sync::Arc;

    use bytes::Bytes;
    use vitrine_app::ports::blobs::{Blob, BlobError, BlobMeta, Blobs};

    /// A key prefix no other case (or run) uses.
    fn ns() -> String {
        format!("t{}", ulid::Ulid::new())
    }

    fn bytes(b: &[u8]) -> Bytes {
        Bytes::copy_from_slice(b)
    }

    pub async fn put_then_get_round_trips_bytes_and_content_type(blobs: Arc<dyn Blobs>) {
        let key = format!("{}/invoices/2025/NFe-0001.pdf", ns());
        // Every byte value, including a NUL and invalid UTF-8, must survive.
        let content: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        blobs
            .put(&key, Bytes::from(content.clone()), "application/pdf")
            .await
            .unwrap();
        let got = blobs.get(&key).await.unwrap();
        assert_eq!(
            got,
            Some(Blob {
                bytes: Bytes::from(content),
                content_type: "application/pdf".into()
            })
        );

        let empty = format!("{}/empty.txt", ns());
        blobs
            .put(&empty, Bytes::new(), "text/plain; charset=utf-8")
            .await
            .unwrap();
        let got = blobs.get(&empty).await.unwrap().expect("empty object");
        assert!(got.bytes.is_empty());
        assert_eq!(got.content_type, "text/plain; charset=utf-8");
    }

    pub async fn get_of_a_missing_key_is_none(blobs: Arc<dyn Blobs>) {
        assert_eq!(
            blobs.get(&format!("{}/nothing.bin", ns())).await.unwrap(),
            None
        );
    }

    pub async fn a_put_replaces_the_object_and_its_content_type(blobs: Arc<dyn Blobs>) {
        let key = format!("{}/report.csv", ns());
        blobs
            .put(&key, bytes(b"a,b\n1,2\n"), "text/csv")
            .await
            .unwrap();
        blobs
            .put(&key, bytes(b"{}"), "application/json")
            .await
            .unwrap();
        let got = blobs.get(&key).await.unwrap().expect("object");
        assert_eq!(
            (got.bytes, got.content_type.as_str()),
            (bytes(b"{}"), "application/json")
        );
        assert_eq!(blobs.list(&key).await.unwrap(), [BlobMeta { key, size: 2 }]);
    }

    pub async fn list_returns_the_objects_under_a_prefix_in_key_order_with_sizes(
        blobs: Arc<dyn Blobs>,
    ) {
        let ns = ns();
        let keys = [
            "img/b.png",
            "img/a.png",
            "img/sub/c.png",
            "img-other/d.png",
            "imgx.png",
            "docs/e.pdf",
        ];
        for (n, key) in keys.iter().enumerate() {
            blobs
                .put(
                    &format!("{ns}/{key}"),
                    Bytes::from(vec![b'x'; n + 1]),
                    "image/png",
                )
                .await
                .unwrap();
        }
        let listed = |prefix: String| {
            let blobs = blobs.clone();
            async move { blobs.list(&prefix).await.unwrap() }
        };
        let folder = listed(format!("{ns}/img/")).await;
        assert_eq!(
            folder,
            [
                BlobMeta {
                    key: format!("{ns}/img/a.png"),
                    size: 2
                },
                BlobMeta {
                    key: format!("{ns}/img/b.png"),
                    size: 1
                },
                BlobMeta {
                    key: format!("{ns}/img/sub/c.png"),
                    size: 3
                },
            ]
        );
        // A prefix is a string prefix, not a folder: it may end inside a name.
        let names: Vec<String> = listed(format!("{ns}/img"))
            .await
            .into_iter()
            .map(|m| m.key)
            .collect();
        assert_eq!(
            names,
            [
                "img-other/d.png",
                "img/a.png",
                "img/b.png",
                "img/sub/c.png",
                "imgx.png"
            ]
            .map(|k| format!("{ns}/{k}"))
        );
        let everything = listed(format!("{ns}/")).await;
        assert_eq!(everything.len(), keys.len());
        let mut sorted: Vec<&str> = everything.iter().map(|m| m.key.as_str()).collect();
        sorted.sort_unstable();
        assert_eq!(
            everything
                .iter()
                .map(|m| m.key.as_str())
                .collect::<Vec<_>>(),
            sorted
        );
    }

    pub async fn list_of_an_unused_prefix_is_empty(blobs: Arc<dyn Blobs>) {
        assert!(blobs.list(&format!("{}/", ns())).await.unwrap().is_empty());
        assert!(blobs.list(&ns()).await.unwrap().is_empty());
    }

    pub async fn delete_removes_the_object_and_deleting_a_missing_one_is_fine(
        blobs: Arc<dyn Blobs>,
    ) {
        let ns = ns();
        let (gone, kept) = (format!("{ns}/a.txt"), format!("{ns}/b.txt"));
        blobs.put(&gone, bytes(b"a"), "text/plain").await.unwrap();
        blobs.put(&kept, bytes(b"b"), "text/plain").await.unwrap();
        blobs.delete(&gone).await.unwrap();
        assert_eq!(blobs.get(&gone).await.unwrap(), None);
        assert!(blobs.get(&kept).await.unwrap().is_some());
        assert_eq!(
            blobs.list(&format!("{ns}/")).await.unwrap(),
            [BlobMeta { key: kept, size: 1 }]
        );
        blobs.delete(&gone).await.unwrap();
        blobs.delete(&format!("{ns}/never/was.txt")).await.unwrap();
    }

    pub async fn hostile_keys_are_refused_by_every_operation(blobs: Arc<dyn Blobs>) {
        let hostile = [
            "",
            "../x",
            "a/../../x",
            "..",
            ".",
            "/abs",
            "a//b",
            "a/",
            "a/./b",
            "a\\b",
            "a b",
            "a\0b",
            "ção.txt",
            "a?b",
            "a#b",
            "%2e%2e/x",
            "a@type",
            "~/x",
        ];
        let long = "a".repeat(513);
        for key in hostile.iter().copied().chain([long.as_str()]) {
            let refused =
                |result: Result<(), BlobError>| matches!(result, Err(BlobError::InvalidKey(_)));
            assert!(
                refused(blobs.put(key, bytes(b"x"), "text/plain").await),
                "put {key:?}"
            );
            assert!(refused(blobs.get(key).await.map(drop)), "get {key:?}");
            assert!(refused(blobs.delete(key).await), "delete {key:?}");
            assert!(
                refused(blobs.download_url(key, 60).await.map(drop)),
                "download_url {key:?}"
            );
        }
    }

    pub async fn download_url_of_a_valid_key_answers(blobs: Arc<dyn Blobs>) {
        // `None` (serve through the API) and a URL are both in the contract; an error is not.
        let key = format!("{}/a.pdf", ns());
        blobs
            .put(&key, bytes(b"%PDF"), "application/pdf")
            .await
            .unwrap();
        if let Some(url) = blobs.download_url(&key, 300).await.unwrap() {
            assert!(
                url.starts_with("http://") || url.starts_with("https://"),
                "{url}"
            );
        }
    }

    pub async fn ping_answers(blobs: Arc<dyn Blobs>) {
        blobs.ping().await.expect("ping");
    }
}
