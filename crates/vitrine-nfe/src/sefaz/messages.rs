//! The request messages (one line, no XML declaration, `xmlns` of the NF-e and `versao`, as
//! NOTES.md §1 says) and the typed reading of the answers.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::soap::escape;
use crate::build::NFE_NAMESPACE;
use crate::ids::{Cnpj, Uf};
use crate::key::AccessKey;
use crate::model::Environment;

/// `detEvento/xCondUso` of a correction letter: the fixed text of `e110110_v1.00.xsd` (its
/// ASCII variant).
pub const CCE_CONDITIONS: &str = "A Carta de Correcao e disciplinada pelo paragrafo 1o-A do art. 7o do Convenio S/N, de 15 de dezembro de 1970 e pode ser utilizada para regularizacao de erro ocorrido na emissao de documento fiscal, desde que o erro nao esteja relacionado com: I - as variaveis que determinam o valor do imposto tais como: base de calculo, aliquota, diferenca de preco, quantidade, valor da operacao ou da prestacao; II - a correcao de dados cadastrais que implique mudanca do remetente ou do destinatario; III - a data de emissao ou de saida.";

/// `TDateTimeUTC`: `2026-08-20T14:30:00-03:00` (whole seconds, explicit offset).
pub fn date_time(at: OffsetDateTime) -> String {
    let at = at.replace_nanosecond(0).unwrap_or(at);
    let text = at.format(&Rfc3339).unwrap_or_default();
    // RFC 3339 writes UTC as `Z`; the schema wants an offset.
    match text.strip_suffix('Z') {
        Some(base) => format!("{base}+00:00"),
        None => text,
    }
}

/// `consStatServ`.
pub fn status_request(environment: Environment, uf: Uf) -> String {
    format!(
        "<consStatServ xmlns=\"{NFE_NAMESPACE}\" versao=\"4.00\"><tpAmb>{}</tpAmb><cUF>{}</cUF>\
         <xServ>STATUS</xServ></consStatServ>",
        environment.code(),
        uf.ibge_code()
    )
}

/// `enviNFe` with one `NFe` inserted byte for byte.
pub fn authorisation_request(lote: u64, synchronous: bool, nfe_element: &str) -> String {
    format!(
        "<enviNFe xmlns=\"{NFE_NAMESPACE}\" versao=\"4.00\"><idLote>{lote}</idLote>\
         <indSinc>{}</indSinc>{nfe_element}</enviNFe>",
        u8::from(synchronous)
    )
}

/// `consReciNFe`.
pub fn receipt_request(environment: Environment, receipt: &str) -> String {
    format!(
        "<consReciNFe xmlns=\"{NFE_NAMESPACE}\" versao=\"4.00\"><tpAmb>{}</tpAmb>\
         <nRec>{}</nRec></consReciNFe>",
        environment.code(),
        escape(receipt)
    )
}

/// `consSitNFe`.
pub fn protocol_query(environment: Environment, key: &AccessKey) -> String {
    format!(
        "<consSitNFe xmlns=\"{NFE_NAMESPACE}\" versao=\"4.00\"><tpAmb>{}</tpAmb>\
         <xServ>CONSULTAR</xServ><chNFe>{key}</chNFe></consSitNFe>",
        environment.code()
    )
}

/// The kind of event and its details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventDetail {
    /// 110111: cancels an authorised NF-e (its protocol, a justification of 15–255 characters).
    Cancellation {
        /// `nProt` of the authorisation.
        protocol: String,
        /// `xJust`.
        justification: String,
    },
    /// 110110: correction letter (`xCorrecao`, 15–1000 characters).
    CorrectionLetter {
        /// `xCorrecao`.
        correction: String,
    },
}

