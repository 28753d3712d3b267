//! The builder: what it writes, and the inputs it refuses with a clear error.

mod common;

use common::*;
use time::macros::{datetime, offset};
use vitrine_nfe::{
    BuildError, Cnf, Cnpj, Contingency, ContingencyKind, Cpf, Environment, IdError, KeyError,
    NfeInput, Payment, TaxRegime, build,
};

fn simples(recipient_in_sp: bool) -> NfeInput {
    let (address, cfop) = if recipient_in_sp {
        (campinas_address(), 5102)
    } else {
        (curitiba_address(), 6108)
    };
    input(
        Environment::Production,
        TaxRegime::SimplesNacional,
        cpf_buyer(address),
        items(2, simples_taxes(), cfop, 1_000, 200),
        pix(),
    )
}

/// Whether some `<a></a>` (an element with no content) is in `xml`.
fn has_empty_element(xml: &str) -> bool {
    xml.match_indices("></").any(|(i, _)| {
        let open = xml[..i].rfind('<').unwrap();
        !xml[open + 1..].starts_with('/')
    })
}

fn children_of(xml: &str, parent: &str) -> Vec<String> {
    // Names of the direct children of the first <parent>, in order (a tiny reader for tests).
    let start = xml.find(&format!("<{parent}>")).expect("parent") + parent.len() + 2;
    let mut names = Vec::new();
    let mut depth = 0;
    let mut rest = &xml[start..];
    while let Some(i) = rest.find('<') {
        let tag = &rest[i + 1..];
        let end = tag.find('>').unwrap();
        let name = tag[..end].split(' ').next().unwrap();
        if let Some(closing) = name.strip_prefix('/') {
            if depth == 0 {
                assert_eq!(closing, parent);
                break;
            }
            depth -= 1;
        } else {
            if depth == 0 {
                names.push(name.to_owned());
            }
            depth += 1;
        }
        rest = &tag[end + 1..];
    }
    names
}

#[test]
fn ide_is_written_in_schema_order_with_the_fixed_indicators() {
    let unsigned = build(&simples(false)).unwrap();
    let xml = unsigned.inf_nfe_xml();
    assert_eq!(
        children_of(&xml, "ide"),
        [
            "cUF",
            "cNF",
            "natOp",
            "mod",
            "serie",
            "nNF",
            "dhEmi",
            "tpNF",
            "idDest",
            "cMunFG",
            "tpImp",
            "tpEmis",
            "cDV",
            "tpAmb",
            "finNFe",
            "indFinal",
            "indPres",
            "indIntermed",
            "procEmi",
            "verProc"
        ]
    );
    assert!(
        xml.contains("<dhEmi>2026-08-20T14:30:00-03:00</dhEmi>"),
        "fraction dropped"
    );
    assert!(xml.contains("<cUF>35</cUF>") && xml.contains("<cMunFG>3550308</cMunFG>"));
    assert!(xml.contains("<idDest>2</idDest>"));
    assert!(xml.contains(&format!(
        "<cDV>{}</cDV>",
        unsigned.access_key().check_digit()
    )));
}

#[test]
fn groups_follow_the_xsd_sequences() {
    let xml = build(&simples(true)).unwrap().inf_nfe_xml();
    assert_eq!(
        children_of(&xml, "emit"),
        ["CNPJ", "xNome", "xFant", "enderEmit", "IE", "CRT"]
    );
    assert_eq!(
        children_of(&xml, "enderEmit"),
        [
            "xLgr", "nro", "xCpl", "xBairro", "cMun", "xMun", "UF", "CEP", "cPais", "xPais", "fone"
        ]
    );
    assert_eq!(
        children_of(&xml, "dest"),
        ["CPF", "xNome", "enderDest", "indIEDest", "email"]
    );
    assert_eq!(
        children_of(&xml, "prod"),
        [
            "cProd", "cEAN", "xProd", "NCM", "CFOP", "uCom", "qCom", "vUnCom", "vProd", "cEANTrib",
            "uTrib", "qTrib", "vUnTrib", "vFrete", "vDesc", "indTot"
        ]
    );
    assert_eq!(children_of(&xml, "imposto"), ["ICMS", "PIS", "COFINS"]);
    assert_eq!(
        children_of(&xml, "ICMSTot"),
        [
            "vBC",
            "vICMS",
            "vICMSDeson",
            "vFCP",
            "vBCST",
            "vST",
            "vFCPST",
            "vFCPSTRet",
            "vProd",
            "vFrete",
            "vSeg",
            "vDesc",
            "vII",
            "vIPI",
            "vIPIDevol",
            "vPIS",
            "vCOFINS",
            "vOutro",
            "vNF"
        ]
    );
    assert_eq!(children_of(&xml, "detPag"), ["tPag", "vPag", "card"]);
    assert_eq!(
        children_of(&xml, "infRespTec"),
        ["CNPJ", "xContato", "email", "fone"]
    );
    let top: Vec<String> = children_of(&format!("<r>{xml}</r>"), "r");
    assert_eq!(top, ["infNFe"]);
}

