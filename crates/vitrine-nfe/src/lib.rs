//! # vitrine-nfe — NF-e 4.00 (model 55) for a Brazilian web shop
//!
//! Turns a sale into the signed XML of a Nota Fiscal Eletrônica, ready to be validated, stored
//! and sent to SEFAZ. A library with no dependency on the other vitrine crates and no I/O except
//! the `xmllint` adapter kept as the tests' oracle ([`validate::Xmllint`]) and the SEFAZ client
//! ([`sefaz`], HTTPS); schema validation itself runs in process ([`XsdValidator`]).
//!
//! ```text
//! NfeInput ──build()──▶ UnsignedNfe ──sign(&SigningCertificate)──▶ SignedNfe ──▶ validate ─▶ store ─▶ send
//!  (model)   values,      key, totals,    XMLDSig RSA-SHA1,            .xml()     XsdValidator (app)    (app)
//!            key, XML     canonical infNFe  A1 from PKCS#12
//! ```
//!
//! - [`model`]: the input as plain structs (emitter, recipient, items with their taxes per
//!   regime, payment by Pix or card, freight, technical responsible…), money in `i64` centavos.
//! - [`build()`]: computes item values and totals (rounding documented in [`mod@build`] and
//!   [`money`]), `idDest`, `cUF`/`cMunFG`, the [`key::AccessKey`] with its mod-11 check digit
//!   (`ASCII − 48` rule for alphanumeric CNPJs), and writes `infNFe`.
//! - [`UnsignedNfe::sign`]: enveloped XMLDSig exactly as SEFAZ requires ([`sign`]).
//! - [`sign::verify`]: checks a signed document (the SEFAZ sample, or one read back), with the
//!   small Canonical XML 1.0 implementation in [`c14n`].
//! - [`validate`]: the [`validate::SchemaValidator`] port, the official schemas (PL_010e)
//!   embedded, and the `xmllint` adapter (the tests' oracle).
//! - [`xsd`]: [`XsdValidator`], the in-process XSD validator for the constructs the package
//!   uses (schema compilation, content models, simple types and facets, the XSD regex dialect,
//!   the instance walker) — what the application validates with.
//! - [`sefaz`]: the SEFAZ client (status, authorisation sync/async, protocol query, cancellation
//!   and correction-letter events, voiding) over SOAP 1.2 and mutual TLS, endpoints per UF.
//! - [`text`], [`ids`], [`money`]: `TString` sanitizing, CNPJ/CPF/UF/GTIN, centavos and rates.
//! - [`danfe`]: the DANFE, the printed companion of the NF-e: [`danfe::render`] turns an
//!   `nfeProc` (or a bare `NFe`, marked as without authorisation) into a portrait A4 PDF with
//!   the access key as a Code 128 barcode, fonts compiled in.
//!
//! ## Invariants
//!
//! - **Money is integer centavos** (`i64`), written with exactly two decimals (`84.90`); rates
//!   are basis points. Tax values are rounded half-up per item; totals are sums of rounded item
//!   values; `vNF = vProd − vDesc + vFrete` (the other terms of the SEFAZ formula are zero here).
//! - **The output is one line of UTF-8**: `<?xml version="1.0" encoding="UTF-8"?>` then `<NFe>`
//!   (the declaration is what the published, SEFAZ-authorized sample file has;
//!   [`SignedNfe::nfe_element`] gives the element without it for embedding in `enviNFe` or
//!   `nfeProc`). No whitespace between tags, no comments, no namespace prefixes, no
//!   self-closing tags, elements in the XSD's sequence order, optional elements omitted (never
//!   empty), text sanitized to `TString` and cut to the schema's maximum lengths.
//! - **The signed bytes are final**: the canonical `infNFe` is the written one plus its inherited
//!   `xmlns` (no re-serialization anywhere). Re-indenting a signed document breaks it
//!   (rejection 297).
//! - **Invalid input fails the build** with a [`BuildError`] naming the field; nothing that
//!   would fail the schema is written (0 or more than 990 items, bad NCM/CFOP/CEP/IBGE code,
//!   non-whole-hour offset, totals that do not add up, taxes of the wrong regime…). Identifiers
//!   are parsed newtypes ([`Cnpj`], [`Cpf`], [`Gtin`]), so a bad CPF/CNPJ cannot reach it.
//! - **Homologation** (`tpAmb` 2) replaces `dest/xNome` with
//!   [`model::HOMOLOGATION_RECIPIENT_NAME`].
//! - **Schema validity is checked after signing** (the schema requires `Signature`), and only a
//!   validator that ran can say "valid": [`validate::ValidationError::Unavailable`] means
//!   "unknown", and the caller must not store the document as valid.
//!
//! ## Not covered
//!
//! DIFAL (`ICMSUFDest`) — so a regime-normal emitter's interstate sale is refused with
//! [`BuildError::Unsupported`] —, ICMS-ST, IPI, FCP, CEST, marketplaces (`indIntermed` 1),
//! foreign buyers, contributor buyers (`indIEDest` 1), NFC-e (model 65), contingency emission
//! other than SVC (FS-DA, EPEC), `vTotTrib` (Lei 12.741 estimate), installments as `cobr/dup` (card installments are a text
//! in `infCpl`), the QR code (NFC-e). The DANFE is in [`danfe`]; transmission, events
//! (cancellation, CC-e) and voiding are in [`sefaz`]; SVC contingency emission (`tpEmis` 6/7,
//! [`model::Contingency`]) in the builder and the SVC endpoints in [`sefaz`].
//!
//! ## How a SEFAZ transmission adapter uses this
//!
//! Transmission is a port of the application (it needs the numbering counter, storage and
//! retries); [`sefaz::SefazClient`] does the HTTP, the mutual TLS with the same A1 certificate,
//! the messages and steps 3–4 below. An adapter:
//!
//! 1. takes the next `nNF` for (environment, série) and a [`key::Cnf::random`], builds and signs;
//! 2. validates with the [`validate::SchemaValidator`] and **persists the signed XML and its key
//!    before sending** (after a timeout it asks NFeConsultaProtocolo4 by key instead of
//!    creating a new document);
//! 3. wraps [`SignedNfe::nfe_element`] without touching its bytes:
//!    `<enviNFe xmlns="http://www.portalfiscal.inf.br/nfe" versao="4.00"><idLote>…</idLote>
//!    <indSinc>1</indSinc>` + element + `</enviNFe>` (validate with
//!    [`validate::SchemaDocument::EnviNfe`]), inside
//!    `<nfeDadosMsg xmlns="http://www.portalfiscal.inf.br/nfe/wsdl/NFeAutorizacao4">` in a SOAP
//!    1.2 envelope, and POSTs it to the UF's NFeAutorizacao4 endpoint over mutual TLS;
//! 4. on `protNFe/infProt/cStat` 100 (or 150), checks `digVal` against
//!    [`SignedNfe::digest_value`] and archives `<nfeProc versao="4.00" xmlns="…nfe">` + element +
//!    `protNFe` + `</nfeProc>` (validate with [`validate::SchemaDocument::NfeProc`]); any other
//!    status is a rejection to fix and resend with the same number, or to void (inutilização).
//!
//! The rules this follows are in the project's shared notes (`nfe/NOTES.md`): access key,
//! document groups, XMLDSig, homologation; rules marked \[verify\] there are marked here too.

pub mod build;
pub mod c14n;
pub mod danfe;
#[cfg(feature = "demo")]
pub mod demo;
pub mod error;
pub mod ids;
pub mod key;
pub mod model;
pub mod money;
pub mod sefaz;
pub mod sign;
pub mod text;
pub mod validate;
pub mod xsd;

pub use build::{Totals, UnsignedNfe, build};
pub use error::BuildError;
pub use ids::{Cnpj, Cpf, Gtin, IdError, TaxId, Uf};
pub use key::{AccessKey, Cnf, KeyError};
pub use model::{
    Address, CardBrand, Contingency, ContingencyKind, Emitter, Environment, FreightMode, IbsCbs,
    Item, ItemTaxes, NfeInput, Origin, Payment, Recipient, TaxRegime, TechnicalResponsible,
};
pub use money::Rate;
pub use sign::{
    CertificateError, CertificateInfo, SignError, SignedNfe, SigningCertificate, VerifiedSignature,
    VerifyError, verify,
};
pub use validate::{SchemaDocument, SchemaValidator, ValidationError, Xmllint};
pub use xsd::XsdValidator;
