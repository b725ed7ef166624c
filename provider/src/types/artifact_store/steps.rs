//! The store against AWS, orchestration only (the calls are `aws::s3` and
//! `aws::kms`, the documents `bokbasen_pipeline::store`, whose object is
//! whose `aws::ownership`): make it, bring an existing one in line, read it
//! back, and remove it.
//!
//! Bucket and key carry the store's marker (`bokbasen:owner =
//! bokbasen_artifact_store/<bucket>`), each from the request that makes it,
//! so neither ever exists unmarked. A create first looks at what is
//! there ([`survey`]): a bucket of the name that is not the store's stops
//! it with nothing changed; one with the marker (left by an interrupted
//! apply) is taken over, and so is a key with the marker that is not
//! scheduled for deletion — found by the alias, or by its tag — so an
//! interrupted apply never leaves two keys. What an attempt makes is
//! recorded before the call that may make it ([`Made`]); a failed create
//! removes exactly that.

use std::collections::BTreeMap;

use bokbasen_pipeline::names::owner_marker;
use bokbasen_pipeline::store::{
    bucket_policy, key_alias, key_description, key_policy, observe as observe_policies, ArtifactStore,
};
use bokbasen_pipeline::Region;

use super::{known_set, state_set, store, ArtifactStoreState, TYPE_NAME};
use crate::aws::kms::{self, ObservedKey};
use crate::aws::ownership::{refusal, Foreign, Holder, OWNER_TAG};
use crate::aws::s3::{self, Created, ObservedBucket};
use crate::aws::{tags, AwsContext, Step};
use crate::framework::Attr;
use crate::types::shared::{known_map, state_map};

/// The marker of the store of `bucket`.
pub fn marker(bucket: &str) -> String {
    owner_marker(TYPE_NAME, bucket)
}

/// What a create made so far: exactly what its clean-up removes. Each is
/// recorded before the call that may make it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Made {
    /// The bucket's ARN, when this attempt created the bucket.
    pub bucket_arn: Option<String>,
    /// `CreateKey` was called; its answer may have been lost.
    pub key_attempted: bool,
    /// The key made: (ID, ARN).
    pub key: Option<(String, String)>,
    /// The alias was created, pointing at this key ARN.
    pub alias_on: Option<String>,
}

impl Made {
    pub fn is_empty(&self) -> bool {
        self.bucket_arn.is_none() && !self.key_attempted && self.key.is_none() && self.alias_on.is_none()
    }
}

/// The key and bucket as they are once applied.
pub struct Applied {
    pub bucket_arn: String,
    pub key_arn: String,
    pub key_id: String,
}

/// Why a create stopped.
pub enum Stop {
    /// Objects under the store's names are not its own: nothing changed.
    Refused(String),
    Failed(String),
}

/// The tags of the bucket and key: the provider's defaults, the store's
/// own, and the store's marker.
fn wanted_tags(aws: &AwsContext, state: &ArtifactStoreState, bucket: &str) -> BTreeMap<String, String> {
    let mut all = tags::with_defaults(aws, &known_map(&state.tags).unwrap_or_default());
    all.insert(OWNER_TAG.into(), marker(bucket));
    all
}

async fn known(aws: &AwsContext, state: &ArtifactStoreState) -> Step<(ArtifactStore, Region)> {
    let (account, region) = aws.whereabouts().await?;
    let store = store(state, &account).ok_or("the configuration still has unknown values")?;
    Ok((store, region))
}

/// How the store of `bucket` takes over a bucket that is not yet its own.
fn hand_over(bucket: &str) -> String {
    format!(
        "If the bucket is this store's, hand it over with `terraform import ADDRESS {bucket}` (ADDRESS: this resource's address in your configuration, e.g. `bokbasen_artifact_store.artifacts`; Terraform does not tell the provider its address): import takes a bucket encrypted with a KMS key, and the next apply tags both `{OWNER_TAG} = {marker}`. Otherwise choose another bucket name (S3 bucket names are global), or remove what is in the way.",
        marker = marker(bucket),
    )
}

/// The error for a bucket name taken in another account.
fn taken_elsewhere(bucket: &str) -> String {
    format!(
        "An S3 bucket called {bucket:?} already exists in another AWS account (S3 bucket names are global). Nothing was changed, and nothing was created. Choose another bucket name."
    )
}

