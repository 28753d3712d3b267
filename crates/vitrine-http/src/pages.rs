//! Pages rendered on the server, at real paths, for search engines, link previews and reading
//! without JavaScript: the home page (`/`), each category's (`/categoria/{slug}`) and each
//! product's (`/produto/{slug}`), with `sitemap.xml` and `robots.txt` made from the catalog.
//!
//! - Each page is the storefront's own `index.html` with its title, description, canonical link,
//!   Open Graph tags and schema.org JSON-LD (`Product` with one `Offer` per variant, price,
//!   currency and availability from live stock; `BreadcrumbList`) in the head, and the page's
//!   content in `<main>`. When scripts run, the storefront takes the path as its route
//!   (`web/js/router.js`) and renders the same page, interactive, in its place.
//! - Links between these pages are real paths; links that only the storefront can follow (cart,
//!   sign-in) are its hash routes (`/#/carrinho`).
//! - Absolute addresses (canonical, Open Graph, sitemap) use the configured public URL
//!   ([`crate::Security::public_url`]); without one, the request's `X-Forwarded-Host` or `Host`.
//! - Text from the catalog is escaped for HTML, and in JSON-LD `<`, `>` and `&` are written as
//!   `\u` escapes, so a product name can never close the script element.
//! - The pages change with stock and prices: `Cache-Control: public, max-age=0, s-maxage=60`,
//!   so a CDN in front (CloudFront on AWS) answers for a minute and browsers revalidate.
//! - `vitrine serve` gzips them for clients that accept it; on AWS CloudFront does.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use vitrine_app::App;
use vitrine_app::catalog::{ProductQuery, ProductSort};
use vitrine_app::error::AppError;
use vitrine_app::sitemap::PART_LIMIT;
use vitrine_domain::Money;
use vitrine_domain::catalog::{Category, Product, find_category};
use vitrine_domain::shop::Look;
use vitrine_domain::text::escape_html as esc;

use crate::dto::media_url;
use crate::dto::{CURRENCY, rfc3339};
use crate::problem::Problem;
use crate::state::AppState;
use crate::web;

/// Products on a category page and on the home page.
const CATEGORY_PAGE: usize = 24;
const HOME_PRODUCTS: usize = 12;

/// How long the sitemap parts' starts are kept before the catalog is walked again.
const SITEMAP_WALK_EVERY: Duration = Duration::from_secs(600);

const CACHE_CONTROL: &str = "public, max-age=0, s-maxage=60";

// ----- handlers -----

/// The pages' routes. With the site (`vitrine serve`): the home page too, and answers
/// gzip-compressed for clients that accept it (a sitemap part is megabytes of XML). Without it
/// (the API Lambda) CloudFront serves the home page from the bucket and compresses.
pub fn routes(site: bool) -> Router<AppState> {
    let pages = Router::new()
        .route("/produto/{slug}", get(product))
        .route("/categoria/{slug}", get(category))
        .route("/sitemap.xml", get(sitemap))
        .route("/sitemaps/{file}", get(sitemap_file))
        .route("/robots.txt", get(robots));
    if site {
        pages
            .route("/", get(home))
            .layer(tower_http::compression::CompressionLayer::new())
    } else {
        pages
    }
}

pub async fn home(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let origin = origin(&s, &headers);
    let look = look(&s).await;
    render(home_page(&s.app, &origin, &look).await, &look)
}

#[derive(serde::Deserialize)]
pub struct CategoryParams {
    /// The cursor of the next page (`next` of the listing).
    apos: Option<String>,
}

pub async fn category(
    State(s): State<AppState>,
    Path(slug): Path<String>,
    Query(p): Query<CategoryParams>,
    headers: HeaderMap,
) -> Response {
    let origin = origin(&s, &headers);
    let look = look(&s).await;
    render(
        category_page(&s.app, &origin, &slug, p.apos, &look).await,
        &look,
    )
}

pub async fn product(
    State(s): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Response {
    let origin = origin(&s, &headers);
    let look = look(&s).await;
    render(product_page(&s.app, &origin, &slug, &look).await, &look)
}

pub async fn robots(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let origin = origin(&s, &headers);
    let body = format!(
        "User-agent: *\nAllow: /\nDisallow: /admin/\nDisallow: /api/\nDisallow: /uploads/\n\nSitemap: {origin}/sitemap.xml\n"
    );
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE_CONTROL),
        ],
        body,
    )
        .into_response()
}

