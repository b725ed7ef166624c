//! What AWS accepts as a value: ARNs of roles and principals, account IDs,
//! bucket and region names, STS session names and external IDs, and tags.
//! Each check answers with the sentence a user reads, and each rule exists
//! here once, for the spec's validation, the provider block and every
//! resource alike.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex_lite::Regex;

/// A resource takes at most 50 tags (IAM, CodeBuild, CodePipeline, ECR and SSM alike).
pub const MAX_TAGS: usize = 50;
const MAX_TAG_KEY: usize = 128;
const MAX_TAG_VALUE: usize = 256;

/// The characters IAM allows in role and user names and paths.
const IAM_NAME: &str = r"[A-Za-z0-9+=,.@_/-]{1,512}";

/// A pattern written in this crate; compiled once, where it is used, into a `LazyLock`.
pub(crate) fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("valid regex")
}

static ROLE_ARN: LazyLock<Regex> =
    LazyLock::new(|| regex(&format!(r"^arn:aws(-[a-z]+)*:iam::(?<account>[0-9]{{12}}):role/{IAM_NAME}$")));
static PRINCIPAL_ARN: LazyLock<Regex> =
    LazyLock::new(|| regex(&format!(r"^arn:aws(-[a-z]+)*:iam::[0-9]{{12}}:(root|(role|user)/{IAM_NAME})$")));
