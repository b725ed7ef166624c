//! The artifact store of the tooling account: one S3 bucket and the
//! customer-managed KMS key its objects are encrypted with, shared with the
//! environment accounts so that cross-account CodePipeline actions can read
//! the artifacts. AWS's own key (`aws/s3`) cannot be shared across accounts,
//! which is why the key is the store's own (CodePipeline user guide,
//! "Create a pipeline in CodePipeline that uses resources from another AWS
//! account").
//!
//! Pure, like [`crate::target`]: the two resource policies, and the way back
//! from policies read from AWS to the environment accounts they grant.
//!
//! Grants go to each environment account's root with an `aws:PrincipalArn`
//! condition naming the account's bokbasen roles (`role/bokbasen/*`): a root
//! principal always exists, so the policy is accepted before the roles are
//! made and keeps working when a role is made again (IAM would pin a role
//! principal to the role's unique id).

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use serde_json::{json, Value};

use crate::checks::{check_account_id, check_bucket_name};
use crate::names::role_arn;
use crate::Region;

/// The waiting period KMS accepts before it deletes a key (days).
pub const KEY_DELETION_WINDOW: RangeInclusive<i64> = 7..=30;

/// KMS's own default waiting period, and the argument's.
pub const DEFAULT_KEY_DELETION_WINDOW: i64 = 30;

/// Denies every request that does not use TLS.
pub const TLS_ONLY_SID: &str = "TlsOnly";
/// Environment accounts' bokbasen roles read objects.
pub const ENVIRONMENTS_READ_SID: &str = "EnvironmentsReadArtifacts";
/// Environment accounts' bokbasen roles find and list the bucket.
pub const ENVIRONMENTS_LIST_SID: &str = "EnvironmentsListArtifacts";
/// The tooling account administers the key through IAM (AWS's default key policy).
pub const ACCOUNT_ADMINISTERS_SID: &str = "AccountAdministers";
/// Environment accounts' bokbasen roles decrypt what the pipeline wrote.
pub const ENVIRONMENTS_DECRYPT_SID: &str = "EnvironmentsDecryptArtifacts";

/// One artifact store as a platform engineer declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactStore {
    pub bucket: String,
    /// The account the bucket and key are in (the pipelines' account).
    pub tooling_account: String,
    /// Accounts whose bokbasen roles read artifacts (Test, Stage, Production).
    pub environment_accounts: BTreeSet<String>,
}

impl ArtifactStore {
    /// Problems of the store's values, each with the field it concerns
    /// (`bucket`, `environment_accounts`).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if let Err(message) = check_bucket_name(&self.bucket) {
            problems.push(("bucket", message));
        }
        for account in &self.environment_accounts {
            if let Err(message) = check_account_id(account) {
                problems.push(("environment_accounts", message));
            }
        }
        problems
    }
}

/// The key's alias: `alias/bokbasen/<bucket>`.
pub fn key_alias(bucket: &str) -> String {
    format!("alias/bokbasen/{bucket}")
}

/// The key's description.
pub fn key_description(bucket: &str) -> String {
    format!("bokbasen artifact store {bucket}")
}

/// A waiting period KMS accepts.
pub fn check_deletion_window(days: i64) -> Result<(), String> {
    if KEY_DELETION_WINDOW.contains(&days) {
        return Ok(());
    }
    Err(format!(
        "KMS waits {}–{} days before it deletes a key; {days} is outside that.",
        KEY_DELETION_WINDOW.start(),
        KEY_DELETION_WINDOW.end()
    ))
}

fn root(partition: &str, account: &str) -> String {
    format!("arn:{partition}:iam::{account}:root")
}

fn bucket_arn(region: &Region, bucket: &str) -> String {
    format!("arn:{}:s3:::{bucket}", region.partition)
}