/// The key the store's alias points at, with its tags (in any key state).
#[derive(Clone, Debug, PartialEq)]
pub struct AliasTarget {
    pub key: ObservedKey,
    pub tags: BTreeMap<String, String>,
}

/// What a create finds under the store's names.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    pub bucket: s3::Found,
    /// The key of the alias `alias/bokbasen/<bucket>`, when there is one.
    pub alias: Option<AliasTarget>,
    /// Keys carrying the store's marker, not scheduled for deletion
    /// (looked for only when the alias names no such key).
    pub marked: Vec<ObservedKey>,
}

/// What to do with the alias.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AliasPlan {
    Create,
    /// It points at the key taken over.
    Keep,
    /// It is the store's but points at a key scheduled for deletion.
    Repoint,
}

/// What a create does with what it found.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The bucket exists and carries the store's marker: its tags as found.
    pub adopt_bucket: Option<BTreeMap<String, String>>,
    /// The store's key to take over instead of making one.
    pub key: Option<ObservedKey>,
    pub alias: AliasPlan,
}

fn foreign(object: String, account: &str, holder: Holder) -> Foreign {
    let owner = match holder {
        Holder::Other(owner) => Some(owner),
        _ => None,
    };
    Foreign { object, account: account.to_string(), owner }
}

/// Judges what a create found: refused (the error) when the bucket or the
/// alias is not the store's; otherwise what to take over.
pub fn judge(found: &Found, bucket: &str, account: &str) -> Result<Plan, String> {
    let marker = marker(bucket);
    let mut others = Vec::new();
    let adopt_bucket = match &found.bucket {
        s3::Found::Absent => None,
        s3::Found::Elsewhere => return Err(taken_elsewhere(bucket)),
        s3::Found::Here(tags) => match Holder::of(tags, &marker, false) {
            Holder::This => Some(tags.clone()),
            holder => {
                others.push(foreign(format!("S3 bucket {bucket}"), account, holder));
                None
            }
        },
    };
    let fallback = found.marked.first().cloned();
    let (key, alias) = match &found.alias {
        None => (fallback, AliasPlan::Create),
        Some(target) => match Holder::of(&target.tags, &marker, false) {
            Holder::This if !target.key.pending_deletion => (Some(target.key.clone()), AliasPlan::Keep),
            Holder::This => (fallback, AliasPlan::Repoint),
            holder => {
                let object = format!("KMS alias {} (of key {})", key_alias(bucket), target.key.id);
                others.push(foreign(object, account, holder));
                (None, AliasPlan::Create)
            }
        },
    };
    if !others.is_empty() {
        return Err(refusal(&marker, &others, &hand_over(bucket)));
    }
    Ok(Plan { adopt_bucket, key, alias })
}

/// Looks up the bucket, the alias and, unless the alias names it, the
/// store's key by its marker.
async fn survey(aws: &AwsContext, bucket: &str) -> Step<Found> {
    let marker = marker(bucket);
    let found_bucket = s3::find_bucket(aws, bucket).await?;
    let alias = match kms::alias_target(aws, &key_alias(bucket)).await? {
        Some(arn) => match kms::read_key(aws, &arn).await? {
            Some(key) => {
                let tags = match key.pending_deletion {
                    true => kms::key_tags(aws, &key.id).await?.unwrap_or_default(),
                    false => key.tags.clone(),
                };
                Some(AliasTarget { key, tags })
            }
            None => None,
        },
        None => None,
    };
    let bucket_refused = match &found_bucket {
        s3::Found::Absent => false,
        s3::Found::Elsewhere => true,
        s3::Found::Here(tags) => Holder::of(tags, &marker, false) != Holder::This,
    };
    let alias_names_key =
        alias.as_ref().is_some_and(|a| !a.key.pending_deletion && a.tags.get(OWNER_TAG) == Some(&marker));
    let marked = if bucket_refused || alias_names_key {
        Vec::new()
    } else {
        kms::live_keys_tagged(aws, OWNER_TAG, &marker).await?
    };
    Ok(Found { bucket: found_bucket, alias, marked })
}

