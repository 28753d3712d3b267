//! Schema loading and compilation.
//!
//! Files are found by the base name of `schemaLocation` among the given files (no network, no
//! disk); a leading byte-order mark is skipped. Every top-level component of every loaded file is
//! compiled, used or not, so every construct of the package is checked here once: what is not in
//! the tables below is an error naming the file, the line and the construct.

use std::collections::{HashMap, HashSet};

use roxmltree::{Document, Node};

use super::model::{ElemId, Particle, Term};
use super::types::{Builtin, Facets, SimpleType, WhiteSpace, parse_year_month};
use super::{
    AttributeUse, ComplexType, Content, ElementDecl, QName, Schema, TypeDef, TypeId, Unique,
};
use crate::validate::SchemaDocument;

pub(crate) const XS: &str = "http://www.w3.org/2001/XMLSchema";

pub(crate) fn compile(files: &[(&str, &[u8])]) -> Result<Schema, String> {
    let texts: HashMap<&str, &str> = files
        .iter()
        .map(|(name, bytes)| {
            let text = std::str::from_utf8(bytes).map_err(|e| format!("{name}: not UTF-8: {e}"))?;
            Ok((*name, text.strip_prefix('\u{feff}').unwrap_or(text)))
        })
        .collect::<Result<_, String>>()?;
    // Which files each entry reaches, in load order; a file without targetNamespace takes its
    // includer's (a "chameleon" include, as DFeTiposBasicos_v1.00.xsd is).
    let mut reach: Vec<(SchemaDocument, Vec<&str>)> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    let mut docs: Vec<Document<'_>> = Vec::new();
    let mut namespaces: Vec<String> = Vec::new();
    // The entry documents are those whose entry file is among the files (the NF-e set holds
    // the first six, each web-service set its own).
    let entries: Vec<SchemaDocument> = SchemaDocument::ALL
        .into_iter()
        .filter(|e| texts.contains_key(e.schema_file()))
        .collect();
    if entries.is_empty() {
        return Err("no entry schema among the files".into());
    }
    for entry in entries {
        let mut seen: Vec<&str> = Vec::new();
        let mut queue: Vec<(&str, Option<String>)> = vec![(entry.schema_file(), None)];
        while let Some((name, includer_ns)) = queue.pop() {
            if seen.contains(&name) {
                continue;
            }
            seen.push(name);
            let index = match names.iter().position(|n| *n == name) {
                Some(i) => i,
                None => {
                    let text = texts
                        .get(name)
                        .ok_or_else(|| format!("schema file {name} is not among the files"))?;
                    let doc = Document::parse(text).map_err(|e| format!("{name}: {e}"))?;
                    let own = doc.root_element().attribute("targetNamespace");
                    namespaces.push(
                        own.map(str::to_owned)
                            .or(includer_ns.clone())
                            .unwrap_or_default(),
                    );
                    names.push(name);
                    docs.push(doc);
                    names.len() - 1
                }
            };
            let root = docs[index].root_element();
            if root.tag_name().namespace() != Some(XS) || root.tag_name().name() != "schema" {
                return Err(format!("{name}: the root element is not xs:schema"));
            }
            if root.attribute("targetNamespace").is_none()
                && let Some(includer) = &includer_ns
                && *includer != namespaces[index]
            {
                return Err(format!("{name}: included into two target namespaces"));
            }
            for child in root.children().filter(Node::is_element) {
                let kind = child.tag_name().name();
                if child.tag_name().namespace() == Some(XS) && matches!(kind, "include" | "import")
                {
                    let location = child
                        .attribute("schemaLocation")
                        .ok_or_else(|| format!("{name}: xs:{kind} without schemaLocation"))?;
                    let target = location.rsplit('/').next().unwrap_or(location);
                    let target = texts
                        .get_key_value(target)
                        .map(|(k, _)| *k)
                        .ok_or_else(|| format!("{name}: xs:{kind} of {location}: no such file"))?;
                    let passed = (kind == "include").then(|| namespaces[index].clone());
                    queue.push((target, passed));
                }
            }
        }
        reach.push((entry, seen));
    }

    let mut c = Compiler {
        names: &names,
        docs: &docs,
        namespaces: &namespaces,
        globals: HashMap::new(),
        type_ids: HashMap::new(),
        element_ids: HashMap::new(),
        simple_in_progress: HashSet::new(),
        schema: Schema {
            types: Vec::new(),
            elements: Vec::new(),
            roots: HashMap::new(),
        },
    };
    c.index()?;
    for (index, doc) in docs.iter().enumerate() {
        for child in doc.root_element().children().filter(Node::is_element) {
            let name = || QName::new(&namespaces[index], child.attribute("name").unwrap_or(""));
            match child.tag_name().name() {
                "element" => {
                    c.global_element(&name())?;
                }
                "complexType" | "simpleType" => {
                    c.named_type(&name())?;
                }
                _ => {}
            }
        }
    }
    for (entry, files) in reach {
        let mut roots = HashMap::new();
        for (index, doc) in docs.iter().enumerate() {
            if !files.contains(&names[index]) {
                continue;
            }
            for child in doc.root_element().children().filter(Node::is_element) {
                if child.tag_name().name() == "element" {
                    let name =
                        QName::new(&namespaces[index], child.attribute("name").unwrap_or(""));
                    roots.insert(name.clone(), c.element_ids[&name]);
                }
            }
        }
        c.schema.roots.insert(entry, roots);
    }
    Ok(c.schema)
}

