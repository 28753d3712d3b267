//! Reads what the DANFE prints from an `nfeProc` (or a bare `NFe`), by element name in the
//! NF-e namespace. Values are kept as the XML's text; [`super::format`] prints them.

use roxmltree::{Document, Node};

use super::DanfeError;

const NFE_NS: &str = "http://www.portalfiscal.inf.br/nfe";

/// An address as printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub street: String,
    pub number: String,
    pub complement: String,
    pub district: String,
    pub municipality: String,
    pub uf: String,
    pub cep: String,
    pub phone: String,
}

impl Address {
    /// `street, number - complement`.
    pub fn line(&self) -> String {
        let mut line = self.street.clone();
        if !self.number.is_empty() {
            line.push_str(", ");
            line.push_str(&self.number);
        }
        if !self.complement.is_empty() {
            line.push_str(" - ");
            line.push_str(&self.complement);
        }
        line
    }
}

/// The emitter (`emit`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Emitter {
    pub tax_id: String,
    pub name: String,
    pub trade_name: String,
    pub address: Address,
    pub ie: String,
    pub iest: String,
    pub crt: String,
}

/// The recipient (`dest`), absent in some documents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipient {
    pub tax_id: String,
    pub name: String,
    pub address: Address,
    pub ie: String,
}

/// One `cobr/dup`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Installment {
    pub number: String,
    pub due: String,
    pub value: String,
}

/// `cobr`: the invoice (`fat`) and its installments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Billing {
    pub number: String,
    pub original: String,
    pub discount: String,
    pub net: String,
    pub installments: Vec<Installment>,
}

/// `total/ICMSTot`, each value as written (absent = empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub v_bc: String,
    pub v_icms: String,
    pub v_bc_st: String,
    pub v_st: String,
    pub v_ii: String,
    pub v_icms_uf_remet: String,
    pub v_fcp_uf_dest: String,
    pub v_icms_uf_dest: String,
    pub v_pis: String,
    pub v_prod: String,
    pub v_frete: String,
    pub v_seg: String,
    pub v_desc: String,
    pub v_outro: String,
    pub v_ipi: String,
    pub v_tot_trib: String,
    pub v_cofins: String,
    pub v_nf: String,
}

/// `transp`: the carrier and the first volume group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transport {
    pub mode: String,
    pub name: String,
    pub tax_id: String,
    pub ie: String,
    pub address: String,
    pub municipality: String,
    pub uf: String,
    pub plate: String,
    pub plate_uf: String,
    pub antt: String,
    pub volumes: String,
    pub kind: String,
    pub brand: String,
    pub numbering: String,
    pub gross_weight: String,
    pub net_weight: String,
}

/// One `det`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Item {
    pub code: String,
    pub description: String,
    pub extra: String,
    pub ncm: String,
    /// `orig` + `CST`, or `orig` + `CSOSN`.
    pub cst: String,
    pub cfop: String,
    pub unit: String,
    pub quantity: String,
    pub unit_value: String,
    pub total: String,
    pub discount: String,
    pub icms_base: String,
    pub icms_value: String,
    pub icms_rate: String,
    pub ipi_value: String,
    pub ipi_rate: String,
}

/// The authorisation protocol (`protNFe/infProt`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Protocol {
    pub number: String,
    pub received_at: String,
    pub status: String,
    pub reason: String,
}

/// Everything the DANFE prints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nfe {
    /// The 44-character access key (from `infNFe/@Id`).
    pub key: String,
    /// `tpAmb`: 1 production, 2 homologation.
    pub environment: String,
    /// `tpNF`: 0 entry, 1 exit.
    pub direction: String,
    pub number: String,
    pub series: String,
    pub nature: String,
    pub issued_at: String,
    pub left_at: String,
    pub emitter: Emitter,
    pub recipient: Recipient,
    pub billing: Option<Billing>,
    pub totals: Totals,
    pub transport: Transport,
    pub items: Vec<Item>,
    pub complementary: String,
    pub fisco: String,
    pub protocol: Option<Protocol>,
}

