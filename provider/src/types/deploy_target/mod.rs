//! `bokbasen_deploy_target`: the roles of one environment account (Test,
//! Stage, Production), applied through a provider that assumes a role in
//! that account. The deployer role is trusted only by the named pipeline
//! roles (and provisioners), with the permissions of the kinds deployed
//! there; the optional DevOps role can only read.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use async_trait::async_trait;
use bokbasen_pipeline::parameters::{ConfigLocation, DEFAULT_PREFIX, DEFAULT_SEPARATOR};
use bokbasen_pipeline::names::{deployer_role_name, devops_role_name};
use bokbasen_pipeline::target::{
    deployer_role, devops_role, observe_deployer, observe_devops, read_only_policy_arn, DeployTarget, ObservedTarget,
};
use bokbasen_pipeline::{check_environment_name, Kind};
use regex_lite::Regex;
use serde::{Deserialize, Serialize};

use super::layout::{check_tags, known_map, own_tags, state_map, wanted_tags};
use crate::aws::roles::{ensure_role, read_role, remove_role};
use crate::aws::{AwsContext, Step};
use crate::framework::{Attr, Attribute, Block, Diagnostics, Resource, Schema};
use crate::provider::check_external_id;
use crate::value::{AttributePath, Type};

pub const TYPE_NAME: &str = "bokbasen_deploy_target";

/// An IAM principal that may assume a role: a role, a user, or an account root.
static PRINCIPAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^arn:aws(-[a-z]+)*:iam::[0-9]{12}:(root|(role|user)/[A-Za-z0-9+=,.@_/-]{1,512})$")
        .expect("valid regex")
});
static BUCKET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$").expect("valid regex"));

pub struct DeployTargetResource;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DeployTargetState {
    pub environment: Attr<String>,
    pub kinds: Attr<Vec<Attr<String>>>,
    pub pipeline_role_arns: Attr<Vec<Attr<String>>>,
    pub provisioner_arns: Attr<Vec<Attr<String>>>,
    pub external_id: Attr<String>,
    pub artifact_bucket: Attr<String>,
    pub config_prefix: Attr<String>,
    pub config_separator: Attr<String>,
    pub devops_read_only: Attr<bool>,
    pub devops_principals: Attr<Vec<Attr<String>>>,
    pub tags: Attr<BTreeMap<String, Attr<String>>>,
    pub id: Attr<String>,
    pub account_id: Attr<String>,
    pub deployer_role_arn: Attr<String>,
    pub devops_role_arn: Attr<String>,
}

fn known_set(list: &Attr<Vec<Attr<String>>>) -> Option<BTreeSet<String>> {
    match list {
        Attr::Null => Some(BTreeSet::new()),
        Attr::Unknown => None,
        Attr::Known(items) => items.iter().map(|i| i.known().cloned()).collect(),
    }
}

fn state_set(items: BTreeSet<String>, prior: &Attr<Vec<Attr<String>>>) -> Attr<Vec<Attr<String>>> {
    if items.is_empty() && prior.is_null() {
        Attr::Null
    } else {
        Attr::Known(items.into_iter().map(Attr::Known).collect())
    }
}

