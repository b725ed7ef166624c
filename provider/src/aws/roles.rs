//! Roles bokbasen owns, under the IAM path `/bokbasen/`: made idempotently
//! (trust, one inline policy, tags, managed policies), read back for drift,
//! and removed with everything attached.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_iam::error::ProvideErrorMetadata;

use bokbasen_pipeline::names::ROLE_PATH;
use bokbasen_pipeline::RoleDocuments;

use super::tags::TagChanges;
use super::{failed, invalid, AwsContext, Step};

/// The name of the one inline policy of every role.
pub const POLICY_NAME: &str = "bokbasen";

/// A role as IAM holds it.
#[derive(Clone, Debug)]
pub struct ObservedRole {
    pub arn: String,
    pub trust: serde_json::Value,
    /// The inline policy `bokbasen`, when the role has it.
    pub policy: Option<serde_json::Value>,
    pub tags: BTreeMap<String, String>,
    pub managed_policies: Vec<String>,
}

/// IAM returns policy documents URL-encoded.
fn document(encoded: &str) -> serde_json::Value {
    let decoded = url::form_urlencoded::parse(format!("d={}", encoded.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    serde_json::from_str(&decoded).or_else(|_| serde_json::from_str(encoded)).unwrap_or(serde_json::Value::Null)
}

/// The role called `name` with its documents, or `None` when it is gone.
pub async fn read_role(aws: &AwsContext, name: &str) -> Step<Option<ObservedRole>> {
    let iam = aws.iam();
    let role = match iam.get_role().role_name(name).send().await {
        Ok(found) => match found.role {
            Some(role) => role,
            None => return Ok(None),
        },
        Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_entity_exception()) => return Ok(None),
        Err(err) => return Err(failed(format!("reading IAM role {name}"))(err)),
    };
    let policy = match iam.get_role_policy().role_name(name).policy_name(POLICY_NAME).send().await {
        Ok(found) => Some(document(&found.policy_document)),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_entity_exception()) => None,
        Err(err) => return Err(failed(format!("reading the policy of IAM role {name}"))(err)),
    };
    Ok(Some(ObservedRole {
        trust: role.assume_role_policy_document.as_deref().map(document).unwrap_or_default(),
        tags: role.tags.unwrap_or_default().into_iter().map(|t| (t.key, t.value)).collect(),
        arn: role.arn,
        policy,
        managed_policies: attached_policies(aws, name).await?,
    }))
}

async fn attached_policies(aws: &AwsContext, name: &str) -> Step<Vec<String>> {
    let listed = aws
        .iam()
        .list_attached_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(failed(format!("listing the managed policies of IAM role {name}")))?;
    Ok(listed.into_iter().filter_map(|p| p.policy_arn).collect())
}

/// The ARN of the role `name`, or `None` when it does not exist.
pub async fn role_arn(aws: &AwsContext, name: &str) -> Step<Option<String>> {
    match aws.iam().get_role().role_name(name).send().await {
        Ok(found) => Ok(found.role.map(|r| r.arn)),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_entity_exception()) => Ok(None),
        Err(err) => Err(failed(format!("reading IAM role {name}"))(err)),
    }
}

/// The ARN of the role `name`, or `None` when it does not exist, looked up
/// among the roles under bokbasen's path, listed once per account until
/// this process writes (`AwsContext::listed_roles`): a refresh of many
/// pipelines lists each account's roles instead of one GetRole per role.
/// One not listed there (deleted, or made elsewhere by hand) is asked for,
/// as is every role of an account whose roles may not be listed (a deploy
/// target applied by an older version lacks `iam:ListRoles`; the next apply
/// of the target adds it).
pub async fn listed_role_arn(aws: &AwsContext, name: &str) -> Step<Option<String>> {
    match aws.listed_roles(list_roles(aws)).await?.get(name) {
        Some(arn) => Ok(Some(arn.clone())),
        None => role_arn(aws, name).await,
    }
}

/// The roles under bokbasen's path by name (empty when listing is denied).
async fn list_roles(aws: &AwsContext) -> Step<Arc<BTreeMap<String, String>>> {
    let listed = aws
        .iam()
        .list_roles()
        .path_prefix(ROLE_PATH)
        .max_items(1000)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await;
    match listed {
        Ok(roles) => Ok(Arc::new(roles.into_iter().map(|role| (role.role_name, role.arn)).collect())),
        Err(err) if err.as_service_error().and_then(|e| e.code()) == Some("AccessDenied") => Ok(Arc::default()),
        Err(err) => Err(failed(format!("listing the IAM roles under {ROLE_PATH}"))(err)),
    }
}

