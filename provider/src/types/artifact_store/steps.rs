//! The store against AWS, orchestration only (the calls are `aws::s3` and
//! `aws::kms`, the documents `bokbasen_pipeline::store`): make it tracking
//! what this attempt made, bring an existing one in line, read it back, and
//! remove it.

use std::collections::BTreeMap;

use bokbasen_pipeline::store::{
    bucket_policy, key_alias, key_description, key_policy, observe as observe_policies, ArtifactStore, STORE_TAG,
};
use bokbasen_pipeline::Region;

use super::{known_set, state_set, store, ArtifactStoreState};
use crate::aws::kms::{self, ObservedKey};
use crate::aws::s3::{self, Created, ObservedBucket};
use crate::aws::{tags, AwsContext, Step};
use crate::framework::Attr;
use crate::types::shared::{known_map, state_map};

/// What a create made so far: exactly what its clean-up removes.
#[derive(Clone, Debug, Default)]
pub struct Made {
    pub bucket: bool,
    pub key_id: Option<String>,
    pub alias: bool,
}

/// The key and bucket as they are once applied.
pub struct Applied {
    pub bucket_arn: String,
    pub key_arn: String,
    pub key_id: String,
}

/// The tags of the bucket and key: the provider's defaults, the store's
/// own, and the ownership tag.
fn wanted_tags(aws: &AwsContext, state: &ArtifactStoreState, bucket: &str) -> BTreeMap<String, String> {
    let mut all = tags::with_defaults(aws, &known_map(&state.tags).unwrap_or_default());
    all.insert(STORE_TAG.into(), bucket.into());
    all
}

async fn known(aws: &AwsContext, state: &ArtifactStoreState) -> Step<(ArtifactStore, Region)> {
    let (account, region) = aws.whereabouts().await?;
    let store = store(state, &account).ok_or("the configuration still has unknown values")?;
    Ok((store, region))
}

/// The error a create gives for a bucket name that is taken.
pub fn taken(bucket: &str) -> String {
    format!(
        "An S3 bucket called {bucket:?} already exists, and bokbasen never takes over a bucket it did not create. If it is an artifact store bokbasen made, import it: `terraform import <address> {bucket}`. Otherwise choose another name (S3 bucket names are global)."
    )
}

/// Makes the store; on failure, `made` says what exists now.
pub async fn create(aws: &AwsContext, state: &ArtifactStoreState, made: &mut Made) -> Step<Applied> {
    let (store, region) = known(aws, state).await?;
    let bucket = &store.bucket;
    let tags = wanted_tags(aws, state, bucket);
    // The bucket first: a name that is taken stops the create before
    // anything is made.
    match s3::create_bucket(aws, bucket, &region.region).await? {
        Created::Created => made.bucket = true,
        Created::Taken => return Err(taken(bucket)),
    }
    let (key_id, key_arn) = kms::create_key(aws, &key_description(bucket), &key_policy(&store, &region), &tags).await?;
    made.key_id = Some(key_id.clone());
    kms::enable_rotation(aws, &key_id).await?;
    kms::create_alias(aws, &key_alias(bucket), &key_id).await?;
    made.alias = true;
    configure_bucket(aws, &store, &region, &key_arn, &tags).await?;
    Ok(Applied { bucket_arn: format!("arn:{}:s3:::{bucket}", region.partition), key_arn, key_id })
}

/// Every bucket setting, each call idempotent.
async fn configure_bucket(
    aws: &AwsContext,
    store: &ArtifactStore,
    region: &Region,
    key_arn: &str,
    tags: &BTreeMap<String, String>,
) -> Step {
    let bucket = &store.bucket;
    s3::block_public_access(aws, bucket).await?;
    s3::enable_versioning(aws, bucket).await?;
    s3::encrypt_with_key(aws, bucket, key_arn).await?;
    s3::put_policy(aws, bucket, &bucket_policy(store, region)).await?;
    s3::put_tags(aws, bucket, tags).await
}