/// Makes the store, taking over what an interrupted apply left; on
/// failure, `made` says what this attempt made.
pub async fn create(aws: &AwsContext, state: &ArtifactStoreState, made: &mut Made) -> Result<Applied, Stop> {
    let (store, region) = known(aws, state).await.map_err(Stop::Failed)?;
    let found = survey(aws, &store.bucket).await.map_err(Stop::Failed)?;
    let plan = judge(&found, &store.bucket, &store.tooling_account).map_err(Stop::Refused)?;
    make(aws, state, &store, &region, plan, made).await.map_err(Stop::Failed)
}

async fn make(
    aws: &AwsContext,
    state: &ArtifactStoreState,
    store: &ArtifactStore,
    region: &Region,
    plan: Plan,
    made: &mut Made,
) -> Step<Applied> {
    let bucket = &store.bucket;
    let tags = wanted_tags(aws, state, bucket);
    let bucket_arn = format!("arn:{}:s3:::{bucket}", region.partition);
    // The bucket first: a name taken since the survey stops the create before a key exists.
    // A bucket taken over keeps the tags it has unless they differ from the wanted ones (a
    // configuration changed since the interrupted apply); a new one is made with them.
    let retag = match &plan.adopt_bucket {
        Some(found) => found != &tags,
        None => {
            made.bucket_arn = Some(bucket_arn.clone());
            // Made with its tags, marker included, in the one request: an apply interrupted at
            // any point leaves no bucket, or one the next apply takes over by its marker.
            if s3::create_bucket(aws, bucket, &region.region, &tags).await? == Created::Taken {
                made.bucket_arn = None;
                return Err(format!(
                    "An S3 bucket called {bucket:?} was made by someone else while this apply ran. {}",
                    hand_over(bucket)
                ));
            }
            false
        }
    };
    let policy = key_policy(store, region);
    let (key_id, key_arn) = match plan.key {
        Some(key) => {
            kms::put_policy(aws, &key.id, &policy).await?;
            kms::set_tags(aws, &key.id, &key.tags, &tags).await?;
            (key.id, key.arn)
        }
        None => {
            made.key_attempted = true;
            let (id, arn) = kms::create_key(aws, &key_description(bucket), &policy, &tags).await?;
            made.key = Some((id.clone(), arn.clone()));
            (id, arn)
        }
    };
    kms::enable_rotation(aws, &key_id).await?;
    let alias = key_alias(bucket);
    if plan.alias != AliasPlan::Keep {
        if plan.alias == AliasPlan::Repoint {
            kms::delete_alias(aws, &alias).await?;
        }
        made.alias_on = Some(key_arn.clone());
        kms::create_alias(aws, &alias, &key_id).await?;
    }
    configure_bucket(aws, store, region, &key_arn, retag.then_some(&tags)).await?;
    Ok(Applied { bucket_arn, key_arn, key_id })
}

/// Every bucket setting, each call idempotent; the tags only when given
/// (a bucket just made has them from its creation).
async fn configure_bucket(
    aws: &AwsContext,
    store: &ArtifactStore,
    region: &Region,
    key_arn: &str,
    tags: Option<&BTreeMap<String, String>>,
) -> Step {
    let bucket = &store.bucket;
    s3::block_public_access(aws, bucket).await?;
    s3::enable_versioning(aws, bucket).await?;
    s3::encrypt_with_key(aws, bucket, key_arn).await?;
    s3::put_policy(aws, bucket, &bucket_policy(store, region)).await?;
    match tags {
        Some(tags) => s3::put_tags(aws, bucket, tags).await,
        None => Ok(()),
    }
}

/// Brings an existing store in line with `state` (policies, tags with the
/// marker, the alias when it is missing, and every setting a change out of
/// band may have undone). The bucket and key are the ones the prior state
/// names: the store's by its state.
pub async fn update(aws: &AwsContext, prior: &ArtifactStoreState, state: &ArtifactStoreState) -> Step<Applied> {
    let (store, region) = known(aws, state).await?;
    let bucket = &store.bucket;
    let alias = key_alias(bucket);
    let key_ref = prior.key_arn.known().filter(|arn| !arn.is_empty()).cloned().unwrap_or_else(|| alias.clone());
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
    // An imported store may have no alias yet; one pointing at another key is left alone.
    if kms::alias_target(aws, &alias).await?.is_none() {
        kms::create_alias(aws, &alias, &key.id).await?;
    }
    configure_bucket(aws, &store, &region, &key.arn, Some(&tags)).await?;
    Ok(Applied { bucket_arn: format!("arn:{}:s3:::{bucket}", region.partition), key_arn: key.arn, key_id: key.id })
}

