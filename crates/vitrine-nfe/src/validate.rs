//! Schema validation before a document is stored or sent.
//!
//! The official schemas (package PL_010e v1.01, `schemas/` in this crate, unmodified copies) are
//! compiled into the binary ([`SCHEMA_FILES`]), so a server validates against exactly the version
//! it was built with, whatever is installed on the machine.
//!
//! Validation goes through the [`SchemaValidator`] port, with two adapters:
//!
//! - [`crate::XsdValidator`] (module [`crate::xsd`]): in process, the schemas compiled once per
//!   process into a validator written for the constructs this package uses. **The one the
//!   application uses**: it needs no external program, so a fresh machine and a Lambda issue
//!   invoices. A construct it does not enforce is a compile error, never skipped.
//! - [`Xmllint`]: libxml2's `xmllint --noout --nonet --schema` as a subprocess (Debian package
//!   `libxml2-utils`), kept as the independent oracle of the tests (`tests/xsd_agreement.rs`
//!   checks that both give the same verdict on thousands of documents). Without the program it
//!   reports [`ValidationError::Unavailable`] — never "valid".
//!
//! Why not libxml2 linked in or the `xmlschema` crate, what is enforced, and the timings:
//! `VALIDATION.md` next to this crate's manifest.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use thiserror::Error;

/// The schema files, by name, byte for byte as published (the XMLDSig one starts with a BOM).
pub const SCHEMA_FILES: &[(&str, &[u8])] = &[
    ("nfe_v4.00.xsd", include_bytes!("../schemas/nfe_v4.00.xsd")),
    (
        "leiauteNFe_v4.00.xsd",
        include_bytes!("../schemas/leiauteNFe_v4.00.xsd"),
    ),
    (
        "tiposBasico_v4.00.xsd",
        include_bytes!("../schemas/tiposBasico_v4.00.xsd"),
    ),
    (
        "DFeTiposBasicos_v1.00.xsd",
        include_bytes!("../schemas/DFeTiposBasicos_v1.00.xsd"),
    ),
    (
        "xmldsig-core-schema_v1.01.xsd",
        include_bytes!("../schemas/xmldsig-core-schema_v1.01.xsd"),
    ),
    (
        "enviNFe_v4.00.xsd",
        include_bytes!("../schemas/enviNFe_v4.00.xsd"),
    ),
    (
        "retEnviNFe_v4.00.xsd",
        include_bytes!("../schemas/retEnviNFe_v4.00.xsd"),
    ),
    (
        "consReciNFe_v4.00.xsd",
        include_bytes!("../schemas/consReciNFe_v4.00.xsd"),
    ),
    (
        "retConsReciNFe_v4.00.xsd",
        include_bytes!("../schemas/retConsReciNFe_v4.00.xsd"),
    ),
    (
        "procNFe_v4.00.xsd",
        include_bytes!("../schemas/procNFe_v4.00.xsd"),
    ),
];

