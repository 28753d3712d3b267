//! The store's business settings, and the one function that reads them: [`Settings::from_lookup`]
//! turns a lookup by variable name (`VITRINE_PAY_WITHIN_MINUTES`, …) into checked [`Settings`].
//! Both shapes use it: `vitrine serve` looks names up in its flags, `VITRINE_*` variables and
//! `vitrine.toml`; each Lambda function in its environment. This library reads no environment
//! itself: its callers pass the lookup.
//!
//! | variable | `vitrine.toml` | default | |
//! |---|---|---|---|
//! | [`PAY_WITHIN_MINUTES`] | `pay_within_minutes` | 30 | minutes an order may stay unpaid, 1–10080 |
//! | [`LOW_STOCK_THRESHOLD`] | `low_stock_threshold` | 5 | `stock.low` at or below this, 0 or more |
//! | [`LARGE_ORDER_CENTAVOS`] | `large_order_centavos` | 100000 | orders of at least this alert the admins, 1 or more |
//! | [`ALERTS_TO`] | `alerts_to` | unset | where admin alerts are e-mailed (one address) |
//! | [`CATALOG_CACHE_SECS`] | `catalog_cache_secs` | 10 | cached catalog and search index age, 0–3600 |
//! | [`MAX_UNPAID_ORDERS`] | `max_unpaid_orders` | 3 | unpaid orders a customer may hold at once, 1–1000 |
//! | [`MAX_UNPAID_UNITS`] | `max_unpaid_units` | 100 | units a customer's unpaid orders may reserve together, 1–1000000 |
//! | [`INSTALLMENT_RATES_BP`] | `[payments] installments.monthly_rate_bp` | `0,0,0,199,…` (12) | monthly rate per installment count, comma-separated basis points |
//! | [`MIN_INSTALLMENT_CENTAVOS`] | `[payments] installments.min_installment` | 500 | smallest installment |
//! | [`SHIPPING_RATES`] | `[shipping]` | built-in table | the shipping rate table, as JSON of the `[shipping]` section's shape |
//! | [`ACCOUNT_MAILS_PER_HOUR`] | `account_mails_per_hour` | 3 | account mails of one kind to one address per hour, 1–1000 ([`SendLimits`]) |
//! | [`ACCOUNT_MAILS_PER_DAY`] | `account_mails_per_day` | 10 | the same per day, 1–10000 |
//! | [`ACCOUNT_MAILS_PER_CLIENT_HOUR`] | `account_mails_per_client_hour` | 30 | account mail requests from one client address per hour, 1–100000 |
//! | [`SMS_PER_NUMBER_PER_DAY`] | `sms_per_number_per_day` | 10 | texts to one number per day, 1–1000 |
//! | [`SMS_COUNTRY_CODES`] | `sms_country_codes` | `+55` | country calling codes that may opt in to texts, comma-separated (a list in `vitrine.toml`) |
//! | [`REALTIME_RESUME_HOURS`] | `realtime_resume_hours` | 24 | a realtime resume replays nothing older, 1–168 |
//! | [`REALTIME_RESUME_MAX_EVENTS`] | `realtime_resume_max_events` | 500 | a realtime resume sends at most this many events, 1–10000 |
//! | [`ABANDONED_CART_HOURS`] | `abandoned_cart_hours` | 24 | a signed-in customer's cart untouched this long gets one reminder e-mail, 1–72; 0: none |
//!
//! An unset or blank value means the default. A malformed one is an error naming the variable
//! ([`SettingsError`]).

use vitrine_domain::Money;
use vitrine_domain::card::InstallmentTable;
use vitrine_domain::contact::Phone;
use vitrine_domain::shipping::RateTable;

