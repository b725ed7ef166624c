//! The AWS side of a service pipeline: makes AWS match a [`PipelineShape`].
//!
//! Every step is idempotent ("ensure"): a part that exists is updated, a
//! missing one created. So an apply that failed half way completes on the
//! next apply, and a part deleted out of band is simply made again. Names
//! derive from the spec, so nothing needs remembering to find or delete.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;

use aws_sdk_codebuild::types as cb;
use aws_sdk_codepipeline::types as cp;
use bokbasen_pipeline::{
    build_role, environment_role, pipeline_role, shape, Action, ActionKind, Cache, PipelineShape, Project, Region,
    RoleDocuments, ServiceSpec, VariableValue, Where,
};

use crate::aws::{error_detail, AwsContext};

/// IAM path of every role the resource creates, so they are easy to find.
const ROLE_PATH: &str = "/bokbasen/";
const POLICY_NAME: &str = "bokbasen";
/// Images kept in the ECR repository; older ones expire.
const KEEP_IMAGES: u32 = 50;

type Step<T = ()> = Result<T, String>;

fn failed<E: std::error::Error + 'static>(what: impl Display) -> impl FnOnce(E) -> String {
    move |err| format!("{what}: {}", error_detail(&err))
}

fn invalid<E: Display>(what: &'static str) -> impl FnOnce(E) -> String {
    move |err| format!("could not build the {what} request: {err}")
}

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

pub fn pipeline_role_name(spec: &ServiceSpec) -> String {
    format!("{}-pipeline", spec.name)
}

pub fn build_role_name(spec: &ServiceSpec) -> String {
    format!("{}-build", spec.name)
}

/// At most 40 + 1 + 20 + 3 = 64 characters, IAM's limit.
pub fn environment_role_name(spec: &ServiceSpec, environment: &str) -> String {
    format!("{}-{environment}-cb", spec.name)
}

/// The key of a project in `codebuild_projects`: `build`, or `<env>/<purpose>`.
pub fn project_key(project: &Project) -> String {
    match &project.runs_in {
        Where::Pipeline => "build".to_string(),
        Where::Environment(env) => format!("{env}/{}", project.purpose.suffix()),
    }
}

/// The accounts a shape acts in: the pipeline's, and each environment's
/// through its deploy role.
struct Accounts {
    pipeline: AwsContext,
    pipeline_account: String,
    region: Region,
    environments: BTreeMap<String, AwsContext>,
}

impl Accounts {
    async fn open(aws: &AwsContext, spec: &ServiceSpec) -> Step<Accounts> {
        let identity = aws.sts().get_caller_identity().send().await.map_err(failed("reading the pipeline account"))?;
        let pipeline_account = identity.account.unwrap_or_default();
        let region = aws.region().unwrap_or_default().to_string();
        let partition = identity.arn.as_deref().and_then(|arn| arn.split(':').nth(1)).unwrap_or("aws").to_string();
        let mut environments = BTreeMap::new();
        for env in &spec.environments {
            let context = aws.assume(&env.deploy_role_arn, &format!("bokbasen-{}", spec.name)).await?;
            environments.insert(env.name.clone(), context);
        }
        Ok(Accounts { pipeline: aws.clone(), pipeline_account, region: Region { partition, region }, environments })
    }

    fn context(&self, place: &Where) -> &AwsContext {
        match place {
            Where::Pipeline => &self.pipeline,
            Where::Environment(env) => self.environments.get(env).unwrap_or(&self.pipeline),
        }
    }
}

fn tags(aws: &AwsContext, spec: &ServiceSpec) -> BTreeMap<String, String> {
    let mut tags = aws.default_tags.clone();
    tags.extend(spec.tags.clone());
    tags.insert("bokbasen:service".into(), spec.name.clone());
    tags
}

