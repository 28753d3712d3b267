//! The web-service message schemas, compiled into the crate's own validator ([`XsdValidator`]).
//!
//! The files are the official ones, vendored unchanged in `schemas/ws/` (sources and sha256 in
//! its README.txt). Each folder is its own schema set (the packages ship different files under
//! the same names, and `leiauteConsSitNFe` redefines `TProtNFe`), so there is one validator per
//! set, compiled on first use; [`validate`] picks the right one.
//!
//! Events are validated in two steps, as SEFAZ does (schemas-ws README): the generic envelope
//! (`evento/envEvento_v1.00.xsd`, whose `detEvento` is `xs:any processContents="skip"`), then the
//! `detEvento` alone against `e110111` (cancellation) or `e110110` (correction letter).

use std::sync::{Arc, OnceLock};

use crate::validate::{SCHEMA_FILES, SchemaDocument, SchemaValidator, ValidationError};
use crate::xsd::XsdValidator;

/// A schema set: `(file name, bytes)`.
pub type SchemaSet = &'static [(&'static str, &'static [u8])];

macro_rules! files {
    ($dir:literal: $($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!("../../schemas/ws/", $dir, $name)) as &[u8]),)*]
    };
}

const STATUS: SchemaSet = files!("": "consStatServ_v4.00.xsd", "retConsStatServ_v4.00.xsd",
    "leiauteConsStatServ_v4.00.xsd", "tiposBasico_v4.00.xsd", "xmldsig-core-schema_v1.01.xsd");
const QUERY: SchemaSet = files!("": "consSitNFe_v4.00.xsd", "retConsSitNFe_v4.00.xsd",
    "leiauteConsSitNFe_v4.00.xsd", "tiposBasico_v4.00.xsd", "xmldsig-core-schema_v1.01.xsd");
const VOIDING: SchemaSet = files!("": "inutNFe_v4.00.xsd", "retInutNFe_v4.00.xsd",
    "procInutNFe_v4.00.xsd", "leiauteInutNFe_v4.00.xsd", "tiposBasico_v4.00.xsd",
    "xmldsig-core-schema_v1.01.xsd");
const EVENTS: SchemaSet = files!("evento/": "envEvento_v1.00.xsd",
    "retEnvEvento_v1.00.xsd", "procEventoNFe_v1.00.xsd", "leiauteEvento_v1.00.xsd",
    "tiposBasico_v1.03.xsd", "xmldsig-core-schema_v1.01.xsd");
const CANCELLATION: SchemaSet = files!("evento-canc/": "e110111_v1.00.xsd",
    "tiposBasico_v1.03.xsd");
const CORRECTION: SchemaSet = files!("evento-cce/": "e110110_v1.00.xsd",
    "tiposBasico_v1.03.xsd");

/// The schema sets, in the order of [`set_of`].
const SETS: [SchemaSet; 6] = [STATUS, QUERY, VOIDING, EVENTS, CANCELLATION, CORRECTION];

/// Index into [`SETS`], or `None` for the NF-e set ([`XsdValidator::official`]).
fn set_of(document: SchemaDocument) -> Option<usize> {
    use SchemaDocument as D;
    match document {
        D::Nfe | D::EnviNfe | D::NfeProc | D::RetEnviNfe | D::ConsReciNfe | D::RetConsReciNfe => {
            None
        }
        D::ConsStatServ | D::RetConsStatServ => Some(0),
        D::ConsSitNfe | D::RetConsSitNfe => Some(1),
        D::InutNfe | D::RetInutNfe | D::ProcInutNfe => Some(2),
        D::EnvEvento | D::RetEnvEvento | D::ProcEventoNfe => Some(3),
        D::DetEventoCancelamento => Some(4),
        D::DetEventoCce => Some(5),
    }
}

/// Every web-service schema file, by folder under `schemas/ws/` (`""`, `evento/`…), for writing
/// them to disk (the tests' `xmllint` oracle).
pub fn files() -> Vec<(&'static str, SchemaSet)> {
    vec![
        ("", STATUS),
        ("", QUERY),
        ("", VOIDING),
        ("evento/", EVENTS),
        ("evento-canc/", CANCELLATION),
        ("evento-cce/", CORRECTION),
        ("nfe/", SCHEMA_FILES),
    ]
}

fn validator(set: usize) -> Result<Arc<XsdValidator>, ValidationError> {
    static COMPILED: [OnceLock<Result<Arc<XsdValidator>, String>>; 6] =
        [const { OnceLock::new() }; 6];
    COMPILED[set]
        .get_or_init(|| XsdValidator::compile(SETS[set]).map(Arc::new))
        .clone()
        .map_err(|e| ValidationError::Unavailable(format!("web-service schemas: {e}")))
}

/// Validates `xml` as `document` with the in-process validator and the right schema set.
pub fn validate(document: SchemaDocument, xml: &str) -> Result<(), ValidationError> {
    match set_of(document) {
        None => XsdValidator::official().validate(document, xml),
        Some(set) => validator(set)?.validate(document, xml),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_set_compiles() {
        for set in 0..SETS.len() {
            validator(set).unwrap_or_else(|e| panic!("set {set}: {e}"));
        }
    }

    #[test]
    fn a_status_request_validates_and_a_wrong_one_does_not() {
        let ok = "<consStatServ xmlns=\"http://www.portalfiscal.inf.br/nfe\" versao=\"4.00\">\
                  <tpAmb>2</tpAmb><cUF>35</cUF><xServ>STATUS</xServ></consStatServ>";
        validate(SchemaDocument::ConsStatServ, ok).unwrap();
        let bad = ok.replace("STATUS", "STATE");
        assert!(matches!(
            validate(SchemaDocument::ConsStatServ, &bad),
            Err(ValidationError::Invalid(_))
        ));
    }
}
