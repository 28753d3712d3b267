//! Signing with an A1 certificate made at test time: PKCS#12 reading, the checks before
//! signing, and our verifier on our own documents.

mod common;

use std::process::Command;

use common::*;
use rsa::pkcs8::EncodePrivateKey;
use time::macros::datetime;
use vitrine_nfe::{
    CertificateError, Environment, NfeInput, SignError, SigningCertificate, TaxRegime, VerifyError,
    build, verify,
};

fn sample_input() -> NfeInput {
    input(
        Environment::Homologation,
        TaxRegime::SimplesNacional,
        cpf_buyer(campinas_address()),
        items(2, simples_taxes(), 5102, 300, 0),
        pix(),
    )
}

#[test]
fn a_pkcs12_file_opens_with_its_password_in_both_encryptions() {
    let made = make_certificate(Some(STORE_CNPJ), 10);
    for legacy in [false, true] {
        let cert = SigningCertificate::from_pkcs12(&made.pkcs12(legacy), PFX_PASSWORD).unwrap();
        assert_eq!(cert.certificate_der(), made.certificate_der.as_slice());
        assert_eq!(cert.info().icp_brasil_cnpj.as_deref(), Some(STORE_CNPJ));
        assert_eq!(cert.info().not_before, datetime!(2026-01-01 00:00 UTC));
        assert!(
            !format!("{cert:?}").contains("PRIVATE"),
            "Debug never shows the key"
        );
        assert!(matches!(
            SigningCertificate::from_pkcs12(&made.pkcs12(legacy), "wrong"),
            Err(CertificateError::Pkcs12(_))
        ));
    }
}

#[test]
fn a_pkcs12_exported_by_openssl_opens() {
    // Real A1 files come from CAs' tools; OpenSSL's export is the common denominator.
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("SKIPPED: openssl not installed");
        return;
    }
    let made = make_certificate(Some(STORE_CNPJ), 11);
    let dir = tempfile::tempdir().unwrap();
    let key_pem = made.key.to_pkcs8_pem(Default::default()).unwrap();
    std::fs::write(dir.path().join("key.pem"), key_pem.as_bytes()).unwrap();
    std::fs::write(dir.path().join("cert.der"), &made.certificate_der).unwrap();
    let to_pem = Command::new("openssl")
        .args([
            "x509", "-inform", "DER", "-in", "cert.der", "-out", "cert.pem",
        ])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(to_pem.success());
    for extra in [
        &[][..],
        &[
            "-certpbe",
            "PBE-SHA1-3DES",
            "-keypbe",
            "PBE-SHA1-3DES",
            "-macalg",
            "sha1",
        ][..],
    ] {
        let status = Command::new("openssl")
            .args(["pkcs12", "-export", "-inkey", "key.pem", "-in", "cert.pem"])
            .args([
                "-out",
                "a1.pfx",
                "-passout",
                &format!("pass:{PFX_PASSWORD}"),
            ])
            .args(extra)
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "openssl pkcs12 -export {extra:?}");
        let pfx = std::fs::read(dir.path().join("a1.pfx")).unwrap();
        let cert = SigningCertificate::from_pkcs12(&pfx, PFX_PASSWORD)
            .unwrap_or_else(|e| panic!("{extra:?}: {e}"));
        assert_eq!(cert.certificate_der(), made.certificate_der.as_slice());
    }
}

#[test]
fn a_key_and_a_certificate_that_do_not_match_are_refused() {
    let a = make_certificate(Some(STORE_CNPJ), 12);
    let b = make_certificate(Some(STORE_CNPJ), 13);
    let key = a.key.to_pkcs8_der().unwrap();
    assert!(SigningCertificate::from_der(key.as_bytes(), &a.certificate_der).is_ok());
    assert_eq!(
        SigningCertificate::from_der(key.as_bytes(), &b.certificate_der).unwrap_err(),
        CertificateError::NoMatchingCertificate
    );
}

#[test]
fn our_signature_verifies_and_any_change_breaks_it() {
    let signed = build(&sample_input())
        .unwrap()
        .sign(store_certificate())
        .unwrap();
    let verified = verify(signed.xml()).unwrap();
    assert_eq!(
        verified.certificate.icp_brasil_cnpj.as_deref(),
        Some(STORE_CNPJ)
    );
    assert_eq!(
        verified.certificate_der,
        store_certificate().certificate_der()
    );

    let changed = signed
        .xml()
        .replacen("<nNF>1234</nNF>", "<nNF>1235</nNF>", 1);
    assert!(matches!(
        verify(&changed),
        Err(VerifyError::DigestMismatch { .. })
    ));
    // Signing is deterministic (RSA PKCS#1 v1.5): the same document signs to the same bytes.
    let again = build(&sample_input())
        .unwrap()
        .sign(store_certificate())
        .unwrap();
    assert_eq!(again.xml(), signed.xml());
    assert_eq!(signed.nfe_element(), &signed.xml()[38..]);
    assert!(signed.nfe_element().starts_with("<NFe xmlns="));
}

#[test]
fn a_certificate_of_another_company_is_refused() {
    let unsigned = build(&sample_input()).unwrap();
    assert_eq!(
        unsigned.sign(other_store_certificate()),
        Err(SignError::CnpjRootMismatch {
            certificate: OTHER_STORE_CNPJ.into(),
            emitter: STORE_CNPJ.into(),
        })
    );
}

#[test]
fn a_certificate_without_icp_brasil_cnpj_is_accepted() {
    let made = make_certificate(None, 14);
    let cert = SigningCertificate::from_pkcs12(&made.pkcs12(false), PFX_PASSWORD).unwrap();
    assert_eq!(cert.info().icp_brasil_cnpj, None);
    let signed = build(&sample_input()).unwrap().sign(&cert).unwrap();
    verify(signed.xml()).unwrap();
}

#[test]
fn a_certificate_not_valid_at_the_issue_time_is_refused() {
    let mut input = sample_input();
    input.issued_at = datetime!(2027-02-01 10:00:00 -03:00);
    let unsigned = build(&input).unwrap();
    assert!(matches!(
        unsigned.sign(store_certificate()),
        Err(SignError::NotValidAt { .. })
    ));
    input.issued_at = datetime!(2025-12-31 20:59:59 -03:00);
    assert!(matches!(
        build(&input).unwrap().sign(store_certificate()),
        Err(SignError::NotValidAt { .. })
    ));
}