#[test]
fn texts_are_sanitized_escaped_and_cut_to_the_schema_lengths() {
    let mut input = simples(true);
    input.items[0].description = format!("  Caneca “A&B” <nova>\n{}", "x".repeat(200));
    input.emitter.name = "Loja 😀 Teste".into();
    input.emitter.address.complement = Some("   ".into());
    let xml = build(&input).unwrap().inf_nfe_xml();
    let start = xml.find("<xProd>").unwrap() + 7;
    let xprod = &xml[start..start + xml[start..].find("</xProd>").unwrap()];
    assert!(xprod.starts_with("Caneca \"A&amp;B\" &lt;nova&gt; xxx"));
    let unescaped = xprod
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    assert_eq!(unescaped.chars().count(), 120);
    assert!(xml.contains("<xNome>Loja Teste</xNome>"));
    assert!(!xml.contains("<xCpl>"), "a blank optional field is omitted");
    assert!(!xml.contains("/>"), "no self-closed elements");
    assert!(!has_empty_element(&xml), "no empty elements");
}

#[test]
fn item_values_and_totals_are_sums_of_rounded_item_values() {
    let mut input = input(
        Environment::Production,
        TaxRegime::Normal,
        cpf_buyer(campinas_address()),
        items(3, normal_taxes(false), 5102, 0, 0),
        pix(),
    );
    // Three items of 0.03 at 18 %: 0.0054 rounds half-up to 0.01 per item, so vICMS = 0.03,
    // where applying the rate to the document's 0.09 would give 0.0162 → 0.02.
    for item in &mut input.items {
        item.quantity = 1;
        item.unit_price = 3;
    }
    let unsigned = build(&input).unwrap();
    let t = unsigned.totals();
    assert_eq!(t.products, 9);
    assert_eq!(t.icms, 3);
    assert_eq!(t.total, 9);
    let xml = unsigned.inf_nfe_xml();
    assert_eq!(xml.matches("<vICMS>0.01</vICMS>").count(), 3);
    assert!(xml.contains("<vBC>0.09</vBC><vICMS>0.03</vICMS><vICMSDeson>"));
}

#[test]
fn homologation_replaces_the_recipient_name_only() {
    let mut input = simples(true);
    input.environment = Environment::Homologation;
    let xml = build(&input).unwrap().inf_nfe_xml();
    assert!(xml.contains(
        "<xNome>NF-E EMITIDA EM AMBIENTE DE HOMOLOGACAO - SEM VALOR FISCAL</xNome><enderDest>"
    ));
    assert!(xml.contains("<xNome>Loja Teste Comércio Eletrônico Ltda</xNome>"));
    assert!(xml.contains("<tpAmb>2</tpAmb>"));
}

#[test]
fn an_invoice_needs_one_to_990_items() {
    let mut input = simples(true);
    input.items.clear();
    input.freight_total = 0;
    input.discount_total = 0;
    assert_eq!(build(&input), Err(BuildError::NoItems));
    input.items = items(991, simples_taxes(), 5102, 0, 0);
    assert_eq!(build(&input), Err(BuildError::TooManyItems(991)));
    input.items.truncate(990);
    assert!(build(&input).is_ok());
}

#[test]
fn a_bad_ncm_is_refused_with_its_path() {
    let mut input = simples(true);
    input.items[1].ncm = "8471.49".into();
    assert!(matches!(
        build(&input),
        Err(BuildError::Invalid { field, .. }) if field == "det[2]/prod/NCM"
    ));
}

#[test]
fn a_non_whole_hour_offset_is_refused() {
    let mut input = simples(true);
    input.issued_at = datetime!(2026-08-20 14:30:00 UTC).to_offset(offset!(+05:30));
    assert_eq!(build(&input), Err(BuildError::Offset(19_800)));
    input.issued_at = datetime!(2026-08-20 14:30:00 -12:00);
    assert!(matches!(build(&input), Err(BuildError::Offset(_))));
}

#[test]
fn bad_cpf_and_cnpj_cannot_even_be_constructed() {
    let cpf: Result<Cpf, IdError> = Cpf::parse("123.456.789-00");
    assert!(cpf.is_err());
    assert!(Cpf::parse("5299822472").is_err());
    assert!(Cnpj::parse("12ABC34501DE3").is_err());
    assert!(Cnpj::parse("12ABC34501DEXX").is_err());
    // They convert into BuildError for callers who parse and build in one function.
    let err: BuildError = Cnpj::parse("1").unwrap_err().into();
    assert!(err.to_string().contains("CNPJ"));
}

