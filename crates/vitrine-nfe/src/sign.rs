//! XMLDSig as SEFAZ requires it: enveloped, C14N 1.0, RSA-SHA1, SHA-1 digest, one certificate.
//!
//! Signing ([`UnsignedNfe::sign`]) writes exactly this, without whitespace, as the last child of
//! `NFe` (NOTES.md §4):
//!
//! ```text
//! <Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>
//!   <CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"></CanonicalizationMethod>
//!   <SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"></SignatureMethod>
//!   <Reference URI="#NFe…"><Transforms>
//!     <Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"></Transform>
//!     <Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"></Transform></Transforms>
//!   <DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"></DigestMethod><DigestValue>…</DigestValue>
//!   </Reference></SignedInfo><SignatureValue>…</SignatureValue>
//!   <KeyInfo><X509Data><X509Certificate>…</X509Certificate></X509Data></KeyInfo></Signature>
//! ```
//!
//! `DigestValue = base64(SHA1(C14N(infNFe)))` and `SignatureValue =
//! base64(RSASSA-PKCS1-v1_5-SHA1(C14N(SignedInfo)))`. Both canonical forms are produced directly
//! (the written elements plus their inherited default namespace), so nothing is re-parsed.
//!
//! **What is checked before signing** (each failure is a [`SignError`]):
//! - the certificate is valid (notBefore ≤ `dhEmi` ≤ notAfter) at the document's issue time —
//!   the issue time, not the wall clock, so the check is deterministic and the caller's `Clock`
//!   port decides "now";
//! - when the certificate carries an ICP-Brasil CNPJ (subjectAltName otherName
//!   2.16.76.1.3.3, as e-CNPJ certificates do), its root (first 8 characters) equals the
//!   emitter's (SEFAZ rejection 213). A certificate without that field is accepted here (tests
//!   use self-signed ones); SEFAZ will refuse a non-ICP-Brasil certificate anyway.
//!
//! Not checked: the chain up to an ICP-Brasil root, revocation (CRL/OCSP), key usage.
//!
//! [`verify`] checks a signed document the other way round — shape, digest and RSA value —
//! with the canonicalizer in [`crate::c14n`], so it works on documents this crate did not write
//! (the SEFAZ sample) and on documents read back from storage.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha1::{Digest as _, Sha1};
use thiserror::Error;
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::der::{Decode as _, Encode as _};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{ID_CE_SUBJECT_ALT_NAME, SubjectAltName};
use x509_cert::spki::ObjectIdentifier;

use crate::build::{NFE_NAMESPACE, UnsignedNfe};
use crate::c14n::{self, C14nError};
use crate::ids::Cnpj;
use crate::key::AccessKey;

/// The XMLDSig namespace.
pub const DSIG_NAMESPACE: &str = "http://www.w3.org/2000/09/xmldsig#";
/// Canonical XML 1.0 without comments.
pub const C14N_ALGORITHM: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
/// RSA with SHA-1 (PKCS#1 v1.5).
pub const RSA_SHA1_ALGORITHM: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
/// SHA-1 digest.
pub const SHA1_ALGORITHM: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
/// The enveloped-signature transform.
pub const ENVELOPED_ALGORITHM: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
/// The XML declaration this crate writes before `<NFe>`.
pub const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

/// The ICP-Brasil otherName carrying the company's CNPJ in an e-CNPJ certificate.
const ICP_BRASIL_CNPJ_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.76.1.3.3");

/// A certificate or key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CertificateError {
    /// The PKCS#12 file could not be opened (wrong password, corrupt file, unsupported cipher).
    #[error("cannot read the PKCS#12 file: {0}")]
    Pkcs12(String),
    /// The PKCS#12 file has no private key.
    #[error("the PKCS#12 file holds no private key")]
    NoPrivateKey,
    /// The private key is not an RSA key (SEFAZ signatures are RSA-SHA1).
    #[error("the private key is not RSA: {0}")]
    NotRsa(String),
    /// No certificate in the file matches the private key.
    #[error("no certificate matches the private key")]
    NoMatchingCertificate,
    /// The certificate's DER could not be decoded.
    #[error("cannot decode the certificate: {0}")]
    Der(String),
}