/// `/sitemap.xml`: every page in one file while the catalog fits in one
/// ([`vitrine_app::sitemap::PART_SIZE`] products), otherwise an index of `/sitemaps/paginas.xml` and
/// `/sitemaps/produtos-{n}.xml`.
pub async fn sitemap(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let origin = origin(&s, &headers);
    let result = async {
        let starts = sitemap_starts(&s).await?;
        if starts.len() <= 1 {
            let mut urls = page_urls(&s.app, &origin).await?;
            urls.extend(product_urls(&s.app, &origin, None, None).await?);
            Ok(urlset(&urls))
        } else {
            Ok(sitemap_index(&origin, starts.len()))
        }
    }
    .await;
    xml(result)
}

/// `/sitemaps/paginas.xml` (home and categories) and `/sitemaps/produtos-{n}.xml`.
pub async fn sitemap_file(
    State(s): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let origin = origin(&s, &headers);
    let result = async {
        if file == "paginas.xml" {
            return Ok(Some(urlset(&page_urls(&s.app, &origin).await?)));
        }
        let Some(n) = file
            .strip_prefix("produtos-")
            .and_then(|f| f.strip_suffix(".xml"))
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n >= 1)
        else {
            return Ok(None);
        };
        let starts = sitemap_starts(&s).await?;
        let Some(start) = starts.get(n - 1) else {
            return Ok(None);
        };
        let until = starts.get(n).cloned().flatten();
        let urls = product_urls(&s.app, &origin, start.as_deref(), until.as_deref()).await?;
        Ok(Some(urlset(&urls)))
    }
    .await;
    match result {
        Ok(Some(body)) => xml(Ok(body)),
        Ok(None) => Problem::not_found("sitemap file").into_response(),
        Err(e) => xml(Err(e)),
    }
}

// ----- pages -----

/// The shop's look for a page: the platform's default when it cannot be read (a page still
/// shows, with the store's own name missing, rather than failing).
async fn look(s: &AppState) -> Arc<Look> {
    match s.app.shop_look().await {
        Ok(look) => look,
        Err(e) => {
            tracing::warn!(error = %e, "the shop's look could not be read; a page shows the default");
            Arc::new(Look::default())
        }
    }
}

/// A rendered page: its status, head and content.
struct Page {
    status: StatusCode,
    /// The page's own title; the `<title>` adds the shop's name (the home page's is empty: the
    /// shop's name is its title).
    title: String,
    description: String,
    canonical: Option<String>,
    /// Open Graph `og:type`.
    kind: &'static str,
    image: Option<String>,
    /// More head elements (already HTML).
    extra_head: String,
    json_ld: Vec<Value>,
    main: String,
}

impl Page {
    /// A 404 page under `heading` ("Produto não encontrado").
    fn not_found(heading: &str) -> Self {
        let main = format!(
            "<h1>{}</h1><p>O endereço pode ter mudado, ou o item saiu da loja.</p>\
             <p><a href=\"/\">Voltar ao início</a> · <a href=\"/#/catalogo\">Ver o catálogo</a></p>",
            esc(heading)
        );
        Self::notice(StatusCode::NOT_FOUND, heading, main)
    }

    fn failed(e: &Problem) -> Self {
        tracing::warn!(error = ?e, "a server-rendered page could not be read");
        Self::notice(
            StatusCode::SERVICE_UNAVAILABLE,
            "Loja indisponível",
            "<h1>Não foi possível abrir esta página</h1><p>Tente de novo em instantes.</p>".into(),
        )
    }

    /// A page that is not indexed: an error's.
    fn notice(status: StatusCode, title: &str, main: String) -> Self {
        Self {
            status,
            title: title.to_owned(),
            description: String::new(),
            canonical: None,
            kind: "website",
            image: None,
            extra_head: "<meta name=\"robots\" content=\"noindex\">".into(),
            json_ld: Vec::new(),
            main,
        }
    }
}

