//! `bokbasen_deploy_target`: the roles of one environment account (Test,
//! Stage, Production), applied through a provider that assumes a role in
//! that account. The deployer role is trusted only by the named pipeline
//! roles (and provisioners), with the permissions of the kinds deployed
//! there; the optional DevOps role can only read.

mod data_source;
mod resource;

use std::collections::{BTreeMap, BTreeSet};

use bokbasen_pipeline::checks::{
    arn_account, check_account_id, check_bucket_name, check_kms_key_arn, check_principal_arn, MAX_TAGS,
};
use bokbasen_pipeline::names::OWNER_TAG;
use bokbasen_pipeline::target::{DeployTarget, KINDS_TAG};
use bokbasen_pipeline::{check_environment_name, Kind};
pub use data_source::DeployTargetData;
pub use resource::DeployTargetResource;
use serde::{Deserialize, Serialize};

use super::shared::{check_external_id_at, check_owner_tag_free, check_tags, known_set, state_set};
use crate::framework::{Attr, Attribute, Block, Diagnostics, Schema};
use crate::value::{AttributePath, Type};

pub const TYPE_NAME: &str = "bokbasen_deploy_target";

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DeployTargetState {
    pub environment: Attr<String>,
    pub kinds: Attr<Vec<Attr<String>>>,
    pub pipeline_account_ids: Attr<Vec<Attr<String>>>,
    pub provisioner_arns: Attr<Vec<Attr<String>>>,
    pub external_id: Attr<String>,
    pub artifact_bucket: Attr<String>,
    pub artifact_key_arn: Attr<String>,
    pub devops_read_only: Attr<bool>,
    pub devops_principals: Attr<Vec<Attr<String>>>,
    pub tags: Attr<BTreeMap<String, Attr<String>>>,
    pub id: Attr<String>,
    pub account_id: Attr<String>,
    pub deployer_role_arn: Attr<String>,
    pub devops_role_arn: Attr<String>,
}

