//! The instance walker: checks a document against the compiled schema, element by element.
//!
//! Messages name the element by its path (`/NFe/infNFe/det[2]/prod/xProd`) and say why. The walk
//! goes on after an error to report the others, up to [`MAX_MESSAGES`].

use std::collections::{HashMap, HashSet};

use roxmltree::{Document, Node};

use super::model::{ElemId, Mismatch};
use super::types::Builtin;
use super::{Content, QName, Schema, TypeDef};
use crate::validate::SchemaDocument;

const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
const MAX_MESSAGES: usize = 50;

pub(crate) fn validate(
    schema: &Schema,
    document: SchemaDocument,
    xml: &str,
) -> Result<(), Vec<String>> {
    let doc = Document::parse(xml).map_err(|e| vec![format!("not well-formed: {e}")])?;
    let root = doc.root_element();
    let name = name_of(root);
    let Some(roots) = schema.roots.get(&document) else {
        return Err(vec![format!(
            "{} is not among this validator's schemas",
            document.schema_file()
        )]);
    };
    let Some(&id) = roots.get(&name) else {
        return Err(vec![format!(
            "/{}: no global element {name} is declared in {}",
            root.tag_name().name(),
            document.schema_file()
        )]);
    };
    let mut walker = Walker {
        schema,
        errors: Vec::new(),
        ids: HashSet::new(),
    };
    walker.element(root, id, &format!("/{}", root.tag_name().name()));
    if walker.errors.is_empty() {
        Ok(())
    } else {
        Err(walker.errors)
    }
}

fn name_of(node: Node<'_, '_>) -> QName {
    QName::new(
        node.tag_name().namespace().unwrap_or(""),
        node.tag_name().name(),
    )
}

/// "; expected: a, b" for the names a content model could have taken.
fn expectation(expected: &[QName]) -> String {
    if expected.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = expected.iter().map(|n| n.local.as_str()).collect();
        format!("; expected: {}", names.join(", "))
    }
}

fn is_xml_space(text: &str) -> bool {
    text.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

struct Walker<'s> {
    schema: &'s Schema,
    errors: Vec<String>,
    ids: HashSet<String>,
}