/// Which document the XML is, i.e. which entry schema validates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaDocument {
    /// A signed `<NFe>` (`nfe_v4.00.xsd`).
    Nfe,
    /// A lote for NFeAutorizacao4 (`enviNFe_v4.00.xsd`).
    EnviNfe,
    /// An authorized document, `NFe` + `protNFe` (`procNFe_v4.00.xsd`).
    NfeProc,
    /// NFeAutorizacao4's answer (`retEnviNFe_v4.00.xsd`).
    RetEnviNfe,
    /// A receipt query (`consReciNFe_v4.00.xsd`).
    ConsReciNfe,
    /// NFeRetAutorizacao4's answer (`retConsReciNFe_v4.00.xsd`).
    RetConsReciNfe,
    /// A status request (`consStatServ_v4.00.xsd`, web-service schemas).
    ConsStatServ,
    /// NFeStatusServico4's answer (`retConsStatServ_v4.00.xsd`).
    RetConsStatServ,
    /// A protocol query by key (`consSitNFe_v4.00.xsd`).
    ConsSitNfe,
    /// NFeConsultaProtocolo4's answer (`retConsSitNFe_v4.00.xsd`).
    RetConsSitNfe,
    /// A number-range voiding request, signed (`inutNFe_v4.00.xsd`).
    InutNfe,
    /// NFeInutilizacao4's answer (`retInutNFe_v4.00.xsd`).
    RetInutNfe,
    /// The voiding archive, `inutNFe` + `retInutNFe` (`procInutNFe_v4.00.xsd`).
    ProcInutNfe,
    /// An event lote (`envEvento_v1.00.xsd`, generic envelope; `detEvento` is not checked).
    EnvEvento,
    /// NFeRecepcaoEvento4's answer (`retEnvEvento_v1.00.xsd`).
    RetEnvEvento,
    /// The event archive, `evento` + `retEvento` (`procEventoNFe_v1.00.xsd`).
    ProcEventoNfe,
    /// The `detEvento` of a cancellation, 110111 (`e110111_v1.00.xsd`).
    DetEventoCancelamento,
    /// The `detEvento` of a correction letter, 110110 (`e110110_v1.00.xsd`).
    DetEventoCce,
}

impl SchemaDocument {
    /// The entry schema's file name.
    pub fn schema_file(self) -> &'static str {
        match self {
            SchemaDocument::Nfe => "nfe_v4.00.xsd",
            SchemaDocument::EnviNfe => "enviNFe_v4.00.xsd",
            SchemaDocument::NfeProc => "procNFe_v4.00.xsd",
            SchemaDocument::RetEnviNfe => "retEnviNFe_v4.00.xsd",
            SchemaDocument::ConsReciNfe => "consReciNFe_v4.00.xsd",
            SchemaDocument::RetConsReciNfe => "retConsReciNFe_v4.00.xsd",
            SchemaDocument::ConsStatServ => "consStatServ_v4.00.xsd",
            SchemaDocument::RetConsStatServ => "retConsStatServ_v4.00.xsd",
            SchemaDocument::ConsSitNfe => "consSitNFe_v4.00.xsd",
            SchemaDocument::RetConsSitNfe => "retConsSitNFe_v4.00.xsd",
            SchemaDocument::InutNfe => "inutNFe_v4.00.xsd",
            SchemaDocument::RetInutNfe => "retInutNFe_v4.00.xsd",
            SchemaDocument::ProcInutNfe => "procInutNFe_v4.00.xsd",
            SchemaDocument::EnvEvento => "envEvento_v1.00.xsd",
            SchemaDocument::RetEnvEvento => "retEnvEvento_v1.00.xsd",
            SchemaDocument::ProcEventoNfe => "procEventoNFe_v1.00.xsd",
            SchemaDocument::DetEventoCancelamento => "e110111_v1.00.xsd",
            SchemaDocument::DetEventoCce => "e110110_v1.00.xsd",
        }
    }

    /// Every entry document. A schema set compiled with [`crate::XsdValidator::compile`]
    /// validates those whose entry file it holds (the web-service schemas are separate sets,
    /// see [`crate::sefaz::schemas`]); [`SCHEMA_FILES`] holds the NF-e ones.
    pub const ALL: [SchemaDocument; 18] = [
        SchemaDocument::Nfe,
        SchemaDocument::EnviNfe,
        SchemaDocument::NfeProc,
        SchemaDocument::RetEnviNfe,
        SchemaDocument::ConsReciNfe,
        SchemaDocument::RetConsReciNfe,
        SchemaDocument::ConsStatServ,
        SchemaDocument::RetConsStatServ,
        SchemaDocument::ConsSitNfe,
        SchemaDocument::RetConsSitNfe,
        SchemaDocument::InutNfe,
        SchemaDocument::RetInutNfe,
        SchemaDocument::ProcInutNfe,
        SchemaDocument::EnvEvento,
        SchemaDocument::RetEnvEvento,
        SchemaDocument::ProcEventoNfe,
        SchemaDocument::DetEventoCancelamento,
        SchemaDocument::DetEventoCce,
    ];
}

