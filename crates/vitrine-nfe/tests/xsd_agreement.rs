//! The in-process [`XsdValidator`] against `xmllint`, the independent oracle: on every document
//! these tests generate, on the real SEFAZ sample, and on documents broken by mutation from valid
//! ones (each element removed, duplicated, swapped with its next sibling, renamed, followed by an
//! unexpected element, given whitespace inside; each text emptied, overlong, padded, given a
//! character outside the schema's range, a letter, nines, a child element; each attribute
//! removed or changed, an unknown one added; the document cut short, its tags mismatched, two
//! roots, an undeclared root), for each entry document, the
//! verdict (valid/invalid) must be the same. The counts are printed to be quoted.
//!
//! `xmllint` validates each batch in one run (`xmllint --noout --schema S f1 f2 …`, one
//! "validates"/"fails to validate" line per file), so the schemas are parsed once per batch.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use common::*;
use vitrine_nfe::{
    Environment, NfeInput, Payment, SchemaDocument, SchemaValidator, TaxRegime, ValidationError,
    XsdValidator, build,
};

const SAMPLE_KEY: &str = "41170706117473000150550010000463201612756527";

fn sample(suffix: &str) -> String {
    match shared_nfe_dir() {
        Some(dir) => {
            std::fs::read_to_string(dir.join(format!("samples/{SAMPLE_KEY}-{suffix}.xml")))
                .expect("read the sample")
        }
        None if suffix == "nfe" => {
            include_str!("data/41170706117473000150550010000463201612756527-nfe.xml").into()
        }
        None => String::new(),
    }
}

/// The inputs of this crate's acceptance and validation tests.
fn generated_inputs() -> Vec<NfeInput> {
    let mut one_card = input(
        Environment::Production,
        TaxRegime::Normal,
        cpf_buyer(sao_paulo_address()),
        items(1, normal_taxes(true), 5102, 1_000, 0),
        card_3x(),
    );
    if let Payment::CreditCard { installments, .. } = &mut one_card.payment {
        *installments = 1;
    }
    let mut numeric_cnpj = input(
        Environment::Homologation,
        TaxRegime::SimplesNacional,
        cpf_buyer(sao_paulo_address()),
        items(3, simples_taxes(), 5102, 0, 0),
        pix(),
    );
    numeric_cnpj.emitter.cnpj = cnpj(OTHER_STORE_CNPJ);
    let mut svc_contingency = input(
        Environment::Homologation,
        TaxRegime::SimplesNacional,
        cpf_buyer(campinas_address()),
        items(2, simples_taxes(), 5102, 0, 0),
        pix(),
    );
    svc_contingency.contingency = Some(vitrine_nfe::Contingency {
        kind: vitrine_nfe::ContingencyKind::SvcAn,
        since: time::macros::datetime!(2026-08-20 13:55:00 -03:00),
        justification: "SEFAZ-SP sem resposta (status 109) desde 13h55".into(),
    });
    vec![
        input(
            Environment::Homologation,
            TaxRegime::SimplesNacional,
            cpf_buyer(curitiba_address()),
            items(1, simples_taxes(), 6108, 1_500, 0),
            pix(),
        ),
        input(
            Environment::Production,
            TaxRegime::SimplesNacional,
            cnpj_buyer(campinas_address()),
            items(40, simples_taxes(), 5102, 2_990, 1_000),
            card_3x(),
        ),
        input(
            Environment::Homologation,
            TaxRegime::Normal,
            cpf_buyer(sao_paulo_address()),
            items(40, normal_taxes(true), 5102, 4_321, 555),
            pix(),
        ),
        input(
            Environment::Production,
            TaxRegime::Normal,
            cnpj_buyer(campinas_address()),
            items(1, normal_taxes(false), 5102, 0, 199),
            card_3x(),
        ),
        one_card,
        numeric_cnpj,
        input(
            Environment::Homologation,
            TaxRegime::SimplesNacional,
            cnpj_buyer(campinas_address()),
            items(2, simples_taxes(), 5102, 500, 100),
            pix(),
        ),
        // Last: the indices above choose which bases are mutated.
        svc_contingency,
    ]
}

fn envi(nfe_element: &str) -> String {
    format!(
        "<enviNFe xmlns=\"http://www.portalfiscal.inf.br/nfe\" versao=\"4.00\"><idLote>1</idLote><indSinc>1</indSinc>{nfe_element}</enviNFe>"
    )
}

fn proc(nfe_element: &str, key: &str, digest: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><nfeProc xmlns=\"http://www.portalfiscal.inf.br/nfe\" versao=\"4.00\">{nfe_element}<protNFe versao=\"4.00\"><infProt><tpAmb>2</tpAmb><verAplic>SP_NFE_PL009_V4</verAplic><chNFe>{key}</chNFe><dhRecbto>2026-08-20T14:30:05-03:00</dhRecbto><nProt>135260000000001</nProt><digVal>{digest}</digVal><cStat>100</cStat><xMotivo>Autorizado o uso da NF-e</xMotivo></infProt></protNFe></nfeProc>"
    )
}