async fn home_page(app: &App, origin: &str, look: &Look) -> Page {
    let read = async {
        let categories = app.category_tree().await?;
        let newest = app
            .list_products(&listing(None, HOME_PRODUCTS, None))
            .await?;
        Ok::<_, Problem>((categories, newest))
    };
    let (tree, newest) = match read.await {
        Ok(r) => r,
        Err(e) => return Page::failed(&e),
    };
    let mut main = format!("<h1>Bem-vindo à {}</h1>", esc(&look.name));
    if look.version > 0 && !look.description.is_empty() {
        let _ = write!(main, "<p class=\"muted\">{}</p>", esc(&look.description));
    }
    if !tree.is_empty() {
        main.push_str("<section><h2>Categorias</h2><ul class=\"category-links\">");
        for node in &tree {
            let c = &node.category;
            let _ = write!(
                main,
                "<li><a href=\"/categoria/{}\">{}</a></li>",
                esc(&c.slug.to_string()),
                esc(&c.name)
            );
        }
        main.push_str("</ul></section>");
    }
    main.push_str("<section><h2>Novidades</h2>");
    product_cards(&mut main, &newest.items);
    main.push_str("</section>");
    let url = format!("{origin}/");
    Page {
        status: StatusCode::OK,
        title: String::new(),
        description: look.description.clone(),
        canonical: Some(url.clone()),
        kind: "website",
        image: None,
        extra_head: String::new(),
        json_ld: vec![
            json!({
                "@context": "https://schema.org",
                "@type": "WebSite",
                "name": look.name,
                "url": url,
            }),
            organization_ld(origin, look),
        ],
        main,
    }
}

async fn category_page(
    app: &App,
    origin: &str,
    slug: &str,
    after: Option<String>,
    look: &Look,
) -> Page {
    let read = async {
        let all = app.categories().await?;
        let Some(cat) = find_category(&all, slug).filter(|c| c.slug.as_str() == slug) else {
            return Ok(Err("Categoria não encontrada"));
        };
        let cat = cat.clone();
        let query = listing(Some(cat.id.clone()), CATEGORY_PAGE, after.clone());
        let page = match app.list_products(&query).await {
            Ok(page) => page,
            // A cursor that is not one (edited by hand, or of another order).
            Err(AppError::Invalid(_)) => return Ok(Err("Página não encontrada")),
            Err(e) => return Err(Problem::from(e)),
        };
        Ok::<_, Problem>(Ok((all, cat, page)))
    };
    let (all, cat, page) = match read.await {
        Ok(Ok(r)) => r,
        Ok(Err(what)) => return Page::not_found(what),
        Err(e) => return Page::failed(&e),
    };
    let trail = trail(&all, Some(&cat));
    let mut main = breadcrumb_nav(&trail, None);
    let _ = write!(main, "<h1>{}</h1>", esc(&cat.name));
    let mut children: Vec<&Category> = all
        .iter()
        .filter(|c| c.parent_id.as_deref() == Some(cat.id.as_str()))
        .collect();
    children.sort_by_key(|c| (c.position, c.name.clone()));
    if !children.is_empty() {
        main.push_str("<ul class=\"category-links\">");
        for c in children {
            let _ = write!(
                main,
                "<li><a href=\"/categoria/{}\">{}</a></li>",
                esc(c.slug.as_str()),
                esc(&c.name)
            );
        }
        main.push_str("</ul>");
    }
    if page.items.is_empty() {
        main.push_str("<p>Nenhum produto nesta categoria por enquanto.</p>");
    } else {
        product_cards(&mut main, &page.items);
    }
    if let Some(next) = &page.next {
        let _ = write!(
            main,
            "<p><a rel=\"next\" href=\"/categoria/{}?apos={}\">Próxima página</a></p>",
            esc(slug),
            esc(&form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>())
        );
    }
    let mut canonical = format!("{origin}/categoria/{}", cat.slug);
    if let Some(a) = &after {
        canonical.push_str("?apos=");
        canonical.extend(form_urlencoded::byte_serialize(a.as_bytes()));
    }
    Page {
        status: StatusCode::OK,
        title: cat.name.clone(),
        description: format!("{} na {}: compre com Pix ou cartão.", cat.name, look.name),
        canonical: Some(canonical),
        kind: "website",
        image: None,
        extra_head: String::new(),
        json_ld: vec![breadcrumb_ld(origin, &trail, None)],
        main,
    }
}

