//! The input: everything a B2C internet sale needs to become an NF-e (model 55), as plain structs.
//!
//! Amounts are `i64` centavos; rates are [`Rate`]s (basis points); identifiers are parsed
//! newtypes ([`Cnpj`], [`Cpf`](crate::Cpf), [`Uf`], [`Gtin`]). Free text (names, addresses, descriptions) is
//! taken as typed by people: the builder sanitizes and truncates it to the schema's `TString`
//! (see [`crate::text`]), and refuses it only when nothing printable is left or a minimum length
//! cannot be met. Fixed choices of this crate (not inputs): `mod` 55, `tpNF` 1 (outgoing),
//! `tpImp` 1, `tpEmis` 1 (normal) or 6/7 (SVC contingency, see [`Contingency`]), `finNFe` 1, `indFinal` 1 (consumer), `indPres` 2 (internet),
//! `indIntermed` 0 (own site), `procEmi` 0, `indIEDest` 9 (non-contributor), `modBC` 3.

use time::OffsetDateTime;

use crate::ids::{Cnpj, Gtin, TaxId, Uf};
use crate::key::Cnf;
use crate::money::Rate;

/// `ide/tpAmb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    /// `1`: documents with fiscal value.
    Production,
    /// `2`: SEFAZ's test environment; `dest/xNome` becomes [`HOMOLOGATION_RECIPIENT_NAME`].
    Homologation,
}

impl Environment {
    /// The `tpAmb` code.
    pub fn code(self) -> u8 {
        match self {
            Environment::Production => 1,
            Environment::Homologation => 2,
        }
    }
}

/// The exact `dest/xNome` SEFAZ requires in homologation (rejection 598 otherwise).
pub const HOMOLOGATION_RECIPIENT_NAME: &str =
    "NF-E EMITIDA EM AMBIENTE DE HOMOLOGACAO - SEM VALOR FISCAL";

/// The statement Simples Nacional emitters print (Resolução CGSN 140/2018, art. 59 \[verify\]);
/// the builder puts it first in `infAdic/infCpl` for CRT 1.
pub const SIMPLES_NACIONAL_STATEMENT: &str = "DOCUMENTO EMITIDO POR ME OU EPP OPTANTE PELO SIMPLES NACIONAL. NÃO GERA DIREITO A CRÉDITO FISCAL DE IPI.";

/// `emit/CRT`: the emitter's tax regime, as registered at SEFAZ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaxRegime {
    /// `1`: Simples Nacional (items use CSOSN 102, PIS/COFINS CST 99 at zero).
    SimplesNacional,
    /// `3`: regime normal (items use ICMS CST 00, PIS/COFINS CST 01).
    Normal,
}

impl TaxRegime {
    /// The `CRT` code.
    pub fn code(self) -> u8 {
        match self {
            TaxRegime::SimplesNacional => 1,
            TaxRegime::Normal => 3,
        }
    }
}

/// An address (`enderEmit` / `enderDest`); the country is always Brazil (`cPais` 1058).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// `xLgr` (2–60 after sanitizing).
    pub street: String,
    /// `nro` (1–60), e.g. `"1500"` or `"S/N"`.
    pub number: String,
    /// `xCpl`, omitted when `None` or empty after sanitizing.
    pub complement: Option<String>,
    /// `xBairro` (2–60).
    pub district: String,
    /// `cMun`: the IBGE municipality code, 7 digits; its first two digits must be the UF's code.
    pub municipality_code: u32,
    /// `xMun` (2–60).
    pub municipality_name: String,
    /// `UF`.
    pub uf: Uf,
    /// `CEP`: 8 digits (a mask `87704-030` is accepted and removed).
    pub cep: String,
    /// `fone`: 6–14 digits once punctuation is removed; omitted when `None`.
    pub phone: Option<String>,
}

