//! The embedded schemas are unmodified copies of the shared official package.

mod common;

#[test]
fn the_schema_copies_equal_the_shared_package() {
    let Some(shared) = common::shared_nfe_dir() else {
        eprintln!("SKIPPED: no shared/nfe folder next to the workspace");
        return;
    };
    let ours = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let mut shared_names: Vec<String> = std::fs::read_dir(shared.join("schemas"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    shared_names.sort();
    // `ws/` holds the web-service schemas (compared below).
    let mut our_names: Vec<String> = std::fs::read_dir(&ours)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    our_names.sort();
    assert_eq!(our_names, shared_names, "same files");
    for name in &shared_names {
        let a = std::fs::read(shared.join("schemas").join(name)).unwrap();
        let b = std::fs::read(ours.join(name)).unwrap();
        assert!(a == b, "{name} differs from shared/nfe/schemas/{name}");
    }
}

#[test]
fn the_compiled_in_schemas_are_the_files_in_the_schemas_folder() {
    let ours = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    for (name, bytes) in vitrine_nfe::validate::SCHEMA_FILES {
        assert!(std::fs::read(ours.join(name)).unwrap() == *bytes, "{name}");
    }
}

/// Every file of `dir` and its subfolders, relative to it, sorted.
fn tree(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![std::path::PathBuf::new()];
    while let Some(relative) = pending.pop() {
        for entry in std::fs::read_dir(dir.join(&relative)).unwrap() {
            let entry = entry.unwrap();
            let path = relative.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_web_service_schemas_and_sefaz_tables_equal_the_shared_copies() {
    let Some(shared) = common::shared_nfe_dir() else {
        eprintln!("SKIPPED: no shared/nfe folder next to the workspace");
        return;
    };
    let crate_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let ours = crate_dir.join("schemas/ws");
    let theirs = shared.join("schemas-ws");
    assert_eq!(tree(&ours), tree(&theirs), "same files");
    for file in tree(&theirs) {
        assert!(
            std::fs::read(ours.join(&file)).unwrap() == std::fs::read(theirs.join(&file)).unwrap(),
            "{} differs from shared/nfe/schemas-ws",
            file.display()
        );
    }
    for name in ["wsnfe_4.00_mod55.xml", "autorizadores.json"] {
        assert!(
            std::fs::read(crate_dir.join("data/sefaz").join(name)).unwrap()
                == std::fs::read(shared.join("webservices").join(name)).unwrap(),
            "{name} differs from shared/nfe/webservices"
        );
    }
}