async fn product_page(app: &App, origin: &str, slug: &str, look: &Look) -> Page {
    let read = async {
        let view = match app.product(slug, false).await {
            Ok(v) => v,
            Err(AppError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(Problem::from(e)),
        };
        let all = app.categories().await?;
        Ok::<_, Problem>(Some((view, all)))
    };
    let (view, all) = match read.await {
        Ok(Some(r)) => r,
        Ok(None) => return Page::not_found("Produto não encontrado"),
        Err(e) => return Page::failed(&e),
    };
    let p = &view.product;
    // Reached by its id or an old address: the product's page is at its slug.
    let url = format!("{origin}/produto/{}", p.slug);
    let category = p
        .category_id
        .as_deref()
        .and_then(|id| all.iter().find(|c| c.id == id));
    let trail = trail(&all, category);
    let images: Vec<String> = p
        .images
        .iter()
        .map(|k| format!("{origin}{}", media_url(k)))
        .collect();
    let available = |sku| view.stock.get(sku).copied().unwrap_or(0) > 0;
    let in_stock = p.variants.iter().any(|v| available(&v.sku));
    let price = p.price_from();

    let mut main = breadcrumb_nav(&trail, Some(&p.name));
    main.push_str("<article class=\"product\">");
    if let Some(key) = p.images.first() {
        let _ = write!(
            main,
            "<div class=\"gallery\"><img class=\"main-image\" src=\"{}\" alt=\"{}\" width=\"600\" height=\"600\"></div>",
            esc(&media_url(key)),
            esc(&p.name)
        );
    }
    let _ = write!(main, "<div><h1>{}</h1>", esc(&p.name));
    let varies = p.variants.iter().any(|v| v.price != price);
    let compare_at = p
        .variants
        .iter()
        .filter(|v| v.price == price)
        .find_map(|v| v.compare_at.filter(|c| *c > price));
    let _ = write!(
        main,
        "<p class=\"price\">{}<span data-price=\"{}\">{}</span>",
        if varies { "a partir de " } else { "" },
        price.format_plain(),
        esc(&price.to_string())
    );
    if let Some(c) = compare_at {
        let _ = write!(main, " <del>{}</del>", esc(&c.to_string()));
    }
    main.push_str("</p>");
    let _ = write!(
        main,
        "<p class=\"stock\" data-availability=\"{}\">{}</p>",
        if in_stock { "in_stock" } else { "out_of_stock" },
        if in_stock { "Em estoque" } else { "Esgotado" }
    );
    for para in p
        .description
        .split("\n\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let _ = write!(main, "<p>{}</p>", esc(para));
    }
    if p.variants.len() > 1 {
        main.push_str(
            "<table class=\"variants\"><caption>Opções</caption><thead><tr><th scope=\"col\">Opção</th>\
             <th scope=\"col\">Preço</th><th scope=\"col\">Disponibilidade</th></tr></thead><tbody>",
        );
        for v in &p.variants {
            let label = v.options.values().cloned().collect::<Vec<_>>().join(" / ");
            let _ = write!(
                main,
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td></tr>",
                esc(if label.is_empty() {
                    v.sku.as_str()
                } else {
                    &label
                }),
                esc(&v.price.to_string()),
                if available(&v.sku) {
                    "Em estoque"
                } else {
                    "Esgotado"
                }
            );
        }
        main.push_str("</tbody></table>");
    }
    let _ = write!(
        main,
        "<p><a class=\"button\" href=\"/#/produto/{}\">Escolher e comprar</a></p></div></article>",
        esc(p.slug.as_str())
    );

    let offers: Vec<Value> = p
        .variants
        .iter()
        .map(|v| {
            json!({
                "@type": "Offer",
                "sku": v.sku.as_str(),
                "price": v.price.format_plain(),
                "priceCurrency": CURRENCY,
                "availability": if available(&v.sku) {
                    "https://schema.org/InStock"
                } else {
                    "https://schema.org/OutOfStock"
                },
                "itemCondition": "https://schema.org/NewCondition",
                "url": url,
            })
        })
        .collect();
    let mut product_ld = json!({
        "@context": "https://schema.org",
        "@type": "Product",
        "name": p.name,
        "description": p.description,
        "sku": p.variants.first().map_or(p.id.as_str(), |v| v.sku.as_str()),
        "url": url,
        "offers": offers,
    });
    if !images.is_empty() {
        product_ld["image"] = json!(images);
    }
    if let Some(c) = category {
        product_ld["category"] = json!(c.name);
    }
    let extra_head = format!(
        "<meta property=\"product:price:amount\" content=\"{}\">\
         <meta property=\"product:price:currency\" content=\"{CURRENCY}\">",
        price.format_plain()
    );
    Page {
        status: StatusCode::OK,
        title: p.name.clone(),
        description: describe(p, price, &look.name),
        canonical: Some(url),
        kind: "product",
        image: images.into_iter().next(),
        extra_head,
        json_ld: vec![product_ld, breadcrumb_ld(origin, &trail, Some(p))],
        main,
    }
}

fn listing(category: Option<String>, limit: usize, after: Option<String>) -> ProductQuery {
    ProductQuery {
        category,
        min_price: None,
        max_price: None,
        text: None,
        options: Vec::new(),
        sort: ProductSort::Newest,
        limit,
        after,
        include_inactive: false,
    }
}

/// The page's description: the product's own words, cut at a word near 155 characters, or its
/// name and price.
fn describe(p: &Product, price: Money, shop: &str) -> String {
    let text = p
        .description
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if text.is_empty() {
        return format!("{} por {} na {shop}.", p.name, price);
    }
    if text.chars().count() <= 155 {
        return text;
    }
    let cut: String = text.chars().take(155).collect();
    let end = cut.rfind(' ').unwrap_or(cut.len());
    format!("{}…", cut[..end].trim_end_matches([',', '.', ';', ':']))
}

/// The categories from the top down to `leaf`.
fn trail<'a>(all: &'a [Category], leaf: Option<&'a Category>) -> Vec<&'a Category> {
    let mut out = Vec::new();
    let mut at = leaf;
    while let Some(c) = at {
        if out.iter().any(|seen: &&Category| seen.id == c.id) || out.len() > 16 {
            break;
        }
        out.push(c);
        at = c
            .parent_id
            .as_deref()
            .and_then(|p| all.iter().find(|x| x.id == p));
    }
    out.reverse();
    out
}

fn breadcrumb_nav(trail: &[&Category], here: Option<&str>) -> String {
    let mut out = String::from(
        "<nav class=\"breadcrumbs\" aria-label=\"Trilha\"><ol><li><a href=\"/\">Início</a></li>",
    );
    for (i, c) in trail.iter().enumerate() {
        if here.is_none() && i + 1 == trail.len() {
            let _ = write!(out, "<li aria-current=\"page\">{}</li>", esc(&c.name));
        } else {
            let _ = write!(
                out,
                "<li><a href=\"/categoria/{}\">{}</a></li>",
                esc(c.slug.as_str()),
                esc(&c.name)
            );
        }
    }
    if let Some(name) = here {
        let _ = write!(out, "<li aria-current=\"page\">{}</li>", esc(name));
    }
    out.push_str("</ol></nav>");
    out
}

fn breadcrumb_ld(origin: &str, trail: &[&Category], product: Option<&Product>) -> Value {
    let mut items = vec![json!({
        "@type": "ListItem", "position": 1, "name": "Início", "item": format!("{origin}/"),
    })];
    for c in trail {
        items.push(json!({
            "@type": "ListItem",
            "position": items.len() + 1,
            "name": c.name,
            "item": format!("{origin}/categoria/{}", c.slug),
        }));
    }
    if let Some(p) = product {
        items.push(json!({
            "@type": "ListItem",
            "position": items.len() + 1,
            "name": p.name,
            "item": format!("{origin}/produto/{}", p.slug),
        }));
    }
    json!({
        "@context": "https://schema.org",
        "@type": "BreadcrumbList",
        "itemListElement": items,
    })
}

fn product_cards(out: &mut String, products: &[Arc<Product>]) {
    out.push_str("<ul class=\"cards\">");
    for p in products {
        let _ = write!(
            out,
            "<li class=\"card\"><h3><a href=\"/produto/{}\">{}</a></h3><p class=\"price\">{}</p></li>",
            esc(p.slug.as_str()),
            esc(&p.name),
            esc(&p.price_from().to_string())
        );
    }
    out.push_str("</ul>");
}

// ----- the shell -----

/// The storefront's `index.html` cut where a page puts its own parts: the head's start (up to
/// its `<title>`), the rest of the head and the header (links made absolute), the footer.
struct Shell {
    head_start: String,
    head_rest_and_header: String,
    footer: String,
}

const TITLE_END: &str = "</title>\n";
/// The theme colour meta of `index.html`, up to its value.
const THEME_COLOUR: &str = "<meta name=\"theme-color\" content=";
const DEFAULT_BRAND: &str = "#0a5c36";
/// The header's home link and the footer's text in `index.html`, where the shop's look goes.
const SHELL_LOGO: &str = "<a class=\"logo\" href=\"/#/\">vitrine</a>";
const SHELL_FOOTER: &str = "<div class=\"wrap\"><p>vitrine — loja virtual.</p></div>";
const DESCRIPTION_END: &str = "\">\n";
const MAIN_START: &str = "<main id=\"main\">";
const MAIN_END: &str = "</main>";

fn shell() -> Option<&'static Shell> {
    static SHELL: OnceLock<Option<Shell>> = OnceLock::new();
    SHELL
        .get_or_init(|| {
            let html = std::str::from_utf8(web::file("index.html")?).ok()?;
            let title = html.find("<title>")?;
            let after_title = title + html[title..].find(TITLE_END)? + TITLE_END.len();
            // The description meta follows the title; the page writes its own.
            let rest = &html[after_title..];
            let rest = if rest.starts_with("<meta name=\"description\"") {
                &rest[rest.find(DESCRIPTION_END)? + DESCRIPTION_END.len()..]
            } else {
                rest
            };
            let main = rest.find(MAIN_START)?;
            let main_end = rest.find(MAIN_END)?;
            Some(Shell {
                head_start: html[..title].to_owned(),
                head_rest_and_header: rest[..main].replace("href=\"#/", "href=\"/#/"),
                footer: rest[main_end + MAIN_END.len()..].to_owned(),
            })
        })
        .as_ref()
}

