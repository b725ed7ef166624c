//! The local AWS endpoint: a moto server on 127.0.0.1, one per test, so
//! every test starts from empty AWS state. It is stopped when dropped.
//!
//! moto runs through `tests/local-aws/moto_extensions.py`, which adds the
//! operations the provider needs that moto lacks (CodeBuild `UpdateProject`)
//! and then starts moto's own server with `moto_server`'s arguments.
//!
//! moto keeps separate state per account and lets `AssumeRole` into any
//! account, so cross-account flows run against this one endpoint.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::tools::{moto_launcher_path, moto_python_path, moto_server_path, require};

/// The account moto acts in for unknown access keys.
pub const DEFAULT_ACCOUNT: &str = "123456789012";

pub struct LocalAws {
    child: Child,
    pub port: u16,
}

impl LocalAws {
    /// Starts moto on a free loopback port and waits until it accepts connections.
    pub fn start() -> LocalAws {
        require(&moto_server_path(), "The local AWS endpoint (moto)");
        let python = require(&moto_python_path(), "The local AWS endpoint (moto)");
        let launcher = moto_launcher_path();
        assert!(launcher.is_file(), "the moto launcher {} is missing from the checkout", launcher.display());
        let mut last_error = String::new();
        // A port found free can be taken before moto binds it: try again.
        for _ in 0..3 {
            let port = free_port();
            let mut child = Command::new(&python)
                .arg(&launcher)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("the moto launcher starts");
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = child.try_wait() {
                    last_error = format!("moto exited with {status} on port {port}");
                    break;
                }
                if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
                    return LocalAws { child, port };
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            let _ = child.kill();
            let _ = child.wait();
            if last_error.is_empty() {
                last_error = format!("moto did not listen on port {port} within 30 s");
            }
        }
        panic!("could not start the local AWS endpoint: {last_error}");
    }

    /// The URL to give the provider as `endpoint_url`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for LocalAws {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
    listener.local_addr().expect("local address").port()
}
