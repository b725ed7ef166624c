//! The local AWS endpoint itself, driven with boto3 from moto's virtualenv:
//! the CodeBuild `UpdateProject` that `tests/local-aws/moto_extensions.py`
//! adds to moto, its corrections to CreateProject (`CODEPIPELINE` without a
//! location), BatchGetProjects (`projectsNotFound`), S3 CreateBucket (tags
//! given at creation) and DeleteBucket (its tags go too), separate state per
//! account through `AssumeRole`, and the launcher's test facilities: call
//! counting (all and mutating), fault injection by operation and by position,
//! storms (throttling, 5xx, connection resets at a seeded rate) and holds. These are tests of the launcher itself, so
//! they run against moto without authorization (`start_permissive`);
//! `tests/enforcing.rs` tests the launcher's authorization.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bokbasen_e2e::local_aws::{CallTotals, HoldRelease, RequestFilter, Storm, StormCounts, StormMode, DEFAULT_ACCOUNT};
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
fn s3_tags_given_at_creation_are_the_bucket_s_tags_and_go_with_it() {
    // Permissive: the launcher's corrections to CreateBucket and DeleteBucket, as moto answers them.
    let aws = LocalAws::start_permissive();
    let result = aws.boto3(
        r#"
s3 = client("s3")
location = {"LocationConstraint": REGION}
tags = lambda bucket: error_code(lambda: s3.get_bucket_tagging(Bucket=bucket)) or {
    t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
}
marker = [{"Key": "bokbasen:owner", "Value": "bokbasen_artifact_store/tagged"}, {"Key": "team", "Value": "books"}]
s3.create_bucket(Bucket="tagged", CreateBucketConfiguration={**location, "Tags": marker})
s3.create_bucket(Bucket="untagged", CreateBucketConfiguration=location)
created = tags("tagged")
taken = error_code(lambda: s3.create_bucket(
    Bucket="tagged", CreateBucketConfiguration={**location, "Tags": [{"Key": "team", "Value": "other"}]}
))
after_taken = tags("tagged")
s3.delete_bucket(Bucket="tagged")
s3.create_bucket(Bucket="tagged", CreateBucketConfiguration=location)
print(json.dumps({
    "created": created,
    "untagged": tags("untagged"),
    "taken": taken,
    "after_taken": after_taken,
    "recreated": tags("tagged"),
    "duplicate": error_code(lambda: s3.create_bucket(Bucket="duplicate", CreateBucketConfiguration={
        **location, "Tags": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}],
    })),
    "system": error_code(lambda: s3.create_bucket(Bucket="system", CreateBucketConfiguration={
        **location, "Tags": [{"Key": "aws:x", "Value": "1"}],
    })),
    "refused_made": [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"] in ("duplicate", "system")],
}))
"#,
    );

    let created = serde_json::json!({"bokbasen:owner": "bokbasen_artifact_store/tagged", "team": "books"});
    assert_eq!(result["created"], created, "GetBucketTagging answers the tags given at creation: {result}");
    assert_eq!(result["untagged"]["code"], "NoSuchTagSet", "{result}");
    assert_eq!(result["taken"]["code"], "BucketAlreadyOwnedByYou", "{result}");
    assert_eq!(result["after_taken"], created, "a refused CreateBucket tags nothing: {result}");
    assert_eq!(result["recreated"]["code"], "NoSuchTagSet", "a deleted bucket's tags went with it: {result}");
    for case in ["duplicate", "system"] {
        assert_eq!(result[case]["code"], "InvalidTag", "{case}: {result}");
    }
    assert_eq!(result["refused_made"], serde_json::json!([]), "{result}");
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

/// `outcome(call)`: "ok", "CODE STATUS" for an AWS error, "reset" when the
/// connection was reset (RST) before an answer, "closed: ..." for any other
/// connection failure (e.g. a clean close), so a test tells them apart.
const OUTCOME: &str = r#"
from botocore.exceptions import ConnectionClosedError

