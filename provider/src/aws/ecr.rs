//! ECR calls: a service's image repository, made with scanning on push and
//! a lifecycle policy, read back by name, and deleted.

use std::collections::BTreeMap;

use aws_sdk_ecr::types::{ImageScanningConfiguration, Tag};

use super::tags::TagChanges;
use super::{failed, invalid, AwsContext, Step};

/// The URL of the repository `name`, or `None` when it does not exist.
pub async fn repository_url(aws: &AwsContext, name: &str) -> Step<Option<String>> {
    match aws.ecr().describe_repositories().repository_names(name).send().await {
        Ok(found) => Ok(found.repositories().first().and_then(|r| r.repository_uri().map(str::to_string))),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_repository_not_found_exception()) => Ok(None),
        Err(err) => Err(failed(format!("reading ECR repository {name}"))(err)),
    }
}

/// The ARN and URL of the repository `name`, or `None` when it does not exist.
async fn describe(aws: &AwsContext, name: &str) -> Step<Option<(String, String)>> {
    match aws.ecr().describe_repositories().repository_names(name).send().await {
        Ok(found) => Ok(found.repositories().first().map(|r| {
            (r.repository_arn().unwrap_or_default().to_string(), r.repository_uri().unwrap_or_default().to_string())
        })),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_repository_not_found_exception()) => Ok(None),
        Err(err) => Err(failed(format!("reading ECR repository {name}"))(err)),
    }
}

async fn tags_of(aws: &AwsContext, name: &str, arn: &str) -> Step<BTreeMap<String, String>> {
    let listed = aws
        .ecr()
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(failed(format!("reading the tags of ECR repository {name}")))?;
    Ok(listed.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())
}

/// The tags of the repository `name`, or `None` when it does not exist.
pub async fn repository_tags(aws: &AwsContext, name: &str) -> Step<Option<BTreeMap<String, String>>> {
    match describe(aws, name).await? {
        Some((arn, _)) => Ok(Some(tags_of(aws, name, &arn).await?)),
        None => Ok(None),
    }
}

fn ecr_tags(tags: &BTreeMap<String, String>) -> Step<Vec<Tag>> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(invalid("ECR tag"))).collect()
}

/// Makes the repository `name` exist with scan on push, exactly `tags`, the
/// `lifecycle` policy and the repository `policy` (or none); returns its URL.
pub async fn ensure_repository(
    aws: &AwsContext,
    name: &str,
    tags: &BTreeMap<String, String>,
    lifecycle: &str,
    policy: Option<&str>,
) -> Step<String> {
    let ecr = aws.ecr();
    let url = match describe(aws, name).await? {
        Some((arn, url)) => {
            let changes = TagChanges::between(&tags_of(aws, name, &arn).await?, tags);
            if !changes.remove.is_empty() {
                ecr.untag_resource()
                    .resource_arn(&arn)
                    .set_tag_keys(Some(changes.remove))
                    .send()
                    .await
                    .map_err(failed(format!("untagging ECR repository {name}")))?;
            }
            if !changes.set.is_empty() {
                ecr.tag_resource()
                    .resource_arn(&arn)
                    .set_tags(Some(ecr_tags(&changes.set)?))
                    .send()
                    .await
                    .map_err(failed(format!("tagging ECR repository {name}")))?;
            }
            url
        }
        None => {
            let created = ecr
                .create_repository()
                .repository_name(name)
                .image_scanning_configuration(ImageScanningConfiguration::builder().scan_on_push(true).build())
                .set_tags(Some(ecr_tags(tags)?))
                .send()
                .await
                .map_err(failed(format!("creating ECR repository {name}")))?;
            created.repository.and_then(|r| r.repository_uri).unwrap_or_default()
        }
    };
    ecr.put_lifecycle_policy()
        .repository_name(name)
        .lifecycle_policy_text(lifecycle)
        .send()
        .await
        .map_err(failed(format!("setting the lifecycle policy of ECR repository {name}")))?;
    match policy {
        Some(policy) => {
            ecr.set_repository_policy()
                .repository_name(name)
                .policy_text(policy)
                .send()
                .await
                .map_err(failed(format!("setting the repository policy of ECR repository {name}")))?;
        }
        None => match ecr.delete_repository_policy().repository_name(name).send().await {
            Ok(_) => {}
            Err(err) if err.as_service_error().is_some_and(|e| e.is_repository_policy_not_found_exception()) => {}
            Err(err) => return Err(failed(format!("removing the repository policy of ECR repository {name}"))(err)),
        },
    }
    Ok(url)
}

/// The repository policy of `name`, if it has one.
pub async fn repository_policy(aws: &AwsContext, name: &str) -> Step<Option<String>> {
    match aws.ecr().get_repository_policy().repository_name(name).send().await {
        Ok(found) => Ok(found.policy_text),
        Err(err)
            if err.as_service_error().is_some_and(|e| {
                e.is_repository_policy_not_found_exception() || e.is_repository_not_found_exception()
            }) =>
        {
            Ok(None)
        }
        Err(err) => Err(failed(format!("reading the repository policy of ECR repository {name}"))(err)),
    }
}

/// How many images the repository `name` holds (none when it is gone).
pub async fn image_count(aws: &AwsContext, name: &str) -> Step<usize> {
    let mut pages = aws.ecr().list_images().repository_name(name).into_paginator().send();
    let mut count = 0;
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => count += page.image_ids().len(),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_repository_not_found_exception()) => return Ok(0),
            Err(err) => return Err(failed(format!("listing the images of ECR repository {name}"))(err)),
        }
    }
    Ok(count)
}

/// Deletes the repository `name` with every image in it; already gone is fine.
pub async fn delete_repository(aws: &AwsContext, name: &str) -> Step {
    match aws.ecr().delete_repository().repository_name(name).force(true).send().await {
        Ok(_) => Ok(()),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_repository_not_found_exception()) => Ok(()),
        Err(err) => Err(failed(format!("deleting ECR repository {name}"))(err)),
    }
}