/// Removes exactly what `made` says (already gone is fine): the bucket,
/// the alias while it points at the key this attempt gave it, and the key
/// by scheduling its deletion after `window` days. Answers the IDs of the
/// keys scheduled; on failure, the error and what is left.
pub async fn remove_made(
    aws: &AwsContext,
    bucket: &str,
    made: &Made,
    window: i64,
) -> Result<Vec<String>, (String, Made)> {
    let mut left = made.clone();
    let mut problems = Vec::new();
    if made.bucket_arn.is_some() {
        match remove_bucket_if_here(aws, bucket).await {
            Ok(()) => left.bucket_arn = None,
            Err(err) => problems.push(err),
        }
    }
    if let Some(on) = &made.alias_on {
        let alias = key_alias(bucket);
        let removed = match kms::alias_target(aws, &alias).await {
            Ok(Some(target)) if &target == on => kms::delete_alias(aws, &alias).await,
            Ok(_) => Ok(()),
            Err(err) => Err(err),
        };
        match removed {
            Ok(()) => left.alias_on = None,
            Err(err) => problems.push(err),
        }
    }
    // A key whose CreateKey answer was lost is found by its marker: the survey found none before.
    let keys = match (&made.key, made.key_attempted) {
        (Some((id, _)), _) => Ok(vec![id.clone()]),
        (None, true) => kms::live_keys_tagged(aws, OWNER_TAG, &marker(bucket))
            .await
            .map(|keys| keys.into_iter().map(|k| k.id).collect()),
        (None, false) => Ok(Vec::new()),
    };
    let mut scheduled = Vec::new();
    match keys {
        Ok(keys) => {
            let mut failed = false;
            for key in keys {
                match kms::schedule_deletion(aws, &key, window as i32).await {
                    Ok(()) => scheduled.push(key),
                    Err(err) => {
                        failed = true;
                        problems.push(err);
                    }
                }
            }
            if !failed {
                left.key = None;
                left.key_attempted = false;
            }
        }
        Err(err) => problems.push(err),
    }
    if problems.is_empty() {
        Ok(scheduled)
    } else {
        Err((problems.join("; "), left))
    }
}

/// Empties and deletes `bucket` when it is in this account.
async fn remove_bucket_if_here(aws: &AwsContext, bucket: &str) -> Step {
    match s3::find_bucket(aws, bucket).await? {
        s3::Found::Here(_) => remove_bucket(aws, bucket).await,
        _ => Ok(()),
    }
}

async fn remove_bucket(aws: &AwsContext, bucket: &str) -> Step {
    s3::empty_bucket(aws, bucket).await?;
    s3::delete_bucket(aws, bucket).await
}

/// Deletes the store (the bucket and key its state names): refuses a
/// bucket that holds objects unless `force_destroy`; the key is scheduled
/// for deletion; the alias is removed only while it points at the store's
/// key. The bucket goes last: read finds the store by it, so a destroy
/// that fails half way is still in state to go on with. Answers what was
/// left alone.
pub async fn delete(aws: &AwsContext, prior: &ArtifactStoreState) -> Step<Vec<String>> {
    let Some(bucket) = prior.bucket.known() else { return Ok(Vec::new()) };
    let bucket_exists = s3::bucket_exists(aws, bucket).await?;
    if bucket_exists {
        let count = s3::object_count(aws, bucket).await?;
        if count > 0 && prior.force_destroy.known() != Some(&true) {
            return Err(format!(
                "S3 bucket {bucket} still holds {count} object versions and delete markers, and `force_destroy` is false. Set `force_destroy = true` and apply it before destroying (every object is then deleted for good), or empty the bucket yourself."
            ));
        }
    }
    let mut left_alone = Vec::new();
    let alias = key_alias(bucket);
    if let Some(target) = kms::alias_target(aws, &alias).await? {
        let listed = prior.key_arn.known() == Some(&target);
        let marked = || async {
            let tags = kms::key_tags(aws, &target).await?.unwrap_or_default();
            Ok::<_, String>(Holder::of(&tags, &marker(bucket), false) == Holder::This)
        };
        if listed || marked().await? {
            kms::delete_alias(aws, &alias).await?;
        } else {
            left_alone.push(format!("KMS alias {alias} points at key {target}, which is not this store's"));
        }
    }
    // The key ID, which AWS takes like the ARN (moto 5.2.5's ScheduleKeyDeletion takes only the ID).
    let key = prior.key_id.known().or(prior.key_arn.known()).filter(|key| !key.is_empty());
    if let Some(key) = key {
        kms::schedule_deletion(aws, key, prior.window() as i32).await?;
    }
    if bucket_exists {
        remove_bucket(aws, bucket).await?;
    }
    Ok(left_alone)
}