/// A document could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignError {
    /// The certificate is not valid at the document's issue time.
    #[error("the certificate is valid from {not_before} to {not_after}, not at {issued_at}")]
    NotValidAt {
        /// Start of validity.
        not_before: OffsetDateTime,
        /// End of validity.
        not_after: OffsetDateTime,
        /// `dhEmi`.
        issued_at: OffsetDateTime,
    },
    /// The certificate belongs to another company (SEFAZ rejection 213).
    #[error("the certificate's CNPJ {certificate} has another root than the emitter's {emitter}")]
    CnpjRootMismatch {
        /// The CNPJ in the certificate.
        certificate: String,
        /// The emitter's CNPJ.
        emitter: String,
    },
    /// The RSA operation failed.
    #[error("RSA signing failed: {0}")]
    Rsa(String),
    /// The document to sign is not well-formed or has no element with the given `Id`.
    #[error("cannot sign the document: {0}")]
    Document(String),
}

/// What [`SigningCertificate`] and [`verify`] read from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// The subject's distinguished name (RFC 4514 string).
    pub subject: String,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// The ICP-Brasil CNPJ (otherName 2.16.76.1.3.3), when present.
    pub icp_brasil_cnpj: Option<String>,
}

impl CertificateInfo {
    /// Reads subject, validity and ICP-Brasil CNPJ from a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<CertificateInfo, CertificateError> {
        let cert = Certificate::from_der(der).map_err(|e| CertificateError::Der(e.to_string()))?;
        Ok(info_of(&cert))
    }
}

fn info_of(cert: &Certificate) -> CertificateInfo {
    let tbs = &cert.tbs_certificate;
    let to_time = |t: x509_cert::time::Time| {
        let secs = i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
        OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    };
    let icp_brasil_cnpj = tbs
        .extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == ID_CE_SUBJECT_ALT_NAME)
        .filter_map(|e| SubjectAltName::from_der(e.extn_value.as_bytes()).ok())
        .flat_map(|san| san.0)
        .find_map(|name| match name {
            GeneralName::OtherName(other) if other.type_id == ICP_BRASIL_CNPJ_OID => {
                // A PrintableString (sometimes UTF8String/OctetString) with the 14 characters.
                let text = String::from_utf8_lossy(other.value.value())
                    .trim()
                    .to_owned();
                (!text.is_empty()).then_some(text)
            }
            _ => None,
        });
    CertificateInfo {
        subject: tbs.subject.to_string(),
        not_before: to_time(tbs.validity.not_before),
        not_after: to_time(tbs.validity.not_after),
        icp_brasil_cnpj,
    }
}

fn public_key_of(cert: &Certificate) -> Result<RsaPublicKey, CertificateError> {
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| CertificateError::Der(e.to_string()))?;
    RsaPublicKey::from_public_key_der(&spki).map_err(|e| CertificateError::NotRsa(e.to_string()))
}

/// An A1 certificate: the RSA private key and its X.509 certificate.
///
/// `Debug` prints the certificate's subject only, never the key.
#[derive(Clone)]
pub struct SigningCertificate {
    key: RsaPrivateKey,
    certificate_der: Vec<u8>,
    info: CertificateInfo,
}

impl fmt::Debug for SigningCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningCertificate")
            .field("subject", &self.info.subject)
            .field("not_after", &self.info.not_after)
            .finish_non_exhaustive()
    }
}

impl SigningCertificate {
    /// Opens a PKCS#12 (`.pfx`/`.p12`, "A1") file: the private key and the certificate that
    /// matches it (other certificates of the chain are ignored). Supports the usual PBES2
    /// (AES) and the legacy PBES1 (3DES, RC2) encryptions.
    pub fn from_pkcs12(der: &[u8], password: &str) -> Result<SigningCertificate, CertificateError> {
        let store = p12_keystore::KeyStore::from_pkcs12(der, password)
            .map_err(|e| CertificateError::Pkcs12(e.to_string()))?;
        let (_, chain) = store
            .private_key_chain()
            .ok_or(CertificateError::NoPrivateKey)?;
        let key = RsaPrivateKey::from_pkcs8_der(chain.key())
            .or_else(|_| RsaPrivateKey::from_pkcs1_der(chain.key()))
            .map_err(|e| CertificateError::NotRsa(e.to_string()))?;
        let public = key.to_public_key();
        for cert in chain.chain() {
            let parsed = Certificate::from_der(cert.as_der())
                .map_err(|e| CertificateError::Der(e.to_string()))?;
            if public_key_of(&parsed).ok().as_ref() == Some(&public) {
                return Ok(SigningCertificate {
                    key,
                    certificate_der: cert.as_der().to_vec(),
                    info: info_of(&parsed),
                });
            }
        }
        Err(CertificateError::NoMatchingCertificate)
    }

