//! Between the shape and the AWS SDK's types, both ways and without calls:
//! a project's definition and a pipeline's declaration from the shape, and
//! what AWS answers back in the shape's terms for `recover`. The round trip
//! is tested here, so a field written one way and read another shows up
//! before any AWS call does.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_codebuild::types as cb;
use aws_sdk_codepipeline::types as cp;
use bokbasen_pipeline::names::{cache_location, ecr_image_repository};
use bokbasen_pipeline::{
    Action, ActionKind, Cache, Network, PipelineShape, Project, ProjectPurpose, ServiceSpec, Stage, Variable,
    VariableValue, Where, BUILD_ARTIFACT, SOURCE_ARTIFACT,
};

use crate::aws::codebuild::{FoundProject, ProjectDefinition};
use crate::aws::{invalid, Step};

/// The CodeBuild project `project` of `spec`, run as `role_arn`, with the
/// repository URL in place of [`VariableValue::RepositoryUrl`].
pub fn project_definition(
    spec: &ServiceSpec,
    project: &Project,
    role_arn: &str,
    repository_url: &str,
    tags: &BTreeMap<String, String>,
) -> Step<ProjectDefinition> {
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
    // An image in a private ECR registry is pulled with the project's role; others with CodeBuild's.
    let pull_credentials = match ecr_image_repository(&project.image, "aws") {
        Some(_) => cb::ImagePullCredentialsType::ServiceRole,
        None => cb::ImagePullCredentialsType::Codebuild,
    };
    let environment = cb::ProjectEnvironment::builder()
        .r#type(cb::EnvironmentType::LinuxContainer)
        .image(&project.image)
        .image_pull_credentials_type(pull_credentials)
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
            .location(cache_location(&spec.artifact_bucket, &spec.name)),
    }
    .build()
    .map_err(invalid("CodeBuild cache"))?;
    Ok(ProjectDefinition {
        name: project.name.clone(),
        source,
        artifacts,
        environment,
        cache,
        service_role: role_arn.to_string(),
        encryption_key: project.encryption_key.clone(),
        vpc_config: project.network.as_ref().map(|network| {
            cb::VpcConfig::builder()
                .vpc_id(&network.vpc_id)
                .set_subnets(Some(network.subnet_ids.clone()))
                .set_security_group_ids(Some(network.security_group_ids.clone()))
                .build()
        }),
        tags: tags.iter().map(|(k, v)| cb::Tag::builder().key(k).value(v).build()).collect(),
    })
}

/// A project as AWS holds it, in the shape's terms: the repository URL is
/// a plain variable here, as AWS stores it.
pub fn observed_project(found: &FoundProject, purpose: ProjectPurpose, runs_in: &Where) -> Project {
    let variables = found
        .variables
        .iter()
        .map(|v| Variable {
            name: v.name().to_string(),
            value: match v.r#type() {
                Some(cb::EnvironmentVariableType::ParameterStore) => VariableValue::Parameter(v.value().to_string()),
                _ => VariableValue::Plain(v.value().to_string()),
            },
        })
        .collect();
    Project {
        name: found.name.clone(),
        purpose,
        runs_in: runs_in.clone(),
        image: found.image.clone(),
        compute_type: found.compute_type.clone(),
        privileged: found.privileged,
        cache: match found.cache {
            Some(cb::CacheType::Local) => Cache::Local,
            Some(cb::CacheType::S3) => Cache::S3,
            _ => Cache::None,
        },
        buildspec: found.buildspec.clone(),
        variables,
        encryption_key: found.encryption_key.clone(),
        network: found.vpc_config.as_ref().filter(|v| v.vpc_id().is_some()).map(|v| Network {
            vpc_id: v.vpc_id().unwrap_or_default().to_string(),
            subnet_ids: v.subnets().to_vec(),
            security_group_ids: v.security_group_ids().to_vec(),
        }),
    }
}

