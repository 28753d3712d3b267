//! Acceptance: real documents for the store's cases, written to `target/nfe-samples/`, each
//! schema-valid for `xmllint --schema shared/nfe/schemas/nfe_v4.00.xsd` and signature-valid for
//! `xmlsec1 --verify --insecure --id-attr:Id infNFe`, for our own verifier and canonicalizer.
//!
//! Under CI (`CI=true`) a missing `xmllint`/`xmlsec1` fails these tests; elsewhere they skip the
//! external checks with a printed reason (the in-process checks still run).

mod common;

use common::*;
use vitrine_nfe::c14n::canonicalize_by_id;
use vitrine_nfe::{
    Contingency, ContingencyKind, Environment, NfeInput, SchemaDocument, SchemaValidator,
    SignedNfe, TaxRegime, Uf, Xmllint, XsdValidator, build, verify,
};

/// Builds, signs and checks one case; returns the signed document.
fn check_case(name: &str, input: &NfeInput) -> SignedNfe {
    let unsigned = build(input).unwrap_or_else(|e| panic!("{name}: {e}"));
    let certificate = if input.emitter.cnpj.as_str() == STORE_CNPJ {
        store_certificate()
    } else {
        other_store_certificate()
    };
    let signed = unsigned.sign(certificate).unwrap();
    let xml = signed.xml();

    // Shape: declaration, one line, no prefixes, Signature last in NFe.
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><NFe xmlns=\"http://www.portalfiscal.inf.br/nfe\"><infNFe Id=\"NFe"));
    assert!(xml.ends_with("</Signature></NFe>"));
    assert!(!xml.contains('\n') && !xml.contains("> <") && !xml.contains("/>"));
    assert!(!xml.contains("<ds:") && !xml.contains("xmlns:"));
    assert!(xml.contains("</infNFe><Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\">"));

    // Our canonical infNFe is the one an independent C14N computes from the final bytes.
    let id = signed.access_key().id();
    assert_eq!(
        canonicalize_by_id(xml, &id).unwrap(),
        unsigned.canonical_inf_nfe()
    );
    let verified = verify(xml).unwrap();
    assert_eq!(verified.digest_value, signed.digest_value());
    assert_eq!(verified.reference_id, id);

    let path = samples_out_dir().join(format!("{name}-{}-nfe.xml", signed.access_key()));
    std::fs::write(&path, xml).unwrap();

    if require_tool("xmllint", "libxml2-utils") {
        if let Err(e) = xmllint(&nfe_schema(), &path) {
            panic!("{name}: xmllint refused {}:\n{e}", path.display());
        }
        Xmllint::new()
            .unwrap()
            .validate(SchemaDocument::Nfe, xml)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    if require_tool("xmlsec1", "xmlsec1") {
        match xmlsec1_verify(&path) {
            Ok(out) => assert!(out.contains("OK"), "{name}: {out}"),
            Err(e) => panic!("{name}: xmlsec1 refused {}:\n{e}", path.display()),
        }
    }
    signed
}

fn text_of<'a>(xml: &'a str, element: &str) -> Vec<&'a str> {
    let open = format!("<{element}>");
    let close = format!("</{element}>");
    xml.match_indices(&open)
        .map(|(i, _)| {
            let rest = &xml[i + open.len()..];
            &rest[..rest.find(&close).expect("closed")]
        })
        .collect()
}

#[test]
fn simples_nacional_cpf_buyer_in_another_uf_one_item_pix_homologation() {
    let input = input(
        Environment::Homologation,
        TaxRegime::SimplesNacional,
        cpf_buyer(curitiba_address()),
        items(1, simples_taxes(), 6108, 1_500, 0),
        pix(),
    );
    let signed = check_case("sn-cpf-1item-pix-homolog", &input);
    let xml = signed.xml();
    assert_eq!(
        text_of(xml, "xNome")[1],
        "NF-E EMITIDA EM AMBIENTE DE HOMOLOGACAO - SEM VALOR FISCAL"
    );
    assert_eq!(text_of(xml, "tpAmb"), ["2"]);
    assert_eq!(text_of(xml, "idDest"), ["2"]);
    assert_eq!(text_of(xml, "tPag"), ["17"]);
    assert!(xml.contains("<card><tpIntegra>1</tpIntegra><CNPJ>11222333000181</CNPJ><cAut>E1122233320260820143000000000001</cAut></card>"));
    assert!(xml.contains("<ICMSSN102><orig>0</orig><CSOSN>102</CSOSN></ICMSSN102>"));
    assert!(xml.contains("<infCpl>DOCUMENTO EMITIDO POR ME OU EPP OPTANTE PELO SIMPLES NACIONAL."));
    let dest = &xml[xml.find("<enderDest>").unwrap()..xml.find("</enderDest>").unwrap()];
    assert!(!dest.contains("<xCpl>"), "an empty complement is omitted");
    assert!(xml.contains("<xCpl>Conjunto 42 - 4º andar</xCpl>"));
    assert!(!xml.contains("IBSCBS"));
}

