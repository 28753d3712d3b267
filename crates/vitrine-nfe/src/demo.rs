//! A self-signed stand-in for an A1 certificate, for homologation demos and tests.
//!
//! A real A1 comes from an ICP-Brasil certificate authority; SEFAZ refuses anything else, even
//! in homologation. This one has the same shape (RSA 2048, SHA-256 signature, the ICP-Brasil
//! CNPJ `otherName` 2.16.76.1.3.3 in `subjectAltName`), so a store can issue, sign, validate and
//! store documents end to end before it has bought its certificate. Only with the `demo` feature.

use std::str::FromStr;
use std::time::Duration;

use rand::rngs::OsRng;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::EncodePrivateKey;
use rsa::sha2::Sha256;
use time::OffsetDateTime;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::der::Encode;
use x509_cert::der::asn1::{Any, PrintableStringRef, UtcTime};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::{GeneralName, OtherName};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{ObjectIdentifier, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};

use crate::ids::Cnpj;

/// The ICP-Brasil `otherName` that carries a company's CNPJ (DOC-ICP-04, 2.16.76.1.3.3).
const ICP_BRASIL_CNPJ: &str = "2.16.76.1.3.3";

/// Why a demo certificate could not be made.
#[derive(Debug, thiserror::Error)]
#[error("making the demo certificate: {0}")]
pub struct DemoError(String);

fn err(e: impl std::fmt::Display) -> DemoError {
    DemoError(e.to_string())
}

/// A PKCS#12 file (`.p12`) with a fresh RSA 2048 key and a self-signed certificate for `cnpj`,
/// valid from `valid_from` for `days`, encrypted with `password` (AES-256, HMAC-SHA256).
/// `company` goes into the subject's CN (`{company}:{cnpj}`, as ICP-Brasil names are written).
pub fn demo_pkcs12(
    cnpj: &Cnpj,
    company: &str,
    valid_from: OffsetDateTime,
    days: u32,
    password: &str,
) -> Result<Vec<u8>, DemoError> {
    let key = RsaPrivateKey::new(&mut OsRng, 2048).map_err(err)?;
    let signer = SigningKey::<Sha256>::new(key.clone());
    // RFC 4514 strings need `,`, `+`, `"`, `\`, `<`, `>`, `;` and `=` escaped; a CN is kept to
    // letters, digits and spaces instead.
    let clean: String = company
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == ' ')
        .take(40)
        .collect();
    let subject = Name::from_str(&format!(
        "CN={}:{},OU=vitrine demo (not ICP-Brasil),O=vitrine,C=BR",
        clean.trim(),
        cnpj.as_str()
    ))
    .map_err(err)?;
    let spki = SubjectPublicKeyInfoOwned::from_key(key.to_public_key()).map_err(err)?;
    let at = |t: OffsetDateTime| -> Result<Time, DemoError> {
        let secs = u64::try_from(t.unix_timestamp()).map_err(err)?;
        Ok(Time::UtcTime(
            UtcTime::from_unix_duration(Duration::from_secs(secs)).map_err(err)?,
        ))
    };
    let validity = Validity {
        not_before: at(valid_from)?,
        not_after: at(valid_from + time::Duration::days(i64::from(days)))?,
    };
    let serial = rand::random::<u32>() | 1;
    let mut builder = CertificateBuilder::new(
        Profile::Leaf {
            issuer: subject.clone(),
            enable_key_agreement: false,
            enable_key_encipherment: true,
        },
        SerialNumber::from(serial),
        validity,
        subject,
        spki,
        &signer,
    )
    .map_err(err)?;
    let other = OtherName {
        type_id: ObjectIdentifier::new_unwrap(ICP_BRASIL_CNPJ),
        value: Any::from(PrintableStringRef::new(cnpj.as_str()).map_err(err)?),
    };
    builder
        .add_extension(&SubjectAltName(vec![GeneralName::OtherName(other)]))
        .map_err(err)?;
    let certificate = builder.build::<rsa::pkcs1v15::Signature>().map_err(err)?;
    let key_der = key.to_pkcs8_der().map_err(err)?.as_bytes().to_vec();
    pkcs12(
        &key_der,
        &[certificate.to_der().map_err(err)?],
        &serial.to_be_bytes(),
        password,
    )
}

/// A PKCS#12 file of a private key (PKCS#8 DER) and its certificate chain (DER, the key's own
/// first), encrypted with `password` (AES-256, HMAC-SHA256): how an A1 is handed over.
pub fn pkcs12(
    key_pkcs8_der: &[u8],
    chain_der: &[Vec<u8>],
    local_key_id: &[u8],
    password: &str,
) -> Result<Vec<u8>, DemoError> {
    let chain = chain_der
        .iter()
        .map(|der| p12_keystore::Certificate::from_der(der).map_err(err))
        .collect::<Result<Vec<_>, _>>()?;
    let chain = p12_keystore::PrivateKeyChain::new(key_pkcs8_der, local_key_id, chain);
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(
        "nfe-a1",
        p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
    );
    store.writer(password).write().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SigningCertificate;

    #[test]
    fn the_demo_certificate_opens_and_names_its_cnpj() {
        let cnpj = Cnpj::parse("11222333000181").unwrap();
        let from = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
        let p12 = demo_pkcs12(&cnpj, "Loja Demo, Ltda.", from, 365, "s3nha").unwrap();
        let cert = SigningCertificate::from_pkcs12(&p12, "s3nha").unwrap();
        assert_eq!(
            cert.info().icp_brasil_cnpj.as_deref(),
            Some("11222333000181")
        );
        assert_eq!(cert.info().not_before, from);
        assert!(SigningCertificate::from_pkcs12(&p12, "wrong").is_err());
    }
}