fn schema() -> Schema {
    let kinds: Vec<String> = Kind::ALL.iter().map(|k| format!("`{}`", k.name())).collect();
    Schema::new(
        Block::new("The roles of one deploy target: an environment account (Test, Stage, Production) that pipelines deploy into. Apply it with a provider that assumes a role in that account (`assume_role`). The deployer role (`/bokbasen/bokbasen-deployer-<environment>`) is trusted only by the named pipeline roles of the tooling account (and the provisioners that run Terraform for the pipelines), with `external_id` when given, and may do only what the allowed kinds need: run and manage the environment's CodeBuild projects, ECS service updates, Lambda code and alias updates, Batch job definitions, API Gateway deployments, S3 sync and CloudFront invalidation, and reading `/config/*_<environment>` parameters for migrations. With `devops_read_only`, a DevOps role that can only read (AWS managed `ReadOnlyAccess`, without secret values or data) is trusted by the given principals.\n\nImport with the environment name.")
            .attribute(Attribute::required("environment", Type::String).requires_replace().description("Environment name, e.g. `test`; names the roles and scopes the permissions to the environment's projects and parameters."))
            .attribute(Attribute::required("kinds", Type::set(Type::String)).description(format!("The kinds of service deployed here, each adding its deploy permissions: {}.", kinds.join(", "))))
            .attribute(Attribute::required("pipeline_role_arns", Type::set(Type::String)).description("The pipeline roles (tooling account) that deploy through the deployer role, e.g. `bokbasen_service_pipeline.x.role_arns[\"pipeline\"]`."))
            .attribute(Attribute::optional("provisioner_arns", Type::set(Type::String)).description("Who runs Terraform for the pipelines (`bokbasen_service_pipeline` creates the environment's CodeBuild projects through the deployer role), e.g. the CI role of the tooling account."))
            .attribute(Attribute::optional("external_id", Type::String).sensitive().description("External ID every caller must present when assuming the roles. Sensitive."))
            .attribute(Attribute::optional("artifact_bucket", Type::String).description("The pipelines' artifact bucket, which deploy actions read."))
            .attribute(Attribute::optional("config_prefix", Type::String).default(DEFAULT_PREFIX).description(format!("Prefix of the services' configuration in SSM. Defaults to `{DEFAULT_PREFIX}`.")))
            .attribute(Attribute::optional("config_separator", Type::String).default(DEFAULT_SEPARATOR).description(format!("Between service and environment in parameter paths. Defaults to `{DEFAULT_SEPARATOR}`.")))
            .attribute(Attribute::optional("devops_read_only", Type::Bool).default(false).description("Create the read-only DevOps role. Defaults to `false`."))
            .attribute(Attribute::optional("devops_principals", Type::set(Type::String)).description("Who may assume the DevOps role (users, roles or accounts of the DevOps team); required with `devops_read_only`."))
            .attribute(Attribute::optional("tags", Type::map(Type::String)).description("Tags of the roles, over the provider's `default_tags`."))
            .attribute(Attribute::computed("id", Type::String).use_state_for_unknown().description("The environment name."))
            .attribute(Attribute::computed("account_id", Type::String).use_state_for_unknown().description("The account the roles are in."))
            .attribute(Attribute::computed("deployer_role_arn", Type::String).use_state_for_unknown().description("ARN of the deployer role: the `deploy_role_arn` of this environment in `bokbasen_service_pipeline`."))
            .attribute(Attribute::computed("devops_role_arn", Type::String).description("ARN of the DevOps role; null without `devops_read_only`.")),
    )
}

fn check_set(
    list: &Attr<Vec<Attr<String>>>,
    name: &str,
    diags: &mut Diagnostics,
    check: impl Fn(&str) -> Option<String>,
) {
    let Attr::Known(items) = list else { return };
    for item in items.iter().filter_map(Attr::known) {
        if let Some(message) = check(item) {
            diags.attribute_error(AttributePath::attr(name), format!("Invalid {name}"), message);
        }
    }
}

fn principal(arn: &str) -> Option<String> {
    (!PRINCIPAL.is_match(arn)).then(|| {
        format!("{arn:?} is not an IAM principal ARN; use a role, user or account root, e.g. `arn:aws:iam::123456789012:role/bokbasen/ebook-api-pipeline`.")
    })
}