/// Business settings (from `vitrine.toml` / `VITRINE_*` locally, from the environment on
/// Lambda; both through [`Settings::from_lookup`]).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Unpaid orders expire after this long.
    pub pay_within_secs: i64,
    pub rate_table: RateTable,
    /// A `stock.low` event fires when a SKU's stock falls to this or below.
    pub low_stock_threshold: i64,
    /// How long a cached catalog may be served before it is reloaded. Writes made through this
    /// process invalidate it at once; this bounds staleness from other processes (CLI imports,
    /// other Lambda instances).
    pub catalog_cache_secs: i64,
    /// Anonymous carts are forgotten after this many days without change.
    pub anonymous_cart_days: i64,
    /// Orders of this total or more alert the admins (a numeric filter policy).
    pub large_order_centavos: i64,
    /// Where admin alerts (`stock.low`, large orders) are e-mailed; none: not e-mailed.
    pub alerts_to: Option<String>,
    /// Card installments offered, and their interest.
    pub installments: InstallmentTable,
    /// A realtime resume replays nothing older than this (`App::order_events_after`).
    pub realtime_resume_secs: i64,
    /// A realtime resume sends at most this many missed events, and reads at most one item
    /// more (two when its `after` predates [`Settings::realtime_resume_secs`]).
    pub realtime_resume_max_events: usize,
    /// How many account mails and texts may go to one recipient or be asked by one client.
    pub send_limits: SendLimits,
    /// How much stock one customer may hold without paying (abuse limit; docs/operations.md).
    pub unpaid_cap: UnpaidCap,
    /// A signed-in customer's cart untouched this long gets one reminder e-mail
    /// (`crate::cart_reminders`); 0: no reminders.
    pub abandoned_cart_secs: i64,
}

/// Budgets against mail and SMS flooding (docs/operations.md, "Abuse limits"). Each is counted
/// in the table (`store::budgets`), so a restart or many Lambda instances share it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendLimits {
    /// Account mails of one kind (sign-up: the code or the "already registered" warning; code
    /// requests: a new confirmation code or a reset code) to one address per hour.
    pub account_mails_per_hour: i64,
    /// The same, per day.
    pub account_mails_per_day: i64,
    /// Sign-ups, new-code and reset requests from one client address per hour (429 beyond).
    pub account_mails_per_client_hour: i64,
    /// Texts to one phone number per day.
    pub sms_per_number_per_day: i64,
    /// The country calling codes whose numbers may opt in to texts (`+55`, `+351`). `+55` numbers
    /// must moreover be Brazilian mobiles ([`vitrine_domain::contact::Phone::is_brazilian_mobile`]).
    pub sms_country_codes: Vec<String>,
}

impl Default for SendLimits {
    fn default() -> Self {
        Self {
            account_mails_per_hour: 3,
            account_mails_per_day: 10,
            account_mails_per_client_hour: 30,
            sms_per_number_per_day: 10,
            sms_country_codes: vec!["+55".into()],
        }
    }
}

/// The most a customer's unpaid orders may hold at once: beyond it checkout refuses, so that no
/// one holds the stock of a shop for free (an unpaid order reserves its units until it expires).
///
/// The defaults are far above what a retail customer leaves unpaid — one or two orders while
/// choosing how to pay, a cart of a few units (a single line may hold up to 99) — and far below
/// what it takes to empty a small shop's shelves: 3 orders and 100 units. A wholesale shop whose
/// customers buy by the box raises `max_unpaid_units`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpaidCap {
    pub orders: i64,
    pub units: i64,
}

impl UnpaidCap {
    /// Whether one more order of `units` units passes the cap, on top of `orders` unpaid
    /// orders that reserve `held_units`; if so, how.
    pub fn refuses(&self, orders: i64, held_units: i64, units: i64) -> Option<UnpaidOver> {
        let held_units = held_units.max(0);
        if orders >= self.orders {
            Some(UnpaidOver::Orders {
                held: orders,
                max: self.orders,
            })
        } else if held_units + units > self.units {
            Some(UnpaidOver::Units {
                held: held_units,
                wanted: units,
                max: self.units,
            })
        } else {
            None
        }
    }
}