#[test]
fn totals_must_match_the_items_shares() {
    let mut input = simples(true);
    input.freight_total += 1;
    assert!(matches!(
        build(&input),
        Err(BuildError::TotalsMismatch {
            field: "ICMSTot/vFrete",
            ..
        })
    ));
    let mut input = simples(true);
    input.discount_total = 0;
    assert!(matches!(
        build(&input),
        Err(BuildError::TotalsMismatch {
            field: "ICMSTot/vDesc",
            ..
        })
    ));
}

#[test]
fn item_taxes_must_match_the_emitters_regime() {
    let mut input = simples(true);
    input.items[0].taxes = normal_taxes(false);
    assert!(
        matches!(build(&input), Err(BuildError::Invalid { field, .. }) if field == "det[1]/imposto")
    );
}

#[test]
fn ibs_cbs_is_on_every_item_or_none() {
    let mut input = input(
        Environment::Production,
        TaxRegime::Normal,
        cpf_buyer(campinas_address()),
        items(2, normal_taxes(true), 5102, 0, 0),
        pix(),
    );
    input.items[1].taxes = normal_taxes(false);
    assert!(
        matches!(build(&input), Err(BuildError::Invalid { field, .. }) if field == "det/imposto/IBSCBS")
    );
}

#[test]
fn the_cfop_must_match_the_destination() {
    let mut input = simples(true);
    input.items[0].cfop = 6108;
    assert!(
        matches!(build(&input), Err(BuildError::Invalid { field, .. }) if field == "det[1]/prod/CFOP")
    );
    let mut input = simples(false);
    input.items[1].cfop = 5102;
    assert!(
        matches!(build(&input), Err(BuildError::Invalid { field, .. }) if field == "det[2]/prod/CFOP")
    );
}

#[test]
fn regime_normal_interstate_sales_are_not_supported_yet() {
    let input = input(
        Environment::Production,
        TaxRegime::Normal,
        cpf_buyer(curitiba_address()),
        items(1, normal_taxes(false), 6108, 0, 0),
        pix(),
    );
    assert!(matches!(build(&input), Err(BuildError::Unsupported(_))));
}

#[test]
fn required_texts_that_sanitize_to_nothing_are_refused() {
    let mut input = simples(true);
    input.recipient.name = "😀".into();
    assert!(
        matches!(build(&input), Err(BuildError::Invalid { field, .. }) if field == "dest/xNome")
    );
    // …but not in homologation, where the name is replaced anyway.
    input.environment = Environment::Homologation;
    assert!(build(&input).is_ok());
}

#[test]
fn cnf_must_differ_from_the_number_and_not_be_trivial() {
    let mut input = simples(true);
    input.number = 61_275_652;
    assert!(matches!(build(&input), Err(BuildError::Invalid { field, .. }) if field == "ide/cNF"));
    assert!(matches!(
        Cnf::parse("12345678"),
        Err(KeyError::CnfTrivial(_))
    ));
}

#[test]
fn municipality_codes_cep_and_phone_are_checked() {
    let mut input = simples(true);
    input.recipient.address.municipality_code = 4106902; // Curitiba, but UF is SP
    assert!(
        matches!(build(&input), Err(BuildError::Invalid { field, .. }) if field == "dest/enderDest/cMun")
    );
    let mut input = simples(true);
    input.emitter.address.cep = "0131-200".into();
    assert!(
        matches!(build(&input), Err(BuildError::Invalid { field, .. }) if field == "emit/enderEmit/CEP")
    );
    let mut input = simples(true);
    input.technical_responsible.phone = "123".into();
    assert!(
        matches!(build(&input), Err(BuildError::Invalid { field, .. }) if field == "infRespTec/fone")
    );
}

#[test]
fn discounts_cannot_exceed_the_item_and_the_total_must_be_positive() {
    let mut input = simples(true);
    input.items[0].discount = input.items[0].unit_price * i64::from(input.items[0].quantity) + 1;
    input.discount_total = input.items.iter().map(|i| i.discount).sum();
    assert!(
        matches!(build(&input), Err(BuildError::Invalid { field, .. }) if field == "det[1]/prod/vDesc")
    );

    let mut input = simples(true);
    for item in &mut input.items {
        item.freight = 0;
        item.discount = item.unit_price * i64::from(item.quantity);
    }
    input.freight_total = 0;
    input.discount_total = input.items.iter().map(|i| i.discount).sum();
    assert!(
        matches!(build(&input), Err(BuildError::Invalid { field, .. }) if field == "total/ICMSTot/vNF")
    );
}

