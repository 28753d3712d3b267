//! From [`NfeInput`] to the `infNFe` element: values, totals, key, and the XML itself.
//!
//! The XML is written by hand, in the exact order of the XSD's sequences, already in canonical
//! form (C14N 1.0): no self-closing tags, attributes in canonical order (`Id` before `versao`),
//! text escaped as C14N escapes it, no whitespace between tags, no comments. So the canonical
//! `infNFe` that the signature digests is the written element with the inherited
//! `xmlns="http://www.portalfiscal.inf.br/nfe"` added as its first attribute — nothing to parse
//! back ([`UnsignedNfe::canonical_inf_nfe`]). Tests check this against the independent
//! canonicalizer in [`crate::c14n`].
//!
//! **Values** (all integer centavos):
//! - `vProd = qCom × vUnCom` (exact);
//! - operation value of an item `= vProd + vFrete − vDesc`;
//! - CRT 3: `ICMS vBC` = operation value, `vICMS = vBC × pICMS` rounded half-up;
//!   PIS/COFINS `vBC` = operation value − `vICMS` (ICMS excluded from the PIS/COFINS base,
//!   STF Tema 69 / Lei 14.592/2023 \[verify with the accountant\]), values rounded half-up;
//!   IBS/CBS `vBC` = operation value − `vICMS` − `vPIS` − `vCOFINS` (LC 214/2025 art. 12 §2
//!   \[verify\]), `vIBSUF`, `vIBSMun`, `vCBS` rounded half-up each, `vIBS = vIBSUF + vIBSMun`;
//! - CRT 1: ICMS and PIS/COFINS values are zero (`ICMSTot/vBC` and `vICMS` are `0.00`);
//! - totals are sums of the rounded item values;
//!   `vNF = vProd − vDesc − vICMSDeson + vST + vFCPST + vFrete + vSeg + vOutro + vII + vIPI +
//!   vIPIDevol`, here `vProd − vDesc + vFrete` (the other terms are zero for this crate);
//! - with IBS/CBS: `det/vItem` = the item's share of `vNF` and `total/vNFTot = Σ vItem`
//!   (= `vNF`: in 2026 IBS/CBS are informative and not added to the amount due \[verify\]).

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest as _, Sha1};
use time::OffsetDateTime;

use crate::error::BuildError;
use crate::ids::{Cnpj, TaxId, Uf};
use crate::key::AccessKey;
use crate::model::{
    Address, Contingency, Environment, HOMOLOGATION_RECIPIENT_NAME, IbsCbs, Item, ItemTaxes,
    NfeInput, Payment, SIMPLES_NACIONAL_STATEMENT, TaxRegime,
};
use crate::money::{MAX_CENTAVOS, Rate, format_centavos};
use crate::text::{escape_text_into, sanitize, sanitize_max};

/// The NF-e namespace (default namespace of `NFe` and everything in it).
pub const NFE_NAMESPACE: &str = "http://www.portalfiscal.inf.br/nfe";
/// `infNFe/@versao`.
pub const LAYOUT_VERSION: &str = "4.00";
/// Most items an NF-e may carry (`det maxOccurs="990"`).
pub const MAX_ITEMS: usize = 990;

/// Largest `vUnCom` (`TDec_1110v`: 11 integer digits).
const MAX_UNIT_PRICE: i64 = 9_999_999_999_999; // 99 999 999 999.99

/// The computed totals of a document (centavos).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// `vProd`.
    pub products: i64,
    /// `vFrete`.
    pub freight: i64,
    /// `vDesc`.
    pub discount: i64,
    /// `ICMSTot/vBC`.
    pub icms_base: i64,
    /// `vICMS`.
    pub icms: i64,
    /// `vPIS`.
    pub pis: i64,
    /// `vCOFINS`.
    pub cofins: i64,
    /// `IBSCBSTot/vBCIBSCBS` (0 without IBS/CBS).
    pub ibs_cbs_base: i64,
    /// `vIBSUF` total.
    pub ibs_state: i64,
    /// `vIBSMun` total.
    pub ibs_municipal: i64,
    /// `vCBS` total.
    pub cbs: i64,
    /// `vNF`: what the buyer pays (`pag/detPag/vPag`).
    pub total: i64,
}

/// A built, not yet signed NF-e: its key, its totals and its `infNFe` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsignedNfe {
    pub(crate) key: AccessKey,
    pub(crate) totals: Totals,
    pub(crate) emitter_cnpj: Cnpj,
    pub(crate) issued_at: OffsetDateTime,
    /// Everything between `<infNFe …>` and `</infNFe>`.
    pub(crate) children: String,
}

impl UnsignedNfe {
    /// The chave de acesso.
    pub fn access_key(&self) -> &AccessKey {
        &self.key
    }

    /// The computed totals.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// The emitter's CNPJ (checked against the certificate when signing).
    pub fn emitter_cnpj(&self) -> &Cnpj {
        &self.emitter_cnpj
    }

