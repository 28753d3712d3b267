//! Shared fixtures: a throwaway A1 certificate made at test time, a store, buyers, items, and the
//! external tools (`xmllint`, `xmlsec1`) the acceptance tests check documents with.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the fixtures"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::EncodePrivateKey;
use rsa::sha2::Sha256;
use time::OffsetDateTime;
use time::macros::datetime;
use vitrine_nfe::{
    Address, CardBrand, Cnf, Cnpj, Cpf, Emitter, Environment, FreightMode, IbsCbs, Item, ItemTaxes,
    NfeInput, Origin, Payment, Rate, Recipient, SigningCertificate, TaxId, TaxRegime,
    TechnicalResponsible, Uf,
};
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::der::Encode;
use x509_cert::der::asn1::{Any, PrintableStringRef, UtcTime};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::{GeneralName, OtherName};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{ObjectIdentifier, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};

/// The shared samples folder (`../shared/nfe` from the workspace), when it exists.
pub fn shared_nfe_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/nfe");
    dir.is_dir()
        .then(|| dir.canonicalize().expect("canonical path"))
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// `target/nfe-samples/` under `CARGO_TARGET_DIR` (relative to the workspace root when
/// relative) or the workspace's `target/`.
pub fn samples_out_dir() -> PathBuf {
    target_out_dir("nfe-samples")
}

/// `target/{name}/` (created), with `target` as for [`samples_out_dir`].
pub fn target_out_dir(name: &str) -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    };
    let out = target.join(name);
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("create target/{name}: {e}"));
    out
}

/// Whether `tool` runs. Missing under CI (`CI=true`) fails the test; elsewhere the caller skips
/// with the printed reason.
pub fn require_tool(tool: &str, package: &str) -> bool {
    require_tool_with(tool, "--version", package)
}

/// [`require_tool`] for a tool whose version flag is not `--version` (poppler's `-v`).
pub fn require_tool_with(tool: &str, version_flag: &str, package: &str) -> bool {
    let ok = Command::new(tool)
        .arg(version_flag)
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{tool} is required under CI (Debian package {package}; see scripts/test.sh)");
    }
    eprintln!("SKIPPED: {tool} not installed (apt-get install {package}); not under CI");
    false
}

