//! S3 calls for a bucket bokbasen owns: made with its tags in one request
//! (never adopted), set up (public access blocked, versioning, default
//! encryption with a KMS key, policy, tags), read back, emptied of every
//! version and delete marker, and deleted.

use std::collections::BTreeMap;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete, ObjectIdentifier,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging, VersioningConfiguration,
};

use super::{failed, invalid, AwsContext, Step};

/// What `CreateBucket` answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    Created,
    /// The name is taken: by this account (`BucketAlreadyOwnedByYou`) or
    /// by another (`BucketAlreadyExists`, or a `HeadBucket` answer other
    /// than not-found).
    Taken,
}

/// Whether a bucket called `bucket` exists anywhere (S3 names are global):
/// `HeadBucket` answers 200 for ours, 403 for another account's.
pub async fn bucket_exists(aws: &AwsContext, bucket: &str) -> Step<bool> {
    match aws.s3().head_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(true),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
        Err(err) if err.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(false),
        Err(err) if err.raw_response().is_some_and(|r| r.status().as_u16() == 403) => Ok(true),
        Err(err) => Err(failed(format!("looking for S3 bucket {bucket}"))(err)),
    }
}

/// Where the bucket called `bucket` is (S3 names are global).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    Absent,
    /// In this account, with its tags.
    Here(BTreeMap<String, String>),
    /// `HeadBucket` answered 403: another account's bucket (the caller may
    /// list every bucket of its own).
    Elsewhere,
}

/// Looks for `bucket`, and reads its tags when it is in this account.
pub async fn find_bucket(aws: &AwsContext, bucket: &str) -> Step<Found> {
    match aws.s3().head_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(Found::Here(bucket_tags(aws, bucket).await?)),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(Found::Absent),
        Err(err) if err.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(Found::Absent),
        Err(err) if err.raw_response().is_some_and(|r| r.status().as_u16() == 403) => Ok(Found::Elsewhere),
        Err(err) => Err(failed(format!("looking for S3 bucket {bucket}"))(err)),
    }
}

/// The tags of `bucket` (none when it has no tag set).
async fn bucket_tags(aws: &AwsContext, bucket: &str) -> Step<BTreeMap<String, String>> {
    match aws.s3().get_bucket_tagging().bucket(bucket).send().await {
        Ok(found) => Ok(found.tag_set.into_iter().map(|t| (t.key, t.value)).collect()),
        Err(err) if code(&err) == Some("NoSuchTagSet") => Ok(BTreeMap::new()),
        Err(err) => Err(failed(format!("reading the tags of S3 bucket {bucket}"))(err)),
    }
}

/// Creates `bucket` in `region` with `tags`, unless the name is taken. In
/// us-east-1, `CreateBucket` answers success for a bucket the caller
/// already owns, so `HeadBucket` asks first; a 403 there (another account's
/// bucket, or no `s3:ListBucket`) is left to `CreateBucket` to tell apart.
///
/// The tags go in the same request (`CreateBucketConfiguration`'s `Tags`,
/// for general purpose buckets: Amazon S3 API reference,
/// CreateBucketConfiguration,
/// https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucketConfiguration.html),
/// so the bucket never exists without them: an apply killed after this
/// call leaves a bucket that already carries its marker. That needs
/// `s3:TagResource` on the bucket besides `s3:CreateBucket` (the same page;
/// Amazon S3 user guide, "Creating general purpose buckets with tags",
/// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-create-tag.html).
pub async fn create_bucket(
    aws: &AwsContext,
    bucket: &str,
    region: &str,
    tags: &BTreeMap<String, String>,
) -> Step<Created> {
    if aws.s3().head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(Created::Taken);
    }
    let mut configuration = CreateBucketConfiguration::builder();
    // us-east-1 is the default location and refuses to be named.
    if region != "us-east-1" {
        configuration = configuration.location_constraint(BucketLocationConstraint::from(region));
    }
    if !tags.is_empty() {
        configuration = configuration.set_tags(Some(tag_set(tags)?));
    }
    let mut request = aws.s3().create_bucket().bucket(bucket);
    if region != "us-east-1" || !tags.is_empty() {
        request = request.create_bucket_configuration(configuration.build());
    }
    match request.send().await {
        Ok(_) => Ok(Created::Created),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_bucket_already_owned_by_you() || e.is_bucket_already_exists()) =>
        {
            Ok(Created::Taken)
        }
        Err(err) => Err(failed(format!("creating S3 bucket {bucket}"))(err)),
    }
}

