//! Canonical XML 1.0 (inclusive, without comments) of one element subtree, for verifying
//! signatures of documents this crate did not write (the SEFAZ sample, documents read back from
//! storage) and for checking that the builder's own canonical form is right.
//!
//! What it implements (W3C REC-xml-c14n-20010315, §2.3 and §4, for a document subset that is one
//! element and all its descendants):
//! - the XML declaration and the DTD are dropped (a DTD is refused: NF-e has none);
//! - start and end tags always, `<a/>` becomes `<a></a>`;
//! - namespace declarations first, sorted by prefix (default first), then attributes sorted by
//!   (namespace URI, local name); attribute values in double quotes with `& < " \t \n \r`
//!   escaped; text with `& < > \r` escaped; CDATA sections become text; character and entity
//!   references are replaced by their characters; line ends were normalized by the parser;
//! - every namespace declaration **in scope** is rendered on the apex element (inherited ones
//!   included: this is why `infNFe` gains `xmlns="http://www.portalfiscal.inf.br/nfe"`), and on a
//!   descendant only when it differs from its output parent (`xmlns=""` when a default namespace
//!   is undeclared);
//! - comments are removed; processing instructions are kept;
//! - an optional element is excluded together with its subtree (the enveloped-signature
//!   transform, when the `Signature` is inside the signed element).
//!
//! **Limits** (refused with [`C14nError::Unsupported`] rather than computed wrongly): elements or
//! attributes with a namespace prefix other than `xml:` (SEFAZ forbids prefixes anyway, rejection
//! 404), and `xml:*` attributes on ancestors of the apex (C14N 1.0 would inherit them). Exclusive
//! C14N, C14N 1.1 and XPath-selected node sets are not implemented.

use roxmltree::{Document, Node, NodeId, NodeType, ParsingOptions};
use thiserror::Error;

const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";

/// Why a document could not be canonicalized.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum C14nError {
    /// Not well-formed XML (or it has a DTD).
    #[error("XML parse error: {0}")]
    Parse(String),
    /// No element was selected.
    #[error("no element {0}")]
    NotFound(String),
    /// The document uses something outside this canonicalizer's limits (see the module doc).
    #[error("unsupported by this canonicalizer: {0}")]
    Unsupported(String),
}

/// Parses `xml` the way this crate reads XML: no DTD, UTF-8.
pub(crate) fn parse(xml: &str) -> Result<Document<'_>, C14nError> {
    Document::parse_with_options(
        xml,
        ParsingOptions {
            allow_dtd: false,
            ..ParsingOptions::default()
        },
    )
    .map_err(|e| C14nError::Parse(e.to_string()))
}

/// The canonical form of the element whose `Id` attribute is `id` (as `Reference URI="#id"`
/// selects it in XMLDSig).
pub fn canonicalize_by_id(xml: &str, id: &str) -> Result<String, C14nError> {
    let doc = parse(xml)?;
    let node = doc
        .descendants()
        .find(|n| n.is_element() && n.attribute("Id") == Some(id))
        .ok_or_else(|| C14nError::NotFound(format!("with Id={id:?}")))?;
    canonicalize(node, None)
}

/// The canonical form of the first element (in document order) named `local_name` in namespace
/// `namespace`.
pub fn canonicalize_first(
    xml: &str,
    namespace: &str,
    local_name: &str,
) -> Result<String, C14nError> {
    let doc = parse(xml)?;
    let node = doc
        .descendants()
        .find(|n| n.is_element() && n.has_tag_name((namespace, local_name)))
        .ok_or_else(|| C14nError::NotFound(format!("{{{namespace}}}{local_name}")))?;
    canonicalize(node, None)
}

/// The canonical form of `apex` and its descendants, without the subtree of `exclude`.
pub(crate) fn canonicalize(
    apex: Node<'_, '_>,
    exclude: Option<NodeId>,
) -> Result<String, C14nError> {
    for ancestor in apex.ancestors().skip(1).filter(Node::is_element) {
        if ancestor
            .attributes()
            .any(|a| a.namespace() == Some(XML_NAMESPACE))
        {
            return Err(C14nError::Unsupported(
                "xml:* attributes on an ancestor of the canonicalized element".into(),
            ));
        }
    }
    let mut out = String::with_capacity(apex.range().len() + 64);
    write_element(apex, &[], exclude, &mut out)?;
    Ok(out)
}