fn render(page: Page, look: &Look) -> Response {
    let Some(shell) = shell() else {
        return Problem::internal("the storefront's index.html has changed shape").into_response();
    };
    let title = if page.title.is_empty() {
        format!("{} — loja virtual", look.name)
    } else {
        format!("{} — {}", page.title, look.name)
    };
    let mut html = String::with_capacity(8 * 1024 + page.main.len());
    html.push_str(&shell.head_start);
    let _ = writeln!(html, "<title>{}</title>", esc(&title));
    if !page.description.is_empty() {
        let d = esc(&page.description);
        let _ = writeln!(html, "<meta name=\"description\" content=\"{d}\">");
        let _ = writeln!(html, "<meta property=\"og:description\" content=\"{d}\">");
    }
    if let Some(c) = &page.canonical {
        let _ = writeln!(html, "<link rel=\"canonical\" href=\"{}\">", esc(c));
        let _ = writeln!(html, "<meta property=\"og:url\" content=\"{}\">", esc(c));
    }
    let _ = writeln!(
        html,
        "<meta property=\"og:type\" content=\"{}\">\n<meta property=\"og:site_name\" content=\"{}\">\n\
         <meta property=\"og:locale\" content=\"pt_BR\">\n<meta property=\"og:title\" content=\"{}\">",
        page.kind,
        esc(&look.name),
        esc(&title)
    );
    if let Some(i) = &page.image {
        let _ = writeln!(html, "<meta property=\"og:image\" content=\"{}\">", esc(i));
    }
    if !page.extra_head.is_empty() {
        html.push_str(&page.extra_head);
        html.push('\n');
    }
    for ld in &page.json_ld {
        let _ = writeln!(
            html,
            "<script type=\"application/ld+json\">{}</script>",
            json_for_script(ld)
        );
    }
    html.push_str(
        &shell
            .head_rest_and_header
            .replace(
                &format!("{THEME_COLOUR}\"{DEFAULT_BRAND}\""),
                &format!("{THEME_COLOUR}\"{}\"", look.brand),
            )
            .replace(SHELL_LOGO, &logo_link(look)),
    );
    let _ = write!(
        html,
        "{MAIN_START}\n  <div class=\"wrap\" data-rendered=\"server\">{}</div>\n{MAIN_END}",
        page.main
    );
    html.push_str(&shell.footer.replace(SHELL_FOOTER, &footer(look)));
    let mut res = (page.status, html).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if page.status.is_success() {
            CACHE_CONTROL
        } else {
            "no-cache"
        }),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(web::CONTENT_SECURITY_POLICY),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