def outcome(call):
    try:
        call()
        return "ok"
    except ClientError as error:
        return f'{error.response["Error"]["Code"]} {error.response["ResponseMetadata"]["HTTPStatusCode"]}'
    except ConnectionClosedError as error:
        # botocore wraps urllib3's ProtocolError("Connection aborted.", cause).
        cause = error.kwargs.get("error")
        inner = cause.args[-1] if cause is not None and cause.args else cause
        return "reset" if isinstance(inner, ConnectionResetError) else f"closed: {cause!r}"
"#;

#[test]
fn mutating_calls_are_counted_by_the_one_rule() {
    // Permissive: counts from the very first request (enforcing set-up makes some).
    let aws = LocalAws::start_permissive();
    assert_eq!(aws.call_totals(), CallTotals { mutating: 0, total: 0 });
    aws.boto3(
        r#"
iam, ssm, ecr, s3, sts = (client(name) for name in ["iam", "ssm", "ecr", "s3", "sts"])
iam.create_role(RoleName="bokbasen-build", AssumeRolePolicyDocument="{}")      # mutating
iam.get_role(RoleName="bokbasen-build")
iam.list_roles()
iam.tag_role(RoleName="bokbasen-build", Tags=[{"Key": "k", "Value": "v"}])      # mutating
ssm.put_parameter(Name="/config/a", Value="1", Type="String")                    # mutating
ssm.get_parameter(Name="/config/a")
ecr.create_repository(repositoryName="bokbasen")                                 # mutating
ecr.batch_get_image(repositoryName="bokbasen", imageIds=[{"imageTag": "x"}])
ecr.batch_delete_image(repositoryName="bokbasen", imageIds=[{"imageTag": "x"}])  # mutating: Batch + Delete
sts.get_caller_identity()
sts.assume_role(RoleArn="arn:aws:iam::222222222222:role/x", RoleSessionName="session")  # credentials only
s3.create_bucket(Bucket="bokbasen-a", CreateBucketConfiguration={"LocationConstraint": "eu-north-1"})  # PUT
s3.head_bucket(Bucket="bokbasen-a")
s3.put_object(Bucket="bokbasen-a", Key="k", Body=b"x")                           # PUT
s3.list_objects_v2(Bucket="bokbasen-a")
s3.delete_objects(Bucket="bokbasen-a", Delete={"Objects": [{"Key": "k"}]})       # POST
print(json.dumps({}))
"#,
    );
    let calls = aws.calls();
    assert_eq!(calls.values().sum::<u64>(), 16, "{calls:?}");
    assert_eq!(aws.call_totals(), CallTotals { mutating: 8, total: 16 }, "{calls:?}");
    assert_eq!(aws.mutating_calls(), 8);

    aws.reset_calls();
    assert_eq!(aws.call_totals(), CallTotals { mutating: 0, total: 0 }, "reset forgets both");
}

