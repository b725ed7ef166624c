//! The local AWS endpoint itself, driven with boto3 from moto's virtualenv:
//! the CodeBuild `UpdateProject` that `tests/local-aws/moto_extensions.py`
//! adds to moto, its corrections to CreateProject (`CODEPIPELINE` without a
//! location) and BatchGetProjects (`projectsNotFound`), separate state per
//! account through `AssumeRole`, and the launcher's test facilities: call
//! counting and fault injection. These are tests of the launcher itself, so
//! they run against moto without authorization (`start_permissive`);
//! `tests/enforcing.rs` tests the launcher's authorization.

use std::collections::BTreeMap;

use bokbasen_e2e::local_aws::DEFAULT_ACCOUNT;
use bokbasen_e2e::LocalAws;

const OTHER_ACCOUNT: &str = "222222222222";

#[test]
fn codebuild_update_project_replaces_given_fields() {
    // Permissive: the launcher's own operation, as moto answers it.
    let aws = LocalAws::start_permissive();
    let result = aws.boto3(
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
fn codebuild_codepipeline_project_needs_no_location() {
    // Permissive: the launcher's correction, as moto answers it.
    let aws = LocalAws::start_permissive();
    let result = aws.boto3(
        r#"
codebuild = client("codebuild")
created = create_project(codebuild, "bokbasen-build", "123456789012")
fetched = codebuild.batch_get_projects(names=["bokbasen-build"])
updated = codebuild.update_project(
    name="bokbasen-build",
    source={"type": "CODEPIPELINE", "buildspec": "buildspec.yml"},
    artifacts={"type": "CODEPIPELINE", "name": "out"},
)["project"]
github = {"type": "GITHUB"}
s3 = {"type": "S3"}
print(json.dumps({
    "created": created,
    "fetched": fetched["projects"],
    "not_found": fetched["projectsNotFound"],
    "updated": updated,
    "github_create": error_code(lambda: create_project(codebuild, "github-build", "123456789012", source=github)),
    "github_update": error_code(lambda: codebuild.update_project(name="bokbasen-build", source=github)),
    "s3_artifacts": error_code(lambda: create_project(codebuild, "s3-build", "123456789012", artifacts=s3)),
    "projects": codebuild.list_projects()["projects"],
}, default=str))
"#,
    );

    let created = &result["created"];
    assert_eq!(created["source"], serde_json::json!({"type": "CODEPIPELINE"}), "{result}");
    assert_eq!(created["artifacts"], serde_json::json!({"type": "CODEPIPELINE"}), "{result}");
    let fetched = result["fetched"].as_array().expect("projects");
    assert_eq!(fetched.len(), 1, "{result}");
    assert_eq!(&fetched[0], created, "BatchGetProjects shows the project as created");
    assert_eq!(result["not_found"], serde_json::json!([]), "{result}");

    let updated = &result["updated"];
    assert_eq!(
        updated["source"],
        serde_json::json!({"type": "CODEPIPELINE", "buildspec": "buildspec.yml"}),
        "{result}"
    );
    assert_eq!(updated["artifacts"], serde_json::json!({"type": "CODEPIPELINE", "name": "out"}), "{result}");

    // Other types still need a location, as moto checked before.
    for case in ["github_create", "github_update", "s3_artifacts"] {
        assert_eq!(result[case]["code"], "InvalidInputException", "{case}: {result}");
        assert_eq!(result[case]["status"], 400, "{case}: {result}");
    }
    assert_eq!(result["projects"], serde_json::json!(["bokbasen-build"]), "{result}");
}

#[test]
fn codebuild_batch_get_projects_lists_projects_not_found() {
    // Permissive: the launcher's correction, as moto answers it.
    let aws = LocalAws::start_permissive();
    let result = aws.boto3(
        r#"
codebuild = client("codebuild")
created = create_project(codebuild, "bokbasen-build", "123456789012")
missing_arn = "arn:aws:codebuild:eu-north-1:123456789012:project/no-such-arn"
answer = codebuild.batch_get_projects(names=["no-such-project", "bokbasen-build", created["arn"], missing_arn])
print(json.dumps({
    "names": [project["name"] for project in answer["projects"]],
    "not_found": answer["projectsNotFound"],
}, default=str))
"#,
    );

    assert_eq!(result["names"], serde_json::json!(["bokbasen-build", "bokbasen-build"]), "{result}");
    assert_eq!(
        result["not_found"],
        serde_json::json!(["no-such-project", "arn:aws:codebuild:eu-north-1:123456789012:project/no-such-arn"]),
        "{result}"
    );
}

#[test]
fn assumed_role_account_has_separate_state() {
    // Permissive: moto's per-account state, behind no authorization.
    let aws = LocalAws::start_permissive();
    let result = aws.boto3(&format!(
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
    ));

    assert_eq!(result["other_account"], OTHER_ACCOUNT, "{result}");
    assert_eq!(result["default_projects"], serde_json::json!(["only-in-default"]), "{result}");
    assert_eq!(result["other_projects"], serde_json::json!(["only-in-other"]), "{result}");
    assert_eq!(result["update_across"]["code"], "ResourceNotFoundException", "{result}");
}

/// Creates the role moto wants behind a pipeline (trusted by CodePipeline)
/// and defines `create_pipeline(codepipeline, name)`, a two-stage pipeline.
const PIPELINE_SETUP: &str = r#"
iam = client("iam")
role_arn = iam.create_role(
    RoleName="bokbasen-pipeline",
    AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "codepipeline.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }],
    }),
)["Role"]["Arn"]

