//! The cart reminder e-mail (`crate::cart_reminders` decides who gets one and sends it): the
//! cart's lines at today's prices, a link back to the cart, and a link that turns the reminders
//! off without signing in.

use serde::Serialize;
use vitrine_domain::Money;

use super::templates::{self, Shop};
use super::{idempotency_key, outgoing_email};
use crate::customers::Language;
use crate::ports::Email;

/// The name reminder e-mails carry in their idempotency key (`{reminder id}.cart-reminder`).
pub const CART_REMINDER: &str = "cart-reminder";

/// A line of a reminded cart, priced today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderLine {
    pub name: String,
    /// `Cor: azul, Tamanho: M`; empty without options.
    pub options: String,
    pub quantity: u32,
    pub unit_price: Money,
}

/// Everything a reminder says, and to whom.
#[derive(Debug, Clone)]
pub struct CartReminder<'a> {
    /// The reminder's id: the e-mail's idempotency key is made from it.
    pub id: &'a str,
    pub to: &'a str,
    /// Greeted by the first word of it.
    pub name: &'a str,
    pub language: Language,
    pub shop: &'a Shop,
    pub lines: Vec<ReminderLine>,
    /// The storefront's cart page.
    pub cart_url: String,
    /// The page that turns the reminders off.
    pub opt_out_url: String,
}

#[derive(Serialize)]
struct LineView {
    name: String,
    options: String,
    quantity: u32,
    unit_price: String,
    total: String,
}

#[derive(Serialize)]
struct ReminderContext<'a> {
    lang: &'static str,
    shop: &'a Shop,
    first_name: Option<String>,
    lines: Vec<LineView>,
    subtotal: String,
    cart_url: &'a str,
    opt_out_url: &'a str,
}

/// The reminder e-mail, in the customer's language.
pub fn cart_reminder_email(r: &CartReminder<'_>) -> Result<Email, minijinja::Error> {
    let mut subtotal = Money::ZERO;
    let lines = r
        .lines
        .iter()
        .map(|l| {
            let total = l.unit_price.checked_mul(l.quantity).unwrap_or(Money::ZERO);
            subtotal = subtotal.checked_add(total).unwrap_or(subtotal);
            LineView {
                name: l.name.clone(),
                options: l.options.clone(),
                quantity: l.quantity,
                unit_price: l.unit_price.to_string(),
                total: total.to_string(),
            }
        })
        .collect();
    let ctx = ReminderContext {
        lang: r.language.as_str(),
        shop: r.shop,
        first_name: templates::first_name(r.name),
        lines,
        subtotal: subtotal.to_string(),
        cart_url: &r.cart_url,
        opt_out_url: &r.opt_out_url,
    };
    let rendered = templates::render_email(
        &format!("{}/cart_reminder", templates::folder(r.language)),
        &ctx,
    )?;
    Ok(outgoing_email(
        r.to,
        rendered,
        idempotency_key(r.id, CART_REMINDER),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reminder(language: Language, shop: &Shop) -> CartReminder<'_> {
        CartReminder {
            id: "01JREMINDER0000000000000AB",
            to: "ana@example.com",
            name: "Ana <b>Souza</b>",
            language,
            shop,
            lines: vec![
                ReminderLine {
                    name: "Camiseta Básica".into(),
                    options: "Tamanho: M".into(),
                    quantity: 2,
                    unit_price: Money::from_centavos(4_990),
                },
                ReminderLine {
                    name: "Caneca <Esmaltada>".into(),
                    options: String::new(),
                    quantity: 1,
                    unit_price: Money::from_centavos(3_500),
                },
            ],
            cart_url: "https://loja.example/#/carrinho".into(),
            opt_out_url: "https://loja.example/#/lembretes?token=c3Vi.TAG-_x".into(),
        }
    }

    #[test]
    fn the_reminder_lists_the_lines_at_todays_prices_with_both_links_in_each_language() {
        let shop = Shop::default();
        let cases = [
            (
                Language::PtBr,
                "carrinho",
                "2 x Camiseta Básica (Tamanho: M): R$ 99,80",
                "Olá, Ana!",
                "não receber mais",
            ),
            (
                Language::En,
                "cart",
                "2 x Camiseta Básica (Tamanho: M): R$ 99,80",
                "Hi Ana,",
                "stop these reminders",
            ),
        ];
        for (language, subject, line, greeting, opt_out) in cases {
            let email = cart_reminder_email(&reminder(language, &shop)).unwrap();
            let html = email.html.as_deref().unwrap();
            assert_eq!(email.to, "ana@example.com");
            assert!(email.subject.contains(subject), "{}", email.subject);
            assert!(email.subject.contains(&shop.name), "{}", email.subject);
            assert_eq!(
                email.idempotency_key.as_deref(),
                Some("01JREMINDER0000000000000AB.cart-reminder")
            );
            assert!(email.checked_idempotency_key().is_ok());
            for part in [email.text.as_str(), html] {
                assert!(part.contains(greeting), "{part}");
                assert!(part.contains("R$ 134,80"), "the subtotal: {part}");
                assert!(part.contains(opt_out), "{part}");
                assert!(part.contains("token=c3Vi.TAG-_x"), "{part}");
            }
            assert!(email.text.contains(line), "{}", email.text);
            assert!(email.text.contains("https://loja.example/#/carrinho"));
            assert!(html.contains(&format!("<html lang=\"{}\">", language.as_str())));
            // Values are escaped in the HTML part.
            assert!(html.contains("Caneca &lt;Esmaltada&gt;"), "{html}");
            assert!(!html.contains("<b>Souza"), "{html}");
        }
    }
}
