//! The DANFE (Documento Auxiliar da NF-e, model 55): the printed companion of an authorised
//! NF-e that travels with the goods, as a PDF.
//!
//! [`render`] takes the XML and gives the PDF bytes; nothing else (no storage, no I/O):
//!
//! ```text
//! nfeProc (NFe + protNFe) ──read──▶ values as written ──layout──▶ pages ──krilla──▶ PDF bytes
//!   or a bare signed NFe             (NF-e namespace)   (rows per sheet)   (fonts embedded)
//! ```
//!
//! What is drawn follows the project's notes on the DANFE (`nfe/DANFE.md` in the shared notes,
//! after the MOC's Annex II, portrait A4, loose sheets): the **canhoto** (receipt stub) with its
//! cut line; the **emitter**, the **DANFE box** (entry/exit, `Nº 000.000.000`, série, `FOLHA
//! n/N`) and the **access key** as a Code 128 barcode ([`code128`], subset C) and in groups of
//! four; **natureza da operação** and the **authorisation protocol** with its date and time;
//! the emitter's IE/IE ST/CNPJ; **destinatário**; **fatura/duplicatas** when `cobr` exists;
//! **cálculo do imposto** (`ICMSTot`); **transportador/volumes**; the **items table** (code,
//! description with `infAdProd`, NCM, CST or CSOSN with the origin digit, CFOP, unit, quantity,
//! unit value, total, discount, ICMS base/value/rate, IPI value/rate); **dados adicionais**
//! (`infCpl`, `infAdFisco`; what does not fit continues on the next sheets). Items that do not
//! fit continue on the next sheets, each repeating the emitter/DANFE/key/protocol header.
//!
//! States: homologation (`tpAmb` 2) and a document without protocol (a bare `NFe`) carry the
//! "SEM VALOR FISCAL" watermark and a printed status line; a protocol with a cancellation or
//! denial status prints "NF-e CANCELADA" / "NF-e DENEGADA".
//!
//! Fonts: Liberation Serif Regular and Bold (metric-compatible with Times New Roman, which the
//! manual asks for), SIL Open Font License 1.1, compiled into the binary (`fonts/` beside this
//! crate's manifest, with the licence and where the files came from), so rendering needs no
//! system font (a Lambda has none). The PDF embeds subsets with their Unicode maps, so accented
//! text is searchable and `pdftotext` extracts it. Drawing is done by the `krilla` crate.
//!
//! Not drawn: a logo, the ISSQN block (this crate issues no service NF-e), the delivery/pickup
//! places (`entrega`/`retirada`), contingency data, landscape layout (`tpImp` 2).

pub mod code128;
mod draw;
pub mod format;
pub mod read;

use thiserror::Error;

/// Why a DANFE could not be made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DanfeError {
    /// The input is not well-formed XML.
    #[error("not well-formed XML: {0}")]
    Xml(String),
    /// The root element is neither `nfeProc` nor `NFe` in the NF-e namespace.
    #[error(
        "not an NF-e: the root element is {0}, expected nfeProc or NFe in http://www.portalfiscal.inf.br/nfe"
    )]
    NotAnNfe(String),
    /// A part the DANFE needs is absent.
    #[error("the document has no {0}")]
    Missing(&'static str),
    /// `protNFe/infProt/chNFe` is not the key of the `NFe` beside it.
    #[error("the protocol is for key {protocol}, the NF-e's key is {nfe}")]
    KeyMismatch { nfe: String, protocol: String },
    /// The access key cannot be drawn as a barcode.
    #[error("access key barcode: {0}")]
    Barcode(#[from] code128::Code128Error),
    /// The PDF library failed.
    #[error("writing the PDF: {0}")]
    Pdf(String),
}

/// The DANFE of `xml` as PDF bytes: portrait A4, one or more sheets.
///
/// `xml` is an `nfeProc` (the authorised document: `NFe` + `protNFe`, as archived after
/// authorisation) or a bare signed `NFe` (then the DANFE says it has no authorisation and "SEM
/// VALOR FISCAL"; such a print must never go to a customer). Elements are read by name in the
/// NF-e namespace; values are printed as written in the XML (money with a decimal comma).
///
/// ```no_run
/// let xml = std::fs::read_to_string("3526…-procNFe.xml").unwrap();
/// let pdf = vitrine_nfe::danfe::render(&xml).unwrap();
/// std::fs::write("danfe.pdf", pdf).unwrap();
/// ```
pub fn render(xml: &str) -> Result<Vec<u8>, DanfeError> {
    let nfe = read::read(xml)?;
    draw::draw(&nfe)
}

/// What the DANFE says about the document's standing, beside the watermark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Authorised (`cStat` 100 or 150) in production: no mark.
    Authorised,
    /// Authorised in homologation: "SEM VALOR FISCAL".
    Homologation,
    /// No `protNFe`: not authorised, "SEM VALOR FISCAL".
    WithoutProtocol,
    /// The protocol says cancelled (101, 151, 155).
    Cancelled,
    /// The protocol says denied (110, 301, 302, 303).
    Denied,
    /// Any other protocol status (a rejection): not authorised.
    NotAuthorised(String),
}

