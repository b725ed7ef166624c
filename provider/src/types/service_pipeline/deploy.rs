//! The AWS side of a service pipeline: makes AWS match a [`PipelineShape`].
//!
//! Every step is idempotent ("ensure"): a part that exists is updated, a
//! missing one created. So an apply that failed half way completes on the
//! next apply, and a part deleted out of band is simply made again. Names
//! derive from the spec, so nothing needs remembering to find or delete.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_codebuild::types as cb;
use aws_sdk_codepipeline::types as cp;
use bokbasen_pipeline::{
    build_role, environment_role, pipeline_role, project_name, shape, Action, ActionKind, Cache, Observed,
    PipelineShape, Project, ProjectPurpose, Region, ServiceSpec, Stage, Variable, VariableValue, Where, BUILD_ARTIFACT,
    SOURCE_ARTIFACT,
};

use crate::aws::roles::{ensure_role, remove_role, role_arn};
use crate::aws::{failed, invalid, AwsContext, Step};

/// Images kept in the ECR repository; older ones expire.
const KEEP_IMAGES: u32 = 50;

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

pub fn pipeline_role_name(service: &str) -> String {
    format!("{service}-pipeline")
}

pub fn build_role_name(service: &str) -> String {
    format!("{service}-build")
}

/// At most 40 + 1 + 20 + 3 = 64 characters, IAM's limit.
pub fn environment_role_name(service: &str, environment: &str) -> String {
    format!("{service}-{environment}-cb")
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
        let roles: Vec<(String, String)> =
            spec.environments.iter().map(|env| (env.name.clone(), env.deploy_role_arn.clone())).collect();
        Accounts::through(aws, &spec.name, roles).await
    }

    /// The pipeline's account, and each environment's through its role.
    async fn through(
        aws: &AwsContext,
        service: &str,
        roles: impl IntoIterator<Item = (String, String)>,
    ) -> Step<Accounts> {
        let (pipeline_account, region) = aws.whereabouts().await?;
        let mut environments = BTreeMap::new();
        for (env, role_arn) in roles {
            let context = aws.assume(&role_arn, &format!("bokbasen-{service}")).await?;
            environments.insert(env, context);
        }
        Ok(Accounts { pipeline: aws.clone(), pipeline_account, region, environments })
    }

    fn context(&self, place: &Where) -> &AwsContext {
        match place {
            Where::Pipeline => &self.pipeline,
            Where::Environment(env) => self.environments.get(env).unwrap_or(&self.pipeline),
        }
    }
}

/// Marks everything the resource creates with the service it belongs to.
const SERVICE_TAG: &str = "bokbasen:service";

/// The tags of every part: the provider's defaults, the service's own, and
/// [`SERVICE_TAG`].
fn tags(aws: &AwsContext, spec: &ServiceSpec) -> BTreeMap<String, String> {
    let mut tags = crate::resources::layout::wanted_tags(aws, &spec.tags);
    tags.insert(SERVICE_TAG.into(), spec.name.clone());
    tags
}

