//! The pure function from a spec to its pipeline: which stages and actions,
//! in which account each runs, and which CodeBuild projects exist with what
//! buildspec. The provider turns this into CodePipeline and CodeBuild
//! requests; the order here is the order AWS gets, so plans never churn.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use crate::{Cache, Environment, Kind, ServiceSpec};

/// Artifact names passed between actions.
const SOURCE_ARTIFACT: &str = "source";
const BUILD_ARTIFACT: &str = "build";

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
    fn suffix(self) -> &'static str {
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
        variables.push(Variable { name: "REPOSITORY_URI".into(), value: VariableValue::RepositoryUrl });
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
    action: &'a str,
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
        let action =
            codebuild_action(step.action, self.next_order(), self.here.clone(), &project.name, step.input, None);
        self.actions.push(action);
        self.projects.push(project);
    }

    fn target(&self, field: &str) -> String {
        self.env.target.get(field).cloned().unwrap_or_default()
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
            action: "Migrate",
            input: SOURCE_ARTIFACT,
            image: FLYWAY_IMAGE,
            commands: &["flyway -locations=\"$FLYWAY_LOCATIONS\" migrate"],
            variables: vec![
                plain("FLYWAY_LOCATIONS", locations),
                parameter("FLYWAY_URL", format!("{config_path}/flyway/url")),
                parameter("FLYWAY_USER", format!("{config_path}/flyway/user")),
                parameter("FLYWAY_PASSWORD", format!("{config_path}/flyway/password")),
            ],
        });
    }
    match spec.kind {
        Kind::Fargate => {
            let config = configuration([
                ("ClusterName", stage.target("cluster")),
                ("ServiceName", stage.target("service")),
                ("FileName", "imagedefinitions.json".into()),
            ]);
            stage.action("Deploy", ActionKind::EcsDeploy, here.clone(), Some(BUILD_ARTIFACT), config);
        }
        Kind::StaticSite => {
            let config = configuration([("BucketName", stage.target("bucket")), ("Extract", "true".into())]);
            stage.action("Deploy", ActionKind::S3Deploy, here.clone(), Some(BUILD_ARTIFACT), config);
            let distribution = stage.target("distribution_id");
            stage.codebuild(Step {
                purpose: ProjectPurpose::Invalidate,
                action: "Invalidate",
                input: BUILD_ARTIFACT,
                image: TOOLS_IMAGE,
                commands: &["aws cloudfront create-invalidation --distribution-id \"$DISTRIBUTION_ID\" --paths '/*'"],
                variables: vec![plain("DISTRIBUTION_ID", distribution)],
            });
        }
        Kind::Lambda => {
            let function = stage.target("function");
            stage.codebuild(Step {
                purpose: ProjectPurpose::Deploy,
                action: "Deploy",
                input: BUILD_ARTIFACT,
                image: TOOLS_IMAGE,
                commands: &[
                    "aws lambda update-function-code --function-name \"$FUNCTION\" --zip-file fileb://function.zip --publish",
                    "aws lambda wait function-updated --function-name \"$FUNCTION\"",
                ],
                variables: vec![plain("FUNCTION", function)],
            });
        }
        Kind::Batch => {
            let variables = vec![
                plain("JOB_DEFINITION", stage.target("job_definition")),
                plain("JOB_QUEUE", stage.target("job_queue")),
            ];
            stage.codebuild(Step {
                purpose: ProjectPurpose::Deploy,
                action: "Deploy",
                input: BUILD_ARTIFACT,
                image: TOOLS_IMAGE,
                commands: &[
                    "IMAGE=$(jq -r .ImageURI imageDetail.json)",
                    "aws batch describe-job-definitions --job-definition-name \"$JOB_DEFINITION\" --status ACTIVE --query 'sort_by(jobDefinitions,&revision)[-1]' > current.json",
                    "jq --arg image \"$IMAGE\" '{jobDefinitionName, type, parameters, retryStrategy, timeout, platformCapabilities, containerProperties: (.containerProperties + {image: $image})} | with_entries(select(.value != null))' current.json > next.json",
                    "aws batch register-job-definition --cli-input-json file://next.json",
                ],
                variables,
            });
        }
        Kind::ApiGateway => {
            let variables = vec![plain("API_ID", stage.target("api_id")), plain("STAGE", stage.target("stage"))];
            stage.codebuild(Step {
                purpose: ProjectPurpose::Deploy,
                action: "Deploy",
                input: BUILD_ARTIFACT,
                image: TOOLS_IMAGE,
                commands: &[
                    "aws apigateway put-rest-api --rest-api-id \"$API_ID\" --mode overwrite --body fileb://openapi.json",
                    "aws apigateway create-deployment --rest-api-id \"$API_ID\" --stage-name \"$STAGE\" --description \"$CODEBUILD_RESOLVED_SOURCE_VERSION\"",
                ],
                variables,
            });
        }
    }
    if let Some(smoke) = &env.smoke_test {
        stage.codebuild(Step {
            purpose: ProjectPurpose::SmokeTest,
            action: "SmokeTest",
            input: SOURCE_ARTIFACT,
            image: TOOLS_IMAGE,
            commands: &["curl --fail --silent --show-error --max-time 60 \"$RUNSCOPE_TRIGGER_URL\""],
            variables: vec![parameter("RUNSCOPE_TRIGGER_URL", smoke.runscope_trigger_parameter.clone())],
        });
    }
    if !env.verification.is_empty() {
        let commands: Vec<&str> = env.verification.iter().map(String::as_str).collect();
        stage.codebuild(Step {
            purpose: ProjectPurpose::Verify,
            action: "Verify",
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