#[test]
fn card_installments_are_1_to_99() {
    let mut input = simples(true);
    input.payment = Payment::CreditCard {
        brand: vitrine_nfe::CardBrand::Visa,
        authorization: "123".into(),
        acquirer_cnpj: None,
        installments: 0,
    };
    assert!(build(&input).is_err());
    if let Payment::CreditCard { installments, .. } = &mut input.payment {
        *installments = 12;
    }
    let xml = build(&input).unwrap().inf_nfe_xml();
    assert!(xml.contains("<card><tpIntegra>1</tpIntegra><tBand>01</tBand><cAut>123</cAut></card>"));
    assert!(xml.contains("Pagamento com cartão de crédito em 12x."));
}

#[test]
fn the_canonical_inf_nfe_is_the_written_one_with_the_namespace() {
    let unsigned = build(&simples(true)).unwrap();
    let written = unsigned.inf_nfe_xml();
    let canonical = unsigned.canonical_inf_nfe();
    assert_eq!(
        canonical.replacen(" xmlns=\"http://www.portalfiscal.inf.br/nfe\"", "", 1),
        written
    );
    let id = unsigned.access_key().id();
    let document = format!("<NFe xmlns=\"http://www.portalfiscal.inf.br/nfe\">{written}</NFe>");
    assert_eq!(
        vitrine_nfe::c14n::canonicalize_by_id(&document, &id).unwrap(),
        canonical
    );
}

fn in_contingency(kind: ContingencyKind, justification: &str) -> NfeInput {
    let mut input = simples(false);
    input.contingency = Some(Contingency {
        kind,
        // 15:10:00.5 UTC is 12:10:00 at the issue's −03:00.
        since: datetime!(2026-08-20 15:10:00.500 UTC),
        justification: justification.into(),
    });
    input
}

const JUSTIFICATION: &str = "SEFAZ-SP fora do ar desde as 12h";

#[test]
fn contingency_sets_tp_emis_in_ide_and_key_and_adds_dh_cont_and_x_just_after_ver_proc() {
    let normal = build(&simples(false)).unwrap();
    assert_eq!(&normal.access_key().as_str()[34..35], "1");
    assert!(normal.inf_nfe_xml().contains("<tpEmis>1</tpEmis>"));

    for (kind, code) in [(ContingencyKind::SvcAn, "6"), (ContingencyKind::SvcRs, "7")] {
        let unsigned = build(&in_contingency(kind, JUSTIFICATION)).unwrap();
        let key = unsigned.access_key().as_str();
        assert_eq!(&key[34..35], code, "tpEmis is the key's position 35");
        assert_eq!(key[..34], normal.access_key().as_str()[..34]);
        assert_eq!(key[35..43], normal.access_key().as_str()[35..43]);
        let xml = unsigned.inf_nfe_xml();
        assert!(xml.contains(&format!("<tpEmis>{code}</tpEmis>")));
        let ide = children_of(&xml, "ide");
        assert_eq!(ide[ide.len() - 3..], ["verProc", "dhCont", "xJust"]);
        assert!(xml.contains(
            "<verProc>vitrine 0.1.0</verProc><dhCont>2026-08-20T12:10:00-03:00</dhCont>\
             <xJust>SEFAZ-SP fora do ar desde as 12h</xJust></ide>"
        ));
    }
}

#[test]
fn a_contingency_justification_must_have_15_to_256_characters() {
    for short in [
        "Sefaz fora 14c",
        "   Sefaz fora 14c   ",
        "Sefaz\n\tfora  14c",
    ] {
        assert_eq!(
            short
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .count(),
            14
        );
        let refused = build(&in_contingency(ContingencyKind::SvcAn, short));
        assert!(
            matches!(&refused, Err(BuildError::Invalid { field, reason })
                if field == "ide/xJust" && reason.contains("15 to 256") && reason.contains("got 14")),
            "{short:?}: {refused:?}"
        );
    }
    let long = "x".repeat(257);
    assert!(matches!(
        build(&in_contingency(ContingencyKind::SvcAn, &long)),
        Err(BuildError::Invalid { field, .. }) if field == "ide/xJust"
    ));
    for ok in ["Sefaz fora 15ch".to_owned(), "x".repeat(256)] {
        let xml = build(&in_contingency(ContingencyKind::SvcAn, &ok))
            .unwrap()
            .inf_nfe_xml();
        assert!(
            xml.contains(&format!("<xJust>{ok}</xJust>")),
            "never padded nor cut"
        );
    }
}

#[test]
fn entering_contingency_after_the_issue_time_is_refused() {
    let mut input = in_contingency(ContingencyKind::SvcAn, JUSTIFICATION);
    input.contingency.as_mut().unwrap().since = datetime!(2026-08-20 14:30:01 -03:00);
    assert!(matches!(
        build(&input),
        Err(BuildError::Invalid { field, .. }) if field == "ide/dhCont"
    ));
    input.contingency.as_mut().unwrap().since = datetime!(2026-08-20 14:30:00 -03:00);
    assert!(build(&input).is_ok(), "the same second as dhEmi is fine");
}