fn schema() -> Schema {
    let kinds: Vec<String> = Kind::ALL.iter().map(|k| format!("`{}`", k.name())).collect();
    Schema::new(
        Block::new("The roles of one deploy target: an environment account (Test, Stage, Production) that pipelines deploy into. Apply it with a provider that assumes a role in that account (`assume_role`). The deployer role (`/bokbasen/bokbasen-deployer-<environment>`) is trusted only by bokbasen's pipeline roles (`/bokbasen/*-pipeline`) in the pipeline accounts and by the provisioners that run Terraform for the pipelines (with `external_id` when given), by account and `aws:PrincipalArn`, so it can be made before any pipeline and keeps its trust when a pipeline role is made anew; it may run and manage the environment's CodeBuild projects and their roles (`/bokbasen/*-<environment>-cb`), read the artifacts, and do what the kinds that deploy with CodePipeline's own actions need: ECS service updates (fargate), S3 sync (static_site). Lambda, Batch and API Gateway deploy, and sites are invalidated, from a project in the environment whose role the service pipeline writes through this one. With `devops_read_only`, a DevOps role that can only read (AWS managed `ReadOnlyAccess`, without secret values or data) is trusted by the given principals.\n\nbokbasen tags the roles it makes `bokbasen:owner = bokbasen_deploy_target/<environment>`. A role of the wanted name that is not this target's (without that tag, and not in its state) is never changed or deleted: the apply is refused, naming it, and destroy leaves it alone. Hand such a role over with `terraform import`.\n\nImport with the environment name: the roles found are taken over (unless tagged as another resource's), and the next apply tags them.")
            .attribute(Attribute::required("environment", Type::String).requires_replace().description("Environment name, e.g. `test`; names the roles and scopes the permissions to the environment's projects and parameters."))
            .attribute(Attribute::required("kinds", Type::set(Type::String)).description(format!("The kinds of service deployed here, each adding its deploy permissions: {}.", kinds.join(", "))))
            .attribute(Attribute::required("pipeline_account_ids", Type::set(Type::String)).description("The accounts whose bokbasen pipelines deploy through the deployer role (the tooling account): their `/bokbasen/*-pipeline` roles are trusted."))
            .attribute(Attribute::optional("provisioner_arns", Type::set(Type::String)).description("Who runs Terraform for the pipelines (`bokbasen_service_pipeline` creates the environment's CodeBuild projects through the deployer role), e.g. the CI role of the tooling account."))
            .attribute(Attribute::optional("external_id", Type::String).sensitive().description("External ID the provisioners (and DevOps principals) must present when assuming the roles; pipelines cannot send one. Sensitive."))
            .attribute(Attribute::optional("artifact_bucket", Type::String).description("The pipelines' artifact bucket, which deploy actions read."))
            .attribute(Attribute::optional("artifact_key_arn", Type::String).description("The KMS key the artifacts are encrypted with (a `bokbasen_artifact_store`'s `key_arn`), which deploy actions decrypt with."))
            .attribute(Attribute::optional("devops_read_only", Type::Bool).default(false).description("Create the read-only DevOps role. Defaults to `false`."))
            .attribute(Attribute::optional("devops_principals", Type::set(Type::String)).description("Who may assume the DevOps role (users, roles or accounts of the DevOps team); required with `devops_read_only`."))
            .attribute(Attribute::optional("tags", Type::map(Type::String)).description("Tags of the roles, over the provider's `default_tags`. At most 48: bokbasen adds `bokbasen:owner` (the mark of the resource that made a role, never shown here and not to be set) and, on the deployer, `bokbasen:kinds`."))
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
    let principal = |arn: &str| check_principal_arn(arn).err();
    check_set(&state.pipeline_account_ids, "pipeline_account_ids", diags, |id| check_account_id(id).err());
    if known_set(&state.pipeline_account_ids).is_some_and(|k| k.is_empty()) {
        diags.attribute_error(
            AttributePath::attr("pipeline_account_ids"),
            "Invalid pipeline_account_ids",
            "Name at least one pipeline account; nobody else may deploy.",
        );
    }
    if let Some(Err(message)) = state.artifact_key_arn.known().map(|key| check_kms_key_arn(key)) {
        diags.attribute_error(AttributePath::attr("artifact_key_arn"), "Invalid artifact_key_arn", message);
    }
    check_set(&state.provisioner_arns, "provisioner_arns", diags, principal);
    check_set(&state.devops_principals, "devops_principals", diags, principal);
    check_external_id_at(&state.external_id, &AttributePath::attr("external_id"), diags);
    if let Some(Err(message)) = state.artifact_bucket.known().map(|bucket| check_bucket_name(bucket)) {
        diags.attribute_error(AttributePath::attr("artifact_bucket"), "Invalid artifact_bucket", message);
    }
    let wants_devops = state.devops_read_only.known() == Some(&true);
    if wants_devops && known_set(&state.devops_principals).is_some_and(|p| p.is_empty()) {
        diags.attribute_error(
            AttributePath::attr("devops_principals"),
            "DevOps principals missing",
            "`devops_read_only = true` needs `devops_principals`: who may assume the read-only role.",
        );
    }
    check_tags(&state.tags, &AttributePath::attr("tags"), diags);
    check_owner_tag_free(&state.tags, &AttributePath::attr("tags"), diags);
    // The deployer carries bokbasen's two tags besides these (50 is refused above).
    if let Attr::Known(tags) = &state.tags {
        if tags.len() == MAX_TAGS - 1 {
            diags.attribute_error(
                AttributePath::attr("tags"),
                "Too many tags",
                format!("49 tags are set; the deployer role takes at most {MAX_TAGS}, two of them bokbasen's `{OWNER_TAG}` and `{KINDS_TAG}`."),
            );
        }
    }
}

/// Version 0 (provider 0.1.0) named pipeline roles in `pipeline_role_arns`
/// and had `config_prefix`/`config_separator` for a deployer that read
/// configuration; version 1 trusts the roles' accounts
/// (`pipeline_account_ids`) and leaves configuration to the steps' roles.
pub const SCHEMA_VERSION: i64 = 1;

/// Stored state of an older schema version, in the current one's terms.
fn upgrade(version: i64, mut state: serde_json::Value) -> serde_json::Value {
    if version < 1 {
        let accounts: BTreeSet<String> = state["pipeline_role_arns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|arn| arn.as_str().and_then(arn_account).map(str::to_string))
            .collect();
        if let Some(object) = state.as_object_mut() {
            object.remove("pipeline_role_arns");
            object.remove("config_prefix");
            object.remove("config_separator");
            object.insert("pipeline_account_ids".into(), serde_json::json!(accounts));
        }
    }
    state
}

/// The target as the pure role documents take it, once all is known.
fn target(state: &DeployTargetState, account: &str) -> Option<DeployTarget> {
    let kinds = known_set(&state.kinds)?;
    Some(DeployTarget {
        environment: state.environment.known()?.clone(),
        account_id: account.to_string(),
        kinds: Kind::ALL.into_iter().map(Kind::name).filter(|k| kinds.contains(*k)).collect(),
        pipeline_account_ids: known_set(&state.pipeline_account_ids)?,
        provisioner_arns: known_set(&state.provisioner_arns)?,
        external_id: state.external_id.known().cloned(),
        artifact_bucket: state.artifact_bucket.known().cloned(),
        artifact_key_arn: state.artifact_key_arn.known().cloned(),
    })
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
            pipeline_account_ids: list(&["123456789012"]),
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
        bad.pipeline_account_ids = list(&["ebook-api-pipeline"]);
        bad.devops_read_only = Attr::Known(true);
        bad.artifact_bucket = Attr::Known("Not_A_Bucket".into());
        assert_eq!(
            summaries(&bad),
            ["Invalid kinds", "Invalid pipeline_account_ids", "Invalid artifact_bucket", "DevOps principals missing"]
        );
    }

    #[test]
    fn bokbasen_s_own_tags_are_not_user_tags() {
        let mut owner = state();
        owner.tags = Attr::Known([(OWNER_TAG.to_string(), Attr::Known("bokbasen_deploy_target/prod".into()))].into());
        assert_eq!(summaries(&owner), ["Reserved tag"]);
        let mut many = state();
        many.tags = Attr::Known((0..49).map(|i| (format!("t{i}"), Attr::Known("x".into()))).collect());
        assert_eq!(summaries(&many), ["Too many tags"], "room for the owner and kinds tags");
        many.tags = Attr::Known((0..48).map(|i| (format!("t{i}"), Attr::Known("x".into()))).collect());
        assert!(summaries(&many).is_empty());
    }

    #[test]
    fn state_of_provider_0_1_0_trusts_the_accounts_of_its_pipeline_roles() {
        let stored = serde_json::json!({
            "environment": "test",
            "pipeline_role_arns": [
                "arn:aws:iam::123456789012:role/bokbasen/ebook-api-pipeline",
                "arn:aws:iam::123456789012:role/bokbasen/audiobook-pipeline",
                "arn:aws:iam::999999999999:role/bokbasen/catalogue-pipeline"
            ],
            "kinds": ["fargate"],
            "config_prefix": "/config",
            "config_separator": "_"
        });
        let upgraded = upgrade(0, stored.clone());
        assert_eq!(upgraded["pipeline_account_ids"], serde_json::json!(["123456789012", "999999999999"]));
        assert!(upgraded.get("pipeline_role_arns").is_none());
        assert!(upgraded.get("config_prefix").is_none() && upgraded.get("config_separator").is_none());
        assert_eq!(upgraded["kinds"], stored["kinds"]);
        assert_eq!(upgrade(SCHEMA_VERSION, upgraded.clone()), upgraded, "current state is left alone");
    }

    #[test]
    fn the_target_takes_kinds_in_a_fixed_order() {
        let target = target(&state(), "222222222222").unwrap();
        assert_eq!(target.kinds.into_iter().collect::<Vec<_>>(), ["fargate", "lambda"]);
        let mut unknown = state();
        unknown.kinds = Attr::Unknown;
        assert!(super::target(&unknown, "222222222222").is_none());
    }
}
