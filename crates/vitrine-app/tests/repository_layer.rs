//! The repository layer is the only door to the table: outside `src/store/` (and the Table port
//! itself, `src/ports/`), no code of the application — nor the HTTP layer or the Lambda
//! functions built on it — builds a `WriteOp`, `Condition`, `Update`, `Key` or `Query`, or spells
//! an item key. They say what they mean through `store` (ARCHITECTURE.md, "the one table").
//!
//! This reads the source files: a use case that builds a write itself fails this test, naming
//! the file and line.

use std::path::{Path, PathBuf};

/// What only `store/` may write.
const FORBIDDEN: &[&str] = &[
    "WriteOp",
    "Condition::",
    "Update::",
    "Key::new",
    "Key {",
    "Query::new",
    "SortKey::",
];

/// Source trees held to the rule, relative to this crate, with the folders and files exempt.
const TREES: &[(&str, &[&str])] = &[
    ("src", &["src/store", "src/ports"]),
    ("../vitrine-http/src", &[]),
    ("../vitrine-lambda/src", &[]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// An item-key literal such as `"ORDER#` or `"NFECOUNTER#`: a quote, two or more capitals, `#`.
fn spells_a_key(line: &str) -> bool {
    let bytes = line.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        if b != b'"' {
            return false;
        }
        let caps = bytes[i + 1..]
            .iter()
            .take_while(|c| c.is_ascii_uppercase())
            .count();
        caps >= 2 && bytes.get(i + 1 + caps) == Some(&b'#')
    })
}

/// Whether `code` names `token` as a word of its own (`RsaPrivateKey::new` is not `Key::new`).
fn builds(code: &str, token: &str) -> bool {
    code.match_indices(token).any(|(i, _)| {
        !code[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// Every line of `source` that builds a table operation or spells a key, outside comments.
fn violations(source: &str) -> Vec<(usize, String)> {
    source
        .lines()
        .enumerate()
        .filter_map(|(n, line)| {
            let code = line.split("//").next().unwrap_or("");
            let hit = FORBIDDEN
                .iter()
                .find(|f| builds(code, f))
                .map(|f| f.to_string());
            let hit = hit.or_else(|| spells_a_key(code).then(|| "an item key".to_owned()));
            hit.map(|what| (n + 1, what))
        })
        .collect()
}

#[test]
fn only_the_store_builds_table_operations_or_spells_keys() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    let mut checked = 0;
    for (tree, exempt) in TREES {
        let mut files = Vec::new();
        rust_files(&root.join(tree), &mut files);
        for file in files {
            let rel = file
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if exempt.iter().any(|e| rel.starts_with(e)) {
                continue;
            }
            checked += 1;
            let source = std::fs::read_to_string(&file).unwrap();
            for (line, what) in violations(&source) {
                found.push(format!("{rel}:{line}: builds {what} outside store/"));
            }
        }
    }
    assert!(
        checked > 40,
        "the source trees were found ({checked} files)"
    );
    assert!(
        found.is_empty(),
        "use cases must go through the repository layer (crates/vitrine-app/src/store/):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_what_it_must() {
    assert_eq!(violations("let op = WriteOp::put_new(item);").len(), 1);
    assert_eq!(
        violations("    condition: Some(Condition::Exists),").len(),
        1
    );
    assert_eq!(
        violations(r#"Key::new(format!("ORDER#{id}"), "ORDER")"#).len(),
        1
    );
    assert_eq!(
        violations(r#"let pk = format!("NFECOUNTER#{n}");"#).len(),
        1
    );
    assert!(violations("// WriteOp in a comment is fine").is_empty());
    assert!(violations(r#"let s = "a # in text";"#).is_empty());
    assert!(violations("batch.reserve_stock(sku, 2);").is_empty());
    assert!(violations("let key = RsaPrivateKey::new(&mut OsRng, 2048);").is_empty());
}
