//! The `vitrine` command as a user meets it: the compiled binary (`CARGO_BIN_EXE_vitrine`), run
//! on temporary folders, checked through its output, its exit code, the files it leaves and the
//! API of the server it starts (on 127.0.0.1). Every wait is a bounded loop.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use vitrine_testkit::process::{self, Vitrine};

const BIN: &str = env!("CARGO_BIN_EXE_vitrine");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The bare command, run in `cwd`, with no `VITRINE_*` variable inherited from the caller.
fn bare_vitrine(cwd: &Path) -> Vitrine {
    Vitrine::new(BIN).current_dir(cwd)
}

fn bare(cwd: &Path) -> Command {
    bare_vitrine(cwd).command()
}

/// The command on the data folder `data` (cheap password hashes).
fn on_data(data: &Path) -> Vitrine {
    bare_vitrine(data.parent().unwrap())
        .data_dir(data)
        .args(["--argon2-memory-kib", "64"])
}

fn vitrine(data: &Path) -> Command {
    on_data(data).command()
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn run(cmd: &mut Command) -> Run {
    from_output(process::run(cmd).unwrap())
}

fn from_output(out: Output) -> Run {
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Run `cmd` with `input` on standard input.
fn run_with_stdin(cmd: &mut Command, input: &str) -> Run {
    from_output(process::run_with_stdin(cmd, input).unwrap())
}

/// An error the user can read: non-zero exit, an `error:` line on stderr holding every one of
/// `words`, and no panic.
fn assert_readable_error(r: &Run, words: &[&str]) {
    assert!(!r.ok(), "expected a failure:\n{r}");
    assert!(r.stderr.contains("error"), "no error message:\n{r}");
    assert!(!r.stderr.contains("panicked"), "a panic:\n{r}");
    for w in words {
        assert!(r.stderr.contains(w), "the error does not say {w:?}:\n{r}");
    }
}

fn create_user(data: &Path, email: &str, admin: bool) -> Run {
    from_output(
        on_data(data)
            .create_user(email, "Dona da Loja", admin)
            .unwrap(),
    )
}

/// Every file under `dir` (relative path → contents).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    // Bounded: the data folder holds a handful of entries.
    for _ in 0..10_000 {
        let Some(d) = todo.pop() else {
            return out;
        };
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.insert(path.strip_prefix(dir).unwrap().to_path_buf(), Vec::new());
                todo.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(path.strip_prefix(dir).unwrap().to_path_buf(), bytes);
            }
        }
    }
    panic!("too many folders under {}", dir.display());
}

// ----- a running server -----

/// A running `vitrine serve` and the client the tests call it with; killed on drop if still
/// running.
struct Server {
    process: process::Server,
    base: String,
    client: Client,
}

impl Server {
    /// Start `serve` as `v` runs it, plus `--listen` on a free port; output goes to files in
    /// `logs`.
    async fn start(v: &Vitrine, logs: &Path) -> Server {
        let process = v.clone().logs(logs).start("serve", &[]).await.unwrap();
        Server {
            base: process.base.clone(),
            process,
            client: process::client(),
        }
    }

    fn out(&self) -> String {
        self.process.out()
    }

    fn url(&self, path: &str) -> String {
        self.process.url(path)
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn sign_in(&self, email: &str) -> String {
        let body = self.process.sign_in(&self.client, email).await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// SIGTERM, then wait (bounded) for the exit; returns the exit code and all of stdout.
    async fn stop(mut self) -> (Option<i32>, String) {
        let status = self.process.stop().await.unwrap();
        (status.code(), self.out())
    }
}

// ----- help and settings -----

#[test]
fn help_lists_the_environment_variables() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(bare(dir.path()).arg("--help"));
    assert!(r.ok(), "{r}");
    for var in [
        "VITRINE_DATA_DIR",
        "VITRINE_LISTEN",
        "VITRINE_PUBLIC_URL",
        "VITRINE_CONFIG",
        "VITRINE_NO_SEED",
        "VITRINE_ARGON2_MEMORY_KIB",
        "VITRINE_LOG_FORMAT",
    ] {
        assert!(r.stdout.contains(var), "--help does not list {var}:\n{r}");
    }
    for sub in ["serve", "seed", "import", "user"] {
        assert!(r.stdout.contains(sub), "--help does not list {sub}:\n{r}");
    }
}

#[test]
fn malformed_settings_are_refused_by_name_and_leave_the_data_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    // A store made the ordinary way: ./data from ./ (no flags).
    let r = run(bare(cwd).args(["--argon2-memory-kib", "64", "seed"]));
    assert!(r.ok(), "{r}");
    let data = cwd.join("data");
    let before = snapshot(&data);
    assert!(before.contains_key(Path::new("vitrine.db")));