/// Brings an existing store in line with `state` (policies, tags, and every
/// setting a change out of band may have undone). The key is the one the
/// prior state names.
pub async fn update(aws: &AwsContext, prior: &ArtifactStoreState, state: &ArtifactStoreState) -> Step<Applied> {
    let (store, region) = known(aws, state).await?;
    let bucket = &store.bucket;
    let key_ref = prior.key_arn.known().cloned().unwrap_or_else(|| key_alias(bucket));
    let key = match kms::read_key(aws, &key_ref).await? {
        Some(key) if !key.pending_deletion => key,
        _ => {
            return Err(format!(
                "The KMS key of artifact store {bucket} ({key_ref}) is gone or scheduled for deletion; cancel the deletion (`aws kms cancel-key-deletion`), or replace the store."
            ))
        }
    };
    let tags = wanted_tags(aws, state, bucket);
    kms::put_policy(aws, &key.id, &key_policy(&store, &region)).await?;
    kms::set_tags(aws, &key.id, &key.tags, &tags).await?;
    if !key.rotation {
        kms::enable_rotation(aws, &key.id).await?;
    }
    configure_bucket(aws, &store, &region, &key.arn, &tags).await?;
    Ok(Applied { bucket_arn: format!("arn:{}:s3:::{bucket}", region.partition), key_arn: key.arn, key_id: key.id })
}

