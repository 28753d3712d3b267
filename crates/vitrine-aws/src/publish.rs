//! The last steps of a deployment, after the stack exists (`vitrine aws publish`, run by
//! `scripts/deploy.sh`): upload the storefront and admin (`web/`) to the site bucket with their
//! content types and cache headers, make sure the first admin exists in the user pool and in the
//! `admin` group, and say where the store is. Each step is idempotent and says what it changed:
//! a second run changes nothing and reports so. Works against the emulator as against AWS (the
//! endpoint of [`AwsConfig`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use aws_sdk_cognitoidentityprovider::Client as Cognito;
use aws_sdk_cognitoidentityprovider::types::{AttributeType, MessageActionType};
use aws_sdk_s3::primitives::ByteStream;
use sha2::{Digest as _, Sha256};

use crate::{AwsConfig, sdk_config};

/// The object metadata that holds a file's SHA-256: an unchanged file is not uploaded again.
const SHA256_METADATA: &str = "sha256";

/// HTML is revalidated on every visit (a new deploy shows at once); the other files are not
/// fingerprinted, so they are kept an hour, not a year.
pub const HTML_CACHE_CONTROL: &str = "no-cache";
pub const ASSET_CACHE_CONTROL: &str = "public, max-age=3600";

/// The content type and cache header of a site file, by its extension; an unknown extension is
/// an error (a file served with the wrong type breaks the page, or is refused by the browser).
pub fn headers_for(key: &str) -> anyhow::Result<(&'static str, &'static str)> {
    let extension = key.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let content_type = match extension.as_deref() {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => bail!(
            "{key}: no content type known for this extension; add it to vitrine_aws::publish::headers_for"
        ),
    };
    let cache = if content_type.starts_with("text/html") {
        HTML_CACHE_CONTROL
    } else {
        ASSET_CACHE_CONTROL
    };
    Ok((content_type, cache))
}

/// What [`upload_site`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SiteUpload {
    pub uploaded: Vec<String>,
    pub unchanged: Vec<String>,
    /// Objects of the bucket no longer in the folder, deleted.
    pub removed: Vec<String>,
}

/// Every file under `dir`, as (key with `/` separators, path), sorted.
fn site_files(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder)
            .with_context(|| format!("reading the folder {}", folder.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let key = path
                    .strip_prefix(dir)?
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((key, path));
            }
        }
    }
    out.sort();
    anyhow::ensure!(
        out.iter().any(|(k, _)| k == "index.html"),
        "{} has no index.html: is it the web/ folder?",
        dir.display()
    );
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Upload the files of `dir` to `bucket` (skipping those already there with the same content
/// and headers), and delete the bucket's objects that are no longer in `dir`.
pub async fn upload_site(
    config: &AwsConfig,
    bucket: &str,
    dir: &Path,
) -> anyhow::Result<SiteUpload> {
    let s3 = crate::compose::s3_client(&sdk_config(config).await, config);
    let files = site_files(dir)?;
    let mut done = SiteUpload::default();
    for (key, path) in &files {
        let (content_type, cache) = headers_for(key)?;
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let sha = hex(&Sha256::digest(&bytes));
        let current = s3.head_object().bucket(bucket).key(key).send().await;
        let same = current.as_ref().is_ok_and(|head| {
            head.metadata()
                .and_then(|m| m.get(SHA256_METADATA))
                .is_some_and(|s| *s == sha)
                && head.content_type() == Some(content_type)
                && head.cache_control() == Some(cache)
        });
        if same {
            done.unchanged.push(key.clone());
            continue;
        }
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .cache_control(cache)
            .metadata(SHA256_METADATA, &sha)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| anyhow!("{}", aws_sdk_s3::error::DisplayErrorContext(&e)))
            .with_context(|| format!("uploading s3://{bucket}/{key}"))?;
        done.uploaded.push(key.clone());
    }
    let wanted: BTreeSet<&str> = files.iter().map(|(k, _)| k.as_str()).collect();
    let mut listing = s3.list_objects_v2().bucket(bucket).into_paginator().send();
    let mut stale = Vec::new();
    while let Some(page) = listing.next().await {
        let page = page
            .map_err(|e| anyhow!("{}", aws_sdk_s3::error::DisplayErrorContext(&e)))
            .with_context(|| format!("listing s3://{bucket}"))?;
        for object in page.contents() {
            if let Some(key) = object.key()
                && !wanted.contains(key)
            {
                stale.push(key.to_owned());
            }
        }
    }
    for key in stale {
        s3.delete_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| anyhow!("{}", aws_sdk_s3::error::DisplayErrorContext(&e)))
            .with_context(|| format!("deleting s3://{bucket}/{key}"))?;
        done.removed.push(key);
    }
    Ok(done)
}

/// The first admin to make sure of.
#[derive(Debug, Clone)]
pub struct Admin {
    pub email: String,
    pub name: String,
    /// Needed only when the user does not exist yet; an existing user's password is left alone.
    pub password: Option<String>,
}

/// What [`ensure_admin`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AdminOutcome {
    /// The `admin` group did not exist (the template declares it; a bare pool may not).
    pub group_created: bool,
    /// The user did not exist: created, confirmed, with its password set.
    pub user_created: bool,
    /// Groups the user was added to (`admin`, and `customer` when the pool has it, as
    /// `vitrine user create --admin` does).
    pub groups_added: Vec<String>,
}

impl AdminOutcome {
    pub fn changed(&self) -> bool {
        self.group_created || self.user_created || !self.groups_added.is_empty()
    }
}