fn is(node: &Node<'_, '_>, name: &str) -> bool {
    node.is_element()
        && node.tag_name().name() == name
        && node.tag_name().namespace() == Some(NFE_NS)
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| is(c, name))
}

fn children<'a, 'i>(node: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(move |c| is(c, name))
}

/// The text of the element at `path` below `node` (empty when absent).
fn text(node: Option<Node<'_, '_>>, path: &[&str]) -> String {
    let mut current = node;
    for name in path {
        current = current.and_then(|n| child(n, name));
    }
    current
        .and_then(|n| n.text())
        .map(|t| t.trim().to_owned())
        .unwrap_or_default()
}

/// The first child element of `node` (the one group of a choice such as `ICMS/ICMS00`).
fn first_element<'a, 'i>(node: Option<Node<'a, 'i>>) -> Option<Node<'a, 'i>> {
    node.and_then(|n| n.children().find(Node::is_element))
}

fn address(node: Option<Node<'_, '_>>) -> Address {
    Address {
        street: text(node, &["xLgr"]),
        number: text(node, &["nro"]),
        complement: text(node, &["xCpl"]),
        district: text(node, &["xBairro"]),
        municipality: text(node, &["xMun"]),
        uf: text(node, &["UF"]),
        cep: text(node, &["CEP"]),
        phone: text(node, &["fone"]),
    }
}

fn tax_id(node: Option<Node<'_, '_>>) -> String {
    let cnpj = text(node, &["CNPJ"]);
    if cnpj.is_empty() {
        text(node, &["CPF"])
    } else {
        cnpj
    }
}

fn item(det: Node<'_, '_>) -> Item {
    let prod = child(det, "prod");
    let imposto = child(det, "imposto");
    let icms = first_element(imposto.and_then(|i| child(i, "ICMS")));
    let ipi_trib = imposto
        .and_then(|i| child(i, "IPI"))
        .and_then(|i| child(i, "IPITrib"));
    let orig = text(icms, &["orig"]);
    let cst = text(icms, &["CST"]);
    let csosn = text(icms, &["CSOSN"]);
    Item {
        code: text(prod, &["cProd"]),
        description: text(prod, &["xProd"]),
        extra: text(Some(det), &["infAdProd"]),
        ncm: text(prod, &["NCM"]),
        cst: format!("{orig}{}", if csosn.is_empty() { cst } else { csosn }),
        cfop: text(prod, &["CFOP"]),
        unit: text(prod, &["uCom"]),
        quantity: text(prod, &["qCom"]),
        unit_value: text(prod, &["vUnCom"]),
        total: text(prod, &["vProd"]),
        discount: text(prod, &["vDesc"]),
        icms_base: text(icms, &["vBC"]),
        icms_value: text(icms, &["vICMS"]),
        icms_rate: text(icms, &["pICMS"]),
        ipi_value: text(ipi_trib, &["vIPI"]),
        ipi_rate: text(ipi_trib, &["pIPI"]),
    }
}

