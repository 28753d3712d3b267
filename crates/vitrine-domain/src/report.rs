//! Sales reports as a fold: orders go in one at a time ([`SalesReport::add`]) and only bounded
//! aggregates are kept — one bucket per day and per month that had sales, one per payment method
//! and per UF, one per product SKU sold — so memory does not grow with the number of orders.
//! Rendered as CSV files and an SVG chart of revenue per day.
//!
//! What counts is what the admin dashboard counts: orders that hold the customer's money (paid,
//! invoiced, shipped, delivered), on the São Paulo day and month they were paid. Money is integer
//! centavos; the average ticket is `revenue / orders` rounded half up to the centavo.

use crate::text::csv_field;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::money::Money;
use crate::text::escape_html;

/// What the report needs of one sold order.
#[derive(Debug, Clone)]
pub struct SoldOrder<'a> {
    /// `YYYY-MM-DD` of the day it was paid (São Paulo).
    pub day: &'a str,
    pub total: Money,
    pub payment_method: &'a str,
    pub uf: &'a str,
    /// (SKU, product name, quantity, line total).
    pub lines: Vec<(&'a str, &'a str, u32, Money)>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bucket {
    pub orders: u64,
    pub revenue_centavos: i64,
}

impl Bucket {
    fn add(&mut self, total: Money) {
        self.orders += 1;
        self.revenue_centavos += total.centavos();
    }

    /// `revenue / orders`, half up; zero without orders.
    pub fn average_ticket_centavos(&self) -> i64 {
        if self.orders == 0 {
            return 0;
        }
        let n = self.orders as i64;
        (2 * self.revenue_centavos + n) / (2 * n)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductSales {
    pub name: String,
    pub units: u64,
    pub revenue_centavos: i64,
}

/// The aggregates of a sales report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SalesReport {
    pub total: Bucket,
    pub by_day: BTreeMap<String, Bucket>,
    pub by_month: BTreeMap<String, Bucket>,
    pub by_payment_method: BTreeMap<String, Bucket>,
    pub by_uf: BTreeMap<String, Bucket>,
    pub by_product: BTreeMap<String, ProductSales>,
}

/// How many products the top-products file lists.
pub const TOP_PRODUCTS: usize = 20;

impl SalesReport {
    pub fn add(&mut self, order: &SoldOrder<'_>) {
        self.total.add(order.total);
        self.by_day
            .entry(order.day.to_owned())
            .or_default()
            .add(order.total);
        self.by_month
            .entry(order.day.get(..7).unwrap_or(order.day).to_owned())
            .or_default()
            .add(order.total);
        self.by_payment_method
            .entry(order.payment_method.to_owned())
            .or_default()
            .add(order.total);
        self.by_uf
            .entry(order.uf.to_owned())
            .or_default()
            .add(order.total);
        for (sku, name, units, line_total) in &order.lines {
            let p = self.by_product.entry((*sku).to_owned()).or_default();
            if p.name.is_empty() {
                p.name = (*name).to_owned();
            }
            p.units += u64::from(*units);
            p.revenue_centavos += line_total.centavos();
        }
    }

    /// The products with the most revenue (ties: by SKU), at most [`TOP_PRODUCTS`].
    pub fn top_products(&self) -> Vec<(&str, &ProductSales)> {
        let mut all: Vec<(&str, &ProductSales)> = self
            .by_product
            .iter()
            .map(|(sku, p)| (sku.as_str(), p))
            .collect();
        all.sort_by(|a, b| {
            b.1.revenue_centavos
                .cmp(&a.1.revenue_centavos)
                .then(a.0.cmp(b.0))
        });
        all.truncate(TOP_PRODUCTS);
        all
    }

    /// The report's files: (name, content type, bytes).
    pub fn files(&self) -> Vec<(&'static str, &'static str, String)> {
        vec![
            (
                "sales-by-day.csv",
                "text/csv",
                buckets_csv("date", &self.by_day),
            ),
            (
                "sales-by-month.csv",
                "text/csv",
                buckets_csv("month", &self.by_month),
            ),
            (
                "sales-by-payment-method.csv",
                "text/csv",
                buckets_csv("payment_method", &self.by_payment_method),
            ),
            (
                "sales-by-uf.csv",
                "text/csv",
                buckets_csv("uf", &self.by_uf),
            ),
            ("top-products.csv", "text/csv", self.top_products_csv()),
            ("revenue-by-day.svg", "image/svg+xml", self.revenue_svg()),
        ]
    }

    fn top_products_csv(&self) -> String {
        let mut out = String::from("sku,product,units,revenue_brl\r\n");
        for (sku, p) in self.top_products() {
            let _ = write!(
                out,
                "{},{},{},{}\r\n",
                csv_field(sku),
                csv_field(&p.name),
                p.units,
                Money::from_centavos(p.revenue_centavos).format_plain()
            );
        }
        out
    }

