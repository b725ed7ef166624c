//! One test (or a few) per evaluation rule, in bokbasen's own setting: a tooling account
//! running the pipeline and environment accounts receiving deploys.

mod support;

use bokbasen_iam_eval::{evaluate, Decision, Error, Missing, NamedPolicy, Principal, Request, ResourcePolicyKind};
use serde_json::json;
use support::{at, policy, role, role_arn, PRODUCTION, TEST, TOOLING};

const BUCKET: &str = "arn:aws:s3:::bokbasen-artifacts";
const OBJECT: &str = "arn:aws:s3:::bokbasen-artifacts/svc/BuildOutput/abc.zip";
const KEY: &str = "arn:aws:kms:eu-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn allowed(identity: Option<(&str, usize, Option<&str>)>, resource: Option<(&str, usize, Option<&str>)>) -> Decision {
    Decision::Allowed {
        identity: identity.map(|(p, i, s)| at(p, i, s)),
        resource: resource.map(|(p, i, s)| at(p, i, s)),
    }
}

fn implicit(missing: Missing) -> Decision {
    Decision::ImplicitDeny { missing }
}

fn get_object_policy(name: &str) -> NamedPolicy {
    policy(
        name,
        json!([{"Sid": "ReadArtifacts", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": format!("{BUCKET}/*")}]),
    )
}

// ---- explicit deny ----

#[test]
fn explicit_deny_in_an_identity_policy_beats_allows_on_both_sides() {
    let identity = [
        get_object_policy("build"),
        policy(
            "guard",
            json!([{"Sid": "NoArtifacts", "Effect": "Deny", "Action": "s3:*", "Resource": format!("{BUCKET}/*")}]),
        ),
    ];
    let bucket = policy(
        "bucket",
        json!([{"Effect": "Allow", "Principal": {"AWS": role_arn(TOOLING, "svc-build")}, "Action": "s3:*", "Resource": format!("{BUCKET}/*")}]),
    );
    let request = Request::new(role(TOOLING, "svc-build"), "s3:GetObject", OBJECT).owned_by(TOOLING);
    let decision = evaluate(&request, &identity, Some((&bucket, ResourcePolicyKind::Generic))).unwrap();
    assert_eq!(decision, Decision::ExplicitDeny(at("guard", 0, Some("NoArtifacts"))));
    assert_eq!(decision.to_string(), "explicitly denied by guard#NoArtifacts");
}

#[test]
fn explicit_deny_in_a_bucket_policy_beats_an_identity_allow() {
    // The artifact store's bucket policy refuses requests without TLS, for everyone.
    let bucket = policy(
        "bucket",
        json!([{"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [BUCKET, format!("{BUCKET}/*")], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]),
    );
    let identity = [get_object_policy("build")];
    let plain = Request::new(role(TOOLING, "svc-build"), "s3:GetObject", OBJECT).owned_by(TOOLING);
    let decide = |r: &Request| evaluate(r, &identity, Some((&bucket, ResourcePolicyKind::Generic))).unwrap();
    assert_eq!(
        decide(&plain.clone().with("aws:SecureTransport", &["false"])),
        Decision::ExplicitDeny(at("bucket", 0, Some("DenyInsecureTransport")))
    );
    assert_eq!(
        decide(&plain.clone().with("aws:SecureTransport", &["true"])),
        allowed(Some(("build", 0, Some("ReadArtifacts"))), None)
    );
    // Without the key the Bool condition is false, so the deny does not apply.
    assert!(decide(&plain).is_allowed());
}

#[test]
fn a_deny_naming_an_account_applies_to_every_role_of_it() {
    let bucket = policy(
        "bucket",
        json!([{"Sid": "NotTest", "Effect": "Deny", "Principal": {"AWS": TEST}, "Action": "s3:*", "Resource": format!("{BUCKET}/*")},
        {"Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": format!("{BUCKET}/*")}]),
    );
    let request = Request::new(role(TEST, "svc-test-cb"), "s3:GetObject", OBJECT).owned_by(TOOLING);
    let decision =
        evaluate(&request, &[get_object_policy("cb")], Some((&bucket, ResourcePolicyKind::Generic))).unwrap();
    assert_eq!(decision, Decision::ExplicitDeny(at("bucket", 0, Some("NotTest"))));
}

// ---- cross account ----

#[test]
fn cross_account_needs_both_the_identity_and_the_resource_policy() {
    let bucket = policy(
        "bucket",
        json!([{"Sid": "EnvironmentRead", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{TEST}:root")},
        "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": format!("{BUCKET}/*")}]),
    );
    let empty_bucket = policy(
        "empty",
        json!([{"Effect": "Allow", "Principal": {"AWS": TEST}, "Action": "s3:ListBucket", "Resource": BUCKET}]),
    );
    let identity = [get_object_policy("cb")];
    let request = Request::new(role(TEST, "svc-test-cb"), "s3:GetObject", OBJECT).owned_by(TOOLING);

    let both = evaluate(&request, &identity, Some((&bucket, ResourcePolicyKind::Generic))).unwrap();
    assert_eq!(both, allowed(Some(("cb", 0, Some("ReadArtifacts"))), Some(("bucket", 0, Some("EnvironmentRead")))));
    assert_eq!(both.to_string(), "allowed by cb#ReadArtifacts and bucket#EnvironmentRead");

    let resource_only = evaluate(&request, &[], Some((&bucket, ResourcePolicyKind::Generic))).unwrap();
    assert_eq!(resource_only, implicit(Missing::Identity));
    let identity_only = evaluate(&request, &identity, Some((&empty_bucket, ResourcePolicyKind::Generic))).unwrap();
    assert_eq!(identity_only, implicit(Missing::ResourcePolicy));
    let neither = evaluate(&request, &[], Some((&empty_bucket, ResourcePolicyKind::Generic))).unwrap();
    assert_eq!(neither, implicit(Missing::Both));
    // No resource policy at all on a resource known to be elsewhere.
    assert_eq!(evaluate(&request, &identity, None).unwrap(), implicit(Missing::ResourcePolicy));
}

#[test]
fn cross_account_a_resource_policy_naming_the_role_still_needs_its_identity_policy() {
    let bucket = policy(
        "bucket",
        json!([{"Effect": "Allow", "Principal": {"AWS": role_arn(TEST, "svc-test-cb")}, "Action": "s3:GetObject", "Resource": format!("{BUCKET}/*")}]),
    );
    let request = Request::new(role(TEST, "svc-test-cb"), "s3:GetObject", OBJECT).owned_by(TOOLING);
    assert_eq!(
        evaluate(&request, &[], Some((&bucket, ResourcePolicyKind::Generic))).unwrap(),
        implicit(Missing::Identity)
    );
}

#[test]
fn an_ecr_repository_policy_lets_an_environment_account_pull_through_its_own_roles() {
    let repository = "arn:aws:ecr:eu-north-1:123456789012:repository/svc";
    let repo_policy = policy(
        "repository",
        json!([{"Sid": "EnvironmentPull", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{PRODUCTION}:root")},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]}]),
    );
    let execution = policy(
        "execution",
        json!([{"Sid": "Pull", "Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "Resource": "*"}]),
    );
    let pull = Request::new(role(PRODUCTION, "svc-execution"), "ecr:BatchGetImage", repository);
    let decision =
        evaluate(&pull, std::slice::from_ref(&execution), Some((&repo_policy, ResourcePolicyKind::Generic))).unwrap();
    assert_eq!(
        decision,
        allowed(Some(("execution", 0, Some("Pull"))), Some(("repository", 0, Some("EnvironmentPull"))))
    );
    let push = Request::new(role(PRODUCTION, "svc-execution"), "ecr:PutImage", repository);
    assert_eq!(
        evaluate(&push, &[execution], Some((&repo_policy, ResourcePolicyKind::Generic))).unwrap(),
        implicit(Missing::Both)
    );
}

// ---- within one account ----

#[test]
fn same_account_a_resource_policy_naming_the_role_alone_suffices() {
    let bucket = policy(
        "bucket",
        json!([{"Sid": "PipelineWrites", "Effect": "Allow", "Principal": {"AWS": role_arn(TOOLING, "svc-pipeline")}, "Action": "s3:PutObject", "Resource": format!("{BUCKET}/*")}]),
    );
    let request = Request::new(role(TOOLING, "svc-pipeline"), "s3:PutObject", OBJECT).owned_by(TOOLING);
    let decision = evaluate(&request, &[], Some((&bucket, ResourcePolicyKind::Generic))).unwrap();
    assert_eq!(decision, allowed(None, Some(("bucket", 0, Some("PipelineWrites")))));
    // Another role of the same account is not named.
    let other = Request::new(role(TOOLING, "other-pipeline"), "s3:PutObject", OBJECT).owned_by(TOOLING);
    assert_eq!(evaluate(&other, &[], Some((&bucket, ResourcePolicyKind::Generic))).unwrap(), implicit(Missing::Both));
}

#[test]
fn same_account_a_resource_policy_naming_the_root_only_delegates() {
    let bucket = policy(
        "bucket",
        json!([{"Sid": "Account", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{TOOLING}:root")}, "Action": "s3:GetObject", "Resource": format!("{BUCKET}/*")}]),
    );
    let request = Request::new(role(TOOLING, "svc-build"), "s3:GetObject", OBJECT).owned_by(TOOLING);
    assert_eq!(
        evaluate(&request, &[], Some((&bucket, ResourcePolicyKind::Generic))).unwrap(),
        implicit(Missing::Identity)
    );
    let with_identity =
        evaluate(&request, &[get_object_policy("build")], Some((&bucket, ResourcePolicyKind::Generic))).unwrap();
    assert_eq!(with_identity, allowed(Some(("build", 0, Some("ReadArtifacts"))), Some(("bucket", 0, Some("Account")))));
}

#[test]
fn same_account_an_identity_policy_alone_suffices_for_ordinary_resources() {
    let request = Request::new(role(TOOLING, "svc-build"), "s3:GetObject", OBJECT).owned_by(TOOLING);
    let decision = evaluate(&request, &[get_object_policy("build")], None).unwrap();
    assert_eq!(decision.to_string(), "allowed by build#ReadArtifacts");
    let bucket = policy(
        "bucket",
        json!([{"Effect": "Allow", "Principal": {"AWS": role_arn(TOOLING, "someone-else")}, "Action": "s3:*", "Resource": format!("{BUCKET}/*")}]),
    );
    assert!(evaluate(&request, &[get_object_policy("build")], Some((&bucket, ResourcePolicyKind::Generic)))
        .unwrap()
        .is_allowed());
    assert_eq!(evaluate(&request, &[], None).unwrap(), implicit(Missing::Identity));
}

// ---- KMS key policies ----

fn kms_user() -> NamedPolicy {
    policy(
        "build",
        json!([{"Sid": "UseArtifactKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": KEY}]),
    )
}

#[test]
fn a_key_policy_without_iam_delegation_denies_despite_an_identity_allow() {
    let key_policy = policy(
        "key",
        json!([{"Sid": "Admins", "Effect": "Allow", "Principal": {"AWS": role_arn(TOOLING, "key-admin")}, "Action": "kms:*", "Resource": "*"}]),
    );
    let request = Request::new(role(TOOLING, "svc-build"), "kms:Decrypt", KEY);
    let decision = evaluate(&request, &[kms_user()], Some((&key_policy, ResourcePolicyKind::KmsKey))).unwrap();
    assert_eq!(decision, implicit(Missing::ResourcePolicy));
    // Passing the wrong kind does not loosen it: a KMS key ARN always gets the key rules.
    assert_eq!(
        evaluate(&request, &[kms_user()], Some((&key_policy, ResourcePolicyKind::Generic))).unwrap(),
        implicit(Missing::ResourcePolicy)
    );
}

#[test]
fn a_key_policy_allowing_the_root_enables_identity_policies() {
    let key_policy = policy(
        "key",
        json!([{"Sid": "EnableIamPolicies", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{TOOLING}:root")}, "Action": "kms:*", "Resource": "*"}]),
    );
    let request = Request::new(role(TOOLING, "svc-build"), "kms:Decrypt", KEY);
    let decision = evaluate(&request, &[kms_user()], Some((&key_policy, ResourcePolicyKind::KmsKey))).unwrap();
    assert_eq!(
        decision,
        allowed(Some(("build", 0, Some("UseArtifactKey"))), Some(("key", 0, Some("EnableIamPolicies"))))
    );
    assert_eq!(
        evaluate(&request, &[], Some((&key_policy, ResourcePolicyKind::KmsKey))).unwrap(),
        implicit(Missing::Identity)
    );
}

#[test]
fn a_key_policy_naming_the_role_allows_it_without_an_identity_policy() {
    let key_policy = policy(
        "key",
        json!([{"Sid": "Pipeline", "Effect": "Allow", "Principal": {"AWS": role_arn(TOOLING, "svc-pipeline")}, "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*"}]),
    );
    let request = Request::new(role(TOOLING, "svc-pipeline"), "kms:GenerateDataKey", KEY);
    assert_eq!(
        evaluate(&request, &[], Some((&key_policy, ResourcePolicyKind::KmsKey))).unwrap(),
        allowed(None, Some(("key", 0, Some("Pipeline"))))
    );
}

#[test]
fn without_a_key_policy_a_key_cannot_be_used() {
    let request = Request::new(role(TOOLING, "svc-build"), "kms:Decrypt", KEY);
    assert_eq!(evaluate(&request, &[kms_user()], None).unwrap(), implicit(Missing::ResourcePolicy));
    assert_eq!(evaluate(&request, &[], None).unwrap(), implicit(Missing::Both));
}

#[test]
fn the_artifact_key_serves_environment_roles_under_the_bokbasen_path_only() {
    // The store's key policy (design decision 1): the tooling root, and each environment's
    // bokbasen roles through their account root narrowed by aws:PrincipalArn.
    let key_policy = policy(
        "key",
        json!([
        {"Sid": "EnableIamPolicies", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{TOOLING}:root")}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "EnvironmentDecrypt", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{TEST}:root")}, "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*",
         "Condition": {"ArnLike": {"aws:PrincipalArn": format!("arn:aws:iam::{TEST}:role/bokbasen/*")}}}]),
    );
    let environment_role =
        policy("cb", json!([{"Sid": "Decrypt", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY}]));
    let inside = Request::new(role(TEST, "svc-test-cb"), "kms:Decrypt", KEY);
    assert_eq!(
        evaluate(&inside, std::slice::from_ref(&environment_role), Some((&key_policy, ResourcePolicyKind::KmsKey)))
            .unwrap(),
        allowed(Some(("cb", 0, Some("Decrypt"))), Some(("key", 1, Some("EnvironmentDecrypt"))))
    );
    let outside = Request::new(Principal::role(format!("arn:aws:iam::{TEST}:role/admin")).unwrap(), "kms:Decrypt", KEY);
    assert_eq!(
        evaluate(&outside, std::slice::from_ref(&environment_role), Some((&key_policy, ResourcePolicyKind::KmsKey)))
            .unwrap(),
        implicit(Missing::ResourcePolicy)
    );
    let encrypt = Request::new(role(TEST, "svc-test-cb"), "kms:Encrypt", KEY);
    assert_eq!(
        evaluate(&encrypt, &[environment_role], Some((&key_policy, ResourcePolicyKind::KmsKey))).unwrap(),
        implicit(Missing::Both)
    );
}

// ---- role trust ----

#[test]
fn a_trust_policy_naming_a_role_of_the_same_account_lets_it_assume_without_identity_policy() {
    let deployer = role_arn(TOOLING, "deployer");
    let trust = policy(
        "deployer-trust",
        json!([{"Sid": "Pipeline", "Effect": "Allow", "Principal": {"AWS": role_arn(TOOLING, "svc-pipeline")}, "Action": "sts:AssumeRole"}]),
    );
    let request = Request::new(role(TOOLING, "svc-pipeline"), "sts:AssumeRole", &deployer);
    assert_eq!(
        evaluate(&request, &[], Some((&trust, ResourcePolicyKind::RoleTrust))).unwrap(),
        allowed(None, Some(("deployer-trust", 0, Some("Pipeline"))))
    );
}

#[test]
fn a_trust_policy_must_allow_even_when_an_identity_policy_does() {
    let deployer = role_arn(TOOLING, "deployer");
    let trust = policy(
        "deployer-trust",
        json!([{"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}]),
    );
    let identity = policy("admin", json!([{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]));
    let request = Request::new(role(TOOLING, "svc-build"), "sts:AssumeRole", &deployer);
    assert_eq!(
        evaluate(&request, std::slice::from_ref(&identity), Some((&trust, ResourcePolicyKind::RoleTrust))).unwrap(),
        implicit(Missing::ResourcePolicy)
    );
    // The action alone makes the trust policy mandatory, whatever kind is passed, and without one.
    assert_eq!(
        evaluate(&request, std::slice::from_ref(&identity), Some((&trust, ResourcePolicyKind::Generic))).unwrap(),
        implicit(Missing::ResourcePolicy)
    );
    assert_eq!(evaluate(&request, &[identity], None).unwrap(), implicit(Missing::ResourcePolicy));
}

#[test]
fn a_service_principal_assumes_its_role_through_the_trust_policy_alone() {
    let pipeline_role = role_arn(TOOLING, "svc-pipeline");
    let trust = policy(
        "pipeline-trust",
        json!([{"Sid": "CodePipeline", "Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"}, "Action": "sts:AssumeRole"}]),
    );
    let assume = |service: &str| {
        let request = Request::new(Principal::service(service), "sts:AssumeRole", &pipeline_role);
        evaluate(&request, &[], Some((&trust, ResourcePolicyKind::RoleTrust))).unwrap()
    };
    assert_eq!(assume("codepipeline.amazonaws.com"), allowed(None, Some(("pipeline-trust", 0, Some("CodePipeline")))));
    assert_eq!(assume("codebuild.amazonaws.com"), implicit(Missing::ResourcePolicy));
    // A service principal has no identity policies: any passed are ignored, denies included.
    let stray = policy("stray", json!([{"Effect": "Deny", "Action": "*", "Resource": "*"}]));
    let request = Request::new(Principal::service("codepipeline.amazonaws.com"), "sts:AssumeRole", &pipeline_role);
    assert!(evaluate(&request, &[stray], Some((&trust, ResourcePolicyKind::RoleTrust))).unwrap().is_allowed());
    let request = Request::new(Principal::service("codepipeline.amazonaws.com"), "sts:AssumeRole", &pipeline_role);
    assert_eq!(evaluate(&request, &[], None).unwrap(), implicit(Missing::ResourcePolicy));
}

#[test]
fn the_deployer_trusts_pipeline_roles_of_the_tooling_account_only() {
    // Design decision 4: root of the pipeline account, narrowed to its *-pipeline roles.
    let deployer = role_arn(TEST, "deployer");
    let trust = policy(
        "deployer-trust",
        json!([{"Sid": "PipelineRoles", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{TOOLING}:root")},
        "Action": "sts:AssumeRole", "Condition": {"ArnLike": {"aws:PrincipalArn": format!("arn:aws:iam::{TOOLING}:role/bokbasen/*-pipeline")}}}]),
    );
    let may_assume = |name: &str| {
        policy(
            name,
            json!([{"Sid": "AssumeDeployer", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": &deployer}]),
        )
    };
    let try_as = |name: &str| {
        let request = Request::new(role(TOOLING, name), "sts:AssumeRole", &deployer);
        evaluate(&request, &[may_assume(name)], Some((&trust, ResourcePolicyKind::RoleTrust))).unwrap()
    };
    assert_eq!(
        try_as("svc-pipeline"),
        allowed(Some(("svc-pipeline", 0, Some("AssumeDeployer"))), Some(("deployer-trust", 0, Some("PipelineRoles"))))
    );
    assert_eq!(try_as("svc-build"), implicit(Missing::ResourcePolicy));
    // Across accounts the caller's identity policy is needed too.
    let bare = Request::new(role(TOOLING, "svc-pipeline"), "sts:AssumeRole", &deployer);
    assert_eq!(
        evaluate(&bare, &[], Some((&trust, ResourcePolicyKind::RoleTrust))).unwrap(),
        implicit(Missing::Identity)
    );
}

#[test]
fn an_external_id_condition_needs_the_key_in_the_request() {
    let deployer = role_arn(TEST, "deployer");
    let trust = policy(
        "trust",
        json!([{"Sid": "Provisioner", "Effect": "Allow", "Principal": {"AWS": TOOLING}, "Action": "sts:AssumeRole",
        "Condition": {"ArnEquals": {"aws:PrincipalArn": role_arn(TOOLING, "terraform")}, "StringEquals": {"sts:ExternalId": "s3cr3t"}}}]),
    );
    let identity = policy("terraform", json!([{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]));
    let base = Request::new(role(TOOLING, "terraform"), "sts:AssumeRole", &deployer);
    let decide = |r: Request| {
        evaluate(&r, std::slice::from_ref(&identity), Some((&trust, ResourcePolicyKind::RoleTrust))).unwrap()
    };
    assert_eq!(decide(base.clone()), implicit(Missing::ResourcePolicy));
    assert_eq!(decide(base.clone().with("sts:ExternalId", &["wrong"])), implicit(Missing::ResourcePolicy));
    assert!(decide(base.with("sts:ExternalId", &["s3cr3t"])).is_allowed());
}

// ---- actions and resources ----

#[test]
fn not_action_allows_everything_but_the_listed_actions() {
    let identity = policy(
        "poweruser",
        json!([{"Sid": "AllButIam", "Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"}]),
    );
    let decide = |action: &str| {
        evaluate(&Request::new(role(TOOLING, "dev"), action, "*"), std::slice::from_ref(&identity), None).unwrap()
    };
    assert_eq!(decide("s3:ListAllMyBuckets"), allowed(Some(("poweruser", 0, Some("AllButIam"))), None));
    assert_eq!(decide("IAM:CreateRole"), implicit(Missing::Identity));
    assert_eq!(decide("organizations:ListAccounts"), implicit(Missing::Identity));
}

#[test]
fn not_action_in_a_deny_spares_the_listed_actions() {
    let identity = policy(
        "p",
        json!([{"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Sid": "OnlyReads", "Effect": "Deny", "NotAction": ["s3:Get*", "s3:List*"], "Resource": "*"}]),
    );
    let decide = |action: &str| {
        evaluate(&Request::new(role(TOOLING, "dev"), action, OBJECT), std::slice::from_ref(&identity), None).unwrap()
    };
    assert!(decide("s3:GetObject").is_allowed());
    assert_eq!(decide("s3:PutObject"), Decision::ExplicitDeny(at("p", 1, Some("OnlyReads"))));
}

#[test]
fn not_resource_excludes_the_listed_resources() {
    let identity =
        policy("p", json!([{"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::secrets/*"}]));
    let decide = |resource: &str| {
        evaluate(&Request::new(role(TOOLING, "dev"), "s3:GetObject", resource), std::slice::from_ref(&identity), None)
            .unwrap()
    };
    assert!(decide(OBJECT).is_allowed());
    assert_eq!(decide("arn:aws:s3:::secrets/db"), implicit(Missing::Identity));
}

#[test]
fn actions_ignore_case_but_resource_arns_do_not() {
    let identity = policy(
        "p",
        json!([{"Effect": "Allow", "Action": "ECR:putimage", "Resource": "arn:aws:ecr:eu-north-1:123456789012:repository/svc"}]),
    );
    let decide = |action: &str, resource: &str| {
        evaluate(&Request::new(role(TOOLING, "b"), action, resource), std::slice::from_ref(&identity), None).unwrap()
    };
    assert!(decide("ecr:PutImage", "arn:aws:ecr:eu-north-1:123456789012:repository/svc").is_allowed());
    assert!(!decide("ecr:PutImage", "arn:aws:ecr:eu-north-1:123456789012:repository/SVC").is_allowed());
}

// ---- conditions ----

fn with_condition(condition: serde_json::Value) -> NamedPolicy {
    policy(
        "p",
        json!([{"Sid": "Conditional", "Effect": "Allow", "Action": "*", "Resource": "*", "Condition": condition}]),
    )
}

fn decide_with(condition: serde_json::Value, context: &[(&str, &[&str])]) -> bool {
    let mut request = Request::new(role(TOOLING, "svc-build"), "ssm:GetParameters", "*");
    for (key, values) in context {
        request = request.with(*key, values);
    }
    evaluate(&request, &[with_condition(condition)], None).unwrap().is_allowed()
}

#[test]
fn string_equals_is_literal_where_string_like_takes_wildcards() {
    let equals = json!({"StringEquals": {"aws:ResourceTag/team": "plat*"}});
    let like = json!({"StringLike": {"aws:ResourceTag/team": "plat*"}});
    assert!(!decide_with(equals.clone(), &[("aws:ResourceTag/team", &["platform"])]));
    assert!(decide_with(equals, &[("aws:ResourceTag/team", &["plat*"])]));
    assert!(decide_with(like.clone(), &[("aws:ResourceTag/team", &["platform"])]));
    assert!(!decide_with(like, &[("aws:ResourceTag/team", &["Platform"])]));
    let ignore_case = json!({"StringEqualsIgnoreCase": {"aws:ResourceTag/team": "PLATFORM"}});
    assert!(decide_with(ignore_case, &[("aws:ResourceTag/team", &["platform"])]));
}

#[test]
fn if_exists_treats_a_missing_key_as_a_match() {
    let if_exists = json!({"StringEqualsIfExists": {"kms:ViaService": "ssm.eu-north-1.amazonaws.com"}});
    let plain = json!({"StringEquals": {"kms:ViaService": "ssm.eu-north-1.amazonaws.com"}});
    assert!(decide_with(if_exists.clone(), &[]));
    assert!(decide_with(if_exists.clone(), &[("kms:ViaService", &["ssm.eu-north-1.amazonaws.com"])]));
    assert!(!decide_with(if_exists, &[("kms:ViaService", &["s3.eu-north-1.amazonaws.com"])]));
    assert!(!decide_with(plain, &[]));
}

#[test]
fn a_negated_operator_holds_when_the_key_is_missing() {
    // "If the policy condition requires that the key is not matched ... and the right key is not
    // present, the condition is true" (Condition operators).
    let not_equals = json!({"StringNotEquals": {"aws:RequestedRegion": "eu-north-1"}});
    assert!(decide_with(not_equals.clone(), &[]));
    assert!(!decide_with(not_equals.clone(), &[("aws:RequestedRegion", &["eu-north-1"])]));
    assert!(decide_with(not_equals, &[("aws:RequestedRegion", &["us-east-1"])]));
    assert!(decide_with(json!({"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*:*:x"}}), &[]));
    assert!(decide_with(json!({"StringNotLikeIfExists": {"aws:SourceArn": "x*"}}), &[]));
}

#[test]
fn arn_like_and_arn_equals_take_wildcards_within_segments() {
    let like = json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/bokbasen/*"}});
    assert!(decide_with(like.clone(), &[]), "aws:PrincipalArn comes from the principal");
    // A role outside the path does not match.
    let admin = Request::new(Principal::role("arn:aws:iam::123456789012:role/admin").unwrap(), "s3:GetObject", OBJECT);
    assert!(!evaluate(&admin, &[with_condition(like)], None).unwrap().is_allowed());
    // ArnEquals behaves identically to ArnLike.
    assert!(decide_with(
        json!({"ArnEquals": {"aws:SourceArn": "arn:aws:codepipeline:*:123456789012:svc-*"}}),
        &[("aws:SourceArn", &["arn:aws:codepipeline:eu-north-1:123456789012:svc-pipeline"])]
    ));
    // `*` inside a segment does not swallow the colons of the next ones.
    assert!(!decide_with(
        json!({"ArnLike": {"aws:SourceArn": "arn:aws:codepipeline:eu-*123456789012:svc"}}),
        &[("aws:SourceArn", &["arn:aws:codepipeline:eu-north-1:123456789012:svc"])]
    ));
}

#[test]
fn values_of_a_key_are_ored_and_keys_and_operators_anded() {
    let passed_to = json!({"StringEquals": {"iam:PassedToService": ["ecs.amazonaws.com", "ecs-tasks.amazonaws.com"]}});
    assert!(decide_with(passed_to.clone(), &[("iam:PassedToService", &["ecs-tasks.amazonaws.com"])]));
    assert!(!decide_with(passed_to, &[("iam:PassedToService", &["lambda.amazonaws.com"])]));
    let two_keys = json!({"StringEquals": {"aws:RequestedRegion": "eu-north-1", "aws:PrincipalAccount": TOOLING}});
    assert!(decide_with(two_keys.clone(), &[("aws:RequestedRegion", &["eu-north-1"])]));
    assert!(!decide_with(two_keys, &[]));
    let two_operators =
        json!({"StringEquals": {"aws:RequestedRegion": "eu-north-1"}, "Bool": {"aws:SecureTransport": "true"}});
    assert!(decide_with(
        two_operators.clone(),
        &[("aws:RequestedRegion", &["eu-north-1"]), ("aws:SecureTransport", &["true"])]
    ));
    assert!(!decide_with(
        two_operators,
        &[("aws:RequestedRegion", &["eu-north-1"]), ("aws:SecureTransport", &["false"])]
    ));
}

#[test]
fn condition_key_names_ignore_case_and_principal_keys_can_be_overridden() {
    assert!(decide_with(json!({"Bool": {"AWS:SECURETRANSPORT": true}}), &[("aws:securetransport", &["TRUE"])]));
    let account = json!({"StringEquals": {"aws:principalaccount": TOOLING}});
    assert!(decide_with(account.clone(), &[]));
    assert!(!decide_with(account, &[("aws:PrincipalAccount", &["999999999999"])]));
}

#[test]
fn the_null_operator_tests_presence() {
    assert!(decide_with(json!({"Null": {"aws:SourceVpce": "true"}}), &[]));
    assert!(!decide_with(json!({"Null": {"aws:SourceVpce": "true"}}), &[("aws:SourceVpce", &["vpce-1"])]));
    assert!(decide_with(json!({"Null": {"aws:SourceVpce": "false"}}), &[("aws:SourceVpce", &["vpce-1"])]));
}

// ---- errors ----

#[test]
fn unsupported_elements_are_errors_even_in_statements_that_would_not_apply() {
    let identity = policy(
        "p",
        json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
        {"Effect": "Deny", "Action": "ec2:*", "Resource": "*", "Condition": {"ForAnyValue:StringLike": {"aws:TagKeys": "x*"}}}]),
    );
    let request = Request::new(role(TOOLING, "b"), "s3:GetObject", OBJECT);
    let error = evaluate(&request, &[identity], None).unwrap_err();
    assert!(matches!(&error, Error::Unsupported { statement: Some(1), .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "p, statement 1: unsupported by the evaluator: set operator `ForAnyValue:StringLike`"
    );

    let not_principal = policy(
        "bucket",
        json!([{"Effect": "Deny", "NotPrincipal": {"AWS": TOOLING}, "Action": "s3:*", "Resource": "*"}]),
    );
    let request = request.owned_by(TOOLING);
    assert!(matches!(
        evaluate(&request, &[], Some((&not_principal, ResourcePolicyKind::Generic))),
        Err(Error::Unsupported { .. })
    ));
}

#[test]
fn incomplete_requests_are_errors() {
    let bucket =
        policy("bucket", json!([{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]));
    // An S3 ARN carries no account: with a bucket policy the owner must be given.
    let request = Request::new(role(TEST, "cb"), "s3:GetObject", OBJECT);
    assert!(matches!(
        evaluate(&request, &[], Some((&bucket, ResourcePolicyKind::Generic))),
        Err(Error::InvalidRequest(_))
    ));
    // Given and ARN accounts must agree.
    let key = Request::new(role(TEST, "cb"), "kms:Decrypt", KEY).owned_by(TEST);
    assert!(matches!(evaluate(&key, &[], None), Err(Error::InvalidRequest(_))));
    let wrong_account = Principal::Role { arn: role_arn(TEST, "cb"), account: TOOLING.to_string() };
    assert!(matches!(
        evaluate(&Request::new(wrong_account, "s3:GetObject", OBJECT), &[], None),
        Err(Error::InvalidRequest(_))
    ));
    assert!(matches!(
        evaluate(&Request::new(role(TEST, "cb"), "s3:Get*", OBJECT), &[], None),
        Err(Error::InvalidRequest(_))
    ));
    assert!(Principal::role("arn:aws:iam::123456789012:user/bob").is_err());
}

#[test]
fn statements_without_sid_are_named_by_position() {
    let identity = policy("build", json!([{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]));
    let decision = evaluate(&Request::new(role(TOOLING, "b"), "logs:PutLogEvents", "*"), &[identity], None).unwrap();
    assert_eq!(decision.to_string(), "allowed by build#[0]");
}
