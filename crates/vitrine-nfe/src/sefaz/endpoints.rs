//! Where each service of each authoriser is: the community tables vendored unchanged in
//! `data/sefaz/` (source in its README.txt), compiled in and parsed once.
//!
//! (UF, environment, service) → authoriser (`autorizadores.json["55"][UF]`) → the `<UF>` entry
//! of `wsnfe_4.00_mod55.xml` with that `<sigla>` → `<homologacao>`/`<producao>` → the service's
//! element: URL (text), `operation` (last segment of the SOAP namespace) and `method`.
//! The contingency authoriser (SVC-AN / SVC-RS) per UF is a table here (shared
//! `nfe/webservices/NOTES.md` §7, from nfephp `Contingency::activate`) \[verify\].

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use crate::ids::Uf;
use crate::model::{ContingencyKind, Environment};

const WS_FILE: &str = include_str!("../../data/sefaz/wsnfe_4.00_mod55.xml");
const AUTHORISERS_FILE: &str = include_str!("../../data/sefaz/autorizadores.json");

/// The prefix of every operation's SOAP namespace.
pub const WSDL_NAMESPACE_PREFIX: &str = "http://www.portalfiscal.inf.br/nfe/wsdl/";

/// A web service of the NF-e 4.00 authorisers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// NFeStatusServico4 (`consStatServ`).
    Status,
    /// NFeAutorizacao4 (`enviNFe`).
    Authorisation,
    /// NFeRetAutorizacao4 (`consReciNFe`).
    ReceiptQuery,
    /// NFeConsultaProtocolo4 (`consSitNFe`).
    ProtocolQuery,
    /// NFeInutilizacao4 (`inutNFe`).
    Voiding,
    /// NFeRecepcaoEvento4 (`envEvento`).
    Events,
}

impl Service {
    /// Every service.
    pub const ALL: [Service; 6] = [
        Service::Status,
        Service::Authorisation,
        Service::ReceiptQuery,
        Service::ProtocolQuery,
        Service::Voiding,
        Service::Events,
    ];

    /// The element name in `wsnfe_4.00_mod55.xml`.
    pub fn table_name(self) -> &'static str {
        match self {
            Service::Status => "NfeStatusServico",
            Service::Authorisation => "NfeAutorizacao",
            Service::ReceiptQuery => "NfeRetAutorizacao",
            Service::ProtocolQuery => "NfeConsultaProtocolo",
            Service::Voiding => "NfeInutilizacao",
            Service::Events => "RecepcaoEvento",
        }
    }

    /// The usual SOAP operation (namespace suffix), as most authorisers publish it.
    pub fn default_operation(self) -> &'static str {
        match self {
            Service::Status => "NFeStatusServico4",
            Service::Authorisation => "NFeAutorizacao4",
            Service::ReceiptQuery => "NFeRetAutorizacao4",
            Service::ProtocolQuery => "NFeConsultaProtocolo4",
            Service::Voiding => "NFeInutilizacao4",
            Service::Events => "NFeRecepcaoEvento4",
        }
    }

    /// The usual SOAP method name.
    pub fn default_method(self) -> &'static str {
        match self {
            Service::Status => "nfeStatusServicoNF",
            Service::Authorisation => "nfeAutorizacaoLote",
            Service::ReceiptQuery => "nfeRetAutorizacaoLote",
            Service::ProtocolQuery => "nfeConsultaNF",
            Service::Voiding => "nfeInutilizacaoNF",
            Service::Events => "nfeRecepcaoEvento",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.default_operation())
    }
}

/// One service of one authoriser in one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The authoriser's `<sigla>` (`SP`, `SVRS`, `SVCAN`…).
    pub authoriser: String,
    /// The HTTPS URL.
    pub url: String,
    /// The SOAP operation, last segment of the namespace (`NFeAutorizacao4`).
    pub operation: String,
    /// The SOAP method (`nfeAutorizacaoLote`).
    pub method: String,
}

