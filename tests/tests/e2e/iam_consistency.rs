//! IAM's eventual consistency, end to end: the errors AWS answers while a
//! role just written has not reached the service (CodeBuild, CodePipeline,
//! STS) are injected into the local endpoint a few times, and `terraform
//! apply` of a service pipeline still succeeds, each call made once more per
//! refusal; an unrelated error with the same code fails the apply at once.
//!
//! The provider waits about 1, 2, 4 s (each jittered down to half) between
//! attempts, so every refusal injected here costs the suite a second or two.
//!
//! The endpoint enforces IAM as AWS does, Terraform signing as the caller
//! holding the documented least policy: the two deploy targets are applied
//! first, as their accounts' administrators, so that their deployer roles
//! exist and trust the caller before any error is injected.

use std::collections::BTreeMap;
use std::time::Instant;

use bokbasen_e2e::{deploy_targets_configuration, terraform_binaries, LocalAws, TerraformRun};

/// A lambda service released to two environments, each in its own account
/// through its deploy role (so the provider assumes two roles).
const SERVICE: &str = "isbn-lookup";
const ENVIRONMENTS: u64 = 2;
const CONFIGURATION: &str = concat!(
    bokbasen_e2e::terraform_settings!(),
    r#"
variable "branch" {
  type    = string
  default = "main"
}

provider "bokbasen" {
  region       = "eu-north-1"
  endpoint_url = var.endpoint_url
}

resource "bokbasen_service_pipeline" "service" {
  name             = "isbn-lookup"
  kind             = "lambda"
  artifact_bucket  = "bokbasen-pipeline-artifacts"
  artifact_key_arn = "arn:aws:kms:eu-north-1:123456789012:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"

  source {
    connection_arn = "arn:aws:codestar-connections:eu-north-1:123456789012:connection/0a1b2c3d"
    repository     = "bokbasen/isbn-lookup"
    branch         = var.branch
  }

  environment {
    name            = "test"
    account_id      = "222222222222"
    deploy_role_arn = "arn:aws:iam::222222222222:role/bokbasen/bokbasen-deployer-test"
    approval        = false
    smoke_test      = { runscope_trigger_parameter = "/config/isbn-lookup_test/runscope-trigger" }
    target          = { function = "isbn-lookup-test" }
  }

  environment {
    name            = "stage"
    account_id      = "333333333333"
    deploy_role_arn = "arn:aws:iam::333333333333:role/bokbasen/bokbasen-deployer-stage"
    approval        = false
    target          = { function = "isbn-lookup-stage" }
  }
}
"#
);

const CODEBUILD_REFUSAL: &str =
    "CodeBuild is not authorized to perform: sts:AssumeRole on arn:aws:iam::123456789012:role/bokbasen/isbn-lookup-build";
const CODEPIPELINE_REFUSAL: &str =
    "CodePipeline is not authorized to perform AssumeRole on role arn:aws:iam::123456789012:role/bokbasen/isbn-lookup-pipeline";
const STS_REFUSAL: &str =
    "User: arn:aws:iam::123456789012:user/terraform is not authorized to perform: sts:AssumeRole \
                           on resource: arn:aws:iam::222222222222:role/bokbasen/bokbasen-deployer-test";

/// How many CodeBuild projects exist, in every account.
fn projects(aws: &LocalAws) -> u64 {
    aws.boto3(
        r#"
count = 0
for account in ["123456789012", "222222222222", "333333333333", "444444444444"]:
    session = None if account == "123456789012" else assume(account)
    count += len(client("codebuild", session).list_projects()["projects"])
print(json.dumps(count))
"#,
    )
    .as_u64()
    .expect("a count")
}

fn count(calls: &BTreeMap<String, u64>, operation: &str) -> u64 {
    calls.get(operation).copied().unwrap_or(0)
}