fn check(state: &DeployTargetState, diags: &mut Diagnostics) {
    if let Some(env) = state.environment.known() {
        if let Err(message) = check_environment_name(env) {
            diags.attribute_error(AttributePath::attr("environment"), "Invalid environment", message);
        }
    }
    check_set(&state.kinds, "kinds", diags, |kind| {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        Kind::from_name(kind).is_none().then(|| format!("{kind:?} is not a kind; use {}.", names.join(", ")))
    });
    if known_set(&state.kinds).is_some_and(|k| k.is_empty()) {
        diags.attribute_error(AttributePath::attr("kinds"), "Invalid kinds", "Name at least one kind deployed here.");
    }
    check_set(&state.pipeline_role_arns, "pipeline_role_arns", diags, principal);
    if known_set(&state.pipeline_role_arns).is_some_and(|k| k.is_empty()) {
        diags.attribute_error(
            AttributePath::attr("pipeline_role_arns"),
            "Invalid pipeline_role_arns",
            "Name at least one pipeline role; nobody else may deploy.",
        );
    }
    check_set(&state.provisioner_arns, "provisioner_arns", diags, principal);
    check_set(&state.devops_principals, "devops_principals", diags, principal);
    if let Some(external_id) = state.external_id.known() {
        check_external_id(external_id, &AttributePath::attr("external_id"), diags);
    }
    if let Some(bucket) = state.artifact_bucket.known() {
        if !BUCKET.is_match(bucket) {
            diags.attribute_error(
                AttributePath::attr("artifact_bucket"),
                "Invalid artifact_bucket",
                format!("{bucket:?} is not an S3 bucket name."),
            );
        }
    }
    if let Some(prefix) = state.config_prefix.known() {
        let probe = ConfigLocation { prefix: prefix.clone(), ..ConfigLocation::new("service", "env") };
        for (_, message) in probe.problems() {
            diags.attribute_error(AttributePath::attr("config_prefix"), "Invalid config_prefix", message);
        }
    }
    let wants_devops = state.devops_read_only.known() == Some(&true);
    if wants_devops && known_set(&state.devops_principals).is_some_and(|p| p.is_empty()) {
        diags.attribute_error(
            AttributePath::attr("devops_principals"),
            "DevOps principals missing",
            "`devops_read_only = true` needs `devops_principals`: who may assume the read-only role.",
        );
    }
    check_tags(&state.tags, diags);
}

/// The target as the pure role documents take it, once all is known.
fn target(state: &DeployTargetState, account: &str) -> Option<DeployTarget> {
    let kinds = known_set(&state.kinds)?;
    Some(DeployTarget {
        environment: state.environment.known()?.clone(),
        account_id: account.to_string(),
        kinds: Kind::ALL.into_iter().map(Kind::name).filter(|k| kinds.contains(*k)).collect(),
        pipeline_role_arns: known_set(&state.pipeline_role_arns)?,
        provisioner_arns: known_set(&state.provisioner_arns)?,
        external_id: state.external_id.known().cloned(),
        artifact_bucket: state.artifact_bucket.known().cloned(),
        config_prefix: state.config_prefix.known().cloned().unwrap_or_else(|| DEFAULT_PREFIX.into()),
        config_separator: state.config_separator.known().cloned().unwrap_or_else(|| DEFAULT_SEPARATOR.into()),
    })
}

/// Makes the roles match `state`; returns (account, deployer ARN, DevOps ARN).
async fn ensure(aws: &AwsContext, state: &DeployTargetState) -> Step<(String, String, Option<String>)> {
    let (account, region) = aws.whereabouts().await?;
    let target = target(state, &account).ok_or("the configuration still has unknown values")?;
    let tags = wanted_tags(aws, &known_map(&state.tags).unwrap_or_default());
    let deployer =
        ensure_role(aws, &deployer_role_name(&target.environment), &deployer_role(&target, &region), &tags, &[])
            .await?;
    let devops_name = devops_role_name(&target.environment);
    let devops = if state.devops_read_only.known() == Some(&true) {
        let principals = known_set(&state.devops_principals).unwrap_or_default();
        let docs = devops_role(&principals, target.external_id.as_deref());
        Some(ensure_role(aws, &devops_name, &docs, &tags, &[read_only_policy_arn(&region)]).await?)
    } else {
        remove_role(aws, &devops_name).await?;
        None
    };
    Ok((account, deployer, devops))
}