fn action_declaration(spec: &ServiceSpec, action: &Action) -> Step<cp::ActionDeclaration> {
    let type_id = cp::ActionTypeId::builder()
        .category(cp::ActionCategory::from(action.kind.category()))
        .owner(cp::ActionOwner::from(action.kind.owner()))
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

/// The pipeline declaration of `shape`, acting as `role_arn`: a V2 pipeline
/// (newer runs supersede waiting ones) started by a push to the branch.
pub fn declaration(spec: &ServiceSpec, shape: &PipelineShape, role_arn: &str) -> Step<cp::PipelineDeclaration> {
    let stages = shape
        .stages
        .iter()
        .map(|stage| {
            let actions = stage.actions.iter().map(|a| action_declaration(spec, a)).collect::<Step<Vec<_>>>()?;
            cp::StageDeclaration::builder()
                .name(&stage.name)
                .set_actions(Some(actions))
                .build()
                .map_err(invalid("stage"))
        })
        .collect::<Step<Vec<_>>>()?;
    let key = spec
        .artifact_key_arn
        .as_ref()
        .map(|key| cp::EncryptionKey::builder().id(key).r#type(cp::EncryptionKeyType::Kms).build())
        .transpose()
        .map_err(invalid("artifact key"))?;
    let store = cp::ArtifactStore::builder()
        .r#type(cp::ArtifactStoreType::S3)
        .location(&spec.artifact_bucket)
        .set_encryption_key(key)
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
        .name(&shape.name)
        .role_arn(role_arn)
        .artifact_store(store)
        .set_stages(Some(stages))
        .pipeline_type(cp::PipelineType::V2)
        .execution_mode(cp::ExecutionMode::Superseded)
        .triggers(trigger)
        .build()
        .map_err(invalid("pipeline"))
}

/// A declaration as AWS holds it, in the shape's terms.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedDeclaration {
    pub artifact_bucket: String,
    pub artifact_key_arn: Option<String>,
    pub version: i64,
    /// The stages with the actions the shape has a kind for.
    pub stages: Vec<Stage>,
    /// Environment (stage) name → the role its actions act through.
    pub deploy_roles: BTreeMap<String, String>,
    /// Every stage with every action name, as declared (also actions the
    /// shape has no kind for, so the `stages` attribute shows them).
    pub stage_names: Vec<(String, Vec<String>)>,
}

/// The inverse of [`declaration`], for what `recover` needs.
pub fn observed_declaration(declared: &cp::PipelineDeclaration) -> ObservedDeclaration {
    let mut observed = ObservedDeclaration {
        artifact_bucket: declared.artifact_store().map(|s| s.location().to_string()).unwrap_or_default(),
        artifact_key_arn: declared.artifact_store().and_then(|s| s.encryption_key()).map(|k| k.id().to_string()),
        version: declared.version().unwrap_or_default().into(),
        ..ObservedDeclaration::default()
    };
    for stage in declared.stages() {
        if let Some(role) = stage.actions().iter().find_map(|a| a.role_arn()) {
            observed.deploy_roles.insert(stage.name().to_string(), role.to_string());
        }
        observed
            .stage_names
            .push((stage.name().to_string(), stage.actions().iter().map(|a| a.name().to_string()).collect()));
        let actions = stage.actions().iter().filter_map(|a| observed_action(stage.name(), a)).collect();
        observed.stages.push(Stage { name: stage.name().to_string(), actions });
    }
    observed
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

#[cfg(test)]
pub(super) mod tests {
    use bokbasen_pipeline::names::deployer_role_arn;
    use bokbasen_pipeline::{shape, Build, Environment, Flyway, Kind, SmokeTest, Source};

    use super::*;

    const REPOSITORY_URL: &str = "123456789012.dkr.ecr.eu-north-1.amazonaws.com/ebook-api";

    /// A sample of `kind`: test (222222222222) and production
    /// (444444444444, in a VPC) in their own accounts, migrations, smoke tests.
    pub(in crate::types::service_pipeline) fn spec(kind: Kind, cache: Cache) -> ServiceSpec {
        let target: &[(&str, &str)] = match kind {
            Kind::Fargate => &[("cluster", "books"), ("service", "ebook-api")],
            Kind::Lambda => &[("function", "ebook-api")],
            Kind::Batch => &[("job_queue", "books"), ("job_definition", "ebook-api")],
            Kind::ApiGateway => &[("api_id", "a1b2c3"), ("stage", "live")],
            Kind::StaticSite => &[("bucket", "ebook-site"), ("distribution_id", "E2QWRUHEXAMPLE")],
        };
        let migrate = kind != Kind::StaticSite;
        let environment = |name: &str, account: &str| Environment {
            name: name.into(),
            account_id: account.into(),
            deploy_role_arn: deployer_role_arn(account, name),
            approval: name != "test",
            migrate,
            smoke_test: Some(SmokeTest { runscope_trigger_parameter: format!("/config/ebook-api_{name}/runscope") }),
            verification: vec!["./gradlew verificationTest".into()],
            target: target.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            network: (name == "production").then(|| Network {
                vpc_id: "vpc-0a1b2c3d".into(),
                subnet_ids: vec!["subnet-0a1b2c3d".into()],
                security_group_ids: vec!["sg-0a1b2c3d".into()],
            }),
        };
        ServiceSpec {
            name: "ebook-api".into(),
            kind,
            source: Source {
                connection_arn: "arn:aws:codestar-connections:eu-north-1:123456789012:connection/abc".into(),
                repository: "bokbasen/ebook-api".into(),
                branch: "main".into(),
            },
            artifact_bucket: "bokbasen-artifacts".into(),
            artifact_key_arn: Some(
                "arn:aws:kms:eu-north-1:123456789012:key/0a1b2c3d-0000-4000-8000-000000000001".into(),
            ),
            build: Build {
                environment: BTreeMap::from([("JAVA_TOOL_OPTIONS".into(), "-Xmx1g".into())]),
                secrets: BTreeMap::from([("SONAR_TOKEN".into(), "/config/ebook-api_build/sonar".into())]),
                cache,
                ..Build::default()
            },
            environments: vec![environment("test", "222222222222"), environment("production", "444444444444")],
            approval_topic_arn: Some("arn:aws:sns:eu-north-1:123456789012:releases".into()),
            flyway: migrate.then(|| Flyway {
                locations: vec!["filesystem:db/migration".into()],
                image: "123456789012.dkr.ecr.eu-north-1.amazonaws.com/mirror/flyway:10".into(),
            }),
            tags: BTreeMap::new(),
        }
    }

    fn specs() -> Vec<ServiceSpec> {
        let caches = [Cache::None, Cache::Local, Cache::S3];
        Kind::ALL.into_iter().zip(caches.into_iter().cycle()).map(|(kind, cache)| spec(kind, cache)).collect()
    }

    /// What CodeBuild answers for a project made from `definition`.
    fn as_stored(definition: ProjectDefinition) -> cb::Project {
        cb::Project::builder()
            .name(definition.name)
            .source(definition.source)
            .artifacts(definition.artifacts)
            .environment(definition.environment)
            .cache(definition.cache)
            .service_role(definition.service_role)
            .set_encryption_key(definition.encryption_key)
            .set_vpc_config(definition.vpc_config)
            .set_tags(Some(definition.tags))
            .build()
    }

    #[test]
    fn projects_read_back_as_the_shape_wrote_them() {
        for spec in specs() {
            for project in shape(&spec).projects {
                let tags = BTreeMap::from([("team".to_string(), "books".to_string())]);
                let definition = project_definition(&spec, &project, "arn:aws:iam::1:role/r", REPOSITORY_URL, &tags)
                    .expect("the shape's projects are complete requests");
                assert_eq!(definition.tags.len(), 1);
                let stored = as_stored(definition);
                let mut expected = project.clone();
                for variable in &mut expected.variables {
                    if variable.value == VariableValue::RepositoryUrl {
                        variable.value = VariableValue::Plain(REPOSITORY_URL.into());
                    }
                }
                let found = FoundProject::from(stored);
                assert_eq!(observed_project(&found, project.purpose, &project.runs_in), expected, "{}", project.name);
            }
        }
    }

    #[test]
    fn the_s3_cache_lives_where_the_build_role_may_write() {
        let spec = spec(Kind::Lambda, Cache::S3);
        let build = &shape(&spec).projects[0];
        let definition = project_definition(&spec, build, "arn:aws:iam::1:role/r", "", &BTreeMap::new()).unwrap();
        assert_eq!(definition.cache.location(), Some(cache_location(&spec.artifact_bucket, &spec.name).as_str()));
    }

    #[test]
    fn a_declaration_reads_back_as_its_shape() {
        for spec in specs() {
            let shape = shape(&spec);
            let declared = declaration(&spec, &shape, "arn:aws:iam::123456789012:role/bokbasen/ebook-api-pipeline")
                .expect("the shape is a complete declaration");
            assert_eq!(declared.pipeline_type(), Some(&cp::PipelineType::V2));
            let observed = observed_declaration(&declared);
            assert_eq!(observed.stages, shape.stages, "{}", spec.kind.name());
            assert_eq!(observed.artifact_bucket, spec.artifact_bucket);
            let roles: BTreeMap<String, String> =
                spec.environments.iter().map(|e| (e.name.clone(), e.deploy_role_arn.clone())).collect();
            assert_eq!(observed.deploy_roles, roles);
            let names: Vec<(String, Vec<String>)> = shape
                .stages
                .iter()
                .map(|s| (s.name.clone(), s.actions.iter().map(|a| a.name.clone()).collect()))
                .collect();
            assert_eq!(observed.stage_names, names);
        }
    }

    #[test]
    fn actions_the_shape_never_writes_are_named_but_not_read() {
        let spec = spec(Kind::Lambda, Cache::None);
        let mut declared = declaration(&spec, &shape(&spec), "arn:aws:iam::1:role/r").unwrap();
        let foreign = cp::ActionDeclaration::builder()
            .name("Jenkins")
            .action_type_id(
                cp::ActionTypeId::builder()
                    .category(cp::ActionCategory::Test)
                    .owner(cp::ActionOwner::Custom)
                    .provider("Jenkins")
                    .version("1")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let mut stages = declared.stages.clone();
        stages[1].actions.push(foreign);
        declared.stages = stages;
        let observed = observed_declaration(&declared);
        assert_eq!(observed.stage_names[1].1, ["Build", "Jenkins"]);
        assert_eq!(observed.stages[1].actions.len(), 1);
    }
}
