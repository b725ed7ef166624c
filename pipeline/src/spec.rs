//! What a platform engineer writes for one microservice.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How a service runs, which decides how it is deployed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// ECS on Fargate, rolling deploys of a container image.
    Fargate,
    Lambda,
    /// AWS Batch jobs from a container image.
    Batch,
    ApiGateway,
    /// S3 bucket behind CloudFront.
    StaticSite,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Kind::Fargate, Kind::Lambda, Kind::Batch, Kind::ApiGateway, Kind::StaticSite];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Fargate => "fargate",
            Kind::Lambda => "lambda",
            Kind::Batch => "batch",
            Kind::ApiGateway => "api_gateway",
            Kind::StaticSite => "static_site",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Kinds whose build produces a container image (and get an ECR repository).
    pub fn builds_image(self) -> bool {
        matches!(self, Kind::Fargate | Kind::Batch)
    }

    /// The deploy target fields this kind needs, in order.
    pub fn target_fields(self) -> &'static [&'static str] {
        match self {
            Kind::Fargate => &["cluster", "service"],
            Kind::Lambda => &["function"],
            Kind::Batch => &["job_queue", "job_definition"],
            Kind::ApiGateway => &["api_id", "stage"],
            Kind::StaticSite => &["bucket", "distribution_id"],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// Lowercase letters, digits and `-`; names the pipeline and everything it owns.
    pub name: String,
    pub kind: Kind,
    pub source: Source,
    pub artifact_bucket: String,
    /// The customer-managed KMS key the artifacts are encrypted with (the
    /// artifact store's and every CodeBuild project's). Required when an
    /// environment is in another account: AWS managed keys cannot be shared.
    pub artifact_key_arn: Option<String>,
    pub build: Build,
    /// In promotion order.
    pub environments: Vec<Environment>,
    pub approval_topic_arn: Option<String>,
    pub flyway: Option<Flyway>,
    pub tags: BTreeMap<String, String>,
}

/// A CodeStar connection to the repository; a push to `branch` starts a release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub connection_arn: String,
    pub repository: String,
    pub branch: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Build {
    pub image: String,
    pub compute_type: String,
    /// A path in the repository, or inline YAML.
    pub buildspec: String,
    pub environment: BTreeMap<String, String>,
    /// Variable name → SSM parameter name (read by CodeBuild, never stored).
    pub secrets: BTreeMap<String, String>,
    pub cache: Cache,
}

impl Build {
    pub const DEFAULT_IMAGE: &str = "aws/codebuild/standard:7.0";
    pub const DEFAULT_COMPUTE_TYPE: &str = "BUILD_GENERAL1_SMALL";
    pub const DEFAULT_BUILDSPEC: &str = "buildspec.yml";
}

impl Default for Build {
    /// What a service that says nothing about its build gets.
    fn default() -> Build {
        Build {
            image: Build::DEFAULT_IMAGE.into(),
            compute_type: Build::DEFAULT_COMPUTE_TYPE.into(),
            buildspec: Build::DEFAULT_BUILDSPEC.into(),
            environment: BTreeMap::new(),
            secrets: BTreeMap::new(),
            cache: Cache::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cache {
    #[default]
    None,
    /// Docker layers and sources on the build host.
    Local,
    /// In the artifact bucket.
    S3,
}

impl Cache {
    pub const ALL: [Cache; 3] = [Cache::None, Cache::Local, Cache::S3];

    pub fn name(self) -> &'static str {
        match self {
            Cache::None => "none",
            Cache::Local => "local",
            Cache::S3 => "s3",
        }
    }

    pub fn from_name(name: &str) -> Option<Cache> {
        Cache::ALL.into_iter().find(|c| c.name() == name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    pub name: String,
    pub account_id: String,
    /// Assumed by the pipeline to act in this environment's account.
    pub deploy_role_arn: String,
    /// Wait for a person's approval before releasing here.
    pub approval: bool,
    /// Run the Flyway migration before deploying.
    pub migrate: bool,
    pub smoke_test: Option<SmokeTest>,
    /// Commands run after the smoke test, each a verification step.
    pub verification: Vec<String>,
    /// Kind-specific target: see [`Kind::target_fields`].
    pub target: BTreeMap<String, String>,
    /// The VPC this environment's steps run in, to reach private resources
    /// (a database for Flyway, an internal endpoint for tests).
    pub network: Option<Network>,
}

/// Where CodeBuild places a step's network interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmokeTest {
    /// SSM parameter holding the Runscope trigger URL (a secret).
    pub runscope_trigger_parameter: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flyway {
    pub locations: Vec<String>,
    /// The image the migration runs in; a copy in ECR (a pull-through cache)
    /// avoids Docker Hub's limits on anonymous pulls.
    #[serde(default = "Flyway::default_image")]
    pub image: String,
}

impl Flyway {
    pub const DEFAULT_IMAGE: &str = "flyway/flyway:10";

    /// For a `service.yml` written before the image could be chosen.
    fn default_image() -> String {
        Flyway::DEFAULT_IMAGE.into()
    }
}

impl ServiceSpec {
    /// The SSM path prefix of one environment's configuration, as the
    /// configuration resources and Spring Cloud Config layout use it.
    pub fn config_path(&self, environment: &str) -> String {
        crate::parameters::ConfigLocation::new(&self.name, environment).path()
    }
}
