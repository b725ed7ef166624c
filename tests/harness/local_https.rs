//! HTTPS servers on 127.0.0.1, in the local endpoint's Python, each with a
//! certificate from a CA made for the run, trusted through `SSL_CERT_FILE`:
//! a static file server (`https_files.py`: a private provider registry or
//! mirror as Terraform meets one) and a fake of HCP Terraform's
//! private-registry API (`hcp_fake.py`).

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::tools::{moto_python_path, require, workspace_root};

pub struct LocalHttps {
    child: Child,
    port: u16,
    certs: tempfile::TempDir,
    log: PathBuf,
}

impl LocalHttps {
    /// Serves the files under `root` until dropped.
    pub fn serve_files(root: &Path) -> LocalHttps {
        LocalHttps::start("https_files.py", &[root.as_os_str()])
    }

    /// HCP Terraform's private-registry API for `organization`, accepting
    /// `token`; `GET /_fake/state` tells what was published.
    pub fn fake_hcp_terraform(organization: &str, token: &str) -> LocalHttps {
        LocalHttps::start("hcp_fake.py", &[organization.as_ref(), token.as_ref()])
    }

    /// Runs `tests/harness/SCRIPT ARGS… CERT_DIR`, which prints its port.
    fn start(script: &str, args: &[&std::ffi::OsStr]) -> LocalHttps {
        let python = require(&moto_python_path(), "the local endpoint's Python");
        let certs = tempfile::Builder::new().prefix("bokbasen-https-").tempdir().expect("a certificate folder");
        let log = certs.path().join("requests.log");
        let mut child = Command::new(python)
            .arg(workspace_root().join("tests/harness").join(script))
            .args(args)
            .arg(certs.path())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("a request log"))
            .spawn()
            .unwrap_or_else(|e| panic!("start {script}: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line).expect("read the port");
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("{script} did not start: {}", std::fs::read_to_string(&log).unwrap_or_default())
        });
        LocalHttps { child, port, certs, log }
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

    /// "METHOD PATH STATUS" for each request so far (and "REJECTED …" for
    /// a request the HCP Terraform fake refused).
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(str::to_owned).collect()
    }
}

impl Drop for LocalHttps {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
