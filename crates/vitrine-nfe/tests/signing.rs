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

#[test]
fn events_are_signed_in_the_same_profile_and_verify() {
    use vitrine_nfe::sefaz::messages::{Event, EventDetail};
    use vitrine_nfe::sign::{sign_element, verify_element};

    let nfe = build(&sample_input())
        .unwrap()
        .sign(store_certificate())
        .unwrap();
    let event = Event {
        key: nfe.access_key().clone(),
        emitter: cnpj(STORE_CNPJ),
        sequence: 1,
        at: datetime!(2026-08-20 15:00:00 -03:00),
        detail: EventDetail::Cancellation {
            protocol: "135260000000001".into(),
            justification: "Pedido cancelado pelo cliente".into(),
        },
    };
    let unsigned = event.unsigned_xml(Environment::Homologation);
    let signed = sign_element(
        &unsigned,
        &event.id(),
        store_certificate(),
        &cnpj(STORE_CNPJ),
        event.at,
    )
    .unwrap();
    assert!(signed.starts_with(&unsigned[..unsigned.len() - "</evento>".len()]));
    assert!(signed.ends_with("</Signature></evento>"));
    let verified = verify_element(&signed, "evento", "infEvento").unwrap();
    assert_eq!(verified.reference_id, event.id());
    assert!(matches!(
        verify_element(&signed.replace("Pedido", "Pedida"), "evento", "infEvento"),
        Err(VerifyError::DigestMismatch { .. })
    ));
    assert!(matches!(verify(&signed), Err(VerifyError::Structure(_))));
    assert!(matches!(
        sign_element(
            &unsigned,
            &event.id(),
            store_certificate(),
            &cnpj(OTHER_STORE_CNPJ),
            event.at
        ),
        Err(SignError::CnpjRootMismatch { .. })
    ));
    assert!(matches!(
        sign_element(
            &unsigned,
            "IDnone",
            store_certificate(),
            &cnpj(STORE_CNPJ),
            event.at
        ),
        Err(SignError::Document(_))
    ));
    if require_tool("xmlsec1", "xmlsec1") {
        let file = samples_out_dir().join("signed-event.xml");
        std::fs::write(&file, &signed).unwrap();
        let out = Command::new("xmlsec1")
            .args(["--verify", "--insecure", "--id-attr:Id", "infEvento"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
