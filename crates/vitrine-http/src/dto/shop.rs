//! The shop's look (`vitrine_domain::shop`): what the web apps show, and what the owner edits.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vitrine_domain::shop::{Look, LookDraft};

use super::rfc3339;

/// How customers reach the shop, each part `null` when not given.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShopContactDto {
    pub email: Option<String>,
    /// E.164 (`+553134567890`), for `tel:` links.
    pub phone: Option<String>,
    /// As people read it: `(31) 3456-7890`.
    pub phone_display: Option<String>,
    /// E.164.
    pub whatsapp: Option<String>,
    pub whatsapp_display: Option<String>,
    /// `https://wa.me/{digits}`.
    pub whatsapp_link: Option<String>,
    pub address: Option<String>,
    pub hours: Option<String>,
}

/// The shop's look.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShopDto {
    #[schema(example = "Ateliê Bela Flor")]
    pub name: String,
    pub description: String,
    /// The logo's key in the media store (`null`: the name is shown in text).
    pub logo: Option<String>,
    /// Where the logo is served (`/media/images/shop/…`).
    pub logo_url: Option<String>,
    /// The main colour, `#rrggbb`: header, buttons, links.
    #[schema(example = "#0a5c36")]
    pub brand: String,
    /// The text colour on the main colour (white or near-black, whichever reads better).
    pub brand_ink: String,
    /// The second colour: prices and highlights.
    pub accent: String,
    pub contact: ShopContactDto,
    /// 0 until the owner first saves a look (the store's defaults).
    pub version: u64,
    pub updated_at: Option<String>,
}

impl From<&Look> for ShopDto {
    fn from(l: &Look) -> Self {
        let c = &l.contact;
        Self {
            name: l.name.clone(),
            description: l.description.clone(),
            logo: l.logo.clone(),
            logo_url: l.logo.as_deref().map(media_url),
            brand: l.brand.to_string(),
            brand_ink: l.brand.ink().to_string(),
            accent: l.accent.to_string(),
            contact: ShopContactDto {
                email: c.email.as_ref().map(|e| e.as_str().to_owned()),
                phone: c.phone.as_ref().map(|p| p.as_str().to_owned()),
                phone_display: c.phone.as_ref().map(|p| p.display()),
                whatsapp: c.whatsapp.as_ref().map(|p| p.as_str().to_owned()),
                whatsapp_display: c.whatsapp.as_ref().map(|p| p.display()),
                whatsapp_link: c
                    .whatsapp
                    .as_ref()
                    .map(|p| format!("https://wa.me/{}", p.as_str().trim_start_matches('+'))),
                address: c.address.clone(),
                hours: c.hours.clone(),
            },
            version: l.version,
            updated_at: l.updated_at.map(rfc3339),
        }
    }
}

/// `/media/{key}` with each segment percent-encoded.
pub fn media_url(key: &str) -> String {
    let mut out = String::from("/media");
    for seg in key.split('/') {
        out.push('/');
        out.extend(form_urlencoded::byte_serialize(seg.as_bytes()).map(|s| s.replace('+', "%20")));
    }
    out
}

/// What the owner sets (`PUT /admin/shop` with `If-Match`); the logo has its own route. Empty
/// contact fields (or `null`) remove them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShopInput {
    /// 2 to 60 characters (the NF-e's trade name, `xFant`, carries it).
    pub name: String,
    /// At most 300 characters: the home page's description for search engines.
    #[serde(default)]
    pub description: String,
    /// `#rrggbb`, at least 4.5:1 against white (WCAG AA).
    pub brand: String,
    /// `#rrggbb`, at least 4.5:1 against white.
    pub accent: String,
    #[serde(default)]
    pub contact: ShopContactInput,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShopContactInput {
    pub email: Option<String>,
    /// Brazilian numbers as people write them (`(31) 3456-7890`) or E.164.
    pub phone: Option<String>,
    pub whatsapp: Option<String>,
    pub address: Option<String>,
    pub hours: Option<String>,
}

impl From<ShopInput> for LookDraft {
    fn from(i: ShopInput) -> Self {
        Self {
            name: i.name,
            description: i.description,
            brand: i.brand,
            accent: i.accent,
            email: i.contact.email,
            phone: i.contact.phone,
            whatsapp: i.contact.whatsapp,
            address: i.contact.address,
            hours: i.contact.hours,
        }
    }
}