/// How a checkout would pass the [`UnpaidCap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnpaidOver {
    /// `held` unpaid orders already: the most allowed.
    #[error(
        "you have {held} orders awaiting payment, the most a customer may have; pay or cancel one of them"
    )]
    Orders { held: i64, max: i64 },
    /// This order's `wanted` units on top of the `held` ones would pass `max`.
    #[error(
        "your orders awaiting payment reserve {held} units and this one {wanted}; at most {max} units may await payment: pay or cancel an order, or order fewer units"
    )]
    Units { held: i64, wanted: i64, max: i64 },
}

impl Default for UnpaidCap {
    fn default() -> Self {
        Self {
            orders: 3,
            units: 100,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            pay_within_secs: 30 * 60,
            rate_table: RateTable::default(),
            low_stock_threshold: 5,
            catalog_cache_secs: 10,
            anonymous_cart_days: 30,
            large_order_centavos: 100_000,
            alerts_to: None,
            installments: InstallmentTable::default(),
            send_limits: SendLimits::default(),
            unpaid_cap: UnpaidCap::default(),
            realtime_resume_secs: 24 * 3600,
            realtime_resume_max_events: 500,
            abandoned_cart_secs: 24 * 3600,
        }
    }
}

/// One setting: the variable it is looked up by, and its name in `vitrine.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingName {
    /// The lookup key: the `VITRINE_*` variable.
    pub var: &'static str,
    /// Its key in `vitrine.toml` (the name `vitrine serve`'s messages use).
    pub key: &'static str,
}

pub const PAY_WITHIN_MINUTES: SettingName = SettingName {
    var: "VITRINE_PAY_WITHIN_MINUTES",
    key: "pay_within_minutes",
};
pub const LOW_STOCK_THRESHOLD: SettingName = SettingName {
    var: "VITRINE_LOW_STOCK_THRESHOLD",
    key: "low_stock_threshold",
};
pub const LARGE_ORDER_CENTAVOS: SettingName = SettingName {
    var: "VITRINE_LARGE_ORDER_CENTAVOS",
    key: "large_order_centavos",
};
pub const ALERTS_TO: SettingName = SettingName {
    var: "VITRINE_ALERTS_TO",
    key: "alerts_to",
};
pub const CATALOG_CACHE_SECS: SettingName = SettingName {
    var: "VITRINE_CATALOG_CACHE_SECS",
    key: "catalog_cache_secs",
};
pub const INSTALLMENT_RATES_BP: SettingName = SettingName {
    var: "VITRINE_INSTALLMENT_RATES_BP",
    key: "payments.installments",
};
pub const MIN_INSTALLMENT_CENTAVOS: SettingName = SettingName {
    var: "VITRINE_MIN_INSTALLMENT_CENTAVOS",
    key: "payments.installments",
};
pub const SHIPPING_RATES: SettingName = SettingName {
    var: "VITRINE_SHIPPING_RATES",
    key: "shipping",
};
pub const MAX_UNPAID_ORDERS: SettingName = SettingName {
    var: "VITRINE_MAX_UNPAID_ORDERS",
    key: "max_unpaid_orders",
};
pub const MAX_UNPAID_UNITS: SettingName = SettingName {
    var: "VITRINE_MAX_UNPAID_UNITS",
    key: "max_unpaid_units",
};

pub const ACCOUNT_MAILS_PER_HOUR: SettingName = SettingName {
    var: "VITRINE_ACCOUNT_MAILS_PER_HOUR",
    key: "account_mails_per_hour",
};
pub const ACCOUNT_MAILS_PER_DAY: SettingName = SettingName {
    var: "VITRINE_ACCOUNT_MAILS_PER_DAY",
    key: "account_mails_per_day",
};
pub const ACCOUNT_MAILS_PER_CLIENT_HOUR: SettingName = SettingName {
    var: "VITRINE_ACCOUNT_MAILS_PER_CLIENT_HOUR",
    key: "account_mails_per_client_hour",
};
pub const SMS_PER_NUMBER_PER_DAY: SettingName = SettingName {
    var: "VITRINE_SMS_PER_NUMBER_PER_DAY",
    key: "sms_per_number_per_day",
};
pub const SMS_COUNTRY_CODES: SettingName = SettingName {
    var: "VITRINE_SMS_COUNTRY_CODES",
    key: "sms_country_codes",
};

