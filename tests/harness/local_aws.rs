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
//! The launcher also serves test facilities on the same port, under
//! `/_bokbasen/` (no AWS API is there). They are not AWS: the provider never
//! calls them.
//!
//! - Counting: every AWS request by `service:Operation` ([`LocalAws::calls`],
//!   for the benchmark of AWS calls per resource operation), and how many of
//!   them changed state ([`LocalAws::mutating_calls`]; the one rule of what
//!   is mutating is the launcher's, see [`RequestFilter::Mutating`]).
//! - Faults: chosen operations answered with an AWS error instead of moto
//!   ([`LocalAws::inject_fault`], for tests proving that a half-failed apply
//!   leaves no orphans), or the request at a position
//!   ([`LocalAws::inject_fault_at`], [`LocalAws::fail_mutating_call`]: fail
//!   the k-th mutating call).
//! - Storms: a seeded share of all requests throttled, failed, unavailable or
//!   reset at the TCP level ([`LocalAws::start_storm`], [`StormReport`]), for
//!   tests of retries and of runs that go wrong anywhere.
//! - Holds: the N-th (mutating) request kept waiting until released, then
//!   applied or dropped ([`LocalAws::hold`], [`LocalAws::wait_until_held`],
//!   [`LocalAws::release_hold`]), for tests that kill Terraform or the
//!   provider at a chosen point.
//!
//! By default the endpoint enforces IAM as AWS does ([`LocalAws::start`]):
//! Terraform runs as the IAM user `bokbasen-terraform` holding exactly the
//! documented least policy of the identity that runs Terraform
//! ([`documented_caller_policy`], `bokbasen_pipeline::permissions`, also
//! rendered into `docs/guides/permissions.md`), and every environment
//! account has `OrganizationAccountAccessRole`, as AWS Organizations makes
//! it. A call the documentation does not allow then fails the test, naming
//! the action, the principal and the resource (see
//! [`crate::TerraformRun::success`]). [`LocalAws::start_permissive`] is moto
//! checking nothing, for tests of the launcher itself.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bokbasen_pipeline::permissions::{provisioner_policy, Provisioner};
use bokbasen_pipeline::Region;

use crate::terraform::WorkDir;
use crate::tools::{moto_launcher_path, moto_python_path, moto_server_path, require, TerraformBinary};

/// The account moto acts in for unknown access keys.
pub const DEFAULT_ACCOUNT: &str = "123456789012";
/// The tooling (pipeline) account, where the enforcing endpoint's users live.
pub const TOOLING_ACCOUNT: &str = DEFAULT_ACCOUNT;
/// The Test, Stage and Production accounts.
pub const ENVIRONMENT_ACCOUNTS: [&str; 3] = ["222222222222", "333333333333", "444444444444"];
/// The administrator the harness's own scripts run as when enforcing.
pub const ADMIN_USER: &str = "bokbasen-e2e-admin";
/// The user Terraform and the CLI run as when enforcing.
pub const CALLER_USER: &str = "bokbasen-terraform";
/// The administrator role in every account, trusted by the tooling account.
pub const ACCOUNT_ACCESS_ROLE: &str = "OrganizationAccountAccessRole";
/// The region the tests work in.
pub const REGION: &str = "eu-north-1";
/// The SSM prefix of services' configuration.
pub const CONFIG_PREFIX: &str = "/config";

/// The documented least policy of the identity that runs Terraform in the
/// tooling account (`bokbasen_pipeline::permissions::provisioner_policy`),
/// for [`TOOLING_ACCOUNT`], configuration under [`CONFIG_PREFIX`], and
/// [`ACCOUNT_ACCESS_ROLE`] in the environment accounts for the deploy
/// targets: what the caller holds on a default [`LocalAws::start`].
pub fn documented_caller_policy() -> serde_json::Value {
    provisioner_policy(
        &Provisioner {
            account: TOOLING_ACCOUNT.into(),
            config_prefix: CONFIG_PREFIX.into(),
            environment_admin_role: Some(ACCOUNT_ACCESS_ROLE.into()),
        },
        &Region { partition: "aws".into(), region: REGION.into() },
    )
}