/// The environment accounts' roots, and the condition that narrows them to
/// their bokbasen roles.
fn environment_grant(store: &ArtifactStore, region: &Region, sid: &str, actions: &[&str], resource: Value) -> Value {
    let roots: Vec<String> = store.environment_accounts.iter().map(|a| root(&region.partition, a)).collect();
    let roles: Vec<String> = store.environment_accounts.iter().map(|a| role_arn(&region.partition, a, "*")).collect();
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": { "AWS": roots },
        "Action": actions,
        "Resource": resource,
        "Condition": { "ArnLike": { "aws:PrincipalArn": roles } },
    })
}

/// The bucket policy: TLS only; the environment accounts' bokbasen roles
/// read objects (and their versions) and list the bucket. Without
/// environment accounts the bucket is the tooling account's alone.
pub fn bucket_policy(store: &ArtifactStore, region: &Region) -> Value {
    let bucket = bucket_arn(region, &store.bucket);
    let objects = format!("{bucket}/*");
    let mut statements = vec![json!({
        "Sid": TLS_ONLY_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket, objects],
        "Condition": { "Bool": { "aws:SecureTransport": "false" } },
    })];
    if !store.environment_accounts.is_empty() {
        statements.push(environment_grant(
            store,
            region,
            ENVIRONMENTS_READ_SID,
            &["s3:GetObject", "s3:GetObjectVersion"],
            json!(objects),
        ));
        statements.push(environment_grant(
            store,
            region,
            ENVIRONMENTS_LIST_SID,
            &["s3:GetBucketLocation", "s3:ListBucket"],
            json!(bucket),
        ));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// The key policy: the tooling account's root may do everything (AWS's
/// default key policy: access is delegated to the account's IAM policies,
/// and the key can never become unmanageable); the environment accounts'
/// bokbasen roles decrypt and describe.
pub fn key_policy(store: &ArtifactStore, region: &Region) -> Value {
    let mut statements = vec![json!({
        "Sid": ACCOUNT_ADMINISTERS_SID,
        "Effect": "Allow",
        "Principal": { "AWS": root(&region.partition, &store.tooling_account) },
        "Action": "kms:*",
        "Resource": "*",
    })];
    if !store.environment_accounts.is_empty() {
        statements.push(environment_grant(
            store,
            region,
            ENVIRONMENTS_DECRYPT_SID,
            &["kms:Decrypt", "kms:DescribeKey"],
            json!("*"),
        ));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// What the policies read back from AWS say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedStore {
    /// The environment accounts, such that a difference from the prior
    /// state shows every account whose grants changed: an account granted
    /// completely is in; one granted nowhere is out; one granted in part is
    /// in when the prior state did not have it (it shows as to be removed)
    /// and out when it did (it shows as to be added). Either way the next
    /// apply rewrites both policies.
    pub environment_accounts: BTreeSet<String>,
    /// Whether the documents differ from bokbasen's in a way no account
    /// shows (the TLS statement or the key's administration changed).
    pub other_drift: bool,
}

/// The account a principal (`arn:…:iam::<account>:root`, a role or user
/// ARN, or a bare account id) belongs to.
fn principal_account(principal: &str) -> Option<String> {
    let account = if principal.starts_with("arn:") { principal.split(':').nth(4)? } else { principal };
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then(|| account.to_string())
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

fn statements(document: &Value) -> Vec<Value> {
    match &document["Statement"] {
        Value::Array(items) => items.clone(),
        Value::Object(_) => vec![document["Statement"].clone()],
        _ => Vec::new(),
    }
}

/// Every account a statement names as principal (any principal form).
fn principal_accounts(statement: &Value) -> BTreeSet<String> {
    let principal = &statement["Principal"];
    let named = match principal {
        Value::Object(map) => map.get("AWS").map(strings).unwrap_or_default(),
        other => strings(other),
    };
    named.iter().filter_map(|p| principal_account(p)).collect()
}

/// A document as AWS may hand it back: single-element lists as their
/// element, lists of strings sorted, booleans as strings.
fn normalized(value: &Value) -> Value {
    match value {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(normalized).collect();
            if items.iter().all(Value::is_string) {
                items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            }
            if items.len() == 1 {
                items.remove(0)
            } else {
                Value::Array(items)
            }
        }
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), normalized(v))).collect()),
        Value::Bool(b) => Value::String(b.to_string()),
        other => other.clone(),
    }
}