pub const REALTIME_RESUME_HOURS: SettingName = SettingName {
    var: "VITRINE_REALTIME_RESUME_HOURS",
    key: "realtime_resume_hours",
};
pub const REALTIME_RESUME_MAX_EVENTS: SettingName = SettingName {
    var: "VITRINE_REALTIME_RESUME_MAX_EVENTS",
    key: "realtime_resume_max_events",
};
pub const ABANDONED_CART_HOURS: SettingName = SettingName {
    var: "VITRINE_ABANDONED_CART_HOURS",
    key: "abandoned_cart_hours",
};

/// The longest [`ABANDONED_CART_HOURS`]: a reminder comes within three days or not at all (the
/// sweep mails no cart untouched for more than a week, `crate::cart_reminders::MAX_IDLE_MS`).
pub const MAX_ABANDONED_CART_HOURS: i64 = 72;

/// Every setting [`Settings::from_lookup`] reads.
pub const ALL: [SettingName; 18] = [
    PAY_WITHIN_MINUTES,
    LOW_STOCK_THRESHOLD,
    LARGE_ORDER_CENTAVOS,
    ALERTS_TO,
    CATALOG_CACHE_SECS,
    INSTALLMENT_RATES_BP,
    MIN_INSTALLMENT_CENTAVOS,
    SHIPPING_RATES,
    ACCOUNT_MAILS_PER_HOUR,
    ACCOUNT_MAILS_PER_DAY,
    ACCOUNT_MAILS_PER_CLIENT_HOUR,
    SMS_PER_NUMBER_PER_DAY,
    SMS_COUNTRY_CODES,
    MAX_UNPAID_ORDERS,
    MAX_UNPAID_UNITS,
    REALTIME_RESUME_HOURS,
    REALTIME_RESUME_MAX_EVENTS,
    ABANDONED_CART_HOURS,
];

/// A setting with a value that cannot be used. Displays with the variable's name
/// (`VITRINE_PAY_WITHIN_MINUTES must be between 1 and 10080`); [`SettingsError::by_key`] says
/// the same with the `vitrine.toml` name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message(&self.vars.join(", ")))]
pub struct SettingsError {
    /// The variables the value came from (two for the installment table).
    pub vars: Vec<&'static str>,
    /// The setting's key in `vitrine.toml`.
    pub key: &'static str,
    /// What is wrong.
    pub problem: Problem,
}

/// What is wrong with a setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Out of range, or not of the right kind: "must be between 1 and 10080".
    Must(String),
    /// A structured value (the installment or rate table) that does not check: the reason.
    Invalid(String),
}

impl SettingsError {
    fn must(name: SettingName, what: impl Into<String>) -> Self {
        Self {
            vars: vec![name.var],
            key: name.key,
            problem: Problem::Must(what.into()),
        }
    }

    fn invalid(names: &[SettingName], why: impl Into<String>) -> Self {
        Self {
            vars: names.iter().map(|n| n.var).collect(),
            key: names[0].key,
            problem: Problem::Invalid(why.into()),
        }
    }

    /// The message with the setting called `name`.
    pub fn message(&self, name: &str) -> String {
        match &self.problem {
            Problem::Must(what) => format!("{name} {what}"),
            Problem::Invalid(why) => format!("{name}: {why}"),
        }
    }

    /// The message with the setting's `vitrine.toml` name, as `vitrine serve` says it.
    pub fn by_key(&self) -> String {
        self.message(self.key)
    }
}

