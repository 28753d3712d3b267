//! What search engines are given to find the store's product pages: every active product's slug
//! and last change, newest first, in parts of a bounded size.
//!
//! A sitemap file holds at most 50,000 addresses (sitemaps.org protocol), so a large catalog is
//! listed in parts. [`App::sitemap_starts`] walks the storefront's listing index once (keys only,
//! thousands at a time) and returns where each part starts; [`App::sitemap_part`] reads one part.
//! Parts are cut [`App::sitemap_starts`]'s `per_part` products apart but a part reads up to the
//! next part's start (at most [`PART_LIMIT`] products), so products created since the walk still
//! appear, in the first part, until the walk is made again.
//!
//! These reads go around the product cache: a crawler's walk of a large catalog would otherwise
//! push out the products shoppers are looking at.

use vitrine_domain::Timestamp;
use vitrine_domain::catalog::Slug;

use crate::app::App;
use crate::catalog::EXAMINED_PER_PAGE;
use crate::error::AppResult;
use crate::store;
use crate::store::listing::{self, Listing, Order, Realm};

/// The most products one part lists (the protocol's limit for one file).
pub const PART_LIMIT: usize = 50_000;

/// Products per part when the catalog needs several: below [`PART_LIMIT`], so that products
/// created between two walks still fit in the first part.
pub const PART_SIZE: usize = 45_000;

/// Listing entries read per query while walking for the parts' starts.
const WALK_PAGE: usize = 5_000;

/// Products read per query while reading a part.
const READ_PAGE: usize = 100;

/// An active product as a sitemap lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitemapEntry {
    pub slug: Slug,
    pub updated_at: Timestamp,
}

impl App {
    /// Where each part of `per_part` active products starts: `None` (the newest product) for the
    /// first, then the listing key each following part reads after. One entry for a catalog of
    /// up to `per_part` products (or none at all).
    pub async fn sitemap_starts(&self, per_part: usize) -> AppResult<Vec<Option<String>>> {
        let per_part = per_part.max(1);
        let mut starts = vec![None];
        let mut after: Option<String> = None;
        let mut counted = 0usize;
        loop {
            let page = listing::page(
                &*self.ports.table,
                &public_newest(after.as_deref(), WALK_PAGE.min(per_part)),
            )
            .await?;
            counted += page.ids.len();
            let Some(next) = page.next else { break };
            if counted >= per_part {
                // `next` is the last id read: the next part starts after it.
                starts.push(Some(next.clone()));
                counted = 0;
            }
            after = Some(next);
        }
        Ok(starts)
    }

    /// The active products of the part that starts after `start`, down to and including the
    /// product whose key is `until` (the next part's start), at most [`PART_LIMIT`].
    pub async fn sitemap_part(
        &self,
        start: Option<&str>,
        until: Option<&str>,
    ) -> AppResult<Vec<SitemapEntry>> {
        let mut out = Vec::new();
        let mut after = start.map(str::to_owned);
        loop {
            let want = READ_PAGE.min(PART_LIMIT - out.len());
            let page =
                listing::page(&*self.ports.table, &public_newest(after.as_deref(), want)).await?;
            // Newest first: ids descend, and the part ends at `until`'s id.
            let ids: Vec<&str> = page
                .ids
                .iter()
                .map(String::as_str)
                .take_while(|id| until.is_none_or(|u| *id >= u))
                .collect();
            let reached_until = ids.len() < page.ids.len() || ids.last() == until.as_ref();
            let products = store::catalog::load_products(&*self.ports.table, &ids).await?;
            out.extend(
                products
                    .into_iter()
                    .flatten()
                    .filter(|p| p.active)
                    .map(|p| SitemapEntry {
                        slug: p.slug,
                        updated_at: p.updated_at,
                    }),
            );
            match page.next {
                Some(next) if !reached_until && out.len() < PART_LIMIT => after = Some(next),
                _ => break,
            }
        }
        Ok(out)
    }
}

/// The storefront's listing of the whole catalog, newest first.
fn public_newest(after: Option<&str>, limit: usize) -> Listing<'_> {
    Listing {
        realm: Realm::Public,
        categories: None,
        order: Order::Newest,
        min_price: None,
        max_price: None,
        after,
        limit,
        examine: EXAMINED_PER_PAGE,
    }
}
