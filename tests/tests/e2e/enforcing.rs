//! The enforcing local endpoint: IAM authorization on, as in AWS. A caller's
//! identity policy is checked against the ARN each request acts on, a role's
//! trust policy (account root + `aws:PrincipalArn` condition, external id)
//! against the caller assuming it, and every name of a request naming
//! several must be allowed. Refusals are AWS's AccessDenied naming principal,
//! action and resource, and are recorded by the launcher. Unknown access keys
//! are refused. One Terraform run shows the provider's own requests signed
//! and checked, and a refusal failing the run's `success()` with the action,
//! principal and resource. The default endpoint holds the caller to the
//! documented policy.

use bokbasen_e2e::local_aws::{CALLER_USER, TOOLING_ACCOUNT};
use bokbasen_e2e::{documented_caller_policy, terraform_binaries, Denial, LocalAws};
use serde_json::{json, Value};

const CALLER_ARN: &str = "arn:aws:iam::123456789012:user/bokbasen-terraform";
const TEST_ACCOUNT: &str = "222222222222";

fn allow(actions: &[&str], resources: &[&str]) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}]})
}

/// `{"code", "message"}` of the AWS error a script's call answered, or the result.
const CALL: &str = r#"
def call(f):
    try:
        return {"ok": f()}
    except ClientError as error:
        return {"code": error.response["Error"]["Code"], "message": error.response["Error"].get("Message", "")}
"#;

#[test]
fn a_user_may_read_only_the_parameter_its_policy_names() {
    let allowed = "arn:aws:ssm:eu-north-1:123456789012:parameter/config/ebook-api_test/server.port";
    let aws = LocalAws::start_enforcing(allow(&["ssm:GetParameter"], &[allowed]));
    assert!(aws.is_enforcing());
    aws.boto3(
        r#"
ssm = client("ssm")
for name in ["server.port", "db.url"]:
    ssm.put_parameter(Name=f"/config/ebook-api_test/{name}", Value="8080", Type="String")
print("{}")
"#,
    );
    let result = aws.boto3_as_caller(&format!(
        r#"{CALL}
ssm, iam = client("ssm"), client("iam")
print(json.dumps({{
    "allowed": call(lambda: ssm.get_parameter(Name="/config/ebook-api_test/server.port")["Parameter"]["Value"]),
    "other": call(lambda: ssm.get_parameter(Name="/config/ebook-api_test/db.url")),
    "create_role": call(lambda: iam.create_role(RoleName="x", Path="/bokbasen/", AssumeRolePolicyDocument="{{}}")),
    "who": client("sts").get_caller_identity()["Arn"],
}}))
"#
    ));
    assert_eq!(result["who"], CALLER_ARN, "the caller is the bokbasen-terraform user");
    assert_eq!(result["allowed"], json!({"ok": "8080"}), "{result}");
    let other = "arn:aws:ssm:eu-north-1:123456789012:parameter/config/ebook-api_test/db.url";
    assert_eq!(result["other"]["code"], "AccessDeniedException", "{result}");
    let message = result["other"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "User: {CALLER_ARN} is not authorized to perform: ssm:GetParameter on resource: {other}"
        )),
        "{message}"
    );
    assert_eq!(result["create_role"]["code"], "AccessDenied", "{result}");
    let role = "arn:aws:iam::123456789012:role/bokbasen/x";
    assert!(result["create_role"]["message"]
        .as_str()
        .unwrap()
        .contains(&format!("iam:CreateRole on resource: {role}")));

    let denials = aws.denials();
    let brief: Vec<(&str, &str, &str)> =
        denials.iter().map(|d| (d.principal.as_str(), d.action.as_str(), d.resource.as_str())).collect();
    assert_eq!(brief, [(CALLER_ARN, "ssm:GetParameter", other), (CALLER_ARN, "iam:CreateRole", role)], "{denials:?}");
    assert!(denials[0].reason.contains("no identity-based policy allows"), "{denials:?}");
    aws.reset_denials();
    assert_eq!(aws.denials(), Vec::<Denial>::new());
}

