//! The resource: makes the deployer (and DevOps) role match, reads them
//! back for drift, removes them.

use async_trait::async_trait;
use bokbasen_pipeline::check_environment_name;
use bokbasen_pipeline::names::{deployer_role_name, devops_role_name};
use bokbasen_pipeline::target::{
    deployer_role, devops_role, kinds_tag, observe_deployer, observe_devops, read_only_policy_arn, ObservedTarget,
    KINDS_TAG,
};

use super::{check, known_set, schema, state_set, target, upgrade, DeployTargetState, SCHEMA_VERSION, TYPE_NAME};
use crate::aws::roles::{ensure_role, read_role, remove_role};
use crate::aws::{tags, AwsContext, Step};
use crate::framework::{Attr, Diagnostics, Resource, Schema};
use crate::types::shared::{cleanup_note, known_map, state_map};

pub struct DeployTargetResource;

/// Makes the roles match `state`; returns (account, deployer ARN, DevOps ARN).
async fn ensure(aws: &AwsContext, state: &DeployTargetState) -> Step<(String, String, Option<String>)> {
    let (account, region) = aws.whereabouts().await?;
    let target = target(state, &account).ok_or("the configuration still has unknown values")?;
    let tags = tags::with_defaults(aws, &known_map(&state.tags).unwrap_or_default());
    let mut deployer_tags = tags.clone();
    deployer_tags.insert(KINDS_TAG.into(), kinds_tag(&target));
    let deployer_docs = deployer_role(&target, &region);
    let deployer =
        ensure_role(aws, &deployer_role_name(&target.environment), &deployer_docs, &deployer_tags, &[]).await?;
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
    let mut deployer_tags = deployer.tags;
    let observed: ObservedTarget =
        observe_deployer(&deployer.trust, deployer.policy.as_ref().unwrap_or(&serde_json::Value::Null), &deployer_tags);
    deployer_tags.remove(KINDS_TAG);
    let prior_tags = known_map(&prior.tags).unwrap_or_default();
    let account = deployer.arn.split(':').nth(4).unwrap_or_default().to_string();
    Ok(Some(DeployTargetState {
        environment: Attr::Known(environment.clone()),
        kinds: state_set(observed.kinds.into_iter().map(str::to_string).collect(), &prior.kinds),
        pipeline_account_ids: state_set(observed.pipeline_account_ids, &prior.pipeline_account_ids),
        provisioner_arns: state_set(observed.provisioner_arns, &prior.provisioner_arns),
        external_id: observed.external_id.into(),
        artifact_bucket: observed.artifact_bucket.into(),
        artifact_key_arn: observed.artifact_key_arn.into(),
        devops_read_only: Attr::Known(devops.is_some()),
        devops_principals: state_set(
            devops.as_ref().map(|d| observe_devops(&d.trust)).unwrap_or_default(),
            &prior.devops_principals,
        ),
        tags: state_map(tags::without_defaults(aws, deployer_tags, &prior_tags), &prior.tags),
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
        schema().with_version(SCHEMA_VERSION)
    }

    fn upgrade_from(&self, version: i64, state: serde_json::Value) -> serde_json::Value {
        upgrade(version, state)
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
                let cleanup = cleanup_note(remove(aws, &environment).await);
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
