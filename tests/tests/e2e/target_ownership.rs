//! The deploy target and the artifact store touch only what is theirs
//! (`bokbasen:owner`): a role of the wanted name made by someone else stops
//! a create with nothing changed, and is taken over by import; a create
//! that fails half way removes exactly what that attempt made; destroy and
//! an apply without the DevOps role leave another owner's DevOps role
//! alone; a store whose create was interrupted after the bucket and key is
//! taken over without a second key.
//!
//! The endpoint enforces IAM: Terraform signs as the caller holding the
//! documented policy, and reaches the Test account (222222222222) through
//! its `OrganizationAccountAccessRole`.

use bokbasen_e2e::{terraform_binaries, workspace_root, LocalAws, TerraformRun, WorkDir};
use serde_json::{json, Value};

const MARKER: &str = "bokbasen_deploy_target/test";

/// The Test account's deploy target; the DevOps role and the kinds are
/// variables, so each step changes only them.
const TARGET: &str = concat!(
    bokbasen_e2e::terraform_settings!(),
    r#"
variable "devops" {
  type    = bool
  default = false
}

variable "kinds" {
  type    = list(string)
  default = ["fargate"]
}

provider "bokbasen" {
  region       = "eu-north-1"
  endpoint_url = var.endpoint_url

  assume_role {
    role_arn = "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole"
  }
}

resource "bokbasen_deploy_target" "test" {
  environment          = "test"
  kinds                = var.kinds
  pipeline_account_ids = ["123456789012"]
  devops_read_only     = var.devops
  devops_principals    = var.devops ? ["arn:aws:iam::123456789012:role/devops"] : null

  tags = {
    environment = "test"
  }
}
"#
);

/// Runs Terraform `args` (the command first) with the endpoint and `vars`.
fn tf(work: &WorkDir, aws: &LocalAws, args: &[&str], vars: &[&str]) -> TerraformRun {
    let endpoint = format!("endpoint_url={}", aws.endpoint());
    let mut all = vec![args[0], "-no-color", "-var", &endpoint];
    for var in vars {
        all.extend(["-var", var]);
    }
    all.extend(&args[1..]);
    work.run(&all)
}

fn target_workdir(aws: &LocalAws) -> WorkDir {
    let work = aws.workdir(&terraform_binaries().remove(0), &[("main.tf", TARGET)]);
    work.init();
    work
}

/// The roles under `/bokbasen/` in the Test account: trust, inline
/// policies, tags, managed policies.
fn roles(aws: &LocalAws) -> Value {
    aws.boto3(
        r#"
iam = client("iam", assume("222222222222"))
roles = {}
for role in iam.list_roles(PathPrefix="/bokbasen/")["Roles"]:
    name = role["RoleName"]
    found = iam.get_role(RoleName=name)["Role"]
    policies = {p: iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
                for p in iam.list_role_policies(RoleName=name)["PolicyNames"]}
    roles[name] = {
        "trust": found["AssumeRolePolicyDocument"],
        "policies": policies,
        "tags": {t["Key"]: t["Value"] for t in found.get("Tags", [])},
        "managed": sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]),
    }
print(json.dumps(roles))
"#,
    )
}

/// Makes the role `name` in the Test account as someone else would: a trust
/// of the account, an inline policy `bokbasen`, and `tags`.
fn someone_makes_role(aws: &LocalAws, name: &str, tags: &[(&str, &str)]) {
    let tags: Vec<Value> = tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
    aws.boto3(&format!(
        r#"
iam = client("iam", assume("222222222222"))
trust = {{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::222222222222:root"}}, "Action": "sts:AssumeRole"}}]}}
iam.create_role(RoleName="{name}", Path="/bokbasen/", AssumeRolePolicyDocument=json.dumps(trust), Tags=json.loads('{tags}'))
policy = {{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}}]}}
iam.put_role_policy(RoleName="{name}", PolicyName="bokbasen", PolicyDocument=json.dumps(policy))
print("{{}}")
"#,
        tags = Value::from(tags)
    ));
}

/// An error message with its line breaks and Terraform's box undone.
fn said(text: &str) -> String {
    text.replace('│', " ").split_whitespace().collect::<Vec<_>>().join(" ")
}

