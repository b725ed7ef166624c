//! Checks a spec before anything is planned: every problem, each with the
//! path of the field that causes it (Terraform shows that line).

use std::collections::BTreeSet;
use std::fmt;
use std::sync::LazyLock;

use regex_lite::Regex;

use crate::checks::{
    arn_account, check_account_id, check_bucket_name, check_kms_key_arn, check_role_arn, regex, tag_problems,
};
use crate::names::{check_environment_name, check_service_name};
use crate::shape::REPOSITORY_URI_VARIABLE;
use crate::{Kind, ServiceSpec};

/// Where in the spec a problem is, in Terraform's notation: `environment[1].account_id`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldPath(pub Vec<FieldStep>);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldStep {
    Field(&'static str),
    Index(usize),
    Key(String),
}

impl FieldPath {
    fn field(name: &'static str) -> Self {
        FieldPath(vec![FieldStep::Field(name)])
    }

    fn then(&self, step: FieldStep) -> Self {
        let mut steps = self.0.clone();
        steps.push(step);
        FieldPath(steps)
    }

    fn and(&self, name: &'static str) -> Self {
        self.then(FieldStep::Field(name))
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                FieldStep::Field(name) if i == 0 => write!(f, "{name}")?,
                FieldStep::Field(name) => write!(f, ".{name}")?,
                FieldStep::Index(index) => write!(f, "[{index}]")?,
                FieldStep::Key(key) => write!(f, "[{key:?}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    pub path: FieldPath,
    pub message: String,
}

static CONNECTION_ARN: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"^arn:aws(-[a-z]+)*:(codestar-connections|codeconnections):[a-z0-9-]+:[0-9]{12}:connection/[A-Za-z0-9-]+$")
});
static TOPIC_ARN: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^arn:aws(-[a-z]+)*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$"));
static REPOSITORY: LazyLock<Regex> = LazyLock::new(|| regex(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"));
static COMPUTE_TYPE: LazyLock<Regex> = LazyLock::new(|| regex(r"^BUILD_[A-Z0-9_]+$"));
static VARIABLE: LazyLock<Regex> = LazyLock::new(|| regex(r"^[A-Za-z_][A-Za-z0-9_]*$"));
static VPC_ID: LazyLock<Regex> = LazyLock::new(|| regex(r"^vpc-[0-9a-f]{8,17}$"));
static SUBNET_ID: LazyLock<Regex> = LazyLock::new(|| regex(r"^subnet-[0-9a-f]{8,17}$"));
static SECURITY_GROUP_ID: LazyLock<Regex> = LazyLock::new(|| regex(r"^sg-[0-9a-f]{8,17}$"));
static PARAMETER: LazyLock<Regex> = LazyLock::new(|| regex(r"^/[A-Za-z0-9_.\-/]{1,1010}$"));

/// Every problem with `spec`; empty when it can be planned.
pub fn validate(spec: &ServiceSpec) -> Vec<SpecError> {
    let mut errors = Vec::new();
    let mut fail = |path: FieldPath, message: String| errors.push(SpecError { path, message });

    if let Err(message) = check_service_name(&spec.name) {
        fail(FieldPath::field("name"), message);
    }
    let source = FieldPath::field("source");
    if !CONNECTION_ARN.is_match(&spec.source.connection_arn) {
        fail(
            source.and("connection_arn"),
            format!(
                "{:?} is not a CodeStar connection ARN (arn:aws:codestar-connections:REGION:ACCOUNT:connection/ID).",
                spec.source.connection_arn
            ),
        );
    }
    if !REPOSITORY.is_match(&spec.source.repository) {
        fail(
            source.and("repository"),
            format!("{:?} is not a repository id; write it as `owner/name`.", spec.source.repository),
        );
    }
    if spec.source.branch.trim().is_empty() {
        fail(source.and("branch"), "The branch must not be empty.".to_string());
    }
    if let Err(message) = check_bucket_name(&spec.artifact_bucket) {
        fail(FieldPath::field("artifact_bucket"), message);
    }
    if let Some(key) = &spec.artifact_key_arn {
        if let Err(message) = check_kms_key_arn(key) {
            fail(FieldPath::field("artifact_key_arn"), message);
        }
    } else if let Some(pipeline_account) = arn_account(&spec.source.connection_arn) {
        // The pipeline runs in its connection's account: a connection is not usable from another.
        if let Some((index, env)) =
            spec.environments.iter().enumerate().find(|(_, env)| env.account_id != pipeline_account)
        {
            fail(
                FieldPath::field("artifact_key_arn"),
                format!(
                    "environment[{index}] ({:?}) is in account {}, not the pipeline's account {pipeline_account} (the connection's): its steps read the build's artifacts, which AWS shares across accounts only under a customer-managed KMS key. Set `artifact_key_arn` to such a key, e.g. a bokbasen_artifact_store's `key_arn`.",
                    env.name, env.account_id
                ),
            );
        }
    }

    let build = FieldPath::field("build");
    if !COMPUTE_TYPE.is_match(&spec.build.compute_type) {
        fail(
            build.and("compute_type"),
            format!("{:?} is not a CodeBuild compute type such as BUILD_GENERAL1_SMALL.", spec.build.compute_type),
        );
    }
    if spec.build.image.trim().is_empty() {
        fail(build.and("image"), "The build image must not be empty.".to_string());
    }
    if spec.build.buildspec.trim().is_empty() {
        fail(build.and("buildspec"), "Give a buildspec path in the repository, or inline YAML.".to_string());
    }
    for (field, names) in [("environment", &spec.build.environment), ("secrets", &spec.build.secrets)] {
        for name in names.keys() {
            if !VARIABLE.is_match(name) {
                fail(
                    build.and(field).then(FieldStep::Key(name.clone())),
                    format!("{name:?} is not an environment variable name."),
                );
            } else if spec.kind.builds_image() && name == REPOSITORY_URI_VARIABLE {
                fail(
                    build.and(field).then(FieldStep::Key(name.clone())),
                    format!("{name} is set by the pipeline to the service's ECR repository URL; use another name."),
                );
            }
        }
    }
    for (name, parameter) in &spec.build.secrets {
        if !PARAMETER.is_match(parameter) {
            fail(
                build.and("secrets").then(FieldStep::Key(name.clone())),
                format!(
                    "{parameter:?} is not an SSM parameter name; it starts with `/`, e.g. `/config/{}_build/token`.",
                    spec.name
                ),
            );
        }
        if spec.build.environment.contains_key(name) {
            fail(
                build.and("secrets").then(FieldStep::Key(name.clone())),
                format!("{name:?} is set in both `environment` and `secrets`; keep one."),
            );
        }
    }

    if let Some(topic) = &spec.approval_topic_arn {
        if !TOPIC_ARN.is_match(topic) {
            fail(FieldPath::field("approval_topic_arn"), format!("{topic:?} is not an SNS topic ARN."));
        }
    }
    if spec.flyway.as_ref().is_some_and(|f| f.image.trim().is_empty()) {
        fail(
            FieldPath::field("flyway").and("image"),
            format!("The Flyway image must not be empty; the default is {:?}.", crate::Flyway::DEFAULT_IMAGE),
        );
    }
    if spec.flyway.as_ref().is_some_and(|f| f.locations.is_empty()) {
        fail(
            FieldPath::field("flyway").and("locations"),
            "List at least one Flyway location, e.g. `filesystem:db/migration`.".to_string(),
        );
    }
    for (key, message) in tag_problems(&spec.tags) {
        let path = FieldPath::field("tags");
        fail(key.map_or(path.clone(), |key| path.then(FieldStep::Key(key))), message);
    }

    if spec.environments.is_empty() {
        fail(
            FieldPath::field("environment"),
            "Declare at least one `environment` block; releases are promoted through them in order.".to_string(),
        );
    }
    let mut seen = BTreeSet::new();
    for (index, env) in spec.environments.iter().enumerate() {
        let path = FieldPath::field("environment").then(FieldStep::Index(index));
        if let Err(message) = check_environment_name(&env.name) {
            fail(path.and("name"), message);
        } else if !seen.insert(env.name.as_str()) {
            fail(path.and("name"), format!("Environment {:?} is declared twice; names must be unique.", env.name));
        }
        let account_ok = match check_account_id(&env.account_id) {
            Ok(()) => true,
            Err(message) => {
                fail(path.and("account_id"), message);
                false
            }
        };
        match check_role_arn(&env.deploy_role_arn) {
            Err(message) => fail(path.and("deploy_role_arn"), message),
            Ok(account) if account_ok && account != env.account_id => fail(
                path.and("deploy_role_arn"),
                format!(
                    "The role is in account {account}, but environment {:?} is account {}.",
                    env.name, env.account_id
                ),
            ),
            Ok(_) => {}
        }
        if env.migrate && spec.kind == Kind::StaticSite {
            fail(path.and("migrate"), "A static_site has no database to migrate.".to_string());
        } else if env.migrate && spec.flyway.is_none() {
            fail(path.and("migrate"), "Migrations need a `flyway` block naming the migration locations.".to_string());
        }
        if let Some(smoke) = &env.smoke_test {
            if !PARAMETER.is_match(&smoke.runscope_trigger_parameter) {
                fail(
                    path.and("smoke_test").and("runscope_trigger_parameter"),
                    format!("{:?} is not an SSM parameter name.", smoke.runscope_trigger_parameter),
                );
            }
        }
        for (i, command) in env.verification.iter().enumerate() {
            if command.trim().is_empty() {
                fail(
                    path.and("verification").then(FieldStep::Index(i)),
                    "A verification command must not be empty.".to_string(),
                );
            }
        }
        let wanted = spec.kind.target_fields();
        for field in wanted {
            if env.target.get(*field).is_none_or(|v| v.trim().is_empty()) {
                fail(
                    path.and("target"),
                    format!("A {} target needs `{field}` (it takes {}).", spec.kind.name(), wanted.join(", ")),
                );
            }
        }
        if let Some(network) = &env.network {
            let path = path.and("network");
            if !VPC_ID.is_match(&network.vpc_id) {
                fail(path.and("vpc_id"), format!("{:?} is not a VPC ID such as `vpc-0a1b2c3d`.", network.vpc_id));
            }
            for (field, ids, pattern, example) in [
                ("subnet_ids", &network.subnet_ids, &*SUBNET_ID, "subnet-0a1b2c3d"),
                ("security_group_ids", &network.security_group_ids, &*SECURITY_GROUP_ID, "sg-0a1b2c3d"),
            ] {
                // CodeBuild takes 1–16 subnets and 1–5 security groups.
                let most = if field == "subnet_ids" { 16 } else { 5 };
                if ids.is_empty() || ids.len() > most {
                    fail(
                        path.and(field),
                        format!("List 1 to {most} IDs; CodeBuild needs at least one to place the step."),
                    );
                }
                for (i, id) in ids.iter().enumerate() {
                    if !pattern.is_match(id) {
                        fail(
                            path.and(field).then(FieldStep::Index(i)),
                            format!("{id:?} is not an ID such as `{example}`."),
                        );
                    }
                }
            }
        }
        for field in env.target.keys().filter(|f| !wanted.contains(&f.as_str())) {
            fail(
                path.and("target").then(FieldStep::Key(field.clone())),
                format!("`{field}` does not fit a {} target, which takes {}.", spec.kind.name(), wanted.join(", ")),
            );
        }
    }
    errors
}