/// Creates or updates every part of `spec`'s pipeline.
pub async fn ensure(aws: &AwsContext, spec: &ServiceSpec) -> Step<Deployed> {
    let shape = shape(spec);
    let accounts = Accounts::open(aws, spec).await?;
    let tags = tags(aws, spec);
    let mut role_arns = BTreeMap::new();

    let pipeline_docs = pipeline_role(spec, &shape, &accounts.region, &accounts.pipeline_account);
    role_arns.insert(
        "pipeline".into(),
        ensure_role(&accounts.pipeline, &pipeline_role_name(spec), &pipeline_docs, &tags).await?,
    );
    let build_docs = build_role(spec, &shape, &accounts.region, &accounts.pipeline_account);
    role_arns
        .insert("build".into(), ensure_role(&accounts.pipeline, &build_role_name(spec), &build_docs, &tags).await?);
    for env in &spec.environments {
        if let Some(docs) = environment_role(spec, &shape, &accounts.region, env) {
            let context = accounts.context(&Where::Environment(env.name.clone()));
            let arn = ensure_role(context, &environment_role_name(spec, &env.name), &docs, &tags).await?;
            role_arns.insert(env.name.clone(), arn);
        }
    }

    let ecr_repository_url = if spec.kind.builds_image() {
        ensure_repository(&accounts.pipeline, &spec.name, &tags).await?
    } else {
        String::new()
    };

    let mut projects = BTreeMap::new();
    for project in &shape.projects {
        let role = match &project.runs_in {
            Where::Pipeline => &role_arns["build"],
            Where::Environment(env) => &role_arns[env],
        };
        ensure_project(accounts.context(&project.runs_in), spec, project, role, &ecr_repository_url, &tags).await?;
        projects.insert(project_key(project), project.name.clone());
    }

    let (arn, version) = ensure_pipeline(&accounts.pipeline, spec, &shape, &role_arns["pipeline"], &tags).await?;
    Ok(Deployed { arn, version, role_arns, ecr_repository_url, projects })
}

/// What exists of `spec`'s pipeline; `None` when any part is missing (the
/// next apply re-creates it).
pub async fn observe(aws: &AwsContext, spec: &ServiceSpec) -> Step<Option<Deployed>> {
    let shape = shape(spec);
    let Some((arn, version)) = read_pipeline(aws, &spec.name).await? else { return Ok(None) };
    let accounts = Accounts::open(aws, spec).await?;
    let mut projects = BTreeMap::new();
    for project in &shape.projects {
        let found = accounts
            .context(&project.runs_in)
            .codebuild()
            .batch_get_projects()
            .names(&project.name)
            .send()
            .await
            .map_err(failed(format!("reading CodeBuild project {}", project.name)))?;
        if !found.projects().iter().any(|p| p.name() == Some(project.name.as_str())) {
            return Ok(None);
        }
        projects.insert(project_key(project), project.name.clone());
    }
    let mut role_arns = BTreeMap::new();
    let mut roles = vec![
        ("pipeline".to_string(), Where::Pipeline, pipeline_role_name(spec)),
        ("build".to_string(), Where::Pipeline, build_role_name(spec)),
    ];
    for env in &spec.environments {
        if environment_role(spec, &shape, &accounts.region, env).is_some() {
            roles.push((
                env.name.clone(),
                Where::Environment(env.name.clone()),
                environment_role_name(spec, &env.name),
            ));
        }
    }
    for (key, place, name) in roles {
        match role_arn(accounts.context(&place), &name).await? {
            Some(arn) => role_arns.insert(key, arn),
            None => return Ok(None),
        };
    }
    let ecr_repository_url = if spec.kind.builds_image() {
        match repository_url(aws, &spec.name).await? {
            Some(url) => url,
            None => return Ok(None),
        }
    } else {
        String::new()
    };
    Ok(Some(Deployed { arn, version, role_arns, ecr_repository_url, projects }))
}

/// Deletes every part of `spec`'s pipeline; parts already gone are fine.
pub async fn remove(aws: &AwsContext, spec: &ServiceSpec) -> Step {
    let shape = shape(spec);
    let accounts = Accounts::open(aws, spec).await?;
    match aws.codepipeline().delete_pipeline().name(&spec.name).send().await {
        Ok(_) => {}
        Err(err) => return Err(failed(format!("deleting pipeline {}", spec.name))(err)),
    }
    for project in &shape.projects {
        remove_project(accounts.context(&project.runs_in), &project.name).await?;
    }
    if spec.kind.builds_image() {
        match aws.ecr().delete_repository().repository_name(&spec.name).force(true).send().await {
            Ok(_) => {}
            Err(err) if err.as_service_error().is_some_and(|e| e.is_repository_not_found_exception()) => {}
            Err(err) => return Err(failed(format!("deleting ECR repository {}", spec.name))(err)),
        }
    }
    remove_role(&accounts.pipeline, &pipeline_role_name(spec)).await?;
    remove_role(&accounts.pipeline, &build_role_name(spec)).await?;
    for env in &spec.environments {
        remove_role(accounts.context(&Where::Environment(env.name.clone())), &environment_role_name(spec, &env.name))
            .await?;
    }
    Ok(())
}

