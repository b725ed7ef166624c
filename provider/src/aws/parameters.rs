//! SSM Parameter Store calls shared by the configuration and secret
//! resources and data sources.
//!
//! Secret values pass through here only on their way into SSM (or, to
//! re-encrypt under a new key, straight back out again); they are never
//! returned to callers that keep state, and errors are scrubbed of them.
//!
//! A parameter is created with its tags in the same call (the owner marker
//! among them), so nothing bokbasen makes exists unmarked even briefly.

use std::collections::BTreeMap;

use aws_sdk_ssm::types::{ParameterStringFilter, ParameterTier, ParameterType, ResourceTypeForTagging, Tag};
use bokbasen_pipeline::parameters::Tier;

use super::tags::TagChanges;
use super::{failed, invalid, AwsContext, Step};

/// A parameter found under a path. `value` is `None` for SecureStrings:
/// read without decryption, so nothing secret is ever held here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub name: String,
    pub arn: String,
    pub secure: bool,
    pub value: Option<String>,
    pub version: i64,
}

/// A parameter's metadata, without its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    pub name: String,
    pub secure: bool,
    pub key_id: Option<String>,
    pub description: Option<String>,
    pub version: i64,
    pub tier: Option<String>,
}

/// What to write. `value` may be a secret: it is never formatted.
pub struct Put<'a> {
    pub name: &'a str,
    pub value: &'a str,
    /// `Some(kms key)` stores a SecureString encrypted with that key.
    pub secure_with: Option<&'a str>,
    pub tier: Tier,
    pub description: Option<&'a str>,
    /// `Some(tags)` creates the parameter with these tags in the same call
    /// and fails (`ParameterAlreadyExists`) if the name is taken; `None`
    /// overwrites. SSM takes tags only on creation, never with overwrite.
    pub create_with_tags: Option<&'a BTreeMap<String, String>>,
}

/// ARN of `name` as AWS forms it; the 1011-character limit counts it whole.
pub fn arn(partition: &str, region: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:ssm:{region}:{account}:parameter{name}")
}

/// Every parameter under `path`, at any depth.
pub async fn list_path(aws: &AwsContext, path: &str) -> Step<Vec<Stored>> {
    let pages = aws
        .ssm()
        .get_parameters_by_path()
        .path(path)
        .recursive(true)
        .with_decryption(false)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(failed(format!("listing the parameters under {path}")))?;
    Ok(pages
        .into_iter()
        .flat_map(|page| page.parameters.unwrap_or_default())
        .filter_map(|p| {
            let secure = p.r#type == Some(ParameterType::SecureString);
            Some(Stored {
                name: p.name?,
                arn: p.arn.unwrap_or_default(),
                secure,
                value: if secure { None } else { p.value },
                version: p.version,
            })
        })
        .collect())
}

/// The metadata of `name`, or `None` when there is no such parameter.
pub async fn describe(aws: &AwsContext, name: &str) -> Step<Option<Metadata>> {
    let filter = ParameterStringFilter::builder()
        .key("Name")
        .option("Equals")
        .values(name)
        .build()
        .map_err(invalid("DescribeParameters"))?;
    let found = aws
        .ssm()
        .describe_parameters()
        .parameter_filters(filter)
        .send()
        .await
        .map_err(failed(format!("describing parameter {name}")))?;
    Ok(found.parameters.unwrap_or_default().into_iter().find(|p| p.name.as_deref() == Some(name)).map(|p| Metadata {
        name: name.to_string(),
        secure: p.r#type == Some(ParameterType::SecureString),
        key_id: p.key_id,
        description: p.description,
        version: p.version,
        tier: p.tier.map(|t| t.as_str().to_string()),
    }))
}

/// Writes a parameter: creates it with its tags, or overwrites it
/// ([`Put::create_with_tags`]); returns its new version.
pub async fn put(aws: &AwsContext, put: Put<'_>) -> Step<i64> {
    let mut request = aws
        .ssm()
        .put_parameter()
        .name(put.name)
        .value(put.value)
        .tier(ParameterTier::from(put.tier.name()))
        .set_description(put.description.map(str::to_string));
    request = match put.create_with_tags {
        Some(tags) => request.overwrite(false).set_tags(Some(sdk_tags(tags)?)),
        None => request.overwrite(true),
    };
    request = match put.secure_with {
        Some(key) => request.r#type(ParameterType::SecureString).key_id(key),
        None => request.r#type(ParameterType::String),
    };
    match request.send().await {
        Ok(written) => Ok(written.version),
        Err(err) => {
            let message = failed(format!("writing parameter {}", put.name))(err);
            // AWS may quote a refused value; a secret must not reach the plan output.
            Err(if put.secure_with.is_some() { message.replace(put.value, "(sensitive)") } else { message })
        }
    }
}

/// The decrypted value, for re-writing a secret under a new key or
/// description without the caller ever seeing it.
pub async fn secret_value(aws: &AwsContext, name: &str) -> Step<Option<String>> {
    match aws.ssm().get_parameter().name(name).with_decryption(true).send().await {
        Ok(found) => Ok(found.parameter.and_then(|p| p.value)),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_parameter_not_found()) => Ok(None),
        Err(err) => Err(failed(format!("reading parameter {name}"))(err)),
    }
}

/// Deletes `names` (ten per call, SSM's limit); already gone is fine.
pub async fn delete(aws: &AwsContext, names: &[String]) -> Step {
    for batch in names.chunks(10) {
        aws.ssm()
            .delete_parameters()
            .set_names(Some(batch.to_vec()))
            .send()
            .await
            .map_err(failed(format!("deleting parameters {}", batch.join(", "))))?;
    }
    Ok(())
}

/// The tags of the parameter `name`.
pub async fn tags(aws: &AwsContext, name: &str) -> Step<BTreeMap<String, String>> {
    let listed = aws
        .ssm()
        .list_tags_for_resource()
        .resource_type(ResourceTypeForTagging::Parameter)
        .resource_id(name)
        .send()
        .await
        .map_err(failed(format!("reading the tags of parameter {name}")))?;
    Ok(listed.tag_list.unwrap_or_default().into_iter().map(|t| (t.key, t.value)).collect())
}

fn sdk_tags(tags: &BTreeMap<String, String>) -> Step<Vec<Tag>> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(invalid("SSM tag"))).collect()
}

/// Sets `tags` on `name`, leaving its other tags as they are (e.g. the
/// owner marker on a parameter taken over).
pub async fn add_tags(aws: &AwsContext, name: &str, tags: &BTreeMap<String, String>) -> Step {
    aws.ssm()
        .add_tags_to_resource()
        .resource_type(ResourceTypeForTagging::Parameter)
        .resource_id(name)
        .set_tags(Some(sdk_tags(tags)?))
        .send()
        .await
        .map_err(failed(format!("tagging parameter {name}")))?;
    Ok(())
}

/// Makes the tags of `name` exactly `wanted`.
pub async fn sync_tags(aws: &AwsContext, name: &str, wanted: &BTreeMap<String, String>) -> Step {
    let changes = TagChanges::between(&tags(aws, name).await?, wanted);
    if !changes.remove.is_empty() {
        aws.ssm()
            .remove_tags_from_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .set_tag_keys(Some(changes.remove))
            .send()
            .await
            .map_err(failed(format!("removing tags of parameter {name}")))?;
    }
    if !changes.set.is_empty() {
        add_tags(aws, name, &changes.set).await?;
    }
    Ok(())
}
