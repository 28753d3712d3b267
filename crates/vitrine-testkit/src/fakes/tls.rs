//! What the fake providers need of TLS: a private CA made at run time with a server and a client
//! certificate, and an HTTPS server on `127.0.0.1` that requires a client certificate from that
//! CA (a client without one fails the handshake).

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// A certificate and its key, PEM and DER.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

/// A CA with one server certificate (`localhost`, `127.0.0.1`; also valid as a client
/// certificate, for a provider that calls webhooks over mutual TLS) and one client certificate.
pub struct Pki {
    pub ca_pem: String,
    ca_der: CertificateDer<'static>,
    ca_cert: rcgen::Certificate,
    ca_key: KeyPair,
    pub server: Issued,
    pub client: Issued,
}

impl Pki {
    /// Makes the CA and both certificates (ECDSA P-256).
    pub fn generate(name: &str) -> Result<Pki, String> {
        let fail = |e: rcgen::Error| format!("certificate generation: {e}");
        let ca_key = KeyPair::generate().map_err(fail)?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).map_err(fail)?;
        let issue =
            |names: Vec<String>, ip: bool, usages: Vec<ExtendedKeyUsagePurpose>, cn: &str| {
                let key = KeyPair::generate().map_err(fail)?;
                let mut params = CertificateParams::new(names).map_err(fail)?;
                if ip {
                    params
                        .subject_alt_names
                        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
                }
                params.distinguished_name.push(DnType::CommonName, cn);
                params.extended_key_usages = usages;
                params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
                let cert = params.signed_by(&key, &ca_cert, &ca_key).map_err(fail)?;
                Ok::<_, String>(Issued {
                    cert_pem: cert.pem(),
                    key_pem: key.serialize_pem(),
                    cert_der: CertificateDer::from(cert.der().to_vec()),
                    key_der: key.serialize_der(),
                })
            };
        let server = issue(
            vec!["localhost".into()],
            true,
            vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
            &format!("{name} server"),
        )?;
        let client = issue(
            Vec::new(),
            false,
            vec![ExtendedKeyUsagePurpose::ClientAuth],
            &format!("{name} client"),
        )?;
        Ok(Pki {
            ca_pem: ca_cert.pem(),
            ca_der: CertificateDer::from(ca_cert.der().to_vec()),
            ca_cert,
            ca_key,
            server,
            client,
        })
    }

    /// A client certificate from this CA for an existing RSA key (PKCS#8 DER), e.g. a shop's
    /// A1 stand-in that both signs XML (RSA-SHA1) and authenticates over TLS.
    pub fn issue_rsa_client(&self, common_name: &str, pkcs8_der: &[u8]) -> Result<Issued, String> {
        let fail = |e: rcgen::Error| format!("certificate generation: {e}");
        let key = KeyPair::from_pkcs8_der_and_sign_algo(
            &PrivatePkcs8KeyDer::from(pkcs8_der.to_vec()),
            &rcgen::PKCS_RSA_SHA256,
        )
        .map_err(fail)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = params
            .signed_by(&key, &self.ca_cert, &self.ca_key)
            .map_err(fail)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: CertificateDer::from(cert.der().to_vec()),
            key_der: pkcs8_der.to_vec(),
        })
    }

    /// A TLS acceptor with the server certificate that requires a client certificate issued by
    /// this CA.
    pub fn acceptor(&self) -> Result<TlsAcceptor, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.ca_der.clone())
            .map_err(|e| format!("the test CA: {e}"))?;
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .map_err(|e| format!("client verifier: {e}"))?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server.key_der.clone()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS versions: {e}"))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![self.server.cert_der.clone()], key)
            .map_err(|e| format!("server certificate: {e}"))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// What answers one request.
pub type Handler =
    Arc<dyn Fn(Request<Incoming>) -> BoxFuture<'static, Response<Full<Bytes>>> + Send + Sync>;

/// An HTTPS server with mutual TLS on `127.0.0.1`, a random port; stopped when dropped.
pub struct TlsServer {
    pub addr: SocketAddr,
    refused_handshakes: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl TlsServer {
    pub async fn start(acceptor: TlsAcceptor, handler: Handler) -> Result<TlsServer, String> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| format!("bind 127.0.0.1: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let refused_handshakes = Arc::new(AtomicUsize::new(0));
        let refused = refused_handshakes.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let handler = handler.clone();
                let refused = refused.clone();
                tokio::spawn(async move {
                    let handshake =
                        tokio::time::timeout(Duration::from_secs(5), acceptor.accept(tcp)).await;
                    let Ok(Ok(tls)) = handshake else {
                        refused.fetch_add(1, Ordering::SeqCst);
                        return;
                    };
                    let service = hyper::service::service_fn(move |request| {
                        let handler = handler.clone();
                        async move { Ok::<_, Infallible>(handler(request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Ok(TlsServer {
            addr,
            refused_handshakes,
            task,
        })
    }

    /// TLS handshakes that failed (no client certificate, an unknown CA, not TLS at all).
    pub fn refused_handshakes(&self) -> usize {
        self.refused_handshakes.load(Ordering::SeqCst)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