/// The store (`emit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emitter {
    /// `CNPJ` (numeric or alphanumeric).
    pub cnpj: Cnpj,
    /// `IE`: the state registration, digits (mask removed) or `ISENTO`.
    pub ie: String,
    /// `CRT`.
    pub regime: TaxRegime,
    /// `xNome`: the legal name (2–60).
    pub name: String,
    /// `xFant`: the trade name, omitted when `None`.
    pub trade_name: Option<String>,
    /// `enderEmit` (its CEP is mandatory).
    pub address: Address,
}

/// The buyer (`dest`), always a non-contributor final consumer (`indIEDest` 9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// `CPF` or `CNPJ`.
    pub tax_id: TaxId,
    /// `xNome` (2–60); replaced by [`HOMOLOGATION_RECIPIENT_NAME`] in homologation.
    pub name: String,
    /// `enderDest`: where the goods go.
    pub address: Address,
    /// `email`: omitted when `None`, or when it does not fit the schema (over 60 characters or
    /// not a plain `local@domain` string) rather than refusing the whole invoice.
    pub email: Option<String>,
}

/// `orig`: the goods' origin (0 national … 8), as the accountant classifies the product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Origin(pub u8);

impl Origin {
    /// `0`: national goods.
    pub const NATIONAL: Origin = Origin(0);
}

/// One line (`det`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// `cProd`: the store's code (SKU), 1–60.
    pub code: String,
    /// `cEAN`/`cEANTrib`: the GTIN, or `None` → `SEM GTIN`.
    pub gtin: Option<Gtin>,
    /// `xProd`: the description, 1–120.
    pub description: String,
    /// `NCM`: 8 digits (a mask `8471.49.00` is accepted and removed).
    pub ncm: String,
    /// `CFOP`: 4 digits; `5xxx` for a buyer in the emitter's UF, `6xxx` for another UF.
    pub cfop: u16,
    /// `uCom`/`uTrib`: the unit (`UN`, `KG`…), 1–6.
    pub unit: String,
    /// `qCom`/`qTrib`: whole units, ≥ 1.
    pub quantity: u32,
    /// `vUnCom`/`vUnTrib`: the unit price in centavos, ≥ 0.
    pub unit_price: i64,
    /// `orig`.
    pub origin: Origin,
    /// `vFrete`: this item's share of the order's freight (centavos, ≥ 0; omitted when 0).
    pub freight: i64,
    /// `vDesc`: this item's share of the order's discount (centavos, 0 ≤ discount ≤ vProd;
    /// omitted when 0). See [`crate::money::split_proportionally`].
    pub discount: i64,
    /// The item's taxes; must match the emitter's regime.
    pub taxes: ItemTaxes,
}

/// The item's taxes, per regime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemTaxes {
    /// CRT 1: `ICMSSN102` (CSOSN 102) and `PISOutr`/`COFINSOutr` CST 99 with zero values.
    SimplesNacional,
    /// CRT 3: `ICMS00` (CST 00, `modBC` 3), `PISAliq`/`COFINSAliq` CST 01, and optionally the
    /// IBS/CBS group.
    Normal {
        /// `pICMS` (e.g. 18 % = 1800 bp).
        icms_rate: Rate,
        /// `pPIS` (e.g. 1.65 % = 165 bp; cumulative regime 0.65 %).
        pis_rate: Rate,
        /// `pCOFINS` (e.g. 7.60 % = 760 bp; cumulative regime 3.00 %).
        cofins_rate: Rate,
        /// `IBSCBS`: emitted when `Some`. Either every item has it or none.
        ibs_cbs: Option<IbsCbs>,
    },
}

/// The tax reform group `IBSCBS` (NT 2025.002) for one item, with full taxation (`gIBSCBS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IbsCbs {
    /// `CST` of IBS/CBS, 3 digits (e.g. `000`, integral taxation).
    pub cst: String,
    /// `cClassTrib`, 6 digits (e.g. `000001`).
    pub class_code: String,
    /// `pIBSUF`: the state part of IBS (2026 test year: 0.10 % = 10 bp).
    pub ibs_state_rate: Rate,
    /// `pIBSMun`: the municipal part of IBS (2026: 0 %).
    pub ibs_municipal_rate: Rate,
    /// `pCBS` (2026: 0.90 % = 90 bp).
    pub cbs_rate: Rate,
}