    // vitrine.toml with an unknown key, then with a value of the wrong type.
    std::fs::write(cwd.join("vitrine.toml"), "listne = \"127.0.0.1:9000\"\n").unwrap();
    let r = run(bare(cwd).arg("seed"));
    assert_readable_error(&r, &["vitrine.toml", "listne"]);
    let r = run(bare(cwd).arg("serve"));
    assert_readable_error(&r, &["vitrine.toml", "listne"]);
    std::fs::write(
        cwd.join("vitrine.toml"),
        "pay_within_minutes = \"trinta\"\n",
    )
    .unwrap();
    let r = run(bare(cwd).arg("seed"));
    assert_readable_error(&r, &["vitrine.toml", "pay_within_minutes"]);
    // --config names another file: its errors name it too.
    std::fs::write(cwd.join("other.toml"), "argon2_memory_kib = 1\n").unwrap();
    let r = run(bare(cwd).args(["--config", "other.toml", "seed"]));
    assert_readable_error(&r, &["argon2_memory_kib"]);
    std::fs::remove_file(cwd.join("vitrine.toml")).unwrap();

    // Bad flag values, and a bad variable.
    let r = run(bare(cwd).args(["--listen", "em-todo-lugar", "serve"]));
    assert_readable_error(&r, &["--listen", "em-todo-lugar"]);
    let r = run(bare(cwd).args(["--pay-within-minutes", "0", "seed"]));
    assert_readable_error(&r, &["pay_within_minutes"]);
    let r = run(bare(cwd).args(["--log-format", "xml", "seed"]));
    assert_readable_error(&r, &["log format", "xml"]);
    let r = run(bare(cwd).args(["--public-url", "loja.test", "seed"]));
    assert_readable_error(&r, &["public_url"]);
    let r = run(bare(cwd)
        .env("VITRINE_ARGON2_MEMORY_KIB", "muita")
        .arg("seed"));
    assert_readable_error(&r, &["--argon2-memory-kib", "muita"]);

    assert!(
        snapshot(&data) == before,
        "a refused command changed the data folder"
    );
}

// ----- serve and seed -----

#[tokio::test]
async fn serve_on_an_empty_folder_creates_the_data_folder_and_serves_the_demo_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("loja");
    std::fs::create_dir(&work).unwrap();
    let server = Server::start(&bare_vitrine(&work), dir.path()).await;

    for d in ["blobs", "mail", "keys"] {
        assert!(work.join("data").join(d).is_dir(), "no data/{d}/");
    }
    assert!(work.join("data/vitrine.db").is_file(), "no data/vitrine.db");
    let out = server.out();
    assert!(
        out.contains("Seeded the demo catalog: 5 categories, 12 products."),
        "{out}"
    );
    assert!(
        out.contains(&format!("vitrine is running at {}/", server.base)),
        "{out}"
    );
    assert!(out.contains("vitrine user create --admin"), "{out}");

    let (status, body) = server.get("/api/v1/products?limit=100", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().unwrap().len(), 12, "{body}");
    let (status, body) = server.get("/api/v1/products/CAM-BAS-M", None).await;
    assert_eq!(status, 404, "{body}"); // a SKU is not a product id or slug
    let (status, body) = server
        .get("/api/v1/products/camiseta-basica-algodao", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["variants"][0]["available"], 25);

    let (code, out) = server.stop().await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("vitrine stopped cleanly."), "{out}");
}

