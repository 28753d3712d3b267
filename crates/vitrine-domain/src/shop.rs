//! The shop's own look: its name, a line about it, its logo, its two colours and how customers
//! reach it. The storefront's pages, the web apps, the e-mails and the NF-e's trade name
//! (`xFant`) all say what the owner set here.
//!
//! Invariants:
//! - A [`Look`] is valid by construction ([`LookDraft::check`]): a name of 2 to 60 characters
//!   (what the NF-e's `xFant` carries), a description of at most [`MAX_DESCRIPTION`] characters, no
//!   control characters anywhere (they would break a page's head or a mail header).
//! - Both colours are legible as text on white and as a background under the text colour
//!   [`Colour::ink`] picks: at least 4.5:1 (WCAG 2.1 AA for body text, success criterion 1.4.3),
//!   so no choice of the owner makes the store unreadable.
//! - The logo is a key of the Blobs port under `images/shop/`, never a URL from elsewhere: the
//!   pages' content security policy loads images from the store's own origin only.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::contact::{Email, Phone};
use crate::error::{DomainError, FieldError};
use crate::time::Timestamp;

/// The longest shop name: the NF-e's `xFant` holds 60 characters.
pub const MAX_NAME: usize = 60;
/// The longest description (a page's meta description shows about 155).
pub const MAX_DESCRIPTION: usize = 300;
/// The longest free-text contact line (the address, the opening hours).
pub const MAX_CONTACT_LINE: usize = 200;
/// The least contrast of a colour with white (WCAG 2.1 AA, normal text).
pub const MIN_CONTRAST: f64 = 4.5;
/// Where the shop's logo lives in the Blobs port.
pub const LOGO_PREFIX: &str = "images/shop/";

/// A colour as `#rrggbb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Colour([u8; 3]);

impl Colour {
    pub const fn rgb(r: u8, g: u8, b: u8) -> Self {
        Self([r, g, b])
    }

    /// Accepts `#rrggbb` or `#rgb`, either case.
    pub fn parse(input: &str) -> Result<Self, String> {
        let hex = input
            .trim()
            .strip_prefix('#')
            .ok_or("a colour is written #rrggbb (e.g. #0a5c36)")?;
        let digits: Vec<u8> = hex
            .chars()
            .map(|c| c.to_digit(16).map(|d| d as u8))
            .collect::<Option<_>>()
            .ok_or("a colour is written #rrggbb with hexadecimal digits (0-9, a-f)")?;
        match digits.as_slice() {
            [r, g, b] => Ok(Self([r * 17, g * 17, b * 17])),
            [r1, r2, g1, g2, b1, b2] => Ok(Self([r1 * 16 + r2, g1 * 16 + g2, b1 * 16 + b2])),
            _ => Err("a colour is written #rrggbb: six hexadecimal digits".into()),
        }
    }

    /// Relative luminance (WCAG 2.1, from sRGB).
    pub fn luminance(self) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let [r, g, b] = self.0;
        0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    }

    /// The contrast ratio of two colours, 1 to 21.
    pub fn contrast(self, other: Colour) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        let (light, dark) = if a > b { (a, b) } else { (b, a) };
        (light + 0.05) / (dark + 0.05)
    }

    /// The text colour to write on this colour: white or near-black, whichever contrasts more.
    pub fn ink(self) -> Colour {
        if self.contrast(WHITE) >= self.contrast(INK) {
            WHITE
        } else {
            INK
        }
    }

    /// This colour mixed with white, `part` (0–1) of it: a soft background of the same hue.
    pub fn tint(self, part: f64) -> Colour {
        let mix = |c: u8| (f64::from(c) * part + 255.0 * (1.0 - part)).round() as u8;
        let [r, g, b] = self.0;
        Colour([mix(r), mix(g), mix(b)])
    }
}

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [r, g, b] = self.0;
        write!(f, "#{r:02x}{g:02x}{b:02x}")
    }
}

impl TryFrom<String> for Colour {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Colour::parse(&s)
    }
}

impl From<Colour> for String {
    fn from(c: Colour) -> String {
        c.to_string()
    }
}

pub const WHITE: Colour = Colour::rgb(0xff, 0xff, 0xff);
/// The stylesheet's text colour (`--ink`).
pub const INK: Colour = Colour::rgb(0x1b, 0x1b, 0x1b);

/// How customers reach the shop; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    /// A WhatsApp number (the storefront links to `wa.me`).
    pub whatsapp: Option<Phone>,
    /// The shop's address as it wants it shown, one line.
    pub address: Option<String>,
    /// Opening or service hours, one line ("Seg a sex, 9h às 18h").
    pub hours: Option<String>,
}

/// The shop's look, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Look {
    pub name: String,
    pub description: String,
    /// The logo's key in the Blobs port (under [`LOGO_PREFIX`]); `None`: the name in text.
    pub logo: Option<String>,
    /// The main colour: the header, buttons, links.
    pub brand: Colour,
    /// The second colour: prices and highlights.
    pub accent: Colour,
    pub contact: Contact,
    /// Counts the saves; 0 for the defaults no one saved yet.
    pub version: u64,
    pub updated_at: Option<Timestamp>,
}

