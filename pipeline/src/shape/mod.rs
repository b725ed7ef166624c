//! The pure function from a spec to its pipeline: which stages and actions,
//! in which account each runs, and which CodeBuild projects exist with what
//! buildspec. The provider turns this into CodePipeline and CodeBuild
//! requests; the order here is the order AWS gets, so plans never churn.

mod buildspec;
mod model;
mod picture;

use std::collections::BTreeMap;

use buildspec::buildspec;
pub(crate) use buildspec::buildspec_commands;
pub(crate) use model::{
    target_placement, TargetPlace, FLYWAY_LOCATIONS_VARIABLE, REPOSITORY_URI_VARIABLE, RUNSCOPE_TRIGGER_VARIABLE,
};
pub use model::{
    Action, ActionKind, PipelineShape, Project, Stage, Variable, VariableValue, Where, BUILD_ARTIFACT, SOURCE_ARTIFACT,
};

use crate::names::{build_project_name, environment_project_name, pipeline_name, ProjectPurpose};
use crate::{Cache, Environment, Kind, ServiceSpec};

/// Image for the steps bokbasen writes (AWS CLI, curl, jq).
const TOOLS_IMAGE: &str = "aws/codebuild/amazonlinux-x86_64-standard:5.0";
const TOOLS_COMPUTE: &str = "BUILD_GENERAL1_SMALL";

fn plain(name: &str, value: impl Into<String>) -> Variable {
    Variable { name: name.to_string(), value: VariableValue::Plain(value.into()) }
}

fn parameter(name: &str, parameter: impl Into<String>) -> Variable {
    Variable { name: name.to_string(), value: VariableValue::Parameter(parameter.into()) }
}

fn configuration<const N: usize>(pairs: [(&str, String); N]) -> BTreeMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The pipeline a (valid) spec gets.
pub fn shape(spec: &ServiceSpec) -> PipelineShape {
    let mut projects = vec![build_project(spec)];
    let mut stages = vec![
        Stage {
            name: "Source".into(),
            actions: vec![Action {
                name: "Source".into(),
                kind: ActionKind::Source,
                run_order: 1,
                runs_in: Where::Pipeline,
                input: None,
                output: Some(SOURCE_ARTIFACT),
                configuration: configuration([
                    ("ConnectionArn", spec.source.connection_arn.clone()),
                    ("FullRepositoryId", spec.source.repository.clone()),
                    ("BranchName", spec.source.branch.clone()),
                    // Full clone: builds can read git metadata (versions from tags).
                    ("OutputArtifactFormat", "CODEBUILD_CLONE_REF".into()),
                ]),
            }],
        },
        Stage {
            name: "Build".into(),
            actions: vec![codebuild_action(
                "Build",
                1,
                Where::Pipeline,
                &projects[0].name,
                SOURCE_ARTIFACT,
                Some(BUILD_ARTIFACT),
            )],
        },
    ];
    for env in &spec.environments {
        let (stage, env_projects) = environment_stage(spec, env);
        stages.push(stage);
        projects.extend(env_projects);
    }
    PipelineShape { name: pipeline_name(&spec.name), kind: spec.kind, stages, projects }
}

fn codebuild_action(
    name: &str,
    run_order: u32,
    runs_in: Where,
    project: &str,
    input: &'static str,
    output: Option<&'static str>,
) -> Action {
    Action {
        name: name.into(),
        kind: ActionKind::CodeBuild,
        run_order,
        runs_in,
        input: Some(input),
        output,
        configuration: configuration([("ProjectName", project.to_string())]),
    }
}

fn build_project(spec: &ServiceSpec) -> Project {
    let mut variables: Vec<Variable> =
        spec.build.environment.iter().map(|(name, value)| plain(name, value.clone())).collect();
    variables.extend(spec.build.secrets.iter().map(|(name, name_in_ssm)| parameter(name, name_in_ssm.clone())));
    if spec.kind.builds_image() {
        variables.push(Variable { name: REPOSITORY_URI_VARIABLE.into(), value: VariableValue::RepositoryUrl });
    }
    Project {
        name: build_project_name(&spec.name),
        purpose: ProjectPurpose::Build,
        runs_in: Where::Pipeline,
        image: spec.build.image.clone(),
        compute_type: spec.build.compute_type.clone(),
        privileged: spec.kind.builds_image(),
        cache: spec.build.cache,
        buildspec: spec.build.buildspec.clone(),
        variables,
        encryption_key: spec.artifact_key_arn.clone(),
        network: None,
    }
}

