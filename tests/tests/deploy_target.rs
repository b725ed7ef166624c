//! `bokbasen_deploy_target` end to end: the registry example applied through
//! a provider that assumes a role in the Test account (222222222222) makes
//! its roles there and nowhere else; an update of the kinds in place; trust
//! changed out of band shown and repaired; import by environment; the data
//! source finds the roles; destroy leaves no role behind.

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

/// Roles under `/bokbasen/` in every account, with trust, inline policy Sids and managed policies.
fn roles(aws: &LocalAws) -> Value {
    aws.boto3(
        r#"
result = {}
for account in ["123456789012", "222222222222", "333333333333", "444444444444"]:
    iam = client("iam", None if account == "123456789012" else assume(account))
    roles = {}
    for role in iam.list_roles(PathPrefix="/bokbasen/")["Roles"]:
        name = role["RoleName"]
        trust = role["AssumeRolePolicyDocument"]
        principals = sorted(p for s in trust["Statement"] for p in ([s["Principal"]["AWS"]] if isinstance(s["Principal"]["AWS"], str) else s["Principal"]["AWS"]))
        policy = iam.get_role_policy(RoleName=name, PolicyName="bokbasen")["PolicyDocument"]
        roles[name] = {
            "principals": principals,
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
    let work = WorkDir::new(
        tf_binary,
        &[("endpoint.tf", ENDPOINT), ("main.tf", &example_tf), ("provider_override.tf", PROVIDER_OVERRIDE)],
    );
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
        deployer["principals"],
        json!([
            "arn:aws:iam::123456789012:role/bokbasen/ebook-api-pipeline",
            "arn:aws:iam::123456789012:role/bokbasen/isbn-lookup-pipeline",
            "arn:aws:iam::123456789012:role/ci-terraform"
        ]),
        "{}",
        context("trusted only by the named roles")
    );
    let sids: Vec<&str> = deployer["sids"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    for sid in ["DeployFargate", "DeployLambda", "DeployStaticSite", "ReadEnvironmentConfig", "ReadArtifacts"] {
        assert!(sids.contains(&sid), "{}: {sid} in {sids:?}", context("permissions"));
    }
    assert!(
        !sids.contains(&"DeployBatch") && !sids.contains(&"DeployApiGateway"),
        "{}: only allowed kinds",
        context("permissions")
    );
    assert_eq!(deployer["tags"], json!({"environment": "test"}));
    let devops = &made["222222222222"]["bokbasen-devops-test"];
    assert_eq!(devops["managed"], json!(["arn:aws:iam::aws:policy/ReadOnlyAccess"]), "{}", context("devops reads"));
    assert_eq!(devops["principals"], json!(["arn:aws:iam::123456789012:role/devops"]));
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
    assert!(roles(&aws)["222222222222"]["bokbasen-deployer-test"]["sids"]
        .as_array()
        .unwrap()
        .contains(&json!("DeployBatch")));

    // Trust widened out of band: shown on pipeline_role_arns, and repaired.
    aws.boto3(
        r#"
iam = client("iam", assume("222222222222"))
doc = iam.get_role(RoleName="bokbasen-deployer-test")["Role"]["AssumeRolePolicyDocument"]
doc["Statement"][0]["Principal"]["AWS"].append("arn:aws:iam::999999999999:root")
iam.update_assume_role_policy(RoleName="bokbasen-deployer-test", PolicyDocument=json.dumps(doc))
print("{}")
"#,
    );
    let drift = tf(&["plan", "-detailed-exitcode"]);
    assert_eq!(drift.code, 2, "{}\n{drift}", context("drift"));
    assert!(
        drift.stdout.contains("pipeline_role_arns") && drift.stdout.contains("- \"arn:aws:iam::999999999999:root\""),
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
  provider           = bokbasen.test
  environment        = "Test_Env"
  kinds              = ["fargate", "kubernetes"]
  pipeline_role_arns = ["not-an-arn"]
  devops_read_only   = true
}
"#;
    let work = WorkDir::new(&tf_binary, &[("endpoint.tf", ENDPOINT), ("main.tf", config)]);
    work.init();
    let plan = run(&work, &aws.endpoint(), &["plan"]);
    assert_ne!(plan.code, 0, "{plan}");
    for expected in [
        "Invalid environment",
        "environment        = \"Test_Env\"",
        "Invalid kinds",
        "\"kubernetes\" is not a kind",
        "Invalid pipeline_role_arns",
        "DevOps principals missing",
    ] {
        assert!(plan.stderr.contains(expected), "missing {expected:?}\n{plan}");
    }
    assert_eq!(roles(&aws)["123456789012"], json!({}), "nothing was made");
}
