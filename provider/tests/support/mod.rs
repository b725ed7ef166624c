//! Helpers for tests that run the provider binary the way Terraform does:
//! go-plugin's environment, the handshake line, and an mTLS gRPC client.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint, Uri};

pub const BINARY: &str = env!("CARGO_BIN_EXE_terraform-provider-bokbasen");
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// An upper bound for anything that should take milliseconds; only reached
/// when something is broken.
pub const GENEROUS: Duration = Duration::from_secs(20);

/// Variables from the developer's environment that would change how the
/// plugin starts.
const INTERFERING: &[&str] =
    &[MAGIC_COOKIE_KEY, "PLUGIN_PROTOCOL_VERSIONS", "PLUGIN_CLIENT_CERT", "PLUGIN_MIN_PORT", "PLUGIN_MAX_PORT"];

/// A client certificate and key like the ones Terraform generates per plugin
/// process: self-signed ECDSA P-521 / SHA-512, marked as a CA.
pub struct ClientIdentity {
    pub pem: String,
    pub der: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl ClientIdentity {
    pub fn generate() -> ClientIdentity {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
        };

        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).expect("generate a P-521 key");
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("certificate parameters");
        params.distinguished_name.push(DnType::OrganizationName, "HashiCorp");
        params.distinguished_name.push(DnType::CommonName, "localhost");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::KeyAgreement,
            KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth, ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.self_signed(&key).expect("self-sign the client certificate");
        ClientIdentity { pem: cert.pem(), der: cert.der().clone(), key: PrivatePkcs8KeyDer::from(key.serialize_der()) }
    }
}

/// The outcome of a run that was expected to end on its own.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary with `env` on top of the caller's environment (minus the
/// go-plugin variables) and waits, within [`GENEROUS`], for it to exit.
pub fn run_to_exit(env: &[(&str, &str)]) -> Finished {
    let mut child = command(env).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start the provider");
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let status = wait_bounded(&mut child, GENEROUS);
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the provider did not exit within {GENEROUS:?}; stderr: {}", stderr.lock().unwrap());
    };
    // The pipes close when the process exits; give the drain threads the rest.
    let (stdout, stderr) = (wait_drained(&stdout), wait_drained(&stderr));
    Finished { status, stdout, stderr }
}

fn command(env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BINARY);
    for key in INTERFERING {
        command.env_remove(key);
    }
    command.envs(env.iter().copied()).stdin(Stdio::null());
    command
}

/// A text buffer filled by a thread reading `pipe` until EOF; the thread
/// holds the second reference until then.
fn drain(pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = String::new();
        while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
            sink.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    text
}

fn wait_drained(text: &Arc<Mutex<String>>) -> String {
    // The process has exited, so EOF is imminent; a short settle suffices and
    // is not asserted on.
    let deadline = Instant::now() + Duration::from_secs(2);
    while Arc::strong_count(text) > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    text.lock().unwrap().clone()
}

fn wait_bounded(child: &mut Child, bound: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + bound;
    loop {
        if let Some(status) = child.try_wait().expect("poll the provider") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A provider process started as Terraform starts it; killed when dropped.
pub struct Plugin {
    child: Child,
    stderr: Arc<Mutex<String>>,
    pub line: String,
    pub addr: SocketAddr,
    /// DER of the server certificate published in the handshake line.
    pub server_cert: Vec<u8>,
}

impl Plugin {
    /// Starts the provider trusting `client`, with protocol versions 5 and 6
    /// offered, and reads its handshake line.
    pub fn start(client: &ClientIdentity) -> Plugin {
        let mut child = command(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE),
            ("PLUGIN_PROTOCOL_VERSIONS", "5,6"),
            ("PLUGIN_CLIENT_CERT", &client.pem),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the provider");
        let stderr = drain(child.stderr.take().expect("piped stderr"));
        let stdout = child.stdout.take().expect("piped stdout");

        // Read the first line in a thread so a silent provider cannot hang
        // the test; the thread keeps reading so the pipe stays open.
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = sender.send(line);
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = receiver.recv_timeout(GENEROUS).unwrap_or_default();
        // Built before the checks so that a failed check still kills the child.
        let mut plugin =
            Plugin { child, stderr, line: String::new(), addr: ([0, 0, 0, 0], 0).into(), server_cert: Vec::new() };
        let line = line.trim_end().to_string();
        let parts: Vec<&str> = line.split('|').collect();
        assert!(
            parts.len() == 6 && parts[0] == "1" && parts[1] == "5" && parts[2] == "tcp" && parts[4] == "grpc",
            "not a go-plugin handshake line: {line:?}; stderr: {}",
            plugin.stderr()
        );
        plugin.addr = parts[3].parse().unwrap_or_else(|e| panic!("address {:?}: {e}", parts[3]));
        assert!(plugin.addr.ip().is_loopback(), "listens on {}", plugin.addr);
        plugin.server_cert = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(parts[5])
            .unwrap_or_else(|e| panic!("certificate is not unpadded standard base64: {e}"));
        plugin.line = line;
        plugin
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits within `bound` for the process to exit on its own.
    pub async fn wait_exit(&mut self, bound: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the provider") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A gRPC channel over mTLS, presenting `identity` (or no certificate).
    pub async fn connect(&self, identity: Option<&ClientIdentity>) -> Result<Channel, tonic::transport::Error> {
        connect(self.addr, client_config(&self.server_cert, identity)).await
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Trusts exactly one server certificate, as go-plugin's client does.
#[derive(Debug)]
struct PinnedServerCertificate {
    pinned: Vec<u8>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedServerCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.pinned.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// TLS client configuration: ALPN h2, the pinned server certificate, and
/// `identity` as the client certificate when given.
pub fn client_config(server_cert: &[u8], identity: Option<&ClientIdentity>) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(PinnedServerCertificate { pinned: server_cert.to_vec(), provider: provider.clone() });
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match identity {
        Some(identity) => builder
            .with_client_auth_cert(vec![identity.der.clone()], PrivateKeyDer::Pkcs8(identity.key.clone_key()))
            .expect("client certificate and key"),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

/// A tonic channel to `addr` over TLS with `config`.
pub async fn connect(addr: SocketAddr, config: Arc<ClientConfig>) -> Result<Channel, tonic::transport::Error> {
    let connector = TlsConnector::from(config);
    Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let connector = connector.clone();
            async move {
                let tcp = TcpStream::connect(addr).await?;
                let tls = connector.connect(ServerName::try_from("localhost").expect("a DNS name"), tcp).await?;
                Ok::<_, std::io::Error>(TokioIo::new(tls))
            }
        }))
        .await
}