impl EventDetail {
    /// `tpEvento`.
    pub fn code(&self) -> &'static str {
        match self {
            EventDetail::Cancellation { .. } => "110111",
            EventDetail::CorrectionLetter { .. } => "110110",
        }
    }

    /// `detEvento`, with its own `xmlns` (so it validates alone against e110111/e110110).
    pub fn det_evento(&self) -> String {
        match self {
            EventDetail::Cancellation {
                protocol,
                justification,
            } => format!(
                "<detEvento versao=\"1.00\"><descEvento>Cancelamento</descEvento>\
                 <nProt>{}</nProt><xJust>{}</xJust></detEvento>",
                escape(protocol),
                escape(justification)
            ),
            EventDetail::CorrectionLetter { correction } => format!(
                "<detEvento versao=\"1.00\"><descEvento>Carta de Correcao</descEvento>\
                 <xCorrecao>{}</xCorrecao><xCondUso>{CCE_CONDITIONS}</xCondUso></detEvento>",
                escape(correction)
            ),
        }
    }
}

/// An event to sign and send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The NF-e the event is about.
    pub key: AccessKey,
    /// Its emitter.
    pub emitter: Cnpj,
    /// `nSeqEvento` (1 for a cancellation; 1, 2… for correction letters).
    pub sequence: u8,
    /// `dhEvento`.
    pub at: OffsetDateTime,
    /// What the event says.
    pub detail: EventDetail,
}

impl Event {
    /// `infEvento/@Id`: `ID` + tpEvento + key + nSeqEvento in 2 digits (NOTES.md §5).
    pub fn id(&self) -> String {
        format!(
            "ID{}{}{:02}",
            self.detail.code(),
            self.key.as_str(),
            self.sequence
        )
    }

    /// The unsigned `evento` (the container [`crate::sign::sign_element`] signs).
    pub fn unsigned_xml(&self, environment: Environment) -> String {
        format!(
            "<evento xmlns=\"{NFE_NAMESPACE}\" versao=\"1.00\"><infEvento Id=\"{id}\">\
             <cOrgao>{org}</cOrgao><tpAmb>{amb}</tpAmb><CNPJ>{cnpj}</CNPJ><chNFe>{key}</chNFe>\
             <dhEvento>{at}</dhEvento><tpEvento>{tp}</tpEvento><nSeqEvento>{seq}</nSeqEvento>\
             <verEvento>1.00</verEvento>{det}</infEvento></evento>",
            id = self.id(),
            org = &self.key.as_str()[..2],
            amb = environment.code(),
            cnpj = self.emitter.as_str(),
            key = self.key,
            at = date_time(self.at),
            tp = self.detail.code(),
            seq = self.sequence,
            det = self.detail.det_evento(),
        )
    }
}

/// `envEvento` around signed `evento` elements.
pub fn event_request(lote: u64, signed_events: &[String]) -> String {
    format!(
        "<envEvento xmlns=\"{NFE_NAMESPACE}\" versao=\"1.00\"><idLote>{lote}</idLote>{}</envEvento>",
        signed_events.concat()
    )
}

/// A range of numbers to void (inutilização).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voiding {
    /// The emitter's UF.
    pub uf: Uf,
    /// The emitter.
    pub emitter: Cnpj,
    /// Two-digit year of the numbers (`26`).
    pub year: u8,
    /// `serie` (0–999).
    pub series: u16,
    /// First number.
    pub first: u32,
    /// Last number (≥ first).
    pub last: u32,
    /// `xJust`, 15–255 characters.
    pub justification: String,
    /// When it is signed (the certificate must be valid then).
    pub at: OffsetDateTime,
}

impl Voiding {
    /// `infInut/@Id`: `ID` + cUF + ano + CNPJ + mod + serie (3) + nNFIni (9) + nNFFin (9).
    pub fn id(&self) -> String {
        format!(
            "ID{:02}{:02}{}55{:03}{:09}{:09}",
            self.uf.ibge_code(),
            self.year,
            self.emitter.as_str(),
            self.series,
            self.first,
            self.last
        )
    }

