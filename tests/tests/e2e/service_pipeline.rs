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
use bokbasen_e2e::{terraform_binaries, Inventory, Kind, LocalAws, Session, TerraformBinary};
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

/// A session over the kind's runnable example,
/// `examples/service-pipeline/<kind>/`: what users copy is what the suite
/// applies.
fn session<'a>(aws: &'a LocalAws, tf: &TerraformBinary, kind: &str) -> Session<'a> {
    Session::from_example(aws, tf, &format!("service-pipeline/{}", kind.replace('_', "-"))).label(kind)
}

/// The states of the tooling account's KMS keys.
fn key_states(inventory: &Inventory) -> Vec<&str> {
    inventory.objects().iter().filter(|o| o.kind == Kind::KmsKey).filter_map(|o| o.key_state.as_deref()).collect()
}

/// The kinds of object a pipeline is made of (the store's bucket and key
/// are not).
const PIPELINE_PARTS: [Kind; 4] = [Kind::Pipeline, Kind::CodeBuildProject, Kind::IamRole, Kind::EcrRepository];

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

fn run_kind(tf: &TerraformBinary, kind: &str) {
    let aws = LocalAws::start();
    let mut s = session(&aws, tf, kind);
    let name = service_name(kind);

    // One apply makes the organisation's side: the store, three deploy
    // targets and the pipeline. The pipeline's stages are shown at plan
    // time, though its deploy roles and key are only made by this apply:
    // no name depends on them.
    let context = |what: &str| format!("Terraform {} / {kind}: {what}", tf.version);
    let plan = s.plan(&[]);
    assert!(plan.stdout.contains("Plan: 5 to add, 0 to change, 0 to destroy."), "{}\n{plan}", context("plan"));
    assert!(
        !plan.stdout.contains("stages             = (known after apply)")
            && plan.stdout.contains("\"production\"")
            && plan.stdout.contains("\"Approve\""),
        "{}\n{plan}",
        context("stages known at the first plan")
    );
    s.apply();
    let outputs = s.outputs();
    let stages: Vec<&str> = outputs["stages"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(stages, ["Source", "Build", "test", "stage", "production"], "{}", context("stages"));
    let version = outputs["pipeline_version"].as_i64().unwrap();
    let key_arn = outputs["artifact_key_arn"].as_str().unwrap().to_owned();
    let created = s.inventory();
    assert_eq!(created.names(TOOLING_ACCOUNT, Kind::Pipeline), [name], "{}", context("created"));
    assert_eq!(created.names(TOOLING_ACCOUNT, Kind::Bucket), [BUCKET], "{}", context("the artifact bucket"));
    assert_eq!(key_states(&created), ["Enabled"], "{}", context("the artifact key"));
    let smoke_test = format!("{name}-test-smoke-test");
    let test_projects = created.names("222222222222", Kind::CodeBuildProject);
    assert!(test_projects.contains(&smoke_test.as_str()), "{}", context("projects"));
    for (env, account) in ENVIRONMENTS {
        assert_eq!(
            created.names(account, Kind::IamRole),
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
    s.plan_is_empty();

    // In place: a new branch updates the pipeline.
    s.set_var("branch", "release");
    let update = s.plan_with_changes();
    assert!(
        update.stdout.contains("updated in-place")
            && update.stdout.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{}\n{update}",
        context("update plan")
    );
    s.apply();
    assert!(s.outputs()["pipeline_version"].as_i64().unwrap() > version, "{}", context("version grows"));
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
        s.set_var("test_network", "null").apply();
        assert_eq!(vpc("removed"), Err("removed".to_string()), "{}", context("network removed"));
        s.unset_var("test_network").apply();
        assert!(vpc("back").is_ok(), "{}", context("network back"));
    }

    // A project deleted out of band is planned again and re-created.
    aws.boto3(&format!(
        r#"
client("codebuild", assume("333333333333")).delete_project(name="{name}-stage-smoke-test")
print("{{}}")
"#
    ));
    s.plan_with_changes();
    s.apply();
    let stage_projects = s.inventory();
    assert!(
        stage_projects
            .names("333333333333", Kind::CodeBuildProject)
            .contains(&format!("{name}-stage-smoke-test").as_str()),
        "{}",
        context("re-created")
    );
    s.plan_is_empty();

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
    let drifted = s.plan_with_changes();
    for change in [
        r#"branch         = "hotfix" -> "release""#.to_string(),
        format!(r#""/elsewhere/trigger" -> "/config/{name}_test/runscope-trigger""#),
    ] {
        assert!(drifted.stdout.contains(&change), "{}: plan shows {change}\n{drifted}", context("drift"));
    }
    s.apply();
    s.plan_is_empty();
    assert_eq!(
        documents(&aws, name)["projects"][&smoke_test],
        json!(key_arn),
        "{}",
        context("a project the provider updated encrypts with the store's key")
    );

    // Import by name, from AWS alone: the next plan is empty.
    s.state_rm("bokbasen_service_pipeline.service");
    s.import("bokbasen_service_pipeline.service", name);
    // Import leaves the outputs to the next apply, so judge the plan by its resource changes.
    s.plan(&["-out=imported.tfplan"]);
    let plan = s.show_plan("imported.tfplan");
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
    s.set_var("name", &renamed_to);
    let rename = s.plan(&["-out=rename.tfplan"]);
    assert!(
        rename.stdout.contains("must be replaced")
            && rename.stdout.contains("Plan: 1 to add, 0 to change, 1 to destroy."),
        "{}\n{rename}",
        context("rename plan shows the replacement")
    );
    // (Terraform 1.11 hides the unchanged stages in the text: read the plan.)
    let plan = s.show_plan("rename.tfplan");
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
    s.apply();
    let renamed = s.inventory();
    assert_eq!(renamed.names(TOOLING_ACCOUNT, Kind::Pipeline), [renamed_to.as_str()], "{}", context("renamed"));
    for object in renamed.objects().iter().filter(|o| PIPELINE_PARTS.contains(&o.kind)) {
        assert!(
            object.name.starts_with(&renamed_to) || object.name.starts_with("bokbasen-deployer-"),
            "{}: {object} remains:\n{renamed}",
            context("renamed")
        );
    }

    // An image in the repository: destroy keeps it, refused with the count and nothing deleted, until
    // force_destroy says otherwise.
    if kind == "fargate" {
        let pushed = aws.boto3(&format!(
            r#"
manifest = json.dumps({{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "config": {{"digest": "sha256:" + "0" * 64, "size": 1, "mediaType": "application/vnd.docker.container.image.v1+json"}}, "layers": []}})
client("ecr").put_image(repositoryName="{renamed_to}", imageManifest=manifest, imageTag="1.0.0")
print(json.dumps(len(client("ecr").list_images(repositoryName="{renamed_to}")["imageIds"])))
"#
        ));
        assert_eq!(pushed, 1, "{}", context("an image pushed"));
        let before = s.inventory();
        let refused = s.destroy_failing();
        assert!(
            refused.stderr.contains("still holds 1 image(s)") && refused.stderr.contains("force_destroy"),
            "{}\n{refused}",
            context("destroy keeps the images")
        );
        before.assert_unchanged(&s.inventory(), &context("nothing deleted"));
        s.set_var("force_destroy", "true").apply();
    }

    // Destroy leaves nothing in any account: the key is scheduled for
    // deletion, as KMS keys are never deleted at once.
    s.destroy();
    let left = s.inventory();
    assert!(left.live().is_empty(), "{}: left in the accounts:\n{left}", context("destroy"));
    assert_eq!(key_states(&left), ["PendingDeletion"], "{}", context("destroy"));
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
    let s = session(&aws, &tf, "fargate");
    // Only the pipeline's parts: the store and the deploy targets are made
    // before it and stay.
    let pipeline_parts = |what: &str| {
        let left = s.inventory();
        let parts = left.select(|o| PIPELINE_PARTS.contains(&o.kind) && !o.name.starts_with("bokbasen-deployer-"));
        assert!(parts.is_empty(), "{what}: left in the accounts:\n{parts}");
    };

    aws.inject_fault("codepipeline:CreatePipeline", 400, "ValidationException", "refused for the test", None);
    let failed = s.apply_failing();
    // Terraform wraps diagnostics; compare with single spaces.
    let said = failed.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(said.contains("ValidationException: refused for the test"), "the cause is shown\n{failed}");
    assert!(!failed.stderr.contains("SdkBody"), "no raw response dump\n{failed}");
    assert!(failed.stderr.contains("removed again"), "{failed}");
    pipeline_parts("after the refused create");
    let listed = s.state_addresses();
    assert!(
        !listed.iter().any(|a| a.contains("bokbasen_service_pipeline")),
        "the pipeline is not in state: {listed:?}"
    );

    // The clean-up is refused once as well: what remains is recorded, tainted, and the error says so.
    aws.inject_fault("codebuild:DeleteProject", 400, "AccessDeniedException", "also refused", Some(1));
    let failed = s.apply_failing();
    let said = failed.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(said.contains("Terraform keeps what is left as this resource, tainted"), "{failed}");
    let remaining = s.inventory();
    assert_ne!(remaining.count(TOOLING_ACCOUNT, Kind::IamRole), 0, "something was left:\n{remaining}");
    let recorded = s.state().into_iter().find(|i| i.resource_type == "bokbasen_service_pipeline");
    let recorded = recorded.expect("what is left is in state");
    assert!(recorded.tainted, "{:?}", recorded.attributes);
    let roles = recorded.attributes["role_arns"].as_object().expect("role_arns").len();
    let owned_roles =
        remaining.owned_by("bokbasen_service_pipeline/ebook-api").select(|o| o.kind == Kind::IamRole).len();
    assert_eq!(roles, owned_roles, "the state lists exactly the roles left:\n{remaining}");

    // The next apply replaces it; destroy then removes everything.
    aws.clear_faults();
    s.apply();
    assert_eq!(s.inventory().names(TOOLING_ACCOUNT, Kind::Pipeline), ["ebook-api"]);
    s.plan_is_empty();
    s.destroy();
    pipeline_parts("after destroy");

    // Importing a pipeline that does not exist is refused and writes no state.
    let missing = s.import_failing("bokbasen_service_pipeline.service", "no-such-service");
    assert!(missing.stderr.contains("non-existent remote object"), "{missing}");
    assert_eq!(s.state_addresses(), Vec::<String>::new(), "nothing in state");
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
        let s = session(&aws, &tf, "fargate");
        let context = |what: &str| s.context(what);
        s.apply();
        let key_arn = s.outputs()["artifact_key_arn"].as_str().unwrap().to_owned();
        let as_written_by_provider_0_1_0 = || {
            let mut state = s.state_json();
            as_written_by_provider_0_1_0(&mut state);
            s.replace_state_json(&state);
        };
        as_written_by_provider_0_1_0();

        let plan = s.plan_is_empty();
        assert!(plan.stdout.contains("No changes."), "{}\n{plan}", context("no changes"));
        s.apply();
        let state = s.state();
        let instance = state.iter().find(|i| i.resource_type == "bokbasen_service_pipeline").unwrap();
        assert_eq!(instance.schema_version, 2, "{}: {instance:?}", context("stored at the current version"));
        assert_eq!(instance.attributes["force_destroy"], false, "{}", context("images kept by default"));
        assert_eq!(instance.attributes["artifact_key_arn"], json!(key_arn), "{}", context("key read back"));
        assert_eq!(instance.attributes["flyway"]["image"], "flyway/flyway:10", "{}", context("Flyway image"));

        // The pipeline as 0.1.0 made it: artifacts under S3's default key.
        as_written_by_provider_0_1_0();
        aws.boto3(
            r#"
codepipeline = client("codepipeline")
pipeline = codepipeline.get_pipeline(name="ebook-api")["pipeline"]
del pipeline["artifactStore"]["encryptionKey"]
codepipeline.update_pipeline(pipeline=pipeline)
print("{}")
"#,
        );
        let plan = s.plan_with_changes();
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
        s.apply();
        s.plan_is_empty();
        s.destroy();
    }
}
