//! The real, SEFAZ-authorized sample (`shared/nfe/samples/…-nfe.xml`) as a fixture for the key
//! routine, the canonicalizer, the signature verifier and the schema validator.

mod common;

use vitrine_nfe::c14n::canonicalize_by_id;
use vitrine_nfe::key::check_digit;
use vitrine_nfe::{
    AccessKey, SchemaDocument, SchemaValidator, VerifyError, Xmllint, XsdValidator, verify,
};

const SAMPLE_KEY: &str = "41170706117473000150550010000463201612756527";
const SAMPLE_DIGEST: &str = "+GzukUqyGg3ksWFUU/e6HsguR0A=";

/// The sample, read from the shared folder, or embedded: the file is tiny and public, and these
/// tests must not silently vanish on a machine without `shared/`.
fn sample() -> String {
    match common::shared_nfe_dir() {
        Some(dir) => std::fs::read_to_string(dir.join(format!("samples/{SAMPLE_KEY}-nfe.xml")))
            .expect("read the sample"),
        None => include_str!("data/41170706117473000150550010000463201612756527-nfe.xml").into(),
    }
}

#[test]
fn the_embedded_copy_of_the_sample_equals_the_shared_one() {
    let Some(dir) = common::shared_nfe_dir() else {
        eprintln!("SKIPPED: no shared/nfe folder next to the workspace");
        return;
    };
    let shared = std::fs::read(dir.join(format!("samples/{SAMPLE_KEY}-nfe.xml"))).unwrap();
    let ours: &[u8] = include_bytes!("data/41170706117473000150550010000463201612756527-nfe.xml");
    assert!(
        shared == ours,
        "tests/data copy differs from shared/nfe/samples"
    );
}

#[test]
fn the_samples_access_key_has_check_digit_7() {
    assert_eq!(check_digit(&SAMPLE_KEY[..43]), Some(7));
    assert_eq!(AccessKey::parse(SAMPLE_KEY).unwrap().check_digit(), 7);
    let xml = sample();
    assert!(xml.contains("<cDV>7</cDV>"));
    assert!(xml.contains(&format!("Id=\"NFe{SAMPLE_KEY}\"")));
}

#[test]
fn the_alphanumeric_example_key_has_check_digit_4() {
    assert_eq!(
        check_digit("35260712ABC34501DE3555001000000001100000001"),
        Some(4)
    );
}

#[test]
fn canonicalizing_the_samples_inf_nfe_reproduces_its_digest_value() {
    use base64::Engine as _;
    use sha1::Digest as _;
    let xml = sample();
    let canonical = canonicalize_by_id(&xml, &format!("NFe{SAMPLE_KEY}")).unwrap();
    assert!(canonical.starts_with(&format!(
        "<infNFe xmlns=\"http://www.portalfiscal.inf.br/nfe\" Id=\"NFe{SAMPLE_KEY}\" versao=\"4.00\">"
    )));
    assert!(canonical.contains("<cEAN></cEAN>"));
    let digest = base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(&canonical));
    assert_eq!(digest, SAMPLE_DIGEST);
}

#[test]
fn the_samples_signature_verifies_with_its_certificate() {
    let verified = verify(&sample()).unwrap();
    assert_eq!(verified.reference_id, format!("NFe{SAMPLE_KEY}"));
    assert_eq!(verified.digest_value, SAMPLE_DIGEST);
    // The real e-CNPJ carries the company's CNPJ in the ICP-Brasil otherName.
    assert_eq!(
        verified.certificate.icp_brasil_cnpj.as_deref(),
        Some("06117473000150")
    );
    assert!(verified.certificate.subject.contains("UNIMAKE"));
    assert_eq!(verified.certificate.not_after.year(), 2018);
}

#[test]
fn a_changed_sample_no_longer_verifies() {
    let xml = sample();
    let changed = xml.replacen("<vProd>84.90</vProd>", "<vProd>84.91</vProd>", 1);
    assert!(matches!(
        verify(&changed),
        Err(VerifyError::DigestMismatch { .. })
    ));
    let value = "Wm3gE99vp71Qf9OQFu0JOpMHQ6C35G5kiXssVroKz9YY";
    let resigned = xml.replacen(value, "Xm3gE99vp71Qf9OQFu0JOpMHQ6C35G5kiXssVroKz9YY", 1);
    assert_eq!(verify(&resigned), Err(VerifyError::BadSignature));
    let reindented = xml.replacen("<ide>", "<ide>\n  ", 1);
    assert!(matches!(
        verify(&reindented),
        Err(VerifyError::DigestMismatch { .. })
    ));
}

#[test]
fn a_signature_in_another_shape_is_refused() {
    let xml = sample().replacen(
        "http://www.w3.org/2000/09/xmldsig#sha1",
        "http://www.w3.org/2001/04/xmlenc#sha256",
        1,
    );
    assert!(matches!(verify(&xml), Err(VerifyError::Structure(_))));
}

#[test]
fn the_sample_is_schema_valid_for_the_in_process_validator() {
    let validator = XsdValidator::official();
    validator.validate(SchemaDocument::Nfe, &sample()).unwrap();
    if let Some(dir) = common::shared_nfe_dir() {
        let proc =
            std::fs::read_to_string(dir.join(format!("samples/{SAMPLE_KEY}-procNFe.xml"))).unwrap();
        validator.validate(SchemaDocument::NfeProc, &proc).unwrap();
    }
}

#[test]
fn the_sample_is_schema_valid_for_the_xmllint_validator() {
    if !common::require_tool("xmllint", "libxml2-utils") {
        return;
    }
    let validator = Xmllint::new().unwrap();
    validator.validate(SchemaDocument::Nfe, &sample()).unwrap();
    if let Some(dir) = common::shared_nfe_dir() {
        let proc =
            std::fs::read_to_string(dir.join(format!("samples/{SAMPLE_KEY}-procNFe.xml"))).unwrap();
        validator.validate(SchemaDocument::NfeProc, &proc).unwrap();
    }
}