/// State from the roles in AWS; `None` when the deployer role is gone.
async fn observe(aws: &AwsContext, prior: &DeployTargetState) -> Step<Option<DeployTargetState>> {
    let Some(environment) = prior.environment.known().cloned() else { return Ok(None) };
    let Some(deployer) = read_role(aws, &deployer_role_name(&environment)).await? else { return Ok(None) };
    let devops = read_role(aws, &devops_role_name(&environment)).await?;
    let observed: ObservedTarget =
        observe_deployer(&deployer.trust, deployer.policy.as_ref().unwrap_or(&serde_json::Value::Null));
    let prior_tags = known_map(&prior.tags).unwrap_or_default();
    let account = deployer.arn.split(':').nth(4).unwrap_or_default().to_string();
    Ok(Some(DeployTargetState {
        environment: Attr::Known(environment.clone()),
        kinds: state_set(observed.kinds.into_iter().map(str::to_string).collect(), &prior.kinds),
        pipeline_role_arns: state_set(observed.pipeline_role_arns, &prior.pipeline_role_arns),
        provisioner_arns: state_set(observed.provisioner_arns, &prior.provisioner_arns),
        external_id: observed.external_id.into(),
        artifact_bucket: observed.artifact_bucket.into(),
        config_prefix: if prior.config_prefix.is_null() {
            Attr::Known(DEFAULT_PREFIX.into())
        } else {
            prior.config_prefix.clone()
        },
        config_separator: if prior.config_separator.is_null() {
            Attr::Known(DEFAULT_SEPARATOR.into())
        } else {
            prior.config_separator.clone()
        },
        devops_read_only: Attr::Known(devops.is_some()),
        devops_principals: state_set(
            devops.as_ref().map(|d| observe_devops(&d.trust)).unwrap_or_default(),
            &prior.devops_principals,
        ),
        tags: state_map(own_tags(aws, deployer.tags, &prior_tags), &prior.tags),
        id: Attr::Known(environment),
        account_id: Attr::Known(account),
        deployer_role_arn: Attr::Known(deployer.arn),
        devops_role_arn: devops.map(|d| d.arn).into(),
    }))
}

fn applied(
    mut state: DeployTargetState,
    (account, deployer, devops): (String, String, Option<String>),
) -> DeployTargetState {
    state.id = state.environment.clone();
    state.account_id = Attr::Known(account);
    state.deployer_role_arn = Attr::Known(deployer);
    state.devops_role_arn = devops.into();
    state
}

