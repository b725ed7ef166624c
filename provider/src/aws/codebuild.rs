//! CodeBuild calls: find a project, make one match its definition (create
//! or update), delete one. What a definition holds is decided above (the
//! service pipeline's `convert`); here are only the requests.

use std::collections::BTreeMap;

use aws_sdk_codebuild::types as cb;

use super::{failed, retry, AwsContext, Step};

/// A project as bokbasen writes it: the parts CreateProject and
/// UpdateProject both take.
#[derive(Clone, Debug)]
pub struct ProjectDefinition {
    pub name: String,
    pub source: cb::ProjectSource,
    pub artifacts: cb::ProjectArtifacts,
    pub environment: cb::ProjectEnvironment,
    pub cache: cb::ProjectCache,
    pub service_role: String,
    /// The KMS key of the project's output artifacts.
    pub encryption_key: Option<String>,
    pub vpc_config: Option<cb::VpcConfig>,
    pub tags: Vec<cb::Tag>,
}

/// The project `name`, if it exists.
pub async fn find_project(aws: &AwsContext, name: &str) -> Step<Option<cb::Project>> {
    let found = aws
        .codebuild()
        .batch_get_projects()
        .names(name)
        .send()
        .await
        .map_err(failed(format!("reading CodeBuild project {name}")))?;
    Ok(found.projects.unwrap_or_default().into_iter().find(|p| p.name() == Some(name)))
}

/// The projects among `names` that exist, by name. Asked together with the
/// other resources' questions to this account within a moment
/// ([`super::reuse::Batches`]): one BatchGetProjects for many pipelines.
pub async fn find_projects(aws: &AwsContext, names: &[String]) -> Step<BTreeMap<String, cb::Project>> {
    let codebuild = aws.codebuild();
    let fetch = move |names: Vec<String>| async move {
        let found = codebuild
            .batch_get_projects()
            .set_names(Some(names.clone()))
            .send()
            .await
            .map_err(failed(format!("reading CodeBuild projects {}", names.join(", "))))?;
        Ok(found.projects.unwrap_or_default().into_iter().filter_map(|p| Some((p.name.clone()?, p))).collect())
    };
    aws.project_batches().get(names, fetch).await
}

/// Makes the project match `definition`: updated when it exists, created
/// when it does not.
pub async fn ensure_project(aws: &AwsContext, definition: ProjectDefinition) -> Step {
    let exists = find_project(aws, &definition.name).await?.is_some();
    let codebuild = aws.codebuild();
    let ProjectDefinition {
        name,
        source,
        artifacts,
        environment,
        cache,
        service_role,
        encryption_key,
        vpc_config,
        tags,
    } = definition;
    // Both requests take the same parts under the same names, on builders of different types.
    macro_rules! with_parts {
        ($request:expr) => {
            $request
                .name(&name)
                .source(source)
                .artifacts(artifacts)
                .environment(environment)
                .cache(cache)
                .service_role(service_role)
                .set_encryption_key(encryption_key)
                .set_tags(Some(tags))
        };
    }
    // CodeBuild checks the service role on both calls; a role just written may not pass yet.
    if exists {
        // UpdateProject keeps a VPC configuration it is not given; an empty
        // one takes it away (AWS CloudFormation coverage roadmap #445, aws-cdk #22733).
        let vpc_config = vpc_config.unwrap_or_else(|| cb::VpcConfig::builder().build());
        let request = with_parts!(codebuild.update_project()).vpc_config(vpc_config);
        retry::while_propagating(&format!("codebuild:UpdateProject {name}"), || request.clone().send())
            .await
            .map_err(failed(format!("updating CodeBuild project {name}")))?;
    } else {
        let request = with_parts!(codebuild.create_project()).set_vpc_config(vpc_config);
        retry::while_propagating(&format!("codebuild:CreateProject {name}"), || request.clone().send())
            .await
            .map_err(failed(format!("creating CodeBuild project {name}")))?;
    }
    Ok(())
}

/// Deletes the project `name`; CodeBuild answers a name that does not
/// exist with success.
pub async fn delete_project(aws: &AwsContext, name: &str) -> Step {
    aws.codebuild()
        .delete_project()
        .name(name)
        .send()
        .await
        .map_err(failed(format!("deleting CodeBuild project {name}")))?;
    Ok(())
}