fn state_list(work: &WorkDir) -> String {
    work.run(&["state", "list"]).stdout
}

/// The deploy target's attributes in state.
fn target_state(work: &WorkDir) -> Value {
    let shown = work.run(&["show", "-json"]).success();
    let state: Value = serde_json::from_str(&shown.stdout).expect("show -json");
    state["values"]["root_module"]["resources"][0]["values"].clone()
}

#[test]
fn an_unmarked_deployer_role_is_refused_untouched_then_imported_and_marked() {
    let aws = LocalAws::start();
    someone_makes_role(&aws, "bokbasen-deployer-test", &[("team", "theirs")]);
    let before = roles(&aws);
    let work = target_workdir(&aws);

    // With the DevOps role wanted too: nothing is made, the deployer is not changed.
    let refused = tf(&work, &aws, &["apply", "-auto-approve"], &["devops=true"]);
    assert_ne!(refused.code, 0, "{refused}");
    let message = said(&refused.stderr);
    for expected in [
        "The deploy target's role names are taken",
        "IAM role bokbasen-deployer-test in account 222222222222 has no bokbasen:owner tag",
        "Nothing of them was changed, and nothing was created.",
        "terraform import ADDRESS test",
        "bokbasen:owner = bokbasen_deploy_target/test",
    ] {
        assert!(message.contains(expected), "{expected:?} missing from:\n{refused}");
    }
    assert_eq!(roles(&aws), before, "trust, policy and tags untouched; no DevOps role made");
    assert!(!state_list(&work).contains("bokbasen_deploy_target"), "nothing recorded");

    // Handed over by import: the next apply rewrites it and marks it.
    tf(&work, &aws, &["import", "bokbasen_deploy_target.test", "test"], &[]).success();
    tf(&work, &aws, &["apply", "-auto-approve"], &[]).success();
    let after = roles(&aws);
    let deployer = &after["bokbasen-deployer-test"];
    assert_eq!(
        deployer["tags"],
        json!({"environment": "test", "bokbasen:kinds": "fargate", "bokbasen:owner": MARKER}),
        "{after:#}"
    );
    assert_ne!(deployer["trust"], before["bokbasen-deployer-test"]["trust"], "the target's trust: {deployer}");
    assert_ne!(deployer["policies"], before["bokbasen-deployer-test"]["policies"], "the target's policy: {deployer}");
    assert_eq!(after.as_object().unwrap().len(), 1, "{after:#}");
    // The marker is bokbasen's: never among the tags Terraform shows.
    assert_eq!(target_state(&work)["tags"], json!({"environment": "test"}));
    let again = tf(&work, &aws, &["plan", "-detailed-exitcode"], &[]);
    assert_eq!(again.code, 0, "{again}");
}

