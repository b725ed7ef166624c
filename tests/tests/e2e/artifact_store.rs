//! `bokbasen_artifact_store` end to end: the registry example makes the
//! bucket and its KMS key with both policies, rotation, encryption and the
//! public access block; an environment account added in place; a bucket
//! policy replaced out of band shown and repaired; import by bucket name;
//! destroy refused while the bucket holds objects, then done with
//! `force_destroy` (the key scheduled for deletion); a bucket that exists
//! already is refused and left untouched; a create failing half way removes
//! what it made.

use bokbasen_e2e::local_aws::TOOLING_ACCOUNT;
use bokbasen_e2e::{example_file, terraform_binaries, Inventory, Kind, LocalAws, Session, TerraformBinary};
use serde_json::{json, Value};

const BUCKET: &str = "bokbasen-pipeline-artifacts";
/// The store's ownership marker on its bucket and key (`bokbasen:owner`).
const MARKER: &str = "bokbasen_artifact_store/bokbasen-pipeline-artifacts";

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
    example_file("resources/bokbasen_artifact_store/resource.tf")
}

/// The store's documents as S3 and KMS hold them (what exists, with tags,
/// object counts and key states, is the inventory's): the bucket's policy
/// Sids with the principals and conditions of their grants, encryption,
/// versioning and public access block; each enabled customer key's ARN,
/// description, policy grants and rotation, by key ID.
fn documents(aws: &LocalAws) -> Value {
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
result = {{}}
if BUCKET in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
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
    result["bucket"] = bucket
keys = {{}}
for k in kms.list_keys()["Keys"]:
    meta = kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
    if meta.get("KeyManager") != "CUSTOMER" or meta["KeyState"] != "Enabled":
        continue
    keys[k["KeyId"]] = {{
        "arn": meta["Arn"],
        "description": meta.get("Description", ""),
        "policy": grants(json.loads(kms.get_key_policy(KeyId=k["KeyId"], PolicyName="default")["Policy"])),
        "rotation": kms.get_key_rotation_status(KeyId=k["KeyId"])["KeyRotationEnabled"],
    }}
result["keys"] = keys
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

/// Terraform wraps diagnostics at 78 columns: compare with single spaces.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A session over `main` with the provider pointed at the endpoint, signing
/// as its caller (the documented provisioner policy, enforced).
fn session<'a>(aws: &'a LocalAws, tf_binary: &TerraformBinary, main: &str) -> Session<'a> {
    Session::new(
        aws,
        tf_binary,
        &[("endpoint.tf", ENDPOINT), ("main.tf", main), ("provider_override.tf", PROVIDER_OVERRIDE)],
    )
}

/// The tooling account's only KMS key.
fn only_key(inventory: &Inventory) -> &bokbasen_e2e::AwsObject {
    let keys: Vec<_> = inventory.objects().iter().filter(|o| o.kind == Kind::KmsKey).collect();
    assert_eq!(keys.len(), 1, "one key\n{inventory}");
    keys[0]
}