/// The access keys every request uses when not enforcing (moto then acts in
/// [`DEFAULT_ACCOUNT`] and checks nothing).
pub const EXAMPLE_KEYS: (&str, &str) = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");

pub struct LocalAws {
    child: Child,
    pub port: u16,
    enforcing: Option<Enforcing>,
}

/// An IAM user's access key pair.
#[derive(Clone, Debug)]
pub struct AccessKeys {
    pub id: String,
    pub secret: String,
}

struct Enforcing {
    admin: AccessKeys,
    caller: AccessKeys,
}

/// A request the enforcing endpoint refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    /// The caller: `arn:aws:iam::ACCT:user/NAME` or `arn:aws:sts::ACCT:assumed-role/NAME/SESSION`.
    pub principal: String,
    /// `service:Operation`, e.g. `iam:CreateRole`.
    pub action: String,
    /// The resource ARN, or `*` where the launcher checks the action only.
    pub resource: String,
    /// Why, in AWS's words ("because no identity-based policy allows …").
    pub reason: String,
}

/// Which AWS requests a positioned fault ([`LocalAws::inject_fault_at`]) or a
/// hold ([`LocalAws::hold`]) counts. The launcher defines which requests are
/// mutating, once (`_is_mutating` in `tests/local-aws/moto_extensions.py`):
/// operations whose name starts with a verb that changes state (`Create`,
/// `Put`, `Update`, `Delete`, `Attach`, `Tag`, `Start`, `BatchDelete…`, …), and
/// for REST protocols (S3) the methods PUT, POST, DELETE and PATCH.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestFilter {
    /// Every counted AWS request (`"*"`).
    Any,
    /// Every request that changes state (`"mutating"`).
    Mutating,
    /// One `service:Operation`, as [`LocalAws::calls`] names it.
    Operation(String),
}

impl RequestFilter {
    /// How the launcher names this filter.
    pub fn as_wire(&self) -> &str {
        match self {
            RequestFilter::Any => "*",
            RequestFilter::Mutating => "mutating",
            RequestFilter::Operation(name) => name,
        }
    }
}

impl From<&str> for RequestFilter {
    /// `"*"`, `"mutating"`, or a `service:Operation`.
    fn from(text: &str) -> Self {
        match text {
            "*" => RequestFilter::Any,
            "mutating" => RequestFilter::Mutating,
            name => RequestFilter::Operation(name.to_owned()),
        }
    }
}

/// How many of the counted AWS requests changed state ([`LocalAws::call_totals`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallTotals {
    /// Requests the launcher takes as mutating (see [`RequestFilter::Mutating`]).
    pub mutating: u64,
    /// Every counted request.
    pub total: u64,
}

/// How a storm ([`LocalAws::start_storm`]) answers a request it picks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StormMode {
    /// The throttling error the service really answers: IAM and STS
    /// `Throttling` (HTTP 400), the JSON services `ThrottlingException` (400),
    /// S3 `SlowDown` (503). The SDKs retry all three as throttling.
    Throttling,
    /// HTTP 500: `InternalFailure` (S3: `InternalError`).
    Internal,
    /// HTTP 503 `ServiceUnavailable`.
    Unavailable,
    /// The TCP connection is reset (RST) before any byte of an answer; moto
    /// never sees the request.
    Reset,
}

impl StormMode {
    /// Every mode.
    pub const ALL: [StormMode; 4] =
        [StormMode::Throttling, StormMode::Internal, StormMode::Unavailable, StormMode::Reset];

    /// How the launcher names the mode.
    pub fn as_wire(self) -> &'static str {
        match self {
            StormMode::Throttling => "throttling",
            StormMode::Internal => "internal",
            StormMode::Unavailable => "unavailable",
            StormMode::Reset => "reset",
        }
    }

    fn from_wire(name: &str) -> StormMode {
        StormMode::ALL
            .into_iter()
            .find(|mode| mode.as_wire() == name)
            .unwrap_or_else(|| panic!("the launcher names an unknown storm mode {name:?}"))
    }
}

