//! `bokbasen_service_pipeline` end to end, for every kind, against the local
//! AWS endpoint with deploy roles in three other accounts: create, an empty
//! second plan, an in-place update, a part deleted out of band re-created,
//! drift made out of band shown on the attribute it changed, import by name
//! with an empty plan after it, replacement on rename, and a destroy that
//! leaves nothing behind.

use bokbasen_e2e::{terraform_binaries, LocalAws, TerraformBinary, WorkDir};
use serde_json::Value;

const KINDS: [&str; 5] = ["fargate", "lambda", "batch", "api_gateway", "static_site"];

/// The service each kind's example releases.
fn service_name(kind: &str) -> &'static str {
    match kind {
        "fargate" => "ebook-api",
        "lambda" => "isbn-lookup",
        "batch" => "onix-import",
        "api_gateway" => "catalogue-api",
        _ => "learning-portal",
    }
}

/// The kind's runnable example, `examples/service-pipeline/<kind>/main.tf`:
/// what users copy is what the suite applies.
fn configuration(kind: &str) -> String {
    let path =
        format!("{}/../examples/service-pipeline/{}/main.tf", env!("CARGO_MANIFEST_DIR"), kind.replace('_', "-"));
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("reading {path}: {err}"))
}

/// What exists in every account: pipelines, projects, bokbasen roles, ECR repositories.
fn inventory(aws: &LocalAws) -> Value {
    aws.boto3(
        r#"
result = {}
for account in ["123456789012", "222222222222", "333333333333", "444444444444"]:
    session = None if account == "123456789012" else assume(account)
    result[account] = {
        "pipelines": sorted(p["name"] for p in client("codepipeline", session).list_pipelines()["pipelines"]),
        "projects": sorted(client("codebuild", session).list_projects()["projects"]),
        "roles": sorted(r["RoleName"] for r in client("iam", session).list_roles(PathPrefix="/bokbasen/")["Roles"]),
        "repositories": sorted(r["repositoryName"] for r in client("ecr", session).describe_repositories()["repositories"]),
    }
print(json.dumps(result))
"#,
    )
}