/// Documents broken (or not) from `xml`: every mutation below at every element.
fn mutations(xml: &str) -> Vec<(String, String)> {
    let doc = roxmltree::Document::parse(xml).expect("a well-formed base");
    let mut out = Vec::new();
    let mut push = |what: String, text: String| out.push((what, text));
    let splice = |range: std::ops::Range<usize>, with: &str| {
        format!("{}{with}{}", &xml[..range.start], &xml[range.end..])
    };
    for node in doc.descendants().filter(|n| n.is_element()) {
        let name = node.tag_name().name();
        let r = node.range();
        let source = &xml[r.clone()];
        let is_root = node.parent().is_some_and(|p| p.is_root());
        if !is_root {
            push(format!("remove {name}"), splice(r.clone(), ""));
            push(format!("duplicate {name}"), splice(r.end..r.end, source));
            push(
                format!("unexpected element after {name}"),
                splice(r.end..r.end, "<xUnexpected>1</xUnexpected>"),
            );
            if let Some(next) = node.next_sibling_element() {
                let n = next.range();
                push(
                    format!("swap {name} and {}", next.tag_name().name()),
                    format!(
                        "{}{}{}{}{}",
                        &xml[..r.start],
                        &xml[n.clone()],
                        &xml[r.end..n.start],
                        source,
                        &xml[n.end..]
                    ),
                );
            }
        }
        // Renamed: the start and end tags get another name.
        if let (Some(open_end), Some(close)) = (source.find('>'), source.rfind("</"))
            && close > open_end
        {
            let renamed = format!("<{name}X{}</{name}X>", &source[1 + name.len()..close],);
            push(format!("rename {name}"), splice(r.clone(), &renamed));
            let inner = open_end + 1..close;
            let content = &source[inner.clone()];
            let is_leaf = node.children().all(|c| !c.is_element()) && !content.is_empty();
            // Whitespace among children (allowed) or in a simple value (per its whiteSpace).
            push(
                format!("whitespace inside {name}"),
                splice(r.start + open_end + 1..r.start + open_end + 1, "\n\t "),
            );
            if is_leaf {
                let abs = r.start + inner.start..r.start + inner.end;
                push(format!("empty {name}"), splice(abs.clone(), ""));
                push(
                    format!("overlong {name}"),
                    splice(abs.clone(), &format!("{content}{}", "9".repeat(2100))),
                );
                push(
                    format!("leading space {name}"),
                    splice(abs.clone(), &format!(" {content}")),
                );
                push(
                    format!("trailing tab {name}"),
                    splice(abs.clone(), &format!("{content}\t")),
                );
                push(
                    format!("emoji in {name}"),
                    splice(abs.clone(), &format!("{content}\u{1F600}")),
                );
                push(
                    format!("letter in {name}"),
                    splice(
                        abs.clone(),
                        &format!(
                            "x{}",
                            &content[content.chars().next().map_or(0, char::len_utf8)..]
                        ),
                    ),
                );
                // Same length, other characters: enumerations and patterns.
                push(
                    format!("nines in {name}"),
                    splice(abs.clone(), &"9".repeat(content.chars().count())),
                );
                push(
                    format!("child element in {name}"),
                    splice(abs.start..abs.start, "<b>1</b>"),
                );
            }
        }
        for attribute in node.attributes() {
            let a = attribute.name();
            let value = attribute.value();
            let written = format!("{a}=\"{value}\"");
            if let Some(at) = source.find(&written) {
                let abs = r.start + at..r.start + at + written.len();
                push(format!("remove @{a} of {name}"), splice(abs.clone(), ""));
                push(
                    format!("bad @{a} of {name}"),
                    splice(abs.clone(), &format!("{a}=\"x{value}\"")),
                );
            }
        }
        push(
            format!("unknown attribute on {name}"),
            splice(
                r.start + 1 + name.len()..r.start + 1 + name.len(),
                " foo=\"1\"",
            ),
        );
    }
    let root = doc.root_element();
    let rr = root.range();
    push("cut short".into(), xml[..rr.end - 3].to_owned());
    push(
        "mismatched end tag".into(),
        format!(
            "{}</{}X>",
            &xml[..rr.end - root.tag_name().name().len() - 3],
            root.tag_name().name()
        ),
    );
    push("two roots".into(), format!("{xml}{}", &xml[rr.clone()]));
    push(
        "undeclared root".into(),
        xml.replacen(&format!("<{}", root.tag_name().name()), "<xRoot", 1)
            .replacen(&format!("</{}>", root.tag_name().name()), "</xRoot>", 1),
    );
    out
}