impl Settings {
    /// The settings, each looked up by its variable's name ([`ALL`]) through `get`; unset or
    /// blank: the default. Every value is checked; the first bad one is the error.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let value = |name: SettingName| {
            get(name.var)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let integer = |name: SettingName, default: i64, range: (i64, i64), what: &str| {
            let Some(text) = value(name) else {
                return Ok(default);
            };
            text.parse::<i64>()
                .ok()
                .filter(|n| (range.0..=range.1).contains(n))
                .ok_or_else(|| SettingsError::must(name, what))
        };
        let defaults = Settings::default();

        let pay_within_minutes = integer(
            PAY_WITHIN_MINUTES,
            defaults.pay_within_secs / 60,
            (1, 7 * 24 * 60),
            "must be between 1 and 10080",
        )?;
        let low_stock_threshold = integer(
            LOW_STOCK_THRESHOLD,
            defaults.low_stock_threshold,
            (0, i64::MAX),
            "cannot be negative",
        )?;
        let large_order_centavos = integer(
            LARGE_ORDER_CENTAVOS,
            defaults.large_order_centavos,
            (1, i64::MAX),
            "must be 1 or more",
        )?;
        let alerts_to = match value(ALERTS_TO) {
            None => None,
            Some(to) if vitrine_domain::Email::parse(&to).is_ok() => Some(to),
            Some(_) => {
                return Err(SettingsError::must(
                    ALERTS_TO,
                    "must be one e-mail address, e.g. loja@example.com",
                ));
            }
        };
        let catalog_cache_secs = integer(
            CATALOG_CACHE_SECS,
            defaults.catalog_cache_secs,
            (0, 3600),
            "must be between 0 and 3600",
        )?;
        let unpaid_cap = UnpaidCap {
            orders: integer(
                MAX_UNPAID_ORDERS,
                defaults.unpaid_cap.orders,
                (1, 1000),
                "must be between 1 and 1000",
            )?,
            units: integer(
                MAX_UNPAID_UNITS,
                defaults.unpaid_cap.units,
                (1, 1_000_000),
                "must be between 1 and 1000000",
            )?,
        };
        let realtime_resume_hours = integer(
            REALTIME_RESUME_HOURS,
            defaults.realtime_resume_secs / 3600,
            (1, 7 * 24),
            "must be between 1 and 168",
        )?;
        let realtime_resume_max_events = integer(
            REALTIME_RESUME_MAX_EVENTS,
            defaults.realtime_resume_max_events as i64,
            (1, 10_000),
            "must be between 1 and 10000",
        )?;
        let abandoned_cart_hours = integer(
            ABANDONED_CART_HOURS,
            defaults.abandoned_cart_secs / 3600,
            (0, MAX_ABANDONED_CART_HOURS),
            "must be between 0 (no reminders) and 72",
        )?;

        let mut installments = defaults.installments;
        if let Some(rates) = value(INSTALLMENT_RATES_BP) {
            installments.monthly_rate_bp = rates
                .split(',')
                .map(|r| r.trim().parse::<u32>())
                .collect::<Result<_, _>>()
                .map_err(|_| {
                    SettingsError::must(
                        INSTALLMENT_RATES_BP,
                        "must be monthly rates in basis points separated by commas, e.g. 0,0,0,199",
                    )
                })?;
        }
        if let Some(min) = value(MIN_INSTALLMENT_CENTAVOS) {
            installments.min_installment =
                min.parse::<i64>().map(Money::from_centavos).map_err(|_| {
                    SettingsError::must(MIN_INSTALLMENT_CENTAVOS, "must be a number of centavos")
                })?;
        }
        installments.validate().map_err(|e| {
            SettingsError::invalid(
                &[INSTALLMENT_RATES_BP, MIN_INSTALLMENT_CENTAVOS],
                e.describe(),
            )
        })?;

        let rate_table = match value(SHIPPING_RATES) {
            None => defaults.rate_table,
            Some(json) => serde_json::from_str::<RateTable>(&json).map_err(|e| {
                SettingsError::invalid(&[SHIPPING_RATES], format!("not a rate table: {e}"))
            })?,
        };
        rate_table
            .validate()
            .map_err(|e| SettingsError::invalid(&[SHIPPING_RATES], e))?;

