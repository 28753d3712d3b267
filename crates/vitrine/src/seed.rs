//! The demo catalog: a small clothing-and-home shop with categories, products with size and
//! colour variants, stock, and a welcome coupon. Seeding is idempotent: what exists is kept.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};

use vitrine_app::media::ImageType;
use vitrine_app::{App, AppError};
use vitrine_domain::Money;
use vitrine_domain::catalog::{
    Dimensions, Fiscal, ProductDraft, Sku, Slug, Variant, find_category,
};
use vitrine_domain::coupon::{Coupon, Discount};
use vitrine_pictures::Picture;

/// What seeding did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seeded {
    pub categories: usize,
    pub products: usize,
    pub skipped: usize,
}

struct DemoProduct {
    name: &'static str,
    category: &'static str,
    description: &'static str,
    sku: &'static str,
    price: i64,
    compare_at: Option<i64>,
    /// (option name, values): one variant per value.
    options: (&'static str, &'static [&'static str]),
    weight_g: u32,
    ncm: &'static str,
    stock: i64,
    /// Its picture, drawn when it is seeded.
    picture: Picture,
}

const CATEGORIES: &[(&str, &str, Option<&str>)] = &[
    ("roupas", "Roupas", None),
    ("camisetas", "Camisetas", Some("roupas")),
    ("calcas", "Calças", Some("roupas")),
    ("acessorios", "Acessórios", None),
    ("casa", "Casa", None),
];

const PRODUCTS: &[DemoProduct] = &[
    DemoProduct {
        name: "Camiseta Básica Algodão",
        category: "camisetas",
        description: "Camiseta de algodão penteado, gola redonda, caimento reto.",
        sku: "CAM-BAS",
        price: 4_990,
        compare_at: Some(6_990),
        options: ("tamanho", &["P", "M", "G", "GG"]),
        weight_g: 180,
        ncm: "61091000",
        stock: 25,
        picture: Picture::Tee,
    },
    DemoProduct {
        name: "Camiseta Estampa Ipê",
        category: "camisetas",
        description: "Estampa de ipê-amarelo em serigrafia, algodão orgânico.",
        sku: "CAM-IPE",
        price: 7_990,
        compare_at: None,
        options: ("tamanho", &["P", "M", "G"]),
        weight_g: 190,
        ncm: "61091000",
        stock: 12,
        picture: Picture::TeeIpe,
    },
    DemoProduct {
        name: "Camiseta Listrada Marinho",
        category: "camisetas",
        description: "Listras náuticas em azul-marinho e branco.",
        sku: "CAM-LIS",
        price: 6_990,
        compare_at: Some(8_990),
        options: ("tamanho", &["P", "M", "G", "GG"]),
        weight_g: 200,
        ncm: "61091000",
        stock: 8,
        picture: Picture::TeeStriped,
    },
    DemoProduct {
        name: "Calça Jeans Reta",
        category: "calcas",
        description: "Jeans 100% algodão, lavagem média, modelagem reta.",
        sku: "CAL-JEA",
        price: 18_990,
        compare_at: None,
        options: ("tamanho", &["38", "40", "42", "44"]),
        weight_g: 650,
        ncm: "62034200",
        stock: 10,
        picture: Picture::Jeans,
    },
    DemoProduct {
        name: "Calça de Linho Natural",
        category: "calcas",
        description: "Linho leve para dias quentes, cintura com elástico.",
        sku: "CAL-LIN",
        price: 22_990,
        compare_at: Some(25_990),
        options: ("tamanho", &["P", "M", "G"]),
        weight_g: 400,
        ncm: "62034990",
        stock: 6,
        picture: Picture::LinenTrousers,
    },
    DemoProduct {
        name: "Boné de Sarja",
        category: "acessorios",
        description: "Boné aba curva, regulagem em metal.",
        sku: "BON-SAR",
        price: 5_990,
        compare_at: None,
        options: ("cor", &["Preto", "Caqui", "Verde"]),
        weight_g: 120,
        ncm: "65050090",
        stock: 15,
        picture: Picture::Cap,
    },
    DemoProduct {
        name: "Bolsa Tote de Lona",
        category: "acessorios",
        description: "Lona crua resistente, alças de algodão, bolso interno.",
        sku: "BOL-TOT",
        price: 8_990,
        compare_at: None,
        options: ("cor", &["Cru", "Preto"]),
        weight_g: 300,
        ncm: "42022200",
        stock: 20,
        picture: Picture::Tote,
    },
    DemoProduct {
        name: "Meia Cano Alto (par)",
        category: "acessorios",
        description: "Algodão com elastano, punho reforçado.",
        sku: "MEI-CAN",
        price: 2_490,
        compare_at: None,
        options: ("tamanho", &["34-38", "39-43"]),
        weight_g: 60,
        ncm: "61159500",
        stock: 40,
        picture: Picture::Socks,
    },
    DemoProduct {
        name: "Caneca de Cerâmica Artesanal",
        category: "casa",
        description: "Feita à mão em Cunha (SP), 350 ml, vai ao micro-ondas.",
        sku: "CAN-CER",
        price: 6_490,
        compare_at: None,
        options: ("cor", &["Azul", "Terracota", "Branca"]),
        weight_g: 420,
        ncm: "69120000",
        stock: 9,
        picture: Picture::Mug,
    },
    DemoProduct {
        name: "Almofada de Linho",
        category: "casa",
        description: "Capa de linho com enchimento de fibra, 45 × 45 cm.",
        sku: "ALM-LIN",
        price: 11_990,
        compare_at: Some(13_990),
        options: ("cor", &["Areia", "Oliva"]),
        weight_g: 550,
        ncm: "94049000",
        stock: 7,
        picture: Picture::Cushion,
    },
    DemoProduct {
        name: "Vela Aromática Café",
        category: "casa",
        description: "Cera de soja, aroma de café torrado, 40 horas de queima.",
        sku: "VEL-CAF",
        price: 4_490,
        compare_at: None,
        options: ("tamanho", &["Único"]),
        weight_g: 250,
        ncm: "34060000",
        stock: 30,
        picture: Picture::Candle,
    },
    DemoProduct {
        name: "Jogo Americano de Algodão (4 peças)",
        category: "casa",
        description: "Tecido em tear manual, lavável na máquina.",
        sku: "JOG-AME",
        price: 9_990,
        compare_at: None,
        options: ("cor", &["Cru", "Mostarda"]),
        weight_g: 380,
        ncm: "63026000",
        stock: 4,
        picture: Picture::Placemats,
    },
];

/// Whether the table holds no product and no category yet.
/// The PNG of `what`, drawn once per process (tests seed many stores).
fn picture(what: Picture) -> axum::body::Bytes {
    static DRAWN: OnceLock<Mutex<HashMap<Picture, axum::body::Bytes>>> = OnceLock::new();
    let mut drawn = DRAWN
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    drawn
        .entry(what)
        .or_insert_with(|| axum::body::Bytes::from(vitrine_pictures::draw(what)))
        .clone()
}

pub async fn is_empty(app: &App) -> anyhow::Result<bool> {
    Ok(app.categories().await?.is_empty() && !app.has_products().await?)
}

/// Seed the demo catalog, each new product with its picture.
pub async fn seed(app: &App) -> anyhow::Result<Seeded> {
    seed_with(app, true).await
}

/// [`seed`], with the products' pictures or without them (`pictures`: tests that count the
/// images they upload start from a catalog without any).
pub async fn seed_with(app: &App, pictures: bool) -> anyhow::Result<Seeded> {
    let mut done = Seeded::default();
    let existing = app.categories().await?;
    let mut category_ids: HashMap<&str, String> = HashMap::new();
    for (slug, name, parent) in CATEGORIES {
        if let Some(c) = find_category(&existing, slug) {
            category_ids.insert(slug, c.id.clone());
            continue;
        }
        let parent_id = parent.and_then(|p| category_ids.get(p).cloned());
        let c = app
            .create_category(
                name,
                Some(Slug::parse(slug).map_err(anyhow::Error::msg)?),
                parent_id,
                0,
            )
            .await?;
        category_ids.insert(slug, c.id);
        done.categories += 1;
    }
    for p in PRODUCTS {
        let (option, values) = p.options;
        let mut stock = HashMap::new();
        let variants = values
            .iter()
            .map(|value| {
                let sku = Sku::parse(&format!(
                    "{}-{}",
                    p.sku,
                    Slug::from_name(value)
                        .map(|s| s.to_string())
                        .unwrap_or_default()
                ))
                .map_err(anyhow::Error::msg)?;
                stock.insert(sku.clone(), p.stock);
                Ok(Variant {
                    sku,
                    options: BTreeMap::from([(option.to_owned(), (*value).to_owned())]),
                    price: Money::from_centavos(p.price),
                    compare_at: p.compare_at.map(Money::from_centavos),
                    dimensions: Dimensions {
                        weight_g: p.weight_g,
                        length_cm: 30,
                        width_cm: 20,
                        height_cm: 5,
                    },
                    fiscal: Fiscal {
                        ncm: p.ncm.into(),
                        cfop: "5102".into(),
                        origin: 0,
                    },
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let draft = ProductDraft {
            slug: None,
            name: p.name.into(),
            description: p.description.into(),
            category_id: category_ids.get(p.category).cloned(),
            images: vec![],
            variants,
            active: true,
        };
        match app.create_product(draft, &stock).await {
            Ok(product) if pictures => {
                app.add_product_image(
                    &product.id,
                    ImageType::Png,
                    picture(p.picture),
                    product.version,
                )
                .await?;
                done.products += 1;
            }
            Ok(_) => done.products += 1,
            Err(AppError::Conflict(_)) => done.skipped += 1,
            Err(e) => return Err(e.into()),
        }
    }
    let welcome = Coupon {
        code: "BEMVINDO10".into(),
        discount: Discount::Percent {
            basis_points: 1_000,
        },
        min_subtotal: Money::from_centavos(10_000),
        starts_at: None,
        ends_at: None,
        usage_limit: Some(1_000),
        per_customer_limit: None,
        used: 0,
        active: true,
        version: 0,
    };
    match app.create_coupon(welcome).await {
        Ok(_) | Err(AppError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(done)
}