    /// `dhEmi` (the certificate must be valid then).
    pub fn issued_at(&self) -> OffsetDateTime {
        self.issued_at
    }

    /// The `infNFe` element exactly as it is written inside `<NFe xmlns="…nfe">`.
    pub fn inf_nfe_xml(&self) -> String {
        format!(
            "<infNFe Id=\"{}\" versao=\"{LAYOUT_VERSION}\">{}</infNFe>",
            self.key.id(),
            self.children
        )
    }

    /// The canonical form (C14N 1.0, inclusive, without comments) of `infNFe` inside its `NFe`:
    /// the written element with the inherited default namespace declared first.
    pub fn canonical_inf_nfe(&self) -> String {
        format!(
            "<infNFe xmlns=\"{NFE_NAMESPACE}\" Id=\"{}\" versao=\"{LAYOUT_VERSION}\">{}</infNFe>",
            self.key.id(),
            self.children
        )
    }

    /// `DigestValue`: base64 of the SHA-1 of [`UnsignedNfe::canonical_inf_nfe`].
    pub fn digest_value(&self) -> String {
        BASE64.encode(Sha1::digest(self.canonical_inf_nfe().as_bytes()))
    }
}

/// Builds the document: validates the input, computes the values and the key, writes `infNFe`.
pub fn build(input: &NfeInput) -> Result<UnsignedNfe, BuildError> {
    if input.items.is_empty() {
        return Err(BuildError::NoItems);
    }
    if input.items.len() > MAX_ITEMS {
        return Err(BuildError::TooManyItems(input.items.len()));
    }
    if input.series > 999 {
        return Err(BuildError::invalid("ide/serie", "must be 0 to 999"));
    }
    if !(1..=999_999_999).contains(&input.number) {
        return Err(BuildError::invalid("ide/nNF", "must be 1 to 999999999"));
    }
    if !input.cnf.is_allowed_for(input.number) {
        return Err(BuildError::invalid("ide/cNF", "must differ from nNF"));
    }
    let issued_at = input.issued_at.replace_nanosecond(0).expect("0 is valid");
    let dh_emi = format_date_time("ide/dhEmi", issued_at)?;
    let contingency = input
        .contingency
        .as_ref()
        .map(|c| contingency_fields(c, issued_at))
        .transpose()?;
    let tp_emis = contingency.as_ref().map_or(1, |c| c.tp_emis);

    let emitter = &input.emitter;
    let regime = emitter.regime;
    let emitter_uf = emitter.address.uf;
    let recipient_uf = input.recipient.address.uf;
    let interstate = emitter_uf != recipient_uf;
    if interstate && regime == TaxRegime::Normal {
        // Rule 694: regime normal selling to a non-contributor in another UF must send the DIFAL
        // group ICMSUFDest (EC 87/2015), which needs the destination's rates.
        return Err(BuildError::Unsupported(
            "interstate sale by a regime-normal emitter (needs the DIFAL group ICMSUFDest)".into(),
        ));
    }

    let items = compute_items(input, regime, interstate)?;
    let totals = sum_items(&items)?;
    if totals.freight != input.freight_total {
        return Err(BuildError::TotalsMismatch {
            field: "ICMSTot/vFrete",
            declared: input.freight_total,
            items: totals.freight,
        });
    }
    if totals.discount != input.discount_total {
        return Err(BuildError::TotalsMismatch {
            field: "ICMSTot/vDesc",
            declared: input.discount_total,
            items: totals.discount,
        });
    }
    if totals.total <= 0 {
        return Err(BuildError::invalid(
            "total/ICMSTot/vNF",
            "must be greater than zero",
        ));
    }
    let with_ibs_cbs = items.iter().any(|i| i.ibs_cbs.is_some());

    let key_body = format!(
        "{:02}{:02}{:02}{}55{:03}{:09}{tp_emis}{}",
        emitter_uf.ibge_code(),
        issued_at.year() % 100,
        u8::from(issued_at.month()),
        emitter.cnpj.as_str(),
        input.series,
        input.number,
        input.cnf.as_digits()
    );
    let key = AccessKey::from_body(&key_body)?;

    let mut x = Xml::default();
    // ide
    x.open("ide");
    x.leaf("cUF", &format!("{:02}", emitter_uf.ibge_code()));
    x.leaf("cNF", &input.cnf.as_digits());
    x.leaf(
        "natOp",
        &required_text("ide/natOp", &input.nature_of_operation, 1, 60)?,
    );
    x.leaf("mod", "55");
    x.leaf("serie", &input.series.to_string());
    x.leaf("nNF", &input.number.to_string());
    x.leaf("dhEmi", &dh_emi);
    x.leaf("tpNF", "1");
    x.leaf("idDest", if interstate { "2" } else { "1" });
    x.leaf(
        "cMunFG",
        &municipality("ide/cMunFG", emitter.address.municipality_code, emitter_uf)?,
    );
    x.leaf("tpImp", "1");
    x.leaf("tpEmis", &tp_emis.to_string());
    x.leaf("cDV", &key.check_digit().to_string());
    x.leaf("tpAmb", &input.environment.code().to_string());
    x.leaf("finNFe", "1");
    x.leaf("indFinal", "1");
    x.leaf("indPres", "2");
    x.leaf("indIntermed", "0");
    x.leaf("procEmi", "0");
    x.leaf(
        "verProc",
        &required_text("ide/verProc", &input.app_version, 1, 20)?,
    );
    // The schema's optional sequence after verProc, "only for tpEmis other than 1".
    if let Some(c) = &contingency {
        x.leaf("dhCont", &c.dh_cont);
        x.leaf("xJust", &c.justification);
    }
    x.close("ide");

    // emit
    x.open("emit");
    x.leaf("CNPJ", emitter.cnpj.as_str());
    x.leaf("xNome", &required_text("emit/xNome", &emitter.name, 2, 60)?);
    x.opt_leaf("xFant", optional_text(emitter.trade_name.as_deref(), 60));
    write_address(&mut x, "enderEmit", &emitter.address, true)?;
    x.leaf("IE", &state_registration(&emitter.ie)?);
    x.leaf("CRT", &regime.code().to_string());
    x.close("emit");

    // dest
    let recipient = &input.recipient;
    x.open("dest");
    match &recipient.tax_id {
        TaxId::Cpf(cpf) => x.leaf("CPF", cpf.as_str()),
        TaxId::Cnpj(cnpj) => x.leaf("CNPJ", cnpj.as_str()),
    }
    let dest_name = match input.environment {
        Environment::Homologation => HOMOLOGATION_RECIPIENT_NAME.to_owned(),
        Environment::Production => required_text("dest/xNome", &recipient.name, 2, 60)?,
    };
    x.leaf("xNome", &dest_name);
    write_address(&mut x, "enderDest", &recipient.address, false)?;
    x.leaf("indIEDest", "9");
    x.opt_leaf("email", recipient.email.as_deref().and_then(email));
    x.close("dest");

    // det
    for (n, (item, calc)) in input.items.iter().zip(&items).enumerate() {
        write_item(&mut x, n + 1, item, calc)?;
    }

    // total
    x.open("total");
    x.open("ICMSTot");
    x.money("vBC", totals.icms_base);
    x.money("vICMS", totals.icms);
    x.money("vICMSDeson", 0);
    x.money("vFCP", 0);
    x.money("vBCST", 0);
    x.money("vST", 0);
    x.money("vFCPST", 0);
    x.money("vFCPSTRet", 0);
    x.money("vProd", totals.products);
    x.money("vFrete", totals.freight);
    x.money("vSeg", 0);
    x.money("vDesc", totals.discount);
    x.money("vII", 0);
    x.money("vIPI", 0);
    x.money("vIPIDevol", 0);
    x.money("vPIS", totals.pis);
    x.money("vCOFINS", totals.cofins);
    x.money("vOutro", 0);
    x.money("vNF", totals.total);
    x.close("ICMSTot");
    if with_ibs_cbs {
        x.open("IBSCBSTot");
        x.money("vBCIBSCBS", totals.ibs_cbs_base);
        x.open("gIBS");
        x.open("gIBSUF");
        x.money("vDif", 0);
        x.money("vDevTrib", 0);
        x.money("vIBSUF", totals.ibs_state);
        x.close("gIBSUF");
        x.open("gIBSMun");
        x.money("vDif", 0);
        x.money("vDevTrib", 0);
        x.money("vIBSMun", totals.ibs_municipal);
        x.close("gIBSMun");
        x.money("vIBS", totals.ibs_state + totals.ibs_municipal);
        x.money("vCredPres", 0);
        x.money("vCredPresCondSus", 0);
        x.close("gIBS");
        x.open("gCBS");
        x.money("vDif", 0);
        x.money("vDevTrib", 0);
        x.money("vCBS", totals.cbs);
        x.money("vCredPres", 0);
        x.money("vCredPresCondSus", 0);
        x.close("gCBS");
        x.close("IBSCBSTot");
        // Σ vItem; > 0 was checked above (TDec_1302Opc).
        x.money("vNFTot", totals.total);
    }
    x.close("total");

    // transp
    x.open("transp");
    x.leaf("modFrete", &input.freight_mode.code().to_string());
    x.close("transp");

    // pag
    x.open("pag");
    x.open("detPag");
    let mut installments_note = None;
    match &input.payment {
        Payment::Pix {
            psp_cnpj,
            end_to_end_id,
        } => {
            x.leaf("tPag", "17");
            x.money("vPag", totals.total);
            x.open("card");
            x.leaf("tpIntegra", "1");
            if let Some(cnpj) = psp_cnpj {
                x.leaf("CNPJ", cnpj.as_str());
            }
            x.opt_leaf("cAut", optional_text(end_to_end_id.as_deref(), 128));
            x.close("card");
        }
        Payment::CreditCard {
            brand,
            authorization,
            acquirer_cnpj,
            installments,
        } => {
            if !(1..=99).contains(installments) {
                return Err(BuildError::invalid(
                    "pag/detPag (installments)",
                    "must be 1 to 99",
                ));
            }
            if *installments > 1 {
                installments_note = Some(format!(
                    "Pagamento com cartão de crédito em {installments}x."
                ));
            }
            x.leaf("tPag", "03");
            x.money("vPag", totals.total);
            x.open("card");
            x.leaf("tpIntegra", "1");
            if let Some(cnpj) = acquirer_cnpj {
                x.leaf("CNPJ", cnpj.as_str());
            }
            x.leaf("tBand", brand.code());
            x.leaf(
                "cAut",
                &required_text("pag/detPag/card/cAut", authorization, 1, 128)?,
            );
            x.close("card");
        }
        Payment::Boleto => {
            x.leaf("tPag", "15");
            x.money("vPag", totals.total);
        }
    }
    x.close("detPag");
    x.close("pag");

    // infAdic
    let mut notes: Vec<String> = Vec::new();
    if regime == TaxRegime::SimplesNacional {
        notes.push(SIMPLES_NACIONAL_STATEMENT.to_owned());
    }
    notes.extend(installments_note);
    notes.extend(input.additional_info.iter().map(|t| sanitize(t)));
    let inf_cpl = sanitize_max(&notes.join(" "), 5000);
    if !inf_cpl.is_empty() {
        x.open("infAdic");
        x.leaf("infCpl", &inf_cpl);
        x.close("infAdic");
    }

    // infRespTec
    let tech = &input.technical_responsible;
    x.open("infRespTec");
    x.leaf("CNPJ", tech.cnpj.as_str());
    x.leaf(
        "xContato",
        &required_text("infRespTec/xContato", &tech.contact, 2, 60)?,
    );
    let tech_email = email(&tech.email)
        .filter(|e| e.chars().count() >= 6)
        .ok_or_else(|| {
            BuildError::invalid(
                "infRespTec/email",
                "must be an e-mail of 6 to 60 characters",
            )
        })?;
    x.leaf("email", &tech_email);
    x.leaf("fone", &phone("infRespTec/fone", &tech.phone)?);
    x.close("infRespTec");

    Ok(UnsignedNfe {
        key,
        totals,
        emitter_cnpj: emitter.cnpj.clone(),
        issued_at,
        children: x.into_string(),
    })
}

