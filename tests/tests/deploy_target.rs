//! `bokbasen_deploy_target` end to end: the registry example applied through
//! a provider that assumes `OrganizationAccountAccessRole` in the Test
//! account (222222222222) makes its roles there and nowhere else; an update
//! of the kinds in place; trust changed out of band shown and repaired;
//! import by environment; the data source finds the roles; destroy leaves no
//! role behind; a state written by provider 0.1.0 (schema version 0) upgrades.
//!
//! The endpoint enforces IAM: Terraform signs as the caller holding the
//! documented policy, which may assume `OrganizationAccountAccessRole` in
//! the environment accounts (`AdministerEnvironments`), as in AWS.

use bokbasen_e2e::{terraform_binaries, workspace_root, LocalAws, TerraformBinary, TerraformRun, WorkDir};
use serde_json::{json, Value};

/// The example's provider block, pointed at the local endpoint (an override
/// file merges into it, so the example itself is applied unchanged).
const ENDPOINT: &str = r#"
terraform {
  required_providers {
    bokbasen = {
      source = "bokbasen/bokbasen"
    }
  }
}

variable "endpoint_url" {
  type = string
}
"#;
const PROVIDER_OVERRIDE: &str = r#"
provider "bokbasen" {
  alias        = "test"
  endpoint_url = var.endpoint_url
}
"#;

const ACCOUNTS: [&str; 4] = ["123456789012", "222222222222", "333333333333", "444444444444"];

fn example(path: &str) -> String {
    std::fs::read_to_string(workspace_root().join("examples").join(path)).expect("read example")
}

/// Roles under `/bokbasen/` in every account, with trust (per statement:
/// Sid, principals, the `aws:PrincipalArn` patterns and the external ID),
/// inline policy Sids and managed policies.
fn roles(aws: &LocalAws) -> Value {
    aws.boto3(
        r#"
def strings(value):
    return sorted([value] if isinstance(value, str) else (value or []))
result = {}
for account in ["123456789012", "222222222222", "333333333333", "444444444444"]:
    iam = client("iam", None if account == "123456789012" else assume(account))
    roles = {}
    for role in iam.list_roles(PathPrefix="/bokbasen/")["Roles"]:
        name = role["RoleName"]
        trust = [{
            "sid": s.get("Sid", ""),
            "principals": strings(s["Principal"]["AWS"]),
            "principal_arns": strings(s.get("Condition", {}).get("ArnLike", {}).get("aws:PrincipalArn")),
            "external_id": s.get("Condition", {}).get("StringEquals", {}).get("sts:ExternalId"),
        } for s in role["AssumeRolePolicyDocument"]["Statement"]]
        policy = iam.get_role_policy(RoleName=name, PolicyName="bokbasen")["PolicyDocument"]
        roles[name] = {
            "trust": trust,
            "sids": sorted(s.get("Sid", "") for s in policy["Statement"]),
            "managed": sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]),
            "tags": {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name)["Tags"]},
        }
    result[account] = roles
print(json.dumps(result))
"#,
    )
}

fn run(work: &WorkDir, endpoint: &str, args: &[&str]) -> TerraformRun {
    let var = format!("endpoint_url={endpoint}");
    let mut all = vec![args[0], "-no-color", "-var", &var];
    all.extend(&args[1..]);
    work.run(&all)
}