/// `(prefix, uri)`; `prefix` is `""` for the default namespace.
type Ns<'a> = (&'a str, &'a str);

fn write_element<'a>(
    node: Node<'a, '_>,
    rendered_scope: &[Ns<'a>],
    exclude: Option<NodeId>,
    out: &mut String,
) -> Result<(), C14nError> {
    let tag = node.tag_name();
    if tag.namespace() != node.default_namespace() || written_with_prefix(node) {
        return Err(C14nError::Unsupported(format!(
            "element {} uses a namespace prefix",
            tag.name()
        )));
    }

    // All namespaces in scope, except the implicit xml one; the default one with prefix "".
    let mut scope: Vec<Ns<'a>> = node
        .namespaces()
        .filter(|ns| ns.name() != Some("xml"))
        .map(|ns| (ns.name().unwrap_or(""), ns.uri()))
        .filter(|(p, uri)| !(p.is_empty() && uri.is_empty()))
        .collect();
    scope.sort_unstable();
    scope.dedup_by(|a, b| a.0 == b.0);

    let mut rendered: Vec<Ns<'a>> = scope
        .iter()
        .filter(|ns| !rendered_scope.contains(ns))
        .copied()
        .collect();
    let parent_default = rendered_scope
        .iter()
        .any(|(p, u)| p.is_empty() && !u.is_empty());
    let own_default = scope.iter().any(|(p, _)| p.is_empty());
    if parent_default && !own_default {
        rendered.push(("", ""));
    }
    rendered.sort_unstable_by(|a, b| a.0.cmp(b.0));

    out.push('<');
    out.push_str(tag.name());
    for (prefix, uri) in &rendered {
        if prefix.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(prefix);
            out.push_str("=\"");
        }
        escape_attr_into(out, uri);
        out.push('"');
    }

    let mut attrs: Vec<(&str, &str, &str)> = Vec::new(); // (namespace, qualified name, value)
    for a in node.attributes() {
        match a.namespace() {
            None => attrs.push(("", a.name(), a.value())),
            Some(XML_NAMESPACE) => attrs.push((XML_NAMESPACE, a.name(), a.value())),
            Some(_) => {
                return Err(C14nError::Unsupported(format!(
                    "attribute {} uses a namespace prefix",
                    a.name()
                )));
            }
        }
    }
    attrs.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    for (ns, name, value) in attrs {
        out.push(' ');
        if ns == XML_NAMESPACE {
            out.push_str("xml:");
        }
        out.push_str(name);
        out.push_str("=\"");
        escape_attr_into(out, value);
        out.push('"');
    }
    out.push('>');

    for child in node.children() {
        match child.node_type() {
            NodeType::Element => {
                if Some(child.id()) != exclude {
                    write_element(child, &scope, exclude, out)?;
                }
            }
            NodeType::Text => escape_text_into(out, child.text().unwrap_or("")),
            NodeType::PI => {
                let pi = child.pi().expect("a PI node");
                out.push_str("<?");
                out.push_str(pi.target);
                if let Some(value) = pi.value.filter(|v| !v.is_empty()) {
                    out.push(' ');
                    out.push_str(value);
                }
                out.push_str("?>");
            }
            NodeType::Comment | NodeType::Root => {}
        }
    }

    out.push_str("</");
    out.push_str(tag.name());
    out.push('>');
    Ok(())
}

/// Whether the start tag, as written in the input, has a prefix (`<p:name`): roxmltree resolves
/// names to (namespace, local name) and does not keep the prefix.
fn written_with_prefix(node: Node<'_, '_>) -> bool {
    let source = &node.document().input_text()[node.range()];
    let name = node.tag_name().name();
    let after = source.get(1..).and_then(|s| s.strip_prefix(name));
    !matches!(after.and_then(|s| s.chars().next()), Some(c) if c.is_whitespace() || c == '>' || c == '/')
}

