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
//!
//! The launcher also serves two test facilities on the same port, under
//! `/_bokbasen/` (no AWS API is there): it counts every AWS request by
//! `service:Operation` ([`LocalAws::calls`], for the benchmark of AWS calls
//! per resource operation), and it can answer chosen operations with an AWS
//! error instead of moto ([`LocalAws::inject_fault`], for tests proving that a
//! half-failed apply leaves no orphans). They are not AWS: the provider never
//! calls them.

use std::collections::BTreeMap;
use std::io::{Read, Write};
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
        Self::launch(false)
    }

    /// [`LocalAws::start`], with AWS managed policies (`ReadOnlyAccess`, …)
    /// in every account, as in AWS. Loading them costs moto about a second
    /// per account, so only tests that attach them ask for it.
    pub fn start_with_aws_managed_policies() -> LocalAws {
        Self::launch(true)
    }

    fn launch(aws_managed_policies: bool) -> LocalAws {
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
                .env("MOTO_IAM_LOAD_MANAGED_POLICIES", if aws_managed_policies { "true" } else { "false" })
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

    /// The standard AWS environment of a developer signed in to `account`
    /// (credentials of an assumed role there), pointed at this endpoint: what
    /// the `bokbasen` CLI and any AWS SDK read.
    pub fn developer_env(&self, account: &str) -> Vec<(String, String)> {
        let creds = self.boto3(&format!(
            r#"
creds = client("sts").assume_role(RoleArn="arn:aws:iam::{account}:role/developer", RoleSessionName="developer")["Credentials"]
print(json.dumps({{"id": creds["AccessKeyId"], "secret": creds["SecretAccessKey"], "token": creds["SessionToken"]}}))
"#
        ));
        let field = |name: &str| creds[name].as_str().unwrap_or_default().to_string();
        vec![
            ("AWS_ACCESS_KEY_ID".into(), field("id")),
            ("AWS_SECRET_ACCESS_KEY".into(), field("secret")),
            ("AWS_SESSION_TOKEN".into(), field("token")),
            ("AWS_REGION".into(), "eu-north-1".into()),
            ("AWS_ENDPOINT_URL".into(), self.endpoint()),
        ]
    }

    /// The URL to give the provider as `endpoint_url`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many AWS requests reached the endpoint since it started (or since
    /// [`LocalAws::reset_calls`]), by `service:Operation`: the SigV4 signing
    /// name and the operation, e.g. `iam:GetRole`,
    /// `codepipeline:CreatePipeline`. This is how the benchmark counts the AWS
    /// calls each resource operation makes. Faulted requests count too.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        let body = self.facility("GET", "/_bokbasen/calls", None);
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("the call counts are not JSON ({e}): {body}"))
    }

    /// Forgets the calls counted so far, so [`LocalAws::calls`] shows only
    /// what follows (e.g. one plan or apply, not the setup before it).
    pub fn reset_calls(&self) {
        self.facility("POST", "/_bokbasen/calls/reset", None);
    }

    /// Makes requests for `operation` (`service:Operation`, as
    /// [`LocalAws::calls`] names them) fail with HTTP `status` and the AWS
    /// error `code` and `message` instead of reaching moto: the next `times`
    /// of them, or every one for `None`. The error has the shape of the
    /// operation's protocol, so the SDK reads it as that service error. This
    /// is how tests make an apply fail halfway, to prove it leaves no orphans
    /// and that the next apply recovers.
    pub fn inject_fault(&self, operation: &str, status: u16, code: &str, message: &str, times: Option<u32>) {
        let fault = serde_json::json!({
            "operation": operation,
            "status": status,
            "code": code,
            "message": message,
            "times": times,
        });
        self.facility("POST", "/_bokbasen/faults", Some(&fault.to_string()));
    }

    /// Removes every fault given with [`LocalAws::inject_fault`] that is still
    /// in force.
    pub fn clear_faults(&self) {
        self.facility("DELETE", "/_bokbasen/faults", None);
    }

    /// One HTTP/1.1 request to the launcher's test facilities; the answer's
    /// body. Panics unless the answer is 2xx.
    fn facility(&self, method: &str, path: &str, body: Option<&str>) -> String {
        let body = body.unwrap_or("");
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))
            .unwrap_or_else(|e| panic!("connect to the local AWS endpoint for {method} {path}: {e}"));
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("set a read timeout");
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
             Content-Length: {length}\r\nConnection: close\r\n\r\n{body}",
            port = self.port,
            length = body.len(),
        );
        stream.write_all(request.as_bytes()).unwrap_or_else(|e| panic!("send {method} {path}: {e}"));
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap_or_else(|e| panic!("read the answer to {method} {path}: {e}"));
        let answer = String::from_utf8_lossy(&answer);
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let status = head.split_whitespace().nth(1).unwrap_or("");
        assert!(status.starts_with('2'), "{method} {path} answered:\n{answer}");
        body.to_owned()
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
