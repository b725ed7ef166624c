//! The worked examples of AWS's IAM and KMS documentation, retold in our own words and checked
//! against the evaluator. Each test names the page it comes from.

mod support;

use bokbasen_iam_eval::{evaluate, Decision, Missing, NamedPolicy, Principal, Request, ResourcePolicyKind};
use serde_json::json;
use support::{at, policy};

fn user(account: &str, name: &str) -> Principal {
    Principal::user(format!("arn:aws:iam::{account}:user/{name}")).unwrap()
}

/// "Policy evaluation logic", example identity-based and resource-based policy evaluation.
///
/// A user has an identity policy that lets him list buckets, do anything in a bucket named after
/// himself, and denies every S3 action on buckets with "log" in their names. The bucket named
/// after him has a bucket policy granting that same user everything in it. Saving a file to his
/// "-logs" bucket is denied by his own deny statement; saving it to his own bucket is allowed by
/// both policies, and would still be allowed by either one alone.
#[test]
fn single_account_identity_and_bucket_policy() {
    let account = "123456789012";
    let carlos = user(account, "carlossalazar");
    let identity = policy(
        "carlossalazar",
        json!([
            {"Sid": "AllowS3ListRead", "Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:GetAccountPublicAccessBlock", "s3:ListAccessPoints", "s3:ListAllMyBuckets"], "Resource": "arn:aws:s3:::*"},
            {"Sid": "AllowS3Self", "Effect": "Allow", "Action": "s3:*", "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"]},
            {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::*log*"}
        ]),
    );
    let bucket = policy(
        "carlossalazar-bucket",
        json!([{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/carlossalazar"}, "Action": "s3:*", "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"]}]),
    );

    let to_logs =
        Request::new(carlos.clone(), "s3:PutObject", "arn:aws:s3:::carlossalazar-logs/file.txt").owned_by(account);
    assert_eq!(
        evaluate(&to_logs, std::slice::from_ref(&identity), None).unwrap(),
        Decision::ExplicitDeny(at("carlossalazar", 2, Some("DenyS3Logs")))
    );

    let to_own = Request::new(carlos.clone(), "s3:PutObject", "arn:aws:s3:::carlossalazar/file.txt").owned_by(account);
    let both =
        evaluate(&to_own, std::slice::from_ref(&identity), Some((&bucket, ResourcePolicyKind::Generic))).unwrap();
    assert_eq!(
        both,
        Decision::Allowed {
            identity: Some(at("carlossalazar", 1, Some("AllowS3Self"))),
            resource: Some(at("carlossalazar-bucket", 0, None))
        }
    );
    // Either policy alone allows it within the account.
    assert!(evaluate(&to_own, std::slice::from_ref(&identity), None).unwrap().is_allowed());
    assert!(evaluate(&to_own, &[], Some((&bucket, ResourcePolicyKind::Generic))).unwrap().is_allowed());
    // Listing all buckets comes from the first statement only.
    let list = Request::new(carlos, "s3:ListAllMyBuckets", "arn:aws:s3:::*").owned_by(account);
    assert_eq!(evaluate(&list, &[identity], None).unwrap().to_string(), "allowed by carlossalazar#AllowS3ListRead");
}

/// "Cross-account policy evaluation logic", example cross-account policy evaluation.
///
/// The same developer, now a user in account 111111111111, writes to a "Production" bucket in
/// account 222222222222. His identity policy allows object actions on Production and denies
/// everything on buckets (and their objects) named with "log"; the Production bucket policy
/// grants him get/put/replicate/restore of objects, but not delete. Writing to the
/// "Production-logs" bucket (which has no bucket policy) is explicitly denied in his own
/// account; writing to Production is allowed because both accounts allow it; deleting an object
/// is allowed by his account only and so is denied.
#[test]
fn cross_account_user_writing_to_another_accounts_bucket() {
    let carlos = user("111111111111", "carlossalazar");
    let identity = policy(
        "carlossalazar",
        json!([
            {"Sid": "AllowS3ListRead", "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
            {"Sid": "AllowS3ProductionObjectActions", "Effect": "Allow", "Action": "s3:*Object*", "Resource": "arn:aws:s3:::Production/*"},
            {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": ["arn:aws:s3:::*log*", "arn:aws:s3:::*log*/*"]}
        ]),
    );
    let production = policy(
        "production-bucket",
        json!([{"Effect": "Allow", "Action": ["s3:GetObject*", "s3:PutObject*", "s3:ReplicateObject", "s3:RestoreObject"],
            "Principal": {"AWS": "arn:aws:iam::111111111111:user/carlossalazar"}, "Resource": "arn:aws:s3:::Production/*"}]),
    );

    let to_logs =
        Request::new(carlos.clone(), "s3:PutObject", "arn:aws:s3:::Production-logs/file.txt").owned_by("222222222222");
    assert_eq!(
        evaluate(&to_logs, std::slice::from_ref(&identity), None).unwrap(),
        Decision::ExplicitDeny(at("carlossalazar", 2, Some("DenyS3Logs")))
    );

    let to_production =
        Request::new(carlos.clone(), "s3:PutObject", "arn:aws:s3:::Production/file.txt").owned_by("222222222222");
    assert_eq!(
        evaluate(&to_production, std::slice::from_ref(&identity), Some((&production, ResourcePolicyKind::Generic)))
            .unwrap(),
        Decision::Allowed {
            identity: Some(at("carlossalazar", 1, Some("AllowS3ProductionObjectActions"))),
            resource: Some(at("production-bucket", 0, None))
        }
    );

    let delete = Request::new(carlos, "s3:DeleteObject", "arn:aws:s3:::Production/file.txt").owned_by("222222222222");
    assert_eq!(
        evaluate(&delete, &[identity], Some((&production, ResourcePolicyKind::Generic))).unwrap(),
        Decision::ImplicitDeny { missing: Missing::ResourcePolicy }
    );
}

/// "Policy evaluation logic", the difference between explicit and implicit denies.
///
/// A policy allows IAM actions starting with Get and List and denies any IAM action ending in
/// "Report". Reading a user is allowed, creating a policy is implicitly denied (nothing allows
/// it), reading an access report is explicitly denied, and a second policy granting report
/// generation does not lift the deny.
#[test]
fn explicit_and_implicit_denies() {
    let principal = user("123456789012", "auditor");
    let read_only = policy(
        "read-only",
        json!([
            {"Sid": "AllowGetList", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
            {"Sid": "DenyReports", "Effect": "Deny", "Action": "iam:*Report", "Resource": "*"}
        ]),
    );
    let reports =
        policy("reports", json!([{"Effect": "Allow", "Action": "iam:GenerateCredentialReport", "Resource": "*"}]));
    let decide = |action: &str, policies: &[NamedPolicy]| {
        evaluate(&Request::new(principal.clone(), action, "*"), policies, None).unwrap()
    };

    assert!(decide("iam:GetUser", std::slice::from_ref(&read_only)).is_allowed());
    assert_eq!(
        decide("iam:CreatePolicy", std::slice::from_ref(&read_only)),
        Decision::ImplicitDeny { missing: Missing::Identity }
    );
    assert_eq!(
        decide("iam:GetOrganizationsAccessReport", std::slice::from_ref(&read_only)),
        Decision::ExplicitDeny(at("read-only", 1, Some("DenyReports")))
    );
    assert_eq!(
        decide("iam:GenerateCredentialReport", &[read_only, reports]),
        Decision::ExplicitDeny(at("read-only", 1, Some("DenyReports")))
    );
}

/// "Allowing users in other accounts to use a KMS key" (AWS KMS developer guide).
///
/// Cross-account use of a key takes two grants: the key policy in the key's account must give
/// the external account (or its users and roles) the permission, and an IAM policy in the
/// external account must delegate it to the user or role. Neither alone is enough.
#[test]
fn kms_key_used_from_another_account() {
    let key = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let key_policy = policy(
        "key",
        json!([
            {"Sid": "Enable IAM policies", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Allow an external account to use this KMS key", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
             "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*"}
        ]),
    );
    let external_role = Principal::role("arn:aws:iam::444455556666:role/ExampleRole").unwrap();
    let delegation = policy(
        "example-role",
        json!([{"Sid": "AllowUseOfKeyInAccount111122223333", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": key}]),
    );
    let decrypt = Request::new(external_role.clone(), "kms:Decrypt", key);

    assert_eq!(
        evaluate(&decrypt, std::slice::from_ref(&delegation), Some((&key_policy, ResourcePolicyKind::KmsKey))).unwrap().to_string(),
        "allowed by example-role#AllowUseOfKeyInAccount111122223333 and key#Allow an external account to use this KMS key"
    );
    assert_eq!(
        evaluate(&decrypt, &[], Some((&key_policy, ResourcePolicyKind::KmsKey))).unwrap(),
        Decision::ImplicitDeny { missing: Missing::Identity }
    );
    // The external IAM policy grants only what the key policy grants: no ScheduleKeyDeletion.
    let broad = policy("broad", json!([{"Effect": "Allow", "Action": "kms:*", "Resource": key}]));
    let delete = Request::new(external_role, "kms:ScheduleKeyDeletion", key);
    assert_eq!(
        evaluate(&delete, &[broad], Some((&key_policy, ResourcePolicyKind::KmsKey))).unwrap(),
        Decision::ImplicitDeny { missing: Missing::ResourcePolicy }
    );
}

/// "Key policies in AWS KMS": unless the key policy allows it, IAM policies cannot allow access
/// to a key; an IAM policy can still deny.
#[test]
fn kms_iam_policies_need_the_key_policy_to_allow_but_can_deny_alone() {
    let key = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let principal = Principal::role("arn:aws:iam::111122223333:role/app").unwrap();
    let only_admin = policy(
        "key",
        json!([{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/admin"}, "Action": "kms:*", "Resource": "*"}]),
    );
    let allow_all = policy("app", json!([{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]));
    let request = Request::new(principal.clone(), "kms:Encrypt", key);
    assert!(!evaluate(&request, &[allow_all], Some((&only_admin, ResourcePolicyKind::KmsKey))).unwrap().is_allowed());

    let key_allows_app = policy(
        "key",
        json!([{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/app"}, "Action": "kms:*", "Resource": "*"}]),
    );
    let deny =
        policy("guard", json!([{"Sid": "NoEncrypt", "Effect": "Deny", "Action": "kms:Encrypt", "Resource": "*"}]));
    assert_eq!(
        evaluate(&request, &[deny], Some((&key_allows_app, ResourcePolicyKind::KmsKey))).unwrap(),
        Decision::ExplicitDeny(at("guard", 0, Some("NoEncrypt")))
    );
}

/// "AWS JSON policy elements: Principal", AWS account principals: an account may be named by
/// its 12-digit ID or by its root ARN, the two behave the same, and neither limits the grant to
/// the root user: both reach the account's roles once their identity policies allow.
#[test]
fn an_account_id_and_its_root_arn_are_the_same_principal() {
    let object = "arn:aws:s3:::shared/data";
    let reader = Principal::role("arn:aws:iam::123456789012:role/reader").unwrap();
    let identity = policy("reader", json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]));
    for form in ["123456789012", "arn:aws:iam::123456789012:root"] {
        let bucket = policy(
            "bucket",
            json!([{"Effect": "Allow", "Principal": {"AWS": form}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shared/*"}]),
        );
        let request = Request::new(reader.clone(), "s3:GetObject", object).owned_by("210987654321");
        assert!(
            evaluate(&request, std::slice::from_ref(&identity), Some((&bucket, ResourcePolicyKind::Generic)))
                .unwrap()
                .is_allowed(),
            "{form}"
        );
    }
}

/// "IAM JSON policy elements: Condition operators", boolean condition operators: a statement
/// denying replication when `aws:SecureTransport` is false matches a request carrying false,
/// not one carrying true, and not one without the key.
#[test]
fn bool_secure_transport_table() {
    let requester = Principal::role("arn:aws:iam::123456789012:role/replicator").unwrap();
    let policies = [
        policy("allow", json!([{"Effect": "Allow", "Action": "s3:ReplicateObject", "Resource": "*"}])),
        policy(
            "tls",
            json!([{"Sid": "BooleanExample", "Effect": "Deny", "Action": "s3:ReplicateObject",
            "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket", "arn:aws:s3:::amzn-s3-demo-bucket/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]),
        ),
    ];
    let base =
        Request::new(requester, "s3:ReplicateObject", "arn:aws:s3:::amzn-s3-demo-bucket/key").owned_by("123456789012");
    let denied = |r: Request| matches!(evaluate(&r, &policies, None).unwrap(), Decision::ExplicitDeny(_));
    assert!(denied(base.clone().with("aws:SecureTransport", &["false"])));
    assert!(!denied(base.clone().with("aws:SecureTransport", &["true"])));
    assert!(!denied(base));
}

/// "IAM JSON policy elements: Condition operators", ARN condition operators: a queue policy lets
/// the SNS service send messages only on behalf of one topic. The topic's ARN matches; the same
/// topic name in another account does not; a request without `aws:SourceArn` does not.
#[test]
fn arn_equals_source_arn_table() {
    let queue = "arn:aws:sqs:us-west-2:123456789012:QUEUE-ID";
    let queue_policy = policy(
        "queue",
        json!({"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "SQS:SendMessage", "Resource": queue,
        "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-west-2:123456789012:TOPIC-ID"}}}),
    );
    let send = Request::new(Principal::service("sns.amazonaws.com"), "sqs:SendMessage", queue);
    let decide =
        |r: Request| evaluate(&r, &[], Some((&queue_policy, ResourcePolicyKind::Generic))).unwrap().is_allowed();
    assert!(decide(send.clone().with("aws:SourceArn", &["arn:aws:sns:us-west-2:123456789012:TOPIC-ID"])));
    assert!(!decide(send.clone().with("aws:SourceArn", &["arn:aws:sns:us-west-2:777788889999:TOPIC-ID"])));
    assert!(!decide(send));
}

/// "IAM JSON policy elements: Condition operators", ...IfExists condition operators: a statement
/// allowing EC2 actions only for some instance families, written with `StringLikeIfExists`,
/// still allows the many EC2 actions whose requests carry no instance type, and refuses an
/// instance type outside the families.
#[test]
fn if_exists_instance_type() {
    let principal = Principal::role("arn:aws:iam::123456789012:role/ops").unwrap();
    let identity = policy(
        "ec2",
        json!({"Sid": "THISALLOWSEC2READACCESS", "Effect": "Allow", "Action": ["ec2:*"], "Resource": "*",
        "Condition": {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}}),
    );
    let run = |instance_type: Option<&str>| {
        let mut r =
            Request::new(principal.clone(), "ec2:RunInstances", "arn:aws:ec2:us-east-1:123456789012:instance/*");
        if let Some(t) = instance_type {
            r = r.with("ec2:InstanceType", &[t]);
        }
        evaluate(&r, std::slice::from_ref(&identity), None).unwrap().is_allowed()
    };
    assert!(run(Some("t2.micro")));
    assert!(!run(Some("m5.large")));
    assert!(run(None));
}
