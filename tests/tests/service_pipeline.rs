//! `bokbasen_service_pipeline` end to end, for every kind, against the local
//! AWS endpoint enforcing IAM: each kind's example builds the organisation's
//! whole side in one apply (the artifact store in the tooling account, a
//! deploy target in each of three environment accounts through
//! `OrganizationAccountAccessRole`, the pipeline), signed as the caller
//! holding exactly the documented least policy. Then: the documents a
//! release depends on are checked in AWS, an empty second plan, an in-place
//! update, a part deleted out of band re-created, drift made out of band
//! shown on the attribute it changed, import by name with an empty plan
//! after it, replacement on rename, and a destroy that leaves nothing in any
//! account. A state written by provider 0.1.0 upgrades. Any request the
//! endpoint refuses fails the test, naming action, principal and resource.

use bokbasen_e2e::local_aws::{CALLER_USER, TOOLING_ACCOUNT};
use bokbasen_e2e::{terraform_binaries, LocalAws, TerraformBinary, TerraformRun, WorkDir};
use serde_json::{json, Value};

const KINDS: [&str; 5] = ["fargate", "lambda", "batch", "api_gateway", "static_site"];
const ENVIRONMENTS: [(&str, &str); 3] =
    [("test", "222222222222"), ("stage", "333333333333"), ("production", "444444444444")];
const BUCKET: &str = "bokbasen-pipeline-artifacts";

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

/// What exists in every account: pipelines, projects, bokbasen roles, ECR
/// repositories; in the tooling account also buckets and the customer KMS
/// keys with their state.
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
tooling = result["123456789012"]
tooling["buckets"] = sorted(b["Name"] for b in client("s3").list_buckets().get("Buckets", []))
kms = client("kms")
keys = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]]
tooling["keys"] = sorted(k["KeyState"] for k in keys if k.get("KeyManager") == "CUSTOMER")
print(json.dumps(result))
"#,
    )
}

/// The documents a release depends on, as AWS holds them: the pipeline's
/// artifact store, every CodeBuild project's encryption key (in every
/// account), the ECR repository policy, the artifact bucket's and key's
/// policies, and each deployer role's trust.
fn documents(aws: &LocalAws, name: &str) -> Value {
    aws.boto3(&format!(
        r#"
NAME = "{name}"
def as_list(v):
    return [v] if isinstance(v, str) else list(v or [])
result = {{"projects": {{}}, "trust": {{}}}}
pipeline = client("codepipeline").get_pipeline(name=NAME)["pipeline"]
result["artifact_store"] = pipeline["artifactStore"]
for account in ["123456789012", "222222222222", "333333333333", "444444444444"]:
    codebuild = client("codebuild", None if account == "123456789012" else assume(account))
    names = codebuild.list_projects()["projects"]
    for project in codebuild.batch_get_projects(names=names)["projects"] if names else []:
        result["projects"][project["name"]] = project.get("encryptionKey")
    if account != "123456789012":
        iam = client("iam", assume(account))
        for role in iam.list_roles(PathPrefix="/bokbasen/")["Roles"]:
            if role["RoleName"].startswith("bokbasen-deployer-"):
                result["trust"][role["RoleName"]] = {{
                    s["Sid"]: {{
                        "principals": as_list(s["Principal"]["AWS"]),
                        "principal_arns": as_list(s.get("Condition", {{}}).get("ArnLike", {{}}).get("aws:PrincipalArn")),
                    }}
                    for s in role["AssumeRolePolicyDocument"]["Statement"]
                }}
try:
    policy = json.loads(client("ecr").get_repository_policy(repositoryName=NAME)["policyText"])
    result["repository_policy"] = [{{"principals": sorted(as_list(s["Principal"]["AWS"])), "actions": sorted(as_list(s["Action"]))}} for s in policy["Statement"]]
except ClientError as error:
    result["repository_policy"] = error.response["Error"]["Code"]
bucket_policy = json.loads(client("s3").get_bucket_policy(Bucket="{BUCKET}")["Policy"])
result["bucket_readers"] = sorted(set(p for s in bucket_policy["Statement"] if s["Effect"] == "Allow" for p in as_list(s["Principal"]["AWS"])))
kms = client("kms")
key_id = kms.describe_key(KeyId="alias/bokbasen/{BUCKET}")["KeyMetadata"]["KeyId"]
key_policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
result["key_decrypters"] = sorted(p for s in key_policy["Statement"] if "kms:Decrypt" in as_list(s["Action"]) for p in as_list(s["Principal"]["AWS"]))
print(json.dumps(result))
"#
    ))
}