#[test]
fn fault_at_a_position_fails_exactly_that_request() {
    // Permissive: the launcher's faults, before any authorization.
    let aws = LocalAws::start_permissive();
    // The third mutating request from now on (two let through).
    aws.fail_mutating_call(3);
    let script = format!(
        r#"{OUTCOME}
iam, ssm, s3 = (client(name, attempts=1) for name in ["iam", "ssm", "s3"])
where = {{"LocationConstraint": "eu-north-1"}}
steps = [
    ("iam:ListRoles", lambda: iam.list_roles()),
    ("iam:CreateRole", lambda: iam.create_role(RoleName="bokbasen-build", AssumeRolePolicyDocument="{{}}")),
    ("ssm:GetParametersByPath", lambda: ssm.get_parameters_by_path(Path="/config")),
    ("ssm:PutParameter", lambda: ssm.put_parameter(Name="/config/a", Value="1", Type="String")),
    ("s3:ListBuckets", lambda: s3.list_buckets()),
    ("s3:CreateBucket one", lambda: s3.create_bucket(Bucket="bokbasen-one", CreateBucketConfiguration=where)),
    ("s3:CreateBucket two", lambda: s3.create_bucket(Bucket="bokbasen-two", CreateBucketConfiguration=where)),
    ("ssm:PutParameter b", lambda: ssm.put_parameter(Name="/config/b", Value="2", Type="String")),
]
print(json.dumps({{
    "steps": {{name: outcome(call) for name, call in steps}},
    "buckets": [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]],
}}))
"#
    );
    let result = aws.boto3(&script);
    let failed: Vec<(&String, &serde_json::Value)> =
        result["steps"].as_object().expect("steps").iter().filter(|(_, outcome)| *outcome != "ok").collect();
    assert_eq!(
        failed,
        vec![(&"s3:CreateBucket one".to_owned(), &serde_json::json!("InternalFailure 500"))],
        "only the third mutating request fails, with the error S3's parser reads: {result}"
    );
    assert_eq!(
        result["buckets"],
        serde_json::json!(["bokbasen-two"]),
        "the faulted create never reached moto; the next one did: {result}"
    );

    // "*": every counted request, reads too; skip 1 fails the second.
    aws.inject_fault_at("*", 1, 503, "ServiceUnavailable", "injected by the test");
    let result = aws.boto3(&format!(
        r#"{OUTCOME}
iam = client("iam", attempts=1)
print(json.dumps([outcome(lambda: iam.list_roles()) for _ in range(3)]))
"#
    ));
    assert_eq!(result, serde_json::json!(["ok", "ServiceUnavailable 503", "ok"]), "{result}");
}

/// Round-robin over the three protocols (query, JSON, S3 REST), no retries:
/// the outcome of each request, in order.
const STORM_RUN: &str = r#"
sts, codepipeline, s3 = (client(name, attempts=1) for name in ["sts", "codepipeline", "s3"])
calls = [
    ("sts", lambda: sts.get_caller_identity()),
    ("codepipeline", lambda: codepipeline.list_pipelines()),
    ("s3", lambda: s3.list_buckets()),
]
print(json.dumps([[service, outcome(call)] for service, call in (calls[i % 3] for i in range(300))]))
"#;

/// The storm mode a client outcome shows, given the service that answered:
/// each protocol's own codes.
fn storm_mode_seen(service: &str, outcome: &str) -> Option<StormMode> {
    match (service, outcome) {
        (_, "ok") => None,
        ("sts", "Throttling 400") | ("codepipeline", "ThrottlingException 400") | ("s3", "SlowDown 503") => {
            Some(StormMode::Throttling)
        }
        ("sts" | "codepipeline", "InternalFailure 500") | ("s3", "InternalError 500") => Some(StormMode::Internal),
        (_, "ServiceUnavailable 503") => Some(StormMode::Unavailable),
        (_, "reset") => Some(StormMode::Reset),
        _ => panic!("{service} answered {outcome:?}, which is no storm mode's error for it"),
    }
}

