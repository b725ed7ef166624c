//! The AWS side of a service pipeline: makes the accounts match a
//! [`PipelineShape`], reads it back, removes it. Orchestration only: names
//! come from `bokbasen_pipeline::names`, requests from `convert`, calls
//! from `crate::aws`.
//!
//! Every step is idempotent ("ensure"): a part that exists is updated, a
//! missing one created. So an apply that failed half way completes on the
//! next apply, and a part deleted out of band is simply made again. Names
//! derive from the spec, so nothing needs remembering to find or delete.

use std::collections::{BTreeMap, BTreeSet};

use bokbasen_pipeline::names::{
    build_role_name, environment_role_name, pipeline_name, pipeline_role_name, repository_name, SERVICE_TAG,
};
use bokbasen_pipeline::{
    build_role, environment_role, image_lifecycle, pipeline_role, project_name, repository_policy, shape, Observed,
    PipelineShape, Project, ProjectPurpose, ServiceSpec, Where,
};

use super::accounts::Accounts;
use super::convert::{declaration, observed_declaration, observed_project, project_definition};
use crate::aws::roles::{ensure_role, remove_role, role_arn};
use crate::aws::{codebuild, codepipeline, ecr, tags, AwsContext, Step};

/// What exists once a spec is deployed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployed {
    pub arn: String,
    pub version: i64,
    pub role_arns: BTreeMap<String, String>,
    pub ecr_repository_url: String,
    /// Project names by key: `build`, `<env>/<purpose>`.
    pub projects: BTreeMap<String, String>,
}

/// The keys `role_arns` has once `spec` is deployed: `pipeline`, `build`,
/// and each environment that runs projects.
pub fn role_keys(spec: &ServiceSpec) -> BTreeSet<String> {
    let shape = shape(spec);
    let mut keys = BTreeSet::from(["pipeline".to_string(), "build".to_string()]);
    keys.extend(
        spec.environments
            .iter()
            .map(|e| e.name.clone())
            .filter(|env| shape.projects.iter().any(|p| p.runs_in == Where::Environment(env.clone()))),
    );
    keys
}

/// The key of a project in `codebuild_projects`: `build`, or `<env>/<purpose>`.
pub fn project_key(project: &Project) -> String {
    match &project.runs_in {
        Where::Pipeline => "build".to_string(),
        Where::Environment(env) => format!("{env}/{}", project.purpose.suffix()),
    }
}

/// The tags of every part: the provider's defaults, the service's own, and
/// [`SERVICE_TAG`].
fn tags(aws: &AwsContext, spec: &ServiceSpec) -> BTreeMap<String, String> {
    let mut tags = tags::with_defaults(aws, &spec.tags);
    tags.insert(SERVICE_TAG.into(), spec.name.clone());
    tags
}

/// The inverse of [`tags`]: the service's own tags among `all`, told apart
/// from the provider's defaults by `own` (the state's tags).
fn service_tags(
    aws: &AwsContext,
    mut all: BTreeMap<String, String>,
    own: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    all.remove(SERVICE_TAG);
    tags::without_defaults(aws, all, own)
}