/// Removes exactly what `made` says, the key by scheduling its deletion.
pub async fn remove_made(aws: &AwsContext, bucket: &str, made: &Made, window: i64) -> Step {
    let mut problems = Vec::new();
    if made.bucket {
        if let Err(err) = remove_bucket(aws, bucket).await {
            problems.push(err);
        }
    }
    if made.alias {
        if let Err(err) = kms::delete_alias(aws, &key_alias(bucket)).await {
            problems.push(err);
        }
    }
    if let Some(key) = &made.key_id {
        if let Err(err) = kms::schedule_deletion(aws, key, window as i32).await {
            problems.push(err);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

async fn remove_bucket(aws: &AwsContext, bucket: &str) -> Step {
    s3::empty_bucket(aws, bucket).await?;
    s3::delete_bucket(aws, bucket).await
}

/// Deletes the store: refuses a bucket that holds objects unless
/// `force_destroy`; the key is scheduled for deletion.
pub async fn delete(aws: &AwsContext, prior: &ArtifactStoreState) -> Step {
    let Some(bucket) = prior.bucket.known() else { return Ok(()) };
    if s3::bucket_exists(aws, bucket).await? {
        let count = s3::object_count(aws, bucket).await?;
        if count > 0 && prior.force_destroy.known() != Some(&true) {
            return Err(format!(
                "S3 bucket {bucket} still holds {count} object versions and delete markers, and `force_destroy` is false. Set `force_destroy = true` and apply it before destroying (every object is then deleted for good), or empty the bucket yourself."
            ));
        }
        remove_bucket(aws, bucket).await?;
    }
    kms::delete_alias(aws, &key_alias(bucket)).await?;
    // The key ID, which AWS takes like the ARN (moto 5.2.5's ScheduleKeyDeletion takes only the ID).
    let key = prior.key_id.known().or(prior.key_arn.known());
    if let Some(key) = key {
        kms::schedule_deletion(aws, key, prior.window() as i32).await?;
    }
    Ok(())
}

/// What a read found besides the state: drift no argument shows.
pub struct Observed {
    pub state: Option<ArtifactStoreState>,
    pub unmanaged_drift: Vec<String>,
}

/// The store as AWS holds it; `state: None` when the bucket is gone.
pub async fn observe(aws: &AwsContext, prior: &ArtifactStoreState) -> Step<Observed> {
    let gone = Observed { state: None, unmanaged_drift: Vec::new() };
    let Some(bucket) = prior.bucket.known().cloned() else { return Ok(gone) };
    let Some(found) = s3::read_bucket(aws, &bucket).await? else { return Ok(gone) };
    let (account, region) = aws.whereabouts().await?;
    // The key: the one the bucket encrypts with, else the one in state.
    let key_ref = found.kms_key.clone().or_else(|| prior.key_arn.known().cloned());
    let key = match &key_ref {
        Some(key) => kms::read_key(aws, key).await?,
        None => None,
    };
    let prior_accounts = known_set(&prior.environment_account_ids).unwrap_or_default();
    let key_policy_found = key.as_ref().map(|k| k.policy.clone()).unwrap_or_default();
    let policies = observe_policies(&bucket, &account, &found.policy, &key_policy_found, &prior_accounts, &region);
    let unmanaged_drift = drift(&found, key.as_ref(), prior, policies.other_drift);
    let mut own_tags = found.tags.clone();
    own_tags.remove(STORE_TAG);
    let prior_tags = known_map(&prior.tags).unwrap_or_default();
    let (key_arn, key_id) = match &key {
        Some(key) => (Attr::Known(key.arn.clone()), Attr::Known(key.id.clone())),
        None => (prior.key_arn.clone(), prior.key_id.clone()),
    };
    let state = ArtifactStoreState {
        bucket: Attr::Known(bucket.clone()),
        environment_account_ids: state_set(policies.environment_accounts, &prior.environment_account_ids),
        tags: state_map(tags::without_defaults(aws, own_tags, &prior_tags), &prior.tags),
        force_destroy: Attr::Known(prior.force_destroy.known().copied().unwrap_or(false)),
        key_deletion_window_days: Attr::Known(prior.window()),
        id: Attr::Known(bucket.clone()),
        bucket_arn: Attr::Known(format!("arn:{}:s3:::{bucket}", region.partition)),
        key_arn,
        key_id,
    };
    Ok(Observed { state: Some(state), unmanaged_drift })
}

/// Settings changed out of band that no argument shows; the next apply
/// that updates the store sets them again.
fn drift(found: &ObservedBucket, key: Option<&ObservedKey>, prior: &ArtifactStoreState, other: bool) -> Vec<String> {
    let mut drift = Vec::new();
    match key {
        None => drift.push("the bucket's default encryption names no KMS key that exists".to_string()),
        Some(key) if key.pending_deletion => drift.push(format!("KMS key {} is scheduled for deletion", key.id)),
        Some(key) => {
            if prior.key_arn.known().is_some_and(|arn| *arn != key.arn) {
                drift.push(format!("the bucket is encrypted with another KMS key ({})", key.arn));
            }
            if !key.rotation {
                drift.push(format!("rotation of KMS key {} is off", key.id));
            }
        }
    }
    if !found.bucket_key {
        drift.push("the S3 Bucket Key is off".to_string());
    }
    if !found.versioning {
        drift.push("versioning is not enabled".to_string());
    }
    if !found.public_access_blocked {
        drift.push("public access is not blocked in full".to_string());
    }
    if other {
        drift.push(
            "the bucket policy or key policy differs from bokbasen's beyond the environment accounts".to_string(),
        );
    }
    drift
}

/// Import refuses what bokbasen did not make: the bucket must carry the
/// ownership tag, be encrypted with a KMS key that carries it too, and the
/// store's alias must point at that key.
pub async fn check_ownership(aws: &AwsContext, bucket: &str) -> Step {
    let not_ours = |why: &str| {
        Err(format!(
            "S3 bucket {bucket:?} is not an artifact store bokbasen made ({why}), and bokbasen only manages what it made."
        ))
    };
    let Some(found) = s3::read_bucket(aws, bucket).await? else {
        return Err(format!("There is no S3 bucket called {bucket:?} in this account."));
    };
    if found.tags.get(STORE_TAG).map(String::as_str) != Some(bucket) {
        return not_ours(&format!("it has no tag {STORE_TAG} = {bucket}"));
    }
    let Some(key_ref) = found.kms_key else {
        return not_ours("its default encryption is not SSE-KMS with a customer-managed key");
    };
    let Some(key) = kms::read_key(aws, &key_ref).await? else {
        return not_ours(&format!("its encryption key {key_ref} does not exist"));
    };
    if key.tags.get(STORE_TAG).map(String::as_str) != Some(bucket) {
        return not_ours(&format!("its KMS key {} has no tag {STORE_TAG} = {bucket}", key.id));
    }
    let alias = key_alias(bucket);
    if kms::alias_target(aws, &alias).await?.as_deref() != Some(key.arn.as_str()) {
        return not_ours(&format!("the alias {alias} does not point at its KMS key {}", key.id));
    }
    Ok(())
}