    /// The unsigned `inutNFe`.
    pub fn unsigned_xml(&self, environment: Environment) -> String {
        format!(
            "<inutNFe xmlns=\"{NFE_NAMESPACE}\" versao=\"4.00\"><infInut Id=\"{id}\">\
             <tpAmb>{amb}</tpAmb><xServ>INUTILIZAR</xServ><cUF>{uf}</cUF><ano>{year:02}</ano>\
             <CNPJ>{cnpj}</CNPJ><mod>55</mod><serie>{series}</serie><nNFIni>{first}</nNFIni>\
             <nNFFin>{last}</nNFFin><xJust>{just}</xJust></infInut></inutNFe>",
            id = self.id(),
            amb = environment.code(),
            uf = self.uf.ibge_code(),
            year = self.year,
            cnpj = self.emitter.as_str(),
            series = self.series,
            first = self.first,
            last = self.last,
            just = escape(&self.justification),
        )
    }
}

/// A `detEvento` cut out of its event, with the NF-e namespace declared on it so it can be
/// validated alone (schemas-ws README, step 2).
pub fn standalone_det_evento(det: &str) -> String {
    let start_tag_end = det.find('>').unwrap_or(det.len());
    match det.strip_prefix("<detEvento") {
        Some(rest) if !det[..start_tag_end].contains("xmlns=") => {
            format!("<detEvento xmlns=\"{NFE_NAMESPACE}\"{rest}")
        }
        _ => det.to_owned(),
    }
}

/// Reading answers: the text of the first descendant element named `name` (NF-e namespace) of
/// `node`, trimmed.
pub fn text_of(node: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    node.descendants()
        .find(|n| n.has_tag_name((NFE_NAMESPACE, name)))
        .and_then(|n| n.text())
        .map(|t| t.trim().to_owned())
}

/// The text of the direct child element `name` (NF-e namespace) of `node`.
pub fn child_text(node: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    node.children()
        .find(|n| n.has_tag_name((NFE_NAMESPACE, name)))
        .and_then(|n| n.text())
        .map(|t| t.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sefaz::schemas::validate;
    use crate::validate::SchemaDocument;
    use time::macros::datetime;

    fn key() -> AccessKey {
        let body = "3526080611747300015055001000000001123456789";
        let dv = crate::key::check_digit(body).unwrap();
        AccessKey::parse(&format!("{body}{dv}")).unwrap()
    }

    #[test]
    fn the_unsigned_requests_have_the_ids_the_schemas_want() {
        let e = Event {
            key: key(),
            emitter: Cnpj::parse("06117473000150").unwrap(),
            sequence: 1,
            at: datetime!(2026-08-20 14:30:00 -3),
            detail: EventDetail::Cancellation {
                protocol: "135260000000001".into(),
                justification: "Pedido cancelado pelo cliente".into(),
            },
        };
        assert_eq!(e.id(), format!("ID110111{}01", key()));
        assert_eq!(e.id().len(), 54);
        assert!(
            e.unsigned_xml(Environment::Homologation)
                .contains("<dhEvento>2026-08-20T14:30:00-03:00</dhEvento>")
        );
        let det = standalone_det_evento(&e.detail.det_evento());
        validate(SchemaDocument::DetEventoCancelamento, &det).unwrap();
        let cce = EventDetail::CorrectionLetter {
            correction: "Endereco de entrega: Rua A, 10".into(),
        };
        let det = standalone_det_evento(&cce.det_evento());
        validate(SchemaDocument::DetEventoCce, &det).unwrap();
        let v = Voiding {
            uf: Uf::SP,
            emitter: Cnpj::parse("06117473000150").unwrap(),
            year: 26,
            series: 1,
            first: 10,
            last: 12,
            justification: "Numeracao pulada por falha".into(),
            at: datetime!(2026-08-20 14:30:00 -3),
        };
        assert_eq!(
            v.id(),
            "ID3526061174730001505500100000001000000001".to_owned() + "2"
        );
        assert_eq!(
            date_time(datetime!(2026-08-20 14:30:00.5 UTC)),
            "2026-08-20T14:30:00+00:00"
        );
    }
}