impl Walker<'_> {
    fn fail(&mut self, path: &str, why: String) {
        if self.errors.len() < MAX_MESSAGES {
            self.errors.push(format!("{path}: {why}"));
        }
    }

    fn id_value(&mut self, path: &str, value: &str) {
        if !self.ids.insert(value.to_owned()) {
            self.fail(
                path,
                format!("the ID {value:?} is not unique in the document"),
            );
        }
    }

    fn element(&mut self, node: Node<'_, '_>, id: ElemId, path: &str) {
        let schema = self.schema;
        let decl = &schema.elements[id];
        let (attribute_uses, any_attribute, content) = match &schema.types[decl.ty] {
            TypeDef::Simple(_) => (&[][..], false, None),
            TypeDef::Complex(c) => (c.attributes.as_slice(), c.any_attribute, Some(&c.content)),
        };
        self.attributes(node, attribute_uses, any_attribute, path);

        let element_children: Vec<Node<'_, '_>> =
            node.children().filter(Node::is_element).collect();
        let text: String = node
            .children()
            .filter(Node::is_text)
            .filter_map(|t| t.text())
            .collect();
        let simple = match content {
            None => Some(decl.ty),
            Some(Content::Simple(ty)) => Some(*ty),
            Some(_) => None,
        };
        if let Some(ty) = simple {
            if let Some(child) = element_children.first() {
                self.fail(
                    path,
                    format!(
                        "element {} is not allowed: the content is a simple value",
                        child.tag_name().name()
                    ),
                );
            }
            let TypeDef::Simple(st) = &schema.types[ty] else {
                unreachable!("simple content has a simple type (checked at compile time)")
            };
            match st.check(&text) {
                Ok(value) if st.builtin == Builtin::Id => self.id_value(path, &value),
                Ok(_) => {}
                Err(why) => self.fail(path, format!("the value {why}")),
            }
        }
        match content {
            Some(Content::Empty { mixed }) => {
                if let Some(child) = element_children.first() {
                    self.fail(
                        path,
                        format!(
                            "element {} is not allowed: the content must be empty",
                            child.tag_name().name()
                        ),
                    );
                }
                if !mixed && !text.is_empty() {
                    self.fail(
                        path,
                        "character content is not allowed: the content must be empty".into(),
                    );
                }
            }
            Some(Content::Elements {
                particle,
                mixed,
                declarations,
            }) => {
                if !mixed && !is_xml_space(&text) {
                    self.fail(
                        path,
                        "character content is not allowed: the content is elements only".into(),
                    );
                }
                let names: Vec<QName> = element_children.iter().map(|c| name_of(*c)).collect();
                let refs: Vec<&QName> = names.iter().collect();
                match particle.matches(&refs) {
                    Ok(()) => {}
                    Err(Mismatch::Unexpected(at, expected)) => self.fail(
                        path,
                        format!(
                            "element {} (child {}) is not expected here{}",
                            names[at].local,
                            at + 1,
                            expectation(&expected)
                        ),
                    ),
                    Err(Mismatch::Incomplete(expected)) => self.fail(
                        path,
                        format!("missing child element(s){}", expectation(&expected)),
                    ),
                }
                let mut totals: HashMap<&QName, usize> = HashMap::new();
                for name in &names {
                    *totals.entry(name).or_insert(0) += 1;
                }
                let mut seen: HashMap<&QName, usize> = HashMap::new();
                for (child, name) in element_children.iter().zip(&names) {
                    let count = seen.entry(name).or_insert(0);
                    *count += 1;
                    let Some(&child_id) = declarations.get(name) else {
                        continue;
                    };
                    let repeated = totals[name] > 1;
                    let child_path = if repeated {
                        format!("{path}/{}[{count}]", name.local)
                    } else {
                        format!("{path}/{}", name.local)
                    };
                    self.element(*child, child_id, &child_path);
                }
            }
            Some(Content::Simple(_)) | None => {}
        }
        for unique in &decl.uniques {
            let mut values = HashSet::new();
            for child in &element_children {
                if let Some(value) = child.attribute(unique.attribute.local.as_str())
                    && !values.insert(value)
                {
                    self.fail(
                        path,
                        format!(
                            "duplicate key-sequence [{value:?}] in unique identity-constraint {}",
                            unique.name
                        ),
                    );
                }
            }
        }
    }

    fn attributes(
        &mut self,
        node: Node<'_, '_>,
        uses: &[super::AttributeUse],
        any_attribute: bool,
        path: &str,
    ) {
        let schema = self.schema;
        for attribute in node.attributes() {
            let name = QName::new(attribute.namespace().unwrap_or(""), attribute.name());
            if name.ns == XSI {
                if !matches!(
                    name.local.as_str(),
                    "schemaLocation" | "noNamespaceSchemaLocation"
                ) {
                    self.fail(
                        path,
                        format!("the attribute xsi:{} is not supported", name.local),
                    );
                }
                continue;
            }
            let Some(decl) = uses.iter().find(|u| u.name == name) else {
                if !any_attribute {
                    self.fail(path, format!("the attribute {name} is not allowed"));
                }
                continue;
            };
            let TypeDef::Simple(st) = &schema.types[decl.ty] else {
                unreachable!("attributes have simple types (checked at compile time)")
            };
            match st.check(attribute.value()) {
                Ok(value) => {
                    if decl.fixed.as_ref().is_some_and(|f| *f != value) {
                        self.fail(
                            path,
                            format!(
                                "the attribute {name}: {value:?} is not the fixed value {:?}",
                                decl.fixed.as_deref().unwrap_or("")
                            ),
                        );
                    }
                    if st.builtin == Builtin::Id {
                        self.id_value(path, &value);
                    }
                }
                Err(why) => self.fail(path, format!("the attribute {name}: the value {why}")),
            }
        }
        for decl in uses.iter().filter(|u| u.required) {
            let present = node.attributes().any(|a| {
                a.namespace().unwrap_or("") == decl.name.ns && a.name() == decl.name.local
            });
            if !present {
                self.fail(
                    path,
                    format!("the attribute {} is required but missing", decl.name),
                );
            }
        }
    }
}
