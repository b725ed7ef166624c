//! The shape's vocabulary: stages, actions and the accounts they run in,
//! CodeBuild projects and their variables, and where a deploy target's
//! fields go.

use std::collections::BTreeMap;

use crate::names::ProjectPurpose;
use crate::{Cache, Kind, Network};

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
    /// The KMS key CodeBuild encrypts the project's output with; `None`
    /// leaves the account's AWS managed key, which other accounts cannot use.
    pub encryption_key: Option<String>,
    /// The VPC the step runs in.
    pub network: Option<Network>,
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