#[test]
fn storm_faults_at_its_rate_as_each_service_would_and_repeats_for_a_seed() {
    // Permissive: the launcher's storm, before any authorization.
    let aws = LocalAws::start_permissive();
    let script = format!("{OUTCOME}\n{STORM_RUN}");
    let started = aws.start_storm(&Storm::new(0.3, 7));
    assert!(started.active && started.requests == 0, "{started:?}");
    let first = aws.boto3(&script);
    let report = aws.stop_storm();
    assert!(!report.active, "{report:?}");
    assert_eq!(report.requests, 300, "{report:?}");

    let outcomes: Vec<(String, String)> = serde_json::from_value(first.clone()).expect("pairs");
    let mut seen = StormCounts::default();
    for (service, outcome) in &outcomes {
        match storm_mode_seen(service, outcome) {
            Some(StormMode::Throttling) => seen.throttling += 1,
            Some(StormMode::Internal) => seen.internal += 1,
            Some(StormMode::Unavailable) => seen.unavailable += 1,
            Some(StormMode::Reset) => seen.reset += 1,
            None => {}
        }
    }
    assert_eq!(seen, report.injected, "the report counts what the client saw");
    assert!((60..=120).contains(&seen.total()), "rate 0.3 of 300 requests is about 90 faults: {seen:?}");
    for mode in StormMode::ALL {
        assert!(seen.get(mode) >= 10, "each mode about a quarter of the faults: {mode:?} in {seen:?}");
    }
    // Each protocol met each of its errors (not only one service's shape).
    for service in ["sts", "codepipeline", "s3"] {
        let faulted = outcomes.iter().filter(|(s, o)| s == service && o != "ok").count();
        assert!(faulted >= 15, "{service} faulted {faulted} times of 100");
    }
    let per_operation: Vec<u64> = report.by_operation.values().map(|(requests, _)| *requests).collect();
    assert_eq!(per_operation, vec![100, 100, 100], "{:?}", report.by_operation);
    let by_operation_total: u64 = report.by_operation.values().map(|(_, counts)| counts.total()).sum();
    assert_eq!(by_operation_total, report.injected.total(), "{:?}", report.by_operation);
    assert_eq!(
        aws.calls().values().sum::<u64>(),
        300,
        "faulted requests are counted; reset ones too, and botocore did not retry"
    );

    // The same seed and the same requests: the same faults, in the same places.
    aws.start_storm(&Storm::new(0.3, 7));
    assert_eq!(aws.boto3(&script), first, "a seed repeats its storm");
    aws.start_storm(&Storm::new(0.3, 8));
    assert_ne!(aws.boto3(&script), first, "another seed, another storm");
    assert_eq!(aws.stop_storm().requests, 300);
}

#[test]
fn storm_limited_to_services_leaves_the_others_and_the_facilities_alone() {
    // Permissive: the launcher's storm, before any authorization.
    let aws = LocalAws::start_permissive();
    aws.start_storm(&Storm::new(1.0, 1).modes(&[StormMode::Throttling]).services(&["iam"]));
    let result = aws.boto3(&format!(
        r#"{OUTCOME}
iam, codepipeline = client("iam", attempts=1), client("codepipeline", attempts=1)
print(json.dumps({{
    "iam": [outcome(lambda: iam.list_roles()) for _ in range(5)],
    "codepipeline": [outcome(lambda: codepipeline.list_pipelines()) for _ in range(5)],
}}))
"#
    ));
    assert_eq!(result["iam"], serde_json::json!(vec!["Throttling 400"; 5]), "{result}");
    assert_eq!(result["codepipeline"], serde_json::json!(vec!["ok"; 5]), "{result}");
    // Even at rate 1 the facilities answer (these very calls prove it).
    let report = aws.storm_report();
    assert_eq!((report.requests, report.injected.throttling), (5, 5), "{report:?}");
    assert_eq!(report.services, vec!["iam".to_owned()]);
    assert_eq!(report.by_operation.keys().collect::<Vec<_>>(), vec!["iam:ListRoles"]);
}