/// The accounts a grant statement of `document` (found by `sid`) grants
/// completely: it equals bokbasen's statement for exactly those accounts.
/// `None` when the statement, apart from its accounts, is not bokbasen's.
fn granted(document: &Value, sid: &str, expected: impl Fn(&BTreeSet<String>) -> Value) -> BTreeSet<String> {
    let Some(found) = statements(document).into_iter().find(|s| s["Sid"] == sid) else { return BTreeSet::new() };
    let named = principal_accounts(&found);
    let conditioned: BTreeSet<String> = strings(&found["Condition"]["ArnLike"]["aws:PrincipalArn"])
        .iter()
        .filter_map(|arn| principal_account(arn))
        .collect();
    let both: BTreeSet<String> = named.intersection(&conditioned).cloned().collect();
    if normalized(&found) == normalized(&expected(&both)) {
        both
    } else {
        BTreeSet::new()
    }
}

/// Reads the environment accounts back from the bucket policy and the key
/// policy of `bucket` (either may be `Value::Null` when AWS has none);
/// `prior` is the state's accounts.
pub fn observe(
    bucket: &str,
    tooling_account: &str,
    bucket_policy_found: &Value,
    key_policy_found: &Value,
    prior: &BTreeSet<String>,
    region: &Region,
) -> ObservedStore {
    let store = |accounts: &BTreeSet<String>| ArtifactStore {
        bucket: bucket.to_string(),
        tooling_account: tooling_account.to_string(),
        environment_accounts: accounts.clone(),
    };
    let grant = |sid: &'static str, document: fn(&ArtifactStore, &Region) -> Value| {
        move |accounts: &BTreeSet<String>| {
            statements(&document(&store(accounts), region)).into_iter().find(|s| s["Sid"] == sid).unwrap_or_default()
        }
    };
    let read = granted(bucket_policy_found, ENVIRONMENTS_READ_SID, grant(ENVIRONMENTS_READ_SID, bucket_policy));
    let list = granted(bucket_policy_found, ENVIRONMENTS_LIST_SID, grant(ENVIRONMENTS_LIST_SID, bucket_policy));
    let decrypt = granted(key_policy_found, ENVIRONMENTS_DECRYPT_SID, grant(ENVIRONMENTS_DECRYPT_SID, key_policy));
    let complete: BTreeSet<String> =
        read.iter().filter(|a| list.contains(*a) && decrypt.contains(*a)).cloned().collect();
    // Every account named anywhere except as the key's administrator.
    let mut named: BTreeSet<String> = BTreeSet::new();
    for document in [bucket_policy_found, key_policy_found] {
        for statement in statements(document) {
            if statement["Sid"] != ACCOUNT_ADMINISTERS_SID {
                named.extend(principal_accounts(&statement));
            }
        }
    }
    let environment_accounts: BTreeSet<String> = named
        .union(prior)
        .filter(|a| complete.contains(*a) || (named.contains(*a) && !prior.contains(*a)))
        .cloned()
        .collect();
    let expected = store(&complete);
    let other_drift = environment_accounts == *prior
        && (normalized(bucket_policy_found) != normalized(&bucket_policy(&expected, region))
            || normalized(key_policy_found) != normalized(&key_policy(&expected, region)));
    ObservedStore { environment_accounts, other_drift }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region() -> Region {
        Region { partition: "aws".into(), region: "eu-north-1".into() }
    }

    fn store(accounts: &[&str]) -> ArtifactStore {
        ArtifactStore {
            bucket: "bokbasen-pipeline-artifacts".into(),
            tooling_account: "123456789012".into(),
            environment_accounts: accounts.iter().map(|a| a.to_string()).collect(),
        }
    }

    fn set(accounts: &[&str]) -> BTreeSet<String> {
        accounts.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn the_bucket_policy_is_tls_only_and_lets_environment_roles_read() {
        let policy = bucket_policy(&store(&["333333333333", "222222222222"]), &region());
        assert_eq!(
            policy,
            json!({
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "TlsOnly",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [
                            "arn:aws:s3:::bokbasen-pipeline-artifacts",
                            "arn:aws:s3:::bokbasen-pipeline-artifacts/*"
                        ],
                        "Condition": { "Bool": { "aws:SecureTransport": "false" } }
                    },
                    {
                        "Sid": "EnvironmentsReadArtifacts",
                        "Effect": "Allow",
                        "Principal": { "AWS": ["arn:aws:iam::222222222222:root", "arn:aws:iam::333333333333:root"] },
                        "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                        "Resource": "arn:aws:s3:::bokbasen-pipeline-artifacts/*",
                        "Condition": { "ArnLike": { "aws:PrincipalArn": [
                            "arn:aws:iam::222222222222:role/bokbasen/*",
                            "arn:aws:iam::333333333333:role/bokbasen/*"
                        ] } }
                    },
                    {
                        "Sid": "EnvironmentsListArtifacts",
                        "Effect": "Allow",
                        "Principal": { "AWS": ["arn:aws:iam::222222222222:root", "arn:aws:iam::333333333333:root"] },
                        "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
                        "Resource": "arn:aws:s3:::bokbasen-pipeline-artifacts",
                        "Condition": { "ArnLike": { "aws:PrincipalArn": [
                            "arn:aws:iam::222222222222:role/bokbasen/*",
                            "arn:aws:iam::333333333333:role/bokbasen/*"
                        ] } }
                    }
                ]
            })
        );
    }

    #[test]
    fn the_key_policy_delegates_to_the_account_and_lets_environment_roles_decrypt() {
        let policy = key_policy(&store(&["222222222222"]), &region());
        assert_eq!(
            policy,
            json!({
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AccountAdministers",
                        "Effect": "Allow",
                        "Principal": { "AWS": "arn:aws:iam::123456789012:root" },
                        "Action": "kms:*",
                        "Resource": "*"
                    },
                    {
                        "Sid": "EnvironmentsDecryptArtifacts",
                        "Effect": "Allow",
                        "Principal": { "AWS": ["arn:aws:iam::222222222222:root"] },
                        "Action": ["kms:Decrypt", "kms:DescribeKey"],
                        "Resource": "*",
                        "Condition": { "ArnLike": { "aws:PrincipalArn": ["arn:aws:iam::222222222222:role/bokbasen/*"] } }
                    }
                ]
            })
        );
    }

    #[test]
    fn without_environments_only_the_tooling_account_is_named() {
        let bucket = bucket_policy(&store(&[]), &region());
        let key = key_policy(&store(&[]), &region());
        let sids =
            |doc: &Value| statements(doc).iter().map(|s| s["Sid"].as_str().unwrap().to_string()).collect::<Vec<_>>();
        assert_eq!(sids(&bucket), ["TlsOnly"]);
        assert_eq!(sids(&key), ["AccountAdministers"]);
    }

    #[test]
    fn other_partitions_form_their_arns() {
        let gov = Region { partition: "aws-us-gov".into(), region: "us-gov-west-1".into() };
        let text = format!(
            "{}{}",
            bucket_policy(&store(&["222222222222"]), &gov),
            key_policy(&store(&["222222222222"]), &gov)
        );
        assert!(!text.contains("arn:aws:"), "{text}");
        assert!(text.contains("arn:aws-us-gov:iam::222222222222:role/bokbasen/*"));
    }

    #[test]
    fn names_and_checks() {
        assert_eq!(key_alias("bokbasen-pipeline-artifacts"), "alias/bokbasen/bokbasen-pipeline-artifacts");
        assert_eq!(key_description("b-1"), "bokbasen artifact store b-1");
        assert!(check_deletion_window(7).is_ok() && check_deletion_window(30).is_ok());
        assert!(check_deletion_window(6).unwrap_err().contains("7–30"));
        assert!(check_deletion_window(31).is_err());
        let mut bad = store(&["222222222222", "12"]);
        bad.bucket = "Not_A_Bucket".into();
        let fields: Vec<&str> = bad.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["bucket", "environment_accounts"]);
        assert!(store(&["222222222222"]).problems().is_empty());
    }

    fn observed(bucket: &Value, key: &Value, prior: &[&str]) -> ObservedStore {
        observe("bokbasen-pipeline-artifacts", "123456789012", bucket, key, &set(prior), &region())
    }

    #[test]
    fn what_bokbasen_wrote_reads_back_as_its_accounts() {
        let s = store(&["222222222222", "333333333333"]);
        let found = observed(&bucket_policy(&s, &region()), &key_policy(&s, &region()), &["222222222222"]);
        assert_eq!(found, ObservedStore { environment_accounts: s.environment_accounts.clone(), other_drift: false });
        let none = store(&[]);
        let found = observed(&bucket_policy(&none, &region()), &key_policy(&none, &region()), &[]);
        assert_eq!(found, ObservedStore::default());
    }

    #[test]
    fn aws_normal_forms_are_not_drift() {
        // One-element lists as strings, booleans unquoted, statements reordered keys.
        let s = store(&["222222222222"]);
        let mut bucket = bucket_policy(&s, &region());
        bucket["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"] = json!(false);
        bucket["Statement"][1]["Principal"]["AWS"] = json!("arn:aws:iam::222222222222:root");
        let found = observed(&bucket, &key_policy(&s, &region()), &["222222222222"]);
        assert_eq!(found, ObservedStore { environment_accounts: set(&["222222222222"]), other_drift: false });
    }

    #[test]
    fn an_account_added_out_of_band_shows_as_one_to_remove() {
        let s = store(&["222222222222"]);
        let mut bucket = bucket_policy(&s, &region());
        bucket["Statement"].as_array_mut().unwrap().push(json!({
            "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::999999999999:root" },
            "Action": "s3:*",
            "Resource": "*"
        }));
        let found = observed(&bucket, &key_policy(&s, &region()), &["222222222222"]);
        assert_eq!(found.environment_accounts, set(&["222222222222", "999999999999"]));
    }

    #[test]
    fn a_grant_removed_in_part_shows_as_one_to_add() {
        let s = store(&["222222222222", "333333333333"]);
        // The key no longer lets 333333333333 decrypt.
        let key = key_policy(&store(&["222222222222"]), &region());
        let found = observed(&bucket_policy(&s, &region()), &key, &["222222222222", "333333333333"]);
        assert_eq!(found.environment_accounts, set(&["222222222222"]));
        // A replaced bucket policy with no grants at all.
        let found = observed(
            &json!({"Version": "2012-10-17", "Statement": []}),
            &key_policy(&s, &region()),
            &["222222222222", "333333333333"],
        );
        assert_eq!(found.environment_accounts, set(&[]));
        // A grant widened beyond bokbasen's roles is not bokbasen's grant.
        let mut bucket = bucket_policy(&s, &region());
        bucket["Statement"][1]["Condition"]["ArnLike"]["aws:PrincipalArn"] =
            json!(["arn:aws:iam::222222222222:role/*", "arn:aws:iam::333333333333:role/bokbasen/*"]);
        let found = observed(&bucket, &key_policy(&s, &region()), &["222222222222", "333333333333"]);
        assert_eq!(found.environment_accounts, set(&[]));
    }

    #[test]
    fn a_partial_grant_to_an_account_not_in_state_shows_as_one_to_remove() {
        let s = store(&["222222222222"]);
        let key = key_policy(&store(&["222222222222", "444444444444"]), &region());
        let found = observed(&bucket_policy(&s, &region()), &key, &["222222222222"]);
        assert_eq!(found.environment_accounts, set(&["222222222222", "444444444444"]));
    }

    #[test]
    fn drift_no_account_shows_is_reported() {
        let s = store(&["222222222222"]);
        let mut bucket = bucket_policy(&s, &region());
        bucket["Statement"].as_array_mut().unwrap().remove(0);
        let found = observed(&bucket, &key_policy(&s, &region()), &["222222222222"]);
        assert_eq!(found, ObservedStore { environment_accounts: set(&["222222222222"]), other_drift: true });
        assert!(observed(&Value::Null, &key_policy(&store(&[]), &region()), &[]).other_drift);
    }
}
