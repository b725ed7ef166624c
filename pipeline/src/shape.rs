//! The pure function from a spec to its pipeline: which stages and actions,
//! in which account each runs, and which CodeBuild projects exist with what
//! buildspec. The provider turns this into CodePipeline and CodeBuild
//! requests; the order here is the order AWS gets, so plans never churn.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use crate::{Cache, Environment, Kind, ServiceSpec};

/// Artifact names passed between actions.
pub const SOURCE_ARTIFACT: &str = "source";
pub const BUILD_ARTIFACT: &str = "build";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineShape {
    pub name: String,
    pub kind: Kind,
    pub stages: Vec<Stage>,
    /// Build first, then per environment in promotion order.
    pub projects: Vec<Project>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    pub name: String,
    pub actions: Vec<Action>,
}

/// The account an action or project acts in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Where {
    /// The account that owns the pipeline.
    Pipeline,
    /// An environment's account, through its deploy role.
    Environment(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    pub name: String,
    pub kind: ActionKind,
    /// Actions of a stage run in this order, one after the other.
    pub run_order: u32,
    pub runs_in: Where,
    pub input: Option<&'static str>,
    pub output: Option<&'static str>,
    /// CodePipeline action configuration, as AWS stores it.
    pub configuration: BTreeMap<String, String>,
}

/// CodePipeline action types (category, owner, provider, version).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionKind {
    Source,
    CodeBuild,
    ManualApproval,
    EcsDeploy,
    S3Deploy,
}

impl ActionKind {
    pub const ALL: [ActionKind; 5] = [
        ActionKind::Source,
        ActionKind::CodeBuild,
        ActionKind::ManualApproval,
        ActionKind::EcsDeploy,
        ActionKind::S3Deploy,
    ];

    /// The kind of an AWS-owned action type, by its category and provider.
    pub fn from_type(category: &str, provider: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|k| k.category() == category && k.provider() == provider)
    }

    pub fn category(self) -> &'static str {
        match self {
            ActionKind::Source => "Source",
            ActionKind::CodeBuild => "Build",
            ActionKind::ManualApproval => "Approval",
            ActionKind::EcsDeploy | ActionKind::S3Deploy => "Deploy",
        }
    }

    pub fn provider(self) -> &'static str {
        match self {
            ActionKind::Source => "CodeStarSourceConnection",
            ActionKind::CodeBuild => "CodeBuild",
            ActionKind::ManualApproval => "Manual",
            ActionKind::EcsDeploy => "ECS",
            ActionKind::S3Deploy => "S3",
        }
    }

    pub fn owner(self) -> &'static str {
        "AWS"
    }

    pub fn version(self) -> &'static str {
        "1"
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectPurpose {
    Build,
    Migrate,
    Deploy,
    Invalidate,
    SmokeTest,
    Verify,
}

impl ProjectPurpose {
    pub const ALL: [ProjectPurpose; 6] = [
        ProjectPurpose::Build,
        ProjectPurpose::Migrate,
        ProjectPurpose::Deploy,
        ProjectPurpose::Invalidate,
        ProjectPurpose::SmokeTest,
        ProjectPurpose::Verify,
    ];

    /// The name of the pipeline action that runs the project.
    pub fn action(self) -> &'static str {
        match self {
            ProjectPurpose::Build => "Build",
            ProjectPurpose::Migrate => "Migrate",
            ProjectPurpose::Deploy => "Deploy",
            ProjectPurpose::Invalidate => "Invalidate",
            ProjectPurpose::SmokeTest => "SmokeTest",
            ProjectPurpose::Verify => "Verify",
        }
    }

    pub fn from_action(name: &str) -> Option<ProjectPurpose> {
        ProjectPurpose::ALL.into_iter().find(|p| p.action() == name)
    }

    /// The last part of the project's name, e.g. `smoke-test`.
    pub fn suffix(self) -> &'static str {
        match self {
            ProjectPurpose::Build => "build",
            ProjectPurpose::Migrate => "migrate",
            ProjectPurpose::Deploy => "deploy",
            ProjectPurpose::Invalidate => "invalidate",
            ProjectPurpose::SmokeTest => "smoke-test",
            ProjectPurpose::Verify => "verify",
        }
    }
}