impl Default for Look {
    /// The platform's own look, what a new store shows until its owner sets one.
    fn default() -> Self {
        Self {
            name: "vitrine".into(),
            description: "Loja virtual vitrine: roupas, acessórios e casa, com Pix e cartão."
                .into(),
            logo: None,
            brand: Colour::rgb(0x0a, 0x5c, 0x36),
            accent: Colour::rgb(0x8a, 0x3b, 0x00),
            contact: Contact::default(),
            version: 0,
            updated_at: None,
        }
    }
}

/// What the owner sends: text as typed, checked by [`LookDraft::check`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LookDraft {
    pub name: String,
    pub description: String,
    pub brand: String,
    pub accent: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub whatsapp: Option<String>,
    pub address: Option<String>,
    pub hours: Option<String>,
}

impl LookDraft {
    /// The look this draft makes of `current` (its logo and version kept), or every problem
    /// with its field.
    pub fn check(&self, current: &Look) -> Result<Look, DomainError> {
        let mut errors = Vec::new();
        let name = one_line(&self.name);
        let n = name.chars().count();
        if !(2..=MAX_NAME).contains(&n) {
            errors.push(FieldError::new(
                "name",
                format!("the shop's name has 2 to {MAX_NAME} characters"),
            ));
        }
        let description = one_line(&self.description);
        if description.chars().count() > MAX_DESCRIPTION {
            errors.push(FieldError::new(
                "description",
                format!("the description has at most {MAX_DESCRIPTION} characters"),
            ));
        }
        let brand = colour(&self.brand, "brand", &mut errors);
        let accent = colour(&self.accent, "accent", &mut errors);
        let email = optional(&self.email).and_then(|e| {
            Email::parse(e)
                .map_err(|m| errors.push(FieldError::new("contact.email", m.to_string())))
                .ok()
        });
        let mut phone_of = |field: &str, value: &Option<String>| {
            optional(value).and_then(|p| {
                Phone::parse(p)
                    .map_err(|m| errors.push(FieldError::new(field, m.to_string())))
                    .ok()
            })
        };
        let phone = phone_of("contact.phone", &self.phone);
        let whatsapp = phone_of("contact.whatsapp", &self.whatsapp);
        let mut line_of = |field: &str, value: &Option<String>| {
            let line = optional(value).map(one_line)?;
            if line.chars().count() > MAX_CONTACT_LINE {
                errors.push(FieldError::new(
                    field,
                    format!("at most {MAX_CONTACT_LINE} characters"),
                ));
            }
            Some(line)
        };
        let address = line_of("contact.address", &self.address);
        let hours = line_of("contact.hours", &self.hours);
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        Ok(Look {
            name,
            description,
            logo: current.logo.clone(),
            brand: brand.unwrap_or(current.brand),
            accent: accent.unwrap_or(current.accent),
            contact: Contact {
                email,
                phone,
                whatsapp,
                address,
                hours,
            },
            version: current.version,
            updated_at: current.updated_at,
        })
    }
}

impl Look {
    /// The same look, saved once more at `at`.
    pub fn saved(mut self, at: Timestamp) -> Self {
        self.version += 1;
        self.updated_at = Some(at);
        self
    }

    /// The stylesheet that gives the storefront and the admin this look: the custom properties
    /// `web/css/site.css` reads (`--brand`, `--brand-ink`, `--brand-soft`, `--accent`).
    pub fn stylesheet(&self) -> String {
        format!(
            ":root {{\n  --brand: {};\n  --brand-ink: {};\n  --brand-soft: {};\n  --accent: {};\n}}\n",
            self.brand,
            self.brand.ink(),
            self.brand.tint(0.12),
            self.accent
        )
    }
}

/// Whether `key` may be a logo: a key under [`LOGO_PREFIX`], one file, no way out of it.
pub fn is_logo_key(key: &str) -> bool {
    key.strip_prefix(LOGO_PREFIX).is_some_and(|file| {
        !file.is_empty()
            && file
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            && !file.starts_with('.')
    })
}

fn colour(input: &str, field: &str, errors: &mut Vec<FieldError>) -> Option<Colour> {
    match Colour::parse(input) {
        Ok(c) if c.contrast(WHITE) < MIN_CONTRAST => {
            errors.push(
                FieldError::new(
                    field,
                    format!(
                        "{c} is too light to read on white: its contrast is {:.1}:1, at least \
                         {MIN_CONTRAST}:1 is needed (choose a darker shade)",
                        c.contrast(WHITE)
                    ),
                )
                .with_code("colour-too-light")
                .with_param("contrast", format!("{:.1}", c.contrast(WHITE))),
            );
            None
        }
        Ok(c) => Some(c),
        Err(m) => {
            errors.push(FieldError::new(field, m));
            None
        }
    }
}

