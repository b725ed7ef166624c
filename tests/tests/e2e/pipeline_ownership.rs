//! The service pipeline touches only what it made: objects with the names it
//! wants that are someone else's stop a create before anything changes,
//! with the way to hand them over; a create that fails half way removes
//! exactly what that attempt made, and what it took over from an
//! interrupted apply stays in state, tainted, until the next apply.
//!
//! A batch service (it has an ECR repository) released to one environment
//! account, whose deploy target is applied first; the endpoint enforces
//! IAM as AWS does.

use bokbasen_e2e::{deploy_targets_configuration, terraform_binaries, LocalAws, WorkDir, ENVIRONMENTS};
use serde_json::Value;

const SERVICE: &str = "isbn-batch";
const MARKER: &str = "bokbasen_service_pipeline/isbn-batch";

const CONFIGURATION: &str = concat!(
    bokbasen_e2e::terraform_settings!(),
    bokbasen_e2e::local_provider!(),
    r#"
resource "bokbasen_service_pipeline" "service" {
  name             = "isbn-batch"
  kind             = "batch"
  artifact_bucket  = "bokbasen-pipeline-artifacts"
  artifact_key_arn = "arn:aws:kms:eu-north-1:123456789012:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"

  source {
    connection_arn = "arn:aws:codestar-connections:eu-north-1:123456789012:connection/0a1b2c3d"
    repository     = "bokbasen/isbn-batch"
    branch         = "main"
  }

  environment {
    name            = "test"
    account_id      = "222222222222"
    deploy_role_arn = "arn:aws:iam::222222222222:role/bokbasen/bokbasen-deployer-test"
    target          = { job_queue = "books", job_definition = "isbn-batch" }
  }
}
"#
);

/// The endpoint with the test account's deploy target, and the service's
/// working directory, initialised.
fn organisation() -> (LocalAws, WorkDir, String) {
    let tf = terraform_binaries().remove(0);
    let aws = LocalAws::start();
    let endpoint = format!("endpoint_url={}", aws.endpoint());
    let targets = aws.workdir(&tf, &[("main.tf", &deploy_targets_configuration(&["batch"], &ENVIRONMENTS[..1]))]);
    targets.init();
    targets.run(&["apply", "-auto-approve", "-no-color", "-var", &endpoint]).success();
    let work = aws.workdir(&tf, &[("main.tf", CONFIGURATION)]);
    work.init();
    (aws, work, endpoint)
}

/// Every object of interest in the tooling and test accounts, with what a
/// change would alter: roles (trust, inline policies, tags), repositories
/// (images, tags, lifecycle policy), projects and pipelines (tags).
fn inventory(aws: &LocalAws) -> Value {
    aws.boto3(
        r#"
def tags(listed, key="Key", value="Value"):
    return {t[key]: t[value] for t in listed}
out = {}
for account in ["123456789012", "222222222222"]:
    session = None if account == "123456789012" else assume(account)
    iam, ecr = client("iam", session), client("ecr", session)
    roles = {}
    for role in iam.list_roles(PathPrefix="/bokbasen/")["Roles"]:
        name = role["RoleName"]
        found = iam.get_role(RoleName=name)["Role"]
        policies = {p: iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
                    for p in iam.list_role_policies(RoleName=name)["PolicyNames"]}
        roles[name] = {"trust": found["AssumeRolePolicyDocument"], "policies": policies, "tags": tags(found.get("Tags", []))}
    repositories = {}
    for repo in ecr.describe_repositories()["repositories"]:
        name = repo["repositoryName"]
        lifecycle = error_code(lambda: ecr.get_lifecycle_policy(repositoryName=name))
        repositories[name] = {
            "images": len(ecr.list_images(repositoryName=name)["imageIds"]),
            "tags": tags(ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]),
            "lifecycle": lifecycle,
        }
    codebuild = client("codebuild", session)
    names = codebuild.list_projects()["projects"]
    projects = {p["name"]: tags(p.get("tags") or [], "key", "value")
                for p in (codebuild.batch_get_projects(names=names)["projects"] if names else [])}
    codepipeline = client("codepipeline", session)
    pipelines = [p["name"] for p in codepipeline.list_pipelines()["pipelines"]]
    out[account] = {"roles": roles, "repositories": repositories, "projects": projects, "pipelines": pipelines}
print(json.dumps(out, default=str))
"#,
    )
}

