//! The inverse of [`shape`](crate::shape): the spec a deployed pipeline was
//! made from.
//!
//! An import knows only a pipeline's name, and a refresh must show drift on
//! the attribute that changed, so both read the pipeline and its projects
//! back from AWS and ask which spec they are the shape of. Whatever a shape
//! does not carry (Flyway locations when no environment migrates) is left
//! out; a part missing in AWS leaves out what it carried, so the next plan
//! shows it coming back. Tested as `recover(shape(spec)) == spec`.

use std::collections::BTreeMap;

use crate::shape::{
    buildspec_commands, target_placement, TargetPlace, FLYWAY_LOCATIONS_VARIABLE, REPOSITORY_URI_VARIABLE,
    RUNSCOPE_TRIGGER_VARIABLE,
};
use crate::{
    ActionKind, Build, Environment, Flyway, Kind, Project, ProjectPurpose, ServiceSpec, SmokeTest, Source, Stage,
    VariableValue,
};

/// What AWS holds for one service, in the shape's terms.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub name: String,
    pub artifact_bucket: String,
    /// The artifact store's KMS key, when it has one.
    pub artifact_key_arn: Option<String>,
    /// The pipeline's stages, as declared in AWS.
    pub stages: Vec<Stage>,
    /// The CodeBuild projects the actions name that exist, by name. Their
    /// variables hold what AWS stores (the repository URL as plain text).
    pub projects: BTreeMap<String, Project>,
    /// Environment name → the role its actions act through.
    pub deploy_roles: BTreeMap<String, String>,
    /// The service's own tags (without the provider's defaults).
    pub tags: BTreeMap<String, String>,
}

/// Why a pipeline cannot be read as a service pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotOurs(pub String);

impl std::fmt::Display for NotOurs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name of the project an action runs, if it runs one.
pub fn project_name(action: &crate::Action) -> Option<&str> {
    (action.kind == ActionKind::CodeBuild).then(|| action.configuration.get("ProjectName").map(String::as_str))?
}

/// The spec whose shape `observed` is.
pub fn recover(observed: &Observed) -> Result<ServiceSpec, NotOurs> {
    let not_ours = |why: &str| NotOurs(format!("pipeline {:?} was not made by bokbasen: {why}", observed.name));
    let (source_stage, build_stage, environment_stages) = match observed.stages.as_slice() {
        [source, build, environments @ ..] if !environments.is_empty() => (source, build, environments),
        _ => return Err(not_ours("it has fewer than three stages")),
    };
    let source_action = source_stage
        .actions
        .iter()
        .find(|a| a.kind == ActionKind::Source)
        .ok_or_else(|| not_ours("its first stage has no CodeStar source action"))?;
    let config = |key: &str| source_action.configuration.get(key).cloned().unwrap_or_default();
    let source = Source {
        connection_arn: config("ConnectionArn"),
        repository: config("FullRepositoryId"),
        branch: config("BranchName"),
    };
    let project = |stage: &Stage, purpose: ProjectPurpose| -> Option<&Project> {
        let action = stage.actions.iter().find(|a| a.name == purpose.action())?;
        observed.projects.get(project_name(action)?)
    };
    let kind = kind_of(environment_stages, &project).ok_or_else(|| not_ours("its deploy actions fit no kind"))?;
    let build = project(build_stage, ProjectPurpose::Build).map(|p| build_of(p, kind)).unwrap_or_default();

    let mut approval_topic_arn = None;
    let mut flyway = None;
    let mut environments = Vec::new();
    for stage in environment_stages {
        let approve = stage.actions.iter().find(|a| a.kind == ActionKind::ManualApproval);
        if let Some(topic) = approve.and_then(|a| a.configuration.get("NotificationArn")) {
            approval_topic_arn = Some(topic.clone());
        }
        let migrate = stage.actions.iter().any(|a| a.name == ProjectPurpose::Migrate.action());
        if let Some(locations) =
            project(stage, ProjectPurpose::Migrate).and_then(|p| plain(p, FLYWAY_LOCATIONS_VARIABLE))
        {
            let image =
                project(stage, ProjectPurpose::Migrate).map_or(Flyway::DEFAULT_IMAGE.into(), |p| p.image.clone());
            flyway = Some(Flyway { locations: locations.split(',').map(str::to_string).collect(), image });
        }
        let deploy_role_arn = observed.deploy_roles.get(&stage.name).cloned().unwrap_or_default();
        let deploy = stage.actions.iter().find(|a| a.name == "Deploy");
        let target = target_placement(kind)
            .iter()
            .filter_map(|(field, place)| {
                let value = match place {
                    TargetPlace::ActionConfiguration(key) => deploy?.configuration.get(*key).cloned(),
                    TargetPlace::ProjectVariable(purpose, variable) => plain(project(stage, *purpose)?, variable),
                }?;
                Some((field.to_string(), value))
            })
            .collect();
        environments.push(Environment {
            name: stage.name.clone(),
            account_id: deploy_role_arn.split(':').nth(4).unwrap_or_default().to_string(),
            deploy_role_arn,
            approval: approve.is_some(),
            migrate,
            smoke_test: project(stage, ProjectPurpose::SmokeTest)
                .and_then(|p| parameter(p, RUNSCOPE_TRIGGER_VARIABLE))
                .map(|runscope_trigger_parameter| SmokeTest { runscope_trigger_parameter }),
            verification: project(stage, ProjectPurpose::Verify)
                .and_then(|p| buildspec_commands(&p.buildspec))
                .unwrap_or_default(),
            target,
            // Every project of an environment is placed alike: the first one tells.
            network: stage
                .actions
                .iter()
                .find_map(|a| observed.projects.get(project_name(a)?))
                .and_then(|p| p.network.clone()),
        });
    }
    Ok(ServiceSpec {
        name: observed.name.clone(),
        kind,
        source,
        artifact_bucket: observed.artifact_bucket.clone(),
        artifact_key_arn: observed.artifact_key_arn.clone(),
        build,
        environments,
        approval_topic_arn,
        flyway,
        tags: observed.tags.clone(),
    })
}

