//! Shipping quotes from a rate table: methods (PAC, SEDEX, …) priced per CEP range and weight.
//!
//! The table comes from configuration; [`RateTable::default`] is a sensible table for a shop in
//! São Paulo. Price = base + per-kg × each started kilogram after the first.

use serde::{Deserialize, Serialize};

use crate::br::Cep;
use crate::money::Money;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneRate {
    /// First CEP of the range, 8 digits.
    pub cep_from: String,
    /// Last CEP of the range (inclusive), 8 digits.
    pub cep_to: String,
    pub base_centavos: i64,
    pub per_kg_centavos: i64,
    /// Business days to deliver.
    pub days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingMethod {
    pub id: String,
    pub name: String,
    pub zones: Vec<ZoneRate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateTable {
    pub methods: Vec<ShippingMethod>,
    /// Orders whose subtotal reaches this get the cheapest method free.
    #[serde(default)]
    pub free_above_centavos: Option<i64>,
}

/// One priced option for a destination and weight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub method_id: String,
    pub name: String,
    pub price: Money,
    pub days: u32,
}

/// The heaviest parcel the table prices (30 kg, the Correios limit for PAC/SEDEX).
pub const MAX_WEIGHT_G: u64 = 30_000;

impl RateTable {
    /// Check that every CEP range is well formed (at start-up, so a bad table fails fast).
    pub fn validate(&self) -> Result<(), String> {
        if self.methods.is_empty() {
            return Err("the shipping rate table has no methods".into());
        }
        for m in &self.methods {
            for z in &m.zones {
                let (Some(a), Some(b)) = (cep_number(&z.cep_from), cep_number(&z.cep_to)) else {
                    return Err(format!("shipping method {}: CEP ranges are 8 digits", m.id));
                };
                if a > b || z.base_centavos < 0 || z.per_kg_centavos < 0 {
                    return Err(format!(
                        "shipping method {}: bad zone {}..{}",
                        m.id, z.cep_from, z.cep_to
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every method that serves `cep`, cheapest first. Empty when the weight is over the limit
    /// or no method covers the CEP.
    pub fn quote(&self, cep: &Cep, weight_g: u64, subtotal: Money) -> Vec<Quote> {
        if weight_g > MAX_WEIGHT_G {
            return Vec::new();
        }
        let Some(dest) = cep_number(cep.as_str()) else {
            return Vec::new();
        };
        let extra_kg = (weight_g.max(1).div_ceil(1000) - 1) as i64;
        let mut quotes: Vec<Quote> = self
            .methods
            .iter()
            .filter_map(|m| {
                let zone = m.zones.iter().find(|z| {
                    matches!((cep_number(&z.cep_from), cep_number(&z.cep_to)), (Some(a), Some(b)) if a <= dest && dest <= b)
                })?;
                Some(Quote {
                    method_id: m.id.clone(),
                    name: m.name.clone(),
                    price: Money::from_centavos(zone.base_centavos + zone.per_kg_centavos * extra_kg),
                    days: zone.days,
                })
            })
            .collect();
        quotes.sort_by_key(|q| (q.price, q.days));
        if let (Some(limit), Some(cheapest)) = (self.free_above_centavos, quotes.first_mut())
            && subtotal.centavos() >= limit
        {
            cheapest.price = Money::from_centavos(0);
        }
        quotes
    }
}

/// The smallest box carriers take (Correios: 16 × 11 × 2 cm; Melhor Envio quotes the same
/// minimum): a parcel is never quoted smaller.
pub const MIN_BOX_CM: (u32, u32, u32) = (16, 11, 2);

/// The box `units` (each unit's size and how many) travel in, with their weight: the units
/// stacked flat — as long as the longest, as wide as the widest, as high as all of them — and
/// never smaller than [`MIN_BOX_CM`]. A simple, predictable packing: a shop whose goods pack
/// tighter sets smaller sizes on its variants.
pub fn pack(units: &[(crate::catalog::Dimensions, u32)]) -> crate::catalog::Dimensions {
    let mut out = crate::catalog::Dimensions::default();
    for (d, qty) in units {
        out.weight_g = out.weight_g.saturating_add(d.weight_g.saturating_mul(*qty));
        out.length_cm = out.length_cm.max(d.length_cm);
        out.width_cm = out.width_cm.max(d.width_cm);
        out.height_cm = out
            .height_cm
            .saturating_add(d.height_cm.saturating_mul(*qty));
    }
    out.length_cm = out.length_cm.max(MIN_BOX_CM.0);
    out.width_cm = out.width_cm.max(MIN_BOX_CM.1);
    out.height_cm = out.height_cm.max(MIN_BOX_CM.2);
    out
}

fn cep_number(s: &str) -> Option<u32> {
    (s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

impl Default for RateTable {
    fn default() -> Self {
        // Zones by CEP ranges: São Paulo capital and state, the rest of the South-East, the South,
        // and the rest of the country. Prices are illustrative; shops set their own in vitrine.toml.
        let zone = |from: &str, to: &str, base, per_kg, days| ZoneRate {
            cep_from: from.into(),
            cep_to: to.into(),
            base_centavos: base,
            per_kg_centavos: per_kg,
            days,
        };
        RateTable {
            methods: vec![
                ShippingMethod {
                    id: "pac".into(),
                    name: "PAC".into(),
                    zones: vec![
                        zone("01000000", "09999999", 1_590, 300, 3),
                        zone("10000000", "19999999", 1_890, 350, 5),
                        zone("20000000", "39999999", 2_290, 450, 7),
                        zone("80000000", "99999999", 2_490, 500, 8),
                        zone("40000000", "79999999", 3_190, 700, 12),
                    ],
                },
                ShippingMethod {
                    id: "sedex".into(),
                    name: "SEDEX".into(),
                    zones: vec![
                        zone("01000000", "09999999", 2_490, 500, 1),
                        zone("10000000", "19999999", 2_990, 600, 2),
                        zone("20000000", "39999999", 3_990, 800, 3),
                        zone("80000000", "99999999", 4_290, 900, 4),
                        zone("40000000", "79999999", 5_490, 1_200, 6),
                    ],
                },
            ],
            free_above_centavos: None,
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn units_stack_flat_in_a_box_no_smaller_than_the_carriers_take() {
        use crate::catalog::Dimensions;
        let mug = Dimensions {
            weight_g: 350,
            length_cm: 12,
            width_cm: 9,
            height_cm: 10,
        };
        let shirt = Dimensions {
            weight_g: 200,
            length_cm: 30,
            width_cm: 20,
            height_cm: 2,
        };
        let boxed = pack(&[(mug, 2), (shirt, 3)]);
        assert_eq!(
            boxed,
            Dimensions {
                weight_g: 1_300,
                length_cm: 30,
                width_cm: 20,
                height_cm: 26
            }
        );
        let tiny = Dimensions {
            weight_g: 10,
            length_cm: 1,
            width_cm: 1,
            height_cm: 1,
        };
        assert_eq!(
            pack(&[(tiny, 1)]),
            Dimensions {
                weight_g: 10,
                length_cm: 16,
                width_cm: 11,
                height_cm: 2
            }
        );
    }

    use super::*;

    #[test]
    fn the_default_table_is_valid_and_covers_every_cep() {
        let t = RateTable::default();
        t.validate().unwrap();
        for cep in ["01310100", "13010000", "20040002", "69005000", "90010000"] {
            let q = t.quote(&Cep::parse(cep).unwrap(), 500, Money::from_centavos(0));
            assert_eq!(q.len(), 2, "{cep}");
        }
    }

    #[test]
    fn every_started_kilogram_after_the_first_costs_extra() {
        let t = RateTable::default();
        let cep = Cep::parse("01310-100").unwrap();
        let one = t.quote(&cep, 1_000, Money::from_centavos(0))[0]
            .price
            .centavos();
        let two = t.quote(&cep, 1_001, Money::from_centavos(0))[0]
            .price
            .centavos();
        assert_eq!(one, 1_590);
        assert_eq!(two, 1_890);
    }

    #[test]
    fn free_shipping_applies_to_the_cheapest_method_above_the_threshold() {
        let t = RateTable {
            free_above_centavos: Some(20_000),
            ..RateTable::default()
        };
        let cep = Cep::parse("01310100").unwrap();
        assert_eq!(
            t.quote(&cep, 500, Money::from_centavos(20_000))[0]
                .price
                .centavos(),
            0
        );
        assert_ne!(
            t.quote(&cep, 500, Money::from_centavos(19_999))[0]
                .price
                .centavos(),
            0
        );
    }

    #[test]
    fn parcels_over_the_weight_limit_get_no_quote() {
        let cep = Cep::parse("01310100").unwrap();
        assert!(
            RateTable::default()
                .quote(&cep, MAX_WEIGHT_G + 1, Money::from_centavos(0))
                .is_empty()
        );
    }
}