/// Values of one item, all rounded.
#[derive(Debug, Clone, Copy)]
struct ItemValues {
    products: i64,
    freight: i64,
    discount: i64,
    /// `vProd + vFrete − vDesc`: also `vItem`.
    operation: i64,
    normal: Option<NormalValues>,
    ibs_cbs: Option<IbsCbsValues>,
}

#[derive(Debug, Clone, Copy)]
struct NormalValues {
    icms_rate: Rate,
    icms_base: i64,
    icms: i64,
    pis_rate: Rate,
    cofins_rate: Rate,
    pis_cofins_base: i64,
    pis: i64,
    cofins: i64,
}

#[derive(Debug, Clone, Copy)]
struct IbsCbsValues {
    base: i64,
    state: i64,
    municipal: i64,
    cbs: i64,
}

fn compute_items(
    input: &NfeInput,
    regime: TaxRegime,
    interstate: bool,
) -> Result<Vec<ItemValues>, BuildError> {
    let mut out = Vec::with_capacity(input.items.len());
    let mut ibs_cbs_items = 0;
    for (i, item) in input.items.iter().enumerate() {
        let at = |field: &str| format!("det[{}]/{field}", i + 1);
        if item.quantity == 0 {
            return Err(BuildError::invalid(at("prod/qCom"), "must be at least 1"));
        }
        if !(0..=MAX_UNIT_PRICE).contains(&item.unit_price) {
            return Err(BuildError::invalid(
                at("prod/vUnCom"),
                "must be 0 to 99999999999.99",
            ));
        }
        let products = i64::from(item.quantity)
            .checked_mul(item.unit_price)
            .filter(|v| *v <= MAX_CENTAVOS)
            .ok_or_else(|| BuildError::invalid(at("prod/vProd"), "amount too large"))?;
        if !(0..=MAX_CENTAVOS).contains(&item.freight) {
            return Err(BuildError::invalid(at("prod/vFrete"), "must be ≥ 0"));
        }
        if item.discount < 0 || item.discount > products {
            return Err(BuildError::invalid(
                at("prod/vDesc"),
                "must be between 0 and the item's vProd",
            ));
        }
        let operation = products + item.freight - item.discount;
        let (normal, ibs_cbs) = match (&item.taxes, regime) {
            (ItemTaxes::SimplesNacional, TaxRegime::SimplesNacional) => (None, None),
            (
                ItemTaxes::Normal {
                    icms_rate,
                    pis_rate,
                    cofins_rate,
                    ibs_cbs,
                },
                TaxRegime::Normal,
            ) => {
                for (name, rate) in [
                    ("pICMS", icms_rate),
                    ("pPIS", pis_rate),
                    ("pCOFINS", cofins_rate),
                ] {
                    check_rate(&at(&format!("imposto/{name}")), *rate)?;
                }
                let icms = icms_rate.apply(operation);
                let pis_cofins_base = operation - icms;
                let pis = pis_rate.apply(pis_cofins_base);
                let cofins = cofins_rate.apply(pis_cofins_base);
                let normal = NormalValues {
                    icms_rate: *icms_rate,
                    icms_base: operation,
                    icms,
                    pis_rate: *pis_rate,
                    cofins_rate: *cofins_rate,
                    pis_cofins_base,
                    pis,
                    cofins,
                };
                let ibs_cbs = match ibs_cbs {
                    None => None,
                    Some(group) => {
                        check_ibs_cbs(&at("imposto/IBSCBS"), group)?;
                        ibs_cbs_items += 1;
                        let base = pis_cofins_base - pis - cofins;
                        Some(IbsCbsValues {
                            base,
                            state: group.ibs_state_rate.apply(base),
                            municipal: group.ibs_municipal_rate.apply(base),
                            cbs: group.cbs_rate.apply(base),
                        })
                    }
                };
                (Some(normal), ibs_cbs)
            }
            (_, regime) => {
                return Err(BuildError::invalid(
                    at("imposto"),
                    format!(
                        "the item's taxes do not match the emitter's CRT {}",
                        regime.code()
                    ),
                ));
            }
        };
        let first_digit = item.cfop / 1000;
        let expected = if interstate { 6 } else { 5 };
        if !(1000..=9999).contains(&item.cfop) || first_digit != expected {
            return Err(BuildError::invalid(
                at("prod/CFOP"),
                format!(
                    "a sale to a buyer {} needs a {expected}xxx CFOP, got {}",
                    if interstate {
                        "in another UF"
                    } else {
                        "in the same UF"
                    },
                    item.cfop
                ),
            ));
        }
        out.push(ItemValues {
            products,
            freight: item.freight,
            discount: item.discount,
            operation,
            normal,
            ibs_cbs,
        });
    }
    if ibs_cbs_items != 0 && ibs_cbs_items != out.len() {
        return Err(BuildError::invalid(
            "det/imposto/IBSCBS",
            "either every item carries IBS/CBS or none does",
        ));
    }
    Ok(out)
}