#[test]
fn simples_nacional_cnpj_buyer_forty_items_card_in_3_installments_production() {
    let input = input(
        Environment::Production,
        TaxRegime::SimplesNacional,
        cnpj_buyer(campinas_address()),
        items(40, simples_taxes(), 5102, 2_990, 1_000),
        card_3x(),
    );
    let signed = check_case("sn-cnpj-40items-card3x-prod", &input);
    let xml = signed.xml();
    assert_eq!(text_of(xml, "tpAmb"), ["1"]);
    assert_eq!(text_of(xml, "idDest"), ["1"]);
    assert_eq!(text_of(xml, "xNome")[1], "Padaria Pão &amp; Mel Ltda");
    assert_eq!(xml.matches("<det nItem=").count(), 40);
    assert!(xml.contains("<det nItem=\"40\">"));
    assert_eq!(text_of(xml, "tPag"), ["03"]);
    assert!(xml.contains("<card><tpIntegra>1</tpIntegra><CNPJ>11222333000181</CNPJ><tBand>02</tBand><cAut>A1B2C3</cAut></card>"));
    assert!(xml.contains("Pagamento com cartão de crédito em 3x."));
    assert!(xml.contains("Pedido 2026-000123."));
    // Totals are sums of the items, vNF = vProd − vDesc + vFrete.
    let totals = input.items.iter().fold((0, 0, 0), |(p, f, d), i| {
        (
            p + i64::from(i.quantity) * i.unit_price,
            f + i.freight,
            d + i.discount,
        )
    });
    assert_eq!((totals.1, totals.2), (2_990, 1_000));
    let vnf = totals.0 - totals.2 + totals.1;
    assert_eq!(
        text_of(xml, "vNF"),
        [vitrine_nfe::money::format_centavos(vnf)]
    );
    assert_eq!(
        text_of(xml, "vPag"),
        [vitrine_nfe::money::format_centavos(vnf)]
    );
}

#[test]
fn regime_normal_cpf_buyer_forty_items_with_ibs_cbs_pix_homologation() {
    let input = input(
        Environment::Homologation,
        TaxRegime::Normal,
        cpf_buyer(campinas_address()),
        items(40, normal_taxes(true), 5102, 4_321, 555),
        pix(),
    );
    let signed = check_case("normal-ibscbs-cpf-40items-pix-homolog", &input);
    let xml = signed.xml();
    assert_eq!(
        xml.matches("<IBSCBS><CST>000</CST><cClassTrib>000001</cClassTrib><gIBSCBS>")
            .count(),
        40
    );
    assert_eq!(xml.matches("<vItem>").count(), 40);
    assert!(xml.contains("</ICMSTot><IBSCBSTot><vBCIBSCBS>"));
    assert!(xml.contains("</IBSCBSTot><vNFTot>"));
    assert_eq!(text_of(xml, "vNFTot"), text_of(xml, "vNF"));
    assert_eq!(text_of(xml, "pICMS").len(), 40);
    assert_eq!(text_of(xml, "pICMS")[0], "18.00");
    assert_eq!(text_of(xml, "CRT"), ["3"]);
}

#[test]
fn regime_normal_cnpj_buyer_one_item_without_ibs_cbs_card_in_3_installments_production() {
    let input = input(
        Environment::Production,
        TaxRegime::Normal,
        cnpj_buyer(campinas_address()),
        items(1, normal_taxes(false), 5102, 0, 199),
        card_3x(),
    );
    let signed = check_case("normal-cnpj-1item-card3x-prod", &input);
    let xml = signed.xml();
    assert!(!xml.contains("IBSCBS") && !xml.contains("vItem") && !xml.contains("vNFTot"));
    // 1 × 19.90, discount 1.99 → ICMS base 17.91, 18 % = 3.2238 → 3.22;
    // PIS/COFINS base 17.91 − 3.22 = 14.69: 1.65 % = 0.2424 → 0.24, 7.60 % = 1.1164 → 1.12.
    assert!(xml.contains("<ICMS00><orig>0</orig><CST>00</CST><modBC>3</modBC><vBC>17.91</vBC><pICMS>18.00</pICMS><vICMS>3.22</vICMS></ICMS00>"));
    assert!(xml.contains(
        "<PISAliq><CST>01</CST><vBC>14.69</vBC><pPIS>1.65</pPIS><vPIS>0.24</vPIS></PISAliq>"
    ));
    assert!(xml.contains("<COFINSAliq><CST>01</CST><vBC>14.69</vBC><pCOFINS>7.60</pCOFINS><vCOFINS>1.12</vCOFINS></COFINSAliq>"));
    assert!(
        xml.contains(
            "<vProd>19.90</vProd><vFrete>0.00</vFrete><vSeg>0.00</vSeg><vDesc>1.99</vDesc>"
        )
    );
    assert_eq!(text_of(xml, "vNF"), ["17.91"]);
    assert!(
        !xml.contains("<vFrete>0.00</vFrete><indTot>"),
        "zero vFrete is omitted in prod"
    );
    assert!(xml.contains("<vDesc>1.99</vDesc><indTot>1</indTot>"));
    assert!(
        !xml.contains("<infCpl>DOCUMENTO EMITIDO"),
        "no Simples statement for CRT 3"
    );
}