impl Standing {
    /// The standing of a read document.
    pub fn of(nfe: &read::Nfe) -> Standing {
        match &nfe.protocol {
            None => Standing::WithoutProtocol,
            Some(p) => match p.status.as_str() {
                "100" | "150" if nfe.environment == "2" => Standing::Homologation,
                "100" | "150" => Standing::Authorised,
                "101" | "151" | "155" => Standing::Cancelled,
                "110" | "301" | "302" | "303" => Standing::Denied,
                other => Standing::NotAuthorised(other.to_owned()),
            },
        }
    }

    /// The big watermark's text, if any.
    pub fn watermark(&self) -> Option<&'static str> {
        match self {
            Standing::Authorised => None,
            Standing::Cancelled => Some("CANCELADA"),
            Standing::Denied => Some("DENEGADA"),
            Standing::Homologation | Standing::WithoutProtocol | Standing::NotAuthorised(_) => {
                Some("SEM VALOR FISCAL")
            }
        }
    }

    /// The printed (extractable) status line, if any. In homologation it always says "SEM
    /// VALOR FISCAL" and names the environment.
    pub fn notice(&self, environment: &str) -> Option<String> {
        let homologation = environment == "2";
        let state = match self {
            Standing::Authorised => return None,
            Standing::Homologation => None,
            Standing::WithoutProtocol => Some("NF-e SEM PROTOCOLO DE AUTORIZAÇÃO".to_owned()),
            Standing::Cancelled => Some("NF-e CANCELADA".to_owned()),
            Standing::Denied => Some("NF-e DENEGADA".to_owned()),
            Standing::NotAuthorised(status) => {
                Some(format!("NF-e NÃO AUTORIZADA (cStat {status})"))
            }
        };
        let without_value =
            homologation || matches!(self, Standing::WithoutProtocol | Standing::NotAuthorised(_));
        let mut parts = Vec::new();
        if without_value {
            parts.push("SEM VALOR FISCAL".to_owned());
        }
        parts.extend(state);
        if homologation {
            parts.push("NF-e EMITIDA EM AMBIENTE DE HOMOLOGAÇÃO".to_owned());
        }
        Some(parts.join(" - "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standing_follows_the_protocol_and_the_environment() {
        let mut nfe = read::Nfe {
            environment: "1".into(),
            ..Default::default()
        };
        assert_eq!(Standing::of(&nfe), Standing::WithoutProtocol);
        nfe.protocol = Some(read::Protocol {
            status: "100".into(),
            ..Default::default()
        });
        assert_eq!(Standing::of(&nfe), Standing::Authorised);
        assert_eq!(Standing::Authorised.notice("1"), None);
        nfe.environment = "2".into();
        assert_eq!(Standing::of(&nfe), Standing::Homologation);
        assert_eq!(Standing::of(&nfe).watermark(), Some("SEM VALOR FISCAL"));
        nfe.protocol.as_mut().unwrap().status = "302".into();
        assert_eq!(Standing::of(&nfe), Standing::Denied);
        nfe.protocol.as_mut().unwrap().status = "101".into();
        assert_eq!(Standing::of(&nfe).watermark(), Some("CANCELADA"));
        assert_eq!(
            Standing::of(&nfe).notice("2").unwrap(),
            "SEM VALOR FISCAL - NF-e CANCELADA - NF-e EMITIDA EM AMBIENTE DE HOMOLOGAÇÃO"
        );
        assert_eq!(Standing::of(&nfe).notice("1").unwrap(), "NF-e CANCELADA");
        assert_eq!(
            Standing::WithoutProtocol.notice("1").unwrap(),
            "SEM VALOR FISCAL - NF-e SEM PROTOCOLO DE AUTORIZAÇÃO"
        );
        nfe.protocol.as_mut().unwrap().status = "225".into();
        assert_eq!(
            Standing::of(&nfe).notice("1").unwrap(),
            "SEM VALOR FISCAL - NF-e NÃO AUTORIZADA (cStat 225)"
        );
    }
}