/// The inverse of [`tags`]: the service's own tags among `all`. A key that
/// is also a default tag with the same value counts as the service's only
/// when `own` (the state's tags) says so.
fn service_tags(
    aws: &AwsContext,
    mut all: BTreeMap<String, String>,
    own: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    all.remove(SERVICE_TAG);
    crate::resources::layout::own_tags(aws, all, own)
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
        ensure_role(&accounts.pipeline, &pipeline_role_name(&spec.name), &pipeline_docs, &tags, &[]).await?,
    );
    let build_docs = build_role(spec, &shape, &accounts.region, &accounts.pipeline_account);
    role_arns.insert(
        "build".into(),
        ensure_role(&accounts.pipeline, &build_role_name(&spec.name), &build_docs, &tags, &[]).await?,
    );
    for env in &spec.environments {
        if let Some(docs) = environment_role(spec, &shape, &accounts.region, env) {
            let context = accounts.context(&Where::Environment(env.name.clone()));
            let arn = ensure_role(context, &environment_role_name(&spec.name, &env.name), &docs, &tags, &[]).await?;
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
    let found = match aws.codepipeline().get_pipeline().name(name).send().await {
        Ok(found) => found,
        Err(err) if err.as_service_error().is_some_and(|e| e.is_pipeline_not_found_exception()) => return Ok(None),
        Err(err) => return Err(failed(format!("reading pipeline {name}"))(err)),
    };
    let (Some(pipeline), Some(metadata)) = (found.pipeline(), found.metadata()) else {
        return Err(format!("reading pipeline {name}: the answer has no pipeline"));
    };
    let arn = metadata.pipeline_arn().unwrap_or_default().to_string();
    let tags = aws
        .codepipeline()
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(failed(format!("reading the tags of pipeline {name}")))?
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();

    let mut deploy_roles = BTreeMap::new();
    let mut stages = Vec::new();
    let mut stage_names = Vec::new();
    for declared in pipeline.stages() {
        let mut actions = Vec::new();
        for action in declared.actions() {
            if let Some(role) = action.role_arn() {
                deploy_roles.entry(declared.name().to_string()).or_insert_with(|| role.to_string());
            }
            actions.extend(observed_action(declared.name(), action));
        }
        stage_names
            .push((declared.name().to_string(), declared.actions().iter().map(|a| a.name().to_string()).collect()));
        stages.push(Stage { name: declared.name().to_string(), actions });
    }
    let accounts = Accounts::through(aws, name, deploy_roles.clone()).await?;

    let mut projects = BTreeMap::new();
    let mut project_keys = BTreeMap::new();
    for stage in &stages {
        for action in &stage.actions {
            let (Some(project), Some(purpose)) = (project_name(action), ProjectPurpose::from_action(&action.name))
            else {
                continue;
            };
            if let Some(found) =
                read_project(accounts.context(&action.runs_in), project, purpose, &action.runs_in).await?
            {
                project_keys.insert(project_key(&found), found.name.clone());
                projects.insert(found.name.clone(), found);
            }
        }
    }

    let mut role_arns = BTreeMap::new();
    for (key, role) in [("pipeline", pipeline_role_name(name)), ("build", build_role_name(name))] {
        if let Some(arn) = role_arn(aws, &role).await? {
            role_arns.insert(key.to_string(), arn);
        }
    }
    for env in deploy_roles.keys() {
        let place = Where::Environment(env.clone());
        if let Some(arn) = role_arn(accounts.context(&place), &environment_role_name(name, env)).await? {
            role_arns.insert(env.clone(), arn);
        }
    }
    let ecr_repository_url = repository_url(aws, name).await?.unwrap_or_default();

    let observed = Observed {
        name: name.to_string(),
        artifact_bucket: pipeline.artifact_store().map(|s| s.location().to_string()).unwrap_or_default(),
        stages,
        projects,
        deploy_roles,
        tags: service_tags(aws, tags, own_tags),
    };
    let deployed = Deployed {
        arn,
        version: pipeline.version().unwrap_or_default().into(),
        role_arns,
        ecr_repository_url,
        projects: project_keys,
    };
    Ok(Some(Found { observed, deployed, stages: stage_names }))
}

/// An action declared in AWS, in the shape's terms; `None` for an action
/// type the shape never writes.
fn observed_action(stage: &str, action: &cp::ActionDeclaration) -> Option<Action> {
    let type_id = action.action_type_id()?;
    let kind = ActionKind::from_type(type_id.category().as_str(), type_id.provider())?;
    let artifact = |name: &str| [SOURCE_ARTIFACT, BUILD_ARTIFACT].into_iter().find(|a| *a == name);
    Some(Action {
        name: action.name().to_string(),
        kind,
        run_order: action.run_order().unwrap_or(1).max(1) as u32,
        runs_in: match action.role_arn() {
            Some(_) => Where::Environment(stage.to_string()),
            None => Where::Pipeline,
        },
        input: action.input_artifacts().first().and_then(|a| artifact(a.name())),
        output: action.output_artifacts().first().and_then(|a| artifact(a.name())),
        configuration: action.configuration().map(|c| c.clone().into_iter().collect()).unwrap_or_default(),
    })
}

/// The CodeBuild project `name`, if it exists.
async fn find_project(aws: &AwsContext, name: &str) -> Step<Option<cb::Project>> {
    let found = aws
        .codebuild()
        .batch_get_projects()
        .names(name)
        .send()
        .await
        .map_err(failed(format!("reading CodeBuild project {name}")))?;
    Ok(found.projects.unwrap_or_default().into_iter().find(|p| p.name() == Some(name)))
}

/// A CodeBuild project as AWS holds it, in the shape's terms.
async fn read_project(aws: &AwsContext, name: &str, purpose: ProjectPurpose, runs_in: &Where) -> Step<Option<Project>> {
    let Some(project) = find_project(aws, name).await? else { return Ok(None) };
    let environment = project.environment();
    let variables = environment
        .map(|e| e.environment_variables())
        .unwrap_or_default()
        .iter()
        .map(|v| Variable {
            name: v.name().to_string(),
            value: match v.r#type() {
                Some(cb::EnvironmentVariableType::ParameterStore) => VariableValue::Parameter(v.value().to_string()),
                _ => VariableValue::Plain(v.value().to_string()),
            },
        })
        .collect();
    Ok(Some(Project {
        name: name.to_string(),
        purpose,
        runs_in: runs_in.clone(),
        image: environment.map(|e| e.image().to_string()).unwrap_or_default(),
        compute_type: environment.map(|e| e.compute_type().as_str().to_string()).unwrap_or_default(),
        privileged: environment.and_then(|e| e.privileged_mode()).unwrap_or(false),
        cache: match project.cache().map(|c| c.r#type()) {
            Some(cb::CacheType::Local) => Cache::Local,
            Some(cb::CacheType::S3) => Cache::S3,
            _ => Cache::None,
        },
        buildspec: project.source().and_then(|s| s.buildspec()).unwrap_or_default().to_string(),
        variables,
    }))
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
    remove_role(&accounts.pipeline, &pipeline_role_name(&spec.name)).await?;
    remove_role(&accounts.pipeline, &build_role_name(&spec.name)).await?;
    for env in &spec.environments {
        remove_role(
            accounts.context(&Where::Environment(env.name.clone())),
            &environment_role_name(&spec.name, &env.name),
        )
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
                &environment_role_name(&old.name, &env.name),
            )
            .await?;
        }
    }
    Ok(())
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
    if find_project(aws, &project.name).await?.is_some() {
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

/// Makes the pipeline's tags exactly `tags` (UpdatePipeline leaves them).
async fn sync_pipeline_tags(aws: &AwsContext, arn: &str, tags: &BTreeMap<String, String>) -> Step {
    let codepipeline = aws.codepipeline();
    let current = codepipeline
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(failed(format!("reading the tags of {arn}")))?;
    let stale: Vec<String> =
        current.tags().iter().map(|t| t.key().to_string()).filter(|k| !tags.contains_key(k)).collect();
    if !stale.is_empty() {
        codepipeline
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(stale))
            .send()
            .await
            .map_err(failed(format!("untagging {arn}")))?;
    }
    let wanted = tags
        .iter()
        .map(|(k, v)| cp::Tag::builder().key(k).value(v).build().map_err(invalid("pipeline tag")))
        .collect::<Step<Vec<_>>>()?;
    codepipeline
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(wanted))
        .send()
        .await
        .map_err(failed(format!("tagging {arn}")))?;
    Ok(())
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
    if let Some((arn, _)) = read_pipeline(aws, &spec.name).await? {
        codepipeline
            .update_pipeline()
            .pipeline(pipeline)
            .send()
            .await
            .map_err(failed(format!("updating pipeline {}", spec.name)))?;
        sync_pipeline_tags(aws, &arn, tags).await?;
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
