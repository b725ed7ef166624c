//! The `Resource` implementation: plan from the spec, apply through `deploy`.

use std::collections::BTreeSet;

use async_trait::async_trait;
use bokbasen_pipeline::{recover, shape, Flyway, ServiceSpec};

use super::config::{from_spec, plan_stages, shape_spec, stored_spec, to_spec, ServicePipelineState, StageState};
use super::deploy::{self, project_key, role_keys, Deployed};
use super::schema::{schema, TYPE_NAME};
use crate::aws::ownership::OWNER_TAG;
use crate::aws::AwsContext;
use crate::framework::{Attr, Diagnostics, Resource, Schema};
use crate::types::shared;
use crate::value::AttributePath;

pub struct ServicePipeline;

/// Version 0 is provider 0.1.0's; version 1 adds `artifact_key_arn`, each
/// environment's `network` and `external_id`, and `flyway.image`; version 2
/// `force_destroy`.
pub const SCHEMA_VERSION: i64 = 2;

/// Stored state of an older version in the current one's terms: the new
/// arguments read as null (unset), but `flyway.image` as the image 0.1.0
/// ran migrations in, which is its default.
fn upgrade(version: i64, mut state: serde_json::Value) -> serde_json::Value {
    if version < 1 {
        if let Some(flyway) = state.get_mut("flyway").and_then(|f| f.as_object_mut()) {
            flyway.entry("image").or_insert_with(|| Flyway::DEFAULT_IMAGE.into());
        }
    }
    if version < 2 {
        // What destroy did before it kept images is not assumed: they are kept.
        if let Some(state) = state.as_object_mut() {
            state.entry("force_destroy").or_insert(false.into());
        }
    }
    state
}

/// A spec from state that Terraform has fully known by now (apply, read).
fn known_spec(state: &ServicePipelineState, diags: &mut Diagnostics) -> Option<ServiceSpec> {
    match to_spec(state) {
        Ok(Some(spec)) => Some(spec),
        Ok(None) => {
            diags.error(
                "Provider bug: unknown values at apply",
                "The service pipeline's configuration still has unknown values.",
            );
            None
        }
        Err(errors) => {
            diags.extend(errors);
            None
        }
    }
}

/// The context presenting the configured external IDs of the deploy roles
/// (later states win).
fn presenting_external_ids(aws: &AwsContext, states: &[&ServicePipelineState]) -> AwsContext {
    let ids = states
        .iter()
        .flat_map(|state| state.environment.known().into_iter().flatten())
        .filter_map(|env| Some((env.deploy_role_arn.known()?.clone(), env.external_id.known()?.clone())))
        .collect();
    aws.with_external_ids(ids)
}

/// What follows from the spec's shape alone: the id, the stages and the
/// project names.
fn with_shape(planned: &mut ServicePipelineState, spec: &ServiceSpec) {
    planned.id = Attr::Known(spec.name.clone());
    planned.stages = Attr::Known(plan_stages(spec));
    let projects = shape(spec).projects.iter().map(|p| (project_key(p), p.name.clone())).collect();
    planned.codebuild_projects = Attr::Known(projects);
}

/// The spec of a stored state: what exists, whether or not today's rules
/// would accept it (an upgraded state of provider 0.1.0 has no artifact key).
fn prior_spec(state: &ServicePipelineState, diags: &mut Diagnostics) -> Option<ServiceSpec> {
    let spec = stored_spec(state);
    if spec.is_none() {
        diags.error("Provider bug: incomplete state", "The service pipeline's stored state has unknown values.");
    }
    spec
}

/// What a state records as existing.
fn deployed_in(state: &ServicePipelineState) -> Deployed {
    Deployed {
        arn: state.arn.known().cloned().unwrap_or_default(),
        version: state.pipeline_version.known().copied().unwrap_or_default(),
        role_arns: state.role_arns.known().cloned().unwrap_or_default(),
        ecr_repository_url: state.ecr_repository_url.known().cloned().unwrap_or_default(),
        projects: state.codebuild_projects.known().cloned().unwrap_or_default(),
    }
}

fn with_deployed(mut state: ServicePipelineState, spec: &ServiceSpec, deployed: Deployed) -> ServicePipelineState {
    state.id = Attr::Known(spec.name.clone());
    state.arn = Attr::Known(deployed.arn);
    state.pipeline_version = Attr::Known(deployed.version);
    state.role_arns = Attr::Known(deployed.role_arns);
    state.ecr_repository_url = Attr::Known(deployed.ecr_repository_url);
    state.codebuild_projects = Attr::Known(deployed.projects);
    state.stages = Attr::Known(plan_stages(spec));
    state
}