    /// Pairs a PKCS#8 DER private key with its DER certificate (checked to match).
    pub fn from_der(
        private_key_pkcs8: &[u8],
        certificate_der: &[u8],
    ) -> Result<SigningCertificate, CertificateError> {
        let key = RsaPrivateKey::from_pkcs8_der(private_key_pkcs8)
            .map_err(|e| CertificateError::NotRsa(e.to_string()))?;
        let cert = Certificate::from_der(certificate_der)
            .map_err(|e| CertificateError::Der(e.to_string()))?;
        if public_key_of(&cert)? != key.to_public_key() {
            return Err(CertificateError::NoMatchingCertificate);
        }
        Ok(SigningCertificate {
            key,
            certificate_der: certificate_der.to_vec(),
            info: info_of(&cert),
        })
    }

    /// The certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// Subject, validity and ICP-Brasil CNPJ.
    pub fn info(&self) -> &CertificateInfo {
        &self.info
    }

    fn check_usable(&self, emitter: &Cnpj, issued_at: OffsetDateTime) -> Result<(), SignError> {
        let info = &self.info;
        if issued_at < info.not_before || issued_at > info.not_after {
            return Err(SignError::NotValidAt {
                not_before: info.not_before,
                not_after: info.not_after,
                issued_at,
            });
        }
        if let Some(cnpj) = &info.icp_brasil_cnpj
            && cnpj.get(..8) != Some(emitter.root())
        {
            return Err(SignError::CnpjRootMismatch {
                certificate: cnpj.clone(),
                emitter: emitter.as_str().to_owned(),
            });
        }
        Ok(())
    }
}

/// A signed NF-e: the final bytes to validate, store and send. Never re-indent or re-serialize
/// them (the signature covers these exact bytes' canonical form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNfe {
    key: AccessKey,
    xml: String,
    digest_value: String,
}

impl SignedNfe {
    /// The chave de acesso.
    pub fn access_key(&self) -> &AccessKey {
        &self.key
    }

    /// The whole file: `<?xml version="1.0" encoding="UTF-8"?><NFe …>…</NFe>`, one line.
    pub fn xml(&self) -> &str {
        &self.xml
    }

    /// The `<NFe …>…</NFe>` element alone, for embedding in `enviNFe` (a lote) or `nfeProc`
    /// (the archived document): an XML declaration cannot appear inside another document.
    pub fn nfe_element(&self) -> &str {
        &self.xml[XML_DECLARATION.len()..]
    }

    /// `DigestValue` (what SEFAZ returns as `protNFe/infProt/digVal`).
    pub fn digest_value(&self) -> &str {
        &self.digest_value
    }

    /// The whole file, owned.
    pub fn into_xml(self) -> String {
        self.xml
    }
}

impl UnsignedNfe {
    /// Signs the document with `certificate` (see the module doc for what is checked first).
    pub fn sign(&self, certificate: &SigningCertificate) -> Result<SignedNfe, SignError> {
        certificate.check_usable(&self.emitter_cnpj, self.issued_at)?;
        let digest_value = self.digest_value();
        let signature = signature_element(certificate, &self.key.id(), &digest_value)?;
        let xml = format!(
            "{XML_DECLARATION}<NFe xmlns=\"{NFE_NAMESPACE}\">{inf_nfe}{signature}</NFe>",
            inf_nfe = self.inf_nfe_xml(),
        );
        Ok(SignedNfe {
            key: self.key.clone(),
            xml,
            digest_value,
        })
    }
}

/// The `Signature` element (module doc) for the element `#id` whose digest is `digest_value`.
fn signature_element(
    certificate: &SigningCertificate,
    id: &str,
    digest_value: &str,
) -> Result<String, SignError> {
    let signed_info_children = format!(
        "<CanonicalizationMethod Algorithm=\"{C14N_ALGORITHM}\"></CanonicalizationMethod>\
         <SignatureMethod Algorithm=\"{RSA_SHA1_ALGORITHM}\"></SignatureMethod>\
         <Reference URI=\"#{id}\"><Transforms>\
         <Transform Algorithm=\"{ENVELOPED_ALGORITHM}\"></Transform>\
         <Transform Algorithm=\"{C14N_ALGORITHM}\"></Transform></Transforms>\
         <DigestMethod Algorithm=\"{SHA1_ALGORITHM}\"></DigestMethod>\
         <DigestValue>{digest_value}</DigestValue></Reference>"
    );
    let canonical_signed_info =
        format!("<SignedInfo xmlns=\"{DSIG_NAMESPACE}\">{signed_info_children}</SignedInfo>");
    let hash = Sha1::digest(canonical_signed_info.as_bytes());
    let signature = certificate
        .key
        .sign(Pkcs1v15Sign::new::<Sha1>(), &hash)
        .map_err(|e| SignError::Rsa(e.to_string()))?;
    Ok(format!(
        "<Signature xmlns=\"{DSIG_NAMESPACE}\"><SignedInfo>{signed_info_children}</SignedInfo>\
         <SignatureValue>{signature}</SignatureValue>\
         <KeyInfo><X509Data><X509Certificate>{certificate}</X509Certificate></X509Data></KeyInfo>\
         </Signature>",
        signature = BASE64.encode(signature),
        certificate = BASE64.encode(&certificate.certificate_der),
    ))
}

