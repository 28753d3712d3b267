//! The Blobs conformance suite on `FsBlobs`, one fresh folder per case.

use std::sync::Arc;

use tempfile::TempDir;
use vitrine_app::ports::blobs::Blobs;
use vitrine_local::fs_blobs::FsBlobs;

async fn make_blobs() -> (Arc<dyn Blobs>, TempDir) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let blobs = FsBlobs::open(dir.path().join("blobs")).expect("open blob folder");
    (Arc::new(blobs), dir)
}

vitrine_testkit::blobs_conformance!(make_blobs);