    /// Revenue per day as bars, with the largest day's value on the axis. Every text is escaped.
    pub fn revenue_svg(&self) -> String {
        let (w, h, pad) = (800.0_f64, 320.0_f64, 40.0_f64);
        let max = self
            .by_day
            .values()
            .map(|b| b.revenue_centavos)
            .max()
            .unwrap_or(0)
            .max(1) as f64;
        let n = self.by_day.len().max(1) as f64;
        let bar = (w - 2.0 * pad) / n;
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-labelledby=\"t\">\
<title id=\"t\">Receita por dia (R$)</title>\
<rect width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\
<line x1=\"{pad}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\" stroke=\"#333\"/>\
<text x=\"{pad}\" y=\"{ty}\" font-family=\"sans-serif\" font-size=\"12\">máx. R$ {top}</text>",
            y0 = h - pad,
            x1 = w - pad,
            ty = pad - 12.0,
            top = escape_html(&Money::from_centavos(max as i64).format_plain()),
        );
        for (i, (day, b)) in self.by_day.iter().enumerate() {
            let bh = (b.revenue_centavos.max(0) as f64 / max) * (h - 2.0 * pad);
            let _ = write!(
                out,
                "<rect x=\"{x:.2}\" y=\"{y:.2}\" width=\"{bw:.2}\" height=\"{bh:.2}\" fill=\"#0b5d3b\"><title>{d}: R$ {v}</title></rect>",
                x = pad + i as f64 * bar,
                y = h - pad - bh,
                bw = (bar * 0.8).max(0.5),
                d = escape_html(day),
                v = escape_html(&Money::from_centavos(b.revenue_centavos).format_plain()),
            );
        }
        if let (Some(first), Some(last)) = (self.by_day.keys().next(), self.by_day.keys().last()) {
            let _ = write!(
                out,
                "<text x=\"{pad}\" y=\"{ty}\" font-family=\"sans-serif\" font-size=\"12\">{a}</text>\
<text x=\"{x}\" y=\"{ty}\" font-family=\"sans-serif\" font-size=\"12\" text-anchor=\"end\">{b}</text>",
                ty = h - pad + 18.0,
                x = w - pad,
                a = escape_html(first),
                b = escape_html(last),
            );
        }
        out.push_str("</svg>\n");
        out
    }
}

fn buckets_csv(key: &str, buckets: &BTreeMap<String, Bucket>) -> String {
    let mut out = format!("{key},orders,revenue_brl,average_ticket_brl\r\n");
    for (k, b) in buckets {
        let _ = write!(
            out,
            "{},{},{},{}\r\n",
            csv_field(k),
            b.orders,
            Money::from_centavos(b.revenue_centavos).format_plain(),
            Money::from_centavos(b.average_ticket_centavos()).format_plain()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order<'a>(day: &'a str, total: i64, method: &'a str, uf: &'a str) -> SoldOrder<'a> {
        SoldOrder {
            day,
            total: Money::from_centavos(total),
            payment_method: method,
            uf,
            lines: vec![(
                "CAM-M",
                "Camiseta, \"básica\"",
                2,
                Money::from_centavos(total),
            )],
        }
    }

    #[test]
    fn buckets_add_up_and_the_average_rounds_half_up() {
        let mut r = SalesReport::default();
        r.add(&order("2026-11-27", 1000, "pix", "SP"));
        r.add(&order("2026-11-27", 1001, "card", "RJ"));
        r.add(&order("2026-12-01", 500, "pix", "SP"));
        assert_eq!(
            r.total,
            Bucket {
                orders: 3,
                revenue_centavos: 2501
            }
        );
        assert_eq!(r.by_day["2026-11-27"].average_ticket_centavos(), 1001); // 1000.5 → 1001
        assert_eq!(r.by_month["2026-11"].orders, 2);
        assert_eq!(r.by_month["2026-12"].revenue_centavos, 500);
        assert_eq!(r.by_payment_method["pix"].revenue_centavos, 1500);
        assert_eq!(r.by_uf["RJ"].orders, 1);
        assert_eq!(r.by_product["CAM-M"].units, 6);
        let day_csv = &r.files()[0].2;
        assert_eq!(
            day_csv,
            "date,orders,revenue_brl,average_ticket_brl\r\n2026-11-27,2,20.01,10.01\r\n2026-12-01,1,5.00,5.00\r\n"
        );
    }

    #[test]
    fn hostile_texts_are_quoted_in_csv_and_escaped_in_svg() {
        let mut r = SalesReport::default();
        r.add(&SoldOrder {
            day: "2026-11-27",
            total: Money::from_centavos(100),
            payment_method: "pix",
            uf: "SP",
            lines: vec![("X-1", "=HYPERLINK(\"x\"),<b>", 1, Money::from_centavos(100))],
        });
        let top = &r.files()[4].2;
        assert!(top.contains("\"'=HYPERLINK(\"\"x\"\"),<b>\""), "{top}");
        let svg = r.revenue_svg();
        assert!(svg.starts_with("<svg") && svg.contains("2026-11-27") && !svg.contains("<b>"));
    }
}