/// Deletes what `old` had and `new` no longer has (environments, projects).
pub async fn remove_obsolete(aws: &AwsContext, old: &ServiceSpec, new: &ServiceSpec) -> Step {
    let (old_shape, new_shape) = (shape(old), shape(new));
    let accounts = Accounts::open(aws, old).await?;
    for project in old_shape
        .projects
        .iter()
        .filter(|p| !new_shape.projects.iter().any(|n| n.name == p.name && n.runs_in == p.runs_in))
    {
        remove_project(accounts.context(&project.runs_in), &project.name).await?;
    }
    for env in &old.environments {
        let still_has_role = new.environments.iter().any(|n| {
            n.name == env.name
                && n.deploy_role_arn == env.deploy_role_arn
                && environment_role(new, &new_shape, &accounts.region, n).is_some()
        });
        if !still_has_role {
            remove_role(
                accounts.context(&Where::Environment(env.name.clone())),
                &environment_role_name(old, &env.name),
            )
            .await?;
        }
    }
    Ok(())
}

async fn role_arn(aws: &AwsContext, name: &str) -> Step<Option<String>> {
    match aws.iam().get_role().role_name(name).send().await {
        Ok(found) => Ok(found.role.map(|r| r.arn)),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_entity_exception()) => Ok(None),
        Err(err) => Err(failed(format!("reading IAM role {name}"))(err)),
    }
}