impl ServicePipeline {
    /// The state of a create that failed before its pipeline existed and
    /// could not remove all it made: what of it still exists, or `None`.
    async fn left_by_failed_create(
        &self,
        aws: &AwsContext,
        current: ServicePipelineState,
        diags: &mut Diagnostics,
    ) -> Option<ServicePipelineState> {
        let spec = prior_spec(&current, diags)?;
        let listed: Vec<_> = deploy::listed(&spec, &deployed_in(&current)).into_iter().collect();
        match deploy::deployed_of(aws, &spec, &listed).await {
            Ok(left) if left.is_empty() => None,
            Ok(left) => Some(with_deployed(current, &spec, left)),
            Err(err) => {
                diags.error("Reading the service pipeline failed", err);
                Some(current)
            }
        }
    }
}

#[async_trait]
impl Resource for ServicePipeline {
    type Data = AwsContext;
    type State = ServicePipelineState;

    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema().with_version(SCHEMA_VERSION)
    }

    fn upgrade_from(&self, version: i64, state: serde_json::Value) -> serde_json::Value {
        upgrade(version, state)
    }

    async fn validate(&self, config: &ServicePipelineState, diags: &mut Diagnostics) {
        if let Err(errors) = to_spec(config) {
            diags.extend(errors);
        }
        for (i, env) in config.environment.known().into_iter().flatten().enumerate() {
            let path = AttributePath::attr("environment").index(i).attribute("external_id");
            shared::check_external_id_at(&env.external_id, &path, diags);
        }
        shared::check_owner_tag_free(&config.tags, &AttributePath::attr("tags"), diags);
    }

    /// Everything that follows from the spec alone is known at plan time:
    /// the stages, the project names, and the id.
    /// Parts found missing by the last read (a project, a role, the
    /// repository) show as a change of the attribute that lists them, so
    /// the plan makes them again.
    async fn modify_plan(
        &self,
        prior: Option<&ServicePipelineState>,
        planned: &mut ServicePipelineState,
        diags: &mut Diagnostics,
    ) {
        match to_spec(planned) {
            Ok(Some(spec)) => {
                with_shape(planned, &spec);
                if !spec.kind.builds_image() {
                    planned.ecr_repository_url = Attr::Known(String::new());
                }
                if let Some(prior) = prior {
                    let keys = role_keys(&spec);
                    if prior.role_arns.known().is_some_and(|arns| !arns.keys().eq(keys.iter())) {
                        planned.role_arns = Attr::Unknown;
                    }
                    if spec.kind.builds_image() && prior.ecr_repository_url.known().is_some_and(String::is_empty) {
                        planned.ecr_repository_url = Attr::Unknown;
                    }
                }
            }
            // A deploy role or key made in the same apply: the shape is known all the same.
            Ok(None) => {
                if let Some(spec) = shape_spec(planned) {
                    with_shape(planned, &spec);
                }
            }
            Err(errors) => diags.extend(errors),
        }
    }

    async fn create(
        &self,
        aws: &AwsContext,
        planned: ServicePipelineState,
        diags: &mut Diagnostics,
    ) -> Option<ServicePipelineState> {
        let aws = &presenting_external_ids(aws, &[&planned]);
        let spec = known_spec(&planned, diags)?;
        let failure = match deploy::ensure(aws, &spec, &BTreeSet::new()).await {
            Ok(deployed) => return Some(with_deployed(planned, &spec, deployed)),
            Err(failure) if failure.refused => {
                diags.error("The service pipeline's names are taken", failure.error);
                return None;
            }
            Err(failure) => failure,
        };
        // Remove exactly what this attempt made. What cannot be removed, and
        // what it found of its own (left by an interrupted apply), stays in
        // state, tainted, so the next apply replaces it and destroy removes it.
        let (removal, left) = match deploy::remove(aws, &spec, failure.made).await {
            Ok(()) => (
                "Everything this attempt created was removed again; nothing else was touched.".to_string(),
                failure.found,
            ),
            Err(unremoved) => (
                format!("Removing what this attempt created also failed ({}).", unremoved.error),
                [failure.found, unremoved.left].concat(),
            ),
        };
        if left.is_empty() {
            diags.error("Creating the service pipeline failed", format!("{}\n\n{removal}", failure.error));
            return None;
        }
        let listed: Vec<String> = left.iter().map(ToString::to_string).collect();
        diags.error(
            "Creating the service pipeline failed",
            format!(
                "{}\n\n{removal} Terraform keeps what is left as this resource, tainted: {}. The next apply replaces it; a destroy removes it.",
                failure.error,
                listed.join(", ")
            ),
        );
        match deploy::deployed_of(aws, &spec, &left).await {
            Ok(deployed) => Some(with_deployed(planned, &spec, deployed)),
            Err(err) => {
                diags.error("Reading what is left of the service pipeline failed", format!("{err}\n\nThe parts named above remain, each tagged {OWNER_TAG} = {}: the next apply takes them over.", deploy::marker(&spec)));
                None
            }
        }
    }

    /// Reads the pipeline back from AWS by name, and reports it as the
    /// configuration that would make it: a change made out of band shows as
    /// a diff on the attribute it changed, a missing part as one on the
    /// attribute that lists it.
    async fn read(
        &self,
        aws: &AwsContext,
        current: ServicePipelineState,
        diags: &mut Diagnostics,
    ) -> Option<ServicePipelineState> {
        let aws = &presenting_external_ids(aws, &[&current]);
        let Some(name) = current.name.known().or(current.id.known()).cloned() else {
            diags.error("Provider bug: no name in state", "The service pipeline's state has neither name nor id.");
            return Some(current);
        };
        // An imported state has only the name: then nothing prior to go by.
        let prior = stored_spec(&current);
        let own_tags = prior.as_ref().map(|p| p.tags.clone()).unwrap_or_default();
        let may_have_image = prior.as_ref().is_none_or(|p| p.kind.builds_image());
        let found = match deploy::observe(aws, &name, &own_tags, may_have_image).await {
            Ok(Some(found)) => found,
            // What a failed create left (no pipeline was made): kept while any of it exists.
            Ok(None) if current.arn.known().is_some_and(String::is_empty) => {
                return self.left_by_failed_create(aws, current, diags).await;
            }
            // Gone: plan the whole stack again; its parts left are taken over by their marker.
            Ok(None) => return None,
            Err(err) => {
                diags.error("Reading the service pipeline failed", err);
                return Some(current);
            }
        };
        let mut spec = match (recover(&found.observed), &prior) {
            (Ok(spec), _) => spec,
            // Its state claims it, but parts the shape is told by are gone (a
            // destroy that failed half way, a project deleted by hand): the
            // spec is as applied, and the missing parts show in `deployed`.
            (Err(_), Some(prior)) => prior.clone(),
            (Err(not_ours), None) => {
                diags.error("Reading the service pipeline failed", not_ours.to_string());
                return Some(current);
            }
        };
        // Flyway locations live in the migration projects; without any, keep what was configured.
        if !spec.environments.iter().any(|e| e.migrate) {
            spec.flyway = prior.and_then(|p| p.flyway);
        }
        let mut state = with_deployed(from_spec(&spec, &current), &spec, found.deployed);
        state.stages =
            Attr::Known(found.stages.into_iter().map(|(name, actions)| StageState { name, actions }).collect());
        Some(state)
    }

    async fn import(&self, _aws: &AwsContext, id: &str, _diags: &mut Diagnostics) -> Option<ServicePipelineState> {
        // Read does the rest, from AWS alone.
        Some(ServicePipelineState {
            id: Attr::Known(id.to_string()),
            name: Attr::Known(id.to_string()),
            ..ServicePipelineState::default()
        })
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: ServicePipelineState,
        planned: ServicePipelineState,
        diags: &mut Diagnostics,
    ) -> Option<ServicePipelineState> {
        // The prior's too: environments the update drops are cleaned up through their roles.
        let aws = &presenting_external_ids(aws, &[&prior, &planned]);
        let old = prior_spec(&prior, diags)?;
        let new = known_spec(&planned, diags)?;
        let claimed = deploy::listed(&old, &deployed_in(&prior));
        let error = match deploy::ensure(aws, &new, &claimed).await {
            Ok(deployed) => match deploy::remove_obsolete(aws, &old, &new, &claimed).await {
                Ok(()) => return Some(with_deployed(planned, &new, deployed)),
                Err(error) => error,
            },
            Err(failure) if failure.refused => {
                diags.error("The service pipeline's names are taken", failure.error);
                return None;
            }
            Err(failure) => failure.error,
        };
        // Parts may already be changed: the framework records what a read finds now.
        diags.error(
            "Updating the service pipeline failed",
            format!("{error}\n\nThe state now records what AWS holds; run the apply again to complete the change."),
        );
        None
    }

    async fn delete(&self, aws: &AwsContext, prior: ServicePipelineState, diags: &mut Diagnostics) {
        let aws = &presenting_external_ids(aws, &[&prior]);
        let Some(spec) = prior_spec(&prior, diags) else { return };
        if prior.force_destroy.known() != Some(&true) {
            match deploy::repository_images(aws, &spec).await {
                Ok(0) => {}
                Ok(images) => {
                    diags.error(
                        "The ECR repository holds images",
                        format!(
                            "The ECR repository {} still holds {images} image(s), which destroying the pipeline would delete. Nothing was deleted. Set `force_destroy = true` and apply it, then destroy again; or move the images elsewhere first.",
                            bokbasen_pipeline::names::repository_name(&spec.name)
                        ),
                    );
                    return;
                }
                Err(err) => {
                    diags.error("Deleting the service pipeline failed", format!("{err}\n\nNothing was deleted."));
                    return;
                }
            }
        }
        let claimed = deploy::listed(&spec, &deployed_in(&prior));
        match deploy::remove_own(aws, &spec, &claimed).await {
            Ok(foreign) => shared::warn_left_alone(&foreign, "The service pipeline is destroyed", diags),
            Err(unremoved) => diags.error(
                "Deleting the service pipeline failed",
                format!("{}\n\nRun the destroy again to remove the rest.", unremoved.error),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::from_json;
    use serde_json::json;

    #[tokio::test]
    async fn an_external_id_aws_refuses_is_refused_at_its_environment() {
        let mut state = ServicePipelineState::default();
        let env = |id: &str| super::super::config::EnvironmentBlock {
            external_id: Attr::Known(id.to_string()),
            ..Default::default()
        };
        state.environment = Attr::Known(vec![env("valid-external-id"), env("x")]);
        let mut diags = Diagnostics::new();
        ServicePipeline.validate(&state, &mut diags).await;
        let external: Vec<String> = diags
            .iter()
            .filter(|d| d.summary == "Invalid external ID")
            .map(|d| d.path.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(external, ["environment[1].external_id"]);
        assert!(diags.iter().all(|d| !d.detail.contains("valid-external-id")), "never quoted");
    }

    #[tokio::test]
    async fn the_owner_marker_is_no_user_tag() {
        let mut state = ServicePipelineState::default();
        let marker = "bokbasen_service_pipeline/ebook-api".to_string();
        state.tags = Attr::Known([("bokbasen:owner".to_string(), Attr::Known(marker))].into());
        let mut diags = Diagnostics::new();
        ServicePipeline.validate(&state, &mut diags).await;
        let paths: Vec<String> = diags
            .iter()
            .filter(|d| d.summary == "Reserved tag")
            .map(|d| d.path.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(paths, [r#"tags["bokbasen:owner"]"#]);
    }

    #[test]
    fn state_of_provider_0_1_0_reads_with_the_image_it_migrated_with_and_the_new_arguments_unset() {
        // Attributes as provider 0.1.0 stored them: no artifact key, no network or external ID, a Flyway
        // block with locations only.
        let stored = json!({
            "name": "ebook-api", "kind": "fargate", "artifact_bucket": "bokbasen-pipeline-artifacts",
            "environment": [{ "name": "test", "account_id": "222222222222",
                "deploy_role_arn": "arn:aws:iam::222222222222:role/bokbasen/bokbasen-deployer-test",
                "approval": false, "migrate": true, "target": { "cluster": "test", "service": "ebook-api" } }],
            "flyway": { "locations": ["filesystem:db/migration"] },
        });
        let upgraded = upgrade(0, stored.clone());
        assert_eq!(upgraded["flyway"]["image"], Flyway::DEFAULT_IMAGE);
        assert_eq!(upgraded["force_destroy"], false, "images are kept");
        let value = from_json(&upgraded, schema().value_type()).expect("fits the current schema");
        let state: ServicePipelineState = crate::framework::from_value(&value, schema().value_type()).unwrap();
        assert!(state.artifact_key_arn.is_null());
        let env = &state.environment.known().unwrap()[0];
        assert!(env.network.is_null() && env.external_id.is_null());
        assert_eq!(upgrade(SCHEMA_VERSION, upgraded.clone()), upgraded, "current state is left alone");
        let no_flyway = json!({ "name": "ebook-api" });
        assert_eq!(upgrade(0, no_flyway), json!({ "name": "ebook-api", "force_destroy": false }));
    }
}
