//! The admin dashboard's numbers: today's orders and revenue, revenue per day for the last 30
//! days, how many orders are in each status, and the SKUs low on stock.
//!
//! Days are calendar days in São Paulo (America/Sao_Paulo), which has kept UTC−03:00 all year
//! since Brazil ended daylight saving time in 2019; a fixed offset is exact for every date this
//! store can hold, and needs no time-zone database.
//!
//! What counts:
//! - **orders** of a day: orders placed that day, in any status;
//! - **revenue** of a day: the totals of orders *paid* that day (the time of their `paid` history
//!   entry) that still hold the money — paid, invoiced, shipped or delivered. A paid order that was
//!   cancelled afterwards was refunded and no longer counts.
//! - **cart reminders** of the period (the [`DAYS`] days): the reminder e-mails sent in it, and
//!   how many of those carts were recovered — checked out by their customer within 7 days of the
//!   reminder (`crate::cart_reminders`). Each is one index range (`store::cart_reminders`),
//!   read whole.
//!
//! Cost: one pass over every order (each status partition of the second index, decoding only
//! the few fields needed), plus the stock index for the low-stock list. That is milliseconds for
//! tens of thousands of orders; a store far beyond that would keep daily counters written with
//! each order move instead.

use serde::Deserialize;
use vitrine_domain::catalog::Sku;
use vitrine_domain::order::{OrderStatus, StatusChange};
use vitrine_domain::{Money, Timestamp};

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::store::{self, Pager};

/// The time zone the dashboard's days are in.
pub const TIMEZONE: &str = "America/Sao_Paulo";
/// São Paulo's offset from UTC, in milliseconds (UTC−03:00, no daylight saving time).
const OFFSET_MS: i64 = -3 * 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// How many days the revenue series covers, today included.
pub const DAYS: usize = 30;

/// One calendar day's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayTotals {
    /// `YYYY-MM-DD`, in São Paulo.
    pub date: String,
    /// Orders placed that day.
    pub orders: u64,
    /// Orders paid that day that still hold the money.
    pub paid_orders: u64,
    pub revenue: Money,
}

/// A SKU at or below the low-stock threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LowStock {
    pub sku: Sku,
    pub available: i64,
    pub product_id: Option<String>,
    pub product_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Dashboard {
    pub generated_at: Timestamp,
    pub today: DayTotals,
    /// The last [`DAYS`] days, oldest first; the last one is today.
    pub days: Vec<DayTotals>,
    /// Every status, in lifecycle order, with how many orders are in it now.
    pub by_status: Vec<(OrderStatus, u64)>,
    pub low_stock: Vec<LowStock>,
    pub low_stock_threshold: i64,
    /// The cart reminders sent in the [`DAYS`] days, and the carts they recovered.
    pub cart_reminders: store::cart_reminders::ReminderCounts,
}

/// The fields of a stored order the dashboard reads (the rest is skipped while decoding).
#[derive(Deserialize)]
struct OrderFigures {
    status: OrderStatus,
    total: Money,
    created_at: Timestamp,
    #[serde(default)]
    history: Vec<StatusChange>,
}

impl OrderFigures {
    /// When the order was paid, if it holds money now.
    fn paid_at(&self) -> Option<Timestamp> {
        let holds_money = matches!(
            self.status,
            OrderStatus::Paid
                | OrderStatus::Invoiced
                | OrderStatus::Shipped
                | OrderStatus::Delivered
        );
        if !holds_money {
            return None;
        }
        Some(
            self.history
                .iter()
                .find(|c| c.status == OrderStatus::Paid)
                .map(|c| c.at)
                .unwrap_or(self.created_at),
        )
    }
}

/// The São Paulo calendar day of `t`, as days since 1970-01-01.
pub fn local_day(t: Timestamp) -> i64 {
    (t.millis() + OFFSET_MS).div_euclid(DAY_MS)
}

