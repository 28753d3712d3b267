//! The SOAP 1.2 wrapping of every NF-e 4.00 service (NOTES.md §1): the message goes, without
//! XML declaration and byte for byte, inside
//! `<nfeDadosMsg xmlns="http://www.portalfiscal.inf.br/nfe/wsdl/<operation>">` in the envelope's
//! body; the answer comes back in `<nfeResultMsg>` of the same namespace. No SOAP header.
//! Used by the client and by the test kit's fake SEFAZ.

/// The SOAP 1.2 envelope namespace.
pub const SOAP12_NAMESPACE: &str = "http://www.w3.org/2003/05/soap-envelope";

/// The HTTP `Content-Type` of a SOAP 1.2 request with its action.
pub fn content_type(action: &str) -> String {
    format!("application/soap+xml;charset=utf-8;action=\"{action}\"")
}

/// The whole envelope around `message` (an element, no XML declaration); `wrapper` is
/// `nfeDadosMsg` (request) or `nfeResultMsg` (answer), `namespace` the operation's.
pub fn envelope(wrapper: &str, namespace: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
         <soap12:Envelope xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:soap12=\"{SOAP12_NAMESPACE}\">\
         <soap12:Body><{wrapper} xmlns=\"{namespace}\">{message}</{wrapper}></soap12:Body>\
         </soap12:Envelope>"
    )
}

/// What [`unwrap`] found in an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwrapped {
    /// The namespace of the wrapper element (`…/wsdl/<operation>`).
    pub namespace: String,
    /// The message element's bytes exactly as they are in the envelope.
    pub message: String,
    /// The message element's local name (`enviNFe`, `retConsStatServ`…).
    pub name: String,
}

/// A SOAP 1.2 fault's reason text, if `envelope` is a fault.
pub fn fault(envelope: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(envelope).ok()?;
    let fault = doc
        .descendants()
        .find(|n| n.has_tag_name((SOAP12_NAMESPACE, "Fault")))?;
    let text: Vec<&str> = fault
        .descendants()
        .filter(|n| n.has_tag_name((SOAP12_NAMESPACE, "Text")))
        .filter_map(|n| n.text())
        .collect();
    Some(if text.is_empty() {
        "SOAP fault".to_owned()
    } else {
        text.join("; ")
    })
}

/// Cuts the message out of `Envelope/Body/<wrapper>`: the first element child of the wrapper,
/// as the exact substring of the input (so a signature over it still verifies).
pub fn unwrap(envelope: &str, wrapper: &str) -> Result<Unwrapped, String> {
    let doc = roxmltree::Document::parse(envelope).map_err(|e| format!("not XML: {e}"))?;
    let root = doc.root_element();
    if !root.has_tag_name((SOAP12_NAMESPACE, "Envelope")) {
        return Err(format!(
            "the root is {:?}, not a SOAP 1.2 Envelope",
            root.tag_name()
        ));
    }
    let body = root
        .children()
        .find(|n| n.has_tag_name((SOAP12_NAMESPACE, "Body")))
        .ok_or("the envelope has no Body")?;
    let wrapped = body
        .children()
        .find(|n| n.is_element() && n.tag_name().name() == wrapper)
        .ok_or_else(|| format!("the Body has no {wrapper}"))?;
    let message = wrapped
        .children()
        .find(|n| n.is_element())
        .ok_or_else(|| format!("{wrapper} is empty"))?;
    Ok(Unwrapped {
        namespace: wrapped.tag_name().namespace().unwrap_or("").to_owned(),
        message: envelope[message.range()].to_owned(),
        name: message.tag_name().name().to_owned(),
    })
}

/// Escapes text for an element's content.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_comes_out_of_its_envelope_byte_for_byte() {
        let message = "<consStatServ xmlns=\"http://www.portalfiscal.inf.br/nfe\" versao=\"4.00\">\
                       <tpAmb>2</tpAmb></consStatServ>";
        let ns = "http://www.portalfiscal.inf.br/nfe/wsdl/NFeStatusServico4";
        let env = envelope("nfeDadosMsg", ns, message);
        let out = unwrap(&env, "nfeDadosMsg").unwrap();
        assert_eq!(out.message, message);
        assert_eq!(out.namespace, ns);
        assert_eq!(out.name, "consStatServ");
        assert!(unwrap(&env, "nfeResultMsg").is_err());
        assert_eq!(fault(&env), None);
    }
}