        let send_defaults = defaults.send_limits;
        let sms_country_codes = match value(SMS_COUNTRY_CODES) {
            None => send_defaults.sms_country_codes,
            Some(list) => list
                .split(',')
                .map(|code| {
                    let code = code.trim();
                    let digits = code.strip_prefix('+').unwrap_or(code);
                    let valid = (1..=3).contains(&digits.len())
                        && digits.bytes().all(|b| b.is_ascii_digit())
                        && !digits.starts_with('0');
                    valid.then(|| format!("+{digits}")).ok_or_else(|| {
                        SettingsError::must(
                            SMS_COUNTRY_CODES,
                            "must be country calling codes separated by commas, e.g. +55,+351",
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let send_limits = SendLimits {
            account_mails_per_hour: integer(
                ACCOUNT_MAILS_PER_HOUR,
                send_defaults.account_mails_per_hour,
                (1, 1000),
                "must be between 1 and 1000",
            )?,
            account_mails_per_day: integer(
                ACCOUNT_MAILS_PER_DAY,
                send_defaults.account_mails_per_day,
                (1, 10_000),
                "must be between 1 and 10000",
            )?,
            account_mails_per_client_hour: integer(
                ACCOUNT_MAILS_PER_CLIENT_HOUR,
                send_defaults.account_mails_per_client_hour,
                (1, 100_000),
                "must be between 1 and 100000",
            )?,
            sms_per_number_per_day: integer(
                SMS_PER_NUMBER_PER_DAY,
                send_defaults.sms_per_number_per_day,
                (1, 1000),
                "must be between 1 and 1000",
            )?,
            sms_country_codes,
        };

        Ok(Settings {
            pay_within_secs: pay_within_minutes * 60,
            rate_table,
            low_stock_threshold,
            catalog_cache_secs,
            anonymous_cart_days: defaults.anonymous_cart_days,
            large_order_centavos,
            alerts_to,
            installments,
            send_limits,
            unpaid_cap,
            realtime_resume_secs: realtime_resume_hours * 3600,
            realtime_resume_max_events: realtime_resume_max_events as usize,
            abandoned_cart_secs: abandoned_cart_hours * 3600,
        })
    }
}

/// Whether `phone` may receive texts: its country calling code is one of
/// [`SendLimits::sms_country_codes`] (`+55` by default), and a `+55` number is a mobile
/// ([`Phone::is_brazilian_mobile`]: fixed lines cannot take texts). Numbers of other listed
/// countries are only checked for their code: their numbering plans are not built in. The error
/// says what is accepted.
pub fn check_sms_number(phone: &Phone, limits: &SendLimits) -> Result<(), String> {
    let codes = &limits.sms_country_codes;
    let brazil = codes.iter().any(|c| c == "+55");
    let accepted = if brazil && codes.len() == 1 {
        "text messages go only to Brazilian mobile numbers: +55, the area code (DDD) and 9 digits \
         starting with 9"
            .to_owned()
    } else {
        format!(
            "text messages go only to numbers with the country codes {}{}",
            codes.join(", "),
            if brazil {
                " (for +55, mobile numbers: the area code and 9 digits starting with 9)"
            } else {
                ""
            }
        )
    };
    let Some(code) = codes.iter().find(|c| phone.has_country_code(c)) else {
        return Err(accepted);
    };
    if code == "+55" && !phone.is_brazilian_mobile() {
        return Err(accepted);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn an_order_within_the_unpaid_cap_passes_and_the_next_one_past_it_does_not() {
        let cap = UnpaidCap::default();
        assert_eq!(cap.refuses(0, 0, 100), None);
        assert_eq!(cap.refuses(2, 60, 40), None);
        assert_eq!(
            cap.refuses(3, 3, 1),
            Some(UnpaidOver::Orders { held: 3, max: 3 })
        );
        assert_eq!(
            cap.refuses(1, 60, 41),
            Some(UnpaidOver::Units {
                held: 60,
                wanted: 41,
                max: 100
            })
        );
        // One order larger than the whole cap is refused on its own.
        assert!(matches!(
            cap.refuses(0, 0, 101),
            Some(UnpaidOver::Units { .. })
        ));
        assert!(
            UnpaidOver::Orders { held: 3, max: 3 }
                .to_string()
                .contains("3 orders awaiting payment")
        );
    }

    fn read(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        Settings::from_lookup(|name| map.get(name).map(|v| (*v).to_owned()))
    }

    #[test]
    fn nothing_set_is_the_defaults() {
        let s = read(&[]).unwrap();
        let d = Settings::default();
        assert_eq!(s.pay_within_secs, d.pay_within_secs);
        assert_eq!(s.low_stock_threshold, d.low_stock_threshold);
        assert_eq!(s.large_order_centavos, d.large_order_centavos);
        assert_eq!(s.alerts_to, None);
        assert_eq!(s.catalog_cache_secs, d.catalog_cache_secs);
        assert_eq!(s.installments, d.installments);
        assert_eq!(s.rate_table, d.rate_table);
        assert_eq!(s.send_limits, d.send_limits);
        assert_eq!(d.send_limits.sms_country_codes, ["+55"]);
        assert_eq!(
            s.unpaid_cap,
            UnpaidCap {
                orders: 3,
                units: 100
            }
        );
        assert_eq!(s.realtime_resume_secs, 24 * 3600);
        assert_eq!(s.realtime_resume_max_events, 500);
        assert_eq!(s.abandoned_cart_secs, 24 * 3600);
        // Blank is unset (a template passes "" for a parameter left empty).
        let blank = read(&[(ALERTS_TO.var, " "), (PAY_WITHIN_MINUTES.var, "")]).unwrap();
        assert_eq!(blank.alerts_to, None);
        assert_eq!(blank.pay_within_secs, d.pay_within_secs);
    }

    #[test]
    fn every_setting_is_read_from_its_variable() {
        let table = r#"{"free_above_centavos": 30000, "methods": [{"id": "motoboy",
            "name": "Motoboy", "zones": [{"cep_from": "01000000", "cep_to": "05999999",
            "base_centavos": 1200, "per_kg_centavos": 0, "days": 0}]}]}"#;
        let s = read(&[
            (PAY_WITHIN_MINUTES.var, "45"),
            (LOW_STOCK_THRESHOLD.var, "0"),
            (LARGE_ORDER_CENTAVOS.var, "50000"),
            (ALERTS_TO.var, " estoque@loja.example "),
            (CATALOG_CACHE_SECS.var, "0"),
            (INSTALLMENT_RATES_BP.var, "0, 0, 149"),
            (MIN_INSTALLMENT_CENTAVOS.var, "1000"),
            (SHIPPING_RATES.var, table),
            (ACCOUNT_MAILS_PER_HOUR.var, "5"),
            (ACCOUNT_MAILS_PER_DAY.var, "20"),
            (ACCOUNT_MAILS_PER_CLIENT_HOUR.var, "100"),
            (SMS_PER_NUMBER_PER_DAY.var, "4"),
            (SMS_COUNTRY_CODES.var, "+55, 351"),
            (MAX_UNPAID_ORDERS.var, "5"),
            (MAX_UNPAID_UNITS.var, "500"),
            (REALTIME_RESUME_HOURS.var, "6"),
            (REALTIME_RESUME_MAX_EVENTS.var, "50"),
            (ABANDONED_CART_HOURS.var, "3"),
        ])
        .unwrap();
        assert_eq!(s.pay_within_secs, 45 * 60);
        assert_eq!(s.low_stock_threshold, 0);
        assert_eq!(s.large_order_centavos, 50_000);
        assert_eq!(s.alerts_to.as_deref(), Some("estoque@loja.example"));
        assert_eq!(s.catalog_cache_secs, 0);
        assert_eq!(s.installments.monthly_rate_bp, [0, 0, 149]);
        assert_eq!(s.installments.min_installment, Money::from_centavos(1000));
        assert_eq!(s.rate_table.methods[0].id, "motoboy");
        assert_eq!(s.rate_table.free_above_centavos, Some(30_000));
        assert_eq!(
            s.send_limits,
            SendLimits {
                account_mails_per_hour: 5,
                account_mails_per_day: 20,
                account_mails_per_client_hour: 100,
                sms_per_number_per_day: 4,
                sms_country_codes: vec!["+55".into(), "+351".into()],
            }
        );
        assert_eq!(
            s.unpaid_cap,
            UnpaidCap {
                orders: 5,
                units: 500
            }
        );
        assert_eq!(s.realtime_resume_secs, 6 * 3600);
        assert_eq!(s.realtime_resume_max_events, 50);
        assert_eq!(s.abandoned_cart_secs, 3 * 3600);
        let off = read(&[(ABANDONED_CART_HOURS.var, "0")]).unwrap();
        assert_eq!(off.abandoned_cart_secs, 0, "0 turns the reminders off");
    }

    #[test]
    fn a_bad_value_is_refused_naming_its_variable_and_its_key() {
        let cases: [(&str, &str, &str); 21] = [
            (PAY_WITHIN_MINUTES.var, "0", "between 1 and 10080"),
            (PAY_WITHIN_MINUTES.var, "trinta", "between 1 and 10080"),
            (LOW_STOCK_THRESHOLD.var, "-1", "cannot be negative"),
            (LARGE_ORDER_CENTAVOS.var, "0", "1 or more"),
            (ALERTS_TO.var, "estoque", "one e-mail address"),
            (CATALOG_CACHE_SECS.var, "3601", "between 0 and 3600"),
            (INSTALLMENT_RATES_BP.var, "0,x", "basis points"),
            (INSTALLMENT_RATES_BP.var, "3000", "20 %"),
            (SHIPPING_RATES.var, "{\"methods\": []}", "has no methods"),
            (ACCOUNT_MAILS_PER_HOUR.var, "0", "between 1 and 1000"),
            (ACCOUNT_MAILS_PER_DAY.var, "-3", "between 1 and 10000"),
            (
                ACCOUNT_MAILS_PER_CLIENT_HOUR.var,
                "x",
                "between 1 and 100000",
            ),
            (SMS_PER_NUMBER_PER_DAY.var, "1001", "between 1 and 1000"),
            (SMS_COUNTRY_CODES.var, "BR", "country calling codes"),
            (MAX_UNPAID_ORDERS.var, "0", "between 1 and 1000"),
            (MAX_UNPAID_UNITS.var, "0", "between 1 and 1000000"),
            (MAX_UNPAID_UNITS.var, "muitos", "between 1 and 1000000"),
            (REALTIME_RESUME_HOURS.var, "169", "between 1 and 168"),
            (REALTIME_RESUME_MAX_EVENTS.var, "0", "between 1 and 10000"),
            (
                ABANDONED_CART_HOURS.var,
                "73",
                "between 0 (no reminders) and 72",
            ),
            (
                ABANDONED_CART_HOURS.var,
                "-1",
                "between 0 (no reminders) and 72",
            ),
        ];
        for (var, value, says) in cases {
            let err = read(&[(var, value)]).unwrap_err();
            let message = err.to_string();
            assert!(
                message.starts_with(var) && message.contains(says),
                "{var}={value}: {message}"
            );
            let key = ALL.iter().find(|n| n.var == var).unwrap().key;
            assert!(err.by_key().starts_with(key), "{}", err.by_key());
        }
        assert_eq!(
            read(&[(PAY_WITHIN_MINUTES.var, "0")]).unwrap_err().by_key(),
            "pay_within_minutes must be between 1 and 10080"
        );
    }
}