async fn ensure_role(
    aws: &AwsContext,
    name: &str,
    docs: &RoleDocuments,
    tags: &BTreeMap<String, String>,
) -> Step<String> {
    let iam = aws.iam();
    let trust = docs.trust.to_string();
    let arn = match role_arn(aws, name).await? {
        Some(arn) => {
            iam.update_assume_role_policy()
                .role_name(name)
                .policy_document(&trust)
                .send()
                .await
                .map_err(failed(format!("updating the trust of IAM role {name}")))?;
            arn
        }
        None => {
            let tags = tags
                .iter()
                .map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build().map_err(invalid("IAM tag")))
                .collect::<Step<Vec<_>>>()?;
            let created = iam
                .create_role()
                .role_name(name)
                .path(ROLE_PATH)
                .assume_role_policy_document(&trust)
                .set_tags(Some(tags))
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
    Ok(arn)
}

async fn remove_role(aws: &AwsContext, name: &str) -> Step {
    let iam = aws.iam();
    let gone = |err: &aws_sdk_iam::error::SdkError<_>| -> bool {
        matches!(err, aws_sdk_iam::error::SdkError::ServiceError(e) if aws_sdk_iam::error::ProvideErrorMetadata::code(e.err()) == Some("NoSuchEntity"))
    };
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

async fn repository_url(aws: &AwsContext, name: &str) -> Step<Option<String>> {
    match aws.ecr().describe_repositories().repository_names(name).send().await {
        Ok(found) => Ok(found.repositories().first().and_then(|r| r.repository_uri().map(str::to_string))),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_repository_not_found_exception()) => Ok(None),
        Err(err) => Err(failed(format!("reading ECR repository {name}"))(err)),
    }
}

async fn ensure_repository(aws: &AwsContext, name: &str, tags: &BTreeMap<String, String>) -> Step<String> {
    let ecr = aws.ecr();
    let url = match repository_url(aws, name).await? {
        Some(url) => url,
        None => {
            let tags = tags
                .iter()
                .map(|(k, v)| aws_sdk_ecr::types::Tag::builder().key(k).value(v).build().map_err(invalid("ECR tag")))
                .collect::<Step<Vec<_>>>()?;
            let created = ecr
                .create_repository()
                .repository_name(name)
                .image_scanning_configuration(
                    aws_sdk_ecr::types::ImageScanningConfiguration::builder().scan_on_push(true).build(),
                )
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(failed(format!("creating ECR repository {name}")))?;
            created.repository.and_then(|r| r.repository_uri).unwrap_or_default()
        }
    };
    let lifecycle = serde_json::json!({
        "rules": [{
            "rulePriority": 1,
            "description": format!("Keep the last {KEEP_IMAGES} images"),
            "selection": { "tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": KEEP_IMAGES },
            "action": { "type": "expire" }
        }]
    });
    ecr.put_lifecycle_policy()
        .repository_name(name)
        .lifecycle_policy_text(lifecycle.to_string())
        .send()
        .await
        .map_err(failed(format!("setting the lifecycle policy of ECR repository {name}")))?;
    Ok(url)
}

fn project_parts(
    spec: &ServiceSpec,
    project: &Project,
    repository_url: &str,
) -> Step<(cb::ProjectSource, cb::ProjectArtifacts, cb::ProjectEnvironment, cb::ProjectCache)> {
    let source = cb::ProjectSource::builder()
        .r#type(cb::SourceType::Codepipeline)
        .buildspec(&project.buildspec)
        .build()
        .map_err(invalid("CodeBuild source"))?;
    let artifacts = cb::ProjectArtifacts::builder()
        .r#type(cb::ArtifactsType::Codepipeline)
        .build()
        .map_err(invalid("CodeBuild artifacts"))?;
    let variables = project
        .variables
        .iter()
        .map(|variable| {
            let (value, kind) = match &variable.value {
                VariableValue::Plain(value) => (value.clone(), cb::EnvironmentVariableType::Plaintext),
                VariableValue::Parameter(name) => (name.clone(), cb::EnvironmentVariableType::ParameterStore),
                VariableValue::RepositoryUrl => (repository_url.to_string(), cb::EnvironmentVariableType::Plaintext),
            };
            cb::EnvironmentVariable::builder()
                .name(&variable.name)
                .value(value)
                .r#type(kind)
                .build()
                .map_err(invalid("CodeBuild variable"))
        })
        .collect::<Step<Vec<_>>>()?;
    let environment = cb::ProjectEnvironment::builder()
        .r#type(cb::EnvironmentType::LinuxContainer)
        .image(&project.image)
        .compute_type(cb::ComputeType::from(project.compute_type.as_str()))
        .privileged_mode(project.privileged)
        .set_environment_variables(Some(variables))
        .build()
        .map_err(invalid("CodeBuild environment"))?;
    let cache = match project.cache {
        Cache::None => cb::ProjectCache::builder().r#type(cb::CacheType::NoCache),
        Cache::Local => cb::ProjectCache::builder()
            .r#type(cb::CacheType::Local)
            .modes(cb::CacheMode::LocalDockerLayerCache)
            .modes(cb::CacheMode::LocalSourceCache),
        Cache::S3 => cb::ProjectCache::builder()
            .r#type(cb::CacheType::S3)
            .location(format!("{}/{}/cache", spec.artifact_bucket, spec.name)),
    }
    .build()
    .map_err(invalid("CodeBuild cache"))?;
    Ok((source, artifacts, environment, cache))
}

async fn ensure_project(
    aws: &AwsContext,
    spec: &ServiceSpec,
    project: &Project,
    role_arn: &str,
    repository_url: &str,
    tags: &BTreeMap<String, String>,
) -> Step {
    let codebuild = aws.codebuild();
    let (source, artifacts, environment, cache) = project_parts(spec, project, repository_url)?;
    let tags: Vec<cb::Tag> = tags.iter().map(|(k, v)| cb::Tag::builder().key(k).value(v).build()).collect();
    let found = codebuild
        .batch_get_projects()
        .names(&project.name)
        .send()
        .await
        .map_err(failed(format!("reading CodeBuild project {}", project.name)))?;
    if found.projects().iter().any(|p| p.name() == Some(project.name.as_str())) {
        codebuild
            .update_project()
            .name(&project.name)
            .source(source)
            .artifacts(artifacts)
            .environment(environment)
            .cache(cache)
            .service_role(role_arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(failed(format!("updating CodeBuild project {}", project.name)))?;
    } else {
        codebuild
            .create_project()
            .name(&project.name)
            .source(source)
            .artifacts(artifacts)
            .environment(environment)
            .cache(cache)
            .service_role(role_arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(failed(format!("creating CodeBuild project {}", project.name)))?;
    }
    Ok(())
}

async fn remove_project(aws: &AwsContext, name: &str) -> Step {
    // DeleteProject succeeds for names that do not exist.
    aws.codebuild()
        .delete_project()
        .name(name)
        .send()
        .await
        .map_err(failed(format!("deleting CodeBuild project {name}")))?;
    Ok(())
}

fn action(spec: &ServiceSpec, action: &Action) -> Step<cp::ActionDeclaration> {
    let type_id = cp::ActionTypeId::builder()
        .category(cp::ActionCategory::from(action.kind.category()))
        .owner(cp::ActionOwner::Aws)
        .provider(action.kind.provider())
        .version(action.kind.version())
        .build()
        .map_err(invalid("action type"))?;
    let role_arn = match &action.runs_in {
        Where::Pipeline => None,
        Where::Environment(env) => spec.environments.iter().find(|e| &e.name == env).map(|e| e.deploy_role_arn.clone()),
    };
    let configuration: HashMap<String, String> = action.configuration.clone().into_iter().collect();
    let inputs = action
        .input
        .map(|name| cp::InputArtifact::builder().name(name).build().map_err(invalid("input artifact")))
        .transpose()?;
    let outputs = action
        .output
        .map(|name| cp::OutputArtifact::builder().name(name).build().map_err(invalid("output artifact")))
        .transpose()?;
    cp::ActionDeclaration::builder()
        .name(&action.name)
        .action_type_id(type_id)
        .run_order(action.run_order as i32)
        .set_configuration(Some(configuration))
        .set_input_artifacts(inputs.map(|i| vec![i]))
        .set_output_artifacts(outputs.map(|o| vec![o]))
        .set_role_arn(role_arn)
        .build()
        .map_err(invalid("action"))
}

fn declaration(spec: &ServiceSpec, shape: &PipelineShape, role_arn: &str) -> Step<cp::PipelineDeclaration> {
    let stages = shape
        .stages
        .iter()
        .map(|stage| {
            let actions = stage.actions.iter().map(|a| action(spec, a)).collect::<Step<Vec<_>>>()?;
            cp::StageDeclaration::builder()
                .name(&stage.name)
                .set_actions(Some(actions))
                .build()
                .map_err(invalid("stage"))
        })
        .collect::<Step<Vec<_>>>()?;
    let store = cp::ArtifactStore::builder()
        .r#type(cp::ArtifactStoreType::S3)
        .location(&spec.artifact_bucket)
        .build()
        .map_err(invalid("artifact store"))?;
    let source_action = shape
        .stages
        .iter()
        .flat_map(|s| &s.actions)
        .find(|a| a.kind == ActionKind::Source)
        .map(|a| a.name.clone())
        .unwrap_or_default();
    let trigger = cp::PipelineTriggerDeclaration::builder()
        .provider_type(cp::PipelineTriggerProviderType::CodeStarSourceConnection)
        .git_configuration(
            cp::GitConfiguration::builder()
                .source_action_name(source_action)
                .push(
                    cp::GitPushFilter::builder()
                        .branches(cp::GitBranchFilterCriteria::builder().includes(&spec.source.branch).build())
                        .build(),
                )
                .build()
                .map_err(invalid("trigger"))?,
        )
        .build()
        .map_err(invalid("trigger"))?;
    cp::PipelineDeclaration::builder()
        .name(&spec.name)
        .role_arn(role_arn)
        .artifact_store(store)
        .set_stages(Some(stages))
        .pipeline_type(cp::PipelineType::V2)
        .execution_mode(cp::ExecutionMode::Superseded)
        .triggers(trigger)
        .build()
        .map_err(invalid("pipeline"))
}

async fn read_pipeline(aws: &AwsContext, name: &str) -> Step<Option<(String, i64)>> {
    match aws.codepipeline().get_pipeline().name(name).send().await {
        Ok(found) => Ok(Some((
            found.metadata().and_then(|m| m.pipeline_arn()).unwrap_or_default().to_string(),
            found.pipeline().and_then(|p| p.version()).unwrap_or_default().into(),
        ))),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_pipeline_not_found_exception()) => Ok(None),
        Err(err) => Err(failed(format!("reading pipeline {name}"))(err)),
    }
}

async fn ensure_pipeline(
    aws: &AwsContext,
    spec: &ServiceSpec,
    shape: &PipelineShape,
    role_arn: &str,
    tags: &BTreeMap<String, String>,
) -> Step<(String, i64)> {
    let codepipeline = aws.codepipeline();
    let pipeline = declaration(spec, shape, role_arn)?;
    if read_pipeline(aws, &spec.name).await?.is_some() {
        codepipeline
            .update_pipeline()
            .pipeline(pipeline)
            .send()
            .await
            .map_err(failed(format!("updating pipeline {}", spec.name)))?;
    } else {
        let tags = tags
            .iter()
            .map(|(k, v)| cp::Tag::builder().key(k).value(v).build().map_err(invalid("pipeline tag")))
            .collect::<Step<Vec<_>>>()?;
        codepipeline
            .create_pipeline()
            .pipeline(pipeline)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(failed(format!("creating pipeline {}", spec.name)))?;
    }
    read_pipeline(aws, &spec.name)
        .await?
        .ok_or_else(|| format!("pipeline {} vanished right after it was written", spec.name))
}