/// Terraform in a working directory holding one example, signing as the
/// endpoint's caller; every run carries `-var endpoint_url=...`.
struct Session<'a> {
    work: WorkDir,
    endpoint: String,
    tf: &'a TerraformBinary,
    kind: &'a str,
}

impl Session<'_> {
    fn new<'a>(aws: &LocalAws, tf: &'a TerraformBinary, kind: &'a str) -> Session<'a> {
        let work = aws.workdir(tf, &[("main.tf", &configuration(kind))]);
        work.init();
        Session { work, endpoint: format!("endpoint_url={}", aws.endpoint()), tf, kind }
    }

    /// `terraform COMMAND -no-color -var endpoint_url=... -var VAR... ARGS`; a
    /// request the endpoint refused fails the test whatever the exit code.
    fn run(&self, args: &[&str], vars: &[&str]) -> TerraformRun {
        // Options go before an import's address and ID.
        let mut all: Vec<&str> = vec![args[0], "-no-color", "-var", &self.endpoint];
        for var in vars {
            all.extend(["-var", var]);
        }
        all.extend(&args[1..]);
        let run = self.work.run(&all);
        assert!(run.denials.is_empty(), "{}\n{run}", self.context("a request was refused"));
        run
    }

    fn context(&self, what: &str) -> String {
        format!("Terraform {} / {}: {what}", self.tf.version, self.kind)
    }
}

/// The names in an inventory's account `part`.
fn names<'v>(inventory: &'v Value, account: &str, part: &str) -> Vec<&'v str> {
    inventory[account][part].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect()
}

