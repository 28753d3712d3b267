//! Embeds the web apps (`web/` at the workspace root: the storefront and the admin) into the
//! crate: writes `$OUT_DIR/web_files.rs`, one `include_bytes!` per file, read by `src/web.rs`.
//! Cargo re-runs this when anything under `web/` changes (files added, edited or removed).

use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let web = manifest.join("..").join("..").join("web");
    println!("cargo:rerun-if-changed={}", web.display());
    let mut files = Vec::new();
    if web.is_dir() {
        walk(&web, &web, &mut files);
    }
    files.sort();
    let mut out = String::from(
        "/// Every file under `web/`: its path relative to that folder (`/`-separated) and its bytes.\n\
         pub static FILES: &[(&str, &[u8])] = &[\n",
    );
    for (rel, abs) in &files {
        out.push_str(&format!("    ({rel:?}, include_bytes!({abs:?})),\n"));
    }
    out.push_str("];\n");
    let dest = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("web_files.rs");
    fs::write(dest, out).expect("write web_files.rs");
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        // Editor swap files, .DS_Store and the like are not part of the site.
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, out);
        } else if path.is_file() {
            let rel = path
                .strip_prefix(root)
                .expect("under web/")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let abs = path
                .canonicalize()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push((rel, abs.to_string_lossy().into_owned()));
        }
    }
}