/// A storm to start ([`LocalAws::start_storm`]): every counted request (of
/// `services`, when given) is, with probability `rate`, answered by one of
/// `modes` chosen uniformly, drawn from a random sequence seeded by `seed`
/// (so the same requests in the same order meet the same faults).
#[derive(Clone, Debug, PartialEq)]
pub struct Storm {
    pub rate: f64,
    pub seed: u64,
    pub modes: Vec<StormMode>,
    /// SigV4 signing names (`iam`, `s3`, `codepipeline`, …); empty: every service.
    pub services: Vec<String>,
}

impl Storm {
    /// A storm over every service with every mode.
    pub fn new(rate: f64, seed: u64) -> Storm {
        Storm { rate, seed, modes: StormMode::ALL.to_vec(), services: Vec::new() }
    }

    /// Only these modes.
    pub fn modes(mut self, modes: &[StormMode]) -> Storm {
        self.modes = modes.to_vec();
        self
    }

    /// Only requests to these services (SigV4 signing names).
    pub fn services(mut self, services: &[&str]) -> Storm {
        self.services = services.iter().map(|service| service.to_string()).collect();
        self
    }
}

/// How many requests a storm answered in each mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StormCounts {
    pub throttling: u64,
    pub internal: u64,
    pub unavailable: u64,
    pub reset: u64,
}

impl StormCounts {
    /// The count of one mode.
    pub fn get(&self, mode: StormMode) -> u64 {
        match mode {
            StormMode::Throttling => self.throttling,
            StormMode::Internal => self.internal,
            StormMode::Unavailable => self.unavailable,
            StormMode::Reset => self.reset,
        }
    }

    /// Every request faulted.
    pub fn total(&self) -> u64 {
        self.throttling + self.internal + self.unavailable + self.reset
    }

    fn parse(value: &serde_json::Value) -> StormCounts {
        let count = |mode: StormMode| value[mode.as_wire()].as_u64().unwrap_or_default();
        StormCounts {
            throttling: count(StormMode::Throttling),
            internal: count(StormMode::Internal),
            unavailable: count(StormMode::Unavailable),
            reset: count(StormMode::Reset),
        }
    }
}

/// What a storm did so far ([`LocalAws::storm_report`], [`LocalAws::stop_storm`]).
#[derive(Clone, Debug, PartialEq)]
pub struct StormReport {
    /// Whether it still faults requests (false once stopped).
    pub active: bool,
    pub rate: f64,
    pub seed: u64,
    pub modes: Vec<StormMode>,
    /// The services it is limited to; empty: every service.
    pub services: Vec<String>,
    /// Requests it drew for (faulted or not).
    pub requests: u64,
    /// Requests it faulted, by mode.
    pub injected: StormCounts,
    /// By `service:Operation`: requests drawn for, and faulted by mode.
    pub by_operation: BTreeMap<String, (u64, StormCounts)>,
}

impl StormReport {
    fn parse(body: &str) -> StormReport {
        let value: serde_json::Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("the storm report is not JSON ({e}): {body}"));
        let strings = |field: &str| -> Vec<String> {
            value[field].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect()
        };
        StormReport {
            active: value["active"].as_bool().unwrap_or_else(|| panic!("no \"active\" in the storm report: {body}")),
            rate: value["rate"].as_f64().unwrap_or_default(),
            seed: value["seed"].as_u64().unwrap_or_default(),
            modes: strings("modes").iter().map(|mode| StormMode::from_wire(mode)).collect(),
            services: strings("services"),
            requests: value["requests"].as_u64().unwrap_or_default(),
            injected: StormCounts::parse(&value["injected"]),
            by_operation: value["by_operation"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, entry)| {
                    (
                        name.clone(),
                        (entry["requests"].as_u64().unwrap_or_default(), StormCounts::parse(&entry["injected"])),
                    )
                })
                .collect(),
        }
    }
}

/// What becomes of a held request once released ([`LocalAws::hold`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldRelease {
    /// It goes on to moto, which answers whoever still listens: the change
    /// is made even if the client was killed meanwhile.
    Apply,
    /// Its connection is reset and moto never sees it: the change is not made.
    Drop,
}

