//! The example every pipeline test starts from: the service,
//! Test → Stage → Production in three accounts, each deployed through its
//! deploy target's deployer, with the artifacts under a customer-managed key.

#![allow(dead_code)] // Each test file uses its own part.

use std::collections::BTreeMap;

use bokbasen_pipeline::names::deployer_role_arn;
use bokbasen_pipeline::{Build, Cache, Environment, Flyway, Kind, Region, ServiceSpec, SmokeTest, Source};

pub const PIPELINE_ACCOUNT: &str = "111111111111";
pub const ARTIFACT_KEY: &str = "arn:aws:kms:eu-north-1:111111111111:key/0a1b2c3d-0000-4000-8000-000000000001";

pub fn region() -> Region {
    Region { partition: "aws".into(), region: "eu-north-1".into() }
}

pub fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

pub fn target(kind: Kind, env: &str) -> BTreeMap<String, String> {
    match kind {
        Kind::Fargate => map(&[("cluster", env), ("service", "ebook-api")]),
        Kind::Lambda => map(&[("function", &format!("ebook-api-{env}"))]),
        Kind::Batch => map(&[("job_queue", env), ("job_definition", "ebook-api")]),
        Kind::ApiGateway => map(&[("api_id", "a1b2c3"), ("stage", env)]),
        Kind::StaticSite => map(&[("bucket", &format!("ebook-site-{env}")), ("distribution_id", "E2QWRUHEXAMPLE")]),
    }
}

/// The example service, Test → Stage → Production in three accounts,
/// each deployed through its deploy target's deployer.
pub fn spec(kind: Kind) -> ServiceSpec {
    let migrate = kind != Kind::StaticSite;
    let env = |name: &str, account: &str, approval: bool, verification: &[&str]| Environment {
        name: name.into(),
        account_id: account.into(),
        deploy_role_arn: deployer_role_arn(account, name),
        approval,
        migrate,
        smoke_test: Some(SmokeTest {
            runscope_trigger_parameter: format!("/config/ebook-api_{name}/runscope-trigger"),
        }),
        verification: verification.iter().map(|c| c.to_string()).collect(),
        target: target(kind, name),
        network: None,
    };
    ServiceSpec {
        name: "ebook-api".into(),
        kind,
        source: Source {
            connection_arn: "arn:aws:codestar-connections:eu-north-1:111111111111:connection/abc".into(),
            repository: "bokbasen/ebook-api".into(),
            branch: "main".into(),
        },
        artifact_bucket: "bokbasen-pipeline-artifacts".into(),
        artifact_key_arn: Some(ARTIFACT_KEY.into()),
        build: Build {
            image: "aws/codebuild/standard:7.0".into(),
            compute_type: "BUILD_GENERAL1_SMALL".into(),
            buildspec: "buildspec.yml".into(),
            environment: map(&[("JAVA_TOOL_OPTIONS", "-Xmx1g")]),
            secrets: map(&[("SONAR_TOKEN", "/config/ebook-api_build/sonar-token")]),
            cache: Cache::Local,
        },
        environments: vec![
            env("test", "222222222222", false, &[]),
            env("stage", "333333333333", true, &["./gradlew verificationTest"]),
            env("production", "444444444444", true, &[]),
        ],
        approval_topic_arn: Some("arn:aws:sns:eu-north-1:111111111111:releases".into()),
        flyway: migrate
            .then(|| Flyway { locations: vec!["filesystem:db/migration".into()], image: Flyway::DEFAULT_IMAGE.into() }),
        tags: map(&[("team", "ebooks")]),
    }
}