/// Blocks every kind of public access to `bucket`.
pub async fn block_public_access(aws: &AwsContext, bucket: &str) -> Step {
    let all = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    aws.s3()
        .put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(all)
        .send()
        .await
        .map_err(failed(format!("blocking public access to S3 bucket {bucket}")))?;
    Ok(())
}

/// Turns versioning on.
pub async fn enable_versioning(aws: &AwsContext, bucket: &str) -> Step {
    aws.s3()
        .put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build())
        .send()
        .await
        .map_err(failed(format!("turning on versioning of S3 bucket {bucket}")))?;
    Ok(())
}

/// Default encryption SSE-KMS with `key_arn` (the ARN, not an alias: an
/// alias would resolve in the writer's account) and an S3 Bucket Key, which
/// spares a KMS call per object.
pub async fn encrypt_with_key(aws: &AwsContext, bucket: &str, key_arn: &str) -> Step {
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::AwsKms)
        .kms_master_key_id(key_arn)
        .build()
        .map_err(invalid("S3 default encryption"))?;
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(default)
        .bucket_key_enabled(true)
        .build();
    let configuration = ServerSideEncryptionConfiguration::builder()
        .rules(rule)
        .build()
        .map_err(invalid("S3 encryption configuration"))?;
    aws.s3()
        .put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(configuration)
        .send()
        .await
        .map_err(failed(format!("setting the default encryption of S3 bucket {bucket}")))?;
    Ok(())
}

pub async fn put_policy(aws: &AwsContext, bucket: &str, policy: &serde_json::Value) -> Step {
    aws.s3()
        .put_bucket_policy()
        .bucket(bucket)
        .policy(policy.to_string())
        .send()
        .await
        .map_err(failed(format!("setting the policy of S3 bucket {bucket}")))?;
    Ok(())
}

/// `tags` as S3 takes them.
fn tag_set(tags: &BTreeMap<String, String>) -> Step<Vec<Tag>> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(invalid("S3 tag"))).collect()
}

/// Makes the bucket's tags exactly `tags` (S3 replaces the whole set).
pub async fn put_tags(aws: &AwsContext, bucket: &str, tags: &BTreeMap<String, String>) -> Step {
    let tagging = Tagging::builder().set_tag_set(Some(tag_set(tags)?)).build().map_err(invalid("S3 tagging"))?;
    aws.s3()
        .put_bucket_tagging()
        .bucket(bucket)
        .tagging(tagging)
        .send()
        .await
        .map_err(failed(format!("tagging S3 bucket {bucket}")))?;
    Ok(())
}

/// A bucket as S3 holds it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedBucket {
    /// The bucket policy; `Null` when it has none.
    pub policy: serde_json::Value,
    /// The KMS key of the default encryption, when it is SSE-KMS with a key.
    pub kms_key: Option<String>,
    pub bucket_key: bool,
    pub versioning: bool,
    /// All four public access blocks on.
    pub public_access_blocked: bool,
    pub tags: BTreeMap<String, String>,
}

