//! The local AWS endpoint itself, driven with boto3 from moto's virtualenv:
//! the CodeBuild `UpdateProject` that `tests/local-aws/moto_extensions.py`
//! adds to moto, and separate state per account through `AssumeRole`.

use std::process::Command;

use bokbasen_e2e::local_aws::DEFAULT_ACCOUNT;
use bokbasen_e2e::tools::{moto_python_path, require};
use bokbasen_e2e::LocalAws;
use serde_json::Value;

const OTHER_ACCOUNT: &str = "222222222222";

/// Helpers every script starts with: `client(service, session=None)`,
/// `create_project(codebuild, name, account)`, `error_code(call)`, and
/// `assume(account)`, which returns a boto3 session in that account.
const PRELUDE: &str = r#"
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

def create_project(codebuild, name, account):
    # moto wants a location even for CODEPIPELINE source and artifacts.
    return codebuild.create_project(
        name=name,
        description="first",
        source={"type": "CODEPIPELINE", "location": "pipeline"},
        artifacts={"type": "CODEPIPELINE", "location": "pipeline"},
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

/// Runs `PRELUDE` + `script` with the venv's Python against `aws`; the
/// script prints one JSON document, which is returned.
fn boto3(aws: &LocalAws, script: &str) -> Value {
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
        .arg(format!("{PRELUDE}\n{script}"))
        .arg(aws.endpoint())
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "boto3 script failed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}", output.status);
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("script output is not JSON ({e}):\n{stdout}\nstderr:\n{stderr}"))
}

#[test]
fn codebuild_update_project_replaces_given_fields() {
    let aws = LocalAws::start();
    let result = boto3(
        &aws,
        r#"
codebuild = client("codebuild")
created = create_project(codebuild, "bokbasen-build", "123456789012")
updated = codebuild.update_project(
    name="bokbasen-build",
    description="second",
    environment={
        "type": "LINUX_CONTAINER",
        "image": "aws/codebuild/standard:8.0",
        "computeType": "BUILD_GENERAL1_SMALL",
    },
)["project"]
fetched = codebuild.batch_get_projects(names=["bokbasen-build"])["projects"]
print(json.dumps({
    "created": created,
    "updated": updated,
    "fetched": fetched,
    "unknown": error_code(lambda: codebuild.update_project(name="no-such-project", description="x")),
}, default=str))
"#,
    );

    let (created, updated) = (&result["created"], &result["updated"]);
    assert_eq!(updated["name"], "bokbasen-build");
    assert_eq!(updated["arn"], created["arn"]);
    assert_eq!(updated["description"], "second");
    assert_eq!(updated["environment"]["image"], "aws/codebuild/standard:8.0");
    assert_eq!(updated["source"], created["source"], "fields not given are kept");
    assert_eq!(updated["serviceRole"], created["serviceRole"], "fields not given are kept");
    assert!(updated["lastModified"].is_string(), "lastModified is set: {updated}");

    let fetched = result["fetched"].as_array().expect("projects");
    assert_eq!(fetched.len(), 1, "{result}");
    assert_eq!(&fetched[0], updated, "BatchGetProjects shows what UpdateProject answered");

    assert_eq!(result["unknown"]["code"], "ResourceNotFoundException", "{result}");
    assert_eq!(result["unknown"]["status"], 400, "{result}");
}

#[test]
fn assumed_role_account_has_separate_state() {
    let aws = LocalAws::start();
    let result = boto3(
        &aws,
        &format!(
            r#"
default = client("codebuild")
other_session = assume("{OTHER_ACCOUNT}")
other = client("codebuild", other_session)
create_project(default, "only-in-default", "{DEFAULT_ACCOUNT}")
create_project(other, "only-in-other", "{OTHER_ACCOUNT}")
print(json.dumps({{
    "other_account": client("sts", other_session).get_caller_identity()["Account"],
    "default_projects": default.list_projects()["projects"],
    "other_projects": other.list_projects()["projects"],
    "update_across": error_code(lambda: other.update_project(name="only-in-default", description="x")),
}}))
"#
        ),
    );

    assert_eq!(result["other_account"], OTHER_ACCOUNT, "{result}");
    assert_eq!(result["default_projects"], serde_json::json!(["only-in-default"]), "{result}");
    assert_eq!(result["other_projects"], serde_json::json!(["only-in-other"]), "{result}");
    assert_eq!(result["update_across"]["code"], "ResourceNotFoundException", "{result}");
}