#[test]
fn a_failed_create_removes_only_what_it_made_and_keeps_a_role_it_took_over() {
    let aws = LocalAws::start_with_aws_managed_policies();
    // The deployer an interrupted apply of this target left, marked as its own.
    someone_makes_role(&aws, "bokbasen-deployer-test", &[("bokbasen:owner", MARKER)]);
    let work = target_workdir(&aws);

    // The second role's policy is refused (the first PutRolePolicy is the deployer's).
    aws.inject_fault_at("iam:PutRolePolicy", 1, 400, "MalformedPolicyDocument", "injected: the DevOps policy fails");
    let failed = tf(&work, &aws, &["apply", "-auto-approve"], &["devops=true"]);
    assert_ne!(failed.code, 0, "{failed}");
    let message = said(&failed.stderr);
    assert!(message.contains("injected: the DevOps policy fails"), "{failed}");
    assert!(
        message.contains("Everything this attempt created was removed again; nothing else was touched."),
        "{failed}"
    );
    let left = roles(&aws);
    let names: Vec<&String> = left.as_object().unwrap().keys().collect();
    assert_eq!(names, ["bokbasen-deployer-test"], "the DevOps role made is removed, the deployer kept: {left:#}");
    assert_eq!(left["bokbasen-deployer-test"]["tags"]["bokbasen:owner"], MARKER);
    assert!(!state_list(&work).contains("bokbasen_deploy_target"), "nothing recorded");

    // The clean-up fails too: what is left stays in state, tainted, and the next apply replaces it.
    aws.inject_fault_at("iam:PutRolePolicy", 1, 400, "MalformedPolicyDocument", "injected: the DevOps policy fails");
    aws.inject_fault("iam:DeleteRole", 409, "DeleteConflict", "injected: the role cannot be deleted", Some(1));
    let failed = tf(&work, &aws, &["apply", "-auto-approve"], &["devops=true"]);
    assert_ne!(failed.code, 0, "{failed}");
    let message = said(&failed.stderr);
    assert!(message.contains("Removing what this attempt created also failed"), "{failed}");
    assert!(message.contains("injected: the role cannot be deleted"), "{failed}");
    assert!(state_list(&work).contains("bokbasen_deploy_target.test"), "what is left is recorded");
    let state = target_state(&work);
    assert_eq!(state["devops_role_arn"], "arn:aws:iam::222222222222:role/bokbasen/bokbasen-devops-test", "{state:#}");
    let left = roles(&aws);
    assert_eq!(left["bokbasen-devops-test"]["tags"]["bokbasen:owner"], MARKER, "{left:#}");

    tf(&work, &aws, &["apply", "-auto-approve"], &["devops=true"]).success();
    let made = roles(&aws);
    for name in ["bokbasen-deployer-test", "bokbasen-devops-test"] {
        assert_eq!(made[name]["tags"]["bokbasen:owner"], MARKER, "{name}: {made:#}");
    }
    assert_eq!(made["bokbasen-devops-test"]["managed"], json!(["arn:aws:iam::aws:policy/ReadOnlyAccess"]));
    let again = tf(&work, &aws, &["plan", "-detailed-exitcode"], &["devops=true"]);
    assert_eq!(again.code, 0, "{again}");
}

