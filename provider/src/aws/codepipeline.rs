//! CodePipeline calls: read a pipeline with its ARN, create, update and
//! delete one, and its tags (UpdatePipeline leaves tags alone, so they are
//! kept in step separately).

use std::collections::BTreeMap;

use aws_sdk_codepipeline::types as cp;

use super::tags::TagChanges;
use super::{failed, invalid, retry, AwsContext, Step};

/// A pipeline as AWS holds it.
#[derive(Clone, Debug)]
pub struct FoundPipeline {
    pub arn: String,
    pub declaration: cp::PipelineDeclaration,
}

/// The pipeline `name`, or `None` when there is none.
pub async fn get_pipeline(aws: &AwsContext, name: &str) -> Step<Option<FoundPipeline>> {
    let found = match aws.codepipeline().get_pipeline().name(name).send().await {
        Ok(found) => found,
        Err(err) if err.as_service_error().is_some_and(|e| e.is_pipeline_not_found_exception()) => return Ok(None),
        Err(err) => return Err(failed(format!("reading pipeline {name}"))(err)),
    };
    let arn = found.metadata().and_then(|m| m.pipeline_arn()).unwrap_or_default().to_string();
    let declaration = found.pipeline.ok_or_else(|| format!("reading pipeline {name}: the answer has no pipeline"))?;
    Ok(Some(FoundPipeline { arn, declaration }))
}

fn pipeline_tags(tags: &BTreeMap<String, String>) -> Step<Vec<cp::Tag>> {
    tags.iter().map(|(k, v)| cp::Tag::builder().key(k).value(v).build().map_err(invalid("pipeline tag"))).collect()
}

/// Creates the pipeline `declaration` names; returns its version.
pub async fn create_pipeline(
    aws: &AwsContext,
    declaration: cp::PipelineDeclaration,
    tags: &BTreeMap<String, String>,
) -> Step<i64> {
    let name = declaration.name().to_string();
    let request = aws.codepipeline().create_pipeline().pipeline(declaration).set_tags(Some(pipeline_tags(tags)?));
    // CodePipeline checks that it may assume the pipeline's role, and that role each action's.
    let created = retry::while_propagating(&format!("codepipeline:CreatePipeline {name}"), || request.clone().send())
        .await
        .map_err(failed(format!("creating pipeline {name}")))?;
    Ok(created.pipeline().and_then(|p| p.version()).unwrap_or_default().into())
}

/// Replaces the declaration of the pipeline it names; returns the new version.
pub async fn update_pipeline(aws: &AwsContext, declaration: cp::PipelineDeclaration) -> Step<i64> {
    let name = declaration.name().to_string();
    let request = aws.codepipeline().update_pipeline().pipeline(declaration);
    // Checked as on create: a role whose trust or policy just changed may not pass yet.
    let updated = retry::while_propagating(&format!("codepipeline:UpdatePipeline {name}"), || request.clone().send())
        .await
        .map_err(failed(format!("updating pipeline {name}")))?;
    Ok(updated.pipeline().and_then(|p| p.version()).unwrap_or_default().into())
}

pub async fn delete_pipeline(aws: &AwsContext, name: &str) -> Step {
    aws.codepipeline()
        .delete_pipeline()
        .name(name)
        .send()
        .await
        .map_err(failed(format!("deleting pipeline {name}")))?;
    Ok(())
}

pub async fn tags(aws: &AwsContext, arn: &str) -> Step<BTreeMap<String, String>> {
    let listed = aws
        .codepipeline()
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(failed(format!("reading the tags of {arn}")))?;
    Ok(listed.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())
}

/// Makes the tags of the pipeline `arn` exactly `wanted`.
pub async fn sync_tags(aws: &AwsContext, arn: &str, wanted: &BTreeMap<String, String>) -> Step {
    let changes = TagChanges::between(&tags(aws, arn).await?, wanted);
    let codepipeline = aws.codepipeline();
    if !changes.remove.is_empty() {
        codepipeline
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(changes.remove))
            .send()
            .await
            .map_err(failed(format!("untagging {arn}")))?;
    }
    if !changes.set.is_empty() {
        codepipeline
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(pipeline_tags(&changes.set)?))
            .send()
            .await
            .map_err(failed(format!("tagging {arn}")))?;
    }
    Ok(())
}