/// Whether a request is held now ([`LocalAws::hold_state`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldState {
    /// Armed and waiting for its request.
    pub armed: bool,
    /// A request is held now.
    pub held: bool,
    /// The `service:Operation` held (or last held).
    pub operation: Option<String>,
    /// Matching requests seen since the hold was armed.
    pub seen: u64,
    /// The held request went on because nobody released it within 120 s.
    pub timed_out: bool,
}

/// How to start the endpoint: [`LocalAws::builder`]. Enforcing the
/// documented policy unless told otherwise.
#[derive(Default)]
pub struct LocalAwsBuilder {
    aws_managed_policies: bool,
    authorization: Authorization,
}

/// Whom the endpoint lets do what.
#[derive(Default)]
enum Authorization {
    /// Enforcing, the caller holding [`documented_caller_policy`].
    #[default]
    Documented,
    /// Enforcing, the caller holding this policy.
    Policy(serde_json::Value),
    /// moto checking nothing.
    Off,
}

impl LocalAwsBuilder {
    /// AWS managed policies (`ReadOnlyAccess`, …) in every account, as in AWS
    /// (about a second per account).
    pub fn aws_managed_policies(mut self) -> Self {
        self.aws_managed_policies = true;
        self
    }

    /// IAM authorization on, the caller (`bokbasen-terraform`) holding exactly
    /// `caller_policy` instead of the documented one: see the module
    /// documentation.
    pub fn enforcing(mut self, caller_policy: serde_json::Value) -> Self {
        self.authorization = Authorization::Policy(caller_policy);
        self
    }

    /// moto without authorization: any keys act in [`DEFAULT_ACCOUNT`], any
    /// role in any account can be assumed. Only for tests of the launcher
    /// itself, or a test that must act as something the documented caller
    /// is not; say why where it is used.
    pub fn permissive(mut self) -> Self {
        self.authorization = Authorization::Off;
        self
    }

    pub fn start(self) -> LocalAws {
        let mut aws = LocalAws::launch(self.aws_managed_policies);
        match self.authorization {
            Authorization::Documented => aws.enforce(&documented_caller_policy()),
            Authorization::Policy(policy) => aws.enforce(&policy),
            Authorization::Off => {}
        }
        aws
    }
}

/// Helpers every script starts with: `client(service, session=None,
/// attempts=None)` (`attempts=1`: botocore does not retry, so a test sees
/// each injected fault),
/// `create_project(codebuild, name, account, source=None, artifacts=None)`
/// (CODEPIPELINE source and artifacts by default), `error_code(call)`, and
/// `assume(account)`, which returns a boto3 session in that account.
pub const BOTO3_PRELUDE: &str = r#"
import json, sys
import boto3
from botocore.exceptions import ClientError