#[test]
fn regime_normal_cpf_buyer_one_item_with_ibs_cbs_card_production() {
    let mut input = input(
        Environment::Production,
        TaxRegime::Normal,
        cpf_buyer(sao_paulo_address()),
        items(1, normal_taxes(true), 5102, 1_000, 0),
        card_3x(),
    );
    if let vitrine_nfe::Payment::CreditCard { installments, .. } = &mut input.payment {
        *installments = 1;
    }
    let signed = check_case("normal-ibscbs-cpf-1item-card1x-prod", &input);
    let xml = signed.xml();
    assert_eq!(
        text_of(xml, "xNome")[1],
        "Maria \"Mariazinha\" da Conceição"
    );
    assert!(
        !xml.contains("Pagamento com cartão"),
        "no installments note for 1x"
    );
    // Operation 19.90 + 10.00 = 29.90; ICMS 5.382 → 5.38; PIS/COFINS base 24.52 → 0.40 / 1.86;
    // IBS/CBS base 24.52 − 0.40 − 1.86 = 22.26: IBS UF 0.10 % → 0.02, CBS 0.90 % → 0.20.
    assert!(xml.contains("<gIBSCBS><vBC>22.26</vBC><gIBSUF><pIBSUF>0.10</pIBSUF><vIBSUF>0.02</vIBSUF></gIBSUF><gIBSMun><pIBSMun>0.00</pIBSMun><vIBSMun>0.00</vIBSMun></gIBSMun><vIBS>0.02</vIBS><gCBS><pCBS>0.90</pCBS><vCBS>0.20</vCBS></gCBS></gIBSCBS>"));
    assert!(xml.contains("</imposto><vItem>29.90</vItem></det>"));
}

#[test]
fn a_numeric_cnpj_emitter_signs_with_its_own_certificate() {
    let mut input = input(
        Environment::Homologation,
        TaxRegime::SimplesNacional,
        cpf_buyer(sao_paulo_address()),
        items(3, simples_taxes(), 5102, 0, 0),
        pix(),
    );
    input.emitter.cnpj = cnpj(OTHER_STORE_CNPJ);
    let signed = check_case("sn-numeric-cnpj-3items-pix-homolog", &input);
    assert!(
        signed
            .access_key()
            .as_str()
            .starts_with("352608061174730001505500100000123")
    );
}

#[test]
fn the_alphanumeric_cnpj_goes_into_the_key() {
    let input = input(
        Environment::Homologation,
        TaxRegime::SimplesNacional,
        cpf_buyer(sao_paulo_address()),
        items(1, simples_taxes(), 5102, 0, 0),
        pix(),
    );
    let unsigned = build(&input).unwrap();
    let key = unsigned.access_key().as_str();
    assert_eq!(&key[..43], "35260812ABC34501DE3555001000001234161275652");
    assert_eq!(
        key.as_bytes()[43] - b'0',
        vitrine_nfe::key::check_digit(&key[..43]).unwrap()
    );
}

#[test]
fn an_svc_an_contingency_document_is_schema_and_signature_valid() {
    let mut input = input(
        Environment::Homologation,
        TaxRegime::SimplesNacional,
        cpf_buyer(campinas_address()),
        items(2, simples_taxes(), 5102, 0, 0),
        pix(),
    );
    input.contingency = Some(Contingency {
        kind: ContingencyKind::of(Uf::SP),
        since: time::macros::datetime!(2026-08-20 13:55:00 -03:00),
        justification: "SEFAZ-SP sem resposta (status 109) desde 13h55".into(),
    });
    // check_case: our verifier and canonicalizer, xmllint and xmlsec1.
    let signed = check_case("sn-cpf-2items-pix-homolog-svc-an", &input);
    let xml = signed.xml();
    assert_eq!(text_of(xml, "tpEmis"), ["6"]);
    assert_eq!(&signed.access_key().as_str()[34..35], "6");
    assert_eq!(text_of(xml, "dhCont"), ["2026-08-20T13:55:00-03:00"]);
    assert_eq!(
        text_of(xml, "xJust"),
        ["SEFAZ-SP sem resposta (status 109) desde 13h55"]
    );
    XsdValidator::official()
        .validate(SchemaDocument::Nfe, xml)
        .unwrap_or_else(|e| panic!("in-process validator: {e}"));
}