#[test]
fn iam_propagation_errors_are_waited_out_and_others_are_not() {
    let tf = terraform_binaries().remove(0);
    let aws = LocalAws::start();
    let endpoint = format!("endpoint_url={}", aws.endpoint());
    let targets =
        aws.workdir(&tf, &[("main.tf", &deploy_targets_configuration(&["lambda"], &bokbasen_e2e::ENVIRONMENTS[..2]))]);
    targets.init();
    targets.run(&["apply", "-auto-approve", "-no-color", "-var", &endpoint]).success();
    let work = aws.workdir(&tf, &[("main.tf", CONFIGURATION)]);
    let apply = |branch: &str| -> (TerraformRun, BTreeMap<String, u64>) {
        aws.reset_calls();
        let started = Instant::now();
        let branch = format!("branch={branch}");
        // With the provider's debug log on stderr, to see the retries.
        let run = work.run_with_env(
            &["apply", "-auto-approve", "-no-color", "-var", &endpoint, "-var", &branch],
            &[("TF_LOG_PROVIDER", "DEBUG")],
        );
        eprintln!("apply with {branch}: {:.1} s", started.elapsed().as_secs_f64());
        (run, aws.calls())
    };
    work.init();

    // Create, with every role just made: CodeBuild refuses the first project
    // twice, CodePipeline the pipeline twice, STS the first deploy role twice.
    aws.inject_fault("codebuild:CreateProject", 400, "InvalidInputException", CODEBUILD_REFUSAL, Some(2));
    aws.inject_fault("codepipeline:CreatePipeline", 400, "InvalidStructureException", CODEPIPELINE_REFUSAL, Some(2));
    aws.inject_fault("sts:AssumeRole", 403, "AccessDenied", STS_REFUSAL, Some(2));
    let (created, calls) = apply("main");
    let created = created.success();
    let made = projects(&aws);
    assert!(made > 1, "projects in several accounts: {made}\n{created}");
    assert_eq!(
        count(&calls, "codebuild:CreateProject"),
        made + 2,
        "one create per project, the first three times: {calls:?}"
    );
    assert_eq!(count(&calls, "codepipeline:CreatePipeline"), 3, "{calls:?}");
    // A create assumes each environment's deploy role once.
    assert_eq!(count(&calls, "sts:AssumeRole"), ENVIRONMENTS + 2, "{calls:?}");
    // Each retry is logged with the call and the attempt, never with credentials.
    let retries: Vec<&str> = created.stderr.lines().filter(|l| l.contains("not yet visible")).collect();
    for operation in ["codebuild:CreateProject", "codepipeline:CreatePipeline", "sts:AssumeRole"] {
        assert_eq!(retries.iter().filter(|l| l.contains(operation)).count(), 2, "{operation}: {retries:#?}");
    }
    assert!(retries.iter().any(|l| l.contains("attempt=2")), "{retries:#?}");
    assert!(!created.stderr.contains("EXAMPLEKEY"), "no secret access key in the log");
    let pipelines =
        aws.boto3(r#"print(json.dumps([p["name"] for p in client("codepipeline").list_pipelines()["pipelines"]]))"#);
    assert_eq!(pipelines, serde_json::json!([SERVICE]));

    // Update: every project and the pipeline are rewritten; UpdateProject is
    // refused three times, UpdatePipeline twice.
    aws.inject_fault("codebuild:UpdateProject", 400, "InvalidInputException", CODEBUILD_REFUSAL, Some(3));
    aws.inject_fault("codepipeline:UpdatePipeline", 400, "InvalidStructureException", CODEPIPELINE_REFUSAL, Some(2));
    let (updated, calls) = apply("release");
    updated.success();
    assert_eq!(
        count(&calls, "codebuild:UpdateProject"),
        made + 3,
        "one update per project, the first four times: {calls:?}"
    );
    assert_eq!(count(&calls, "codepipeline:UpdatePipeline"), 3, "{calls:?}");
    let branch = aws.boto3(&format!(
        r#"
pipeline = client("codepipeline").get_pipeline(name="{SERVICE}")["pipeline"]
print(json.dumps(pipeline["stages"][0]["actions"][0]["configuration"]["BranchName"]))
"#
    ));
    assert_eq!(branch, "release");

    // The same code about something else is not waited for: one call, and the apply fails with it.
    aws.inject_fault("codebuild:UpdateProject", 400, "InvalidInputException", "Invalid project name", Some(1));
    let (refused, calls) = apply("hotfix");
    assert_ne!(refused.code, 0, "{refused}");
    assert_eq!(count(&calls, "codebuild:UpdateProject"), 1, "not retried: {calls:?}");
    let said = refused.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(said.contains("InvalidInputException: Invalid project name"), "the cause is shown\n{refused}");
}