/// The mode bits of `path`.
#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The data folder holds the database, the keys and the mail folder (reset codes): `serve`
/// makes them owner-only under a umask that lets everyone read, and tightens a loose folder at
/// start, saying what it changed.
#[cfg(unix)]
#[tokio::test]
async fn serve_keeps_the_data_folder_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    // `umask 022`, then the real binary in the same process (exec).
    let wrapper = dir.path().join("vitrine-umask-022");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\numask 022\nexec '{BIN}' \"$@\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = dir.path().join("data");
    let v = Vitrine::new(&wrapper)
        .current_dir(dir.path())
        .data_dir(&data)
        .args(["--argon2-memory-kib", "64"]);
    let private = |what: &str| {
        for d in [data.clone(), data.join("mail"), data.join("keys")] {
            assert_eq!(mode(&d), 0o700, "{what}: {}", d.display());
        }
        assert_eq!(mode(&data.join("vitrine.db")), 0o600, "{what}");
        let wal = data.join("vitrine.db-wal");
        if wal.exists() {
            assert_eq!(mode(&wal), 0o600, "{what}");
        }
        let keys: Vec<_> = std::fs::read_dir(data.join("keys"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(!keys.is_empty(), "{what}: no key was made");
        for key in keys {
            assert_eq!(mode(&key), 0o600, "{what}: {}", key.display());
        }
    };

    let server = Server::start(&v, dir.path()).await;
    // Mail written while serving (a sign-up code) lands in the private folder.
    let res = server
        .client
        .post(server.url("/api/v1/auth/sign-up"))
        .json(
            &json!({"email": "nova@loja.test", "password": "uma senha longa 123", "name": "Nova"}),
        )
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    private("a new data folder");
    assert!(
        !server.process.log().contains("tightened"),
        "{}",
        server.process.log()
    );
    let (code, out) = server.stop().await;
    assert_eq!(code, Some(0), "{out}");

    // Loosened by hand (a copy, an old vitrine): tightened at the next start, and said.
    let loose = [
        (data.clone(), 0o755),
        (data.join("mail"), 0o755),
        (data.join("vitrine.db"), 0o644),
        (data.join("keys").join("payments-webhook.secret"), 0o644),
    ];
    for (path, m) in &loose {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(*m)).unwrap();
    }
    let server = Server::start(&v, dir.path()).await;
    private("a loosened data folder");
    let log = server.process.log();
    for (path, _) in &loose {
        assert!(
            log.lines()
                .any(|l| l.contains("tightened") && l.contains(&*path.to_string_lossy())),
            "{} not reported:\n{log}",
            path.display()
        );
    }
    let (code, out) = server.stop().await;
    assert_eq!(code, Some(0), "{out}");
}

#[tokio::test]
async fn seeding_twice_keeps_one_demo_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = run(vitrine(&data).arg("seed"));
    assert!(first.ok(), "{first}");
    assert!(
        first
            .stdout
            .contains("Seeded: 5 categories, 12 products (0 already there)."),
        "{first}"
    );
    let second = run(vitrine(&data).arg("seed"));
    assert!(second.ok(), "{second}");
    assert!(
        second
            .stdout
            .contains("Seeded: 0 categories, 0 products (12 already there)."),
        "{second}"
    );

    // `serve` does not seed a store that has a catalog, and the catalog is there once.
    let server = Server::start(&on_data(&data), dir.path()).await;
    assert!(!server.out().contains("Seeded"), "{}", server.out());
    let (_, products) = server.get("/api/v1/products?limit=100", None).await;
    assert_eq!(products["items"].as_array().unwrap().len(), 12);
    let (_, categories) = server.get("/api/v1/categories", None).await;
    let slugs = category_slugs(&categories);
    assert_eq!(
        slugs,
        ["acessorios", "calcas", "camisetas", "casa", "roupas"],
        "{categories}"
    );
}