#[test]
fn another_owner_s_devops_role_is_left_alone_by_apply_and_destroy() {
    let aws = LocalAws::start();
    let work = target_workdir(&aws);
    tf(&work, &aws, &["apply", "-auto-approve"], &[]).success();
    // Another resource's DevOps role under this target's name.
    someone_makes_role(&aws, "bokbasen-devops-test", &[("bokbasen:owner", "bokbasen_deploy_target/other")]);
    let theirs = roles(&aws)["bokbasen-devops-test"].clone();

    // Without the DevOps role, an update does not remove it: it is not the target's.
    let updated = tf(&work, &aws, &["apply", "-auto-approve"], &[r#"kinds=["fargate","lambda"]"#]).success();
    let output = said(&updated.output());
    assert!(output.contains("Objects of other owners were left alone"), "{updated}");
    assert!(
        output
            .contains("IAM role bokbasen-devops-test in account 222222222222 belongs to bokbasen_deploy_target/other"),
        "{updated}"
    );
    let after = roles(&aws);
    assert_eq!(after["bokbasen-devops-test"], theirs, "untouched");
    assert_eq!(after["bokbasen-deployer-test"]["tags"]["bokbasen:kinds"], "fargate:lambda");

    // Wanting the DevOps role is refused: it is another's.
    let kinds = r#"kinds=["fargate","lambda"]"#;
    let refused = tf(&work, &aws, &["apply", "-auto-approve"], &[kinds, "devops=true"]);
    assert_ne!(refused.code, 0, "{refused}");
    let message = said(&refused.stderr);
    assert!(message.contains("belongs to bokbasen_deploy_target/other"), "{refused}");
    assert!(message.contains("Nothing of them was changed"), "{refused}");
    assert_eq!(roles(&aws), after, "nothing changed");

    let destroyed = tf(&work, &aws, &["destroy", "-auto-approve"], &[kinds]).success();
    assert!(said(&destroyed.output()).contains("Objects of other owners were left alone"), "{destroyed}");
    let left = roles(&aws);
    let names: Vec<&String> = left.as_object().unwrap().keys().collect();
    assert_eq!(names, ["bokbasen-devops-test"], "the deployer is gone, theirs is kept: {left:#}");
    assert_eq!(left["bokbasen-devops-test"], theirs);
}

const BUCKET: &str = "bokbasen-pipeline-artifacts";

/// The artifact store example with its provider pointed at the endpoint.
const STORE_ENDPOINT: &str = r#"
terraform {
  required_providers {
    bokbasen = { source = "bokbasen/bokbasen" }
  }
}

variable "endpoint_url" {
  type = string
}
"#;
const STORE_PROVIDER_OVERRIDE: &str = r#"
provider "bokbasen" {
  endpoint_url = var.endpoint_url
}
"#;

/// The tooling account's keys (state, tags), aliases and the bucket's
/// encryption key and tags.
fn store(aws: &LocalAws) -> Value {
    aws.boto3(&format!(
        r#"
BUCKET = "{BUCKET}"
s3, kms = client("s3"), client("kms")
keys = {{}}
for listed in kms.list_keys()["Keys"]:
    meta = kms.describe_key(KeyId=listed["KeyId"])["KeyMetadata"]
    if meta.get("KeyManager") != "CUSTOMER":
        continue
    tags = {{t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"]}}
    keys[meta["KeyId"]] = {{"state": meta["KeyState"], "arn": meta["Arn"], "tags": tags}}
aliases = {{a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"] if a["AliasName"].startswith("alias/bokbasen/")}}
rule = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
bucket = {{
    "key": rule["ApplyServerSideEncryptionByDefault"].get("KMSMasterKeyID"),
    "tags": {{t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}},
}}
print(json.dumps({{"keys": keys, "aliases": aliases, "bucket": bucket}}))
"#
    ))
}

#[test]
fn a_store_create_interrupted_after_its_bucket_and_key_is_taken_over_without_a_second_key() {
    let aws = LocalAws::start();
    // What a create killed after CreateKey leaves: the bucket and key, marked, no alias yet.
    let marker = format!("bokbasen_artifact_store/{BUCKET}");
    let left = aws.boto3(&format!(
        r#"
s3, kms = client("s3"), client("kms")
s3.create_bucket(Bucket="{BUCKET}", CreateBucketConfiguration={{"LocationConstraint": REGION}})
s3.put_bucket_tagging(Bucket="{BUCKET}", Tagging={{"TagSet": [{{"Key": "bokbasen:owner", "Value": "{marker}"}}]}})
key = kms.create_key(Description="bokbasen artifact store {BUCKET}", Tags=[{{"TagKey": "bokbasen:owner", "TagValue": "{marker}"}}])["KeyMetadata"]
print(json.dumps({{"id": key["KeyId"], "arn": key["Arn"]}}))
"#
    ));
    let example =
        std::fs::read_to_string(workspace_root().join("examples/resources/bokbasen_artifact_store/resource.tf"))
            .expect("read example");
    let work = aws.workdir(
        &terraform_binaries().remove(0),
        &[("endpoint.tf", STORE_ENDPOINT), ("main.tf", &example), ("provider_override.tf", STORE_PROVIDER_OVERRIDE)],
    );
    work.init();
    tf(&work, &aws, &["apply", "-auto-approve"], &[]).success();

    let found = store(&aws);
    let key_id = left["id"].as_str().unwrap();
    let keys: Vec<&String> = found["keys"].as_object().unwrap().keys().collect();
    assert_eq!(keys, [key_id], "the key left is taken over, no second one made: {found:#}");
    let key = &found["keys"][key_id];
    assert_eq!(key["state"], "Enabled");
    assert_eq!(key["tags"], json!({"bokbasen:owner": marker, "team": "platform"}), "{found:#}");
    assert_eq!(found["aliases"], json!({ format!("alias/bokbasen/{BUCKET}"): key_id }), "{found:#}");
    assert_eq!(found["bucket"]["key"], left["arn"], "{found:#}");
    assert_eq!(found["bucket"]["tags"], json!({"bokbasen:owner": marker, "team": "platform"}));
    assert_eq!(work.outputs()["artifact_key_arn"], left["arn"]);
    let again = tf(&work, &aws, &["plan", "-detailed-exitcode"], &[]);
    assert_eq!(again.code, 0, "{again}");
}