fn sum_items(items: &[ItemValues]) -> Result<Totals, BuildError> {
    let mut t = Totals::default();
    for i in items {
        t.products += i.products;
        t.freight += i.freight;
        t.discount += i.discount;
        t.total += i.operation;
        if let Some(n) = i.normal {
            t.icms_base += n.icms_base;
            t.icms += n.icms;
            t.pis += n.pis;
            t.cofins += n.cofins;
        }
        if let Some(g) = i.ibs_cbs {
            t.ibs_cbs_base += g.base;
            t.ibs_state += g.state;
            t.ibs_municipal += g.municipal;
            t.cbs += g.cbs;
        }
        // 990 items of at most MAX_CENTAVOS cannot overflow i64; the schema's limit can be hit.
        if t.products > MAX_CENTAVOS || t.total > MAX_CENTAVOS || t.freight > MAX_CENTAVOS {
            return Err(BuildError::invalid("total/ICMSTot", "amount too large"));
        }
    }
    Ok(t)
}

fn check_rate(field: &str, rate: Rate) -> Result<(), BuildError> {
    if rate.basis_points() > 10_000 {
        return Err(BuildError::invalid(field, "a rate above 100 %"));
    }
    Ok(())
}

fn check_ibs_cbs(field: &str, group: &IbsCbs) -> Result<(), BuildError> {
    if group.cst.len() != 3 || !group.cst.bytes().all(|c| c.is_ascii_digit()) {
        return Err(BuildError::invalid(
            format!("{field}/CST"),
            "must be 3 digits",
        ));
    }
    if group.class_code.len() != 6 || !group.class_code.bytes().all(|c| c.is_ascii_digit()) {
        return Err(BuildError::invalid(
            format!("{field}/cClassTrib"),
            "must be 6 digits",
        ));
    }
    check_rate(&format!("{field}/pIBSUF"), group.ibs_state_rate)?;
    check_rate(&format!("{field}/pIBSMun"), group.ibs_municipal_rate)?;
    check_rate(&format!("{field}/pCBS"), group.cbs_rate)
}