fn qualified_elements(node: Node<'_, '_>) -> bool {
    node.document()
        .root_element()
        .attribute("elementFormDefault")
        == Some("qualified")
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Element,
    Type,
}

struct Compiler<'a, 'i> {
    names: &'a [&'a str],
    docs: &'a [Document<'i>],
    /// Each file's target namespace (its includer's for a chameleon file).
    namespaces: &'a [String],
    globals: HashMap<(Kind, QName), Node<'a, 'i>>,
    type_ids: HashMap<QName, TypeId>,
    element_ids: HashMap<QName, ElemId>,
    simple_in_progress: HashSet<QName>,
    schema: Schema,
}

impl<'a, 'i> Compiler<'a, 'i> {
    fn file_index(&self, node: Node<'_, '_>) -> usize {
        self.docs
            .iter()
            .position(|d| std::ptr::eq(d, node.document()))
            .expect("a node of a loaded file")
    }

    /// The target namespace of the file `node` is in.
    fn target_namespace(&self, node: Node<'_, '_>) -> &'a str {
        &self.namespaces[self.file_index(node)]
    }

    /// An error about `node`: file, line, construct.
    fn error(&self, node: Node<'_, '_>, why: &str) -> String {
        let file = self.names[self.file_index(node)];
        let line = node.document().text_pos_at(node.range().start).row;
        format!("{file}:{line}: xs:{}: {why}", node.tag_name().name())
    }

    /// Checks that `node` carries only the listed attributes (namespace declarations aside).
    fn attributes(&self, node: Node<'_, '_>, allowed: &[&str]) -> Result<(), String> {
        for a in node.attributes() {
            if a.namespace().is_some() || !allowed.contains(&a.name()) {
                return Err(self.error(node, &format!("attribute `{}` is not supported", a.name())));
            }
        }
        Ok(())
    }

    /// The XSD children of `node` other than `xs:annotation`; anything else (foreign elements,
    /// text) is an error.
    fn children(&self, node: Node<'a, 'i>) -> Result<Vec<Node<'a, 'i>>, String> {
        let mut out = Vec::new();
        for child in node.children() {
            if child.is_text() && !child.text().unwrap_or("").trim().is_empty() {
                return Err(self.error(node, "text content is not XSD"));
            }
            if !child.is_element() {
                continue;
            }
            if child.tag_name().namespace() != Some(XS) {
                return Err(self.error(child, "an element outside the XSD namespace"));
            }
            if child.tag_name().name() != "annotation" {
                out.push(child);
            }
        }
        Ok(out)
    }

    fn resolve(&self, node: Node<'_, '_>, value: &str) -> Result<QName, String> {
        let (prefix, local) = match value.split_once(':') {
            Some((p, l)) => (Some(p), l),
            None => (None, value),
        };
        let ns = match node.lookup_namespace_uri(prefix) {
            Some(ns) => ns,
            // No namespace; in a chameleon file, that is the includer's.
            None if prefix.is_none() => self.target_namespace(node),
            None => return Err(self.error(node, &format!("undeclared prefix in {value:?}"))),
        };
        Ok(QName::new(ns, local))
    }

    /// Indexes the top-level components and checks the schema elements themselves.
    fn index(&mut self) -> Result<(), String> {
        let docs = self.docs;
        for doc in docs {
            let root = doc.root_element();
            self.attributes(
                root,
                &[
                    "targetNamespace",
                    "elementFormDefault",
                    "attributeFormDefault",
                    "version",
                ],
            )?;
            if root
                .attribute("attributeFormDefault")
                .is_some_and(|v| v != "unqualified")
            {
                return Err(self.error(root, "attributeFormDefault=\"qualified\" is not supported"));
            }
            for child in self.children(root)? {
                let kind = match child.tag_name().name() {
                    "include" => {
                        self.attributes(child, &["schemaLocation"])?;
                        let location = child.attribute("schemaLocation").unwrap_or("");
                        let included = self.doc_named(location.rsplit('/').next().unwrap_or(""));
                        if included.is_some_and(|d| {
                            self.target_namespace(d.root_element()) != self.target_namespace(root)
                        }) {
                            return Err(self.error(child, "an include of another target namespace"));
                        }
                        continue;
                    }
                    "import" => {
                        self.attributes(child, &["namespace", "schemaLocation"])?;
                        let location = child.attribute("schemaLocation").unwrap_or("");
                        let imported = self.doc_named(location.rsplit('/').next().unwrap_or(""));
                        if imported.is_some_and(|d| {
                            Some(self.target_namespace(d.root_element()))
                                != child.attribute("namespace")
                        }) {
                            return Err(self.error(
                                child,
                                "the imported file's targetNamespace differs from `namespace`",
                            ));
                        }
                        continue;
                    }
                    "element" => Kind::Element,
                    "complexType" | "simpleType" => Kind::Type,
                    other => {
                        return Err(
                            self.error(child, &format!("top-level xs:{other} is not supported"))
                        );
                    }
                };
                let name = child
                    .attribute("name")
                    .ok_or_else(|| self.error(child, "a top-level component without a name"))?;
                let key = (kind, QName::new(self.target_namespace(child), name));
                if self.globals.insert(key, child).is_some() {
                    return Err(self.error(child, &format!("{name} is declared twice")));
                }
            }
        }
        Ok(())
    }

    fn doc_named(&self, name: &str) -> Option<&'a Document<'i>> {
        let docs = self.docs;
        self.names.iter().position(|n| *n == name).map(|i| &docs[i])
    }

    fn global_element(&mut self, name: &QName) -> Result<ElemId, String> {
        if let Some(id) = self.element_ids.get(name) {
            return Ok(*id);
        }
        let node = *self
            .globals
            .get(&(Kind::Element, name.clone()))
            .ok_or_else(|| format!("element {name} is not declared"))?;
        self.attributes(node, &["name", "type"])?;
        let id = self.schema.elements.len();
        // Reserved before its type is compiled, so a recursive reference finds it.
        self.schema.elements.push(ElementDecl {
            ty: 0,
            uniques: Vec::new(),
        });
        self.element_ids.insert(name.clone(), id);
        let (ty, uniques) = self.element_body(node)?;
        self.schema.elements[id].ty = ty;
        self.schema.elements[id].uniques = uniques;
        Ok(id)
    }

    /// An element's type (by `type` or anonymous) and its `xs:unique` constraints.
    fn element_body(&mut self, node: Node<'a, 'i>) -> Result<(TypeId, Vec<Unique>), String> {
        let mut ty = match node.attribute("type") {
            Some(t) => Some(self.type_ref(node, t)?),
            None => None,
        };
        let mut uniques = Vec::new();
        for child in self.children(node)? {
            match child.tag_name().name() {
                "complexType" | "simpleType" if ty.is_none() => {
                    let label = format!(
                        "anonymous type of element {}",
                        node.attribute("name").unwrap_or("?")
                    );
                    ty = Some(self.anonymous_type(child, label)?);
                }
                "unique" => uniques.push(self.unique(child)?),
                other => {
                    return Err(self.error(
                        child,
                        &format!("xs:{other} inside xs:element is not supported"),
                    ));
                }
            }
        }
        let ty = ty.ok_or_else(|| {
            self.error(
                node,
                "an element without a type (xs:anyType) is not supported",
            )
        })?;
        Ok((ty, uniques))
    }

    fn unique(&self, node: Node<'a, 'i>) -> Result<Unique, String> {
        self.attributes(node, &["name"])?;
        let children = self.children(node)?;
        let [selector, field] = children.as_slice() else {
            return Err(self.error(node, "only one xs:selector and one xs:field are supported"));
        };
        if selector.tag_name().name() != "selector" || field.tag_name().name() != "field" {
            return Err(self.error(node, "only one xs:selector and one xs:field are supported"));
        }
        self.attributes(*selector, &["xpath"])?;
        self.attributes(*field, &["xpath"])?;
        if !matches!(selector.attribute("xpath"), Some("./*" | "*")) {
            return Err(self.error(
                *selector,
                "only the selector `./*` (the element's children) is supported",
            ));
        }
        let attribute = field
            .attribute("xpath")
            .and_then(|x| x.strip_prefix('@'))
            .filter(|a| super::types::is_ncname(a))
            .ok_or_else(|| {
                self.error(
                    *field,
                    "only a field `@attribute` (unprefixed) is supported",
                )
            })?;
        Ok(Unique {
            name: node.attribute("name").unwrap_or("").to_owned(),
            attribute: QName::new("", attribute),
        })
    }

    /// A type by QName: a built-in, or a named type of the schema (compiled on first use).
    fn type_ref(&mut self, node: Node<'_, '_>, value: &str) -> Result<TypeId, String> {
        let name = self.resolve(node, value)?;
        self.named_type(&name)
            .map_err(|e| format!("{e} (referenced at {})", self.error(node, value)))
    }

    fn named_type(&mut self, name: &QName) -> Result<TypeId, String> {
        if let Some(id) = self.type_ids.get(name) {
            return Ok(*id);
        }
        let id = self.schema.types.len();
        if name.ns == XS {
            let builtin = Builtin::by_name(&name.local)
                .ok_or_else(|| format!("the built-in type xs:{} is not supported", name.local))?;
            self.schema
                .types
                .push(TypeDef::Simple(SimpleType::builtin(builtin)));
            self.type_ids.insert(name.clone(), id);
            return Ok(id);
        }
        let node = *self
            .globals
            .get(&(Kind::Type, name.clone()))
            .ok_or_else(|| format!("type {name} is not declared"))?;
        if node.tag_name().name() == "simpleType" {
            if !self.simple_in_progress.insert(name.clone()) {
                return Err(self.error(node, "a simple type derived from itself"));
            }
            self.attributes(node, &["name"])?;
            let simple = self.simple_type(node, name.local.clone())?;
            self.simple_in_progress.remove(name);
            let id = self.schema.types.len();
            self.schema.types.push(TypeDef::Simple(simple));
            self.type_ids.insert(name.clone(), id);
            return Ok(id);
        }
        // Complex: reserved first, so a recursive reference finds it.
        self.schema.types.push(TypeDef::Complex(ComplexType {
            name: name.local.clone(),
            attributes: Vec::new(),
            any_attribute: false,
            content: Content::Empty { mixed: false },
        }));
        self.type_ids.insert(name.clone(), id);
        self.attributes(node, &["name", "mixed"])?;
        let complex = self.complex_type(node, name.local.clone())?;
        self.schema.types[id] = TypeDef::Complex(complex);
        Ok(id)
    }

    fn anonymous_type(&mut self, node: Node<'a, 'i>, label: String) -> Result<TypeId, String> {
        let def = if node.tag_name().name() == "simpleType" {
            self.attributes(node, &[])?;
            TypeDef::Simple(self.simple_type(node, label)?)
        } else {
            self.attributes(node, &["mixed"])?;
            TypeDef::Complex(self.complex_type(node, label)?)
        };
        self.schema.types.push(def);
        Ok(self.schema.types.len() - 1)
    }

    fn simple(&self, id: TypeId, node: Node<'_, '_>) -> Result<SimpleType, String> {
        match &self.schema.types[id] {
            TypeDef::Simple(s) => Ok(s.clone()),
            TypeDef::Complex(c) => Err(self.error(
                node,
                &format!("{} is a complex type where a simple type is needed", c.name),
            )),
        }
    }

    fn simple_type(&mut self, node: Node<'a, 'i>, name: String) -> Result<SimpleType, String> {
        let children = self.children(node)?;
        let [restriction] = children.as_slice() else {
            return Err(self.error(node, "a simple type must have exactly one derivation"));
        };
        if restriction.tag_name().name() != "restriction" {
            return Err(self.error(
                *restriction,
                "only xs:restriction is supported (not list or union)",
            ));
        }
        self.attributes(*restriction, &["base"])?;
        let mut facet_nodes = self.children(*restriction)?;
        let base = match restriction.attribute("base") {
            Some(b) => {
                let id = self.type_ref(*restriction, b)?;
                self.simple(id, *restriction)?
            }
            None => {
                if facet_nodes
                    .first()
                    .is_none_or(|n| n.tag_name().name() != "simpleType")
                {
                    return Err(
                        self.error(*restriction, "a restriction without base or simple type")
                    );
                }
                let inner = facet_nodes.remove(0);
                self.attributes(inner, &[])?;
                self.simple_type(inner, format!("{name} (base)"))?
            }
        };
        let mut result = SimpleType { name, ..base };
        let mut facets = Facets::default();
        for facet in facet_nodes {
            self.attributes(facet, &["value"])?;
            let value = facet
                .attribute("value")
                .ok_or_else(|| self.error(facet, "a facet without value"))?;
            let number = || {
                value.parse::<usize>().map_err(|_| {
                    self.error(facet, &format!("{value:?} is not a non-negative integer"))
                })
            };
            match facet.tag_name().name() {
                "pattern" => {
                    let regex =
                        super::pattern::compile(value).map_err(|e| self.error(facet, &e))?;
                    facets.patterns.push((value.to_owned(), regex));
                }
                "enumeration" => facets
                    .enumeration
                    .get_or_insert_with(Vec::new)
                    .push(value.to_owned()),
                "length" => facets.length = Some(number()?),
                "minLength" => facets.min_length = Some(number()?),
                "maxLength" => facets.max_length = Some(number()?),
                "whiteSpace" => {
                    let ws = WhiteSpace::parse(value)
                        .ok_or_else(|| self.error(facet, &format!("bad whiteSpace {value:?}")))?;
                    if ws < result.whitespace {
                        return Err(self.error(
                            facet,
                            "whiteSpace may only be made stricter by a restriction",
                        ));
                    }
                    result.whitespace = ws;
                }
                "minInclusive" if result.builtin == Builtin::GYearMonth => {
                    facets.min_inclusive = Some(parse_year_month(value).ok_or_else(|| {
                        self.error(facet, &format!("{value:?} is not a gYearMonth"))
                    })?);
                }
                other => {
                    return Err(self.error(
                        facet,
                        &format!("the facet xs:{other} on {} is not supported", result.name),
                    ));
                }
            }
        }
        result.steps.push(facets);
        Ok(result)
    }

    fn complex_type(&mut self, node: Node<'a, 'i>, name: String) -> Result<ComplexType, String> {
        let mixed = match node.attribute("mixed") {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => return Err(self.error(node, &format!("bad mixed {other:?}"))),
        };
        let mut attributes = Vec::new();
        let mut any_attribute = false;
        let mut content = Content::Empty { mixed };
        for child in self.children(node)? {
            match child.tag_name().name() {
                "anyAttribute" if !any_attribute => {
                    self.skip_wildcard(child, &[])?;
                    any_attribute = true;
                }
                "sequence" | "choice"
                    if attributes.is_empty() && matches!(content, Content::Empty { .. }) =>
                {
                    let particle = self.group(child)?;
                    let mut list = Vec::new();
                    particle.declarations(&mut list);
                    let mut declarations = HashMap::new();
                    for (element, id) in list {
                        if let Some(other) = declarations.insert(element.clone(), id)
                            && self.schema.elements[other].ty != self.schema.elements[id].ty
                        {
                            return Err(self.error(
                                child,
                                &format!("{element} is declared twice with different types"),
                            ));
                        }
                    }
                    content = Content::Elements {
                        particle,
                        mixed,
                        declarations,
                    };
                }
                "attribute" => attributes.push(self.attribute(child)?),
                "simpleContent" if !mixed && matches!(content, Content::Empty { .. }) => {
                    self.attributes(child, &[])?;
                    let inner = self.children(child)?;
                    let [extension] = inner.as_slice() else {
                        return Err(self.error(child, "expected one xs:extension"));
                    };
                    if extension.tag_name().name() != "extension" {
                        return Err(self.error(
                            *extension,
                            "only xs:extension is supported in xs:simpleContent",
                        ));
                    }
                    self.attributes(*extension, &["base"])?;
                    let base = extension
                        .attribute("base")
                        .ok_or_else(|| self.error(*extension, "an extension without base"))?;
                    let base = self.type_ref(*extension, base)?;
                    self.simple(base, *extension)?;
                    for a in self.children(*extension)? {
                        if a.tag_name().name() != "attribute" {
                            return Err(
                                self.error(a, "only xs:attribute is supported in xs:extension")
                            );
                        }
                        attributes.push(self.attribute(a)?);
                    }
                    content = Content::Simple(base);
                }
                other => {
                    return Err(self.error(child, &format!("xs:{other} here is not supported")));
                }
            }
        }
        Ok(ComplexType {
            name,
            attributes,
            any_attribute,
            content,
        })
    }

    fn attribute(&mut self, node: Node<'a, 'i>) -> Result<AttributeUse, String> {
        self.attributes(node, &["name", "type", "use", "fixed"])?;
        let name = node.attribute("name").ok_or_else(|| {
            self.error(node, "an attribute without a name (ref) is not supported")
        })?;
        let required = match node.attribute("use") {
            None | Some("optional") => false,
            Some("required") => true,
            Some(other) => return Err(self.error(node, &format!("use={other:?} is not supported"))),
        };
        let inner = self.children(node)?;
        let ty = match (node.attribute("type"), inner.as_slice()) {
            (Some(t), []) => self.type_ref(node, t)?,
            (None, [simple]) if simple.tag_name().name() == "simpleType" => {
                self.anonymous_type(*simple, format!("type of attribute {name}"))?
            }
            _ => {
                return Err(self.error(
                    node,
                    "an attribute needs one type (`type` or an xs:simpleType)",
                ));
            }
        };
        let simple = self.simple(ty, node)?;
        let fixed = match node.attribute("fixed") {
            Some(f) => Some(
                simple
                    .check(f)
                    .map_err(|e| self.error(node, &format!("fixed value {e}")))?,
            ),
            None => None,
        };
        Ok(AttributeUse {
            name: QName::new("", name),
            required,
            fixed,
            ty,
        })
    }

    fn occurs(&self, node: Node<'_, '_>) -> Result<(u32, Option<u32>), String> {
        let min = match node.attribute("minOccurs") {
            None => 1,
            Some(v) => v
                .parse()
                .map_err(|_| self.error(node, &format!("bad minOccurs {v:?}")))?,
        };
        let max = match node.attribute("maxOccurs") {
            None => Some(1),
            Some("unbounded") => None,
            Some(v) => Some(
                v.parse()
                    .map_err(|_| self.error(node, &format!("bad maxOccurs {v:?}")))?,
            ),
        };
        if max.is_some_and(|max| max < min) {
            return Err(self.error(node, "maxOccurs is less than minOccurs"));
        }
        Ok((min, max))
    }

    fn group(&mut self, node: Node<'a, 'i>) -> Result<Particle, String> {
        self.attributes(node, &["minOccurs", "maxOccurs"])?;
        let (min, max) = self.occurs(node)?;
        let mut items = Vec::new();
        for child in self.children(node)? {
            items.push(match child.tag_name().name() {
                "sequence" | "choice" => self.group(child)?,
                "element" => self.local_element(child)?,
                "any" => {
                    self.skip_wildcard(child, &["minOccurs", "maxOccurs"])?;
                    let (min, max) = self.occurs(child)?;
                    Particle {
                        min,
                        max,
                        term: Term::Any,
                    }
                }
                other => {
                    return Err(self.error(
                        child,
                        &format!("xs:{other} in a model group is not supported"),
                    ));
                }
            });
        }
        Ok(Particle {
            min,
            max,
            term: if node.tag_name().name() == "sequence" {
                Term::Sequence(items)
            } else {
                Term::Choice(items)
            },
        })
    }

    /// `xs:any` / `xs:anyAttribute`: only `processContents="skip"` with any namespace (what the
    /// web-service schemas use for `detEvento`): what it matches is accepted unchecked.
    fn skip_wildcard(&self, node: Node<'a, 'i>, occurs: &[&str]) -> Result<(), String> {
        let mut allowed = vec!["processContents", "namespace"];
        allowed.extend_from_slice(occurs);
        self.attributes(node, &allowed)?;
        if node.attribute("processContents") != Some("skip") {
            return Err(self.error(
                node,
                "a wildcard other than processContents=\"skip\" is not supported",
            ));
        }
        if !matches!(node.attribute("namespace"), None | Some("##any")) {
            return Err(self.error(
                node,
                "a wildcard namespace other than ##any is not supported",
            ));
        }
        if !self.children(node)?.is_empty() {
            return Err(self.error(node, "a wildcard with content"));
        }
        Ok(())
    }

    fn local_element(&mut self, node: Node<'a, 'i>) -> Result<Particle, String> {
        let (min, max) = self.occurs(node)?;
        if let Some(reference) = node.attribute("ref") {
            self.attributes(node, &["ref", "minOccurs", "maxOccurs"])?;
            if !self.children(node)?.is_empty() {
                return Err(self.error(node, "an element reference with content"));
            }
            let name = self.resolve(node, reference)?;
            let id = self
                .global_element(&name)
                .map_err(|e| self.error(node, &e))?;
            return Ok(Particle {
                min,
                max,
                term: Term::Element(name, id),
            });
        }
        self.attributes(node, &["name", "type", "minOccurs", "maxOccurs"])?;
        let local = node
            .attribute("name")
            .ok_or_else(|| self.error(node, "an element without name or ref"))?;
        let ns = if qualified_elements(node) {
            self.target_namespace(node)
        } else {
            ""
        };
        let name = QName::new(ns, local);
        let (ty, uniques) = self.element_body(node)?;
        let id = self.schema.elements.len();
        self.schema.elements.push(ElementDecl { ty, uniques });
        Ok(Particle {
            min,
            max,
            term: Term::Element(name, id),
        })
    }
}