/// Reads an `nfeProc` (NFe + protNFe) or a bare `NFe`.
pub fn read(xml: &str) -> Result<Nfe, DanfeError> {
    let doc = Document::parse(xml).map_err(|e| DanfeError::Xml(e.to_string()))?;
    let root = doc.root_element();
    let (nfe, prot) = if is(&root, "nfeProc") {
        let nfe = child(root, "NFe").ok_or(DanfeError::Missing("nfeProc/NFe"))?;
        let prot = child(root, "protNFe").ok_or(DanfeError::Missing("nfeProc/protNFe"))?;
        (nfe, Some(prot))
    } else if is(&root, "NFe") {
        (root, None)
    } else {
        return Err(DanfeError::NotAnNfe(format!(
            "{{{}}}{}",
            root.tag_name().namespace().unwrap_or(""),
            root.tag_name().name()
        )));
    };
    let inf = child(nfe, "infNFe").ok_or(DanfeError::Missing("NFe/infNFe"))?;
    let id = inf.attribute("Id").unwrap_or("");
    let key = id
        .strip_prefix("NFe")
        .filter(|k| k.len() == 44)
        .ok_or(DanfeError::Missing("infNFe/@Id with the 44-character key"))?
        .to_owned();
    let ide = child(inf, "ide").ok_or(DanfeError::Missing("infNFe/ide"))?;
    let emit = child(inf, "emit").ok_or(DanfeError::Missing("infNFe/emit"))?;
    let dest = child(inf, "dest");
    let protocol = match prot {
        Some(prot) => {
            let inf_prot = child(prot, "infProt").ok_or(DanfeError::Missing("protNFe/infProt"))?;
            let ch = text(Some(inf_prot), &["chNFe"]);
            if ch != key {
                return Err(DanfeError::KeyMismatch {
                    nfe: key,
                    protocol: ch,
                });
            }
            Some(Protocol {
                number: text(Some(inf_prot), &["nProt"]),
                received_at: text(Some(inf_prot), &["dhRecbto"]),
                status: text(Some(inf_prot), &["cStat"]),
                reason: text(Some(inf_prot), &["xMotivo"]),
            })
        }
        None => None,
    };
    let cobr = child(inf, "cobr");
    let billing = cobr.map(|cobr| {
        let fat = child(cobr, "fat");
        Billing {
            number: text(fat, &["nFat"]),
            original: text(fat, &["vOrig"]),
            discount: text(fat, &["vDesc"]),
            net: text(fat, &["vLiq"]),
            installments: children(cobr, "dup")
                .map(|d| Installment {
                    number: text(Some(d), &["nDup"]),
                    due: text(Some(d), &["dVenc"]),
                    value: text(Some(d), &["vDup"]),
                })
                .collect(),
        }
    });
    let tot = child(inf, "total").and_then(|t| child(t, "ICMSTot"));
    let t = |name: &str| text(tot, &[name]);
    let transp = child(inf, "transp");
    let carrier = transp.and_then(|t| child(t, "transporta"));
    let vehicle = transp.and_then(|t| child(t, "veicTransp"));
    let vol = transp.and_then(|t| child(t, "vol"));
    let inf_adic = child(inf, "infAdic");
    let nfe = Nfe {
        key,
        environment: text(Some(ide), &["tpAmb"]),
        direction: text(Some(ide), &["tpNF"]),
        number: text(Some(ide), &["nNF"]),
        series: text(Some(ide), &["serie"]),
        nature: text(Some(ide), &["natOp"]),
        issued_at: text(Some(ide), &["dhEmi"]),
        left_at: text(Some(ide), &["dhSaiEnt"]),
        emitter: Emitter {
            tax_id: tax_id(Some(emit)),
            name: text(Some(emit), &["xNome"]),
            trade_name: text(Some(emit), &["xFant"]),
            address: address(child(emit, "enderEmit")),
            ie: text(Some(emit), &["IE"]),
            iest: text(Some(emit), &["IEST"]),
            crt: text(Some(emit), &["CRT"]),
        },
        recipient: Recipient {
            tax_id: {
                let id = tax_id(dest);
                if id.is_empty() {
                    text(dest, &["idEstrangeiro"])
                } else {
                    id
                }
            },
            name: text(dest, &["xNome"]),
            address: address(dest.and_then(|d| child(d, "enderDest"))),
            ie: text(dest, &["IE"]),
        },
        billing,
        totals: Totals {
            v_bc: t("vBC"),
            v_icms: t("vICMS"),
            v_bc_st: t("vBCST"),
            v_st: t("vST"),
            v_ii: t("vII"),
            v_icms_uf_remet: t("vICMSUFRemet"),
            v_fcp_uf_dest: t("vFCPUFDest"),
            v_icms_uf_dest: t("vICMSUFDest"),
            v_pis: t("vPIS"),
            v_prod: t("vProd"),
            v_frete: t("vFrete"),
            v_seg: t("vSeg"),
            v_desc: t("vDesc"),
            v_outro: t("vOutro"),
            v_ipi: t("vIPI"),
            v_tot_trib: t("vTotTrib"),
            v_cofins: t("vCOFINS"),
            v_nf: t("vNF"),
        },
        transport: Transport {
            mode: text(transp, &["modFrete"]),
            name: text(carrier, &["xNome"]),
            tax_id: tax_id(carrier),
            ie: text(carrier, &["IE"]),
            address: text(carrier, &["xEnder"]),
            municipality: text(carrier, &["xMun"]),
            uf: text(carrier, &["UF"]),
            plate: text(vehicle, &["placa"]),
            plate_uf: text(vehicle, &["UF"]),
            antt: text(vehicle, &["RNTC"]),
            volumes: text(vol, &["qVol"]),
            kind: text(vol, &["esp"]),
            brand: text(vol, &["marca"]),
            numbering: text(vol, &["nVol"]),
            gross_weight: text(vol, &["pesoB"]),
            net_weight: text(vol, &["pesoL"]),
        },
        items: children(inf, "det").map(item).collect(),
        complementary: text(inf_adic, &["infCpl"]),
        fisco: text(inf_adic, &["infAdFisco"]),
        protocol,
    };
    if nfe.items.is_empty() {
        return Err(DanfeError::Missing("infNFe/det"));
    }
    if nfe.number.is_empty() {
        return Err(DanfeError::Missing("ide/nNF"));
    }
    Ok(nfe)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str =
        include_str!("../../tests/data/41170706117473000150550010000463201612756527-procNFe.xml");

    #[test]
    fn the_sample_is_read_by_element_name() {
        let nfe = read(SAMPLE).unwrap();
        assert_eq!(nfe.key, "41170706117473000150550010000463201612756527");
        assert_eq!(
            (nfe.environment.as_str(), nfe.direction.as_str()),
            ("2", "1")
        );
        assert_eq!((nfe.number.as_str(), nfe.series.as_str()), ("46320", "1"));
        assert_eq!(nfe.emitter.name, "UNIMAKE SOLUCOES CORPORATIVAS LTDA");
        assert_eq!(nfe.emitter.crt, "1");
        assert_eq!(nfe.recipient.tax_id, "27373722000148");
        assert_eq!(nfe.items.len(), 1);
        assert_eq!(nfe.items[0].cst, "0101");
        assert_eq!(nfe.items[0].unit_value, "84.9000000000");
        assert_eq!(nfe.totals.v_nf, "84.90");
        assert_eq!(nfe.transport.mode, "0");
        assert!(nfe.billing.is_none());
        let protocol = nfe.protocol.unwrap();
        assert_eq!(protocol.number, "141170000487910");
        assert_eq!(protocol.status, "100");
    }

    #[test]
    fn a_bare_nfe_has_no_protocol_and_other_roots_are_refused() {
        let start = SAMPLE.find("<NFe ").unwrap();
        let end = SAMPLE.find("</NFe>").unwrap() + "</NFe>".len();
        let nfe = read(&SAMPLE[start..end]).unwrap();
        assert!(nfe.protocol.is_none());
        assert!(matches!(
            read("<html xmlns=\"http://www.w3.org/1999/xhtml\"/>"),
            Err(DanfeError::NotAnNfe(_))
        ));
        assert!(matches!(read("<NFe"), Err(DanfeError::Xml(_))));
        // Elements outside the NF-e namespace are not read.
        let foreign = SAMPLE.replace(
            "<nfeProc xmlns=\"http://www.portalfiscal.inf.br/nfe\"",
            "<nfeProc xmlns=\"urn:other\"",
        );
        assert!(matches!(read(&foreign), Err(DanfeError::NotAnNfe(_))));
    }

    #[test]
    fn a_protocol_for_another_key_is_refused() {
        let other = SAMPLE.replace(
            "<chNFe>41170706117473000150550010000463201612756527</chNFe>",
            "<chNFe>41170706117473000150550010000463201612756519</chNFe>",
        );
        assert!(matches!(read(&other), Err(DanfeError::KeyMismatch { .. })));
    }
}