fn write_item(x: &mut Xml, n: usize, item: &Item, v: &ItemValues) -> Result<(), BuildError> {
    let at = |field: &str| format!("det[{n}]/{field}");
    let ncm: String = item.ncm.chars().filter(|c| *c != '.').collect();
    if ncm.len() != 8 || !ncm.bytes().all(|c| c.is_ascii_digit()) {
        return Err(BuildError::invalid(
            at("prod/NCM"),
            format!("must be 8 digits, got {:?}", item.ncm),
        ));
    }
    let gtin = item.gtin.as_ref().map_or("SEM GTIN", |g| g.as_str());
    let unit = required_text(&at("prod/uCom"), &item.unit, 1, 6)?;
    let quantity = format!("{}.0000", item.quantity);
    let unit_price = format_centavos(item.unit_price);

    x.open_attr("det", "nItem", &n.to_string());
    x.open("prod");
    x.leaf(
        "cProd",
        &required_text(&at("prod/cProd"), &item.code, 1, 60)?,
    );
    x.leaf("cEAN", gtin);
    x.leaf(
        "xProd",
        &required_text(&at("prod/xProd"), &item.description, 1, 120)?,
    );
    x.leaf("NCM", &ncm);
    x.leaf("CFOP", &item.cfop.to_string());
    x.leaf("uCom", &unit);
    x.leaf("qCom", &quantity);
    x.leaf("vUnCom", &unit_price);
    x.money("vProd", v.products);
    x.leaf("cEANTrib", gtin);
    x.leaf("uTrib", &unit);
    x.leaf("qTrib", &quantity);
    x.leaf("vUnTrib", &unit_price);
    if v.freight > 0 {
        x.money("vFrete", v.freight);
    }
    if v.discount > 0 {
        x.money("vDesc", v.discount);
    }
    x.leaf("indTot", "1");
    x.close("prod");

    if item.origin.0 > 8 {
        return Err(BuildError::invalid(
            at("imposto/ICMS/orig"),
            "must be 0 to 8",
        ));
    }
    let origin = item.origin.0.to_string();
    x.open("imposto");
    match v.normal {
        None => {
            x.open("ICMS");
            x.open("ICMSSN102");
            x.leaf("orig", &origin);
            x.leaf("CSOSN", "102");
            x.close("ICMSSN102");
            x.close("ICMS");
            x.open("PIS");
            x.open("PISOutr");
            x.leaf("CST", "99");
            x.money("vBC", 0);
            x.leaf("pPIS", &Rate::ZERO.to_percent_string());
            x.money("vPIS", 0);
            x.close("PISOutr");
            x.close("PIS");
            x.open("COFINS");
            x.open("COFINSOutr");
            x.leaf("CST", "99");
            x.money("vBC", 0);
            x.leaf("pCOFINS", &Rate::ZERO.to_percent_string());
            x.money("vCOFINS", 0);
            x.close("COFINSOutr");
            x.close("COFINS");
        }
        Some(n) => {
            x.open("ICMS");
            x.open("ICMS00");
            x.leaf("orig", &origin);
            x.leaf("CST", "00");
            x.leaf("modBC", "3");
            x.money("vBC", n.icms_base);
            x.leaf("pICMS", &n.icms_rate.to_percent_string());
            x.money("vICMS", n.icms);
            x.close("ICMS00");
            x.close("ICMS");
            x.open("PIS");
            x.open("PISAliq");
            x.leaf("CST", "01");
            x.money("vBC", n.pis_cofins_base);
            x.leaf("pPIS", &n.pis_rate.to_percent_string());
            x.money("vPIS", n.pis);
            x.close("PISAliq");
            x.close("PIS");
            x.open("COFINS");
            x.open("COFINSAliq");
            x.leaf("CST", "01");
            x.money("vBC", n.pis_cofins_base);
            x.leaf("pCOFINS", &n.cofins_rate.to_percent_string());
            x.money("vCOFINS", n.cofins);
            x.close("COFINSAliq");
            x.close("COFINS");
        }
    }
    if let (
        Some(g),
        ItemTaxes::Normal {
            ibs_cbs: Some(group),
            ..
        },
    ) = (v.ibs_cbs, &item.taxes)
    {
        x.open("IBSCBS");
        x.leaf("CST", &group.cst);
        x.leaf("cClassTrib", &group.class_code);
        x.open("gIBSCBS");
        x.money("vBC", g.base);
        x.open("gIBSUF");
        x.leaf("pIBSUF", &group.ibs_state_rate.to_percent_string());
        x.money("vIBSUF", g.state);
        x.close("gIBSUF");
        x.open("gIBSMun");
        x.leaf("pIBSMun", &group.ibs_municipal_rate.to_percent_string());
        x.money("vIBSMun", g.municipal);
        x.close("gIBSMun");
        x.money("vIBS", g.state + g.municipal);
        x.open("gCBS");
        x.leaf("pCBS", &group.cbs_rate.to_percent_string());
        x.money("vCBS", g.cbs);
        x.close("gCBS");
        x.close("gIBSCBS");
        x.close("IBSCBS");
    }
    x.close("imposto");
    if v.ibs_cbs.is_some() {
        x.money("vItem", v.operation);
    }
    x.close("det");
    Ok(())
}

