//! A catalog's parts as tests write them: a variant and an active product draft with plausible
//! dimensions and fiscal data, so that what a test does not care about checks.

use std::collections::BTreeMap;

use vitrine_domain::catalog::{Dimensions, Fiscal, ProductDraft, Sku, Variant};
use vitrine_domain::money::Money;

/// A variant `sku` (size M) at `centavos`, 300 g in a 20 × 15 × 5 cm box, NCM 6109.10.00.
pub fn variant(sku: &str, centavos: i64) -> Variant {
    Variant {
        sku: Sku::parse(sku).expect("a SKU"),
        options: BTreeMap::from([("tamanho".to_owned(), "M".to_owned())]),
        price: Money::from_centavos(centavos),
        compare_at: None,
        dimensions: Dimensions {
            weight_g: 300,
            length_cm: 20,
            width_cm: 15,
            height_cm: 5,
        },
        fiscal: Fiscal {
            ncm: "61091000".into(),
            cfop: "5102".into(),
            origin: 0,
        },
    }
}

/// An active product `name` with `variants`, in no category, without images.
pub fn draft(name: String, variants: Vec<Variant>) -> ProductDraft {
    ProductDraft {
        slug: None,
        name,
        description: "Feito para os testes.".into(),
        category_id: None,
        images: vec![],
        variants,
        active: true,
    }
}
