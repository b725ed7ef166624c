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

use bokbasen_e2e::{example_file, terraform_binaries, Kind, LocalAws, Session, TerraformBinary};
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

const TEST_ACCOUNT: &str = "222222222222";

/// The documents of the roles under `/bokbasen/` in every account (which
/// roles exist, with their tags, is the inventory's): trust (per statement:
/// Sid, principals, the `aws:PrincipalArn` patterns and the external ID),
/// inline policy Sids and managed policies.
fn role_documents(aws: &LocalAws) -> Value {
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
        }
    result[account] = roles
print(json.dumps(result))
"#,
    )
}

fn lifecycle(tf_binary: &TerraformBinary) {
    let aws = LocalAws::start_with_aws_managed_policies();
    let example_tf = example_file("resources/bokbasen_deploy_target/resource.tf");
    let s = example_session(&aws, tf_binary, &example_tf);
    let context = |what: &str| s.context(what);

    s.apply();
    let made = s.inventory();
    assert_eq!(
        made.list(),
        ["bokbasen-deployer-test", "bokbasen-devops-test"].map(|role| format!("{TEST_ACCOUNT} iam-role {role}")),
        "{}: the Test account's two roles, nothing else in any account",
        context("created")
    );
    let documents = role_documents(&aws);
    let deployer = &documents[TEST_ACCOUNT]["bokbasen-deployer-test"];
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
    // The kinds are kept in a tag of the deployer role, which the state does not show among its tags;
    // so is bokbasen's ownership marker.
    assert_eq!(
        json!(made.get(TEST_ACCOUNT, Kind::IamRole, "bokbasen-deployer-test").unwrap().tags),
        json!({
            "environment": "test",
            "bokbasen:kinds": "fargate:lambda:static_site",
            "bokbasen:owner": "bokbasen_deploy_target/test",
        })
    );
    let devops = &documents[TEST_ACCOUNT]["bokbasen-devops-test"];
    assert_eq!(devops["managed"], json!(["arn:aws:iam::aws:policy/ReadOnlyAccess"]), "{}", context("devops reads"));
    let devops_principals: Vec<&Value> =
        devops["trust"].as_array().unwrap().iter().flat_map(|s| s["principal_arns"].as_array().unwrap()).collect();
    assert_eq!(devops_principals, [&json!("arn:aws:iam::123456789012:role/devops")], "{devops}");
    let outputs = s.outputs();
    assert_eq!(outputs["deployer_role_arn"], "arn:aws:iam::222222222222:role/bokbasen/bokbasen-deployer-test");
    s.plan_is_empty();

    // Another kind: updated in place.
    s.write("main.tf", &example_tf.replace("\"lambda\", \"static_site\"]", "\"lambda\", \"static_site\", \"batch\"]"));
    let plan = s.plan(&[]);
    assert!(
        plan.stdout.contains("1 to change, 0 to destroy") && plan.stdout.contains("+ \"batch\""),
        "{}\n{plan}",
        context("kinds update")
    );
    s.apply();
    let kinds = s.inventory().get(TEST_ACCOUNT, Kind::IamRole, "bokbasen-deployer-test").unwrap().tags
        ["bokbasen:kinds"]
        .clone();
    assert_eq!(kinds, "fargate:lambda:batch:static_site");

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
    let drift = s.plan_with_changes();
    assert!(
        drift.stdout.contains("pipeline_account_ids") && drift.stdout.contains("- \"999999999999\""),
        "{}\n{drift}",
        context("drift shown")
    );
    s.apply();
    assert!(!role_documents(&aws).to_string().contains("999999999999"), "{}", context("repaired"));

    // Import by environment name.
    s.state_rm("bokbasen_deploy_target.test");
    s.import("bokbasen_deploy_target.test", "test");
    let after = s.plan(&[]);
    assert!(
        !after.stdout.contains(" will be ") && !after.stdout.contains(" must be "),
        "{}\n{after}",
        context("plan after import")
    );

    // The data source finds the roles for other modules.
    s.write("data.tf", &example_file("data-sources/bokbasen_deploy_target/data-source.tf"));
    s.apply();
    let outputs = s.outputs();
    assert_eq!(outputs["test_deploy_role_arn"], outputs["deployer_role_arn"], "{}", context("data source"));
    s.remove("data.tf");

    // Without the DevOps role: it is removed, the deployer stays.
    s.write("main.tf", &example_tf.replace("devops_read_only  = true", "devops_read_only  = false"));
    s.apply();
    let left = s.inventory();
    assert_eq!(
        left.list(),
        [format!("{TEST_ACCOUNT} iam-role bokbasen-deployer-test")],
        "{}",
        context("devops role removed")
    );

    s.destroy();
    let left = s.inventory();
    assert!(left.is_empty(), "{}: left in the accounts:\n{left}", context("destroy"));
    // The data source then says what is missing and how to make it.
    s.write("main.tf", "");
    s.write("provider.tf", example_tf.split("resource \"bokbasen_deploy_target\"").next().unwrap());
    s.write("data.tf", &example_file("data-sources/bokbasen_deploy_target/data-source.tf"));
    let missing = s.plan_failing();
    assert!(
        missing.stderr.contains("No deploy target") && missing.stderr.contains("bokbasen_deploy_target"),
        "{}\n{missing}",
        context("missing target")
    );
}

/// The example, with its provider pointed at `aws` (an override file merges
/// into it, so the example itself is applied unchanged).
fn example_session<'a>(aws: &'a LocalAws, tf_binary: &TerraformBinary, example_tf: &str) -> Session<'a> {
    Session::new(
        aws,
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
    let s = Session::new(&aws, &tf_binary, &[("endpoint.tf", ENDPOINT), ("main.tf", config)]);
    let plan = s.plan_failing();
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
    assert!(s.inventory().is_empty(), "nothing was made");
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
        let s = example_session(&aws, &tf_binary, &example_file("resources/bokbasen_deploy_target/resource.tf"));
        let context = |what: &str| s.context(what);
        s.apply();
        let written = s.state_json();
        let old =
            state_of_provider_0_1_0(written["lineage"].as_str().unwrap(), written["serial"].as_u64().unwrap() + 1);
        s.replace_state_json(&old);
        let (inventory_before, documents_before) = (s.inventory(), role_documents(&aws));

        let plan = s.plan_is_empty();
        assert!(plan.stdout.contains("No changes."), "{}\n{plan}", context("no changes"));

        s.apply();
        let state = s.state();
        let instance = &state[0];
        assert_eq!(instance.schema_version, 1, "{}: {instance:?}", context("stored at the current version"));
        assert_eq!(instance.attributes["pipeline_account_ids"], json!(["123456789012"]), "{}", context("accounts"));
        assert!(instance.attributes.get("pipeline_role_arns").is_none(), "{}: {instance:?}", context("old attribute"));
        inventory_before.assert_unchanged(&s.inventory(), &context("the roles were not touched"));
        assert_eq!(role_documents(&aws), documents_before, "{}", context("the roles' documents were not touched"));
        s.destroy();
    }
}
