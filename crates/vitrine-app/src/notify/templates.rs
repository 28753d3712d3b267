//! The message templates: files under `crates/vitrine-app/templates/`, compiled into the binary
//! with `include_str!` and rendered with minijinja.
//!
//! Layout: `{language}/{message}.subject.txt`, `.txt` and `.html` per e-mail (`pt-BR/`, `en/`),
//! `{language}/sms/{message}.txt` per text message, and the shared `layout.html`.
//!
//! Invariants:
//! - Templates whose name ends in `.html` are auto-escaped: a value can never inject markup.
//!   No template marks a value `safe`.
//! - A variable a template names but the context lacks is an error (strict undefined), so a
//!   typo fails the tests instead of printing nothing.
//! - A subject is one line: control characters (a newline in a name) become spaces.
//! - Values reach templates already formatted (money as `R$ 1.234,56`, CEP as `01310-100`):
//!   the templates only choose words.

use std::sync::LazyLock;

use minijinja::{Environment, UndefinedBehavior, Value, context};
use serde::Serialize;
use vitrine_domain::order::{Order, PaymentMethod};
use vitrine_domain::shop::Look;

use crate::customers::Language;

macro_rules! sources {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/", $name)))),*]
    };
}

/// Every template, by name.
static SOURCES: &[(&str, &str)] = sources![
    "layout.html",
    "shop_contact.html",
    "shop_contact.txt",
    // Order e-mails.
    "pt-BR/order_layout.txt",
    "pt-BR/order_layout.html",
    "pt-BR/order_summary.txt",
    "pt-BR/order_summary.html",
    "pt-BR/order_placed.subject.txt",
    "pt-BR/order_placed.txt",
    "pt-BR/order_placed.html",
    "pt-BR/order_paid.subject.txt",
    "pt-BR/order_paid.txt",
    "pt-BR/order_paid.html",
    "pt-BR/order_invoiced.subject.txt",
    "pt-BR/order_invoiced.txt",
    "pt-BR/order_invoiced.html",
    "pt-BR/order_shipped.subject.txt",
    "pt-BR/order_shipped.txt",
    "pt-BR/order_shipped.html",
    "pt-BR/order_delivered.subject.txt",
    "pt-BR/order_delivered.txt",
    "pt-BR/order_delivered.html",
    "pt-BR/order_cancelled.subject.txt",
    "pt-BR/order_cancelled.txt",
    "pt-BR/order_cancelled.html",
    "pt-BR/order_expired.subject.txt",
    "pt-BR/order_expired.txt",
    "pt-BR/order_expired.html",
    "pt-BR/order_payment_late.subject.txt",
    "pt-BR/order_payment_late.txt",
    "pt-BR/order_payment_late.html",
    "pt-BR/order_refunded.subject.txt",
    "pt-BR/order_refunded.txt",
    "pt-BR/order_refunded.html",
    "pt-BR/order_return_requested.subject.txt",
    "pt-BR/order_return_requested.txt",
    "pt-BR/order_return_requested.html",
    "pt-BR/order_return_received.subject.txt",
    "pt-BR/order_return_received.txt",
    "pt-BR/order_return_received.html",
    "pt-BR/order_return_approved.subject.txt",
    "pt-BR/order_return_approved.txt",
    "pt-BR/order_return_approved.html",
    "pt-BR/order_return_refused.subject.txt",
    "pt-BR/order_return_refused.txt",
    "pt-BR/order_return_refused.html",
    "en/order_layout.txt",
    "en/order_layout.html",
    "en/order_summary.txt",
    "en/order_summary.html",
    "en/order_placed.subject.txt",
    "en/order_placed.txt",
    "en/order_placed.html",
    "en/order_paid.subject.txt",
    "en/order_paid.txt",
    "en/order_paid.html",
    "en/order_invoiced.subject.txt",
    "en/order_invoiced.txt",
    "en/order_invoiced.html",
    "en/order_shipped.subject.txt",
    "en/order_shipped.txt",
    "en/order_shipped.html",
    "en/order_delivered.subject.txt",
    "en/order_delivered.txt",
    "en/order_delivered.html",
    "en/order_cancelled.subject.txt",
    "en/order_cancelled.txt",
    "en/order_cancelled.html",
    "en/order_expired.subject.txt",
    "en/order_expired.txt",
    "en/order_expired.html",
    "en/order_payment_late.subject.txt",
    "en/order_payment_late.txt",
    "en/order_payment_late.html",
    "en/order_refunded.subject.txt",
    "en/order_refunded.txt",
    "en/order_refunded.html",
    "en/order_return_requested.subject.txt",
    "en/order_return_requested.txt",
    "en/order_return_requested.html",
    "en/order_return_received.subject.txt",
    "en/order_return_received.txt",
    "en/order_return_received.html",
    "en/order_return_approved.subject.txt",
    "en/order_return_approved.txt",
    "en/order_return_approved.html",
    "en/order_return_refused.subject.txt",
    "en/order_return_refused.txt",
    "en/order_return_refused.html",
    // Account e-mails.
    "pt-BR/account_confirmation.subject.txt",
    "pt-BR/account_confirmation.txt",
    "pt-BR/account_confirmation.html",
    "pt-BR/account_password_reset.subject.txt",
    "pt-BR/account_password_reset.txt",
    "pt-BR/account_password_reset.html",
    "en/account_confirmation.subject.txt",
    "en/account_confirmation.txt",
    "en/account_confirmation.html",
    "en/account_password_reset.subject.txt",
    "en/account_password_reset.txt",
    "en/account_password_reset.html",
    // The rows of a table of lines, shared by the order summaries and the cart reminders.
    "pt-BR/line_rows.html",
    "en/line_rows.html",
    // Cart reminders.
    "pt-BR/cart_reminder.subject.txt",
    "pt-BR/cart_reminder.txt",
    "pt-BR/cart_reminder.html",
    "en/cart_reminder.subject.txt",
    "en/cart_reminder.txt",
    "en/cart_reminder.html",
    // Admin alerts (the shop's staff read Portuguese).
    "pt-BR/alert_stock_low.subject.txt",
    "pt-BR/alert_stock_low.txt",
    "pt-BR/alert_stock_low.html",
    "pt-BR/alert_large_order.subject.txt",
    "pt-BR/alert_large_order.txt",
    "pt-BR/alert_large_order.html",
    "pt-BR/alert_invoice_failed.subject.txt",
    "pt-BR/alert_invoice_failed.txt",
    "pt-BR/alert_invoice_failed.html",
    "pt-BR/alert_payments_difference.subject.txt",
    "pt-BR/alert_payments_difference.txt",
    "pt-BR/alert_payments_difference.html",
    "pt-BR/alert_return_requested.subject.txt",
    "pt-BR/alert_return_requested.txt",
    "pt-BR/alert_return_requested.html",
    // Text messages.
    "pt-BR/sms/order_paid.txt",
    "pt-BR/sms/order_shipped.txt",
    "pt-BR/sms/order_cancelled.txt",
    "en/sms/order_paid.txt",
    "en/sms/order_shipped.txt",
    "en/sms/order_cancelled.txt",
];

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    for (name, source) in SOURCES {
        // The sources are part of the binary: one that does not parse is a build defect, and
        // the tests render every one of them.
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("template {name} does not parse: {e:#}"));
    }
    env
});