/// The header's home link: the shop's logo (its name as the text alternative) or its name.
fn logo_link(look: &Look) -> String {
    match &look.logo {
        Some(key) => format!(
            "<a class=\"logo\" href=\"/\"><img src=\"{}\" alt=\"{}\" height=\"40\"></a>",
            esc(&media_url(key)),
            esc(&look.name)
        ),
        None => format!("<a class=\"logo\" href=\"/\">{}</a>", esc(&look.name)),
    }
}

/// The footer: the shop's name and description, how to reach it, the prices' terms.
fn footer(look: &Look) -> String {
    let mut out = format!(
        "<div class=\"wrap\"><p><strong>{}</strong>",
        esc(&look.name)
    );
    if look.version > 0 && !look.description.is_empty() {
        let _ = write!(out, " — {}", esc(&look.description));
    }
    out.push_str("</p>");
    let c = &look.contact;
    let mut items = Vec::new();
    if let Some(e) = &c.email {
        let e = esc(e.as_str());
        items.push(format!("<li><a href=\"mailto:{e}\">{e}</a></li>"));
    }
    if let Some(p) = &c.phone {
        items.push(format!(
            "<li><a href=\"tel:{}\">{}</a></li>",
            esc(p.as_str()),
            esc(&p.display())
        ));
    }
    if let Some(w) = &c.whatsapp {
        items.push(format!(
            "<li><a href=\"https://wa.me/{}\" rel=\"noopener\">WhatsApp {}</a></li>",
            esc(w.as_str().trim_start_matches('+')),
            esc(&w.display())
        ));
    }
    for line in [&c.address, &c.hours].into_iter().flatten() {
        items.push(format!("<li>{}</li>", esc(line)));
    }
    if !items.is_empty() {
        let _ = write!(
            out,
            "<ul class=\"shop-contact\" aria-label=\"Contato\">{}</ul>",
            items.concat()
        );
    }
    out.push_str("<p>Preços em reais (R$), com impostos.</p></div>");
    out
}