fn lifecycle(tf_binary: &TerraformBinary) {
    let aws = LocalAws::start_with_aws_managed_policies();
    let example_tf = example("resources/bokbasen_deploy_target/resource.tf");
    let work = example_workdir(&aws, tf_binary, &example_tf);
    let endpoint = aws.endpoint();
    let tf = |args: &[&str]| run(&work, &endpoint, args);
    let context = |what: &str| format!("Terraform {}: {what}", tf_binary.version);
    work.init();

    tf(&["apply", "-auto-approve"]).success();
    let made = roles(&aws);
    for account in ACCOUNTS {
        let names: Vec<&String> = made[account].as_object().unwrap().keys().collect();
        let expected: Vec<&str> =
            if account == "222222222222" { vec!["bokbasen-deployer-test", "bokbasen-devops-test"] } else { vec![] };
        assert_eq!(names, expected, "{}: roles in {account}", context("created"));
    }
    let deployer = &made["222222222222"]["bokbasen-deployer-test"];
    assert_eq!(
        deployer["trust"],
        json!([
            {
                "sid": "Pipelines",
                "principals": ["arn:aws:iam::123456789012:root"],
                "principal_arns": ["arn:aws:iam::123456789012:role/bokbasen/*-pipeline"],
                "external_id": null,
            },
            {
                "sid": "Provisioners",
                "principals": ["arn:aws:iam::123456789012:root"],
                "principal_arns": ["arn:aws:iam::123456789012:role/ci-terraform"],
                "external_id": null,
            },
        ]),
        "{}",
        context("trusted by the tooling account's pipeline roles and the provisioner, by ARN")
    );
    let sids: Vec<&str> = deployer["sids"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    // Fargate and static sites deploy through the deployer; Lambda from a project with its own role.
    for sid in ["DeployFargate", "DeployStaticSite", "ReadArtifacts", "DecryptArtifacts"] {
        assert!(sids.contains(&sid), "{}: {sid} in {sids:?}", context("permissions"));
    }
    for sid in ["DeployLambda", "DeployBatch", "DeployApiGateway", "ReadEnvironmentConfig"] {
        assert!(!sids.contains(&sid), "{}: no {sid} in {sids:?}", context("only what a release needs"));
    }
    // The kinds are kept in a tag of the deployer role, which the state does not show among its tags.
    assert_eq!(deployer["tags"], json!({"environment": "test", "bokbasen:kinds": "fargate:lambda:static_site"}));
    let devops = &made["222222222222"]["bokbasen-devops-test"];
    assert_eq!(devops["managed"], json!(["arn:aws:iam::aws:policy/ReadOnlyAccess"]), "{}", context("devops reads"));
    let devops_principals: Vec<&Value> =
        devops["trust"].as_array().unwrap().iter().flat_map(|s| s["principal_arns"].as_array().unwrap()).collect();
    assert_eq!(devops_principals, [&json!("arn:aws:iam::123456789012:role/devops")], "{devops}");
    let outputs = work.outputs();
    assert_eq!(outputs["deployer_role_arn"], "arn:aws:iam::222222222222:role/bokbasen/bokbasen-deployer-test");
    assert_eq!(tf(&["plan", "-detailed-exitcode"]).code, 0, "{}", context("second plan empty"));

    // Another kind: updated in place.
    work_write(
        &work,
        "main.tf",
        &example_tf.replace("\"lambda\", \"static_site\"]", "\"lambda\", \"static_site\", \"batch\"]"),
    );
    let plan = tf(&["plan"]);
    assert!(
        plan.stdout.contains("1 to change, 0 to destroy") && plan.stdout.contains("+ \"batch\""),
        "{}\n{plan}",
        context("kinds update")
    );
    tf(&["apply", "-auto-approve"]).success();
    assert_eq!(
        roles(&aws)["222222222222"]["bokbasen-deployer-test"]["tags"]["bokbasen:kinds"],
        "fargate:lambda:batch:static_site"
    );

    // Trust widened out of band to another account's pipeline roles (its
    // root as a principal, and its `*-pipeline` roles in the condition, as
    // the provider writes them): shown on pipeline_account_ids, and repaired.
    aws.boto3(
        r#"
iam = client("iam", assume("222222222222"))
doc = iam.get_role(RoleName="bokbasen-deployer-test")["Role"]["AssumeRolePolicyDocument"]
pipelines = next(s for s in doc["Statement"] if s.get("Sid") == "Pipelines")
listed = lambda value: [value] if isinstance(value, str) else value
pipelines["Principal"]["AWS"] = listed(pipelines["Principal"]["AWS"]) + ["arn:aws:iam::999999999999:root"]
arns = pipelines["Condition"]["ArnLike"]
arns["aws:PrincipalArn"] = listed(arns["aws:PrincipalArn"]) + ["arn:aws:iam::999999999999:role/bokbasen/*-pipeline"]
iam.update_assume_role_policy(RoleName="bokbasen-deployer-test", PolicyDocument=json.dumps(doc))
print("{}")
"#,
    );
    let drift = tf(&["plan", "-detailed-exitcode"]);
    assert_eq!(drift.code, 2, "{}\n{drift}", context("drift"));
    assert!(
        drift.stdout.contains("pipeline_account_ids") && drift.stdout.contains("- \"999999999999\""),
        "{}\n{drift}",
        context("drift shown")
    );
    tf(&["apply", "-auto-approve"]).success();
    assert!(!roles(&aws).to_string().contains("999999999999"), "{}", context("repaired"));

    // Import by environment name.
    work.run(&["state", "rm", "bokbasen_deploy_target.test"]).success();
    tf(&["import", "bokbasen_deploy_target.test", "test"]).success();
    let after = tf(&["plan"]);
    assert!(
        after.code == 0 && !after.stdout.contains(" will be ") && !after.stdout.contains(" must be "),
        "{}\n{after}",
        context("plan after import")
    );

    // The data source finds the roles for other modules.
    work_write(&work, "data.tf", &example("data-sources/bokbasen_deploy_target/data-source.tf"));
    tf(&["apply", "-auto-approve"]).success();
    let outputs = work.outputs();
    assert_eq!(outputs["test_deploy_role_arn"], outputs["deployer_role_arn"], "{}", context("data source"));
    std::fs::remove_file(work.path().join("data.tf")).unwrap();

    // Without the DevOps role: it is removed, the deployer stays.
    work_write(&work, "main.tf", &example_tf.replace("devops_read_only  = true", "devops_read_only  = false"));
    tf(&["apply", "-auto-approve"]).success();
    let names: Vec<String> = roles(&aws)["222222222222"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(names, ["bokbasen-deployer-test"], "{}", context("devops role removed"));

    tf(&["destroy", "-auto-approve"]).success();
    let left = roles(&aws);
    for account in ACCOUNTS {
        assert_eq!(left[account], json!({}), "{}: roles left in {account}", context("destroy"));
    }
    // The data source then says what is missing and how to make it.
    work_write(&work, "main.tf", "");
    work_write(&work, "provider.tf", example_tf.split("resource \"bokbasen_deploy_target\"").next().unwrap());
    work_write(&work, "data.tf", &example("data-sources/bokbasen_deploy_target/data-source.tf"));
    let missing = tf(&["plan"]);
    assert_ne!(missing.code, 0, "{missing}");
    assert!(
        missing.stderr.contains("No deploy target") && missing.stderr.contains("bokbasen_deploy_target"),
        "{}\n{missing}",
        context("missing target")
    );
}

fn work_write(work: &WorkDir, name: &str, contents: &str) {
    std::fs::write(work.path().join(name), contents).expect("write configuration");
}

/// The example, with its provider pointed at `aws` (an override file merges
/// into it, so the example itself is applied unchanged).
fn example_workdir(aws: &LocalAws, tf_binary: &TerraformBinary, example_tf: &str) -> WorkDir {
    aws.workdir(
        tf_binary,
        &[("endpoint.tf", ENDPOINT), ("main.tf", example_tf), ("provider_override.tf", PROVIDER_OVERRIDE)],
    )
}

#[test]
fn deploy_target_lifecycle_on_every_terraform() {
    for tf in terraform_binaries() {
        lifecycle(&tf);
    }
}

/// Bad arguments are refused at plan with their attribute, nothing made.
#[test]
fn invalid_deploy_target_is_refused_at_plan() {
    let tf_binary = terraform_binaries().remove(0);
    let aws = LocalAws::start();
    let config = r#"
provider "bokbasen" {
  alias        = "test"
  region       = "eu-north-1"
  endpoint_url = var.endpoint_url
}

resource "bokbasen_deploy_target" "bad" {
  provider             = bokbasen.test
  environment          = "Test_Env"
  kinds                = ["fargate", "kubernetes"]
  pipeline_account_ids = ["ebook-api-pipeline"]
  artifact_key_arn     = "alias/bokbasen/artifacts"
  devops_read_only     = true
}
"#;
    let work = aws.workdir(&tf_binary, &[("endpoint.tf", ENDPOINT), ("main.tf", config)]);
    work.init();
    let plan = run(&work, &aws.endpoint(), &["plan"]);
    assert_ne!(plan.code, 0, "{plan}");
    for expected in [
        "Invalid environment",
        "environment          = \"Test_Env\"",
        "Invalid kinds",
        "\"kubernetes\" is not a kind",
        "Invalid pipeline_account_ids",
        "pipeline_account_ids = [\"ebook-api-pipeline\"]",
        "Invalid artifact_key_arn",
        "DevOps principals missing",
    ] {
        assert!(plan.stderr.contains(expected), "missing {expected:?}\n{plan}");
    }
    assert_eq!(roles(&aws)["123456789012"], json!({}), "nothing was made");
}

/// What provider 0.1.0 (schema version 0) stored for the example's target:
/// the pipeline roles by ARN in `pipeline_role_arns`, no `artifact_key_arn`.
fn state_of_provider_0_1_0(lineage: &str, serial: u64) -> Value {
    json!({
        "version": 4,
        "terraform_version": "1.0.3",
        "serial": serial,
        "lineage": lineage,
        "outputs": {
            "deployer_role_arn": {
                "value": "arn:aws:iam::222222222222:role/bokbasen/bokbasen-deployer-test",
                "type": "string"
            }
        },
        "resources": [{
            "mode": "managed",
            "type": "bokbasen_deploy_target",
            "name": "test",
            "provider": "provider[\"registry.terraform.io/bokbasen/bokbasen\"].test",
            "instances": [{
                "schema_version": 0,
                "attributes": {
                    "environment": "test",
                    "kinds": ["fargate", "lambda", "static_site"],
                    "pipeline_role_arns": [
                        "arn:aws:iam::123456789012:role/bokbasen/ebook-api-pipeline",
                        "arn:aws:iam::123456789012:role/bokbasen/isbn-lookup-pipeline"
                    ],
                    "provisioner_arns": ["arn:aws:iam::123456789012:role/ci-terraform"],
                    "external_id": null,
                    "artifact_bucket": "bokbasen-pipeline-artifacts",
                    "config_prefix": "/config",
                    "config_separator": "_",
                    "devops_read_only": true,
                    "devops_principals": ["arn:aws:iam::123456789012:role/devops"],
                    "tags": {"environment": "test"},
                    "id": "test",
                    "account_id": "222222222222",
                    "deployer_role_arn": "arn:aws:iam::222222222222:role/bokbasen/bokbasen-deployer-test",
                    "devops_role_arn": "arn:aws:iam::222222222222:role/bokbasen/bokbasen-devops-test"
                },
                "sensitive_attributes": []
            }]
        }]
    })
}

/// A state written by provider 0.1.0 (schema version 0, `pipeline_role_arns`
/// = role ARNs) is upgraded by the provider (the accounts of those ARNs
/// become `pipeline_account_ids`) and plans no change against the new
/// configuration, which names those accounts.
///
/// The roles here were made by this provider (the example applied first,
/// then the state replaced by the one 0.1.0 wrote for the same target), so
/// the refresh reads back the trust of this version: the plan is honestly
/// "No changes", not an in-place rewrite of the trust hidden by the upgrade.
/// Refresh also fills `artifact_key_arn`, which 0.1.0 did not know, from the
/// role's policy. The apply then stores the state at the current version.
#[test]
fn state_of_provider_0_1_0_upgrades_without_changes() {
    for tf_binary in terraform_binaries() {
        let aws = LocalAws::start_with_aws_managed_policies();
        let work = example_workdir(&aws, &tf_binary, &example("resources/bokbasen_deploy_target/resource.tf"));
        let endpoint = aws.endpoint();
        let tf = |args: &[&str]| run(&work, &endpoint, args);
        let context = |what: &str| format!("Terraform {}: {what}", tf_binary.version);
        work.init();
        tf(&["apply", "-auto-approve"]).success();
        let state_path = work.path().join("terraform.tfstate");
        let written: Value = serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
        let old =
            state_of_provider_0_1_0(written["lineage"].as_str().unwrap(), written["serial"].as_u64().unwrap() + 1);
        std::fs::write(&state_path, serde_json::to_string_pretty(&old).unwrap()).unwrap();
        let roles_before = roles(&aws);

        let plan = tf(&["plan", "-detailed-exitcode"]);
        assert_eq!(plan.code, 0, "{}\n{plan}", context("the upgraded state plans no change"));
        assert!(plan.stdout.contains("No changes."), "{}\n{plan}", context("no changes"));

        tf(&["apply", "-auto-approve"]).success();
        let stored: Value = serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
        let instance = &stored["resources"][0]["instances"][0];
        assert_eq!(instance["schema_version"], 1, "{}: {instance}", context("stored at the current version"));
        assert_eq!(instance["attributes"]["pipeline_account_ids"], json!(["123456789012"]), "{}", context("accounts"));
        assert!(instance["attributes"].get("pipeline_role_arns").is_none(), "{}: {instance}", context("old attribute"));
        assert_eq!(roles(&aws), roles_before, "{}", context("the roles were not touched"));
        tf(&["destroy", "-auto-approve"]).success();
    }
}