fn run_kind(tf: &TerraformBinary, kind: &str) {
    let aws = LocalAws::start();
    let s = Session::new(&aws, tf, kind);
    let name = service_name(kind);
    let context = |what: &str| s.context(what);

    // One apply makes the organisation's side: the store, three deploy
    // targets and the pipeline. The pipeline's stages are shown at plan
    // time, though its deploy roles and key are only made by this apply:
    // no name depends on them.
    let plan = s.run(&["plan"], &[]);
    assert_eq!(plan.code, 0, "{}\n{plan}", context("plan"));
    assert!(plan.stdout.contains("Plan: 5 to add, 0 to change, 0 to destroy."), "{}\n{plan}", context("plan"));
    assert!(
        !plan.stdout.contains("stages             = (known after apply)")
            && plan.stdout.contains("\"production\"")
            && plan.stdout.contains("\"Approve\""),
        "{}\n{plan}",
        context("stages known at the first plan")
    );
    s.run(&["apply", "-auto-approve"], &[]).success();
    let outputs = s.work.outputs();
    let stages: Vec<&str> = outputs["stages"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(stages, ["Source", "Build", "test", "stage", "production"], "{}", context("stages"));
    let version = outputs["pipeline_version"].as_i64().unwrap();
    let key_arn = outputs["artifact_key_arn"].as_str().unwrap().to_owned();
    let created = inventory(&aws);
    assert_eq!(names(&created, TOOLING_ACCOUNT, "pipelines"), [name], "{}", context("created"));
    assert_eq!(names(&created, TOOLING_ACCOUNT, "buckets"), [BUCKET], "{}", context("the artifact bucket"));
    assert_eq!(names(&created, TOOLING_ACCOUNT, "keys"), ["Enabled"], "{}", context("the artifact key"));
    let smoke_test = format!("{name}-test-smoke-test");
    assert!(names(&created, "222222222222", "projects").contains(&smoke_test.as_str()), "{}", context("projects"));
    for (env, account) in ENVIRONMENTS {
        assert_eq!(
            names(&created, account, "roles"),
            [format!("bokbasen-deployer-{env}"), format!("{name}-{env}-cb")],
            "{}",
            context("roles")
        );
    }

    // What a release depends on exists and names the store's key and the
    // environment accounts.
    let found = documents(&aws, name);
    assert_eq!(
        found["artifact_store"],
        json!({"type": "S3", "location": BUCKET, "encryptionKey": {"id": key_arn, "type": "KMS"}}),
        "{}",
        context("the pipeline encrypts artifacts with the store's key")
    );
    let projects = found["projects"].as_object().unwrap();
    assert_eq!(projects.len(), outputs["codebuild_projects"].as_object().unwrap().len(), "{found:#}");
    for (project, key) in projects {
        assert_eq!(key, &json!(key_arn), "{}: {project}", context("every project encrypts with the store's key"));
    }
    let roots: Vec<String> = ENVIRONMENTS.iter().map(|(_, a)| format!("arn:aws:iam::{a}:root")).collect();
    if ["fargate", "batch"].contains(&kind) {
        assert_eq!(
            found["repository_policy"],
            json!([{
                "principals": roots,
                "actions": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            }]),
            "{}",
            context("the environment accounts pull the image")
        );
    }
    assert_eq!(found["bucket_readers"], json!(roots), "{}", context("bucket policy"));
    assert_eq!(found["key_decrypters"], json!(roots), "{}", context("key policy"));
    let caller = format!("arn:aws:iam::{TOOLING_ACCOUNT}:user/{CALLER_USER}");
    for (env, _) in ENVIRONMENTS {
        assert_eq!(
            found["trust"][format!("bokbasen-deployer-{env}")],
            json!({
                "Pipelines": {
                    "principals": [format!("arn:aws:iam::{TOOLING_ACCOUNT}:root")],
                    "principal_arns": [format!("arn:aws:iam::{TOOLING_ACCOUNT}:role/bokbasen/*-pipeline")],
                },
                "Provisioners": {
                    "principals": [format!("arn:aws:iam::{TOOLING_ACCOUNT}:root")],
                    "principal_arns": [caller],
                },
            }),
            "{}",
            context("the deployer trusts the tooling account's pipeline roles and the caller, by aws:PrincipalArn")
        );
    }

    // Nothing changed: nothing planned.
    let replan = s.run(&["plan", "-detailed-exitcode"], &[]);
    assert_eq!(replan.code, 0, "{}\n{replan}", context("second plan"));

    // In place: a new branch updates the pipeline.
    let update = s.run(&["plan", "-detailed-exitcode"], &["branch=release"]);
    assert_eq!(update.code, 2, "{}\n{update}", context("update plan"));
    assert!(
        update.stdout.contains("updated in-place")
            && update.stdout.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{}\n{update}",
        context("update plan")
    );
    s.run(&["apply", "-auto-approve"], &["branch=release"]).success();
    assert!(s.work.outputs()["pipeline_version"].as_i64().unwrap() > version, "{}", context("version grows"));
    let branch = aws.boto3(&format!(
        r#"
pipeline = client("codepipeline").get_pipeline(name="{name}")["pipeline"]
print(json.dumps(pipeline["stages"][0]["actions"][0]["configuration"]["BranchName"]))
"#
    ));
    assert_eq!(branch, "release", "{}", context("branch updated"));

    // The Test environment's network taken away, and given back: its projects leave the VPC and return
    // (UpdateProject keeps a VPC it is not given, so the provider sends an empty one).
    if kind == "fargate" {
        let vpc = |when: &str| {
            aws.boto3(&format!(
                r#"
project = client("codebuild", assume("222222222222")).batch_get_projects(names=["{name}-test-migrate"])["projects"][0]
print(json.dumps(project.get("vpcConfig", {{}}).get("vpcId")))
"#
            ))
            .as_str()
            .map(str::to_string)
            .ok_or(when.to_string())
        };
        assert!(vpc("before").is_ok(), "{}", context("the example's Test steps run in its VPC"));
        s.run(&["apply", "-auto-approve"], &["branch=release", "test_network=null"]).success();
        assert_eq!(vpc("removed"), Err("removed".to_string()), "{}", context("network removed"));
        s.run(&["apply", "-auto-approve"], &["branch=release"]).success();
        assert!(vpc("back").is_ok(), "{}", context("network back"));
    }

    // A project deleted out of band is planned again and re-created.
    aws.boto3(&format!(
        r#"
client("codebuild", assume("333333333333")).delete_project(name="{name}-stage-smoke-test")
print("{{}}")
"#
    ));
    let drift = s.run(&["plan", "-detailed-exitcode"], &["branch=release"]);
    assert_eq!(drift.code, 2, "{}\n{drift}", context("drift plan"));
    s.run(&["apply", "-auto-approve"], &["branch=release"]).success();
    let stage_projects = inventory(&aws);
    assert!(
        names(&stage_projects, "333333333333", "projects").contains(&format!("{name}-stage-smoke-test").as_str()),
        "{}",
        context("re-created")
    );
    let settled = s.run(&["plan", "-detailed-exitcode"], &["branch=release"]);
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
    let drifted = s.run(&["plan", "-detailed-exitcode"], &["branch=release"]);
    assert_eq!(drifted.code, 2, "{}\n{drifted}", context("out-of-band drift"));
    for change in [
        r#"branch         = "hotfix" -> "release""#.to_string(),
        format!(r#""/elsewhere/trigger" -> "/config/{name}_test/runscope-trigger""#),
    ] {
        assert!(drifted.stdout.contains(&change), "{}: plan shows {change}\n{drifted}", context("drift"));
    }
    s.run(&["apply", "-auto-approve"], &["branch=release"]).success();
    let repaired = s.run(&["plan", "-detailed-exitcode"], &["branch=release"]);
    assert_eq!(repaired.code, 0, "{}\n{repaired}", context("plan after drift repaired"));
    assert_eq!(
        documents(&aws, name)["projects"][&smoke_test],
        json!(key_arn),
        "{}",
        context("a project the provider updated encrypts with the store's key")
    );

    // Import by name, from AWS alone: the next plan is empty.
    s.work.run(&["state", "rm", "bokbasen_service_pipeline.service"]).success();
    s.run(&["import", "bokbasen_service_pipeline.service", name], &["branch=release"]).success();
    // Import leaves the outputs to the next apply, so judge the plan by its resource changes.
    s.run(&["plan", "-out=imported.tfplan"], &["branch=release"]).success();
    let plan: Value = serde_json::from_str(&s.work.run(&["show", "-json", "imported.tfplan"]).success().stdout)
        .expect("plan as JSON");
    let changes = plan["resource_changes"].as_array().expect("resource changes");
    let managed: Vec<(&str, &Value)> = changes
        .iter()
        .filter(|c| c["mode"] == "managed")
        .map(|c| (c["address"].as_str().unwrap(), &c["change"]["actions"]))
        .collect();
    assert_eq!(managed.len(), 5, "{}: {plan}", context("plan after import"));
    for (address, actions) in managed {
        assert_eq!(actions, &json!(["no-op"]), "{}: {address}", context("plan after import"));
    }

    // Rename: replaced (the stages shown at plan time), and nothing of the
    // old name stays; the store and the deploy targets stay as they were.
    let renamed_to = format!("{name}-v2");
    let renamed_var = format!("name={renamed_to}");
    let rename = s.run(&["plan", "-out=rename.tfplan"], &["branch=release", &renamed_var]);
    assert!(
        rename.code == 0
            && rename.stdout.contains("must be replaced")
            && rename.stdout.contains("Plan: 1 to add, 0 to change, 1 to destroy."),
        "{}\n{rename}",
        context("rename plan shows the replacement")
    );
    // (Terraform 1.11 hides the unchanged stages in the text: read the plan.)
    let plan: Value =
        serde_json::from_str(&s.work.run(&["show", "-json", "rename.tfplan"]).success().stdout).expect("plan as JSON");
    let change = plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "bokbasen_service_pipeline.service")
        .map(|c| &c["change"])
        .expect("the pipeline's change");
    assert_eq!(change["actions"], json!(["delete", "create"]), "{}", context("replaced"));
    let planned: Vec<&str> =
        change["after"]["stages"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(planned, ["Source", "Build", "test", "stage", "production"], "{}", context("stages known at plan"));
    assert!(
        change["after"]["stages"][2]["actions"].as_array().unwrap().contains(&json!("SmokeTest")),
        "{}: {change}",
        context("actions known at plan")
    );
    s.run(&["apply", "-auto-approve"], &["branch=release", &renamed_var]).success();
    let renamed = inventory(&aws);
    assert_eq!(names(&renamed, TOOLING_ACCOUNT, "pipelines"), [renamed_to.as_str()], "{}", context("renamed"));
    for (account, parts) in renamed.as_object().unwrap() {
        for part in ["pipelines", "projects", "roles", "repositories"] {
            for object in names(&renamed, account, part) {
                assert!(
                    object.starts_with(&renamed_to) || object.starts_with("bokbasen-deployer-"),
                    "{}: {object} remains in {account}: {parts}",
                    context("renamed")
                );
            }
        }
    }

    // An image in the repository: destroy keeps it, refused with the count and nothing deleted, until
    // force_destroy says otherwise.
    let mut last = vec!["branch=release".to_string(), renamed_var.clone()];
    if kind == "fargate" {
        let pushed = aws.boto3(&format!(
            r#"
manifest = json.dumps({{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "config": {{"digest": "sha256:" + "0" * 64, "size": 1, "mediaType": "application/vnd.docker.container.image.v1+json"}}, "layers": []}})
client("ecr").put_image(repositoryName="{renamed_to}", imageManifest=manifest, imageTag="1.0.0")
print(json.dumps(len(client("ecr").list_images(repositoryName="{renamed_to}")["imageIds"])))
"#
        ));
        assert_eq!(pushed, 1, "{}", context("an image pushed"));
        let vars: Vec<&str> = last.iter().map(String::as_str).collect();
        let refused = s.run(&["destroy", "-auto-approve"], &vars);
        assert!(
            refused.code != 0
                && refused.stderr.contains("still holds 1 image(s)")
                && refused.stderr.contains("force_destroy"),
            "{}\n{refused}",
            context("destroy keeps the images")
        );
        let pipelines = aws
            .boto3(r#"print(json.dumps([p["name"] for p in client("codepipeline").list_pipelines()["pipelines"]]))"#);
        assert_eq!(pipelines, json!([renamed_to]), "{}", context("nothing deleted"));
        last.push("force_destroy=true".into());
        let vars: Vec<&str> = last.iter().map(String::as_str).collect();
        s.run(&["apply", "-auto-approve"], &vars).success();
    }

    // Destroy leaves nothing in any account: the key is scheduled for
    // deletion, as KMS keys are never deleted at once.
    let vars: Vec<&str> = last.iter().map(String::as_str).collect();
    s.run(&["destroy", "-auto-approve"], &vars).success();
    let left = inventory(&aws);
    for (account, parts) in left.as_object().unwrap() {
        for (part, objects) in parts.as_object().unwrap() {
            let expected = if part == "keys" { json!(["PendingDeletion"]) } else { json!([]) };
            assert_eq!(objects, &expected, "{}: {part} left in {account}", context("destroy"));
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
    let s = Session::new(&aws, &tf, "fargate");
    let apply = || s.run(&["apply", "-auto-approve"], &[]);
    // Only the pipeline's parts: the store and the deploy targets are made
    // before it and stay.
    let pipeline_parts = |what: &str| {
        let left = inventory(&aws);
        for (account, parts) in left.as_object().unwrap() {
            for part in ["pipelines", "projects", "roles", "repositories"] {
                let found: Vec<&str> =
                    names(&left, account, part).into_iter().filter(|n| !n.starts_with("bokbasen-deployer-")).collect();
                assert!(found.is_empty(), "{what}: {part} left in {account}: {parts}");
            }
        }
    };

    aws.inject_fault("codepipeline:CreatePipeline", 400, "ValidationException", "refused for the test", None);
    let failed = apply();
    assert_ne!(failed.code, 0, "{failed}");
    // Terraform wraps diagnostics; compare with single spaces.
    let said = failed.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(said.contains("ValidationException: refused for the test"), "the cause is shown\n{failed}");
    assert!(!failed.stderr.contains("SdkBody"), "no raw response dump\n{failed}");
    assert!(failed.stderr.contains("removed again"), "{failed}");
    pipeline_parts("after the refused create");
    let listed = s.work.run(&["state", "list"]).success();
    assert!(!listed.stdout.contains("bokbasen_service_pipeline"), "the pipeline is not in state\n{listed}");

    // The clean-up is refused once as well: parts remain, and the error says so.
    aws.inject_fault("codebuild:DeleteProject", 400, "AccessDeniedException", "also refused", Some(1));
    let failed = apply();
    assert!(failed.stderr.contains("may remain"), "{failed}");
    let remaining = inventory(&aws);
    assert_ne!(remaining[TOOLING_ACCOUNT]["roles"], json!([]), "something was left: {remaining}");

    // The next apply completes it; destroy then removes everything.
    aws.clear_faults();
    apply().success();
    assert_eq!(inventory(&aws)[TOOLING_ACCOUNT]["pipelines"], json!(["ebook-api"]));
    let replan = s.run(&["plan", "-detailed-exitcode"], &[]);
    assert_eq!(replan.code, 0, "{replan}");
    s.run(&["destroy", "-auto-approve"], &[]).success();
    pipeline_parts("after destroy");

    // Importing a pipeline that does not exist is refused and writes no state.
    let missing = s.run(&["import", "bokbasen_service_pipeline.service", "no-such-service"], &[]);
    assert_ne!(missing.code, 0, "{missing}");
    assert!(missing.stderr.contains("non-existent remote object"), "{missing}");
    assert_eq!(s.work.run(&["state", "list"]).stdout.trim(), "", "nothing in state");
}

/// `state`'s `bokbasen_service_pipeline` as provider 0.1.0 wrote it: schema
/// version 0, without what version 1 added (`artifact_key_arn`, each
/// environment's `network` and `external_id`, `flyway.image`); the other
/// attributes are 0.1.0's (`git show 2c7f907:provider/src/types/service_pipeline/schema.rs`).
fn as_written_by_provider_0_1_0(state: &mut Value) {
    state["serial"] = json!(state["serial"].as_u64().unwrap() + 1);
    let resource = state["resources"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["type"] == "bokbasen_service_pipeline")
        .expect("the pipeline in state");
    let instance = &mut resource["instances"][0];
    instance["schema_version"] = json!(0);
    let attributes = instance["attributes"].as_object_mut().unwrap();
    attributes.remove("artifact_key_arn").expect("artifact_key_arn in today's state");
    for environment in attributes["environment"].as_array_mut().unwrap() {
        let environment = environment.as_object_mut().unwrap();
        environment.remove("network").expect("network in today's state");
        environment.remove("external_id").expect("external_id in today's state");
    }
    attributes["flyway"].as_object_mut().unwrap().remove("image").expect("flyway.image in today's state");
}

/// A state written by provider 0.1.0 (schema version 0) for a pipeline
/// whose objects exist in AWS is upgraded (UpgradeResourceState) and
/// refreshed before the plan, so the plan compares the configuration with
/// what AWS holds, not with what 0.1.0 knew:
///
/// - Objects as this version makes them (the example applied, then its
///   state replaced by 0.1.0's shape): "No changes". The upgrade reads the
///   new arguments as unset and `flyway.image` as the image 0.1.0 ran; the
///   refresh then reads `artifact_key_arn` from the pipeline's artifact
///   store and `network` from the Test projects' `vpcConfig`, which equal
///   the configuration.
/// - Objects as 0.1.0 made them (no encryption key on the pipeline's
///   artifact store; emulated by removing it out of band): exactly one
///   in-place change, `+ artifact_key_arn = "<the store's key>"`, the new
///   security setting; the apply sets the key and the plan is empty again.
#[test]
fn state_of_provider_0_1_0_upgrades() {
    for tf in terraform_binaries() {
        let aws = LocalAws::start();
        let s = Session::new(&aws, &tf, "fargate");
        let context = |what: &str| s.context(what);
        s.run(&["apply", "-auto-approve"], &[]).success();
        let key_arn = s.work.outputs()["artifact_key_arn"].as_str().unwrap().to_owned();
        let state_path = s.work.path().join("terraform.tfstate");
        let mut state: Value = serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
        as_written_by_provider_0_1_0(&mut state);
        std::fs::write(&state_path, serde_json::to_string_pretty(&state).unwrap()).unwrap();

        let plan = s.run(&["plan", "-detailed-exitcode"], &[]);
        assert_eq!(plan.code, 0, "{}\n{plan}", context("0.1.0's state over today's objects"));
        assert!(plan.stdout.contains("No changes."), "{}\n{plan}", context("no changes"));
        s.run(&["apply", "-auto-approve"], &[]).success();
        let stored: Value = serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
        let instance = stored["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["type"] == "bokbasen_service_pipeline")
            .map(|r| &r["instances"][0])
            .unwrap();
        assert_eq!(instance["schema_version"], 2, "{}: {instance}", context("stored at the current version"));
        assert_eq!(instance["attributes"]["force_destroy"], false, "{}", context("images kept by default"));
        assert_eq!(instance["attributes"]["artifact_key_arn"], json!(key_arn), "{}", context("key read back"));
        assert_eq!(instance["attributes"]["flyway"]["image"], "flyway/flyway:10", "{}", context("Flyway image"));

        // The pipeline as 0.1.0 made it: artifacts under S3's default key.
        let mut state: Value = serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
        as_written_by_provider_0_1_0(&mut state);
        std::fs::write(&state_path, serde_json::to_string_pretty(&state).unwrap()).unwrap();
        aws.boto3(
            r#"
codepipeline = client("codepipeline")
pipeline = codepipeline.get_pipeline(name="ebook-api")["pipeline"]
del pipeline["artifactStore"]["encryptionKey"]
codepipeline.update_pipeline(pipeline=pipeline)
print("{}")
"#,
        );
        let plan = s.run(&["plan", "-detailed-exitcode"], &[]);
        assert_eq!(plan.code, 2, "{}\n{plan}", context("0.1.0's state over 0.1.0's objects"));
        // The planned actions only (Terraform 1.0 also lists what the
        // refresh found, e.g. the Test environment's network), one space
        // apart: the key, and the version the update bumps.
        let actions = plan.stdout.split("Terraform will perform the following actions:").nth(1).unwrap_or_default();
        let actions = actions.split("\nPlan:").next().unwrap_or_default();
        let changed: Vec<String> = actions
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|l| l.starts_with("+ ") || l.starts_with("- ") || l.starts_with("~ ") || l.contains(" -> "))
            .map(|l| if l.starts_with("~ pipeline_version = ") { "~ pipeline_version".to_owned() } else { l })
            .collect();
        assert_eq!(
            changed,
            [
                "~ resource \"bokbasen_service_pipeline\" \"service\" {".to_owned(),
                format!("+ artifact_key_arn = \"{key_arn}\""),
                "~ pipeline_version".to_owned(),
            ],
            "{}\n{plan}",
            context("only the artifact key is planned")
        );
        assert!(actions.contains("~ pipeline_version   = 2 -> (known after apply)"), "{}\n{plan}", context("version"));
        assert!(plan.stdout.contains("Plan: 0 to add, 1 to change, 0 to destroy."), "{}\n{plan}", context("in place"));
        // The update must accept a prior state without a key (as 0.1.0
        // stored every pipeline); it is the change that adds one.
        s.run(&["apply", "-auto-approve"], &[]).success();
        let settled = s.run(&["plan", "-detailed-exitcode"], &[]);
        assert_eq!(settled.code, 0, "{}\n{settled}", context("plan after the key is set"));
        s.run(&["destroy", "-auto-approve"], &[]).success();
    }
}