import os
ENDPOINT = sys.argv[1]
REGION = "eu-north-1"
KEYS = dict(
    aws_access_key_id=os.environ.get("BOKBASEN_E2E_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
    aws_secret_access_key=os.environ.get("BOKBASEN_E2E_SECRET", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
)
ASSUME_ROLE = os.environ.get("BOKBASEN_E2E_ASSUME_ROLE", "bokbasen-deploy")

def client(service, session=None, attempts=None):
    # attempts=1: no retries by botocore, so a test sees every injected fault.
    if session is None:
        session = boto3.session.Session(region_name=REGION, **KEYS)
    config = None
    if attempts is not None:
        from botocore.config import Config
        config = Config(retries={"mode": "standard", "total_max_attempts": attempts})
    return session.client(service, endpoint_url=ENDPOINT, config=config)

def assume(account):
    role = f"arn:aws:iam::{account}:role/{ASSUME_ROLE}"
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
    /// Starts moto on a free loopback port, waits until it accepts
    /// connections, and switches IAM authorization on as in AWS: the caller
    /// (`bokbasen-terraform`, whose keys [`LocalAws::workdir`] gives
    /// Terraform) holds exactly [`documented_caller_policy`].
    pub fn start() -> LocalAws {
        Self::builder().start()
    }

    /// moto checking nothing ([`LocalAwsBuilder::permissive`]): only for
    /// tests of the launcher itself, or where a test must act as something
    /// the documented caller is not. Comment why at each use.
    pub fn start_permissive() -> LocalAws {
        Self::builder().permissive().start()
    }

    /// [`LocalAws::start`], with AWS managed policies (`ReadOnlyAccess`, …)
    /// in every account, as in AWS. Loading them costs moto about a second
    /// per account, so only tests that attach them ask for it.
    pub fn start_with_aws_managed_policies() -> LocalAws {
        Self::builder().aws_managed_policies().start()
    }

    /// [`LocalAws::start`] with IAM authorization on, as in AWS, the caller
    /// holding exactly `caller_policy` (see the module documentation).
    pub fn start_enforcing(caller_policy: serde_json::Value) -> LocalAws {
        Self::builder().enforcing(caller_policy).start()
    }

    /// Every way to start: managed policies, another caller policy, permissive.
    pub fn builder() -> LocalAwsBuilder {
        LocalAwsBuilder::default()
    }

    /// A Terraform working directory holding `files` (name, contents) whose
    /// runs sign as this endpoint's caller ([`LocalAws::caller_keys`]) and
    /// report its denials ([`crate::TerraformRun::success`]).
    pub fn workdir(&self, terraform: &TerraformBinary, files: &[(&str, &str)]) -> WorkDir {
        WorkDir::new(terraform, files).aws(self)
    }

    /// [`LocalAws::workdir`] holding a copy of `examples/<name>/*.tf`.
    pub fn workdir_from_example(&self, terraform: &TerraformBinary, name: &str) -> WorkDir {
        WorkDir::from_example(terraform, name).aws(self)
    }

    /// Whether IAM authorization is on.
    pub fn is_enforcing(&self) -> bool {
        self.enforcing.is_some()
    }

    /// The users and roles of an enforcing endpoint, made while moto checks
    /// nothing yet; then every later request is checked.
    fn enforce(&mut self, caller_policy: &serde_json::Value) {
        let admin_policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
        });
        let trust = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{TOOLING_ACCOUNT}:root")},
                "Action": "sts:AssumeRole"
            }]
        });
        let keys = self.boto3(&format!(
            r#"
admin_policy, trust, caller_policy = {admin}, {trust}, {caller}
def user(name, policy):
    iam = client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="bokbasen-e2e", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {{"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}}
for account in ["{tooling}"] + {environments}:
    iam = client("iam", None if account == "{tooling}" else assume(account))
    iam.create_role(RoleName="{role}", AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName="{role}", PolicyName="AdministratorAccess", PolicyDocument=admin_policy)
print(json.dumps({{"admin": user("{admin_user}", admin_policy), "caller": user("{caller_user}", caller_policy)}}))
"#,
            admin = py_string(&admin_policy.to_string()),
            trust = py_string(&trust.to_string()),
            caller = py_string(&caller_policy.to_string()),
            tooling = TOOLING_ACCOUNT,
            environments = serde_json::json!(ENVIRONMENT_ACCOUNTS),
            role = ACCOUNT_ACCESS_ROLE,
            admin_user = ADMIN_USER,
            caller_user = CALLER_USER,
        ));
        let pair = |who: &str| AccessKeys {
            id: keys[who]["id"].as_str().expect("access key id").to_owned(),
            secret: keys[who]["secret"].as_str().expect("secret access key").to_owned(),
        };
        self.enforcing = Some(Enforcing { admin: pair("admin"), caller: pair("caller") });
        // From now on every request is checked (moto counts none free).
        self.facility("POST", "/moto-api/reset-auth", Some("0"));
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
                    return LocalAws { child, port, enforcing: None };
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
    ///
    /// When enforcing, the script runs as `bokbasen-e2e-admin` (`*:*`), and
    /// `assume(account)` assumes `OrganizationAccountAccessRole` there.
    pub fn boto3(&self, script: &str) -> serde_json::Value {
        match &self.enforcing {
            Some(enforcing) => self.run_boto3(script, Some(&enforcing.admin)),
            None => self.run_boto3(script, None),
        }
    }

    /// [`LocalAws::boto3`] as the caller (`bokbasen-terraform`, holding only
    /// the caller policy) when enforcing; `assume(account)` then assumes
    /// `OrganizationAccountAccessRole` as that user. Not enforcing: as
    /// [`LocalAws::boto3`].
    pub fn boto3_as_caller(&self, script: &str) -> serde_json::Value {
        self.run_boto3(script, self.enforcing.as_ref().map(|e| &e.caller))
    }

    /// The caller's access keys: `bokbasen-terraform`'s when enforcing, else
    /// [`EXAMPLE_KEYS`].
    pub fn caller_keys(&self) -> AccessKeys {
        match &self.enforcing {
            Some(enforcing) => enforcing.caller.clone(),
            None => AccessKeys { id: EXAMPLE_KEYS.0.to_owned(), secret: EXAMPLE_KEYS.1.to_owned() },
        }
    }

    fn run_boto3(&self, script: &str, keys: Option<&AccessKeys>) -> serde_json::Value {
        let python = require(&moto_python_path(), "The local AWS endpoint (moto)");
        let home = tempfile::tempdir().expect("scratch HOME");
        let mut command = Command::new(python);
        for (key, _) in std::env::vars_os() {
            let key_text = key.to_string_lossy();
            if key_text.starts_with("AWS_") || key_text.starts_with("BOKBASEN_E2E_") {
                command.env_remove(&key);
            }
        }
        command
            .arg("-c")
            .arg(format!("{BOTO3_PRELUDE}\n{script}"))
            .arg(self.endpoint())
            .env("HOME", home.path())
            .env("AWS_EC2_METADATA_DISABLED", "true");
        if let Some(keys) = keys {
            command
                .env("BOKBASEN_E2E_KEY_ID", &keys.id)
                .env("BOKBASEN_E2E_SECRET", &keys.secret)
                .env("BOKBASEN_E2E_ASSUME_ROLE", ACCOUNT_ACCESS_ROLE);
        }
        let output = command.output().expect("python runs");
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
    ///
    /// When enforcing, the developer is `bokbasen-terraform`: its own keys in
    /// the tooling account, elsewhere its session in that account's
    /// `OrganizationAccountAccessRole` (which the caller policy must allow it
    /// to assume).
    pub fn developer_env(&self, account: &str) -> Vec<(String, String)> {
        if let Some(enforcing) = &self.enforcing {
            if account == TOOLING_ACCOUNT {
                return vec![
                    ("AWS_ACCESS_KEY_ID".into(), enforcing.caller.id.clone()),
                    ("AWS_SECRET_ACCESS_KEY".into(), enforcing.caller.secret.clone()),
                    ("AWS_REGION".into(), "eu-north-1".into()),
                    ("AWS_ENDPOINT_URL".into(), self.endpoint()),
                ];
            }
        }
        let role = if self.is_enforcing() { ACCOUNT_ACCESS_ROLE } else { "developer" };
        let creds = self.boto3_as_caller(&format!(
            r#"
creds = client("sts").assume_role(RoleArn="arn:aws:iam::{account}:role/{role}", RoleSessionName="developer")["Credentials"]
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

    /// Makes every later sts:AssumeRole answer credentials that expire
    /// `seconds` after they are issued (`None`: the duration asked for), so
    /// a test sees credentials renewed without waiting an hour.
    pub fn set_credential_lifetime(&self, seconds: Option<u64>) {
        let body = serde_json::json!({ "seconds": seconds }).to_string();
        self.facility("POST", "/_bokbasen/sts/lifetime", Some(&body));
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

    /// The requests the enforcing endpoint refused so far, oldest first.
    pub fn denials(&self) -> Vec<Denial> {
        parse_denials(&self.facility("GET", "/_bokbasen/denials", None))
    }

    /// Forgets the denials recorded so far.
    pub fn reset_denials(&self) {
        self.facility("DELETE", "/_bokbasen/denials", None);
    }

    /// Removes every fault given with [`LocalAws::inject_fault`] that is still
    /// in force.
    pub fn clear_faults(&self) {
        self.facility("DELETE", "/_bokbasen/faults", None);
    }

    /// How many counted AWS requests changed state, and how many there were
    /// in all, since the start or [`LocalAws::reset_calls`]. "Mutating" is
    /// the launcher's one rule ([`RequestFilter::Mutating`]), the same that
    /// positioned faults and holds count by.
    pub fn call_totals(&self) -> CallTotals {
        let body = self.facility("GET", "/_bokbasen/calls/mutating", None);
        let value: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("the call totals are not JSON ({e}): {body}"));
        let field =
            |name: &str| value[name].as_u64().unwrap_or_else(|| panic!("no {name:?} in the call totals: {body}"));
        CallTotals { mutating: field("mutating"), total: field("total") }
    }

    /// How many counted AWS requests changed state ([`LocalAws::call_totals`]).
    pub fn mutating_calls(&self) -> u64 {
        self.call_totals().mutating
    }

    /// Fails one request chosen by position: the first `skip` requests that
    /// match `filter` (from now on) go through, the next one is answered with
    /// HTTP `status` and the AWS error `code` and `message` in its protocol's
    /// shape, without reaching moto; later ones go through again. `filter` is
    /// a [`RequestFilter`] or `"*"`, `"mutating"`, `"service:Operation"`.
    /// Faulted requests are still counted. See [`LocalAws::fail_mutating_call`]
    /// for the usual case.
    pub fn inject_fault_at(&self, filter: impl Into<RequestFilter>, skip: u32, status: u16, code: &str, message: &str) {
        let fault = serde_json::json!({
            "operation": filter.into().as_wire(),
            "skip": skip,
            "status": status,
            "code": code,
            "message": message,
            "times": 1,
        });
        self.facility("POST", "/_bokbasen/faults", Some(&fault.to_string()));
    }

    /// Fails the `n`-th mutating request from now on (1: the next one) with
    /// HTTP 500 `InternalFailure`, the common error of every AWS service: how
    /// the per-step tests stop an apply at each step in turn.
    pub fn fail_mutating_call(&self, n: u32) {
        assert!(n >= 1, "the first mutating call is n = 1");
        self.inject_fault_at(
            RequestFilter::Mutating,
            n - 1,
            500,
            "InternalFailure",
            &format!("injected by the test: mutating call {n} fails"),
        );
    }

    /// Starts a storm (replacing any before it): every counted AWS request is,
    /// with probability `storm.rate`, answered by one of `storm.modes`
    /// ([`StormMode`]) instead of moto, from a random sequence seeded by
    /// `storm.seed`, so a run making the same requests in the same order meets
    /// the same faults. Positioned faults ([`LocalAws::inject_fault`], …) are
    /// checked first; a request they answer is not drawn for. Requests to the
    /// test facilities are never faulted.
    pub fn start_storm(&self, storm: &Storm) -> StormReport {
        let mut body = serde_json::json!({
            "rate": storm.rate,
            "seed": storm.seed,
            "modes": storm.modes.iter().map(|mode| mode.as_wire()).collect::<Vec<_>>(),
        });
        if !storm.services.is_empty() {
            body["services"] = serde_json::json!(storm.services);
        }
        StormReport::parse(&self.facility("POST", "/_bokbasen/faults/storm", Some(&body.to_string())))
    }

    /// What the storm did so far. Panics when no storm was started.
    pub fn storm_report(&self) -> StormReport {
        StormReport::parse(&self.facility("GET", "/_bokbasen/faults/storm", None))
    }

    /// Stops the storm; its final report. Panics when no storm was started.
    pub fn stop_storm(&self) -> StormReport {
        StormReport::parse(&self.facility("DELETE", "/_bokbasen/faults/storm", None))
    }

    /// Holds the `at`-th request matching `filter` from now on (1: the next
    /// one), for tests that kill Terraform or the provider at a chosen point:
    /// its server thread waits, while every other request is answered, until
    /// [`LocalAws::release_hold`] (or 120 s). Then with [`HoldRelease::Apply`]
    /// it goes on to moto (the change is made, whoever still listens), with
    /// [`HoldRelease::Drop`] its connection is reset and moto never sees it.
    /// Requests answered by a fault or a storm do not count. One hold at a
    /// time: this replaces one not yet reached, and panics while a request is
    /// held.
    pub fn hold(&self, at: u32, filter: impl Into<RequestFilter>, release: HoldRelease) {
        let release = match release {
            HoldRelease::Apply => "apply",
            HoldRelease::Drop => "drop",
        };
        let body = serde_json::json!({"at": at, "filter": filter.into().as_wire(), "release": release});
        self.facility("POST", "/_bokbasen/holds", Some(&body.to_string()));
    }

    /// Whether a request is held now, and which.
    pub fn hold_state(&self) -> HoldState {
        let body = self.facility("GET", "/_bokbasen/holds", None);
        let value: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("the hold state is not JSON ({e}): {body}"));
        HoldState {
            armed: value["armed"].as_bool().unwrap_or_default(),
            held: value["held"].as_bool().unwrap_or_default(),
            operation: value["operation"].as_str().map(str::to_owned),
            seen: value["seen"].as_u64().unwrap_or_default(),
            timed_out: value["timed_out"].as_bool().unwrap_or_default(),
        }
    }

    /// Waits until the hold ([`LocalAws::hold`]) holds a request; its
    /// `service:Operation`. Panics after `timeout`, saying how many matching
    /// requests came.
    pub fn wait_until_held(&self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let state = self.hold_state();
            if state.held {
                return state.operation.unwrap_or_default();
            }
            if Instant::now() >= deadline {
                panic!(
                    "no request was held within {timeout:?}: the hold saw {} matching request(s) ({state:?})",
                    state.seen
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Lets the held request go on as its hold said (apply or drop), or
    /// disarms a hold not reached yet. The operation released, if one was held.
    pub fn release_hold(&self) -> Option<String> {
        let body = self.facility("POST", "/_bokbasen/holds/release", None);
        let value: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("the release is not JSON ({e}): {body}"));
        value["released"].as_str().map(str::to_owned)
    }

    /// One HTTP/1.1 request to the launcher's test facilities; the answer's
    /// body. Panics unless the answer is 2xx.
    fn facility(&self, method: &str, path: &str, body: Option<&str>) -> String {
        facility(self.port, method, path, body).unwrap_or_else(|problem| panic!("{problem}"))
    }

    /// Where a [`WorkDir`] made for this endpoint finds its denials.
    pub(crate) fn link(&self) -> EndpointLink {
        EndpointLink { port: self.port, enforcing: self.is_enforcing() }
    }
}

/// What a [`WorkDir`] keeps of the endpoint it signs for: enough to read the
/// denials after each run, without borrowing the [`LocalAws`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct EndpointLink {
    port: u16,
    enforcing: bool,
}

impl EndpointLink {
    /// The denials recorded so far; none when not enforcing, or when the
    /// endpoint is gone (a test that dropped it has no denials to show).
    pub(crate) fn denials(&self) -> Vec<Denial> {
        if !self.enforcing {
            return Vec::new();
        }
        facility(self.port, "GET", "/_bokbasen/denials", None).map(|body| parse_denials(&body)).unwrap_or_default()
    }
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} by {} on {} ({})", self.action, self.principal, self.resource, self.reason)
    }
}

fn parse_denials(body: &str) -> Vec<Denial> {
    let list: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("the denials are not JSON ({e}): {body}"));
    let field = |d: &serde_json::Value, name: &str| d[name].as_str().unwrap_or_default().to_owned();
    list.as_array()
        .unwrap_or_else(|| panic!("the denials are not a list: {body}"))
        .iter()
        .map(|d| Denial {
            principal: field(d, "principal"),
            action: field(d, "action"),
            resource: field(d, "resource"),
            reason: field(d, "reason"),
        })
        .collect()
}

/// One HTTP/1.1 request to the launcher's test facilities on `port`; the
/// answer's body, or what went wrong (no connection, an answer not 2xx).
fn facility(port: u16, method: &str, path: &str, body: Option<&str>) -> Result<String, String> {
    let body = body.unwrap_or("");
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .map_err(|e| format!("connect to the local AWS endpoint for {method} {path}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("set a read timeout");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\nConnection: close\r\n\r\n{body}",
        length = body.len(),
    );
    stream.write_all(request.as_bytes()).map_err(|e| format!("send {method} {path}: {e}"))?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| format!("read the answer to {method} {path}: {e}"))?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if !status.starts_with('2') {
        return Err(format!("{method} {path} answered:\n{answer}"));
    }
    Ok(body.to_owned())
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

/// `text` as a Python string literal (JSON's string syntax is Python's).
fn py_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}