/// Why a document was not accepted as valid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationError {
    /// The document breaks the schema; the validator's messages, one per problem.
    #[error("not valid against the NF-e schema: {}", .0.join("; "))]
    Invalid(Vec<String>),
    /// The validator could not run (not installed, crashed, schema unreadable): the document's
    /// validity is unknown, so it must not be stored as valid.
    #[error("schema validation unavailable: {0}")]
    Unavailable(String),
}

/// The port: "is this XML valid against the official schema?".
pub trait SchemaValidator: Send + Sync {
    /// `Ok(())` only when the validator ran and found the document valid.
    fn validate(&self, document: SchemaDocument, xml: &str) -> Result<(), ValidationError>;
}

/// [`SchemaValidator`] running libxml2's `xmllint --noout --nonet --schema <entry> -` with the
/// document on standard input, against the embedded schemas written once to a private temporary
/// folder. The tests' oracle; the application uses [`crate::XsdValidator`].
#[derive(Debug)]
pub struct Xmllint {
    program: PathBuf,
    schemas: tempfile::TempDir,
}

impl Xmllint {
    /// Uses `xmllint` from `PATH`; fails with [`ValidationError::Unavailable`] when it cannot run.
    pub fn new() -> Result<Xmllint, ValidationError> {
        Xmllint::with_program("xmllint")
    }

    /// Uses the given `xmllint` executable.
    pub fn with_program(program: impl Into<PathBuf>) -> Result<Xmllint, ValidationError> {
        let program = program.into();
        let version = Command::new(&program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| {
                ValidationError::Unavailable(format!("cannot run {}: {e}", program.display()))
            })?;
        if !version.success() {
            return Err(ValidationError::Unavailable(format!(
                "{} --version failed: {version}",
                program.display()
            )));
        }
        let schemas = tempfile::Builder::new()
            .prefix("vitrine-nfe-schemas")
            .tempdir()
            .map_err(|e| ValidationError::Unavailable(format!("temporary folder: {e}")))?;
        for (name, bytes) in SCHEMA_FILES {
            std::fs::write(schemas.path().join(name), bytes)
                .map_err(|e| ValidationError::Unavailable(format!("writing schema {name}: {e}")))?;
        }
        Ok(Xmllint { program, schemas })
    }

    /// The folder holding the schema files.
    pub fn schema_dir(&self) -> &Path {
        self.schemas.path()
    }
}

impl SchemaValidator for Xmllint {
    fn validate(&self, document: SchemaDocument, xml: &str) -> Result<(), ValidationError> {
        let schema = self.schemas.path().join(document.schema_file());
        let mut child = Command::new(&self.program)
            .args(["--noout", "--nonet", "--schema"])
            .arg(&schema)
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| ValidationError::Unavailable(format!("cannot run xmllint: {e}")))?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        // A write error (xmllint exited early) shows up in its status below.
        let _ = stdin.write_all(xml.as_bytes());
        drop(stdin);
        let output = child
            .wait_with_output()
            .map_err(|e| ValidationError::Unavailable(format!("xmllint: {e}")))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        match output.status.code() {
            Some(0) => Ok(()),
            // 1: not well-formed, 3: invalid, 4: validation error (libxml2's xmllint codes).
            Some(1 | 3 | 4) => Err(ValidationError::Invalid(
                stderr
                    .lines()
                    .filter(|l| !l.trim().is_empty() && !l.ends_with("fails to validate"))
                    .map(str::to_owned)
                    .collect(),
            )),
            _ => Err(ValidationError::Unavailable(format!(
                "xmllint exited with {}: {}",
                output.status,
                stderr.trim()
            ))),
        }
    }
}