/// The kind, from the first environment's deploy: a native action, or the
/// variables of the project bokbasen writes for it.
fn kind_of<'a>(
    stages: &'a [Stage],
    project: &impl Fn(&'a Stage, ProjectPurpose) -> Option<&'a Project>,
) -> Option<Kind> {
    let stage = stages.first()?;
    let deploy = stage.actions.iter().find(|a| a.name == "Deploy")?;
    match deploy.kind {
        ActionKind::EcsDeploy => Some(Kind::Fargate),
        ActionKind::S3Deploy => Some(Kind::StaticSite),
        ActionKind::CodeBuild => {
            let deploy = project(stage, ProjectPurpose::Deploy)?;
            [Kind::Lambda, Kind::Batch, Kind::ApiGateway].into_iter().find(|kind| {
                target_placement(*kind).iter().all(|(_, place)| match place {
                    TargetPlace::ProjectVariable(_, variable) => plain(deploy, variable).is_some(),
                    TargetPlace::ActionConfiguration(_) => false,
                })
            })
        }
        _ => None,
    }
}

fn build_of(project: &Project, kind: Kind) -> Build {
    let mut environment = BTreeMap::new();
    let mut secrets = BTreeMap::new();
    for variable in &project.variables {
        match &variable.value {
            VariableValue::Plain(_) if kind.builds_image() && variable.name == REPOSITORY_URI_VARIABLE => {}
            VariableValue::Plain(value) => {
                environment.insert(variable.name.clone(), value.clone());
            }
            VariableValue::Parameter(name) => {
                secrets.insert(variable.name.clone(), name.clone());
            }
            VariableValue::RepositoryUrl => {}
        }
    }
    Build {
        image: project.image.clone(),
        compute_type: project.compute_type.clone(),
        buildspec: project.buildspec.clone(),
        environment,
        secrets,
        cache: project.cache,
    }
}

fn plain(project: &Project, name: &str) -> Option<String> {
    project.variables.iter().find(|v| v.name == name).and_then(|v| match &v.value {
        VariableValue::Plain(value) => Some(value.clone()),
        _ => None,
    })
}

fn parameter(project: &Project, name: &str) -> Option<String> {
    project.variables.iter().find(|v| v.name == name).and_then(|v| match &v.value {
        VariableValue::Parameter(value) => Some(value.clone()),
        _ => None,
    })
}