/// Who sends the messages, as they name themselves in them: the shop's look
/// (`vitrine_domain::shop::Look`) as the templates read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shop {
    pub name: String,
    /// The header band's colour and the text colour on it (`#rrggbb`).
    pub brand: String,
    pub brand_ink: String,
    /// How to reach the shop, each as shown (the footer of customer e-mails).
    pub email: Option<String>,
    pub phone: Option<String>,
    pub whatsapp: Option<String>,
    pub address: Option<String>,
}

impl Shop {
    pub fn of(look: &Look) -> Self {
        Self {
            name: look.name.clone(),
            brand: look.brand.to_string(),
            brand_ink: look.brand.ink().to_string(),
            email: look.contact.email.as_ref().map(|e| e.as_str().to_owned()),
            phone: look.contact.phone.as_ref().map(|p| p.display()),
            whatsapp: look.contact.whatsapp.as_ref().map(|p| p.display()),
            address: look.contact.address.clone(),
        }
    }
}

impl Default for Shop {
    /// The platform's own look (the default `From` of the store's e-mails is
    /// `vitrine <loja@…>`).
    fn default() -> Self {
        Self::of(&Look::default())
    }
}

/// An e-mail's three parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Render the e-mail `{base}.subject.txt`, `{base}.txt`, `{base}.html` (e.g. `en/order_paid`).
/// The text and HTML parts also see the subject, as `subject`.
pub(crate) fn render_email(base: &str, ctx: &impl Serialize) -> Result<Rendered, minijinja::Error> {
    let ctx = Value::from_serialize(ctx);
    let subject = one_line(&render(&format!("{base}.subject.txt"), &ctx)?);
    let ctx = context! { subject => &subject, ..ctx };
    Ok(Rendered {
        text: tidy(&render(&format!("{base}.txt"), &ctx)?),
        html: render(&format!("{base}.html"), &ctx)?,
        subject,
    })
}