static ACCOUNT_ID: LazyLock<Regex> = LazyLock::new(|| regex(r"^[0-9]{12}$"));
static BUCKET: LazyLock<Regex> = LazyLock::new(|| regex(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"));
static REGION: LazyLock<Regex> = LazyLock::new(|| regex(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+$"));
static SESSION_NAME: LazyLock<Regex> = LazyLock::new(|| regex(r"^[A-Za-z0-9+=,.@_-]{2,64}$"));
static KMS_KEY_ARN: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"^arn:aws(-[a-z]+)*:kms:[a-z0-9-]+:(?<account>[0-9]{12}):key/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    )
});
static ARN_ACCOUNT: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^arn:aws(-[a-z]+)*:[a-z0-9-]+:[a-z0-9-]*:(?<account>[0-9]{12}):"));
static EXTERNAL_ID: LazyLock<Regex> = LazyLock::new(|| regex(r"^[A-Za-z0-9+=,.@:/_-]{2,1224}$"));

/// An IAM role ARN; `Ok` holds the account it is in.
pub fn check_role_arn(arn: &str) -> Result<&str, String> {
    match ROLE_ARN.captures(arn).and_then(|c| c.name("account")) {
        Some(account) => Ok(account.as_str()),
        None => {
            Err(format!("{arn:?} is not an IAM role ARN; it should look like `arn:aws:iam::222222222222:role/deploy`."))
        }
    }
}

/// A KMS key ARN (not an alias: CodePipeline and CodeBuild in other
/// accounts resolve an alias in their own account); `Ok` holds its account.
pub fn check_kms_key_arn(arn: &str) -> Result<&str, String> {
    match KMS_KEY_ARN.captures(arn).and_then(|c| c.name("account")) {
        Some(account) => Ok(account.as_str()),
        None => Err(format!("{arn:?} is not a KMS key ARN; it should look like `arn:aws:kms:eu-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab` (a key ARN, not an alias)."))
    }
}

/// The account an ARN names, if it names one.
pub fn arn_account(arn: &str) -> Option<&str> {
    ARN_ACCOUNT.captures(arn).and_then(|c| c.name("account")).map(|m| m.as_str())
}

/// Who may assume a role: a role, a user, or an account root.
pub fn check_principal_arn(arn: &str) -> Result<(), String> {
    if PRINCIPAL_ARN.is_match(arn) {
        return Ok(());
    }
    Err(format!("{arn:?} is not an IAM principal ARN; use a role, user or account root, e.g. `arn:aws:iam::123456789012:role/bokbasen/ebook-api-pipeline`."))
}

pub fn check_account_id(account: &str) -> Result<(), String> {
    if ACCOUNT_ID.is_match(account) {
        return Ok(());
    }
    Err(format!("{account:?} is not a 12-digit AWS account ID."))
}

pub fn check_bucket_name(bucket: &str) -> Result<(), String> {
    if BUCKET.is_match(bucket) && !bucket.contains("..") {
        return Ok(());
    }
    Err(format!("{bucket:?} is not an S3 bucket name: 3–63 lowercase letters, digits, `.` and `-`."))
}

pub fn check_region(region: &str) -> Result<(), String> {
    if REGION.is_match(region) {
        return Ok(());
    }
    Err(format!("{region:?} is not an AWS region name; use a name such as `eu-north-1` or `us-east-1`."))
}

/// An STS role session name.
pub fn check_session_name(name: &str) -> Result<(), String> {
    if SESSION_NAME.is_match(name) {
        return Ok(());
    }
    Err(format!("{name:?} is not a valid session name: use 2–64 characters of letters, digits and `+=,.@_-`."))
}

/// An STS external ID. It is a shared secret: the message describes it
/// without quoting it.
pub fn check_external_id(external_id: &str) -> Result<(), String> {
    if EXTERNAL_ID.is_match(external_id) {
        return Ok(());
    }
    Err(format!(
        "The external ID ({} characters) must be 2–1224 characters of letters, digits and `+=,.@:/_-`.",
        external_id.chars().count()
    ))
}

/// AWS's tag rules: at most 50 tags, keys of 1–128 characters that do not
/// start with `aws:`, values up to 256 characters. Each problem comes with
/// the key it concerns (`None` for the count).
pub fn tag_problems(tags: &BTreeMap<String, String>) -> Vec<(Option<String>, String)> {
    let mut problems = Vec::new();
    if tags.len() > MAX_TAGS {
        problems.push((None, format!("{} tags are set; a resource takes at most {MAX_TAGS}.", tags.len())));
    }
    for (key, value) in tags {
        if key.is_empty() || key.chars().count() > MAX_TAG_KEY {
            problems.push((Some(key.clone()), format!("Tag key {key:?} must be 1–{MAX_TAG_KEY} characters.")));
        } else if key.to_ascii_lowercase().starts_with("aws:") {
            problems.push((Some(key.clone()), format!("Tag key {key:?} starts with `aws:`, which AWS reserves.")));
        }
        if value.chars().count() > MAX_TAG_VALUE {
            problems.push((
                Some(key.clone()),
                format!("The value of tag {key:?} is longer than {MAX_TAG_VALUE} characters."),
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_give_their_account() {
        assert_eq!(check_role_arn("arn:aws:iam::222222222222:role/bokbasen/deployer"), Ok("222222222222"));
        assert_eq!(check_role_arn("arn:aws-cn:iam::333333333333:role/deploy"), Ok("333333333333"));
        for bad in ["arn:aws:iam::12:role/x", "arn:aws:iam::222222222222:user/x", "deploy", ""] {
            assert!(check_role_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn principals_are_roles_users_or_roots() {
        for good in [
            "arn:aws:iam::222222222222:root",
            "arn:aws:iam::222222222222:user/kari",
            "arn:aws:iam::222222222222:role/bokbasen/ebook-api-pipeline",
        ] {
            assert!(check_principal_arn(good).is_ok(), "{good}");
        }
        assert!(check_principal_arn("ebook-api-pipeline").is_err());
        assert!(check_principal_arn("arn:aws:iam::222222222222:group/devops").is_err());
    }

    #[test]
    fn values_sts_and_s3_accept() {
        assert!(check_bucket_name("bokbasen-artifacts").is_ok());
        for bad in ["Not_A_Bucket", "ab", "a..b", "-bucket"] {
            assert!(check_bucket_name(bad).is_err(), "{bad}");
        }
        assert!(check_region("eu-north-1").is_ok() && check_region("us-gov-west-1").is_ok());
        assert!(check_region("Europe").is_err());
        assert!(check_session_name("ci-run.42").is_ok() && check_session_name("a").is_err());
        assert!(check_account_id("123456789012").is_ok() && check_account_id("12345").is_err());
    }

    #[test]
    fn an_external_id_is_described_not_quoted() {
        assert!(check_external_id("ext-123").is_ok());
        let refused = check_external_id("secret value!").unwrap_err();
        assert!(refused.contains("13 characters") && !refused.contains("secret"), "{refused}");
    }

    #[test]
    fn tags_follow_aws_rules() {
        let mut tags: BTreeMap<String, String> = (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
        assert_eq!(tag_problems(&tags).len(), 1);
        tags.clear();
        tags.insert("aws:owner".into(), "x".into());
        tags.insert("team".into(), "v".repeat(257));
        tags.insert(String::new(), "x".into());
        let keys: Vec<_> = tag_problems(&tags).into_iter().map(|(k, _)| k.unwrap()).collect();
        assert_eq!(keys, ["", "aws:owner", "team"]);
    }
}