/// Only the deploy target's own roles, as `organisation` leaves them.
fn without_deploy_target(mut inventory: Value) -> Value {
    inventory["222222222222"]["roles"].as_object_mut().unwrap().retain(|name, _| !name.starts_with("bokbasen-"));
    inventory
}

/// An error message with its line breaks and Terraform's box undone.
fn said(stderr: &str) -> String {
    stderr.replace('│', " ").split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn a_create_finding_others_objects_changes_nothing_and_names_the_way_to_hand_them_over() {
    let (aws, work, endpoint) = organisation();
    // A team's own repository with two images, and a role made by hand, under the names the service wants.
    aws.boto3(
        r#"
ecr = client("ecr")
ecr.create_repository(repositoryName="isbn-batch", tags=[{"Key": "team", "Value": "books"}])
for tag in ["1.0.0", "1.1.0"]:
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "config": {"digest": "sha256:" + tag.replace(".", "") * 20 + "0" * 4, "size": 1, "mediaType": "application/vnd.docker.container.image.v1+json"}, "layers": []})
    ecr.put_image(repositoryName="isbn-batch", imageManifest=manifest, imageTag=tag)
iam = client("iam")
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
iam.create_role(RoleName="isbn-batch-build", Path="/bokbasen/", AssumeRolePolicyDocument=json.dumps(trust), Tags=[{"Key": "team", "Value": "books"}])
iam.put_role_policy(RoleName="isbn-batch-build", PolicyName="bokbasen", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))
print("{}")
"#,
    );
    let before = inventory(&aws);
    assert_eq!(before["123456789012"]["repositories"]["isbn-batch"]["images"], 2);

    let refused = work.run(&["apply", "-auto-approve", "-no-color", "-var", &endpoint]);
    assert_ne!(refused.code, 0, "{refused}");
    let message = said(&refused.stderr);
    for expected in [
        "The service pipeline's names are taken",
        "ECR repository isbn-batch in account 123456789012 has no bokbasen:owner tag",
        "IAM role isbn-batch-build in account 123456789012 has no bokbasen:owner tag",
        "Nothing of them was changed, and nothing was created.",
        "terraform import ADDRESS isbn-batch",
        "tagging it `bokbasen:owner = bokbasen_service_pipeline/isbn-batch`",
    ] {
        assert!(message.contains(expected), "{expected:?} missing from:\n{refused}");
    }
    assert_eq!(inventory(&aws), before, "nothing created, nothing of theirs changed");
    let state = work.run(&["state", "list"]);
    assert!(!state.stdout.contains("bokbasen_service_pipeline"), "nothing recorded: {state}");

    // Handed over by their owner: the next apply takes them over and keeps the images.
    aws.boto3(&format!(
        r#"
ecr = client("ecr")
arn = ecr.describe_repositories(repositoryNames=["isbn-batch"])["repositories"][0]["repositoryArn"]
ecr.tag_resource(resourceArn=arn, tags=[{{"Key": "bokbasen:owner", "Value": "{MARKER}"}}])
client("iam").tag_role(RoleName="isbn-batch-build", Tags=[{{"Key": "bokbasen:owner", "Value": "{MARKER}"}}])
print("{{}}")
"#
    ));
    work.run(&["apply", "-auto-approve", "-no-color", "-var", &endpoint]).success();
    let after = inventory(&aws);
    let repository = &after["123456789012"]["repositories"]["isbn-batch"];
    assert_eq!(repository["images"], 2, "the images are kept: {repository}");
    assert_eq!(repository["tags"]["bokbasen:owner"], MARKER, "{repository}");
    assert!(repository["lifecycle"].is_null(), "the service's lifecycle policy is set now: {repository}");
    let role = &after["123456789012"]["roles"]["isbn-batch-build"];
    let policy_before = &before["123456789012"]["roles"]["isbn-batch-build"]["policies"]["bokbasen"];
    assert_ne!(&role["policies"]["bokbasen"], policy_before, "the policy is the service's once handed over: {role}");
    assert_eq!(after["123456789012"]["pipelines"], serde_json::json!([SERVICE]));
}