fn code<E: ProvideErrorMetadata>(
    err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<&str> {
    err.as_service_error().and_then(ProvideErrorMetadata::code)
}

/// `bucket` with its settings, or `None` when no bucket has that name in
/// this account.
pub async fn read_bucket(aws: &AwsContext, bucket: &str) -> Step<Option<ObservedBucket>> {
    let s3 = aws.s3();
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => {}
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => return Ok(None),
        Err(err) if err.raw_response().is_some_and(|r| r.status().as_u16() == 404) => return Ok(None),
        Err(err) => return Err(failed(format!("reading S3 bucket {bucket}"))(err)),
    }
    let policy = match s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(found) => found.policy.as_deref().and_then(|p| serde_json::from_str(p).ok()).unwrap_or_default(),
        Err(err) if code(&err) == Some("NoSuchBucketPolicy") => serde_json::Value::Null,
        Err(err) => return Err(failed(format!("reading the policy of S3 bucket {bucket}"))(err)),
    };
    let (kms_key, bucket_key) = match s3.get_bucket_encryption().bucket(bucket).send().await {
        Ok(found) => {
            let rule = found.server_side_encryption_configuration.and_then(|c| c.rules.into_iter().next());
            let bucket_key = rule.as_ref().and_then(|r| r.bucket_key_enabled).unwrap_or(false);
            let key = rule
                .and_then(|r| r.apply_server_side_encryption_by_default)
                .filter(|d| d.sse_algorithm == ServerSideEncryption::AwsKms)
                .and_then(|d| d.kms_master_key_id);
            (key, bucket_key)
        }
        Err(err) if code(&err) == Some("ServerSideEncryptionConfigurationNotFoundError") => (None, false),
        Err(err) => return Err(failed(format!("reading the encryption of S3 bucket {bucket}"))(err)),
    };
    let versioning = s3
        .get_bucket_versioning()
        .bucket(bucket)
        .send()
        .await
        .map_err(failed(format!("reading the versioning of S3 bucket {bucket}")))?
        .status
        == Some(BucketVersioningStatus::Enabled);
    let public_access_blocked = match s3.get_public_access_block().bucket(bucket).send().await {
        Ok(found) => found.public_access_block_configuration.is_some_and(|c| {
            [c.block_public_acls, c.ignore_public_acls, c.block_public_policy, c.restrict_public_buckets]
                .iter()
                .all(|b| *b == Some(true))
        }),
        Err(err) if code(&err) == Some("NoSuchPublicAccessBlockConfiguration") => false,
        Err(err) => return Err(failed(format!("reading the public access block of S3 bucket {bucket}"))(err)),
    };
    let tags = bucket_tags(aws, bucket).await?;
    Ok(Some(ObservedBucket { policy, kms_key, bucket_key, versioning, public_access_blocked, tags }))
}

/// Every object version and delete marker in `bucket`.
async fn versions(aws: &AwsContext, bucket: &str) -> Step<Vec<ObjectIdentifier>> {
    let s3 = aws.s3();
    let mut found = Vec::new();
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .map_err(failed(format!("listing the objects of S3 bucket {bucket}")))?;
        let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = page.delete_markers().iter().map(|m| (m.key(), m.version_id()));
        for (key, version) in versions.chain(markers) {
            let Some(key) = key else { continue };
            let id = ObjectIdentifier::builder().key(key).set_version_id(version.map(str::to_string));
            found.push(id.build().map_err(invalid("S3 object identifier"))?);
        }
        if page.is_truncated != Some(true) {
            return Ok(found);
        }
        key_marker = page.next_key_marker;
        version_marker = page.next_version_id_marker;
    }
}

/// How many object versions and delete markers `bucket` holds.
pub async fn object_count(aws: &AwsContext, bucket: &str) -> Step<usize> {
    Ok(versions(aws, bucket).await?.len())
}

/// Deletes every object version and delete marker, 1,000 per request (S3's
/// limit for `DeleteObjects`).
pub async fn empty_bucket(aws: &AwsContext, bucket: &str) -> Step {
    let s3 = aws.s3();
    for chunk in versions(aws, bucket).await?.chunks(1000) {
        let delete =
            Delete::builder().set_objects(Some(chunk.to_vec())).quiet(true).build().map_err(invalid("S3 delete"))?;
        let answer = s3
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(failed(format!("emptying S3 bucket {bucket}")))?;
        if let Some(first) = answer.errors().first() {
            return Err(format!(
                "emptying S3 bucket {bucket}: {} objects could not be deleted, e.g. {:?}: {}",
                answer.errors().len(),
                first.key().unwrap_or_default(),
                first.message().or(first.code()).unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// Deletes the (empty) bucket; already gone is fine.
pub async fn delete_bucket(aws: &AwsContext, bucket: &str) -> Step {
    match aws.s3().delete_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(err) if code(&err) == Some("NoSuchBucket") => Ok(()),
        Err(err) => Err(failed(format!("deleting S3 bucket {bucket}"))(err)),
    }
}
