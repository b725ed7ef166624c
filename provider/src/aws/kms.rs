//! KMS calls for a customer-managed key bokbasen owns: made with its key
//! policy, tags and rotation, named by an alias, read back, found by a tag
//! (a key has no name: an apply interrupted before its alias finds it by
//! bokbasen's marker), and scheduled for deletion (KMS never deletes a key
//! at once).

use std::collections::BTreeMap;

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::types::{KeyState, Tag};

use super::tags::TagChanges;
use super::{failed, invalid, AwsContext, Step};

/// A key as KMS describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedKey {
    pub id: String,
    pub arn: String,
    /// Scheduled for deletion (or deleted): no longer usable.
    pub pending_deletion: bool,
    pub policy: serde_json::Value,
    pub rotation: bool,
    pub tags: BTreeMap<String, String>,
}

fn kms_tags(tags: &BTreeMap<String, String>) -> Step<Vec<Tag>> {
    tags.iter().map(|(k, v)| Tag::builder().tag_key(k).tag_value(v).build().map_err(invalid("KMS tag"))).collect()
}

/// Creates a symmetric key with `policy` and `tags`; returns (id, ARN).
pub async fn create_key(
    aws: &AwsContext,
    description: &str,
    policy: &serde_json::Value,
    tags: &BTreeMap<String, String>,
) -> Step<(String, String)> {
    let created = aws
        .kms()
        .create_key()
        .description(description)
        .policy(policy.to_string())
        .set_tags(Some(kms_tags(tags)?))
        .send()
        .await
        .map_err(failed(format!("creating the KMS key for {description:?}")))?;
    let metadata = created.key_metadata.ok_or("KMS answered CreateKey without the key's metadata")?;
    let arn = metadata.arn.unwrap_or_default();
    Ok((metadata.key_id, arn))
}

pub async fn enable_rotation(aws: &AwsContext, key: &str) -> Step {
    aws.kms()
        .enable_key_rotation()
        .key_id(key)
        .send()
        .await
        .map_err(failed(format!("turning on rotation of KMS key {key}")))?;
    Ok(())
}

pub async fn put_policy(aws: &AwsContext, key: &str, policy: &serde_json::Value) -> Step {
    aws.kms()
        .put_key_policy()
        .key_id(key)
        .policy_name("default")
        .policy(policy.to_string())
        .send()
        .await
        .map_err(failed(format!("setting the policy of KMS key {key}")))?;
    Ok(())
}

/// Makes the key's tags exactly `wanted`.
pub async fn set_tags(
    aws: &AwsContext,
    key: &str,
    current: &BTreeMap<String, String>,
    wanted: &BTreeMap<String, String>,
) -> Step {
    let changes = TagChanges::between(current, wanted);
    if !changes.remove.is_empty() {
        aws.kms()
            .untag_resource()
            .key_id(key)
            .set_tag_keys(Some(changes.remove))
            .send()
            .await
            .map_err(failed(format!("untagging KMS key {key}")))?;
    }
    if !changes.set.is_empty() {
        aws.kms()
            .tag_resource()
            .key_id(key)
            .set_tags(Some(kms_tags(&changes.set)?))
            .send()
            .await
            .map_err(failed(format!("tagging KMS key {key}")))?;
    }
    Ok(())
}

/// Points `alias` at `key`; an alias of that name already there is an error.
pub async fn create_alias(aws: &AwsContext, alias: &str, key: &str) -> Step {
    aws.kms()
        .create_alias()
        .alias_name(alias)
        .target_key_id(key)
        .send()
        .await
        .map_err(failed(format!("creating the KMS alias {alias}")))?;
    Ok(())
}

/// Deletes `alias`; already gone is fine.
pub async fn delete_alias(aws: &AwsContext, alias: &str) -> Step {
    match aws.kms().delete_alias().alias_name(alias).send().await {
        Ok(_) => Ok(()),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found_exception()) => Ok(()),
        Err(err) => Err(failed(format!("deleting the KMS alias {alias}"))(err)),
    }
}

/// The ARN of the key `alias` points at, or `None` when there is no such alias.
pub async fn alias_target(aws: &AwsContext, alias: &str) -> Step<Option<String>> {
    match aws.kms().describe_key().key_id(alias).send().await {
        Ok(found) => Ok(found.key_metadata.and_then(|m| m.arn)),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found_exception()) => Ok(None),
        Err(err) => Err(failed(format!("reading the KMS alias {alias}"))(err)),
    }
}