/// Creates or updates every part of `spec`'s pipeline: roles, repository,
/// projects (each in the account it runs in), then the pipeline.
pub async fn ensure(aws: &AwsContext, spec: &ServiceSpec) -> Step<Deployed> {
    let shape = shape(spec);
    let accounts = Accounts::of(aws, spec).await?;
    let tags = tags(aws, spec);
    let (region, account) = (&accounts.region, accounts.pipeline_account.as_str());
    let mut role_arns = BTreeMap::new();

    let pipeline_docs = pipeline_role(spec, &shape, region, account);
    let arn = ensure_role(&accounts.pipeline, &pipeline_role_name(&spec.name), &pipeline_docs, &tags, &[]).await?;
    role_arns.insert("pipeline".to_string(), arn);
    let build_docs = build_role(spec, &shape, region, account);
    let arn = ensure_role(&accounts.pipeline, &build_role_name(&spec.name), &build_docs, &tags, &[]).await?;
    role_arns.insert("build".to_string(), arn);
    for env in &spec.environments {
        if let Some(docs) = environment_role(spec, &shape, region, env) {
            let name = environment_role_name(&spec.name, &env.name);
            let arn = ensure_role(accounts.environment(&env.name), &name, &docs, &tags, &[]).await?;
            role_arns.insert(env.name.clone(), arn);
        }
    }

    let ecr_repository_url = if spec.kind.builds_image() {
        let lifecycle = image_lifecycle().to_string();
        let pulls = repository_policy(spec, region, account).map(|p| p.to_string());
        ecr::ensure_repository(&accounts.pipeline, &repository_name(&spec.name), &tags, &lifecycle, pulls.as_deref())
            .await?
    } else {
        String::new()
    };

    let mut projects = BTreeMap::new();
    for project in &shape.projects {
        let role = match &project.runs_in {
            Where::Pipeline => &role_arns["build"],
            Where::Environment(env) => &role_arns[env],
        };
        let definition = project_definition(spec, project, role, &ecr_repository_url, &tags)?;
        codebuild::ensure_project(accounts.context(&project.runs_in), definition).await?;
        projects.insert(project_key(project), project.name.clone());
    }

    let (arn, version) = ensure_pipeline(&accounts, spec, &shape, &role_arns["pipeline"], &tags).await?;
    Ok(Deployed { arn, version, role_arns, ecr_repository_url, projects })
}

/// Creates the pipeline or updates it and its tags; returns its ARN and version.
async fn ensure_pipeline(
    accounts: &Accounts,
    spec: &ServiceSpec,
    shape: &PipelineShape,
    role_arn: &str,
    tags: &BTreeMap<String, String>,
) -> Step<(String, i64)> {
    let aws = &accounts.pipeline;
    let declared = declaration(spec, shape, role_arn)?;
    match codepipeline::get_pipeline(aws, &shape.name).await? {
        Some(found) => {
            let version = codepipeline::update_pipeline(aws, declared).await?;
            codepipeline::sync_tags(aws, &found.arn, tags).await?;
            Ok((found.arn, version))
        }
        None => {
            let version = codepipeline::create_pipeline(aws, declared, tags).await?;
            // CreatePipeline does not answer with the ARN; it is formed as AWS forms it.
            Ok((accounts.region.arn("codepipeline", &accounts.pipeline_account, &shape.name), version))
        }
    }
}

/// The service pipeline named `name` as AWS holds it.
pub struct Found {
    /// In the shape's terms, for [`bokbasen_pipeline::recover`].
    pub observed: Observed,
    /// What exists of the parts; a missing one is left out.
    pub deployed: Deployed,
    /// Every stage with its action names, as declared (also actions the
    /// shape has no kind for, so the `stages` attribute shows them).
    pub stages: Vec<(String, Vec<String>)>,
}