/// Collects one environment's actions, numbering them in order.
struct EnvironmentStage<'a> {
    spec: &'a ServiceSpec,
    env: &'a Environment,
    here: Where,
    actions: Vec<Action>,
    projects: Vec<Project>,
}

/// A CodeBuild step bokbasen writes: its project and the action that runs it.
/// Every step reads the build's output artifact: the source artifact is a
/// reference to a clone through the pipeline's connection, which only the
/// pipeline's account can use, so the build packages what later steps need.
struct Step<'a> {
    purpose: ProjectPurpose,
    image: &'a str,
    commands: &'a [&'a str],
    variables: Vec<Variable>,
}

impl EnvironmentStage<'_> {
    fn next_order(&self) -> u32 {
        self.actions.len() as u32 + 1
    }

    fn action(
        &mut self,
        name: &str,
        kind: ActionKind,
        runs_in: Where,
        input: Option<&'static str>,
        configuration: BTreeMap<String, String>,
    ) {
        let run_order = self.next_order();
        self.actions.push(Action { name: name.into(), kind, run_order, runs_in, input, output: None, configuration });
    }

    fn codebuild(&mut self, step: Step<'_>) {
        let project = Project {
            name: environment_project_name(&self.spec.name, &self.env.name, step.purpose),
            purpose: step.purpose,
            runs_in: self.here.clone(),
            image: step.image.to_string(),
            compute_type: TOOLS_COMPUTE.to_string(),
            privileged: false,
            cache: Cache::None,
            buildspec: buildspec(step.commands),
            variables: step.variables,
            encryption_key: self.spec.artifact_key_arn.clone(),
            network: self.env.network.clone(),
        };
        let action = codebuild_action(
            step.purpose.action(),
            self.next_order(),
            self.here.clone(),
            &project.name,
            BUILD_ARTIFACT,
            None,
        );
        self.actions.push(action);
        self.projects.push(project);
    }

    fn target(&self, field: &str) -> String {
        self.env.target.get(field).cloned().unwrap_or_default()
    }

    /// The target fields that `purpose`'s project carries as variables.
    fn target_variables(&self, purpose: ProjectPurpose) -> Vec<Variable> {
        target_placement(self.spec.kind)
            .iter()
            .filter_map(|(field, place)| match place {
                TargetPlace::ProjectVariable(p, variable) if *p == purpose => Some(plain(variable, self.target(field))),
                _ => None,
            })
            .collect()
    }

    /// The native deploy action's configuration: its target fields, and `fixed`.
    fn deploy_configuration(&self, fixed: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut config: BTreeMap<String, String> = fixed.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        for (field, place) in target_placement(self.spec.kind) {
            if let TargetPlace::ActionConfiguration(key) = place {
                config.insert(key.to_string(), self.target(field));
            }
        }
        config
    }
}

