//! An in-process XML Schema 1.0 validator for the constructs the official NF-e package
//! (PL_010e) uses, on `roxmltree` and `regex`: no external program, no C library.
//!
//! - [`compile`](mod@compile): loads the embedded [`SCHEMA_FILES`] (include/import resolved by file name),
//!   and turns **every** component of every loaded file into the structures below. A construct
//!   it does not enforce is a compile error naming it (file, line, construct), never skipped.
//! - [`model`]: content models (`sequence`/`choice`/`element` with occurrence ranges) and their
//!   matcher.
//! - [`types`]: built-in primitives, restriction chains and facets (whiteSpace first, then
//!   length/minLength/maxLength, enumeration, pattern, minInclusive).
//! - [`pattern`]: the XSD regex dialect translated to the `regex` crate.
//! - [`walk`]: the instance walker (elements, attributes, text, `xs:unique`, ID uniqueness),
//!   with messages naming the element by its path.
//!
//! The list of enforced constructs, and the measurements against `xmllint`, are in
//! `VALIDATION.md` next to this crate's manifest.

mod compile;
mod model;
mod pattern;
mod types;
mod walk;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use crate::validate::{SCHEMA_FILES, SchemaDocument, SchemaValidator, ValidationError};
use model::{ElemId, Particle};
use types::SimpleType;

/// An expanded name: namespace URI (empty for none) and local name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct QName {
    pub(crate) ns: String,
    pub(crate) local: String,
}

impl QName {
    pub(crate) fn new(ns: &str, local: &str) -> QName {
        QName {
            ns: ns.to_owned(),
            local: local.to_owned(),
        }
    }
}

impl std::fmt::Display for QName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.ns.is_empty() {
            f.write_str(&self.local)
        } else {
            write!(f, "{{{}}}{}", self.ns, self.local)
        }
    }
}

/// Index of a type in the compiled schema.
pub(crate) type TypeId = usize;

#[derive(Debug)]
pub(crate) enum TypeDef {
    Simple(SimpleType),
    Complex(ComplexType),
}

#[derive(Debug)]
pub(crate) struct ComplexType {
    pub(crate) name: String,
    pub(crate) attributes: Vec<AttributeUse>,
    pub(crate) content: Content,
}

#[derive(Debug)]
pub(crate) enum Content {
    /// No element children; character children only when `mixed`.
    Empty { mixed: bool },
    /// `simpleContent`: the text is a value of this simple type.
    Simple(TypeId),
    /// Element children matching `particle`; `declarations` maps each name to its declaration
    /// (one per name: "Element Declarations Consistent", XSD 1.0 §3.8.6).
    Elements {
        particle: Particle,
        mixed: bool,
        declarations: HashMap<QName, ElemId>,
    },
}

#[derive(Debug)]
pub(crate) struct AttributeUse {
    pub(crate) name: QName,
    pub(crate) required: bool,
    pub(crate) fixed: Option<String>,
    pub(crate) ty: TypeId,
}

#[derive(Debug)]
pub(crate) struct ElementDecl {
    pub(crate) ty: TypeId,
    pub(crate) uniques: Vec<Unique>,
}

/// `xs:unique` with selector `./*` (the element's children) and one field `@attribute`.
#[derive(Debug)]
pub(crate) struct Unique {
    pub(crate) name: String,
    pub(crate) attribute: QName,
}

/// The compiled schemas: every component of every file reachable from the entry documents.
#[derive(Debug)]
pub(crate) struct Schema {
    pub(crate) types: Vec<TypeDef>,
    pub(crate) elements: Vec<ElementDecl>,
    /// Per entry document, the global elements a document may start with (those of the files
    /// the entry includes or imports, as `xmllint --schema <entry>` allows).
    pub(crate) roots: HashMap<SchemaDocument, HashMap<QName, ElemId>>,
}

/// [`SchemaValidator`] in process: the official schemas compiled once, documents walked with
/// `roxmltree`. Needs no external program.
#[derive(Debug)]
pub struct XsdValidator {
    schema: Schema,
}

impl XsdValidator {
    /// The validator for the embedded official schemas, compiled on first use and shared by
    /// every caller in the process.
    ///
    /// # Panics
    /// If the embedded schemas do not compile, which the crate's tests rule out.
    pub fn official() -> Arc<XsdValidator> {
        static OFFICIAL: OnceLock<Arc<XsdValidator>> = OnceLock::new();
        OFFICIAL
            .get_or_init(|| {
                Arc::new(
                    XsdValidator::compile(SCHEMA_FILES).unwrap_or_else(|e| {
                        panic!("the embedded NF-e schemas do not compile: {e}")
                    }),
                )
            })
            .clone()
    }

    /// Compiles a schema set given as `(file name, bytes)`; the entry documents of
    /// [`SchemaDocument`] must be among them. The error names the first construct that is not
    /// supported or not valid.
    pub fn compile(files: &[(&str, &[u8])]) -> Result<XsdValidator, String> {
        compile::compile(files).map(|schema| XsdValidator { schema })
    }
}

impl SchemaValidator for XsdValidator {
    fn validate(&self, document: SchemaDocument, xml: &str) -> Result<(), ValidationError> {
        walk::validate(&self.schema, document, xml).map_err(ValidationError::Invalid)
    }
}
