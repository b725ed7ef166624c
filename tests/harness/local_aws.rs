//! The local AWS endpoint: a moto server on 127.0.0.1, one per test, so
//! every test starts from empty AWS state. It is stopped when dropped.
//!
//! moto runs through `tests/local-aws/moto_extensions.py`, which adds the
//! operations the provider needs that moto lacks or gets wrong (CodeBuild
//! `UpdateProject`, `CODEPIPELINE` projects without a location,
//! `projectsNotFound`)
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

/// Helpers every script starts with: `client(service, session=None)`,
/// `create_project(codebuild, name, account, source=None, artifacts=None)`
/// (CODEPIPELINE source and artifacts by default), `error_code(call)`, and
/// `assume(account)`, which returns a boto3 session in that account.
pub const BOTO3_PRELUDE: &str = r#"
import json, sys
import boto3
from botocore.exceptions import ClientError

ENDPOINT = sys.argv[1]
REGION = "eu-north-1"
KEYS = dict(aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")

def client(service, session=None):
    if session is None:
        session = boto3.session.Session(region_name=REGION, **KEYS)
    return session.client(service, endpoint_url=ENDPOINT)

def assume(account):
    role = f"arn:aws:iam::{account}:role/bokbasen-deploy"
    creds = client("sts").assume_role(RoleArn=role, RoleSessionName="bokbasen-e2e")["Credentials"]
    return boto3.session.Session(
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )

def create_project(codebuild, name, account, source=None, artifacts=None):
    # Like the product: CODEPIPELINE source and artifacts, without a location.
    return codebuild.create_project(
        name=name,
        description="first",
        source=source or {"type": "CODEPIPELINE"},
        artifacts=artifacts or {"type": "CODEPIPELINE"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole=f"arn:aws:iam::{account}:role/bokbasen-build",
    )["project"]

def error_code(call):
    try:
        call()
    except ClientError as error:
        return {"code": error.response["Error"]["Code"], "status": error.response["ResponseMetadata"]["HTTPStatusCode"]}
    return None
"#;

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

    /// Runs [`BOTO3_PRELUDE`] + `script` with the venv's Python against `aws`; the
    /// script prints one JSON document, which is returned.
    pub fn boto3(&self, script: &str) -> serde_json::Value {
        let python = require(&moto_python_path(), "The local AWS endpoint (moto)");
        let home = tempfile::tempdir().expect("scratch HOME");
        let mut command = Command::new(python);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("AWS_") {
                command.env_remove(&key);
            }
        }
        let output = command
            .arg("-c")
            .arg(format!("{BOTO3_PRELUDE}\n{script}"))
            .arg(self.endpoint())
            .env("HOME", home.path())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .expect("python runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "boto3 script failed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}",
            output.status
        );
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("script output is not JSON ({e}):\n{stdout}\nstderr:\n{stderr}"))
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
