//! go-plugin AutoMTLS, server side.
//!
//! Terraform generates a self-signed ECDSA P-521 client certificate per
//! plugin process and passes it in `PLUGIN_CLIENT_CERT`; the provider
//! generates its own certificate and publishes it in the handshake line.
//! Each side trusts exactly the other's certificate. Terraform's certificate
//! is marked CA=true, which WebPKI path validation rejects for an end
//! entity, so the client verifier here pins the exact DER instead, and
//! leaves signature checks to the crypto provider (aws-lc-rs, which has P-521).

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, ServerConfig, SignatureScheme};

/// The server's certificate and the TLS configuration that serves with it.
pub struct ServerTls {
    pub config: Arc<ServerConfig>,
    /// DER, as published in the handshake line.
    pub certificate: Vec<u8>,
}

#[derive(Debug)]
pub enum TlsError {
    ClientCertificate(String),
    Setup(String),
}

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsError::ClientCertificate(e) => write!(f, "PLUGIN_CLIENT_CERT does not hold a PEM certificate: {e}"),
            TlsError::Setup(e) => write!(f, "could not set up TLS: {e}"),
        }
    }
}

impl std::error::Error for TlsError {}

pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Builds the server TLS configuration that accepts only `client_cert_pem`.
pub fn server_tls(client_cert_pem: &str) -> Result<ServerTls, TlsError> {
    let client_cert = rustls_pemfile::certs(&mut client_cert_pem.as_bytes())
        .next()
        .ok_or_else(|| TlsError::ClientCertificate("no certificate found".into()))?
        .map_err(|e| TlsError::ClientCertificate(e.to_string()))?;

    let key = rcgen::KeyPair::generate().map_err(|e| TlsError::Setup(e.to_string()))?;
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_string()]).map_err(|e| TlsError::Setup(e.to_string()))?;
    let cert = params.self_signed(&key).map_err(|e| TlsError::Setup(e.to_string()))?;
    let certificate = cert.der().to_vec();
    let private_key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));

    let provider = crypto_provider();
    let verifier = Arc::new(PinnedClientCertificate { pinned: client_cert.into_owned(), provider: provider.clone() });
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![CertificateDer::from(certificate.clone())], private_key)
        .map_err(|e| TlsError::Setup(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(ServerTls { config: Arc::new(config), certificate })
}

/// Accepts exactly one client certificate, byte for byte.
#[derive(Debug)]
pub struct PinnedClientCertificate {
    pinned: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for PinnedClientCertificate {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        if end_entity.as_ref() == self.pinned.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    /// Must include ECDSA P-521 / SHA-512, or Go sends no certificate.
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertises_p521_so_go_sends_its_certificate() {
        let verifier = PinnedClientCertificate { pinned: CertificateDer::from(vec![1]), provider: crypto_provider() };
        assert!(verifier.supported_verify_schemes().contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
    }

    #[test]
    fn pins_the_exact_certificate() {
        let verifier =
            PinnedClientCertificate { pinned: CertificateDer::from(vec![1, 2, 3]), provider: crypto_provider() };
        let now = UnixTime::now();
        assert!(verifier.verify_client_cert(&CertificateDer::from(vec![1, 2, 3]), &[], now).is_ok());
        assert!(verifier.verify_client_cert(&CertificateDer::from(vec![1, 2, 4]), &[], now).is_err());
    }

    #[test]
    fn rejects_garbage_client_certificates() {
        assert!(matches!(server_tls("not a pem"), Err(TlsError::ClientCertificate(_))));
    }
}