fn escape_text_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attr_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c14n_root(xml: &str) -> Result<String, C14nError> {
        let doc = parse(xml)?;
        canonicalize(doc.root_element(), None)
    }

    #[test]
    fn empty_elements_are_expanded_and_declaration_dropped() {
        assert_eq!(
            c14n_root("<?xml version=\"1.0\" encoding=\"UTF-8\"?><a><b/><c /></a>").unwrap(),
            "<a><b></b><c></c></a>"
        );
    }

    #[test]
    fn attributes_are_sorted_after_namespaces_and_requoted() {
        assert_eq!(
            c14n_root("<a versao='4.00' Id=\"x\" xmlns='urn:n'/>").unwrap(),
            "<a xmlns=\"urn:n\" Id=\"x\" versao=\"4.00\"></a>"
        );
    }

    #[test]
    fn inherited_namespaces_appear_on_the_apex_only() {
        let xml = "<NFe xmlns=\"urn:n\" xmlns:x=\"urn:x\"><inf Id=\"k\"><a>1</a></inf></NFe>";
        assert_eq!(
            canonicalize_by_id(xml, "k").unwrap(),
            "<inf xmlns=\"urn:n\" xmlns:x=\"urn:x\" Id=\"k\"><a>1</a></inf>"
        );
    }

    #[test]
    fn a_default_namespace_change_is_rendered() {
        let xml = "<a xmlns=\"urn:a\"><b xmlns=\"urn:b\"><c/></b><d xmlns=\"\"/></a>";
        assert_eq!(
            c14n_root(xml).unwrap(),
            "<a xmlns=\"urn:a\"><b xmlns=\"urn:b\"><c></c></b><d xmlns=\"\"></d></a>"
        );
    }

    #[test]
    fn prefixed_declarations_are_rendered_where_they_change() {
        let xml = "<a xmlns:p=\"urn:1\"><b xmlns:p=\"urn:2\"><c xmlns:p=\"urn:2\"/></b></a>";
        assert_eq!(
            c14n_root(xml).unwrap(),
            "<a xmlns:p=\"urn:1\"><b xmlns:p=\"urn:2\"><c></c></b></a>"
        );
    }

    #[test]
    fn text_and_attribute_escaping_follow_c14n() {
        let xml = "<a t=\"x&amp;y&lt;z&gt;w&quot;&#9;&#10;\">1 &amp; 2 &lt; 3 &gt; 0 \"q\" &#13;<![CDATA[<&>]]></a>";
        assert_eq!(
            c14n_root(xml).unwrap(),
            "<a t=\"x&amp;y&lt;z>w&quot;&#x9;&#xA;\">1 &amp; 2 &lt; 3 &gt; 0 \"q\" &#xD;&lt;&amp;&gt;</a>"
        );
    }

    #[test]
    fn comments_go_and_whitespace_inside_stays() {
        let xml = "<!-- before --><a>\r\n <!-- c --><b> x </b>\n</a>";
        assert_eq!(c14n_root(xml).unwrap(), "<a>\n <b> x </b>\n</a>");
    }

    #[test]
    fn processing_instructions_are_kept() {
        assert_eq!(
            c14n_root("<a><?pi  data?><?empty?></a>").unwrap(),
            "<a><?pi data?><?empty?></a>"
        );
    }

    #[test]
    fn an_excluded_subtree_is_left_out() {
        let doc = parse("<a><b>1</b><s><x/></s><c/></a>").unwrap();
        let s = doc
            .descendants()
            .find(|n| n.has_tag_name("s"))
            .unwrap()
            .id();
        assert_eq!(
            canonicalize(doc.root_element(), Some(s)).unwrap(),
            "<a><b>1</b><c></c></a>"
        );
    }

    #[test]
    fn prefixes_and_dtds_are_refused() {
        assert!(matches!(
            c14n_root("<ds:a xmlns:ds=\"urn:d\"/>"),
            Err(C14nError::Unsupported(_))
        ));
        assert!(matches!(
            c14n_root("<a xmlns=\"urn:d\" xmlns:p=\"urn:d\"><p:b/></a>"),
            Err(C14nError::Unsupported(_))
        ));
        assert!(matches!(
            c14n_root("<a xmlns:p=\"urn:p\" p:x=\"1\"/>"),
            Err(C14nError::Unsupported(_))
        ));
        assert!(matches!(
            c14n_root("<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>"),
            Err(C14nError::Parse(_))
        ));
        let xml = "<r xml:lang=\"pt\"><a Id=\"k\"/></r>";
        assert!(matches!(
            canonicalize_by_id(xml, "k"),
            Err(C14nError::Unsupported(_))
        ));
        assert_eq!(
            c14n_root("<a xml:lang=\"pt\" b=\"1\"/>").unwrap(),
            "<a b=\"1\" xml:lang=\"pt\"></a>"
        );
    }
}