fn write_address(
    x: &mut Xml,
    name: &str,
    address: &Address,
    emitter: bool,
) -> Result<(), BuildError> {
    let parent = if emitter { "emit" } else { "dest" };
    let at = |field: &str| format!("{parent}/{name}/{field}");
    x.open(name);
    x.leaf("xLgr", &required_text(&at("xLgr"), &address.street, 2, 60)?);
    x.leaf("nro", &required_text(&at("nro"), &address.number, 1, 60)?);
    x.opt_leaf("xCpl", optional_text(address.complement.as_deref(), 60));
    x.leaf(
        "xBairro",
        &required_text(&at("xBairro"), &address.district, 2, 60)?,
    );
    x.leaf(
        "cMun",
        &municipality(&at("cMun"), address.municipality_code, address.uf)?,
    );
    x.leaf(
        "xMun",
        &required_text(&at("xMun"), &address.municipality_name, 2, 60)?,
    );
    x.leaf("UF", address.uf.as_str());
    let cep: String = address
        .cep
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | ' '))
        .collect();
    if cep.len() != 8 || !cep.bytes().all(|c| c.is_ascii_digit()) {
        return Err(BuildError::invalid(at("CEP"), "must be 8 digits"));
    }
    x.leaf("CEP", &cep);
    x.leaf("cPais", "1058");
    x.leaf("xPais", "BRASIL");
    if let Some(p) = &address.phone {
        x.leaf("fone", &phone(&at("fone"), p)?);
    }
    x.close(name);
    Ok(())
}