/// `transp/modFrete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FreightMode {
    /// `0`: contracted by the seller (CIF), usual for e-commerce.
    BySeller,
    /// `1`: contracted by the buyer (FOB).
    ByBuyer,
    /// `2`: by a third party.
    ThirdParty,
    /// `3`: the seller's own vehicles.
    OwnBySeller,
    /// `4`: the buyer's own vehicles.
    OwnByBuyer,
    /// `9`: no transport (pick-up, digital goods).
    NoTransport,
}

impl FreightMode {
    /// The `modFrete` code.
    pub fn code(self) -> u8 {
        match self {
            FreightMode::BySeller => 0,
            FreightMode::ByBuyer => 1,
            FreightMode::ThirdParty => 2,
            FreightMode::OwnBySeller => 3,
            FreightMode::OwnByBuyer => 4,
            FreightMode::NoTransport => 9,
        }
    }
}

/// `card/tBand`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardBrand {
    /// `01`
    Visa,
    /// `02`
    Mastercard,
    /// `03`
    AmericanExpress,
    /// `04`
    Sorocred,
    /// `05`
    DinersClub,
    /// `06`
    Elo,
    /// `07`
    Hipercard,
    /// `08`
    Aura,
    /// `09`
    Cabal,
    /// `99`
    Other,
}

impl CardBrand {
    /// The two-digit `tBand` code.
    pub fn code(self) -> &'static str {
        match self {
            CardBrand::Visa => "01",
            CardBrand::Mastercard => "02",
            CardBrand::AmericanExpress => "03",
            CardBrand::Sorocred => "04",
            CardBrand::DinersClub => "05",
            CardBrand::Elo => "06",
            CardBrand::Hipercard => "07",
            CardBrand::Aura => "08",
            CardBrand::Cabal => "09",
            CardBrand::Other => "99",
        }
    }
}

/// How the order was paid (one `detPag` for the whole `vNF`, integrated payment `tpIntegra` 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payment {
    /// `tPag` 17 (dynamic Pix, charged through a PSP's API).
    Pix {
        /// `card/CNPJ`: the PSP, omitted when `None`.
        psp_cnpj: Option<Cnpj>,
        /// `card/cAut`: the Pix end-to-end id, omitted when `None` (1–128 after sanitizing).
        end_to_end_id: Option<String>,
    },
    /// `tPag` 03 (credit card).
    CreditCard {
        /// `card/tBand`.
        brand: CardBrand,
        /// `card/cAut`: the authorization code (1–128).
        authorization: String,
        /// `card/CNPJ`: the acquirer, omitted when `None`.
        acquirer_cnpj: Option<Cnpj>,
        /// Number of installments (1–99). Not a schema field: from 2 on, the builder adds
        /// `"Pagamento com cartão de crédito em Nx."` to `infAdic/infCpl`.
        installments: u8,
    },
    /// `tPag` 15 (boleto bancário): no card group.
    Boleto,
}

/// `infRespTec`: the software vendor responsible for the emitting system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TechnicalResponsible {
    /// `CNPJ`.
    pub cnpj: Cnpj,
    /// `xContato` (2–60).
    pub contact: String,
    /// `email` (6–60).
    pub email: String,
    /// `fone` (6–14 digits).
    pub phone: String,
}

/// The contingency authoriser (SVC, "SEFAZ Virtual de Contingência") that takes over when a
/// UF's own authoriser is down; it decides `ide/tpEmis` and the key's position 35.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContingencyKind {
    /// SVC-AN (Ambiente Nacional), `tpEmis` 6.
    SvcAn,
    /// SVC-RS (Rio Grande do Sul), `tpEmis` 7.
    SvcRs,
}

impl ContingencyKind {
    /// The `tpEmis` code: 6 for SVC-AN, 7 for SVC-RS.
    pub fn tp_emis(self) -> u8 {
        match self {
            ContingencyKind::SvcAn => 6,
            ContingencyKind::SvcRs => 7,
        }
    }