def create_pipeline(codepipeline, name):
    action = lambda name, category, provider, configuration, inputs, outputs: {
        "name": name,
        "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"},
        "configuration": configuration,
        "inputArtifacts": [{"name": artifact} for artifact in inputs],
        "outputArtifacts": [{"name": artifact} for artifact in outputs],
    }
    return codepipeline.create_pipeline(pipeline={
        "name": name,
        "roleArn": role_arn,
        "artifactStore": {"type": "S3", "location": "bokbasen-artifacts"},
        "stages": [
            {"name": "Source", "actions": [action(
                "Source", "Source", "S3", {"S3Bucket": "bokbasen-source", "S3ObjectKey": "source.zip"}, [], ["source"],
            )]},
            {"name": "Build", "actions": [action(
                "Build", "Build", "CodeBuild", {"ProjectName": "bokbasen-build"}, ["source"], [],
            )]},
        ],
    })["pipeline"]
"#;

#[test]
fn calls_are_counted_by_service_and_operation() {
    // Permissive: counts from the very first request (enforcing set-up makes some).
    let aws = LocalAws::start_permissive();
    assert_eq!(aws.calls(), BTreeMap::new(), "nothing is counted before the first request");

    aws.boto3(
        r#"
iam = client("iam")
iam.list_roles()
iam.list_roles()
client("codepipeline").list_pipelines()
print(json.dumps({}))
"#,
    );
    let expected: BTreeMap<String, u64> =
        [("iam:ListRoles".to_owned(), 2), ("codepipeline:ListPipelines".to_owned(), 1)].into();
    assert_eq!(aws.calls(), expected, "query (IAM) and JSON (CodePipeline) protocols");
    assert_eq!(aws.calls(), expected, "reading the counts is not counted");

    aws.reset_calls();
    assert_eq!(aws.calls(), BTreeMap::new(), "reset forgets the counts");
    aws.boto3(r#"print(json.dumps(client("sts").get_caller_identity()["Account"]))"#);
    assert_eq!(aws.calls(), [("sts:GetCallerIdentity".to_owned(), 1)].into(), "counting goes on after a reset");
}

#[test]
fn injected_json_protocol_fault_fails_the_call_without_reaching_moto() {
    // Permissive: the launcher's faults, before any authorization.
    let aws = LocalAws::start_permissive();
    aws.inject_fault("codepipeline:CreatePipeline", 400, "ValidationException", "injected by the test", Some(1));
    let result = aws.boto3(&format!(
        r#"{PIPELINE_SETUP}
codepipeline = client("codepipeline")
try:
    create_pipeline(codepipeline, "bokbasen-pipeline")
    faulted = None
except ClientError as error:
    faulted = {{
        "code": error.response["Error"]["Code"],
        "message": error.response["Error"]["Message"],
        "status": error.response["ResponseMetadata"]["HTTPStatusCode"],
    }}
after_fault = codepipeline.list_pipelines()["pipelines"]
created = create_pipeline(codepipeline, "bokbasen-pipeline")
print(json.dumps({{
    "faulted": faulted,
    "after_fault": after_fault,
    "created": created["name"],
    "pipelines": [pipeline["name"] for pipeline in codepipeline.list_pipelines()["pipelines"]],
}}))
"#
    ));

    assert_eq!(
        result["faulted"],
        serde_json::json!({"code": "ValidationException", "message": "injected by the test", "status": 400}),
        "{result}"
    );
    assert_eq!(result["after_fault"], serde_json::json!([]), "the faulted create reached no pipeline: {result}");
    assert_eq!(result["created"], "bokbasen-pipeline", "times = 1: the next create reaches moto: {result}");
    assert_eq!(result["pipelines"], serde_json::json!(["bokbasen-pipeline"]), "{result}");
    assert_eq!(aws.calls()["codepipeline:CreatePipeline"], 2, "the faulted create is counted too");
}

#[test]
fn injected_query_protocol_fault_gives_its_code_until_cleared() {
    // Permissive: every role listed is the test's (enforcing adds OrganizationAccountAccessRole).
    let aws = LocalAws::start_permissive();
    aws.inject_fault("iam:CreateRole", 409, "EntityAlreadyExists", "injected by the test", None);
    let script = r#"
iam = client("iam")
create = lambda: iam.create_role(RoleName="bokbasen-build", AssumeRolePolicyDocument="{}")
print(json.dumps({
    "create": error_code(create),
    "roles": [role["RoleName"] for role in iam.list_roles()["Roles"]],
}))
"#;
    let faulted = aws.boto3(script);
    assert_eq!(faulted["create"], serde_json::json!({"code": "EntityAlreadyExists", "status": 409}), "{faulted}");
    assert_eq!(faulted["roles"], serde_json::json!([]), "{faulted}");
    let again = aws.boto3(script);
    assert_eq!(again["create"], faulted["create"], "without times, every matching request fails");

    aws.clear_faults();
    let cleared = aws.boto3(script);
    assert_eq!(cleared["create"], serde_json::Value::Null, "cleared: the create reaches moto: {cleared}");
    assert_eq!(cleared["roles"], serde_json::json!(["bokbasen-build"]), "{cleared}");
    assert_eq!(aws.calls()["iam:CreateRole"], 3, "{:?}", aws.calls());
}