/// A CodeBuild project the pipeline runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    pub name: String,
    pub purpose: ProjectPurpose,
    pub runs_in: Where,
    pub image: String,
    pub compute_type: String,
    /// Needed to build container images.
    pub privileged: bool,
    pub cache: Cache,
    /// A path in the repository, or inline YAML.
    pub buildspec: String,
    pub variables: Vec<Variable>,
}

/// A CodeBuild environment variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    pub value: VariableValue,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VariableValue {
    Plain(String),
    /// Read from SSM Parameter Store by CodeBuild at run time; never stored.
    Parameter(String),
    /// The service's ECR repository URL, known once the repository exists.
    RepositoryUrl,
}

/// The build's variable holding the ECR repository URL (container kinds).
pub const REPOSITORY_URI_VARIABLE: &str = "REPOSITORY_URI";
/// The migration's variable listing the Flyway locations, comma-separated.
pub(crate) const FLYWAY_LOCATIONS_VARIABLE: &str = "FLYWAY_LOCATIONS";
/// The smoke test's variable, read from SSM, holding the Runscope trigger URL.
pub(crate) const RUNSCOPE_TRIGGER_VARIABLE: &str = "RUNSCOPE_TRIGGER_URL";

/// Where each target field goes: a deploy action's configuration key, or a
/// variable of a project bokbasen writes.
pub(crate) fn target_placement(kind: Kind) -> &'static [(&'static str, TargetPlace)] {
    use TargetPlace::{ActionConfiguration as Action, ProjectVariable as Variable};
    match kind {
        Kind::Fargate => &[("cluster", Action("ClusterName")), ("service", Action("ServiceName"))],
        Kind::StaticSite => &[
            ("bucket", Action("BucketName")),
            ("distribution_id", Variable(ProjectPurpose::Invalidate, "DISTRIBUTION_ID")),
        ],
        Kind::Lambda => &[("function", Variable(ProjectPurpose::Deploy, "FUNCTION"))],
        Kind::Batch => &[
            ("job_definition", Variable(ProjectPurpose::Deploy, "JOB_DEFINITION")),
            ("job_queue", Variable(ProjectPurpose::Deploy, "JOB_QUEUE")),
        ],
        Kind::ApiGateway => &[
            ("api_id", Variable(ProjectPurpose::Deploy, "API_ID")),
            ("stage", Variable(ProjectPurpose::Deploy, "STAGE")),
        ],
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TargetPlace {
    /// A key of the native deploy action's configuration.
    ActionConfiguration(&'static str),
    /// A plain variable of the environment's project with this purpose.
    ProjectVariable(ProjectPurpose, &'static str),
}

/// Image for the steps bokbasen writes (AWS CLI, curl, jq).
const TOOLS_IMAGE: &str = "aws/codebuild/amazonlinux-x86_64-standard:5.0";
const TOOLS_COMPUTE: &str = "BUILD_GENERAL1_SMALL";
const FLYWAY_IMAGE: &str = "flyway/flyway:10";

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
    PipelineShape { name: spec.name.clone(), kind: spec.kind, stages, projects }
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
        name: format!("{}-build", spec.name),
        purpose: ProjectPurpose::Build,
        runs_in: Where::Pipeline,
        image: spec.build.image.clone(),
        compute_type: spec.build.compute_type.clone(),
        privileged: spec.kind.builds_image(),
        cache: spec.build.cache,
        buildspec: spec.build.buildspec.clone(),
        variables,
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
struct Step<'a> {
    purpose: ProjectPurpose,
    input: &'static str,
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
            name: format!("{}-{}-{}", self.spec.name, self.env.name, step.purpose.suffix()),
            purpose: step.purpose,
            runs_in: self.here.clone(),
            image: step.image.to_string(),
            compute_type: TOOLS_COMPUTE.to_string(),
            privileged: false,
            cache: Cache::None,
            buildspec: buildspec(step.commands),
            variables: step.variables,
        };
        let action = codebuild_action(
            step.purpose.action(),
            self.next_order(),
            self.here.clone(),
            &project.name,
            step.input,
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
            input: SOURCE_ARTIFACT,
            image: FLYWAY_IMAGE,
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
                input: BUILD_ARTIFACT,
                image: TOOLS_IMAGE,
                commands: &["aws cloudfront create-invalidation --distribution-id \"$DISTRIBUTION_ID\" --paths '/*'"],
                variables: stage.target_variables(ProjectPurpose::Invalidate),
            });
        }
        Kind::Lambda => {
            stage.codebuild(Step {
                purpose: ProjectPurpose::Deploy,
                input: BUILD_ARTIFACT,
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
                input: BUILD_ARTIFACT,
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
                input: BUILD_ARTIFACT,
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
            input: SOURCE_ARTIFACT,
            image: TOOLS_IMAGE,
            commands: &["curl --fail --silent --show-error --max-time 60 \"$RUNSCOPE_TRIGGER_URL\""],
            variables: vec![parameter(RUNSCOPE_TRIGGER_VARIABLE, smoke.runscope_trigger_parameter.clone())],
        });
    }
    if !env.verification.is_empty() {
        let commands: Vec<&str> = env.verification.iter().map(String::as_str).collect();
        stage.codebuild(Step {
            purpose: ProjectPurpose::Verify,
            input: SOURCE_ARTIFACT,
            image: &spec.build.image,
            commands: &commands,
            variables: Vec::new(),
        });
    }
    (Stage { name: env.name.clone(), actions: stage.actions }, stage.projects)
}