    /// The SVC that serves emitters of `uf` (shared `nfe/webservices/NOTES.md` §7; the URL
    /// table's `<sigla>` is [`crate::sefaz::endpoints::contingency_authoriser`]) \[verify\].
    pub fn of(uf: Uf) -> ContingencyKind {
        match uf {
            Uf::AM | Uf::BA | Uf::GO | Uf::MA | Uf::MS | Uf::MT | Uf::PE | Uf::PR => {
                ContingencyKind::SvcRs
            }
            _ => ContingencyKind::SvcAn,
        }
    }

    /// The service's name as SEFAZ writes it: `SVC-AN` or `SVC-RS`.
    pub fn name(self) -> &'static str {
        match self {
            ContingencyKind::SvcAn => "SVC-AN",
            ContingencyKind::SvcRs => "SVC-RS",
        }
    }
}

/// Emission in SVC contingency (`tpEmis` 6 or 7 with `ide/dhCont` and `ide/xJust`): the
/// document is built for, and must be sent to, the UF's contingency authoriser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contingency {
    /// Which SVC; normally [`ContingencyKind::of`] the emitter's UF.
    pub kind: ContingencyKind,
    /// `dhCont`: when the emitter entered contingency, not after `dhEmi`; written like `dhEmi`
    /// and in its UTC offset, fractions of a second dropped.
    pub since: OffsetDateTime,
    /// `xJust`: why (15–256 characters after sanitizing; a shorter text is refused, a longer
    /// one too — never padded or cut).
    pub justification: String,
}

/// Everything needed to build one NF-e.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NfeInput {
    /// `tpAmb`.
    pub environment: Environment,
    /// `serie`: 0–999.
    pub series: u16,
    /// `nNF`: 1–999 999 999, gapless per (environment, series) — the caller's counter.
    pub number: u32,
    /// `cNF`: see [`Cnf::random`]; must differ from `number`.
    pub cnf: Cnf,
    /// `dhEmi`: the issue time with its UTC offset (whole hours, −11 to +12, year 2000–2099);
    /// fractions of a second are dropped. Its year and month go into the key.
    pub issued_at: OffsetDateTime,
    /// `natOp` (1–60), e.g. `VENDA DE MERCADORIA`.
    pub nature_of_operation: String,
    /// `verProc`: the emitting application and version (1–20), e.g. `vitrine 0.1.0`.
    pub app_version: String,
    /// `None`: normal emission (`tpEmis` 1). `Some`: SVC contingency (`tpEmis` 6/7, `dhCont`,
    /// `xJust`).
    pub contingency: Option<Contingency>,
    /// `emit`.
    pub emitter: Emitter,
    /// `dest`.
    pub recipient: Recipient,
    /// `det`: 1 to 990 items.
    pub items: Vec<Item>,
    /// The order's freight; must equal the sum of the items' `freight` (`ICMSTot/vFrete`).
    pub freight_total: i64,
    /// The order's discount; must equal the sum of the items' `discount` (`ICMSTot/vDesc`).
    pub discount_total: i64,
    /// `transp/modFrete`.
    pub freight_mode: FreightMode,
    /// `pag`.
    pub payment: Payment,
    /// `infRespTec`.
    pub technical_responsible: TechnicalResponsible,
    /// Free texts appended to `infAdic/infCpl` (after the Simples Nacional statement and the
    /// installments line), joined with a space; the whole is cut at 5000 characters.
    pub additional_info: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_svc_follows_the_emitters_uf() {
        assert_eq!(ContingencyKind::of(Uf::SP), ContingencyKind::SvcAn);
        assert_eq!(ContingencyKind::of(Uf::RS), ContingencyKind::SvcAn);
        assert_eq!(ContingencyKind::of(Uf::PR), ContingencyKind::SvcRs);
        assert_eq!(ContingencyKind::of(Uf::BA), ContingencyKind::SvcRs);
        assert_eq!(ContingencyKind::SvcAn.tp_emis(), 6);
        assert_eq!(ContingencyKind::SvcRs.tp_emis(), 7);
    }
}