fn run_kind(tf: &TerraformBinary, kind: &str) {
    let aws = LocalAws::start();
    let work = WorkDir::new(tf, &[("main.tf", &configuration(kind))]);
    let endpoint = format!("endpoint_url={}", aws.endpoint());
    let with = |args: &[&str], extra: &[&str]| -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(["-no-color".to_string(), "-var".to_string(), endpoint.clone()]);
        for var in extra {
            all.extend(["-var".to_string(), var.to_string()]);
        }
        all
    };
    let run = |args: &[&str], extra: &[&str]| {
        let args = with(args, extra);
        work.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let name = service_name(kind);
    let context = |what: &str| format!("Terraform {} / {kind}: {what}", tf.version);
    work.init();

    // Create: the shape is shown at plan time.
    let plan = run(&["plan"], &[]);
    assert_eq!(plan.code, 0, "{}\n{plan}", context("plan"));
    assert!(plan.stdout.contains("\"SmokeTest\""), "{}: stages are known at plan\n{plan}", context("plan"));
    run(&["apply", "-auto-approve"], &[]).success();
    let outputs = work.outputs();
    let stages: Vec<&str> = outputs["stages"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(stages, ["Source", "Build", "test", "stage", "production"], "{}", context("stages"));
    let version = outputs["pipeline_version"].as_i64().unwrap();
    let created = inventory(&aws);
    assert_eq!(created["123456789012"]["pipelines"], serde_json::json!([name]), "{}", context("created"));
    let smoke_test = format!("{name}-test-smoke-test");
    assert!(created["222222222222"]["projects"].as_array().unwrap().iter().any(|p| p == &smoke_test));
    assert_eq!(
        created["333333333333"]["roles"],
        serde_json::json!([format!("{name}-stage-cb")]),
        "{}",
        context("roles")
    );

    // Nothing changed: nothing planned.
    let replan = run(&["plan", "-detailed-exitcode"], &[]);
    assert_eq!(replan.code, 0, "{}\n{replan}", context("second plan"));

    // In place: a new branch updates the pipeline.
    let update = run(&["plan", "-detailed-exitcode"], &["branch=release"]);
    assert_eq!(update.code, 2, "{}\n{update}", context("update plan"));
    assert!(update.stdout.contains("updated in-place"), "{}\n{update}", context("update plan"));
    run(&["apply", "-auto-approve"], &["branch=release"]).success();
    assert!(work.outputs()["pipeline_version"].as_i64().unwrap() > version, "{}", context("version grows"));
    let branch = aws.boto3(&format!(
        r#"
pipeline = client("codepipeline").get_pipeline(name="{name}")["pipeline"]
print(json.dumps(pipeline["stages"][0]["actions"][0]["configuration"]["BranchName"]))
"#
    ));
    assert_eq!(branch, "release", "{}", context("branch updated"));

    // A project deleted out of band is planned again and re-created.
    aws.boto3(&format!(
        r#"
client("codebuild", assume("333333333333")).delete_project(name="{name}-stage-smoke-test")
print("{{}}")
"#
    ));
    let drift = run(&["plan", "-detailed-exitcode"], &["branch=release"]);
    assert_eq!(drift.code, 2, "{}\n{drift}", context("drift plan"));
    run(&["apply", "-auto-approve"], &["branch=release"]).success();
    assert!(inventory(&aws)["333333333333"]["projects"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p == &format!("{name}-stage-smoke-test")));
    let settled = run(&["plan", "-detailed-exitcode"], &["branch=release"]);
    assert_eq!(settled.code, 0, "{}\n{settled}", context("plan after repair"));

    // Drift made out of band, in the pipeline account and in the Test
    // account, shows on the attributes it changed; the apply puts it back.
    aws.boto3(&format!(
        r#"
codepipeline = client("codepipeline")
pipeline = codepipeline.get_pipeline(name="{name}")["pipeline"]
pipeline["stages"][0]["actions"][0]["configuration"]["BranchName"] = "hotfix"
codepipeline.update_pipeline(pipeline=pipeline)
codebuild = client("codebuild", assume("222222222222"))
project = codebuild.batch_get_projects(names=["{name}-test-smoke-test"])["projects"][0]
environment = project["environment"]
environment["environmentVariables"][0]["value"] = "/elsewhere/trigger"
codebuild.update_project(name=project["name"], environment=environment)
print("{{}}")
"#
    ));
    let drifted = run(&["plan", "-detailed-exitcode"], &["branch=release"]);
    assert_eq!(drifted.code, 2, "{}\n{drifted}", context("out-of-band drift"));
    for change in [
        r#"branch         = "hotfix" -> "release""#.to_string(),
        format!(r#""/elsewhere/trigger" -> "/config/{name}_test/runscope-trigger""#),
    ] {
        assert!(drifted.stdout.contains(&change), "{}: plan shows {change}\n{drifted}", context("drift"));
    }
    run(&["apply", "-auto-approve"], &["branch=release"]).success();
    let repaired = run(&["plan", "-detailed-exitcode"], &["branch=release"]);
    assert_eq!(repaired.code, 0, "{}\n{repaired}", context("plan after drift repaired"));

    // Import by name, from AWS alone: the next plan is empty.
    work.run(&["state", "rm", "bokbasen_service_pipeline.service"]).success();
    let import = work.run(&[
        "import",
        "-no-color",
        "-var",
        &endpoint,
        "-var",
        "branch=release",
        "bokbasen_service_pipeline.service",
        name,
    ]);
    import.success();
    // Import leaves the outputs to the next apply, so judge the plan by its resource changes.
    run(&["plan", "-out=imported.tfplan"], &["branch=release"]).success();
    let plan: Value =
        serde_json::from_str(&work.run(&["show", "-json", "imported.tfplan"]).success().stdout).expect("plan as JSON");
    let changes = plan["resource_changes"].as_array().expect("resource changes");
    assert_eq!(changes.len(), 1, "{}", context("plan after import"));
    assert_eq!(
        changes[0]["change"]["actions"],
        serde_json::json!(["no-op"]),
        "{}: {plan}",
        context("plan after import")
    );

    // Rename: replaced, and nothing of the old name stays.
    let renamed_to = format!("{name}-v2");
    let renamed_var = format!("name={renamed_to}");
    let rename = run(&["plan"], &["branch=release", &renamed_var]);
    assert!(rename.stdout.contains("must be replaced"), "{}\n{rename}", context("rename plan"));
    run(&["apply", "-auto-approve"], &["branch=release", &renamed_var]).success();
    let renamed = inventory(&aws);
    assert_eq!(renamed["123456789012"]["pipelines"], serde_json::json!([renamed_to]), "{}", context("renamed"));
    let names: Vec<&str> = renamed
        .as_object()
        .unwrap()
        .values()
        .flat_map(|parts| parts.as_object().unwrap().values())
        .flat_map(|names| names.as_array().unwrap().iter().map(|n| n.as_str().unwrap()))
        .collect();
    assert!(names.iter().all(|n| n.starts_with(&renamed_to)), "{}: old parts remain: {renamed}", context("renamed"));

    // Destroy leaves nothing in any account.
    run(&["destroy", "-auto-approve"], &["branch=release", &renamed_var]).success();
    let left = inventory(&aws);
    for (account, parts) in left.as_object().unwrap() {
        for (part, names) in parts.as_object().unwrap() {
            assert_eq!(names, &serde_json::json!([]), "{}: {part} left in {account}", context("destroy"));
        }
    }
}

/// Every Terraform the suite knows, one kind per test so kinds run in parallel.
fn lifecycle(kind: &str) {
    assert!(KINDS.contains(&kind));
    for tf in terraform_binaries() {
        run_kind(&tf, kind);
    }
}

#[test]
fn fargate_lifecycle() {
    lifecycle("fargate");
}

#[test]
fn lambda_lifecycle() {
    lifecycle("lambda");
}

#[test]
fn batch_lifecycle() {
    lifecycle("batch");
}

#[test]
fn api_gateway_lifecycle() {
    lifecycle("api_gateway");
}

#[test]
fn static_site_lifecycle() {
    lifecycle("static_site");
}

/// A create refused half way (the pipeline call) removes what it made; when
/// the clean-up is refused too, what remains is completed by the next apply.
#[test]
fn a_create_failing_half_way_leaves_no_orphans() {
    let tf = terraform_binaries().remove(0);
    let aws = LocalAws::start();
    let work = WorkDir::new(&tf, &[("main.tf", &configuration("fargate"))]);
    let endpoint = format!("endpoint_url={}", aws.endpoint());
    let apply = || work.run(&["apply", "-auto-approve", "-no-color", "-var", &endpoint]);
    let nothing = |what: &str| {
        let left = inventory(&aws);
        for (account, parts) in left.as_object().unwrap() {
            for (part, names) in parts.as_object().unwrap() {
                assert_eq!(names, &serde_json::json!([]), "{what}: {part} left in {account}");
            }
        }
    };
    work.init();

    aws.inject_fault("codepipeline:CreatePipeline", 400, "ValidationException", "refused for the test", None);
    let failed = apply();
    assert_ne!(failed.code, 0, "{failed}");
    // Terraform wraps diagnostics; compare with single spaces.
    let said = failed.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(said.contains("ValidationException: refused for the test"), "the cause is shown\n{failed}");
    assert!(!failed.stderr.contains("SdkBody"), "no raw response dump\n{failed}");
    assert!(failed.stderr.contains("removed again"), "{failed}");
    nothing("after the refused create");
    assert_eq!(work.run(&["state", "list"]).stdout.trim(), "", "nothing in state");

    // The clean-up is refused once as well: parts remain, and the error says so.
    aws.inject_fault("codebuild:DeleteProject", 400, "AccessDeniedException", "also refused", Some(1));
    let failed = apply();
    assert!(failed.stderr.contains("may remain"), "{failed}");
    let remaining = inventory(&aws);
    assert_ne!(remaining["123456789012"]["roles"], serde_json::json!([]), "something was left: {remaining}");

    // The next apply completes it; destroy then removes everything.
    aws.clear_faults();
    apply().success();
    assert_eq!(inventory(&aws)["123456789012"]["pipelines"], serde_json::json!(["ebook-api"]));
    let replan = work.run(&["plan", "-detailed-exitcode", "-no-color", "-var", &endpoint]);
    assert_eq!(replan.code, 0, "{replan}");
    work.run(&["destroy", "-auto-approve", "-no-color", "-var", &endpoint]).success();
    nothing("after destroy");

    // Importing a pipeline that does not exist is refused and writes no state.
    let missing =
        work.run(&["import", "-no-color", "-var", &endpoint, "bokbasen_service_pipeline.service", "no-such-service"]);
    assert_ne!(missing.code, 0, "{missing}");
    assert!(missing.stderr.contains("non-existent remote object"), "{missing}");
    assert_eq!(work.run(&["state", "list"]).stdout.trim(), "", "nothing in state");
}