/// The checked contingency fields of `ide`.
struct ContingencyFields {
    tp_emis: u8,
    dh_cont: String,
    justification: String,
}

/// Shortest and longest `ide/xJust` (leiauteNFe: `TString`, minLength 15, maxLength 256).
const JUSTIFICATION_CHARS: std::ops::RangeInclusive<usize> = 15..=256;

/// `tpEmis`, `dhCont` (written like `dhEmi` and with its UTC offset, not after it) and `xJust`
/// (15–256 characters after sanitizing, never padded nor cut: a justification is a statement the
/// emitter signs).
fn contingency_fields(
    c: &Contingency,
    issued_at: OffsetDateTime,
) -> Result<ContingencyFields, BuildError> {
    let since = c
        .since
        .to_offset(issued_at.offset())
        .replace_nanosecond(0)
        .expect("0 is valid");
    let dh_cont = format_date_time("ide/dhCont", since)?;
    if since > issued_at {
        return Err(BuildError::invalid(
            "ide/dhCont",
            "entering contingency cannot be later than the issue time (dhEmi)",
        ));
    }
    let justification = sanitize(&c.justification);
    let len = justification.chars().count();
    if !JUSTIFICATION_CHARS.contains(&len) {
        return Err(BuildError::invalid(
            "ide/xJust",
            format!(
                "the contingency justification must be {} to {} characters, got {len}",
                JUSTIFICATION_CHARS.start(),
                JUSTIFICATION_CHARS.end()
            ),
        ));
    }
    Ok(ContingencyFields {
        tp_emis: c.kind.tp_emis(),
        dh_cont,
        justification,
    })
}

/// `TDateTimeUTC`: `YYYY-MM-DDThh:mm:ss±hh:00`, years 2000–2099, offsets −11..+12 whole hours.
fn format_date_time(field: &str, t: OffsetDateTime) -> Result<String, BuildError> {
    let offset = t.offset().whole_seconds();
    if offset % 3600 != 0 || !(-11 * 3600..=12 * 3600).contains(&offset) {
        return Err(BuildError::Offset(offset));
    }
    if !(2000..=2099).contains(&t.year()) {
        return Err(BuildError::invalid(field, "the year must be 2000 to 2099"));
    }
    let hours = offset / 3600;
    Ok(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{:02}:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        if hours < 0 { '-' } else { '+' },
        hours.abs()
    ))
}

fn municipality(field: &str, code: u32, uf: Uf) -> Result<String, BuildError> {
    if !(1_000_000..=9_999_999).contains(&code) {
        return Err(BuildError::invalid(
            field,
            "must be a 7-digit IBGE municipality code",
        ));
    }
    if code / 100_000 != u32::from(uf.ibge_code()) {
        return Err(BuildError::invalid(
            field,
            format!("IBGE code {code} is not in {uf}"),
        ));
    }
    Ok(code.to_string())
}

fn required_text(field: &str, value: &str, min: usize, max: usize) -> Result<String, BuildError> {
    let s = sanitize_max(value, max);
    let len = s.chars().count();
    if len < min.max(1) {
        return Err(BuildError::invalid(
            field,
            format!("needs at least {min} printable character(s), got {value:?}"),
        ));
    }
    Ok(s)
}

