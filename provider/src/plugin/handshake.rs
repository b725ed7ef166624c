//! go-plugin's handshake: how Terraform starts a provider and learns where
//! to connect.
//!
//! Terraform sets a magic cookie (so that running the binary by hand fails
//! clearly), the protocol versions it speaks, an optional port range and its
//! client certificate; the provider answers with one line on stdout:
//! `1|5|tcp|127.0.0.1:PORT|grpc|<server certificate, base64 DER, no padding>`.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};

use base64::Engine;

pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// The only plugin protocol version this provider speaks.
pub const PROTOCOL_VERSION: u32 = 5;
/// go-plugin's own (core) protocol version, the first field of the line.
const CORE_PROTOCOL_VERSION: u32 = 1;

/// What Terraform asked for, read from the environment.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// PEM of the one client certificate to trust.
    pub client_cert_pem: String,
    /// Inclusive port range to listen in; any free port when absent.
    pub port_range: Option<(u16, u16)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeError {
    /// The cookie is missing: somebody ran the binary by hand.
    NotStartedByTerraform,
    UnsupportedProtocol(String),
    MissingClientCertificate,
    InvalidPortRange(String),
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::NotStartedByTerraform => write!(
                f,
                "This binary is a plugin for Terraform (the bokbasen provider); it is not meant to be run directly.\n\
                 Install it where Terraform finds providers (see the README) and run `terraform init` and `terraform apply`."
            ),
            HandshakeError::UnsupportedProtocol(asked) => write!(
                f,
                "Terraform asked for plugin protocol versions {asked:?}, but this provider speaks only version {PROTOCOL_VERSION}. \
                 Use Terraform 0.12 or newer."
            ),
            HandshakeError::MissingClientCertificate => write!(
                f,
                "PLUGIN_CLIENT_CERT is not set: this provider only serves Terraform over mutual TLS (go-plugin AutoMTLS)."
            ),
            HandshakeError::InvalidPortRange(detail) => write!(f, "invalid PLUGIN_MIN_PORT/PLUGIN_MAX_PORT: {detail}"),
        }
    }
}

impl std::error::Error for HandshakeError {}

impl Handshake {
    /// Reads the handshake from an environment lookup (`std::env::var` in
    /// the binary; a map in tests).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Handshake, HandshakeError> {
        if get(MAGIC_COOKIE_KEY).as_deref() != Some(MAGIC_COOKIE_VALUE) {
            return Err(HandshakeError::NotStartedByTerraform);
        }
        // Absent means go-plugin's default, which for Terraform is 5 here.
        if let Some(asked) = get("PLUGIN_PROTOCOL_VERSIONS") {
            let speaks = asked.split(',').any(|v| v.trim().parse::<u32>() == Ok(PROTOCOL_VERSION));
            if !speaks {
                return Err(HandshakeError::UnsupportedProtocol(asked));
            }
        }
        let client_cert_pem = get("PLUGIN_CLIENT_CERT")
            .filter(|pem| !pem.trim().is_empty())
            .ok_or(HandshakeError::MissingClientCertificate)?;
        let port = |key: &str| -> Result<Option<u16>, HandshakeError> {
            match get(key).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => v
                    .parse::<u16>()
                    .map(Some)
                    .map_err(|_| HandshakeError::InvalidPortRange(format!("{key}={v:?} is not a port number"))),
            }
        };
        let port_range = match (port("PLUGIN_MIN_PORT")?, port("PLUGIN_MAX_PORT")?) {
            (None, None) => None,
            (min, max) => {
                let (min, max) = (min.unwrap_or(1024), max.unwrap_or(u16::MAX));
                if min > max {
                    return Err(HandshakeError::InvalidPortRange(format!("minimum {min} is above maximum {max}")));
                }
                Some((min, max))
            }
        };
        Ok(Handshake { client_cert_pem, port_range })
    }

    /// Binds a loopback listener, within the port range if one was given.
    pub fn bind(&self) -> std::io::Result<TcpListener> {
        let Some((min, max)) = self.port_range else {
            return TcpListener::bind((Ipv4Addr::LOCALHOST, 0));
        };
        let mut last_error = None;
        for port in min..=max {
            match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
                Ok(listener) => return Ok(listener),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| std::io::Error::other("empty port range")))
    }
}

/// The line Terraform reads from stdout.
pub fn handshake_line(addr: SocketAddr, server_cert_der: &[u8]) -> String {
    let cert = base64::engine::general_purpose::STANDARD_NO_PAD.encode(server_cert_der);
    format!("{CORE_PROTOCOL_VERSION}|{PROTOCOL_VERSION}|tcp|{addr}|grpc|{cert}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |key| map.get(key).cloned()
    }

    const COOKIE: (&str, &str) = (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE);
    const CERT: (&str, &str) = ("PLUGIN_CLIENT_CERT", "-----BEGIN CERTIFICATE-----");

    #[test]
    fn requires_the_cookie() {
        assert_eq!(Handshake::from_env(env(&[CERT])).unwrap_err(), HandshakeError::NotStartedByTerraform);
        let wrong = (MAGIC_COOKIE_KEY, "nope");
        assert_eq!(Handshake::from_env(env(&[wrong, CERT])).unwrap_err(), HandshakeError::NotStartedByTerraform);
    }

    #[test]
    fn accepts_5_anywhere_in_the_version_list() {
        for versions in ["5", "5,6", "6,5", " 4 , 5 "] {
            assert!(
                Handshake::from_env(env(&[COOKIE, CERT, ("PLUGIN_PROTOCOL_VERSIONS", versions)])).is_ok(),
                "{versions}"
            );
        }
        let err = Handshake::from_env(env(&[COOKIE, CERT, ("PLUGIN_PROTOCOL_VERSIONS", "6")])).unwrap_err();
        assert!(err.to_string().contains("only version 5"));
    }

    #[test]
    fn requires_a_client_certificate() {
        assert_eq!(Handshake::from_env(env(&[COOKIE])).unwrap_err(), HandshakeError::MissingClientCertificate);
    }

    #[test]
    fn honours_the_port_range() {
        let probe = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let free = probe.local_addr().unwrap().port();
        drop(probe);
        let free_s = free.to_string();
        let hs = Handshake::from_env(env(&[COOKIE, CERT, ("PLUGIN_MIN_PORT", &free_s), ("PLUGIN_MAX_PORT", &free_s)]))
            .unwrap();
        assert_eq!(hs.port_range, Some((free, free)));
        assert_eq!(hs.bind().unwrap().local_addr().unwrap().port(), free);
        let bad = Handshake::from_env(env(&[COOKIE, CERT, ("PLUGIN_MIN_PORT", "9000"), ("PLUGIN_MAX_PORT", "8000")]));
        assert!(matches!(bad, Err(HandshakeError::InvalidPortRange(_))));
        let bad = Handshake::from_env(env(&[COOKIE, CERT, ("PLUGIN_MIN_PORT", "x")]));
        assert!(matches!(bad, Err(HandshakeError::InvalidPortRange(_))));
    }

    #[test]
    fn line_has_unpadded_base64_certificate() {
        let line = handshake_line("127.0.0.1:1234".parse().unwrap(), &[1, 2, 3, 4]);
        assert_eq!(line, "1|5|tcp|127.0.0.1:1234|grpc|AQIDBA");
    }
}