/// The day number of a `YYYY-MM-DD` date (the inverse of [`date_of_day`]), or `None` when it is
/// not a calendar date.
pub fn day_of_date(date: &str) -> Option<i64> {
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = date.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || d < 1 {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let day = era * 146_097 + doe - 719_468;
    // 2026-02-30 is not a date: it must come back as itself.
    (date_of_day(day) == date).then_some(day)
}

/// The first millisecond of São Paulo day `day`.
pub fn day_start_ms(day: i64) -> i64 {
    day * DAY_MS - OFFSET_MS
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01), proleptic Gregorian.
pub fn date_of_day(day: i64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

impl App {
    /// The dashboard as of now (the Clock port's).
    pub async fn dashboard(&self) -> AppResult<Dashboard> {
        let now = self.ports.clock.now();
        let today = local_day(now);
        let first = today - (DAYS as i64 - 1);
        let mut days: Vec<DayTotals> = (first..=today)
            .map(|d| DayTotals {
                date: date_of_day(d),
                orders: 0,
                paid_orders: 0,
                revenue: Money::ZERO,
            })
            .collect();
        let slot = |day: i64| -> Option<usize> {
            (first..=today)
                .contains(&day)
                .then(|| (day - first) as usize)
        };
        let mut by_status = Vec::with_capacity(OrderStatus::ALL.len());
        for status in OrderStatus::ALL {
            let mut count = 0u64;
            let mut pages = Pager::new(
                &*self.ports.table,
                store::orders::in_status(status).limit(1000),
            );
            while let Some(items) = pages.next_page().await? {
                for item in &items {
                    count += 1;
                    let order: OrderFigures = store::decode(item)?;
                    if let Some(i) = slot(local_day(order.created_at)) {
                        days[i].orders += 1;
                    }
                    if let Some(i) = order.paid_at().and_then(|t| slot(local_day(t))) {
                        days[i].paid_orders += 1;
                        days[i].revenue =
                            days[i].revenue.checked_add(order.total).ok_or_else(|| {
                                AppError::Internal(anyhow::anyhow!("revenue overflows"))
                            })?;
                    }
                }
            }
            by_status.push((status, count));
        }
        let mut low_stock: Vec<LowStock> = Vec::new();
        for (sku, available) in self.low_stock().await? {
            let product = self
                .cached_product(crate::catalog::ProductKey::Sku(&sku))
                .await?;
            low_stock.push(LowStock {
                product_id: product.as_ref().map(|p| p.id.clone()),
                product_name: product.as_ref().map(|p| p.name.clone()),
                sku,
                available,
            });
        }
        low_stock.sort_by(|a, b| (a.available, &a.sku).cmp(&(b.available, &b.sku)));
        let cart_reminders =
            store::cart_reminders::counts_since(&*self.ports.table, day_start_ms(first)).await?;
        Ok(Dashboard {
            generated_at: now,
            today: days.last().cloned().unwrap_or(DayTotals {
                date: date_of_day(today),
                orders: 0,
                paid_orders: 0,
                revenue: Money::ZERO,
            }),
            days,
            by_status,
            low_stock,
            low_stock_threshold: self.settings.low_stock_threshold,
            cart_reminders,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_is_the_day_it_names_and_nothing_else_is() {
        for day in [0, 20_429, 20_794, -1, 11_016] {
            assert_eq!(day_of_date(&date_of_day(day)), Some(day));
        }
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "2026-1-01",
            "26-01-01xx",
            "2026-00-10",
            "abcd-ef-gh",
        ] {
            assert_eq!(day_of_date(bad), None, "{bad}");
        }
        // 2026-12-01 00:00 in São Paulo is 03:00 UTC.
        let day = day_of_date("2026-12-01").unwrap();
        assert_eq!(local_day(Timestamp::from_millis(day_start_ms(day))), day);
        assert_eq!(
            local_day(Timestamp::from_millis(day_start_ms(day) - 1)),
            day - 1
        );
    }

    #[test]
    fn days_are_counted_in_sao_paulo_time() {
        // 2026-03-01T02:59:59.999Z is still 28 February in São Paulo; 03:00Z is 1 March.
        let before = Timestamp::from_millis(1_772_333_999_999);
        let after = Timestamp::from_millis(1_772_334_000_000);
        assert_eq!(date_of_day(local_day(before)), "2026-02-28");
        assert_eq!(date_of_day(local_day(after)), "2026-03-01");
    }

    #[test]
    fn dates_are_right_across_leap_years_and_the_epoch() {
        assert_eq!(date_of_day(0), "1970-01-01");
        assert_eq!(date_of_day(-1), "1969-12-31");
        assert_eq!(date_of_day(11_016), "2000-02-29");
        assert_eq!(date_of_day(19_782), "2024-02-29");
        assert_eq!(date_of_day(20_818), "2026-12-31");
    }

    #[test]
    fn revenue_counts_only_orders_that_hold_the_money_on_the_day_they_were_paid() {
        let placed = Timestamp::from_millis(1_000);
        let paid_at = Timestamp::from_millis(90_000_000);
        let order = |status, history: Vec<(OrderStatus, Timestamp)>| OrderFigures {
            status,
            total: Money::from_centavos(100),
            created_at: placed,
            history: history
                .into_iter()
                .map(|(status, at)| StatusChange {
                    status,
                    at,
                    note: None,
                })
                .collect(),
        };
        let shipped = order(
            OrderStatus::Shipped,
            vec![
                (OrderStatus::PendingPayment, placed),
                (OrderStatus::Paid, paid_at),
                (OrderStatus::Invoiced, paid_at.plus_secs(60)),
                (OrderStatus::Shipped, paid_at.plus_secs(600)),
            ],
        );
        assert_eq!(shipped.paid_at(), Some(paid_at));
        let refunded = order(
            OrderStatus::Cancelled,
            vec![
                (OrderStatus::Paid, paid_at),
                (OrderStatus::Cancelled, paid_at),
            ],
        );
        assert_eq!(refunded.paid_at(), None);
        assert_eq!(order(OrderStatus::PendingPayment, vec![]).paid_at(), None);
        assert_eq!(order(OrderStatus::Expired, vec![]).paid_at(), None);
    }
}