impl Endpoint {
    /// An endpoint at `url` with the service's usual operation and method (tests, overrides).
    pub fn at(url: impl Into<String>, service: Service) -> Endpoint {
        Endpoint {
            authoriser: "override".into(),
            url: url.into(),
            operation: service.default_operation().into(),
            method: service.default_method().into(),
        }
    }

    /// `http://www.portalfiscal.inf.br/nfe/wsdl/<operation>`: the namespace of `nfeDadosMsg`.
    pub fn namespace(&self) -> String {
        format!("{WSDL_NAMESPACE_PREFIX}{}", self.operation)
    }

    /// The SOAP 1.2 action: `<namespace>/<method>`.
    pub fn action(&self) -> String {
        format!("{}/{}", self.namespace(), self.method)
    }
}

/// Why an endpoint could not be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// The UF has no model-55 authoriser in `autorizadores.json`.
    #[error("no NF-e authoriser for {0}")]
    NoAuthoriser(Uf),
    /// The authoriser does not offer the service there (empty URL in the table).
    #[error("{authoriser} offers no {service} in {environment:?}")]
    NotOffered {
        /// The authoriser.
        authoriser: String,
        /// The service.
        service: Service,
        /// The environment.
        environment: Environment,
    },
}

type Table = HashMap<(String, Environment, Service), Endpoint>;

struct Tables {
    authoriser: HashMap<String, String>,
    endpoints: Table,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES
        .get_or_init(|| parse(WS_FILE, AUTHORISERS_FILE).expect("the vendored SEFAZ tables parse"))
}

fn parse(ws: &str, authorisers: &str) -> Result<Tables, String> {
    let json: serde_json::Value =
        serde_json::from_str(authorisers).map_err(|e| format!("autorizadores.json: {e}"))?;
    let authoriser = json
        .get("55")
        .and_then(|m| m.as_object())
        .ok_or("autorizadores.json has no model 55")?
        .iter()
        .filter_map(|(uf, a)| Some((uf.clone(), a.as_str()?.to_owned())))
        .collect();
    let doc = roxmltree::Document::parse(ws).map_err(|e| format!("wsnfe: {e}"))?;
    let mut endpoints = Table::new();
    for uf in doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("UF"))
    {
        let Some(sigla) = uf
            .children()
            .find(|n| n.has_tag_name("sigla"))
            .and_then(|n| n.text())
        else {
            continue;
        };
        for (tag, environment) in [
            ("homologacao", Environment::Homologation),
            ("producao", Environment::Production),
        ] {
            let Some(env) = uf.children().find(|n| n.has_tag_name(tag)) else {
                continue;
            };
            for service in Service::ALL {
                let Some(node) = env
                    .children()
                    .find(|n| n.has_tag_name(service.table_name()))
                else {
                    continue;
                };
                let url = node.text().unwrap_or("").trim();
                if url.is_empty() {
                    continue;
                }
                endpoints.insert(
                    (sigla.trim().to_owned(), environment, service),
                    Endpoint {
                        authoriser: sigla.trim().to_owned(),
                        url: url.to_owned(),
                        operation: node
                            .attribute("operation")
                            .unwrap_or(service.default_operation())
                            .to_owned(),
                        method: node
                            .attribute("method")
                            .unwrap_or(service.default_method())
                            .to_owned(),
                    },
                );
            }
        }
    }
    Ok(Tables {
        authoriser,
        endpoints,
    })
}

/// The model-55 authoriser of `uf` (`SP`, `SVRS`, `SVAN`…).
pub fn authoriser(uf: Uf) -> Result<&'static str, EndpointError> {
    tables()
        .authoriser
        .get(uf.as_str())
        .map(String::as_str)
        .ok_or(EndpointError::NoAuthoriser(uf))
}