/// Roles in the tooling account that may assume anything under `/bokbasen/`
/// in the Test account, and one that may not; the deployer in the Test account
/// trusts the tooling account's `*-pipeline` roles only (root + ArnLike).
const TRUST_SETUP: &str = r#"
ALLOW_ASSUME = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::222222222222:role/bokbasen/*"}]})
TOOLING_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]})
iam = client("iam")
for name, policy in [("ebook-api-pipeline", ALLOW_ASSUME), ("ebook-api-build", ALLOW_ASSUME), ("isbn-pipeline", None)]:
    iam.create_role(RoleName=name, Path="/bokbasen/", AssumeRolePolicyDocument=TOOLING_TRUST)
    if policy:
        iam.put_role_policy(RoleName=name, PolicyName="bokbasen", PolicyDocument=policy)
test = client("iam", assume("222222222222"))
test.create_role(RoleName="bokbasen-deployer-test", Path="/bokbasen/", AssumeRolePolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "sts:AssumeRole",
        "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/bokbasen/*-pipeline"}},
    }],
}))
test.put_role_policy(RoleName="bokbasen-deployer-test", PolicyName="bokbasen", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Action": ["codebuild:CreateProject", "codebuild:BatchGetProjects"],
        "Resource": "arn:aws:codebuild:eu-north-1:222222222222:project/*-test-*",
    }],
}))
test.create_role(RoleName="bokbasen-provisioner-test", Path="/bokbasen/", AssumeRolePolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/bokbasen/ebook-api-build"},
            "StringEquals": {"sts:ExternalId": "ebook-4711"},
        },
    }],
}))

def session(credentials):
    return boto3.session.Session(
        region_name=REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )

def as_role(arn, via=None, **extra):
    return session(client("sts", via).assume_role(RoleArn=arn, RoleSessionName="e2e", **extra)["Credentials"])
"#;

#[test]
fn trust_by_account_root_with_a_principal_arn_condition() {
    let aws = LocalAws::start_enforcing(allow(&["ssm:GetParameter"], &["*"]));
    let result = aws.boto3(&format!(
        r#"{TRUST_SETUP}{CALL}
deployer = "arn:aws:iam::222222222222:role/bokbasen/bokbasen-deployer-test"
provisioner = "arn:aws:iam::222222222222:role/bokbasen/bokbasen-provisioner-test"
pipeline = as_role("arn:aws:iam::123456789012:role/bokbasen/ebook-api-pipeline")
build = as_role("arn:aws:iam::123456789012:role/bokbasen/ebook-api-build")
no_permission = as_role("arn:aws:iam::123456789012:role/bokbasen/isbn-pipeline")
print(json.dumps({{
    "matching": call(lambda: client("sts", as_role(deployer, pipeline)).get_caller_identity()["Arn"]),
    "not_matching": call(lambda: as_role(deployer, build) and "assumed"),
    "matching_without_identity_permission": call(lambda: as_role(deployer, no_permission) and "assumed"),
    "external_id": call(lambda: client("sts", as_role(provisioner, build, ExternalId="ebook-4711")).get_caller_identity()["Account"]),
    "wrong_external_id": call(lambda: as_role(provisioner, build, ExternalId="other") and "assumed"),
    "no_external_id": call(lambda: as_role(provisioner, build) and "assumed"),
    "missing_role": call(lambda: as_role("arn:aws:iam::222222222222:role/bokbasen/nobody", pipeline) and "assumed"),
}}))
"#
    ));
    assert_eq!(
        result["matching"],
        json!({"ok": "arn:aws:sts::222222222222:assumed-role/bokbasen-deployer-test/e2e"}),
        "{result}"
    );
    for case in
        ["not_matching", "matching_without_identity_permission", "wrong_external_id", "no_external_id", "missing_role"]
    {
        assert_eq!(result[case]["code"], "AccessDenied", "{case}: {result}");
        assert!(
            result[case]["message"]
                .as_str()
                .unwrap()
                .contains("sts:AssumeRole on resource: arn:aws:iam::222222222222:role/bokbasen/"),
            "{case}: {result}"
        );
    }
    assert!(
        result["not_matching"]["message"]
            .as_str()
            .unwrap()
            .starts_with("User: arn:aws:sts::123456789012:assumed-role/ebook-api-build/e2e is not authorized"),
        "{result}"
    );
    assert_eq!(result["external_id"], json!({"ok": TEST_ACCOUNT}), "{result}");
    let refused: Vec<String> = aws.denials().into_iter().map(|d| format!("{} {}", d.principal, d.action)).collect();
    assert_eq!(refused.len(), 5, "{refused:?}");
}

#[test]
fn an_assumed_role_may_act_only_on_the_resources_its_policy_names() {
    let aws = LocalAws::start_enforcing(allow(&["ssm:GetParameter"], &["*"]));
    let result = aws.boto3(&format!(
        r#"{TRUST_SETUP}{CALL}
pipeline = as_role("arn:aws:iam::123456789012:role/bokbasen/ebook-api-pipeline")
codebuild = client("codebuild", as_role("arn:aws:iam::222222222222:role/bokbasen/bokbasen-deployer-test", pipeline))
print(json.dumps({{
    "in_scope": call(lambda: create_project(codebuild, "ebook-api-test-migrate", "222222222222")["name"]),
    "out_of_scope": call(lambda: create_project(codebuild, "ebook-api-production-migrate", "222222222222")["name"]),
    "batch_in_scope": call(lambda: [p["name"] for p in codebuild.batch_get_projects(names=["ebook-api-test-migrate"])["projects"]]),
    "batch_one_outside": call(lambda: codebuild.batch_get_projects(names=["ebook-api-test-migrate", "ebook-api-stage-migrate"])["projects"] and "read"),
}}))
"#
    ));
    assert_eq!(result["in_scope"], json!({"ok": "ebook-api-test-migrate"}), "{result}");
    assert_eq!(result["batch_in_scope"], json!({"ok": ["ebook-api-test-migrate"]}), "{result}");
    let principal = "arn:aws:sts::222222222222:assumed-role/bokbasen-deployer-test/e2e";
    for (case, action, project) in [
        ("out_of_scope", "codebuild:CreateProject", "ebook-api-production-migrate"),
        ("batch_one_outside", "codebuild:BatchGetProjects", "ebook-api-stage-migrate"),
    ] {
        let arn = format!("arn:aws:codebuild:eu-north-1:222222222222:project/{project}");
        assert_eq!(result[case]["code"], "AccessDeniedException", "{case}: {result}");
        assert!(
            result[case]["message"]
                .as_str()
                .unwrap()
                .starts_with(&format!("User: {principal} is not authorized to perform: {action} on resource: {arn}")),
            "{case}: {result}"
        );
        assert!(
            aws.denials().iter().any(|d| d.principal == principal && d.action == action && d.resource == arn),
            "{case}: {:?}",
            aws.denials()
        );
    }
}

/// CreateBucket with `Tags` in its CreateBucketConfiguration needs
/// s3:TagResource on the bucket besides s3:CreateBucket (S3 API reference,
/// CreateBucketConfiguration); without tags, s3:CreateBucket is enough.
#[test]
fn a_bucket_created_with_tags_needs_s3_tag_resource_too() {
    let aws = LocalAws::start_enforcing(allow(&["s3:CreateBucket"], &["arn:aws:s3:::*"]));
    let script = |bucket: &str| {
        format!(
            r#"{CALL}
s3 = client("s3")
location = {{"LocationConstraint": REGION}}
tagged = {{**location, "Tags": [{{"Key": "bokbasen:owner", "Value": "bokbasen_artifact_store/{bucket}"}}]}}
print(json.dumps({{
    "with_tags": call(lambda: s3.create_bucket(Bucket="{bucket}", CreateBucketConfiguration=tagged)["Location"]),
    "without_tags": call(lambda: s3.create_bucket(Bucket="{bucket}-plain", CreateBucketConfiguration=location)["Location"]),
}}))
"#
        )
    };
    let result = aws.boto3_as_caller(&script("refused-tagged"));
    assert_eq!(result["with_tags"]["code"], "AccessDenied", "{result}");
    assert_eq!(result["without_tags"], json!({"ok": "/refused-tagged-plain"}), "{result}");
    let bucket = "arn:aws:s3:::refused-tagged";
    let brief: Vec<(String, String, String)> =
        aws.denials().into_iter().map(|d| (d.principal, d.action, d.resource)).collect();
    assert_eq!(brief, [(CALLER_ARN.to_string(), "s3:TagResource".to_string(), bucket.to_string())]);
    let made = aws.boto3(r#"print(json.dumps(sorted(b["Name"] for b in client("s3").list_buckets()["Buckets"])))"#);
    assert_eq!(made, json!(["refused-tagged-plain"]), "the refused request made no bucket");

    let aws = LocalAws::start_enforcing(allow(&["s3:CreateBucket", "s3:TagResource"], &["arn:aws:s3:::*"]));
    let result = aws.boto3_as_caller(&script("tagged"));
    assert_eq!(result["with_tags"], json!({"ok": "/tagged"}), "{result}");
    assert_eq!(aws.denials(), Vec::<Denial>::new());
}

#[test]
fn unknown_access_keys_are_refused() {
    let aws = LocalAws::start_enforcing(allow(&["*"], &["*"]));
    let result = aws.boto3(&format!(
        r#"{CALL}
stranger = boto3.session.Session(region_name=REGION, aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
print(json.dumps({{
    "sts": call(lambda: client("sts", stranger).get_caller_identity()["Arn"]),
    "iam": call(lambda: client("iam", stranger).list_roles() and "listed"),
    "ssm": call(lambda: client("ssm", stranger).describe_parameters() and "listed"),
}}))
"#
    ));
    for service in ["sts", "iam", "ssm"] {
        assert_eq!(result[service]["code"], "InvalidClientTokenId", "{service}: {result}");
    }
    assert_eq!(aws.denials(), Vec::<Denial>::new(), "refused before authorization");
}

/// The provider's own requests (Rust SDK signatures, its AssumeRole through
/// `assume_role`) against the enforcing endpoint, as the bokbasen-terraform
/// user: the role its policy names is assumed, another is refused naming the
/// user, the action and the role.
#[test]
fn terraform_runs_as_the_caller_and_a_denial_fails_naming_action_and_principal() {
    let tf = terraform_binaries().remove(0);
    let role = |account: &str| format!("arn:aws:iam::{account}:role/OrganizationAccountAccessRole");
    let aws = LocalAws::start_enforcing(allow(&["sts:AssumeRole"], &[&role(TEST_ACCOUNT)]));
    let work = aws.workdir_from_example(&tf, "caller-identity");
    work.init();
    let endpoint = format!("endpoint_url={}", aws.endpoint());
    let apply = |account: &str| {
        let role_arn = format!("role_arn={}", role(account));
        work.run(&["apply", "-auto-approve", "-no-color", "-var", &endpoint, "-var", &role_arn])
    };
    apply(TEST_ACCOUNT).success();
    assert_eq!(work.outputs()["account_id"], TEST_ACCOUNT);
    let refused = apply("333333333333");
    assert_ne!(refused.code, 0, "{refused}");
    let expected = format!(
        "User: arn:aws:iam::{TOOLING_ACCOUNT}:user/{CALLER_USER} is not authorized to perform: sts:AssumeRole on resource: {}",
        role("333333333333")
    );
    assert!(refused.output().replace('\n', " ").contains(&expected), "{expected}\n{refused}");
    assert_eq!(
        aws.denials().iter().map(|d| (d.action.as_str(), d.resource.clone())).collect::<Vec<_>>(),
        [("sts:AssumeRole", role("333333333333"))]
    );

    // The run carries its refusals, and `success()` fails naming them first.
    let caller = format!("arn:aws:iam::{TOOLING_ACCOUNT}:user/{CALLER_USER}");
    let brief: Vec<(&str, &str, &str)> =
        refused.denials.iter().map(|d| (d.action.as_str(), d.principal.as_str(), d.resource.as_str())).collect();
    assert_eq!(brief, [("sts:AssumeRole", caller.as_str(), role("333333333333").as_str())], "{refused}");
    let panic = std::panic::catch_unwind(|| refused.success()).err().expect("a refused run is no success");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    let first = message.lines().nth(1).unwrap_or_default();
    assert_eq!(
        first.split(" (").next().unwrap(),
        format!("  DENIED sts:AssumeRole by {caller} on {}", role("333333333333")),
        "{message}"
    );
    // A later run is not blamed for an earlier refusal.
    let again = apply(TEST_ACCOUNT);
    assert!(again.denials.is_empty(), "{again}");
    again.success();
}

/// `LocalAws::start()` enforces, the caller holding the documented policy:
/// configuration under `/config`, not elsewhere; the environment accounts'
/// `OrganizationAccountAccessRole`; not the administrator's power.
#[test]
fn the_default_endpoint_holds_the_caller_to_the_documented_policy() {
    let aws = LocalAws::start();
    assert!(aws.is_enforcing());
    let result = aws.boto3_as_caller(&format!(
        r#"{CALL}
ssm = client("ssm")
print(json.dumps({{
    "config": call(lambda: ssm.put_parameter(Name="/config/ebook-api_test/a", Value="1", Type="String")["Version"]),
    "elsewhere": call(lambda: ssm.put_parameter(Name="/other/a", Value="1", Type="String")["Version"]),
    "environment_admin": call(lambda: client("sts", assume("333333333333")).get_caller_identity()["Arn"]),
    "users": call(lambda: client("iam").create_user(UserName="intruder") and "made"),
}}))
"#
    ));
    assert_eq!(result["config"], json!({"ok": 1}), "{result}");
    assert_eq!(result["elsewhere"]["code"], "AccessDeniedException", "{result}");
    assert_eq!(
        result["environment_admin"],
        json!({"ok": "arn:aws:sts::333333333333:assumed-role/OrganizationAccountAccessRole/bokbasen-e2e"}),
        "{result}"
    );
    assert_eq!(result["users"]["code"], "AccessDenied", "{result}");
    let actions: Vec<String> = aws.denials().into_iter().map(|d| d.action).collect();
    assert_eq!(actions, ["ssm:PutParameter", "iam:CreateUser"]);
    assert!(documented_caller_policy().to_string().contains("AdministerEnvironments"));
}
