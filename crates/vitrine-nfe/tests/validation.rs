//! The schema gate: the in-process [`XsdValidator`] and the [`Xmllint`] adapter accept our
//! documents and refuse broken ones naming the element (the adapter the way the `xmllint`
//! command line does), and the adapter says "unavailable" (never "valid") without xmllint.

mod common;

use common::*;
use vitrine_nfe::{
    Environment, SchemaDocument, SchemaValidator, TaxRegime, ValidationError, Xmllint,
    XsdValidator, build,
};

fn valid_document() -> String {
    let input = input(
        Environment::Homologation,
        TaxRegime::SimplesNacional,
        cnpj_buyer(campinas_address()),
        items(2, simples_taxes(), 5102, 500, 100),
        pix(),
    );
    build(&input)
        .unwrap()
        .sign(store_certificate())
        .unwrap()
        .into_xml()
}

/// Each case: a name, the broken document, and a fragment the validator's message must contain.
fn broken_documents(valid: &str) -> Vec<(&'static str, String, &'static str)> {
    let must_change = |from: &str, to: &str| {
        assert!(valid.contains(from), "fixture lacks {from}");
        valid.replacen(from, to, 1)
    };
    vec![
        (
            "missing required element",
            must_change("<indTot>1</indTot>", ""),
            "indTot",
        ),
        (
            "wrong order",
            must_change(
                "<mod>55</mod><serie>1</serie>",
                "<serie>1</serie><mod>55</mod>",
            ),
            "serie",
        ),
        (
            "bad TDec format",
            must_change("<vSeg>0.00</vSeg>", "<vSeg>0.0</vSeg>"),
            "vSeg",
        ),
        (
            "empty optional element",
            must_change("<nro>900</nro>", "<nro>900</nro><xCpl></xCpl>"),
            "xCpl",
        ),
        (
            "bad pattern",
            must_change("<cNF>61275652</cNF>", "<cNF>6127565</cNF>"),
            "cNF",
        ),
        (
            "TString with a leading space",
            must_change("<natOp>VENDA", "<natOp> VENDA"),
            "natOp",
        ),
        (
            "unsigned",
            {
                let start = valid.find("<Signature").unwrap();
                let end = valid.find("</Signature>").unwrap() + "</Signature>".len();
                format!("{}{}", &valid[..start], &valid[end..])
            },
            "Signature",
        ),
        ("not well-formed", must_change("</ide>", "</idee>"), "idee"),
    ]
}

#[test]
fn the_in_process_validator_accepts_our_document_and_refuses_broken_ones_naming_the_element() {
    let validator = XsdValidator::official();
    let valid = valid_document();
    validator.validate(SchemaDocument::Nfe, &valid).unwrap();
    for (name, xml, fragment) in broken_documents(&valid) {
        match validator.validate(SchemaDocument::Nfe, &xml) {
            Err(ValidationError::Invalid(messages)) => assert!(
                messages.iter().any(|m| m.contains(fragment)),
                "{name}: messages do not mention {fragment}: {messages:?}"
            ),
            other => panic!("{name}: expected Invalid, got {other:?}"),
        }
    }
}

#[test]
fn the_xmllint_validator_accepts_our_document_and_refuses_broken_ones_like_the_cli() {
    if !require_tool("xmllint", "libxml2-utils") {
        return;
    }
    let validator = Xmllint::new().unwrap();
    let valid = valid_document();
    validator.validate(SchemaDocument::Nfe, &valid).unwrap();

    let dir = samples_out_dir().join("broken");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, xml, fragment) in broken_documents(&valid) {
        match validator.validate(SchemaDocument::Nfe, &xml) {
            Err(ValidationError::Invalid(messages)) => assert!(
                messages.iter().any(|m| m.contains(fragment)),
                "{name}: messages do not mention {fragment}: {messages:?}"
            ),
            other => panic!("{name}: expected Invalid, got {other:?}"),
        }
        // The command line on the shared schema gives the same verdict.
        let path = dir.join(format!("{}.xml", name.replace(' ', "-")));
        std::fs::write(&path, &xml).unwrap();
        assert!(
            xmllint(&nfe_schema(), &path).is_err(),
            "{name}: the xmllint CLI accepted it"
        );
    }
}

#[test]
fn an_envi_nfe_lote_built_from_the_signed_element_is_valid() {
    if !require_tool("xmllint", "libxml2-utils") {
        return;
    }
    let input = input(
        Environment::Homologation,
        TaxRegime::SimplesNacional,
        cpf_buyer(campinas_address()),
        items(1, simples_taxes(), 5102, 0, 0),
        pix(),
    );
    let signed = build(&input).unwrap().sign(store_certificate()).unwrap();
    let lote = format!(
        "<enviNFe xmlns=\"http://www.portalfiscal.inf.br/nfe\" versao=\"4.00\"><idLote>1</idLote><indSinc>1</indSinc>{}</enviNFe>",
        signed.nfe_element()
    );
    Xmllint::new()
        .unwrap()
        .validate(SchemaDocument::EnviNfe, &lote)
        .unwrap();
    // The embedded NFe still verifies inside the lote.
    vitrine_nfe::verify(&lote).unwrap();
}

#[test]
fn without_xmllint_the_validator_is_unavailable_never_valid() {
    let missing = Xmllint::with_program("/nonexistent/bin/xmllint");
    assert!(matches!(missing, Err(ValidationError::Unavailable(_))));
}

#[test]
fn the_embedded_schemas_are_complete_and_found_by_name() {
    let names: Vec<&str> = vitrine_nfe::validate::SCHEMA_FILES
        .iter()
        .map(|(n, _)| *n)
        .collect();
    for document in [
        SchemaDocument::Nfe,
        SchemaDocument::EnviNfe,
        SchemaDocument::NfeProc,
    ] {
        assert!(names.contains(&document.schema_file()));
    }
    // Every schemaLocation they reference is embedded too.
    for (name, bytes) in vitrine_nfe::validate::SCHEMA_FILES {
        let text = String::from_utf8_lossy(bytes);
        for (i, _) in text.match_indices("schemaLocation=\"") {
            let rest = &text[i + "schemaLocation=\"".len()..];
            let location = &rest[..rest.find('"').unwrap()];
            assert!(names.contains(&location), "{name} references {location}");
        }
    }
}
