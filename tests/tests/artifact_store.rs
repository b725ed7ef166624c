//! `bokbasen_artifact_store` end to end: the registry example makes the
//! bucket and its KMS key with both policies, rotation, encryption and the
//! public access block; an environment account added in place; a bucket
//! policy replaced out of band shown and repaired; import by bucket name;
//! destroy refused while the bucket holds objects, then done with
//! `force_destroy` (the key scheduled for deletion); a bucket that exists
//! already is refused and left untouched; a create failing half way removes
//! what it made.

use bokbasen_e2e::{terraform_binaries, workspace_root, LocalAws, TerraformBinary, TerraformRun, WorkDir};
use serde_json::{json, Value};

const BUCKET: &str = "bokbasen-pipeline-artifacts";

/// The example's provider, pointed at the local endpoint (an override file
/// merges into it, so the example itself is applied unchanged).
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
  endpoint_url = var.endpoint_url
}
"#;

fn example() -> String {
    std::fs::read_to_string(workspace_root().join("examples/resources/bokbasen_artifact_store/resource.tf"))
        .expect("read example")
}

/// The store as S3 and KMS hold it: buckets; the bucket's policy Sids, the
/// principals and conditions of its grants, encryption, versioning, public
/// access block, tags and object count; every customer key with its state,
/// policy grants, rotation and tags; the bokbasen aliases.
fn inventory(aws: &LocalAws) -> Value {
    aws.boto3(&format!(
        r#"
BUCKET = "{BUCKET}"
s3 = client("s3")
kms = client("kms")
def as_list(v):
    return [v] if isinstance(v, str) else list(v)
def grants(policy):
    out = {{}}
    for s in policy["Statement"]:
        p = s.get("Principal")
        principals = sorted(as_list(p["AWS"])) if isinstance(p, dict) and "AWS" in p else as_list(p)
        roles = sorted(as_list(s.get("Condition", {{}}).get("ArnLike", {{}}).get("aws:PrincipalArn", [])))
        out[s.get("Sid", "")] = {{"effect": s["Effect"], "principals": principals, "roles": roles, "actions": sorted(as_list(s["Action"]))}}
    return out
result = {{"buckets": sorted(b["Name"] for b in s3.list_buckets().get("Buckets", []))}}
if BUCKET in result["buckets"]:
    bucket = {{}}
    try:
        bucket["policy"] = grants(json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"]))
    except ClientError:
        bucket["policy"] = None
    try:
        rule = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
        default = rule["ApplyServerSideEncryptionByDefault"]
        bucket["encryption"] = {{"algorithm": default["SSEAlgorithm"], "key": default.get("KMSMasterKeyID"), "bucket_key": rule.get("BucketKeyEnabled", False)}}
    except ClientError:
        bucket["encryption"] = None
    bucket["versioning"] = s3.get_bucket_versioning(Bucket=BUCKET).get("Status")
    try:
        bucket["public_access_block"] = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    except ClientError:
        bucket["public_access_block"] = None
    try:
        bucket["tags"] = {{t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}}
    except ClientError:
        bucket["tags"] = {{}}
    listed = s3.list_object_versions(Bucket=BUCKET)
    bucket["objects"] = len(listed.get("Versions", [])) + len(listed.get("DeleteMarkers", []))
    result["bucket"] = bucket
keys = {{}}
for k in kms.list_keys()["Keys"]:
    meta = kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
    if meta.get("KeyManager") != "CUSTOMER":
        continue
    key = {{"arn": meta["Arn"], "state": meta["KeyState"], "description": meta.get("Description", "")}}
    if meta["KeyState"] == "Enabled":
        key["policy"] = grants(json.loads(kms.get_key_policy(KeyId=k["KeyId"], PolicyName="default")["Policy"]))
        key["rotation"] = kms.get_key_rotation_status(KeyId=k["KeyId"])["KeyRotationEnabled"]
        key["tags"] = {{t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=k["KeyId"])["Tags"]}}
    keys[k["KeyId"]] = key
result["keys"] = keys
result["aliases"] = {{a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"] if a["AliasName"].startswith("alias/bokbasen/")}}
print(json.dumps(result))
"#
    ))
}

fn roots(accounts: &[&str]) -> Value {
    json!(accounts.iter().map(|a| format!("arn:aws:iam::{a}:root")).collect::<Vec<_>>())
}

fn roles(accounts: &[&str]) -> Value {
    json!(accounts.iter().map(|a| format!("arn:aws:iam::{a}:role/bokbasen/*")).collect::<Vec<_>>())
}

/// Both policies grant exactly `accounts`' bokbasen roles.
fn assert_grants(found: &Value, key_id: &str, accounts: &[&str], context: &str) {
    let policy = &found["bucket"]["policy"];
    for sid in ["EnvironmentsReadArtifacts", "EnvironmentsListArtifacts"] {
        assert_eq!(policy[sid]["principals"], roots(accounts), "{context}: {sid} principals\n{found:#}");
        assert_eq!(policy[sid]["roles"], roles(accounts), "{context}: {sid} condition");
    }
    assert_eq!(policy["TlsOnly"]["effect"], "Deny", "{context}: TLS only\n{found:#}");
    let key = &found["keys"][key_id]["policy"];
    assert_eq!(key["AccountAdministers"]["principals"], roots(&["123456789012"]), "{context}: key admin");
    assert_eq!(key["EnvironmentsDecryptArtifacts"]["principals"], roots(accounts), "{context}: decrypt\n{found:#}");
    assert_eq!(key["EnvironmentsDecryptArtifacts"]["actions"], json!(["kms:Decrypt", "kms:DescribeKey"]));
    assert_eq!(key["EnvironmentsDecryptArtifacts"]["roles"], roles(accounts), "{context}: decrypt condition");
}

fn run(work: &WorkDir, endpoint: &str, args: &[&str]) -> TerraformRun {
    let var = format!("endpoint_url={endpoint}");
    let mut all = vec![args[0], "-no-color", "-var", &var];
    all.extend(&args[1..]);
    work.run(&all)
}

/// Terraform wraps diagnostics at 78 columns: compare with single spaces.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn write(work: &WorkDir, name: &str, contents: &str) {
    std::fs::write(work.path().join(name), contents).expect("write configuration");
}

/// A working directory signing as the endpoint's caller (the documented
/// provisioner policy, enforced).
fn workdir(aws: &LocalAws, tf_binary: &TerraformBinary, main: &str) -> WorkDir {
    let work = aws.workdir(
        tf_binary,
        &[("endpoint.tf", ENDPOINT), ("main.tf", main), ("provider_override.tf", PROVIDER_OVERRIDE)],
    );
    work.init();
    work
}

fn lifecycle(tf_binary: &TerraformBinary) {
    let aws = LocalAws::start();
    let example_tf = example();
    let work = workdir(&aws, tf_binary, &example_tf);
    let endpoint = aws.endpoint();
    let tf = |args: &[&str]| run(&work, &endpoint, args);
    let context = |what: &str| format!("Terraform {}: {what}", tf_binary.version);

    tf(&["apply", "-auto-approve"]).success();
    let made = inventory(&aws);
    assert_eq!(made["buckets"], json!([BUCKET]), "{}", context("the bucket"));
    let keys = made["keys"].as_object().unwrap();
    assert_eq!(keys.len(), 1, "{}: one key\n{made:#}", context("the key"));
    let (key_id, key) = keys.iter().next().unwrap();
    assert_eq!(key["state"], "Enabled");
    assert_eq!(key["description"], format!("bokbasen artifact store {BUCKET}"));
    assert_eq!(key["rotation"], true, "{}", context("rotation"));
    assert_eq!(key["tags"], json!({"bokbasen:artifact-store": BUCKET, "team": "platform"}), "{}", context("key tags"));
    assert_eq!(made["aliases"], json!({ format!("alias/bokbasen/{BUCKET}"): key_id }), "{}", context("alias"));
    let bucket = &made["bucket"];
    assert_eq!(
        bucket["encryption"],
        json!({"algorithm": "aws:kms", "key": key["arn"], "bucket_key": true}),
        "{}",
        context("encryption")
    );
    assert_eq!(bucket["versioning"], "Enabled");
    assert_eq!(
        bucket["public_access_block"],
        json!({"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true}),
        "{}",
        context("public access")
    );
    assert_eq!(bucket["tags"], json!({"bokbasen:artifact-store": BUCKET, "team": "platform"}));
    assert_grants(&made, key_id, &["222222222222", "333333333333"], &context("created"));
    assert_eq!(work.outputs()["artifact_key_arn"], key["arn"], "{}", context("output"));
    let second = tf(&["plan", "-detailed-exitcode"]);
    assert_eq!(second.code, 0, "{}\n{second}", context("second plan empty"));
    assert!(!second.output().contains("changed outside Terraform"), "{}\n{second}", context("no drift warning"));

    // Production added: updated in place, both policies name it.
    let with_production = example_tf.replace(r#""333333333333"]"#, r#""333333333333", "444444444444"]"#);
    assert_ne!(with_production, example_tf);
    write(&work, "main.tf", &with_production);
    let plan = tf(&["plan"]);
    assert!(
        plan.stdout.contains("1 to change, 0 to destroy") && plan.stdout.contains("+ \"444444444444\""),
        "{}\n{plan}",
        context("an account added")
    );
    tf(&["apply", "-auto-approve"]).success();
    let all = ["222222222222", "333333333333", "444444444444"];
    assert_grants(&inventory(&aws), key_id, &all, &context("account added"));
    assert_eq!(tf(&["plan", "-detailed-exitcode"]).code, 0, "{}", context("plan after the update"));

    // The bucket policy replaced out of band: shown on environment_account_ids, and repaired.
    aws.boto3(&format!(
        r#"
policy = {{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::999999999999:root"}}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{BUCKET}/*"}}]}}
client("s3").put_bucket_policy(Bucket="{BUCKET}", Policy=json.dumps(policy))
print("{{}}")
"#
    ));
    let drift = tf(&["plan", "-detailed-exitcode"]);
    assert_eq!(drift.code, 2, "{}\n{drift}", context("drift"));
    assert!(
        drift.stdout.contains("environment_account_ids")
            && drift.stdout.contains("- \"999999999999\"")
            && drift.stdout.contains("+ \"222222222222\""),
        "{}\n{drift}",
        context("drift shown")
    );
    tf(&["apply", "-auto-approve"]).success();
    let repaired = inventory(&aws);
    assert!(!repaired.to_string().contains("999999999999"), "{}\n{repaired:#}", context("repaired"));
    assert_grants(&repaired, key_id, &all, &context("repaired"));
    assert_eq!(tf(&["plan", "-detailed-exitcode"]).code, 0, "{}", context("plan after the repair"));

    // Import by bucket name.
    work.run(&["state", "rm", "bokbasen_artifact_store.artifacts"]).success();
    tf(&["import", "bokbasen_artifact_store.artifacts", BUCKET]).success();
    // (`state rm` takes the output with it: only the output may be planned.)
    let after = tf(&["plan"]);
    assert!(
        after.code == 0 && !after.stdout.contains(" will be ") && !after.stdout.contains(" must be "),
        "{}\n{after}",
        context("plan after import")
    );

    // Destroy refuses a bucket with an object and keeps the state.
    aws.boto3(&format!(
        r#"
client("s3").put_object(Bucket="{BUCKET}", Key="ebook-api-pipeline/BuildOutput/abc.zip", Body=b"artifact")
print("{{}}")
"#
    ));
    let refused = tf(&["destroy", "-auto-approve"]);
    assert_ne!(refused.code, 0, "{}\n{refused}", context("destroy with objects"));
    assert!(
        flat(&refused.stderr).contains("force_destroy") && flat(&refused.stderr).contains("holds 1 object"),
        "{}\n{refused}",
        context("refusal names the count and the argument")
    );
    let listed = work.run(&["state", "list"]).success();
    assert!(listed.stdout.contains("bokbasen_artifact_store.artifacts"), "{}", context("state kept"));
    let kept = inventory(&aws);
    assert_eq!(kept["bucket"]["objects"], 1, "{}", context("object kept"));
    assert_eq!(kept["keys"][key_id]["state"], "Enabled", "{}", context("key kept"));

    // With force_destroy: the bucket goes with its objects, the key is scheduled for deletion.
    write(&work, "main.tf", &with_production.replace("tags = {", "force_destroy = true\n\n  tags = {"));
    tf(&["apply", "-auto-approve"]).success();
    tf(&["destroy", "-auto-approve"]).success();
    let left = inventory(&aws);
    assert_eq!(left["buckets"], json!([]), "{}", context("bucket deleted"));
    assert_eq!(left["keys"][key_id]["state"], "PendingDeletion", "{}\n{left:#}", context("key scheduled"));
    assert_eq!(left["aliases"], json!({}), "{}", context("alias deleted"));
}

#[test]
fn artifact_store_lifecycle() {
    for tf in terraform_binaries() {
        lifecycle(&tf);
    }
}

/// The bucket policy lets an environment account's bokbasen roles read the
/// store's objects, and no other role there, even one whose own policy
/// allows it: across accounts the bucket policy and the role's identity
/// policy must both allow. (Every request to the local endpoint counts as
/// TLS, as the SDKs' requests to AWS are, so the `TlsOnly` denial of plain
/// HTTP cannot be exercised here.)
#[test]
fn only_environment_bokbasen_roles_read_the_store() {
    let tf_binary = terraform_binaries().remove(0);
    let aws = LocalAws::start();
    let work = workdir(&aws, &tf_binary, &example());
    run(&work, &aws.endpoint(), &["apply", "-auto-approve"]).success();
    let reads = aws.boto3(&format!(
        r#"
BUCKET, KEY, ACCOUNT = "{BUCKET}", "ebook-api-pipeline/BuildOutput/abc.zip", "222222222222"
client("s3").put_object(Bucket=BUCKET, Key=KEY, Body=b"artifact")
trust = json.dumps({{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::123456789012:root"}}, "Action": "sts:AssumeRole"}}]}})
read = json.dumps({{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{{BUCKET}}/*"}}]}})
iam = client("iam", assume(ACCOUNT))
def role(name, path, policy):
    arn = iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    if policy:
        iam.put_role_policy(RoleName=name, PolicyName="read", PolicyDocument=policy)
    creds = client("sts").assume_role(RoleArn=arn, RoleSessionName="reader")["Credentials"]
    return boto3.session.Session(
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
def get(session):
    try:
        return client("s3", session).get_object(Bucket=BUCKET, Key=KEY)["Body"].read().decode()
    except ClientError as error:
        return error.response["Error"]["Code"]
print(json.dumps({{
    "bokbasen role": get(role("x-test-cb", "/bokbasen/", read)),
    "role outside /bokbasen/": get(role("x-test-other", "/", read)),
    "bokbasen role its own policy does not let read": get(role("x-test-idle", "/bokbasen/", None)),
}}))
"#
    ));
    assert_eq!(
        reads,
        json!({
            "bokbasen role": "artifact",
            "role outside /bokbasen/": "AccessDenied",
            "bokbasen role its own policy does not let read": "AccessDenied",
        })
    );
    let denied: Vec<String> =
        aws.denials().iter().map(|d| format!("{} {} {}", d.principal, d.action, d.resource)).collect();
    let object = format!("arn:aws:s3:::{BUCKET}/ebook-api-pipeline/BuildOutput/abc.zip");
    assert_eq!(
        denied,
        [
            format!("arn:aws:sts::222222222222:assumed-role/x-test-other/reader s3:GetObject {object}"),
            format!("arn:aws:sts::222222222222:assumed-role/x-test-idle/reader s3:GetObject {object}"),
        ],
        "{:#?}",
        aws.denials()
    );
}

/// A bucket that exists already is never adopted: create fails pointing at
/// import, makes nothing, and leaves the bucket as it was; import refuses it
/// too, since bokbasen did not make it.
#[test]
fn an_existing_bucket_is_refused_and_left_untouched() {
    let tf_binary = terraform_binaries().remove(0);
    let aws = LocalAws::start();
    let before = aws.boto3(&format!(
        r#"
s3 = client("s3")
s3.create_bucket(Bucket="{BUCKET}", CreateBucketConfiguration={{"LocationConstraint": REGION}})
s3.put_bucket_tagging(Bucket="{BUCKET}", Tagging={{"TagSet": [{{"Key": "owner", "Value": "someone-else"}}]}})
s3.put_object(Bucket="{BUCKET}", Key="theirs.txt", Body=b"theirs")
print("{{}}")
"#
    ));
    assert_eq!(before, json!({}));
    let original = inventory(&aws);
    let work = workdir(&aws, &tf_binary, &example());
    let endpoint = aws.endpoint();
    let apply = run(&work, &endpoint, &["apply", "-auto-approve"]);
    assert_ne!(apply.code, 0, "{apply}");
    assert!(
        flat(&apply.stderr).contains("already exists")
            && flat(&apply.stderr).contains(&format!("terraform import <address> {BUCKET}"))
            && flat(&apply.stderr).contains("Nothing was created"),
        "{apply}"
    );
    assert_eq!(inventory(&aws), original, "the bucket is untouched and no key was made");
    assert_eq!(original["keys"], json!({}));

    let import = run(&work, &endpoint, &["import", "bokbasen_artifact_store.artifacts", BUCKET]);
    assert_ne!(import.code, 0, "{import}");
    assert!(
        flat(&import.stderr).contains("not an artifact store bokbasen made")
            && flat(&import.stderr).contains("bokbasen:artifact-store"),
        "{import}"
    );
    assert_eq!(inventory(&aws), original, "import changed nothing");
}

/// A create failing half way (the alias refused) removes the bucket and
/// schedules the key it made for deletion, and says so; the next apply
/// succeeds.
#[test]
fn a_create_failing_half_way_removes_what_it_made() {
    let tf_binary = terraform_binaries().remove(0);
    let aws = LocalAws::start();
    let work = workdir(&aws, &tf_binary, &example());
    let endpoint = aws.endpoint();
    // A code no SDK retries (LimitExceededException counts as throttling).
    aws.inject_fault("kms:CreateAlias", 400, "AlreadyExistsException", "The alias exists (injected).", Some(1));
    let apply = run(&work, &endpoint, &["apply", "-auto-approve"]);
    assert_ne!(apply.code, 0, "{apply}");
    assert!(
        flat(&apply.stderr).contains("The alias exists (injected)")
            && flat(&apply.stderr).contains("Everything created by this attempt was removed again")
            && flat(&apply.stderr).contains("scheduled for deletion in 30 days"),
        "{apply}"
    );
    let left = inventory(&aws);
    assert_eq!(left["buckets"], json!([]), "{left:#}");
    let states: Vec<&Value> = left["keys"].as_object().unwrap().values().map(|k| &k["state"]).collect();
    assert_eq!(states, [&json!("PendingDeletion")], "{left:#}");
    assert_eq!(left["aliases"], json!({}));
    assert!(!work.run(&["state", "list"]).stdout.contains("bokbasen_artifact_store"), "nothing in state");

    run(&work, &endpoint, &["apply", "-auto-approve"]).success();
    let made = inventory(&aws);
    assert_eq!(made["buckets"], json!([BUCKET]));
    assert_eq!(made["aliases"].as_object().unwrap().len(), 1);
}

/// Bad arguments are refused at plan with their attribute, nothing made.
#[test]
fn invalid_artifact_store_is_refused_at_plan() {
    let tf_binary = terraform_binaries().remove(0);
    let aws = LocalAws::start();
    let config = r#"
provider "bokbasen" {
  region = "eu-north-1"
}

resource "bokbasen_artifact_store" "bad" {
  bucket                   = "Not_A_Bucket"
  environment_account_ids  = ["222222222222", "12345"]
  key_deletion_window_days = 3
}
"#;
    let work = workdir(&aws, &tf_binary, config);
    let plan = run(&work, &aws.endpoint(), &["plan"]);
    assert_ne!(plan.code, 0, "{plan}");
    for expected in [
        "Invalid bucket",
        "bucket                   = \"Not_A_Bucket\"",
        "Invalid environment_account_ids",
        "\"12345\" is not a 12-digit AWS account ID",
        "Invalid key_deletion_window_days",
        "7–30 days",
    ] {
        assert!(plan.stderr.contains(expected), "missing {expected:?}\n{plan}");
    }
    assert_eq!(inventory(&aws)["buckets"], json!([]), "nothing was made");
}