/// `xmllint`'s verdict on each file of one batch (`true` = valid).
fn xmllint_batch(schema: &Path, files: &[std::path::PathBuf]) -> Vec<bool> {
    let mut verdicts = Vec::new();
    for chunk in files.chunks(400) {
        let out = Command::new("xmllint")
            .args(["--noout", "--nonet", "--schema"])
            .arg(schema)
            .args(chunk)
            .output()
            .expect("run xmllint");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let valid: HashSet<&str> = stderr
            .lines()
            .filter_map(|l| l.strip_suffix(" validates"))
            .collect();
        verdicts.extend(chunk.iter().map(|f| valid.contains(f.to_str().unwrap())));
    }
    verdicts
}

#[test]
fn the_in_process_validator_agrees_with_xmllint() {
    if !require_tool("xmllint", "libxml2-utils") {
        return;
    }
    let validator = XsdValidator::official();
    let schemas = tempfile::tempdir().unwrap();
    for (name, bytes) in vitrine_nfe::validate::SCHEMA_FILES {
        std::fs::write(schemas.path().join(name), bytes).unwrap();
    }

    // Valid bases, per entry document.
    let mut bases: Vec<(SchemaDocument, &str, String)> = Vec::new();
    for (i, input) in generated_inputs().iter().enumerate() {
        let certificate = if input.emitter.cnpj == cnpj(OTHER_STORE_CNPJ) {
            other_store_certificate()
        } else {
            store_certificate()
        };
        let signed = build(input).unwrap().sign(certificate).unwrap();
        // Mutated: a Simples Nacional and a regime-normal one, each with its lote and nfeProc.
        let label = |kind: &'static str, mutated: &'static str| {
            if i == 0 || i == 3 { mutated } else { kind }
        };
        bases.push((
            SchemaDocument::Nfe,
            label("generated", "generated, mutated"),
            signed.xml().to_owned(),
        ));
        if i == 0 || i == 3 {
            bases.push((
                SchemaDocument::EnviNfe,
                "generated lote, mutated",
                envi(signed.nfe_element()),
            ));
            bases.push((
                SchemaDocument::NfeProc,
                "generated nfeProc, mutated",
                proc(
                    signed.nfe_element(),
                    signed.access_key().as_str(),
                    signed.digest_value(),
                ),
            ));
        }
    }
    bases.push((SchemaDocument::Nfe, "sample", sample("nfe")));
    let sample_proc = sample("procNFe");
    if !sample_proc.is_empty() {
        bases.push((SchemaDocument::NfeProc, "sample nfeProc", sample_proc));
    }

    // Every base as is, and every mutation of the smaller ones (the 40-item documents differ
    // from the others only by repetition).
    let mut corpus: Vec<(SchemaDocument, String, String)> = Vec::new();
    for (document, label, xml) in &bases {
        corpus.push((*document, format!("{label} as is"), xml.clone()));
        if label.contains("mutated") || label.starts_with("sample") {
            for (what, text) in mutations(xml) {
                corpus.push((*document, format!("{label}: {what}"), text));
            }
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let mut disagreements = Vec::new();
    let (mut valid, mut invalid) = (0, 0);
    let mut per_entry = Vec::new();
    for document in [
        SchemaDocument::Nfe,
        SchemaDocument::EnviNfe,
        SchemaDocument::NfeProc,
    ] {
        let cases: Vec<&(SchemaDocument, String, String)> =
            corpus.iter().filter(|c| c.0 == document).collect();
        let files: Vec<std::path::PathBuf> = cases
            .iter()
            .enumerate()
            .map(|(i, (_, _, xml))| {
                let path = dir
                    .path()
                    .join(format!("{}-{i}.xml", document.schema_file()));
                std::fs::write(&path, xml).unwrap();
                path
            })
            .collect();
        let oracle = xmllint_batch(&schemas.path().join(document.schema_file()), &files);
        let mut entry_invalid = 0;
        for ((_, what, xml), expected) in cases.iter().zip(oracle) {
            let ours = match validator.validate(document, xml) {
                Ok(()) => true,
                Err(ValidationError::Invalid(_)) => false,
                Err(ValidationError::Unavailable(e)) => panic!("{what}: unavailable: {e}"),
            };
            if expected {
                valid += 1;
            } else {
                invalid += 1;
                entry_invalid += 1;
            }
            if ours != expected {
                let why = format!("{:?}", validator.validate(document, xml).err());
                let why: String = why.chars().take(300).collect();
                disagreements.push(format!(
                    "{document:?} {what}: xmllint {expected}, ours {ours} ({why})"
                ));
            }
        }
        per_entry.push(format!(
            "{document:?}: {} documents, {entry_invalid} invalid",
            cases.len()
        ));
    }
    let total = corpus.len();
    println!(
        "xsd agreement: {total} documents ({valid} valid, {invalid} invalid for xmllint; {}); {} agreements, {} disagreements",
        per_entry.join(", "),
        total - disagreements.len(),
        disagreements.len()
    );
    assert!(
        invalid >= 100,
        "at least 100 invalid documents, got {invalid}"
    );
    assert!(valid >= bases.len(), "every base is valid");
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
