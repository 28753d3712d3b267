//! An in-process XML Schema 1.0 validator for the constructs the official NF-e package
//! (PL_010e) uses, on `roxmltree` and `regex`: no external program, no C library.
//!
//! - `compile`: loads the embedded [`SCHEMA_FILES`] (include/import resolved by file name),
//!   and turns **every** component of every loaded file into the structures below. A construct
//!   it does not enforce is a compile error naming it (file, line, construct), never skipped.
//! - `model`: content models (`sequence`/`choice`/`element` with occurrence ranges) and their
//!   matcher.
//! - `types`: built-in primitives, restriction chains and facets (whiteSpace first, then
//!   length/minLength/maxLength, enumeration, pattern, minInclusive).
//! - `pattern`: the XSD regex dialect translated to the `regex` crate.
//! - `walk`: the instance walker (elements, attributes, text, `xs:unique`, ID uniqueness),
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
    /// `xs:anyAttribute processContents="skip"`: any other attribute is accepted unchecked.
    pub(crate) any_attribute: bool,
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
        if !self.schema.roots.contains_key(&document) {
            return Err(ValidationError::Unavailable(format!(
                "{} is not among this validator's schemas",
                document.schema_file()
            )));
        }
        walk::validate(&self.schema, document, xml).map_err(ValidationError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "urn:t";

    /// A schema set whose first entry document is the small schema `body` (with a BOM), which
    /// the two others include.
    fn compile_one(body: &str) -> Result<XsdValidator, String> {
        let schema = |inner: &str| {
            format!(
                "\u{feff}<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns=\"{NS}\" \
                 targetNamespace=\"{NS}\" elementFormDefault=\"qualified\">{inner}</xs:schema>"
            )
        };
        let main = schema(body);
        let including = schema(&format!(
            "<xs:include schemaLocation=\"{}\"/>",
            SchemaDocument::Nfe.schema_file()
        ));
        let files: Vec<(&str, &[u8])> = vec![
            (SchemaDocument::Nfe.schema_file(), main.as_bytes()),
            (SchemaDocument::EnviNfe.schema_file(), including.as_bytes()),
            (SchemaDocument::NfeProc.schema_file(), including.as_bytes()),
        ];
        XsdValidator::compile(&files)
    }

    fn valid(v: &XsdValidator, xml: &str) -> bool {
        v.validate(SchemaDocument::Nfe, xml).is_ok()
    }

    #[test]
    fn the_official_schemas_compile_for_the_three_entry_documents() {
        let v = XsdValidator::official();
        for d in [
            SchemaDocument::Nfe,
            SchemaDocument::EnviNfe,
            SchemaDocument::NfeProc,
        ] {
            assert!(!v.schema.roots[&d].is_empty());
        }
        let nfe = QName::new("http://www.portalfiscal.inf.br/nfe", "NFe");
        let envi = QName::new("http://www.portalfiscal.inf.br/nfe", "enviNFe");
        assert!(v.schema.roots[&SchemaDocument::Nfe].contains_key(&nfe));
        assert!(!v.schema.roots[&SchemaDocument::Nfe].contains_key(&envi));
        assert!(v.schema.roots[&SchemaDocument::EnviNfe].contains_key(&envi));
        assert!(Arc::ptr_eq(&v, &XsdValidator::official()), "compiled once");
    }

    #[test]
    fn every_construct_outside_the_supported_set_is_a_compile_error_naming_it() {
        let cases = [
            (
                "<xs:element name=\"a\"><xs:complexType><xs:sequence><xs:any/></xs:sequence></xs:complexType></xs:element>",
                "xs:any",
            ),
            (
                "<xs:element name=\"a\"><xs:complexType><xs:all><xs:element name=\"b\" type=\"xs:string\"/></xs:all></xs:complexType></xs:element>",
                "xs:all",
            ),
            ("<xs:group name=\"g\"><xs:sequence/></xs:group>", "xs:group"),
            (
                "<xs:simpleType name=\"l\"><xs:list itemType=\"xs:string\"/></xs:simpleType>",
                "list",
            ),
            (
                "<xs:simpleType name=\"d\"><xs:restriction base=\"xs:decimal\"/></xs:simpleType>",
                "xs:decimal",
            ),
            (
                "<xs:simpleType name=\"s\"><xs:restriction base=\"xs:string\"><xs:totalDigits value=\"3\"/></xs:restriction></xs:simpleType>",
                "xs:totalDigits",
            ),
            (
                "<xs:element name=\"a\" type=\"xs:string\" nillable=\"true\"/>",
                "nillable",
            ),
            ("<xs:element name=\"a\"/>", "anyType"),
            (
                "<xs:complexType name=\"c\"><xs:complexContent><xs:extension base=\"c\"/></xs:complexContent></xs:complexType>",
                "xs:complexContent",
            ),
            (
                "<xs:complexType name=\"c\"><xs:anyAttribute/></xs:complexType>",
                "xs:anyAttribute",
            ),
            (
                "<xs:complexType name=\"c\"><xs:attribute name=\"x\" type=\"xs:string\" default=\"1\"/></xs:complexType>",
                "default",
            ),
            (
                "<xs:element name=\"a\" type=\"xs:string\"><xs:key name=\"k\"><xs:selector xpath=\".\"/><xs:field xpath=\"@x\"/></xs:key></xs:element>",
                "xs:key",
            ),
            (
                "<xs:element name=\"a\" type=\"xs:string\"><xs:unique name=\"k\"><xs:selector xpath=\".//b\"/><xs:field xpath=\"@x\"/></xs:unique></xs:element>",
                "./*",
            ),
            (
                "<xs:simpleType name=\"p\"><xs:restriction base=\"xs:string\"><xs:pattern value=\"\\p{IsBasicLatin}\"/></xs:restriction></xs:simpleType>",
                "Is",
            ),
        ];
        for (body, construct) in cases {
            match compile_one(body) {
                Ok(_) => panic!("{body} compiled"),
                Err(e) => assert!(
                    e.contains(construct),
                    "{body}: {e} does not name {construct}"
                ),
            }
        }
    }

    #[test]
    fn elements_attributes_and_facets_are_enforced() {
        let v = compile_one(
            r#"<xs:element name="r">
                 <xs:complexType>
                   <xs:sequence>
                     <xs:element name="a" type="T" maxOccurs="2"/>
                     <xs:choice minOccurs="0">
                       <xs:element name="b" type="xs:token"/>
                       <xs:sequence><xs:element name="c" type="xs:string"/><xs:element name="d" type="xs:string" minOccurs="0"/></xs:sequence>
                     </xs:choice>
                     <xs:element name="e" minOccurs="0"><xs:complexType><xs:attribute name="k" type="xs:anyURI" use="required" fixed="urn:x"/></xs:complexType></xs:element>
                   </xs:sequence>
                   <xs:attribute name="Id" type="xs:ID"/>
                 </xs:complexType>
               </xs:element>
               <xs:simpleType name="T"><xs:restriction base="xs:string"><xs:whiteSpace value="preserve"/><xs:maxLength value="3"/><xs:pattern value="[0-9]+"/></xs:restriction></xs:simpleType>"#,
        )
        .unwrap();
        let doc = |inner: &str| format!("<r xmlns=\"{NS}\">{inner}</r>");
        assert!(valid(&v, &doc("<a>1</a>")));
        assert!(valid(
            &v,
            &doc("<a>1</a><a>22</a><c>x</c><d>y</d><e k=\"urn:x\"/>")
        ));
        assert!(valid(&v, &doc("<a>1</a><b> x  y </b>")));
        assert!(!valid(&v, &doc("")), "a is required");
        assert!(
            !valid(&v, &doc("<a>1</a><a>1</a><a>1</a>")),
            "at most two a"
        );
        assert!(!valid(&v, &doc("<a>1234</a>")), "maxLength");
        assert!(
            !valid(&v, &doc("<a>1 </a>")),
            "pattern on the preserved value"
        );
        assert!(!valid(&v, &doc("<a>1</a><d>y</d>")), "d without c");
        assert!(
            !valid(&v, &doc("<a>1</a><b>x</b><c>x</c>")),
            "both branches"
        );
        assert!(!valid(&v, &doc("<a>1</a><e/>")), "required attribute");
        assert!(
            !valid(&v, &doc("<a>1</a><e k=\"urn:y\"/>")),
            "fixed attribute"
        );
        assert!(
            !valid(&v, &doc("<a>1</a><e k=\"urn:x\" z=\"1\"/>")),
            "undeclared attribute"
        );
        assert!(!valid(&v, &doc("<a>1</a>text")), "element-only content");
        assert!(
            !valid(&v, "<r xmlns=\"urn:other\"><a>1</a></r>"),
            "namespace"
        );
        assert!(!valid(&v, &doc("<a>1<a>")), "not well-formed");
        let err = v
            .validate(SchemaDocument::Nfe, &doc("<a>1234</a>"))
            .unwrap_err();
        assert!(err.to_string().contains("/r/a"), "{err}");
    }

    #[test]
    fn skip_wildcards_accept_anything_there_and_nothing_elsewhere() {
        let v = compile_one(
            "<xs:element name=\"a\"><xs:complexType><xs:sequence>\
             <xs:element name=\"b\" type=\"xs:string\"/>\
             <xs:any processContents=\"skip\" maxOccurs=\"unbounded\"/></xs:sequence>\
             <xs:anyAttribute processContents=\"skip\"/></xs:complexType></xs:element>\
             <xs:element name=\"c\"><xs:complexType><xs:sequence>\
             <xs:element name=\"d\" type=\"xs:dateTime\"/></xs:sequence></xs:complexType></xs:element>",
        )
        .unwrap();
        let doc = |body: &str| format!("<a xmlns=\"{NS}\" x=\"1\">{body}</a>");
        assert!(valid(&v, &doc("<b>1</b><z><any/></z><y/>")));
        assert!(!valid(&v, &doc("<z/>")), "b is still required first");
        assert!(
            !valid(&v, &doc("<b>1</b>")),
            "the wildcard needs one element"
        );
        let c = |d: &str| format!("<c xmlns=\"{NS}\"><d>{d}</d></c>");
        assert!(valid(&v, &c("2026-08-20T14:30:00-03:00")));
        assert!(!valid(&v, &c("2026-02-30T14:30:00")));
        assert!(!valid(&v, &c("20 de agosto")));
        assert!(!valid(
            &v,
            &format!("<c xmlns=\"{NS}\" x=\"1\"><d>2026-08-20T14:30:00</d></c>")
        ));
    }

    #[test]
    fn strict_or_namespaced_wildcards_are_compile_errors() {
        for body in [
            "<xs:element name=\"a\"><xs:complexType><xs:sequence><xs:any processContents=\"lax\"/></xs:sequence></xs:complexType></xs:element>",
            "<xs:element name=\"a\"><xs:complexType><xs:sequence><xs:any processContents=\"skip\" namespace=\"##other\"/></xs:sequence></xs:complexType></xs:element>",
        ] {
            let err = compile_one(body).unwrap_err();
            assert!(err.contains("xs:any"), "{err}");
        }
    }
}