/// The key `key` (ID, ARN or alias) with its policy, rotation and tags, or
/// `None` when it does not exist.
pub async fn read_key(aws: &AwsContext, key: &str) -> Step<Option<ObservedKey>> {
    let kms = aws.kms();
    let metadata = match kms.describe_key().key_id(key).send().await {
        Ok(found) => match found.key_metadata {
            Some(metadata) => metadata,
            None => return Ok(None),
        },
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found_exception()) => return Ok(None),
        Err(err) => return Err(failed(format!("reading KMS key {key}"))(err)),
    };
    let id = metadata.key_id;
    let pending_deletion = matches!(
        metadata.key_state,
        Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion | KeyState::Unavailable)
    );
    if pending_deletion {
        // Its policy and rotation can no longer be read in AWS.
        return Ok(Some(ObservedKey {
            arn: metadata.arn.unwrap_or_default(),
            id,
            pending_deletion,
            policy: serde_json::Value::Null,
            rotation: false,
            tags: BTreeMap::new(),
        }));
    }
    let policy = kms
        .get_key_policy()
        .key_id(&id)
        .policy_name("default")
        .send()
        .await
        .map_err(failed(format!("reading the policy of KMS key {id}")))?
        .policy
        .and_then(|p| serde_json::from_str(&p).ok())
        .unwrap_or_default();
    let rotation = kms
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .map_err(failed(format!("reading the rotation of KMS key {id}")))?
        .key_rotation_enabled;
    let tags = kms
        .list_resource_tags()
        .key_id(&id)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(failed(format!("reading the tags of KMS key {id}")))?
        .into_iter()
        .map(|t| (t.tag_key, t.tag_value))
        .collect();
    Ok(Some(ObservedKey { arn: metadata.arn.unwrap_or_default(), id, pending_deletion, policy, rotation, tags }))
}

/// The tags of `key` (ID or ARN), read in any key state; `None` when they
/// cannot be read: the key is gone, or its key policy does not let this
/// account's IAM read it (e.g. an AWS managed key).
pub async fn key_tags(aws: &AwsContext, key: &str) -> Step<Option<BTreeMap<String, String>>> {
    let listed = aws.kms().list_resource_tags().key_id(key).into_paginator().items().send().collect::<Vec<_>>().await;
    let mut tags = BTreeMap::new();
    for tag in listed {
        match tag {
            Ok(tag) => {
                tags.insert(tag.tag_key, tag.tag_value);
            }
            Err(err)
                if err.as_service_error().and_then(|e| e.code()).is_some_and(|code| {
                    ["AccessDeniedException", "NotFoundException", "KMSInvalidStateException"].contains(&code)
                }) =>
            {
                return Ok(None)
            }
            Err(err) => return Err(failed(format!("reading the tags of KMS key {key}"))(err)),
        }
    }
    Ok(Some(tags))
}

/// The keys of this account and region that carry the tag `tag` = `value`
/// and are not scheduled for deletion: every key is listed (`ListKeys`) and
/// its tags read, since KMS finds keys by neither name nor tag.
pub async fn live_keys_tagged(aws: &AwsContext, tag: &str, value: &str) -> Step<Vec<ObservedKey>> {
    let ids: Vec<String> = aws
        .kms()
        .list_keys()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(failed("listing the KMS keys"))?
        .into_iter()
        .filter_map(|k| k.key_id)
        .collect();
    let mut found = Vec::new();
    for id in ids {
        let tagged = key_tags(aws, &id).await?.is_some_and(|tags| tags.get(tag).map(String::as_str) == Some(value));
        if !tagged {
            continue;
        }
        if let Some(key) = read_key(aws, &id).await?.filter(|key| !key.pending_deletion) {
            found.push(key);
        }
    }
    Ok(found)
}

/// Schedules `key` for deletion after `days` (7–30); a key already
/// scheduled or gone is fine.
pub async fn schedule_deletion(aws: &AwsContext, key: &str, days: i32) -> Step {
    match aws.kms().schedule_key_deletion().key_id(key).pending_window_in_days(days).send().await {
        Ok(_) => Ok(()),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found_exception()) => Ok(()),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_kms_invalid_state_exception()) => {
            match read_key(aws, key).await? {
                Some(found) if !found.pending_deletion => {
                    Err(failed(format!("scheduling the deletion of KMS key {key}"))(err))
                }
                _ => Ok(()),
            }
        }
        Err(err) => Err(failed(format!("scheduling the deletion of KMS key {key}"))(err)),
    }
}