fn optional_text(value: Option<&str>, max: usize) -> Option<String> {
    value
        .map(|v| sanitize_max(v, max))
        .filter(|s| !s.is_empty())
}

fn phone(field: &str, value: &str) -> Result<String, BuildError> {
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    let rest_ok = value
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '+' | '.'));
    if !rest_ok || !(6..=14).contains(&digits.len()) {
        return Err(BuildError::invalid(field, "must be 6 to 14 digits"));
    }
    Ok(digits)
}

fn state_registration(value: &str) -> Result<String, BuildError> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("ISENTO") {
        return Ok("ISENTO".into());
    }
    let digits: String = v
        .chars()
        .filter(|c| !matches!(c, '.' | '-' | '/'))
        .collect();
    if !(2..=14).contains(&digits.len()) || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(BuildError::invalid(
            "emit/IE",
            "must be 2 to 14 digits or ISENTO",
        ));
    }
    Ok(digits)
}

/// A plain `local@domain` address of at most 60 characters, or `None`.
fn email(value: &str) -> Option<String> {
    let v = value.trim();
    let ok = v.len() <= 60
        && v.bytes().all(|c| c.is_ascii_graphic())
        && matches!(v.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.contains('@'));
    ok.then(|| v.to_owned())
}

/// Writes elements in canonical form: `<a>text</a>`, never `<a/>`.
#[derive(Default)]
struct Xml {
    out: String,
}

impl Xml {
    fn open(&mut self, name: &str) {
        let _ = write!(self.out, "<{name}>");
    }

    fn open_attr(&mut self, name: &str, attr: &str, value: &str) {
        // Only attribute values that need no escaping are written (`nItem`).
        debug_assert!(value.bytes().all(|c| c.is_ascii_alphanumeric()));
        let _ = write!(self.out, "<{name} {attr}=\"{value}\">");
    }

    fn close(&mut self, name: &str) {
        let _ = write!(self.out, "</{name}>");
    }

    /// An element with text content; `text` is never empty (optional elements are omitted).
    fn leaf(&mut self, name: &str, text: &str) {
        debug_assert!(!text.is_empty(), "{name} would be empty");
        self.open(name);
        escape_text_into(&mut self.out, text);
        self.close(name);
    }

    fn opt_leaf(&mut self, name: &str, text: Option<String>) {
        if let Some(t) = text {
            self.leaf(name, &t);
        }
    }

    fn money(&mut self, name: &str, centavos: i64) {
        debug_assert!((0..=MAX_CENTAVOS).contains(&centavos));
        self.leaf(name, &format_centavos(centavos));
    }

    fn into_string(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn issue_times_are_written_with_whole_hour_offsets() {
        assert_eq!(
            format_date_time("ide/dhEmi", datetime!(2026-08-20 14:30:00 -03:00)).unwrap(),
            "2026-08-20T14:30:00-03:00"
        );
        assert_eq!(
            format_date_time("ide/dhEmi", datetime!(2026-01-02 03:04:05 +00:00)).unwrap(),
            "2026-01-02T03:04:05+00:00"
        );
        assert_eq!(
            format_date_time("ide/dhEmi", datetime!(2026-01-02 03:04:05 +12:00)).unwrap(),
            "2026-01-02T03:04:05+12:00"
        );
        assert_eq!(
            format_date_time("ide/dhEmi", datetime!(2026-08-20 14:30:00 -03:30)),
            Err(BuildError::Offset(-12600))
        );
        assert!(format_date_time("ide/dhEmi", datetime!(2026-08-20 14:30:00 -12:00)).is_err());
        assert!(format_date_time("ide/dhEmi", datetime!(1999-08-20 14:30:00 -03:00)).is_err());
    }

    #[test]
    fn phones_ies_and_emails_are_normalized_or_refused() {
        assert_eq!(phone("f", "(44) 3141-4900").unwrap(), "4431414900");
        assert!(phone("f", "12345").is_err());
        assert!(phone("f", "44 3141 4900 ramal 2").is_err());
        assert_eq!(state_registration("903.200.030-1").unwrap(), "9032000301");
        assert_eq!(state_registration("isento").unwrap(), "ISENTO");
        assert!(state_registration("12A").is_err());
        assert_eq!(
            email(" ana@example.com ").as_deref(),
            Some("ana@example.com")
        );
        assert_eq!(email("ana at example.com"), None);
        assert_eq!(email(&format!("{}@example.com", "a".repeat(60))), None);
    }

    #[test]
    fn municipality_codes_must_belong_to_the_uf() {
        assert_eq!(municipality("f", 4118402, Uf::PR).unwrap(), "4118402");
        assert!(municipality("f", 3550308, Uf::PR).is_err());
        assert!(municipality("f", 411840, Uf::PR).is_err());
    }
}