/// Reads the service pipeline named `name` back from AWS: the pipeline, the
/// projects its actions run (in the account each action acts in), its roles
/// and repository. `None` when there is no such pipeline. `own_tags` are the
/// tags the service itself sets, told apart from the provider's defaults.
pub async fn observe(aws: &AwsContext, name: &str, own_tags: &BTreeMap<String, String>) -> Step<Option<Found>> {
    let Some(pipeline) = codepipeline::get_pipeline(aws, &pipeline_name(name)).await? else { return Ok(None) };
    let pipeline_tags = codepipeline::tags(aws, &pipeline.arn).await?;
    let declared = observed_declaration(&pipeline.declaration);
    let accounts = Accounts::through(aws, name, declared.deploy_roles.clone()).await?;

    let mut projects = BTreeMap::new();
    let mut project_keys = BTreeMap::new();
    for action in declared.stages.iter().flat_map(|s| &s.actions) {
        let (Some(project), Some(purpose)) = (project_name(action), ProjectPurpose::from_action(&action.name)) else {
            continue;
        };
        if let Some(found) = codebuild::find_project(accounts.context(&action.runs_in), project).await? {
            let found = observed_project(&found, purpose, &action.runs_in);
            project_keys.insert(project_key(&found), found.name.clone());
            projects.insert(found.name.clone(), found);
        }
    }

    let mut role_arns = BTreeMap::new();
    for (key, role) in [("pipeline", pipeline_role_name(name)), ("build", build_role_name(name))] {
        if let Some(arn) = role_arn(aws, &role).await? {
            role_arns.insert(key.to_string(), arn);
        }
    }
    for env in declared.deploy_roles.keys() {
        if let Some(arn) = role_arn(accounts.environment(env), &environment_role_name(name, env)).await? {
            role_arns.insert(env.clone(), arn);
        }
    }
    let ecr_repository_url = ecr::repository_url(aws, &repository_name(name)).await?.unwrap_or_default();

    let deployed = Deployed {
        arn: pipeline.arn,
        version: declared.version,
        role_arns,
        ecr_repository_url,
        projects: project_keys,
    };
    let observed = Observed {
        name: name.to_string(),
        artifact_bucket: declared.artifact_bucket,
        artifact_key_arn: declared.artifact_key_arn,
        stages: declared.stages,
        projects,
        deploy_roles: declared.deploy_roles,
        tags: service_tags(aws, pipeline_tags, own_tags),
    };
    Ok(Some(Found { observed, deployed, stages: declared.stage_names }))
}

/// Deletes every part of `spec`'s pipeline, by name; parts already gone are fine.
pub async fn remove(aws: &AwsContext, spec: &ServiceSpec) -> Step {
    let shape = shape(spec);
    let accounts = Accounts::of(aws, spec).await?;
    codepipeline::delete_pipeline(aws, &shape.name).await?;
    for project in &shape.projects {
        codebuild::delete_project(accounts.context(&project.runs_in), &project.name).await?;
    }
    if spec.kind.builds_image() {
        ecr::delete_repository(aws, &repository_name(&spec.name)).await?;
    }
    remove_role(&accounts.pipeline, &pipeline_role_name(&spec.name)).await?;
    remove_role(&accounts.pipeline, &build_role_name(&spec.name)).await?;
    for env in &spec.environments {
        remove_role(accounts.environment(&env.name), &environment_role_name(&spec.name, &env.name)).await?;
    }
    Ok(())
}

/// How many images the service's ECR repository holds (none for kinds
/// without one), which destroy keeps unless told otherwise.
pub async fn repository_images(aws: &AwsContext, spec: &ServiceSpec) -> Step<usize> {
    if !spec.kind.builds_image() {
        return Ok(0);
    }
    ecr::image_count(aws, &repository_name(&spec.name)).await
}

/// Deletes what `old` had and `new` no longer has (environments, projects).
pub async fn remove_obsolete(aws: &AwsContext, old: &ServiceSpec, new: &ServiceSpec) -> Step {
    let (old_shape, new_shape) = (shape(old), shape(new));
    let accounts = Accounts::of(aws, old).await?;
    for project in old_shape
        .projects
        .iter()
        .filter(|p| !new_shape.projects.iter().any(|n| n.name == p.name && n.runs_in == p.runs_in))
    {
        codebuild::delete_project(accounts.context(&project.runs_in), &project.name).await?;
    }
    for env in &old.environments {
        let still_has_role = new.environments.iter().any(|n| {
            n.name == env.name
                && n.deploy_role_arn == env.deploy_role_arn
                && environment_role(new, &new_shape, &accounts.region, n).is_some()
        });
        if !still_has_role {
            remove_role(accounts.environment(&env.name), &environment_role_name(&old.name, &env.name)).await?;
        }
    }
    Ok(())
}