/// Signs another SEFAZ document the same way as the NF-e (an event's `infEvento`, a voiding
/// request's `infInut`): `container` is the element that will hold the signature (`evento`,
/// `inutNFe`), without XML declaration and written as it will be sent; the element whose `Id` is
/// `id` inside it is digested in canonical form, and the `Signature` is appended as the
/// container's last child. The certificate must be valid at `at` and, when it carries an
/// ICP-Brasil CNPJ, share `emitter`'s root (as for the NF-e).
pub fn sign_element(
    container: &str,
    id: &str,
    certificate: &SigningCertificate,
    emitter: &Cnpj,
    at: OffsetDateTime,
) -> Result<String, SignError> {
    certificate.check_usable(emitter, at)?;
    let canonical =
        c14n::canonicalize_by_id(container, id).map_err(|e| SignError::Document(e.to_string()))?;
    let digest_value = BASE64.encode(Sha1::digest(canonical.as_bytes()));
    let signature = signature_element(certificate, id, &digest_value)?;
    let close = container
        .rfind("</")
        .filter(|_| container.ends_with('>'))
        .ok_or_else(|| SignError::Document("the container has no closing tag".into()))?;
    Ok(format!(
        "{}{signature}{}",
        &container[..close],
        &container[close..]
    ))
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    /// Not well-formed, or outside the canonicalizer's limits.
    #[error(transparent)]
    C14n(#[from] C14nError),
    /// The signature is not in the shape SEFAZ requires (NOTES.md §4; rejection 298).
    #[error("signature structure: {0}")]
    Structure(String),
    /// The digest of `infNFe` differs (the document changed after signing; rejection 297).
    #[error("DigestValue {declared} but the canonical infNFe digests to {computed}")]
    DigestMismatch {
        /// `DigestValue` in the document.
        declared: String,
        /// Recomputed.
        computed: String,
    },
    /// `SignatureValue` does not verify with the certificate's public key.
    #[error("SignatureValue does not verify with the certificate's key")]
    BadSignature,
    /// The `X509Certificate` cannot be used.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
}

/// The only child `name` (XMLDSig namespace) of `parent`.
fn dsig_child<'a, 'i>(
    parent: roxmltree::Node<'a, 'i>,
    name: &str,
) -> Result<roxmltree::Node<'a, 'i>, VerifyError> {
    let found: Vec<_> = parent
        .children()
        .filter(|n| n.has_tag_name((DSIG_NAMESPACE, name)))
        .collect();
    match found.as_slice() {
        [one] => Ok(*one),
        _ => Err(VerifyError::Structure(format!(
            "expected exactly one {name} in {}",
            parent.tag_name().name()
        ))),
    }
}

/// Checks that the only child `name` of `parent` has `Algorithm="expected"`.
fn check_algorithm(
    parent: roxmltree::Node<'_, '_>,
    name: &str,
    expected: &str,
) -> Result<(), VerifyError> {
    match dsig_child(parent, name)?.attribute("Algorithm") {
        Some(a) if a == expected => Ok(()),
        other => Err(VerifyError::Structure(format!(
            "{name} Algorithm {other:?}, expected {expected}"
        ))),
    }
}

/// A verified signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// The signed element's `Id` (`NFe` + key).
    pub reference_id: String,
    /// `DigestValue`.
    pub digest_value: String,
    /// The signer's certificate, DER.
    pub certificate_der: Vec<u8>,
    /// What the certificate says (the chain and the validity are **not** checked).
    pub certificate: CertificateInfo,
}

/// Verifies the XMLDSig signature of an `NFe` (the root, or the `NFe` inside an `nfeProc` or
/// `enviNFe`): the SEFAZ shape (one reference to `#` + `infNFe/@Id`, the two transforms, C14N,
/// RSA-SHA1, SHA-1), the digest of the canonical `infNFe`, and the RSA value over the canonical
/// `SignedInfo` with the key of the embedded certificate. Trust in the certificate (chain,
/// validity, revocation) is not checked.
pub fn verify(xml: &str) -> Result<VerifiedSignature, VerifyError> {
    verify_element(xml, "NFe", "infNFe")
}