/// The tags of the role `name`, or `None` when it does not exist (GetRole
/// answers them, so ownership costs no extra call).
pub async fn role_tags(aws: &AwsContext, name: &str) -> Step<Option<BTreeMap<String, String>>> {
    match aws.iam().get_role().role_name(name).send().await {
        Ok(found) => Ok(found.role.map(|r| r.tags.unwrap_or_default().into_iter().map(|t| (t.key, t.value)).collect())),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_entity_exception()) => Ok(None),
        Err(err) => Err(failed(format!("reading IAM role {name}"))(err)),
    }
}

fn iam_tags(tags: &BTreeMap<String, String>) -> Step<Vec<aws_sdk_iam::types::Tag>> {
    tags.iter()
        .map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build().map_err(invalid("IAM tag")))
        .collect()
}

/// Makes the role `name` match `docs`, `tags` and `managed_policies`,
/// creating it when it does not exist; returns its ARN.
pub async fn ensure_role(
    aws: &AwsContext,
    name: &str,
    docs: &RoleDocuments,
    tags: &BTreeMap<String, String>,
    managed_policies: &[String],
) -> Step<String> {
    let iam = aws.iam();
    let trust = docs.trust.to_string();
    let arn = match iam.get_role().role_name(name).send().await {
        Ok(found) => {
            let (arn, current) = found.role.map(|r| (r.arn, r.tags.unwrap_or_default())).unwrap_or_default();
            let current = current.into_iter().map(|t| (t.key, t.value)).collect();
            let changes = TagChanges::between(&current, tags);
            if !changes.remove.is_empty() {
                iam.untag_role()
                    .role_name(name)
                    .set_tag_keys(Some(changes.remove))
                    .send()
                    .await
                    .map_err(failed(format!("untagging IAM role {name}")))?;
            }
            if !changes.set.is_empty() {
                iam.tag_role()
                    .role_name(name)
                    .set_tags(Some(iam_tags(&changes.set)?))
                    .send()
                    .await
                    .map_err(failed(format!("tagging IAM role {name}")))?;
            }
            iam.update_assume_role_policy()
                .role_name(name)
                .policy_document(&trust)
                .send()
                .await
                .map_err(failed(format!("updating the trust of IAM role {name}")))?;
            arn
        }
        Err(err) if !err.as_service_error().is_some_and(|e| e.is_no_such_entity_exception()) => {
            return Err(failed(format!("reading IAM role {name}"))(err));
        }
        Err(_) => {
            let created = iam
                .create_role()
                .role_name(name)
                .path(ROLE_PATH)
                .assume_role_policy_document(&trust)
                .set_tags(Some(iam_tags(tags)?))
                .send()
                .await
                .map_err(failed(format!("creating IAM role {name}")))?;
            created.role.map(|r| r.arn).unwrap_or_default()
        }
    };
    iam.put_role_policy()
        .role_name(name)
        .policy_name(POLICY_NAME)
        .policy_document(docs.policy.to_string())
        .send()
        .await
        .map_err(failed(format!("setting the policy of IAM role {name}")))?;
    let attached = attached_policies(aws, name).await?;
    for policy in managed_policies.iter().filter(|p| !attached.contains(*p)) {
        iam.attach_role_policy()
            .role_name(name)
            .policy_arn(policy)
            .send()
            .await
            .map_err(failed(format!("attaching {policy} to IAM role {name}")))?;
    }
    for policy in attached.iter().filter(|p| !managed_policies.contains(*p)) {
        iam.detach_role_policy()
            .role_name(name)
            .policy_arn(policy)
            .send()
            .await
            .map_err(failed(format!("detaching {policy} from IAM role {name}")))?;
    }
    Ok(arn)
}

/// Deletes the role `name` with its policies; already gone is fine.
pub async fn remove_role(aws: &AwsContext, name: &str) -> Step {
    let iam = aws.iam();
    let gone = |err: &aws_sdk_iam::error::SdkError<_>| -> bool {
        matches!(err, aws_sdk_iam::error::SdkError::ServiceError(e) if aws_sdk_iam::error::ProvideErrorMetadata::code(e.err()) == Some("NoSuchEntity"))
    };
    // Looked up first: a role that does not exist has no path, so least
    // privilege over `/bokbasen/` roles denies every other call on its name.
    if role_arn(aws, name).await?.is_none() {
        return Ok(());
    }
    for policy in attached_policies(aws, name).await? {
        iam.detach_role_policy()
            .role_name(name)
            .policy_arn(&policy)
            .send()
            .await
            .map_err(failed(format!("detaching {policy} from IAM role {name}")))?;
    }
    if let Err(err) = iam.delete_role_policy().role_name(name).policy_name(POLICY_NAME).send().await {
        if !gone(&err) {
            return Err(failed(format!("deleting the policy of IAM role {name}"))(err));
        }
    }
    match iam.delete_role().role_name(name).send().await {
        Ok(_) => Ok(()),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_entity_exception()) => Ok(()),
        Err(err) => Err(failed(format!("deleting IAM role {name}"))(err)),
    }
}