/// Render a text message.
pub(crate) fn render_sms(name: &str, ctx: &impl Serialize) -> Result<String, minijinja::Error> {
    Ok(one_line(&render(name, &Value::from_serialize(ctx))?))
}

fn render(name: &str, ctx: &Value) -> Result<String, minijinja::Error> {
    ENV.get_template(name)?.render(ctx)
}

/// One line: control characters become spaces, runs of spaces one space.
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Plain text as mail clients show it best: no trailing spaces (but for the signature
/// separator), at most one blank line in a row, one final newline.
fn tidy(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank_run = 0;
    for line in s.trim().lines() {
        // "-- " (with its space) is the signature separator mail clients recognise.
        let line = if line == "-- " { line } else { line.trim_end() };
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The template folder of a language.
pub(crate) fn folder(language: Language) -> &'static str {
    match language {
        Language::PtBr => "pt-BR",
        Language::En => "en",
    }
}

/// "30 minutos", "2 hours", "3 dias": a duration in the largest whole unit (rounded up to the
/// minute), as people say it.
pub(crate) fn duration_words(secs: i64, language: Language) -> String {
    let minutes = (secs.max(60) + 59) / 60;
    // "24 horas", not "1 dia": days only from two on.
    let (n, unit) = if minutes % (24 * 60) == 0 && minutes >= 2 * 24 * 60 {
        (minutes / (24 * 60), 2)
    } else if minutes % 60 == 0 {
        (minutes / 60, 1)
    } else {
        (minutes, 0)
    };
    let word = match (language, unit, n == 1) {
        (Language::PtBr, 0, true) => "minuto",
        (Language::PtBr, 0, false) => "minutos",
        (Language::PtBr, 1, true) => "hora",
        (Language::PtBr, 1, false) => "horas",
        (Language::PtBr, _, true) => "dia",
        (Language::PtBr, _, false) => "dias",
        (Language::En, 0, true) => "minute",
        (Language::En, 0, false) => "minutes",
        (Language::En, 1, true) => "hour",
        (Language::En, 1, false) => "hours",
        (Language::En, _, true) => "day",
        (Language::En, _, false) => "days",
    };
    format!("{n} {word}")
}

/// The first word of a person's name, for greetings.
pub(crate) fn first_name(name: &str) -> Option<String> {
    name.split_whitespace().next().map(str::to_owned)
}

/// An order as the templates see it: every amount formatted, nothing to compute.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct OrderView {
    id: String,
    lines: Vec<LineView>,
    subtotal: String,
    /// `None` without a discount.
    discount: Option<String>,
    coupon: Option<String>,
    shipping_method: String,
    shipping_days: u32,
    shipping_total: String,
    shipping_free: bool,
    total: String,
    /// `pix` or `card`.
    payment_method: &'static str,
    address: AddressView,
    /// The NF-e access key in groups of four digits, as printed on the DANFE.
    invoice_key: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct LineView {
    sku: String,
    name: String,
    /// `Cor: azul, Tamanho: M`; empty without options.
    options: String,
    quantity: u32,
    unit_price: String,
    total: String,
}

#[derive(Debug, Clone, Serialize)]
struct AddressView {
    recipient: String,
    street: String,
    number: String,
    complement: Option<String>,
    district: String,
    city: String,
    uf: String,
    cep: String,
}

impl OrderView {
    pub(crate) fn new(order: &Order) -> Self {
        let a = &order.shipping_address;
        Self {
            id: order.id.clone(),
            lines: order
                .lines
                .iter()
                .map(|line| LineView {
                    sku: line.sku.to_string(),
                    name: line.name.clone(),
                    options: line
                        .options
                        .iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    quantity: line.quantity,
                    unit_price: line.unit_price.to_string(),
                    total: line.total().to_string(),
                })
                .collect(),
            subtotal: order.subtotal.to_string(),
            discount: (order.discount.centavos() > 0).then(|| order.discount.to_string()),
            coupon: order.coupon.clone(),
            shipping_method: order.shipping.name.clone(),
            shipping_days: order.shipping.days,
            shipping_total: order.shipping_total.to_string(),
            shipping_free: order.shipping_total.centavos() == 0,
            total: order.total.to_string(),
            payment_method: match order.payment_method {
                PaymentMethod::Pix => "pix",
                PaymentMethod::Card => "card",
                PaymentMethod::Boleto => "boleto",
            },
            address: AddressView {
                recipient: a.recipient.clone(),
                street: a.street.clone(),
                number: a.number.clone(),
                complement: a.complement.clone().filter(|c| !c.trim().is_empty()),
                district: a.district.clone(),
                city: a.city.clone(),
                uf: a.uf.to_string(),
                cep: a.cep.formatted(),
            },
            invoice_key: order.invoice_key.as_deref().map(group_digits),
        }
    }
}

fn group_digits(key: &str) -> String {
    key.chars()
        .collect::<Vec<_>>()
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        for (name, _) in SOURCES {
            assert!(ENV.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn every_template_file_is_compiled_in() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let mut on_disk = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(root)];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    let name = path.strip_prefix(root).unwrap().to_str().unwrap();
                    on_disk.push(name.replace('\\', "/"));
                }
            }
        }
        on_disk.sort();
        let mut listed: Vec<_> = SOURCES.iter().map(|(n, _)| n.to_string()).collect();
        listed.sort();
        assert_eq!(on_disk, listed);
    }

    #[test]
    fn a_subject_is_one_line_whatever_the_values_hold() {
        assert_eq!(
            one_line("  Pedido\r\nBcc: x@y \t 1 \n"),
            "Pedido Bcc: x@y 1"
        );
    }

    #[test]
    fn text_parts_keep_at_most_one_blank_line() {
        assert_eq!(tidy("\n\na  \n\n\n\nb\n\n"), "a\n\nb\n");
        assert_eq!(tidy("a\n-- \nshop"), "a\n-- \nshop\n");
    }

    #[test]
    fn payment_windows_read_as_people_say_them() {
        assert_eq!(duration_words(1_800, Language::PtBr), "30 minutos");
        assert_eq!(duration_words(3_600, Language::PtBr), "1 hora");
        assert_eq!(duration_words(7_200, Language::En), "2 hours");
        assert_eq!(duration_words(86_400, Language::En), "24 hours");
        assert_eq!(duration_words(2 * 86_400, Language::En), "2 days");
        assert_eq!(duration_words(3 * 86_400, Language::PtBr), "3 dias");
        assert_eq!(duration_words(60, Language::En), "1 minute");
        assert_eq!(duration_words(90, Language::En), "2 minutes");
    }

    #[test]
    fn an_invoice_key_is_grouped_by_four() {
        assert_eq!(group_digits("3525010000"), "3525 0100 00");
    }
}