fn optional(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The text on one line: control characters and runs of white space become one space.
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> LookDraft {
        LookDraft {
            name: "Ateliê Bela Flor".into(),
            description: "Cerâmica feita à mão em Minas.".into(),
            brand: "#7a1f5c".into(),
            accent: "#1d4e89".into(),
            email: Some("contato@belaflor.com.br".into()),
            phone: Some("(31) 3456-7890".into()),
            whatsapp: Some("31 98765-4321".into()),
            address: Some("Rua da Bahia, 100 — Belo Horizonte, MG".into()),
            hours: Some("Seg a sex,\n9h às 18h".into()),
        }
    }

    fn fields(e: DomainError) -> Vec<String> {
        match e {
            DomainError::Invalid(list) => list.into_iter().map(|f| f.field).collect(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn a_draft_becomes_the_look_keeping_the_logo_and_version() {
        let current = Look {
            logo: Some("images/shop/logo-01j.png".into()),
            version: 3,
            ..Look::default()
        };
        let look = draft().check(&current).unwrap();
        assert_eq!(look.name, "Ateliê Bela Flor");
        assert_eq!(look.brand.to_string(), "#7a1f5c");
        assert_eq!(look.logo.as_deref(), Some("images/shop/logo-01j.png"));
        assert_eq!(look.version, 3);
        assert_eq!(
            look.contact.phone.as_ref().unwrap().as_str(),
            "+553134567890"
        );
        assert_eq!(look.contact.hours.as_deref(), Some("Seg a sex, 9h às 18h"));
        assert_eq!(look.clone().saved(Timestamp::from_millis(5)).version, 4);
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = LookDraft {
            name: "x".into(),
            description: "d".repeat(MAX_DESCRIPTION + 1),
            brand: "green".into(),
            accent: "#ffee00".into(),
            email: Some("not-an-address".into()),
            phone: Some("123".into()),
            whatsapp: None,
            address: Some("a".repeat(MAX_CONTACT_LINE + 1)),
            hours: None,
        };
        assert_eq!(
            fields(bad.check(&Look::default()).unwrap_err()),
            [
                "name",
                "description",
                "brand",
                "accent",
                "contact.email",
                "contact.phone",
                "contact.address"
            ]
        );
    }

    #[test]
    fn a_colour_too_light_for_white_is_refused_with_its_contrast() {
        let mut d = draft();
        d.brand = "#ffd700".into();
        let DomainError::Invalid(errors) = d.check(&Look::default()).unwrap_err() else {
            panic!()
        };
        assert_eq!(errors[0].code, Some("colour-too-light"));
        assert!(errors[0].message.contains("1.4:1"), "{}", errors[0].message);
    }

    #[test]
    fn colours_parse_print_and_measure_as_wcag_says() {
        assert_eq!(Colour::parse("#0A5C36").unwrap().to_string(), "#0a5c36");
        assert_eq!(Colour::parse("#fff").unwrap(), WHITE);
        assert!(Colour::parse("0a5c36").is_err());
        assert!(Colour::parse("#0a5c3").is_err());
        assert!(Colour::parse("#0a5c3g").is_err());
        // Black on white is 21:1, white on white 1:1 (WCAG's bounds).
        assert!((Colour::rgb(0, 0, 0).contrast(WHITE) - 21.0).abs() < 1e-9);
        assert!((WHITE.contrast(WHITE) - 1.0).abs() < 1e-9);
        // #767676 is the lightest grey that passes AA on white (4.54:1).
        assert!(Colour::parse("#767676").unwrap().contrast(WHITE) >= MIN_CONTRAST);
        assert!(Colour::parse("#777777").unwrap().contrast(WHITE) < MIN_CONTRAST);
        assert_eq!(Look::default().brand.ink(), WHITE);
    }

    #[test]
    fn the_default_look_passes_its_own_checks_and_writes_the_stylesheet() {
        let d = Look::default();
        assert!(d.brand.contrast(WHITE) >= MIN_CONTRAST);
        assert!(d.accent.contrast(WHITE) >= MIN_CONTRAST);
        let css = d.stylesheet();
        assert!(css.contains("--brand: #0a5c36;"), "{css}");
        assert!(css.contains("--brand-ink: #ffffff;"), "{css}");
        assert!(css.contains("--accent: #8a3b00;"), "{css}");
    }

    #[test]
    fn logo_keys_stay_in_their_folder() {
        assert!(is_logo_key("images/shop/logo-01jabc.png"));
        assert!(!is_logo_key("images/shop/"));
        assert!(!is_logo_key("images/shop/../invoices/x.xml"));
        assert!(!is_logo_key("images/shop/a/b.png"));
        assert!(!is_logo_key("images/p1/x.png"));
        assert!(!is_logo_key("https://example.com/logo.png"));
    }

    #[test]
    fn a_stored_look_reads_back() {
        let look = draft().check(&Look::default()).unwrap();
        let json = serde_json::to_string(&look).unwrap();
        assert!(json.contains("\"brand\":\"#7a1f5c\""), "{json}");
        assert_eq!(serde_json::from_str::<Look>(&json).unwrap(), look);
    }
}