/// schema.org `Organization` of the shop: its name, logo and contact (search engines' knowledge
/// panel).
fn organization_ld(origin: &str, look: &Look) -> Value {
    let mut org = json!({
        "@context": "https://schema.org",
        "@type": "Organization",
        "name": look.name,
        "url": format!("{origin}/"),
    });
    if let Some(key) = &look.logo {
        org["logo"] = json!(format!("{origin}{}", media_url(key)));
    }
    if let Some(e) = &look.contact.email {
        org["email"] = json!(e.as_str());
    }
    if let Some(p) = look
        .contact
        .phone
        .as_ref()
        .or(look.contact.whatsapp.as_ref())
    {
        org["telephone"] = json!(p.as_str());
    }
    org
}

/// JSON for a `<script>` element: `<`, `>` and `&` as `\u` escapes (only ever inside strings), so
/// no text from the catalog can end the element or open a comment.
fn json_for_script(v: &Value) -> String {
    let mut out = String::new();
    for ch in v.to_string().chars() {
        match ch {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c => out.push(c),
        }
    }
    out
}

/// The store's address for absolute links: the configured public URL, or the one the request
/// came to (`X-Forwarded-Host` from a CDN in front, then `Host`).
fn origin(s: &AppState, headers: &HeaderMap) -> String {
    if let Some(u) = &s.security.public_url {
        return u.trim_end_matches('/').to_owned();
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or("").trim().to_owned())
            .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_graphic() && c != '/'))
    };
    if let Some(host) = header("x-forwarded-host") {
        let proto = header("x-forwarded-proto").unwrap_or_else(|| "https".into());
        let proto = if proto == "http" { "http" } else { "https" };
        return format!("{proto}://{host}");
    }
    match header("host") {
        Some(host) => format!("http://{host}"),
        None => "http://localhost".into(),
    }
}

// ----- sitemap -----

/// The sitemap parts' starts, walked again every [`SITEMAP_WALK_EVERY`].
async fn sitemap_starts(s: &AppState) -> Result<Arc<Vec<Option<String>>>, Problem> {
    let mut kept = s.sitemap.lock().await;
    if let Some((at, starts)) = kept.as_ref()
        && at.elapsed() < SITEMAP_WALK_EVERY
    {
        return Ok(starts.clone());
    }
    let starts = Arc::new(s.app.sitemap_starts(s.sitemap_part).await?);
    *kept = Some((Instant::now(), starts.clone()));
    Ok(starts)
}

/// An address of a sitemap with its last change (`YYYY-MM-DD` or a full time).
struct Url {
    loc: String,
    lastmod: Option<String>,
}

async fn page_urls(app: &App, origin: &str) -> Result<Vec<Url>, Problem> {
    let mut urls = vec![Url {
        loc: format!("{origin}/"),
        lastmod: None,
    }];
    for c in app.categories().await?.iter() {
        urls.push(Url {
            loc: format!("{origin}/categoria/{}", c.slug),
            lastmod: None,
        });
    }
    Ok(urls)
}

async fn product_urls(
    app: &App,
    origin: &str,
    start: Option<&str>,
    until: Option<&str>,
) -> Result<Vec<Url>, Problem> {
    Ok(app
        .sitemap_part(start, until)
        .await?
        .into_iter()
        .map(|e| Url {
            loc: format!("{origin}/produto/{}", e.slug),
            lastmod: Some(rfc3339(e.updated_at)),
        })
        .collect())
}