/// [`verify`] for another signed SEFAZ document: the first element `container` (NF-e namespace:
/// `evento`, `inutNFe`…) must hold the signed element `signed` (`infEvento`, `infInut`…) and a
/// `Signature` as its last child, in the same profile.
pub fn verify_element(
    xml: &str,
    container: &str,
    signed: &str,
) -> Result<VerifiedSignature, VerifyError> {
    let doc = c14n::parse(xml)?;
    let structure = |m: &str| VerifyError::Structure(m.to_owned());
    let nfe = doc
        .descendants()
        .find(|n| n.has_tag_name((NFE_NAMESPACE, container)))
        .ok_or_else(|| structure(&format!("no {container} element")))?;
    let children: Vec<_> = nfe.children().filter(|n| n.is_element()).collect();
    let inf_nfe = children
        .iter()
        .find(|n| n.has_tag_name((NFE_NAMESPACE, signed)))
        .ok_or_else(|| structure(&format!("no {container}/{signed}")))?;
    let signature = children
        .last()
        .filter(|n| n.has_tag_name((DSIG_NAMESPACE, "Signature")))
        .ok_or_else(|| structure(&format!("Signature is not the last child of {container}")))?;

    let signed_info = dsig_child(*signature, "SignedInfo")?;
    check_algorithm(signed_info, "CanonicalizationMethod", C14N_ALGORITHM)?;
    check_algorithm(signed_info, "SignatureMethod", RSA_SHA1_ALGORITHM)?;
    let reference = dsig_child(signed_info, "Reference")?;
    let id = inf_nfe
        .attribute("Id")
        .ok_or_else(|| structure(&format!("{signed} has no Id")))?;
    if reference.attribute("URI") != Some(&format!("#{id}")) {
        return Err(structure(&format!("Reference URI is not #{signed}/@Id")));
    }
    let transforms: Vec<_> = dsig_child(reference, "Transforms")?
        .children()
        .filter(|n| n.is_element())
        .map(|n| {
            n.has_tag_name((DSIG_NAMESPACE, "Transform"))
                .then(|| n.attribute("Algorithm").unwrap_or(""))
        })
        .collect();
    if transforms != [Some(ENVELOPED_ALGORITHM), Some(C14N_ALGORITHM)] {
        return Err(structure(
            "Transforms must be enveloped-signature then C14N",
        ));
    }
    check_algorithm(reference, "DigestMethod", SHA1_ALGORITHM)?;
    let declared_digest = dsig_child(reference, "DigestValue")?
        .text()
        .unwrap_or("")
        .trim()
        .to_owned();

    let key_info = dsig_child(*signature, "KeyInfo")?;
    let certificate_b64: String = dsig_child(dsig_child(key_info, "X509Data")?, "X509Certificate")?
        .text()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let certificate_der = BASE64
        .decode(certificate_b64)
        .map_err(|e| structure(&format!("X509Certificate is not base64: {e}")))?;
    let signature_value: String = dsig_child(*signature, "SignatureValue")?
        .text()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let signature_value = BASE64
        .decode(signature_value)
        .map_err(|e| structure(&format!("SignatureValue is not base64: {e}")))?;

    // The enveloped-signature transform removes the Signature when it is inside the signed
    // element; for NF-e it is a sibling, and excluding it is then a no-op.
    let canonical = c14n::canonicalize(*inf_nfe, Some(signature.id()))?;
    let computed = BASE64.encode(Sha1::digest(canonical.as_bytes()));
    if computed != declared_digest {
        return Err(VerifyError::DigestMismatch {
            declared: declared_digest,
            computed,
        });
    }

    let cert = Certificate::from_der(&certificate_der)
        .map_err(|e| CertificateError::Der(e.to_string()))?;
    let public = public_key_of(&cert)?;
    let canonical_signed_info = c14n::canonicalize(signed_info, None)?;
    public
        .verify(
            Pkcs1v15Sign::new::<Sha1>(),
            &Sha1::digest(canonical_signed_info.as_bytes()),
            &signature_value,
        )
        .map_err(|_| VerifyError::BadSignature)?;

    Ok(VerifiedSignature {
        reference_id: id.to_owned(),
        digest_value: declared_digest,
        certificate: info_of(&cert),
        certificate_der,
    })
}