fn lifecycle(tf_binary: &TerraformBinary) {
    let aws = LocalAws::start();
    let example_tf = example();
    let s = session(&aws, tf_binary, &example_tf);
    let context = |what: &str| s.context(what);

    s.apply();
    let made = s.inventory();
    let key = only_key(&made);
    let key_id = key.name.clone();
    assert_eq!(
        made.list(),
        [format!("{TOOLING_ACCOUNT} s3-bucket {BUCKET}"), format!("{TOOLING_ACCOUNT} kms-key {key_id}")],
        "{}: the bucket and its key, nothing else\n{made}",
        context("created")
    );
    assert_eq!(key.key_state.as_deref(), Some("Enabled"));
    let tags = [("bokbasen:owner", MARKER), ("team", "platform")].map(|(k, v)| (k.to_owned(), v.to_owned()));
    assert_eq!(key.tags, tags.clone().into(), "{}", context("key tags"));
    assert_eq!(key.aliases, [format!("alias/bokbasen/{BUCKET}")], "{}", context("alias"));
    let bucket = made.get(TOOLING_ACCOUNT, Kind::Bucket, BUCKET).unwrap();
    assert_eq!(bucket.tags, tags.into(), "{}", context("bucket tags"));
    let found = documents(&aws);
    let key_documents = &found["keys"][&key_id];
    assert_eq!(key_documents["description"], format!("bokbasen artifact store {BUCKET}"));
    assert_eq!(key_documents["rotation"], true, "{}", context("rotation"));
    let bucket = &found["bucket"];
    assert_eq!(
        bucket["encryption"],
        json!({"algorithm": "aws:kms", "key": key_documents["arn"], "bucket_key": true}),
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
    assert_grants(&found, &key_id, &["222222222222", "333333333333"], &context("created"));
    assert_eq!(s.outputs()["artifact_key_arn"], key_documents["arn"], "{}", context("output"));
    let second = s.plan_is_empty();
    assert!(!second.output().contains("changed outside Terraform"), "{}\n{second}", context("no drift warning"));

    // Production added: updated in place, both policies name it.
    let with_production = example_tf.replace(r#""333333333333"]"#, r#""333333333333", "444444444444"]"#);
    assert_ne!(with_production, example_tf);
    s.write("main.tf", &with_production);
    let plan = s.plan(&[]);
    assert!(
        plan.stdout.contains("1 to change, 0 to destroy") && plan.stdout.contains("+ \"444444444444\""),
        "{}\n{plan}",
        context("an account added")
    );
    s.apply();
    let all = ["222222222222", "333333333333", "444444444444"];
    assert_grants(&documents(&aws), &key_id, &all, &context("account added"));
    s.plan_is_empty();

    // The bucket policy replaced out of band: shown on environment_account_ids, and repaired.
    aws.boto3(&format!(
        r#"
policy = {{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::999999999999:root"}}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{BUCKET}/*"}}]}}
client("s3").put_bucket_policy(Bucket="{BUCKET}", Policy=json.dumps(policy))
print("{{}}")
"#
    ));
    let drift = s.plan_with_changes();
    assert!(
        drift.stdout.contains("environment_account_ids")
            && drift.stdout.contains("- \"999999999999\"")
            && drift.stdout.contains("+ \"222222222222\""),
        "{}\n{drift}",
        context("drift shown")
    );
    s.apply();
    let repaired = documents(&aws);
    assert!(!repaired.to_string().contains("999999999999"), "{}\n{repaired:#}", context("repaired"));
    assert_grants(&repaired, &key_id, &all, &context("repaired"));
    s.plan_is_empty();

    // Import by bucket name.
    s.state_rm("bokbasen_artifact_store.artifacts");
    s.import("bokbasen_artifact_store.artifacts", BUCKET);
    // (`state rm` takes the output with it: only the output may be planned.)
    let after = s.plan(&[]);
    assert!(
        !after.stdout.contains(" will be ") && !after.stdout.contains(" must be "),
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
    let refused = s.destroy_failing();
    assert!(
        flat(&refused.stderr).contains("force_destroy") && flat(&refused.stderr).contains("holds 1 object"),
        "{}\n{refused}",
        context("refusal names the count and the argument")
    );
    assert!(s.state_addresses().contains(&"bokbasen_artifact_store.artifacts".to_owned()), "{}", context("state kept"));
    let kept = s.inventory();
    assert_eq!(
        kept.get(TOOLING_ACCOUNT, Kind::Bucket, BUCKET).unwrap().contents,
        Some(1),
        "{}",
        context("object kept")
    );
    assert_eq!(only_key(&kept).key_state.as_deref(), Some("Enabled"), "{}", context("key kept"));

    // With force_destroy: the bucket goes with its objects, the key is scheduled for deletion.
    s.write("main.tf", &with_production.replace("tags = {", "force_destroy = true\n\n  tags = {"));
    s.apply();
    s.destroy();
    let left = s.inventory();
    assert!(left.live().is_empty(), "{}: nothing but the key scheduled for deletion\n{left}", context("destroyed"));
    let key = only_key(&left);
    assert_eq!(
        (key.name.as_str(), key.key_state.as_deref()),
        (key_id.as_str(), Some("PendingDeletion")),
        "{}",
        context("key scheduled")
    );
    assert_eq!(key.aliases, Vec::<String>::new(), "{}", context("alias deleted"));
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
    session(&aws, &tf_binary, &example()).apply();
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

/// A bucket that exists already without the store's marker is never
/// adopted: create fails pointing at import, makes nothing, and leaves the
/// bucket as it was; import refuses it too, since it has no KMS key.
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
    let s = session(&aws, &tf_binary, &example());
    let original = s.inventory();
    let apply = s.apply_failing();
    assert!(
        flat(&apply.stderr).contains(&format!("S3 bucket {BUCKET} in account 123456789012 has no bokbasen:owner tag"))
            && flat(&apply.stderr).contains(&format!("terraform import ADDRESS {BUCKET}"))
            && flat(&apply.stderr).contains("nothing was created"),
        "{apply}"
    );
    original.assert_unchanged(&s.inventory(), "the bucket is untouched and no key was made");
    assert_eq!(original.list(), [format!("{TOOLING_ACCOUNT} s3-bucket {BUCKET}")], "{original}");

    let import = s.import_failing("bokbasen_artifact_store.artifacts", BUCKET);
    assert!(
        flat(&import.stderr).contains("cannot be imported as an artifact store")
            && flat(&import.stderr).contains("not SSE-KMS"),
        "{import}"
    );
    original.assert_unchanged(&s.inventory(), "import changed nothing");
}

/// A create failing half way (the alias refused) removes the bucket and
/// schedules the key it made for deletion, and says so; the next apply
/// succeeds.
#[test]
fn a_create_failing_half_way_removes_what_it_made() {
    let tf_binary = terraform_binaries().remove(0);
    let aws = LocalAws::start();
    let s = session(&aws, &tf_binary, &example());
    // A code no SDK retries (LimitExceededException counts as throttling).
    aws.inject_fault("kms:CreateAlias", 400, "AlreadyExistsException", "The alias exists (injected).", Some(1));
    let apply = s.apply_failing();
    assert!(
        flat(&apply.stderr).contains("The alias exists (injected)")
            && flat(&apply.stderr).contains("Everything created by this attempt was removed again")
            && flat(&apply.stderr).contains("scheduled for deletion in 30 days"),
        "{apply}"
    );
    let left = s.inventory();
    assert!(left.live().is_empty(), "nothing but the key scheduled for deletion\n{left}");
    let key = only_key(&left);
    assert_eq!(key.key_state.as_deref(), Some("PendingDeletion"), "{left}");
    assert_eq!(key.aliases, Vec::<String>::new(), "{left}");
    assert_eq!(s.state_addresses(), Vec::<String>::new(), "nothing in state");

    s.apply();
    let made = s.inventory();
    assert_eq!(made.names(TOOLING_ACCOUNT, Kind::Bucket), [BUCKET], "{made}");
    let aliases: usize = made.live().objects().iter().map(|o| o.aliases.len()).sum();
    assert_eq!(aliases, 1, "{made}");
    assert_eq!(made.duplicates(), Vec::<String>::new(), "one live key");
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
    let s = session(&aws, &tf_binary, config);
    let plan = s.plan_failing();
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
    assert!(s.inventory().is_empty(), "nothing was made");
}