fn cognito_error<E: std::error::Error + 'static>(e: E) -> anyhow::Error {
    anyhow!(
        "{}",
        aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(&e)
    )
}

/// Make sure `admin` is a confirmed user of `pool` in its `admin` group.
pub async fn ensure_admin(
    config: &AwsConfig,
    pool: &str,
    admin: &Admin,
) -> anyhow::Result<AdminOutcome> {
    let cognito = Cognito::new(&sdk_config(config).await);
    let mut outcome = AdminOutcome::default();
    let has_group = |name: &'static str| {
        let cognito = cognito.clone();
        async move {
            match cognito
                .get_group()
                .user_pool_id(pool)
                .group_name(name)
                .send()
                .await
            {
                Ok(_) => Ok(true),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
                {
                    Ok(false)
                }
                Err(e) => Err(cognito_error(e))
                    .with_context(|| format!("reading the group {name} of {pool}")),
            }
        }
    };
    if !has_group("admin").await? {
        cognito
            .create_group()
            .user_pool_id(pool)
            .group_name("admin")
            .description("store administrators")
            .send()
            .await
            .map_err(cognito_error)
            .context("creating the admin group")?;
        outcome.group_created = true;
    }
    let exists = match cognito
        .admin_get_user()
        .user_pool_id(pool)
        .username(&admin.email)
        .send()
        .await
    {
        Ok(_) => true,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_user_not_found_exception()) =>
        {
            false
        }
        Err(e) => return Err(cognito_error(e)).context("looking the admin up"),
    };
    if !exists {
        let password = admin.password.as_deref().ok_or_else(|| {
            anyhow!(
                "{} is not a user of the pool yet: give its password (--admin-password-stdin)",
                admin.email
            )
        })?;
        let attribute = |name: &str, value: &str| {
            AttributeType::builder()
                .name(name)
                .value(value)
                .build()
                .expect("name is set")
        };
        cognito
            .admin_create_user()
            .user_pool_id(pool)
            .username(&admin.email)
            .user_attributes(attribute("email", &admin.email))
            .user_attributes(attribute("email_verified", "true"))
            .user_attributes(attribute("name", &admin.name))
            .message_action(MessageActionType::Suppress)
            .send()
            .await
            .map_err(cognito_error)
            .context("creating the admin")?;
        cognito
            .admin_set_user_password()
            .user_pool_id(pool)
            .username(&admin.email)
            .password(password)
            .permanent(true)
            .send()
            .await
            .map_err(cognito_error)
            .context(
                "setting the admin's password (the pool's policy: 8+ characters with a digit)",
            )?;
        outcome.user_created = true;
    }
    let groups: BTreeSet<String> = cognito
        .admin_list_groups_for_user()
        .user_pool_id(pool)
        .username(&admin.email)
        .send()
        .await
        .map_err(cognito_error)
        .context("listing the admin's groups")?
        .groups()
        .iter()
        .filter_map(|g| g.group_name().map(str::to_owned))
        .collect();
    let mut wanted = vec!["admin"];
    if has_group("customer").await? {
        wanted.push("customer");
    }
    for group in wanted {
        if !groups.contains(group) {
            cognito
                .admin_add_user_to_group()
                .user_pool_id(pool)
                .username(&admin.email)
                .group_name(group)
                .send()
                .await
                .map_err(cognito_error)
                .with_context(|| format!("adding the admin to the group {group}"))?;
            outcome.groups_added.push(group.to_owned());
        }
    }
    Ok(outcome)
}

/// Where the store answers, from its site URL (the stack's `SiteUrl` output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Urls {
    pub storefront: String,
    pub admin: String,
    pub api: String,
}

impl Urls {
    pub fn of(site_url: &str) -> anyhow::Result<Self> {
        let site = site_url.trim().trim_end_matches('/');
        anyhow::ensure!(
            site.starts_with("https://") || site.starts_with("http://"),
            "the site URL must start with https:// (the stack's SiteUrl output), not {site_url:?}"
        );
        Ok(Self {
            storefront: format!("{site}/"),
            admin: format!("{site}/admin/"),
            api: format!("{site}/api/v1"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_files_get_their_type_and_cache_and_unknown_ones_are_refused() {
        assert_eq!(
            headers_for("admin/index.html").unwrap(),
            ("text/html; charset=utf-8", HTML_CACHE_CONTROL)
        );
        assert_eq!(
            headers_for("js/pages/cart.js").unwrap(),
            ("text/javascript; charset=utf-8", ASSET_CACHE_CONTROL)
        );
        assert_eq!(headers_for("favicon.svg").unwrap().0, "image/svg+xml");
        assert_eq!(
            headers_for("css/site.CSS").unwrap().0,
            "text/css; charset=utf-8"
        );
        let err = headers_for("notes.docx").unwrap_err().to_string();
        assert!(err.contains("notes.docx"), "{err}");
        assert!(headers_for("Makefile").is_err());
    }

    #[test]
    fn every_file_of_the_web_folder_has_a_known_type() {
        let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
        let files = site_files(&web).unwrap();
        assert!(
            files.iter().any(|(k, _)| k == "admin/index.html"),
            "{files:?}"
        );
        for (key, _) in files {
            headers_for(&key).unwrap();
        }
    }

    #[test]
    fn the_urls_come_from_the_site_url() {
        let urls = Urls::of("https://loja.example.com.br/").unwrap();
        assert_eq!(urls.storefront, "https://loja.example.com.br/");
        assert_eq!(urls.admin, "https://loja.example.com.br/admin/");
        assert_eq!(urls.api, "https://loja.example.com.br/api/v1");
        assert!(Urls::of("loja.example.com.br").is_err());
    }
}