#[test]
fn storm_reset_is_a_tcp_reset_before_any_answer_byte() {
    // Permissive: the launcher's storm, before any authorization.
    let aws = LocalAws::start_permissive();
    aws.start_storm(&Storm::new(1.0, 1).modes(&[StormMode::Reset]));

    // A raw client: the read fails with ECONNRESET, not end-of-file (a clean close).
    let mut stream = TcpStream::connect(("127.0.0.1", aws.port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n").expect("send");
    let mut answer = Vec::new();
    let error = stream.read_to_end(&mut answer).expect_err("the connection is reset, not closed");
    assert_eq!(error.kind(), ErrorKind::ConnectionReset, "{error}");
    assert!(answer.is_empty(), "no byte of an answer: {:?}", String::from_utf8_lossy(&answer));

    // botocore sees a reset too, and moto never saw the request.
    let result = aws.boto3(&format!(
        r#"{OUTCOME}
s3 = client("s3", attempts=1)
print(json.dumps(outcome(lambda: s3.create_bucket(
    Bucket="bokbasen-reset", CreateBucketConfiguration={{"LocationConstraint": "eu-north-1"}}))))
"#
    ));
    assert_eq!(result, "reset", "{result}");
    assert_eq!(aws.stop_storm().injected, StormCounts { reset: 2, ..StormCounts::default() });
    let buckets = aws.boto3(r#"print(json.dumps([b["Name"] for b in client("s3").list_buckets()["Buckets"]]))"#);
    assert_eq!(buckets, serde_json::json!([]), "the reset create never reached moto");
}

const BUCKET_SETUP: &str = r#"
s3 = client("s3", attempts=1)
s3.create_bucket(Bucket="bokbasen-held", CreateBucketConfiguration={"LocationConstraint": "eu-north-1"})
print(json.dumps({}))
"#;

const LIST_KEYS: &str = r#"
print(json.dumps([o["Key"] for o in client("s3").list_objects_v2(Bucket="bokbasen-held").get("Contents", [])]))
"#;

#[test]
fn hold_then_drop_keeps_the_request_from_moto_while_others_answer() {
    // Permissive: the launcher's holds, before any authorization.
    let aws = LocalAws::start_permissive();
    aws.boto3(BUCKET_SETUP);
    // The second mutating request from now on: the first put goes through.
    aws.hold(2, RequestFilter::Mutating, HoldRelease::Drop);
    std::thread::scope(|scope| {
        let client = scope.spawn(|| {
            aws.boto3(&format!(
                r#"{OUTCOME}
s3 = client("s3", attempts=1)
print(json.dumps([
    outcome(lambda: s3.put_object(Bucket="bokbasen-held", Key="first", Body=b"1")),
    outcome(lambda: s3.put_object(Bucket="bokbasen-held", Key="held", Body=b"2")),
]))
"#
            ))
        });
        let held = aws.wait_until_held(Duration::from_secs(30));
        assert_eq!(held, "s3:PUT /bokbasen-held/held");
        // Meanwhile reads and later mutating requests are answered.
        let meanwhile = aws.boto3(&format!(
            r#"{OUTCOME}
print(json.dumps({{
    "keys": [o["Key"] for o in client("s3").list_objects_v2(Bucket="bokbasen-held").get("Contents", [])],
    "roles": outcome(lambda: client("iam", attempts=1).list_roles()),
    "put": outcome(lambda: client("ssm", attempts=1).put_parameter(Name="/config/a", Value="1", Type="String")),
}}))
"#
        ));
        assert_eq!(meanwhile, serde_json::json!({"keys": ["first"], "roles": "ok", "put": "ok"}), "{meanwhile}");
        let state = aws.hold_state();
        assert!(state.held && state.seen == 2, "{state:?}");

        assert_eq!(aws.release_hold().as_deref(), Some(held.as_str()));
        let outcomes = client.join().expect("the client script");
        assert_eq!(outcomes, serde_json::json!(["ok", "reset"]), "drop resets the held connection");
    });
    assert_eq!(aws.boto3(LIST_KEYS), serde_json::json!(["first"]), "the dropped put never reached moto");
    let state = aws.hold_state();
    assert!(!state.held && !state.armed && !state.timed_out, "{state:?}");
}

#[test]
fn hold_then_apply_lets_the_held_request_reach_moto() {
    // Permissive: the launcher's holds, before any authorization.
    let aws = LocalAws::start_permissive();
    aws.boto3(BUCKET_SETUP);
    aws.hold(1, "s3:PUT /bokbasen-held/held", HoldRelease::Apply);
    std::thread::scope(|scope| {
        let client = scope.spawn(|| {
            aws.boto3(&format!(
                r#"{OUTCOME}
s3 = client("s3", attempts=1)
print(json.dumps(outcome(lambda: s3.put_object(Bucket="bokbasen-held", Key="held", Body=b"2"))))
"#
            ))
        });
        assert_eq!(aws.wait_until_held(Duration::from_secs(30)), "s3:PUT /bokbasen-held/held");
        assert_eq!(aws.boto3(LIST_KEYS), serde_json::json!([]), "held: moto has not seen the put yet");
        aws.release_hold();
        assert_eq!(client.join().expect("the client script"), "ok", "apply: moto answers the client");
    });
    assert_eq!(aws.boto3(LIST_KEYS), serde_json::json!(["held"]), "the applied put reached moto");
}
