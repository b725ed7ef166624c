//! A static HTTPS file server on 127.0.0.1 (`https_files.py`, in the local
//! endpoint's Python): a private provider registry or mirror as Terraform
//! meets one, with a certificate from a CA made for the run, which
//! Terraform trusts through `SSL_CERT_FILE`.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::tools::{moto_python_path, require, workspace_root};

pub struct HttpsFiles {
    child: Child,
    port: u16,
    certs: tempfile::TempDir,
    log: PathBuf,
}

impl HttpsFiles {
    /// Serves `root` until dropped.
    pub fn serve(root: &Path) -> HttpsFiles {
        let python = require(&moto_python_path(), "the local endpoint's Python");
        let certs = tempfile::Builder::new().prefix("bokbasen-https-").tempdir().expect("a certificate folder");
        let log = certs.path().join("requests.log");
        let mut child = Command::new(python)
            .arg(workspace_root().join("tests/harness/https_files.py"))
            .arg(root)
            .arg(certs.path())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("a request log"))
            .spawn()
            .expect("start the HTTPS file server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line).expect("read the port");
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the HTTPS file server did not start: {}", std::fs::read_to_string(&log).unwrap_or_default())
        });
        HttpsFiles { child, port, certs, log }
    }

    /// `localhost:PORT`, a registry host name Terraform accepts.
    pub fn host(&self) -> String {
        format!("localhost:{}", self.port)
    }

    pub fn base_url(&self) -> String {
        format!("https://{}", self.host())
    }

    /// The CA certificate, for `SSL_CERT_FILE`.
    pub fn ca_file(&self) -> PathBuf {
        self.certs.path().join("ca.pem")
    }

    /// "METHOD PATH STATUS" for each request so far.
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(str::to_owned).collect()
    }
}

impl Drop for HttpsFiles {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
