//! `vitrine aws publish` (built with `--features aws`): the steps of a deployment that follow
//! the stack — the site upload, the first admin, the URLs — on the AWS (or emulator) endpoint of
//! the settings (`--aws-endpoint`/`AWS_ENDPOINT_URL`, `--aws-region`). The work is in
//! `vitrine_aws::publish`; this prints what it did. `scripts/deploy.sh` runs it.

use std::path::PathBuf;

use crate::config::Config;

/// What to publish where.
#[derive(Debug, Clone)]
pub struct Publish {
    pub site_bucket: String,
    pub web_dir: PathBuf,
    pub user_pool_id: String,
    pub admin_email: String,
    pub admin_name: String,
    pub admin_password: Option<String>,
    pub site_url: String,
}

#[cfg(feature = "aws")]
pub async fn run(config: &Config, p: &Publish) -> anyhow::Result<()> {
    use vitrine_aws::publish::{self, Admin, Urls};
    // Checked first: a bad URL fails before anything changes.
    let urls = Urls::of(&p.site_url)?;
    let aws = vitrine_aws::AwsConfig {
        region: config.aws.region.clone(),
        endpoint: config.aws.endpoint.clone(),
        static_credentials: None,
        emulator: config.aws.emulator,
    };
    let site = publish::upload_site(&aws, &p.site_bucket, &p.web_dir).await?;
    if site.uploaded.is_empty() && site.removed.is_empty() {
        println!(
            "site: unchanged ({} files already in s3://{}).",
            site.unchanged.len(),
            p.site_bucket
        );
    } else {
        println!(
            "site: {} uploaded, {} unchanged, {} removed in s3://{}.",
            site.uploaded.len(),
            site.unchanged.len(),
            site.removed.len(),
            p.site_bucket
        );
    }
    let admin = Admin {
        email: p.admin_email.clone(),
        name: p.admin_name.clone(),
        password: p.admin_password.clone(),
    };
    let outcome = publish::ensure_admin(&aws, &p.user_pool_id, &admin).await?;
    if outcome.changed() {
        let mut did = Vec::new();
        if outcome.group_created {
            did.push("admin group created".to_owned());
        }
        if outcome.user_created {
            did.push("user created with its password".to_owned());
        }
        if !outcome.groups_added.is_empty() {
            did.push(format!("added to {}", outcome.groups_added.join(", ")));
        }
        println!("admin {}: {}.", p.admin_email, did.join("; "));
    } else {
        println!(
            "admin {}: unchanged (already an admin; password left as it was).",
            p.admin_email
        );
    }
    println!("storefront: {}", urls.storefront);
    println!("admin:      {}", urls.admin);
    println!("API:        {}", urls.api);
    Ok(())
}

#[cfg(not(feature = "aws"))]
pub async fn run(_config: &Config, _p: &Publish) -> anyhow::Result<()> {
    anyhow::bail!("this vitrine was built without AWS support: build it with --features aws")
}