/// The contingency authoriser of `uf` (SVC-AN, `tpEmis` 6, or SVC-RS, `tpEmis` 7), as the
/// `<sigla>` of the URL table: `SVCAN` or `SVCRS` (NOTES.md §7) \[verify\].
pub fn contingency_authoriser(uf: Uf) -> &'static str {
    match ContingencyKind::of(uf) {
        ContingencyKind::SvcRs => "SVCRS",
        ContingencyKind::SvcAn => "SVCAN",
    }
}

/// The endpoint of `service` at `authoriser` (a `<sigla>`) in `environment`.
pub fn endpoint_of(
    authoriser: &str,
    environment: Environment,
    service: Service,
) -> Result<Endpoint, EndpointError> {
    tables()
        .endpoints
        .get(&(authoriser.to_owned(), environment, service))
        .cloned()
        .ok_or_else(|| EndpointError::NotOffered {
            authoriser: authoriser.to_owned(),
            service,
            environment,
        })
}

/// The endpoint of `service` for an emitter in `uf`: its normal authoriser, or its contingency
/// one (SVC) when `contingency` is true.
pub fn endpoint(
    uf: Uf,
    environment: Environment,
    service: Service,
    contingency: bool,
) -> Result<Endpoint, EndpointError> {
    let authoriser = if contingency {
        contingency_authoriser(uf)
    } else {
        authoriser(uf)?
    };
    endpoint_of(authoriser, environment, service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sao_paulo_homologation_authorises_at_its_own_sefaz() {
        let e = endpoint(
            Uf::SP,
            Environment::Homologation,
            Service::Authorisation,
            false,
        )
        .unwrap();
        assert_eq!(e.authoriser, "SP");
        assert_eq!(
            e.url,
            "https://homologacao.nfe.fazenda.sp.gov.br/ws/nfeautorizacao4.asmx"
        );
        assert_eq!(e.operation, "NFeAutorizacao4");
        assert_eq!(e.method, "nfeAutorizacaoLote");
        assert_eq!(
            e.action(),
            "http://www.portalfiscal.inf.br/nfe/wsdl/NFeAutorizacao4/nfeAutorizacaoLote"
        );
    }

    #[test]
    fn santa_catarina_is_served_by_svrs() {
        assert_eq!(authoriser(Uf::SC).unwrap(), "SVRS");
        let e = endpoint(Uf::SC, Environment::Production, Service::Status, false).unwrap();
        assert_eq!(e.authoriser, "SVRS");
        assert!(e.url.contains("svrs.rs.gov.br"), "{}", e.url);
        assert_eq!(authoriser(Uf::MA).unwrap(), "SVAN");
    }

    #[test]
    fn contingency_of_sao_paulo_is_svc_an_and_of_parana_svc_rs() {
        assert_eq!(contingency_authoriser(Uf::SP), "SVCAN");
        assert_eq!(contingency_authoriser(Uf::PR), "SVCRS");
        let sp = endpoint(
            Uf::SP,
            Environment::Homologation,
            Service::Authorisation,
            true,
        )
        .unwrap();
        assert_eq!(sp.authoriser, "SVCAN");
        let pr = endpoint(
            Uf::PR,
            Environment::Homologation,
            Service::Authorisation,
            true,
        )
        .unwrap();
        assert_eq!(pr.authoriser, "SVCRS");
        assert!(pr.url.contains("svrs.rs.gov.br"), "{}", pr.url);
    }

    #[test]
    fn every_uf_has_every_service_in_both_environments() {
        for &uf in Uf::ALL {
            for environment in [Environment::Homologation, Environment::Production] {
                for service in Service::ALL {
                    let e = endpoint(uf, environment, service, false)
                        .unwrap_or_else(|e| panic!("{uf}: {e}"));
                    assert!(e.url.starts_with("https://"), "{uf} {service}: {}", e.url);
                }
            }
        }
    }

    #[test]
    fn an_unknown_authoriser_offers_nothing() {
        assert!(matches!(
            endpoint_of("XX", Environment::Production, Service::Voiding),
            Err(EndpointError::NotOffered { .. })
        ));
    }
}