/// Slug → id of every category in the tree `GET /api/v1/categories` returns.
fn category_ids(tree: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut todo: Vec<&Value> = tree.as_array().unwrap().iter().collect();
    // Bounded by the size of the answer.
    for _ in 0..10_000 {
        let Some(c) = todo.pop() else {
            return out;
        };
        let slug = c["slug"].as_str().unwrap().to_owned();
        assert!(
            out.insert(slug, c["id"].as_str().unwrap().to_owned())
                .is_none()
        );
        todo.extend(c["children"].as_array().unwrap());
    }
    panic!("the category tree is too large: {tree}");
}

fn category_slugs(tree: &Value) -> Vec<String> {
    category_ids(tree).into_keys().collect()
}

// ----- users -----

#[tokio::test]
async fn user_create_makes_an_admin_who_can_sign_in_and_refuses_bad_input_readably() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    // Without a terminal and without --password-stdin there is nobody to ask: said plainly,
    // before anything is created.
    let r = run(vitrine(&data).args([
        "user",
        "create",
        "--email",
        "dona@loja.test",
        "--name",
        "Dona",
    ]));
    assert_readable_error(&r, &["--password-stdin"]);
    assert!(!data.exists(), "a refused command created the data folder");

    let r = create_user(&data, "Dona@Loja.test", true);
    assert!(r.ok(), "{r}");
    assert!(r.stdout.contains("Created dona@loja.test as admin"), "{r}");
    let r = create_user(&data, "cliente@example.com", false);
    assert!(r.ok(), "{r}");
    let with_role = |email: &str, role: &str| {
        run_with_stdin(
            vitrine(&data).args([
                "user",
                "create",
                "--email",
                email,
                "--name",
                "Equipe",
                "--role",
                role,
                "--password-stdin",
            ]),
            &format!("{}\n", process::PASSWORD),
        )
    };
    let r = with_role("pedidos@loja.test", "orders");
    assert!(r.ok(), "{r}");
    assert!(r.stdout.contains("as orders staff"), "{r}");
    let r = with_role("chefe@loja.test", "root");
    assert_readable_error(&r, &["root", "owner", "orders", "catalog"]);

    let r = create_user(&data, "dona-sem-arroba", true);
    assert_readable_error(&r, &["email: ", "@"]);
    let r = run_with_stdin(
        vitrine(&data).args([
            "user",
            "create",
            "--email",
            "fraca@example.com",
            "--name",
            "Fraca",
            "--password-stdin",
        ]),
        "curta\n",
    );
    assert_readable_error(&r, &["password", "at least 8 characters"]);
    let r = run_with_stdin(
        vitrine(&data).args([
            "user",
            "create",
            "--email",
            "semnumero@example.com",
            "--name",
            "Sem Número",
            "--password-stdin",
        ]),
        "somenteletras\n",
    );
    assert_readable_error(&r, &["password", "digit"]);
    let r = create_user(&data, "dona@loja.test", false);
    assert_readable_error(&r, &["already exists"]);

    let server = Server::start(&on_data(&data), dir.path()).await;
    let admin = server.sign_in("dona@loja.test").await;
    let (status, me) = server.get("/api/v1/me", Some(&admin)).await;
    assert_eq!(status, 200);
    // Compared without case: the profile of a user made by `user create` keeps the local part
    // as typed ("Dona@loja.test") while the account is "dona@loja.test" (reported separately).
    assert_eq!(
        me["email"].as_str().map(str::to_lowercase).as_deref(),
        Some("dona@loja.test"),
        "{me}"
    );
    let groups: Vec<&str> = me["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert!(groups.contains(&"admin"), "{me}");
    let (status, _) = server
        .get("/api/v1/admin/orders?status=pending_payment", Some(&admin))
        .await;
    assert_eq!(status, 200);

    // The orders staff: orders, not the catalog's admin routes.
    let staff = server.sign_in("pedidos@loja.test").await;
    let (status, _) = server
        .get("/api/v1/admin/orders?status=pending_payment", Some(&staff))
        .await;
    assert_eq!(status, 200);
    let (status, _) = server.get("/api/v1/admin/coupons", Some(&staff)).await;
    assert_eq!(status, 403);

    let customer = server.sign_in("cliente@example.com").await;
    let (_, me) = server.get("/api/v1/me", Some(&customer)).await;
    assert!(
        !me["groups"].as_array().unwrap().contains(&json!("admin")),
        "{me}"
    );
    let (status, _) = server
        .get(
            "/api/v1/admin/orders?status=pending_payment",
            Some(&customer),
        )
        .await;
    assert_eq!(status, 403);
    // The refused users do not exist.
    for email in ["fraca@example.com", "semnumero@example.com"] {
        let res = server
            .client
            .post(server.url("/api/v1/auth/sign-in"))
            .json(&json!({ "email": email, "password": "curta" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
}

// ----- import -----

/// A seeded store (the fixtures use its categories) with an admin.
fn seeded_store(data: &Path) {
    let r = run(vitrine(data).arg("seed"));
    assert!(r.ok(), "{r}");
    let r = create_user(data, "dona@loja.test", true);
    assert!(r.ok(), "{r}");
}

/// (status, available) of a SKU through the admin API.
async fn sku_stock(server: &Server, admin: &str, sku: &str) -> (StatusCode, Option<i64>) {
    let (status, body) = server
        .get(&format!("/api/v1/admin/stock/{sku}"), Some(admin))
        .await;
    (status, body["available"].as_i64())
}

async fn admin_product_count(server: &Server, admin: &str) -> usize {
    let (status, body) = server
        .get("/api/v1/admin/products?limit=100", Some(admin))
        .await;
    assert_eq!(status, 200);
    assert!(body["next"].is_null(), "more than one page");
    body["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn importing_a_valid_file_imports_every_product_and_a_second_time_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seeded_store(&data);
    let file = fixture("products_valid.csv");

    let first = run(vitrine(&data).arg("import").arg(&file));
    assert!(first.ok(), "{first}");
    assert!(
        first.stdout.contains("Imported 2 products (4 variants)."),
        "{first}"
    );
    assert!(!first.stdout.contains("Rejected"), "{first}");

    // Again: every product exists, so every row is refused and nothing changes.
    let second = run(vitrine(&data).arg("import").arg(&file));
    assert_readable_error(&second, &["4 rows were rejected"]);
    assert!(
        second.stdout.contains("Imported 0 products (0 variants)."),
        "{second}"
    );
    for (line, slug) in [
        (2, "camiseta-importada"),
        (3, "camiseta-importada"),
        (4, "camiseta-importada"),
        (5, "caneca-importada"),
    ] {
        let row = format!("line {line}: {slug} — not imported: the slug {slug} is taken");
        assert!(second.stdout.contains(&row), "no {row:?}:\n{second}");
    }

    let server = Server::start(&on_data(&data), dir.path()).await;
    let admin = server.sign_in("dona@loja.test").await;
    assert_eq!(admin_product_count(&server, &admin).await, 12 + 2);

    let (status, shirt) = server
        .get("/api/v1/products/camiseta-importada", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(shirt["name"], "Camiseta Importada");
    assert_eq!(shirt["description"], "Algodão orgânico, gola careca");
    let variants: BTreeMap<&str, &Value> = shirt["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["sku"].as_str().unwrap(), v))
        .collect();
    assert_eq!(variants.len(), 3, "{shirt}");
    let p = variants["IMP-CAM-P"];
    assert_eq!(p["price_centavos"], 4_990);
    assert_eq!(p["compare_at_centavos"], 5_990);
    assert_eq!(p["options"], json!({ "tamanho": "P", "cor": "Azul" }));
    assert_eq!(p["available"], 10, "stock imported once, not twice");
    assert_eq!(variants["IMP-CAM-M"]["available"], 7);
    assert_eq!(variants["IMP-CAM-G"]["price_centavos"], 104_990);
    assert_eq!(variants["IMP-CAM-G"]["available"], 0);
    assert_eq!(variants["IMP-CAM-G"]["weight_g"], 190);

    let (status, mug) = server.get("/api/v1/products/caneca-importada", None).await;
    assert_eq!(status, 200);
    assert_eq!(mug["variants"].as_array().unwrap().len(), 1);
    assert_eq!(mug["variants"][0]["price_centavos"], 2_900);
    assert_eq!(sku_stock(&server, &admin, "IMP-CAN-1").await.1, Some(4));
    let (_, cats) = server.get("/api/v1/categories", None).await;
    let ids = category_ids(&cats);
    assert_eq!(mug["category_id"].as_str(), Some(ids["casa"].as_str()));
    assert_eq!(
        shirt["category_id"].as_str(),
        Some(ids["camisetas"].as_str())
    );
}

#[tokio::test]
async fn importing_a_file_with_bad_rows_imports_the_good_products_whole_and_reports_every_bad_row()
{
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seeded_store(&data);
    let rejected = dir.path().join("rejected.csv");

    let r = run(vitrine(&data)
        .arg("import")
        .arg(fixture("products_mixed.csv"))
        .arg("--rejected")
        .arg(&rejected));
    assert_readable_error(&r, &["6 rows were rejected"]);
    assert!(
        r.stdout.contains("Imported 2 products (3 variants)."),
        "{r}"
    );
    assert!(r.stdout.contains("Rejected 6 rows:"), "{r}");
    // (line, slug, what the reason says)
    let expected: [(u64, &str, &str); 6] = [
        (4, "preco-ruim", "price:"),
        (
            5,
            "preco-ruim",
            "not imported: line 4 of the same product is invalid",
        ),
        (
            6,
            "categoria-fantasma",
            "no category with slug \"nao-existe\"",
        ),
        (7, "sku-repetido", "SKU IMP-REP-1 appears twice"),
        (8, "sku-repetido", "SKU IMP-REP-1 appears twice"),
        (9, "opcoes-ruins", "options: \"cor:azul\" is not name=value"),
    ];
    let report: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("line "))
        .collect();
    assert_eq!(report.len(), expected.len(), "{r}");
    for ((line, slug, why), row) in expected.iter().zip(&report) {
        let head = format!("line {line}: {slug} — ");
        assert!(
            row.trim_start().starts_with(&head) && row.contains(why),
            "line {line}: expected {slug} / {why:?}, got {row:?}"
        );
    }
    assert!(
        r.stdout
            .contains(&format!("Rejected rows written to {}.", rejected.display())),
        "{r}"
    );

    // The --rejected file: the same rows as CSV.
    let mut reader = csv::Reader::from_path(&rejected).unwrap();
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        ["line", "slug", "reason"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), expected.len());
    for ((line, slug, why), row) in expected.iter().zip(&rows) {
        assert_eq!(row[0], line.to_string());
        assert_eq!(&row[1], *slug);
        assert!(row[2].contains(why), "line {line}: {:?}", &row[2]);
    }

    let server = Server::start(&on_data(&data), dir.path()).await;
    let admin = server.sign_in("dona@loja.test").await;
    assert_eq!(admin_product_count(&server, &admin).await, 12 + 2);
    let (status, cap) = server.get("/api/v1/products/bone-importado", None).await;
    assert_eq!(status, 200);
    assert_eq!(cap["variants"].as_array().unwrap().len(), 2, "{cap}");
    assert_eq!(sku_stock(&server, &admin, "IMP-BON-PRETO").await.1, Some(5));
    assert_eq!(sku_stock(&server, &admin, "IMP-BON-CAQUI").await.1, Some(6));
    let (status, _) = server.get("/api/v1/products/vela-importada", None).await;
    assert_eq!(status, 200);
    assert_eq!(sku_stock(&server, &admin, "IMP-VEL-1").await.1, Some(8));

    // Nothing of a product with a bad row: not the product, not even its good rows' SKUs.
    for slug in [
        "preco-ruim",
        "categoria-fantasma",
        "sku-repetido",
        "opcoes-ruins",
    ] {
        let (status, body) = server
            .get(&format!("/api/v1/products/{slug}"), Some(&admin))
            .await;
        assert_eq!(status, 404, "{slug} exists: {body}");
    }
    for sku in [
        "IMP-PRE-1",
        "IMP-PRE-2",
        "IMP-FAN-1",
        "IMP-REP-1",
        "IMP-OPC-1",
    ] {
        assert_eq!(
            sku_stock(&server, &admin, sku).await.0,
            404,
            "{sku} has stock"
        );
    }
}

/// A row with the wrong number of cells (here: one too many) still joins its product by its slug,
/// so the whole product is rejected, as the command says ("nothing of their products was
/// imported"), not imported without that row.
#[test]
fn an_unreadable_row_rejects_its_whole_product() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let csv = dir.path().join("partial.csv");
    std::fs::write(
        &csv,
        "slug,name,category,sku,options,price\n\
         parcial,Parcial,casa,PAR-1,cor=Azul,\"10,00\"\n\
         parcial,Parcial,casa,PAR-2,cor=Verde,\"10,00\",sobra\n",
    )
    .unwrap();
    let r = run(vitrine(&data).arg("seed"));
    assert!(r.ok(), "{r}");
    let r = run(vitrine(&data).arg("import").arg(&csv));
    assert_readable_error(&r, &["rows were rejected"]);
    assert!(r.stdout.contains("Imported 0 products"), "{r}");
}

/// Products are written many at once: which of two products with the same SKU is imported is
/// decided by the file (the first), not by which write finishes first.
#[test]
fn a_sku_already_on_an_earlier_product_of_the_file_rejects_the_later_product() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let csv = dir.path().join("shared-sku.csv");
    let mut text = String::from("slug,name,category,sku,options,price\n");
    // Many products before them, so that both are in flight together.
    for i in 0..200 {
        text.push_str(&format!("antes-{i},Antes {i},casa,ANT-{i},,\"10,00\"\n"));
    }
    text.push_str("primeiro,Primeiro,casa,DUP-1,cor=Azul,\"10,00\"\n");
    text.push_str("segundo,Segundo,casa,SEG-1,cor=Azul,\"10,00\"\n");
    text.push_str("segundo,Segundo,casa,DUP-1,cor=Verde,\"10,00\"\n");
    std::fs::write(&csv, text).unwrap();
    let r = run(vitrine(&data).arg("seed"));
    assert!(r.ok(), "{r}");
    let r = run(vitrine(&data).arg("import").arg(&csv));
    assert_readable_error(&r, &["2 rows were rejected"]);
    assert!(
        r.stdout.contains("Imported 201 products (201 variants)."),
        "{r}"
    );
    assert!(
        r.stdout
            .contains("line 204: segundo — sku: DUP-1 is also on line 202, of another product"),
        "{r}"
    );
    assert!(
        r.stdout
            .contains("line 203: segundo — not imported: line 204 of the same product is invalid"),
        "{r}"
    );
}

/// Rows are reported by the line of the file where they start, also after a quoted cell that
/// holds a line break.
#[test]
fn rejected_rows_are_reported_by_their_line_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let csv = dir.path().join("multiline.csv");
    std::fs::write(
        &csv,
        "slug,name,description,category,sku,price\n\
         multilinha,Multi,\"linha um\nlinha dois\",casa,MUL-1,\"10,00\"\n\
         preco-mau,Mau,,casa,MAU-1,\"1,234\"\n",
    )
    .unwrap();
    let r = run(vitrine(&data).arg("seed"));
    assert!(r.ok(), "{r}");
    let r = run(vitrine(&data).arg("import").arg(&csv));
    assert_readable_error(&r, &["1 rows were rejected"]);
    assert!(r.stdout.contains("line 4: preco-mau"), "{r}");
}
