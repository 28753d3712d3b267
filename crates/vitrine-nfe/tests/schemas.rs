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
    let mut our_names: Vec<String> = std::fs::read_dir(&ours)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
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