const XML_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
const SITEMAP_NS: &str = "http://www.sitemaps.org/schemas/sitemap/0.9";

fn urlset(urls: &[Url]) -> String {
    let mut out = String::with_capacity(64 + urls.len() * 120);
    out.push_str(XML_HEAD);
    let _ = writeln!(out, "<urlset xmlns=\"{SITEMAP_NS}\">");
    for u in urls.iter().take(PART_LIMIT) {
        let _ = write!(out, "<url><loc>{}</loc>", esc(&u.loc));
        if let Some(m) = &u.lastmod {
            let _ = write!(out, "<lastmod>{}</lastmod>", esc(m));
        }
        out.push_str("</url>\n");
    }
    out.push_str("</urlset>\n");
    out
}

fn sitemap_index(origin: &str, parts: usize) -> String {
    let mut out = String::from(XML_HEAD);
    let _ = writeln!(out, "<sitemapindex xmlns=\"{SITEMAP_NS}\">");
    let _ = writeln!(
        out,
        "<sitemap><loc>{}/sitemaps/paginas.xml</loc></sitemap>",
        esc(origin)
    );
    for n in 1..=parts {
        let _ = writeln!(
            out,
            "<sitemap><loc>{}/sitemaps/produtos-{n}.xml</loc></sitemap>",
            esc(origin)
        );
    }
    out.push_str("</sitemapindex>\n");
    out
}

fn xml(body: Result<String, Problem>) -> Response {
    match body {
        Ok(b) => (
            [
                (header::CONTENT_TYPE, "application/xml; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=0, s-maxage=3600"),
            ],
            b,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_is_cut_where_pages_put_their_parts() {
        let shell = shell().expect("web/index.html has a title, a description and a main");
        assert!(shell.head_start.ends_with("initial-scale=1\">\n"));
        assert!(shell.head_rest_and_header.contains("/js/app.js"));
        assert!(shell.head_rest_and_header.contains("href=\"/#/catalogo\""));
        assert!(!shell.head_rest_and_header.contains("<title>"));
        assert!(!shell.head_rest_and_header.contains("name=\"description\""));
        assert!(shell.footer.contains("</html>"));
        // Where the shop's look goes: index.html must keep these as they are.
        assert!(
            shell
                .head_rest_and_header
                .contains(&format!("{THEME_COLOUR}\"{DEFAULT_BRAND}\""))
        );
        assert!(shell.head_rest_and_header.contains(SHELL_LOGO));
        assert!(shell.footer.contains(SHELL_FOOTER));
    }

    #[test]
    fn catalog_text_cannot_break_out_of_the_page() {
        assert_eq!(esc("<b a=\"x\">&'"), "&lt;b a=&quot;x&quot;&gt;&amp;&#39;");
        let v = json!({"name": "</script><script>alert(1)</script> & <!--"});
        let s = json_for_script(&v);
        assert!(
            !s.contains('<') && !s.contains('>') && !s.contains('&'),
            "{s}"
        );
        let back: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn an_image_key_is_a_path_of_encoded_segments() {
        assert_eq!(
            media_url("images/01J/a b+c.png"),
            "/media/images/01J/a%20b%2Bc.png"
        );
    }

    #[test]
    fn the_index_lists_the_pages_and_every_part() {
        let x = sitemap_index("https://loja.example", 3);
        assert!(x.starts_with(XML_HEAD));
        assert!(x.contains("<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">"));
        assert!(x.contains("<loc>https://loja.example/sitemaps/paginas.xml</loc>"));
        for n in 1..=3 {
            assert!(x.contains(&format!("/sitemaps/produtos-{n}.xml</loc>")));
        }
        assert!(!x.contains("produtos-4"));
    }

    #[test]
    fn a_long_description_is_cut_at_a_word() {
        let mut p: Product = serde_json::from_value(json!({
            "id": "p", "slug": "p", "name": "Caneca", "description": "", "category_id": null,
            "images": [], "variants": [], "active": true, "created_at": 0, "updated_at": 0,
            "version": 1
        }))
        .unwrap();
        let price = Money::from_centavos(4990);
        assert_eq!(
            describe(&p, price, "vitrine"),
            "Caneca por R$ 49,90 na vitrine."
        );
        p.description = "palavra ".repeat(40);
        let d = describe(&p, price, "vitrine");
        assert!(d.ends_with("palavra…"), "{d}");
        assert!(d.chars().count() <= 156, "{d}");
    }
}