/// One stage per environment: [Approve] → [Migrate] → Deploy → [Invalidate] → [SmokeTest] → [Verify].
fn environment_stage(spec: &ServiceSpec, env: &Environment) -> (Stage, Vec<Project>) {
    let here = Where::Environment(env.name.clone());
    let mut stage = EnvironmentStage { spec, env, here: here.clone(), actions: Vec::new(), projects: Vec::new() };

    if env.approval {
        let mut config = configuration([(
            "CustomData",
            format!("Release {} to {} (account {})?", spec.name, env.name, env.account_id),
        )]);
        if let Some(topic) = &spec.approval_topic_arn {
            config.insert("NotificationArn".into(), topic.clone());
        }
        stage.action("Approve", ActionKind::ManualApproval, Where::Pipeline, None, config);
    }
    if env.migrate {
        let config_path = spec.config_path(&env.name);
        let locations = spec.flyway.as_ref().map(|f| f.locations.join(",")).unwrap_or_default();
        stage.codebuild(Step {
            purpose: ProjectPurpose::Migrate,
            image: spec.flyway.as_ref().map_or(crate::Flyway::DEFAULT_IMAGE, |f| f.image.as_str()),
            commands: &["flyway -locations=\"$FLYWAY_LOCATIONS\" migrate"],
            variables: vec![
                plain(FLYWAY_LOCATIONS_VARIABLE, locations),
                parameter("FLYWAY_URL", format!("{config_path}/flyway/url")),
                parameter("FLYWAY_USER", format!("{config_path}/flyway/user")),
                parameter("FLYWAY_PASSWORD", format!("{config_path}/flyway/password")),
            ],
        });
    }
    match spec.kind {
        Kind::Fargate => {
            let config = stage.deploy_configuration(&[("FileName", "imagedefinitions.json")]);
            stage.action("Deploy", ActionKind::EcsDeploy, here.clone(), Some(BUILD_ARTIFACT), config);
        }
        Kind::StaticSite => {
            let config = stage.deploy_configuration(&[("Extract", "true")]);
            stage.action("Deploy", ActionKind::S3Deploy, here.clone(), Some(BUILD_ARTIFACT), config);
            stage.codebuild(Step {
                purpose: ProjectPurpose::Invalidate,
                image: TOOLS_IMAGE,
                commands: &["aws cloudfront create-invalidation --distribution-id \"$DISTRIBUTION_ID\" --paths '/*'"],
                variables: stage.target_variables(ProjectPurpose::Invalidate),
            });
        }
        Kind::Lambda => {
            stage.codebuild(Step {
                purpose: ProjectPurpose::Deploy,
                image: TOOLS_IMAGE,
                commands: &[
                    "aws lambda update-function-code --function-name \"$FUNCTION\" --zip-file fileb://function.zip --publish",
                    "aws lambda wait function-updated --function-name \"$FUNCTION\"",
                ],
                variables: stage.target_variables(ProjectPurpose::Deploy),
            });
        }
        Kind::Batch => {
            stage.codebuild(Step {
                purpose: ProjectPurpose::Deploy,
                image: TOOLS_IMAGE,
                commands: &[
                    "IMAGE=$(jq -r .ImageURI imageDetail.json)",
                    "aws batch describe-job-definitions --job-definition-name \"$JOB_DEFINITION\" --status ACTIVE --query 'sort_by(jobDefinitions,&revision)[-1]' > current.json",
                    "jq --arg image \"$IMAGE\" '{jobDefinitionName, type, parameters, retryStrategy, timeout, platformCapabilities, containerProperties: (.containerProperties + {image: $image})} | with_entries(select(.value != null))' current.json > next.json",
                    "aws batch register-job-definition --cli-input-json file://next.json",
                ],
                variables: stage.target_variables(ProjectPurpose::Deploy),
            });
        }
        Kind::ApiGateway => {
            stage.codebuild(Step {
                purpose: ProjectPurpose::Deploy,
                image: TOOLS_IMAGE,
                commands: &[
                    "aws apigateway put-rest-api --rest-api-id \"$API_ID\" --mode overwrite --body fileb://openapi.json",
                    "aws apigateway create-deployment --rest-api-id \"$API_ID\" --stage-name \"$STAGE\" --description \"$CODEBUILD_RESOLVED_SOURCE_VERSION\"",
                ],
                variables: stage.target_variables(ProjectPurpose::Deploy),
            });
        }
    }
    if let Some(smoke) = &env.smoke_test {
        stage.codebuild(Step {
            purpose: ProjectPurpose::SmokeTest,
            image: TOOLS_IMAGE,
            commands: &["curl --fail --silent --show-error --max-time 60 \"$RUNSCOPE_TRIGGER_URL\""],
            variables: vec![parameter(RUNSCOPE_TRIGGER_VARIABLE, smoke.runscope_trigger_parameter.clone())],
        });
    }
    if !env.verification.is_empty() {
        let commands: Vec<&str> = env.verification.iter().map(String::as_str).collect();
        stage.codebuild(Step {
            purpose: ProjectPurpose::Verify,
            image: &spec.build.image,
            commands: &commands,
            variables: Vec::new(),
        });
    }
    (Stage { name: env.name.clone(), actions: stage.actions }, stage.projects)
}