/// An inline buildspec running `commands` in its build phase.
fn buildspec(commands: &[&str]) -> String {
    let mut yaml = String::from("version: 0.2\nphases:\n  build:\n    commands:\n");
    for command in commands {
        let _ = writeln!(yaml, "      - {}", yaml_string(command));
    }
    yaml
}

/// The commands of a buildspec written by [`buildspec`]; `None` for any
/// other buildspec (edited by hand, or not ours).
pub(crate) fn buildspec_commands(yaml: &str) -> Option<Vec<String>> {
    let body = yaml.strip_prefix("version: 0.2\nphases:\n  build:\n    commands:\n")?;
    body.lines()
        .map(|line| {
            let quoted = line.strip_prefix("      - \"")?.strip_suffix('"')?;
            let mut command = String::new();
            let mut chars = quoted.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => command.push(chars.next()?),
                    '"' => return None,
                    c => command.push(c),
                }
            }
            Some(command)
        })
        .collect()
}

/// A YAML double-quoted scalar.
fn yaml_string(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

impl fmt::Display for Where {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Where::Pipeline => write!(f, "pipeline account"),
            Where::Environment(env) => write!(f, "{env} account"),
        }
    }
}

impl fmt::Display for PipelineShape {
    /// A readable picture of the pipeline, used by golden tests and the generator.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "pipeline {} ({})", self.name, self.kind.name())?;
        for stage in &self.stages {
            writeln!(f, "stage {}", stage.name)?;
            for action in &stage.actions {
                let input = action.input.map(|i| format!(" <- {i}")).unwrap_or_default();
                let output = action.output.map(|o| format!(" -> {o}")).unwrap_or_default();
                writeln!(
                    f,
                    "  {}. {} [{}/{}] in {}{input}{output}",
                    action.run_order,
                    action.name,
                    action.kind.category(),
                    action.kind.provider(),
                    action.runs_in
                )?;
                for (key, value) in &action.configuration {
                    writeln!(f, "       {key} = {value}")?;
                }
            }
        }
        for project in &self.projects {
            writeln!(f, "project {} ({:?}, in {})", project.name, project.purpose, project.runs_in)?;
            writeln!(
                f,
                "  image {} {} privileged={} cache={:?}",
                project.image, project.compute_type, project.privileged, project.cache
            )?;
            for variable in &project.variables {
                let value = match &variable.value {
                    VariableValue::Plain(v) => format!("= {v}"),
                    VariableValue::Parameter(p) => format!("<- ssm {p}"),
                    VariableValue::RepositoryUrl => "<- ECR repository URL".to_string(),
                };
                writeln!(f, "  env {} {value}", variable.name)?;
            }
            for line in project.buildspec.lines() {
                writeln!(f, "  | {line}")?;
            }
        }
        Ok(())
    }
}