#[async_trait]
impl Resource for DeployTargetResource {
    type Data = AwsContext;
    type State = DeployTargetState;

    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: &DeployTargetState, diags: &mut Diagnostics) {
        check(config, diags);
    }

    async fn modify_plan(
        &self,
        prior: Option<&DeployTargetState>,
        planned: &mut DeployTargetState,
        diags: &mut Diagnostics,
    ) {
        check(planned, diags);
        planned.id = planned.environment.clone();
        planned.devops_role_arn =
            match (planned.devops_read_only.known(), prior.and_then(|p| p.devops_role_arn.known())) {
                (Some(false), _) => Attr::Null,
                (Some(true), Some(arn)) => Attr::Known(arn.clone()),
                _ => Attr::Unknown,
            };
    }

    async fn create(
        &self,
        aws: &AwsContext,
        planned: DeployTargetState,
        diags: &mut Diagnostics,
    ) -> Option<DeployTargetState> {
        check(&planned, diags);
        if diags.has_errors() {
            return None;
        }
        match ensure(aws, &planned).await {
            Ok(made) => Some(applied(planned, made)),
            Err(err) => {
                let environment = planned.environment.known().cloned().unwrap_or_default();
                let cleanup = super::cleanup_note(remove(aws, &environment).await);
                diags.error("Creating the deploy target failed", format!("{err}\n\n{cleanup}"));
                None
            }
        }
    }

    async fn read(
        &self,
        aws: &AwsContext,
        current: DeployTargetState,
        diags: &mut Diagnostics,
    ) -> Option<DeployTargetState> {
        match observe(aws, &current).await {
            Ok(found) => found,
            Err(err) => {
                diags.error("Reading the deploy target failed", err);
                Some(current)
            }
        }
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: DeployTargetState,
        planned: DeployTargetState,
        diags: &mut Diagnostics,
    ) -> Option<DeployTargetState> {
        check(&planned, diags);
        if diags.has_errors() {
            return None;
        }
        match ensure(aws, &planned).await {
            Ok(made) => Some(applied(planned, made)),
            Err(err) => {
                diags.error(
                    "Updating the deploy target failed",
                    format!("{err}\n\nRun the apply again to complete the change."),
                );
                match observe(aws, &prior).await {
                    Ok(found) => found,
                    Err(_) => Some(prior),
                }
            }
        }
    }

    async fn delete(&self, aws: &AwsContext, prior: DeployTargetState, diags: &mut Diagnostics) {
        let Some(environment) = prior.environment.known() else { return };
        if let Err(err) = remove(aws, environment).await {
            diags.error("Deleting the deploy target failed", err);
        }
    }

    async fn import(&self, _aws: &AwsContext, id: &str, diags: &mut Diagnostics) -> Option<DeployTargetState> {
        if let Err(message) = check_environment_name(id) {
            diags.error("Invalid import ID", format!("Import a deploy target by its environment name. {message}"));
            return None;
        }
        Some(DeployTargetState { environment: Attr::Known(id.to_string()), ..DeployTargetState::default() })
    }
}

async fn remove(aws: &AwsContext, environment: &str) -> Step {
    remove_role(aws, &devops_role_name(environment)).await?;
    remove_role(aws, &deployer_role_name(environment)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Attr<Vec<Attr<String>>> {
        Attr::Known(items.iter().map(|i| Attr::Known(i.to_string())).collect())
    }

    fn state() -> DeployTargetState {
        DeployTargetState {
            environment: Attr::Known("test".into()),
            kinds: list(&["lambda", "fargate"]),
            pipeline_role_arns: list(&["arn:aws:iam::123456789012:role/bokbasen/ebook-api-pipeline"]),
            devops_read_only: Attr::Known(false),
            ..DeployTargetState::default()
        }
    }

    fn summaries(state: &DeployTargetState) -> Vec<String> {
        let mut diags = Diagnostics::new();
        check(state, &mut diags);
        diags.iter().map(|d| d.summary.clone()).collect()
    }

    #[test]
    fn arguments_are_checked_at_their_attribute() {
        assert!(summaries(&state()).is_empty());
        let mut bad = state();
        bad.kinds = list(&["fargate", "kubernetes"]);
        bad.pipeline_role_arns = list(&["ebook-api-pipeline"]);
        bad.devops_read_only = Attr::Known(true);
        bad.artifact_bucket = Attr::Known("Not_A_Bucket".into());
        assert_eq!(
            summaries(&bad),
            ["Invalid kinds", "Invalid pipeline_role_arns", "Invalid artifact_bucket", "DevOps principals missing"]
        );
    }

    #[test]
    fn the_target_takes_kinds_in_a_fixed_order() {
        let target = target(&state(), "222222222222").unwrap();
        assert_eq!(target.kinds.into_iter().collect::<Vec<_>>(), ["fargate", "lambda"]);
        assert_eq!(target.config_prefix, DEFAULT_PREFIX);
        let mut unknown = state();
        unknown.kinds = Attr::Unknown;
        assert!(super::target(&unknown, "222222222222").is_none());
    }
}