/// Runs `xmllint --noout --schema <schema> <file>`; `Ok` = valid, `Err(stderr)` otherwise.
pub fn xmllint(schema: &Path, file: &Path) -> Result<(), String> {
    let out = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(schema)
        .arg(file)
        .output()
        .expect("run xmllint");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Runs `xmlsec1 --verify --insecure --id-attr:Id infNFe <file>` (`--insecure`: the certificate
/// chain is not checked, the digest and the RSA value are).
pub fn xmlsec1_verify(file: &Path) -> Result<String, String> {
    let out = Command::new("xmlsec1")
        .args(["--verify", "--insecure", "--id-attr:Id", "infNFe"])
        .arg(file)
        .output()
        .expect("run xmlsec1");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

/// The nfe_v4.00.xsd to validate with: the shared copy when present (as the notes say), else
/// the crate's embedded copy.
pub fn nfe_schema() -> PathBuf {
    match shared_nfe_dir() {
        Some(dir) => dir.join("schemas/nfe_v4.00.xsd"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/nfe_v4.00.xsd"),
    }
}

pub const PFX_PASSWORD: &str = "senha-de-teste";
pub const STORE_CNPJ: &str = "12ABC34501DE35";
pub const OTHER_STORE_CNPJ: &str = "06117473000150";

/// A throwaway e-CNPJ-like certificate: RSA 2048, self-signed, valid 2026-01-01..2027-01-01,
/// with the ICP-Brasil CNPJ otherName (2.16.76.1.3.3) for `cnpj`.
pub struct TestCertificate {
    pub key: RsaPrivateKey,
    pub certificate_der: Vec<u8>,
}

pub fn make_certificate(cnpj: Option<&str>, seed: u64) -> TestCertificate {
    let mut rng = StdRng::seed_from_u64(seed);
    let key = RsaPrivateKey::new(&mut rng, 2048).expect("RSA key");
    let signer = SigningKey::<Sha256>::new(key.clone());
    let subject = Name::from_str(&format!(
        "CN=LOJA TESTE LTDA:{},OU=RFB e-CNPJ A1,O=ICP-Brasil,C=BR",
        cnpj.unwrap_or("SEM CNPJ")
    ))
    .expect("subject");
    let spki = SubjectPublicKeyInfoOwned::from_key(key.to_public_key()).expect("spki");
    let at = |t: OffsetDateTime| {
        Time::UtcTime(
            UtcTime::from_unix_duration(Duration::from_secs(t.unix_timestamp() as u64))
                .expect("time"),
        )
    };
    let validity = Validity {
        not_before: at(datetime!(2026-01-01 00:00 UTC)),
        not_after: at(datetime!(2027-01-01 00:00 UTC)),
    };
    let mut builder = CertificateBuilder::new(
        Profile::Leaf {
            issuer: subject.clone(),
            enable_key_agreement: false,
            enable_key_encipherment: true,
        },
        SerialNumber::from(seed as u32 + 1),
        validity,
        subject,
        spki,
        &signer,
    )
    .expect("certificate builder");
    if let Some(cnpj) = cnpj {
        let other = OtherName {
            type_id: ObjectIdentifier::new_unwrap("2.16.76.1.3.3"),
            value: Any::from(PrintableStringRef::new(cnpj).expect("printable")),
        };
        builder
            .add_extension(&SubjectAltName(vec![GeneralName::OtherName(other)]))
            .expect("subjectAltName");
    }
    let certificate = builder
        .build::<rsa::pkcs1v15::Signature>()
        .expect("self-signed certificate");
    TestCertificate {
        key,
        certificate_der: certificate.to_der().expect("DER"),
    }
}

impl TestCertificate {
    /// A PKCS#12 file with this key and certificate (AES-256/HMAC-SHA256 by default, or the
    /// legacy 3DES/HMAC-SHA1 that many A1 files still use).
    pub fn pkcs12(&self, legacy: bool) -> Vec<u8> {
        let key_der = self.key.to_pkcs8_der().expect("PKCS#8").as_bytes().to_vec();
        let cert = p12_keystore::Certificate::from_der(&self.certificate_der).expect("cert");
        let chain = p12_keystore::PrivateKeyChain::new(key_der, [1u8, 2, 3, 4], [cert]);
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry("nfe", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
        let writer = store.writer(PFX_PASSWORD);
        let writer = if legacy {
            writer
                .encryption_algorithm(
                    p12_keystore::EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc,
                )
                .mac_algorithm(p12_keystore::MacAlgorithm::HmacSha1)
        } else {
            writer
        };
        writer.write().expect("PKCS#12")
    }
}

/// The store's signing certificate (for [`STORE_CNPJ`]), loaded from a PKCS#12 made at test time.
pub fn store_certificate() -> &'static SigningCertificate {
    static CERT: OnceLock<SigningCertificate> = OnceLock::new();
    CERT.get_or_init(|| {
        let made = make_certificate(Some(STORE_CNPJ), 1);
        SigningCertificate::from_pkcs12(&made.pkcs12(false), PFX_PASSWORD).expect("open PKCS#12")
    })
}

/// A certificate for [`OTHER_STORE_CNPJ`].
pub fn other_store_certificate() -> &'static SigningCertificate {
    static CERT: OnceLock<SigningCertificate> = OnceLock::new();
    CERT.get_or_init(|| {
        let made = make_certificate(Some(OTHER_STORE_CNPJ), 2);
        SigningCertificate::from_pkcs12(&made.pkcs12(true), PFX_PASSWORD).expect("open PKCS#12")
    })
}

pub fn cnpj(s: &str) -> Cnpj {
    Cnpj::parse(s).expect("valid CNPJ")
}

pub fn sao_paulo_address() -> Address {
    Address {
        street: "Avenida Paulista".into(),
        number: "1578".into(),
        complement: Some("Conjunto 42 – 4º andar".into()),
        district: "Bela Vista".into(),
        municipality_code: 3550308,
        municipality_name: "São Paulo".into(),
        uf: Uf::SP,
        cep: "01310-200".into(),
        phone: Some("(11) 3003-1234".into()),
    }
}

pub fn campinas_address() -> Address {
    Address {
        street: "Rua Barão de Jaguara".into(),
        number: "900".into(),
        complement: None,
        district: "Centro".into(),
        municipality_code: 3509502,
        municipality_name: "Campinas".into(),
        uf: Uf::SP,
        cep: "13015-002".into(),
        phone: None,
    }
}

pub fn curitiba_address() -> Address {
    Address {
        street: "Rua XV de Novembro".into(),
        number: "S/N".into(),
        complement: Some("".into()),
        district: "Centro".into(),
        municipality_code: 4106902,
        municipality_name: "Curitiba".into(),
        uf: Uf::PR,
        cep: "80020-310".into(),
        phone: Some("41999887766".into()),
    }
}

pub fn emitter(regime: TaxRegime) -> Emitter {
    Emitter {
        cnpj: cnpj(STORE_CNPJ),
        ie: "110.042.490.114".into(),
        regime,
        name: "Loja Teste Comércio Eletrônico Ltda".into(),
        trade_name: Some("Vitrine & Cia".into()),
        address: sao_paulo_address(),
    }
}

pub fn cpf_buyer(address: Address) -> Recipient {
    Recipient {
        tax_id: TaxId::Cpf(Cpf::parse("529.982.247-25").expect("CPF")),
        name: "  Maria  “Mariazinha” da Conceição 😀 ".into(),
        address,
        email: Some("maria@example.com".into()),
    }
}

pub fn cnpj_buyer(address: Address) -> Recipient {
    Recipient {
        tax_id: TaxId::Cnpj(cnpj("11.222.333/0001-81")),
        name: "Padaria Pão & Mel Ltda".into(),
        address,
        email: None,
    }
}

pub fn simples_taxes() -> ItemTaxes {
    ItemTaxes::SimplesNacional
}

pub fn normal_taxes(with_ibs_cbs: bool) -> ItemTaxes {
    ItemTaxes::Normal {
        icms_rate: Rate::from_basis_points(1800),
        pis_rate: Rate::from_basis_points(165),
        cofins_rate: Rate::from_basis_points(760),
        ibs_cbs: with_ibs_cbs.then(|| IbsCbs {
            cst: "000".into(),
            class_code: "000001".into(),
            ibs_state_rate: Rate::from_basis_points(10),
            ibs_municipal_rate: Rate::ZERO,
            cbs_rate: Rate::from_basis_points(90),
        }),
    }
}

/// `count` items with varied prices, quantities, texts and GTINs; freight and discount spread
/// with `split_proportionally`.
pub fn items(count: usize, taxes: ItemTaxes, cfop: u16, freight: i64, discount: i64) -> Vec<Item> {
    let descriptions = [
        "Caneca de cerâmica “Vitrine” 300 ml",
        "Camiseta algodão – tamanho M",
        "Livro: Programação em Rust <2ª edição> & exercícios",
        "Café especial torrado 250g\tmoído",
        "Fone de ouvido sem fio ☕ edição limitada",
    ];
    let gtins = [Some("7891000315507"), None, Some("96385074"), None, None];
    let mut items: Vec<Item> = (0..count)
        .map(|i| Item {
            code: format!("SKU-{:04}", i + 1),
            gtin: gtins[i % gtins.len()].map(|g| vitrine_nfe::Gtin::parse(g).expect("GTIN")),
            description: descriptions[i % descriptions.len()].into(),
            ncm: "8471.49.00".into(),
            cfop,
            unit: "UN".into(),
            quantity: 1 + (i as u32 % 3),
            unit_price: 1_990 + 137 * i as i64,
            origin: Origin::NATIONAL,
            freight: 0,
            discount: 0,
            taxes: taxes.clone(),
        })
        .collect();
    let weights: Vec<i64> = items
        .iter()
        .map(|i| i64::from(i.quantity) * i.unit_price)
        .collect();
    let freights = vitrine_nfe::money::split_proportionally(freight, &weights);
    let discounts = vitrine_nfe::money::split_proportionally(discount, &weights);
    for ((item, f), d) in items.iter_mut().zip(freights).zip(discounts) {
        item.freight = f;
        item.discount = d;
    }
    items
}

pub fn pix() -> Payment {
    Payment::Pix {
        psp_cnpj: Some(cnpj("11222333000181")),
        end_to_end_id: Some("E1122233320260820143000000000001".into()),
    }
}

pub fn card_3x() -> Payment {
    Payment::CreditCard {
        brand: CardBrand::Mastercard,
        authorization: "A1B2C3".into(),
        acquirer_cnpj: Some(cnpj("11222333000181")),
        installments: 3,
    }
}

pub fn technical_responsible() -> TechnicalResponsible {
    TechnicalResponsible {
        cnpj: cnpj("11222333000181"),
        contact: "Equipe Vitrine".into(),
        email: "nfe@vitrine.example".into(),
        phone: "11 3003-1234".into(),
    }
}

/// A complete input; adjust fields per case.
pub fn input(
    environment: Environment,
    regime: TaxRegime,
    recipient: Recipient,
    items: Vec<Item>,
    payment: Payment,
) -> NfeInput {
    let freight_total = items.iter().map(|i| i.freight).sum();
    let discount_total = items.iter().map(|i| i.discount).sum();
    NfeInput {
        environment,
        series: 1,
        number: 1234,
        cnf: Cnf::parse("61275652").expect("cNF"),
        issued_at: datetime!(2026-08-20 14:30:00.250 -03:00),
        nature_of_operation: "VENDA DE MERCADORIA".into(),
        app_version: "vitrine 0.1.0".into(),
        contingency: None,
        emitter: emitter(regime),
        recipient,
        items,
        freight_total,
        discount_total,
        freight_mode: FreightMode::BySeller,
        payment,
        technical_responsible: technical_responsible(),
        additional_info: vec!["Pedido 2026-000123.".into()],
    }
}