#[test]
fn a_failed_create_removes_exactly_what_it_made_and_keeps_what_it_took_over() {
    let (aws, work, endpoint) = organisation();
    // Another service's role, and a role an interrupted apply of this service left, marked as its own.
    aws.boto3(&format!(
        r#"
iam = client("iam")
trust = {{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"Service": "codepipeline.amazonaws.com"}}, "Action": "sts:AssumeRole"}}]}}
iam.create_role(RoleName="other-api-build", Path="/bokbasen/", AssumeRolePolicyDocument=json.dumps(trust), Tags=[{{"Key": "bokbasen:owner", "Value": "bokbasen_service_pipeline/other-api"}}])
iam.create_role(RoleName="isbn-batch-pipeline", Path="/bokbasen/", AssumeRolePolicyDocument=json.dumps(trust), Tags=[{{"Key": "bokbasen:owner", "Value": "{MARKER}"}}])
print("{{}}")
"#
    ));
    let before = without_deploy_target(inventory(&aws));

    // The last step fails, not retried by the SDK.
    aws.inject_fault(
        "codepipeline:CreatePipeline",
        400,
        "ValidationException",
        "injected: the last step fails",
        Some(1),
    );
    let failed = work.run(&["apply", "-auto-approve", "-no-color", "-var", &endpoint]);
    assert_ne!(failed.code, 0, "{failed}");
    let message = said(&failed.stderr);
    assert!(message.contains("injected: the last step fails"), "{failed}");
    assert!(message.contains("Everything this attempt created was removed again"), "{failed}");

    let left = without_deploy_target(inventory(&aws));
    let roles = |inventory: &Value, account: &str| -> Vec<String> {
        inventory[account]["roles"].as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(
        roles(&left, "123456789012"),
        roles(&before, "123456789012"),
        "the build role it made is gone, the rest kept"
    );
    assert_eq!(left["123456789012"]["roles"]["other-api-build"], before["123456789012"]["roles"]["other-api-build"]);
    assert!(roles(&left, "222222222222").is_empty(), "the environment's role it made is gone: {left}");
    assert_eq!(left["123456789012"]["repositories"], serde_json::json!({}), "{left}");
    assert_eq!(left["123456789012"]["projects"], serde_json::json!({}), "{left}");
    assert_eq!(left["222222222222"]["projects"], serde_json::json!({}), "{left}");

    // What it took over is recorded, tainted, with exactly what exists.
    let shown: Value = serde_json::from_str(&work.run(&["show", "-json"]).success().stdout).unwrap();
    let resource = &shown["values"]["root_module"]["resources"][0];
    assert_eq!(resource["tainted"], true, "{resource}");
    assert_eq!(resource["values"]["arn"], "", "no pipeline was made: {resource}");
    let listed = resource["values"]["role_arns"].as_object().unwrap();
    assert_eq!(listed.keys().collect::<Vec<_>>(), ["pipeline"], "{resource}");
    assert_eq!(resource["values"]["codebuild_projects"], serde_json::json!({}), "{resource}");

    // The next apply replaces it and converges; the other service's role is untouched.
    work.run(&["apply", "-auto-approve", "-no-color", "-var", &endpoint]).success();
    let plan = work.run(&["plan", "-detailed-exitcode", "-no-color", "-var", &endpoint]);
    assert_eq!(plan.code, 0, "no changes after the rerun: {plan}");
    let done = without_deploy_target(inventory(&aws));
    assert_eq!(done["123456789012"]["roles"]["other-api-build"], before["123456789012"]["roles"]["other-api-build"]);
    for (name, role) in done["123456789012"]["roles"].as_object().unwrap() {
        if name.starts_with("isbn-batch") {
            assert_eq!(role["tags"]["bokbasen:owner"], MARKER, "{name} is marked");
        }
    }
    assert_eq!(done["123456789012"]["pipelines"], serde_json::json!([SERVICE]));
}