/// What a read found besides the state: drift no argument shows.
pub struct Observed {
    pub state: Option<ArtifactStoreState>,
    pub unmanaged_drift: Vec<String>,
}

/// Refuses an object carrying another resource's marker.
fn not_another_s(object: &str, tags: &BTreeMap<String, String>, bucket: &str) -> Step {
    match Holder::of(tags, &marker(bucket), false) {
        Holder::Other(owner) => {
            Err(format!("{object} belongs to {owner} ({OWNER_TAG}), not to the artifact store {bucket}"))
        }
        _ => Ok(()),
    }
}

/// The store as AWS holds it; `state: None` when the bucket is gone.
pub async fn observe(aws: &AwsContext, prior: &ArtifactStoreState) -> Step<Observed> {
    let gone = Observed { state: None, unmanaged_drift: Vec::new() };
    let Some(bucket) = prior.bucket.known().cloned() else { return Ok(gone) };
    let Some(found) = s3::read_bucket(aws, &bucket).await? else { return Ok(gone) };
    not_another_s(&format!("S3 bucket {bucket}"), &found.tags, &bucket)?;
    let (account, region) = aws.whereabouts().await?;
    // The key: the one the bucket encrypts with, else the one in state.
    let key_ref = found.kms_key.clone().or_else(|| prior.key_arn.known().filter(|k| !k.is_empty()).cloned());
    let key = match &key_ref {
        Some(key) => kms::read_key(aws, key).await?,
        None => None,
    };
    if let Some(key) = &key {
        not_another_s(&format!("KMS key {}", key.id), &key.tags, &bucket)?;
    }
    let prior_accounts = known_set(&prior.environment_account_ids).unwrap_or_default();
    let key_policy_found = key.as_ref().map(|k| k.policy.clone()).unwrap_or_default();
    let policies = observe_policies(&bucket, &account, &found.policy, &key_policy_found, &prior_accounts, &region);
    let unmanaged_drift = drift(&found, key.as_ref(), prior, policies.other_drift);
    let mut own_tags = found.tags.clone();
    own_tags.remove(OWNER_TAG);
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

/// Import takes the bucket and the KMS key it is encrypted with, unless
/// either carries another resource's marker (the next apply marks both):
/// the bucket must be in this account, encrypted with SSE-KMS under a key
/// that exists and is not scheduled for deletion.
pub async fn check_import(aws: &AwsContext, bucket: &str) -> Step {
    let cannot = |why: String| Err(format!("S3 bucket {bucket:?} cannot be imported as an artifact store: {why}."));
    let Some(found) = s3::read_bucket(aws, bucket).await? else {
        return Err(format!("There is no S3 bucket called {bucket:?} in this account."));
    };
    not_another_s(&format!("S3 bucket {bucket}"), &found.tags, bucket)?;
    let Some(key_ref) = found.kms_key else {
        return cannot("its default encryption is not SSE-KMS with a KMS key of its own".into());
    };
    let Some(key) = kms::read_key(aws, &key_ref).await? else {
        return cannot(format!("its encryption key {key_ref} does not exist"));
    };
    if key.pending_deletion {
        return cannot(format!("its KMS key {} is scheduled for deletion", key.id));
    }
    not_another_s(&format!("KMS key {}", key.id), &key.tags, bucket)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUCKET: &str = "bokbasen-pipeline-artifacts";

    fn key(id: &str, pending_deletion: bool, owner: Option<&str>) -> ObservedKey {
        ObservedKey {
            id: id.into(),
            arn: format!("arn:aws:kms:eu-north-1:123456789012:key/{id}"),
            pending_deletion,
            policy: serde_json::Value::Null,
            rotation: true,
            tags: owner.map(|o| BTreeMap::from([(OWNER_TAG.to_string(), o.to_string())])).unwrap_or_default(),
        }
    }

    fn alias(key: ObservedKey) -> Option<AliasTarget> {
        let tags = key.tags.clone();
        Some(AliasTarget { key, tags })
    }

    fn found(bucket: s3::Found) -> Found {
        Found { bucket, alias: None, marked: Vec::new() }
    }

    fn tagged(owner: &str) -> s3::Found {
        s3::Found::Here(BTreeMap::from([(OWNER_TAG.to_string(), owner.to_string())]))
    }

    #[test]
    fn a_fresh_store_makes_everything() {
        let plan = judge(&found(s3::Found::Absent), BUCKET, "123456789012").unwrap();
        assert_eq!(plan, Plan { adopt_bucket: None, key: None, alias: AliasPlan::Create });
    }

    #[test]
    fn what_an_interrupted_apply_left_is_taken_over_and_no_second_key_made() {
        let mine = marker(BUCKET);
        // Killed after the key: found by its marker, the alias still to make.
        let mut left = found(tagged(&mine));
        left.marked = vec![key("k1", false, Some(&mine))];
        let plan = judge(&left, BUCKET, "123456789012").unwrap();
        assert_eq!(plan.adopt_bucket, Some(BTreeMap::from([(OWNER_TAG.to_string(), mine.clone())])));
        assert_eq!(plan.key.map(|k| k.id).as_deref(), Some("k1"));
        assert_eq!(plan.alias, AliasPlan::Create);
        // Killed after the alias: the alias names the key.
        left.alias = alias(key("k1", false, Some(&mine)));
        let plan = judge(&left, BUCKET, "123456789012").unwrap();
        assert_eq!((plan.key.map(|k| k.id).as_deref(), plan.alias), (Some("k1"), AliasPlan::Keep));
        // The alias's key is scheduled for deletion: another live one of the store's, or a new one.
        left.alias = alias(key("k0", true, Some(&mine)));
        let plan = judge(&left, BUCKET, "123456789012").unwrap();
        assert_eq!((plan.key.map(|k| k.id).as_deref(), plan.alias), (Some("k1"), AliasPlan::Repoint));
        left.marked.clear();
        let plan = judge(&left, BUCKET, "123456789012").unwrap();
        assert_eq!((plan.key, plan.alias), (None, AliasPlan::Repoint));
    }

    #[test]
    fn a_bucket_or_alias_not_the_store_s_refuses_the_create() {
        let unmarked = found(s3::Found::Here(BTreeMap::from([("team".to_string(), "books".to_string())])));
        let text = judge(&unmarked, BUCKET, "123456789012").unwrap_err();
        assert!(
            text.contains(&format!("S3 bucket {BUCKET} in account 123456789012 has no bokbasen:owner tag")),
            "{text}"
        );
        assert!(text.contains(&format!("terraform import ADDRESS {BUCKET}")), "{text}");
        assert!(text.contains("nothing was created"), "{text}");

        let other = found(tagged("bokbasen_artifact_store/another"));
        let text = judge(&other, BUCKET, "123456789012").unwrap_err();
        assert!(text.contains("belongs to bokbasen_artifact_store/another"), "{text}");

        let elsewhere = judge(&found(s3::Found::Elsewhere), BUCKET, "123456789012").unwrap_err();
        assert!(elsewhere.contains("another AWS account") && elsewhere.contains("Nothing was changed"), "{elsewhere}");

        let mut alias_taken = found(s3::Found::Absent);
        alias_taken.alias = alias(key("theirs", false, None));
        let text = judge(&alias_taken, BUCKET, "123456789012").unwrap_err();
        assert!(text.contains(&format!("KMS alias alias/bokbasen/{BUCKET} (of key theirs)")), "{text}");
    }
}
