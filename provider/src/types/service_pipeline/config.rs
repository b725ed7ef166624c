//! The resource's state as serde structs, and its mapping to the pure
//! [`ServiceSpec`] that decides the pipeline's shape.

use std::collections::BTreeMap;

use bokbasen_pipeline::{
    shape, validate, Build, Cache, Environment, FieldStep, Flyway, Kind, Network, ServiceSpec, SmokeTest, Source,
};
use serde::{Deserialize, Serialize};

use crate::framework::{Attr, Diagnostics};
use crate::value::{AttributePath, PathStep};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ServicePipelineState {
    pub name: Attr<String>,
    pub kind: Attr<String>,
    pub artifact_bucket: Attr<String>,
    pub artifact_key_arn: Attr<String>,
    pub approval_topic_arn: Attr<String>,
    pub tags: Attr<BTreeMap<String, Attr<String>>>,
    pub force_destroy: Attr<bool>,
    pub source: Attr<SourceBlock>,
    pub build: Attr<BuildBlock>,
    pub environment: Attr<Vec<EnvironmentBlock>>,
    pub flyway: Attr<FlywayBlock>,
    pub id: Attr<String>,
    pub arn: Attr<String>,
    pub pipeline_version: Attr<i64>,
    pub role_arns: Attr<BTreeMap<String, String>>,
    pub ecr_repository_url: Attr<String>,
    pub codebuild_projects: Attr<BTreeMap<String, String>>,
    pub stages: Attr<Vec<StageState>>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SourceBlock {
    pub connection_arn: Attr<String>,
    pub repository: Attr<String>,
    pub branch: Attr<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BuildBlock {
    pub image: Attr<String>,
    pub compute_type: Attr<String>,
    pub buildspec: Attr<String>,
    pub environment: Attr<BTreeMap<String, Attr<String>>>,
    pub secrets: Attr<BTreeMap<String, Attr<String>>>,
    pub cache: Attr<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EnvironmentBlock {
    pub name: Attr<String>,
    pub account_id: Attr<String>,
    pub deploy_role_arn: Attr<String>,
    pub approval: Attr<bool>,
    pub migrate: Attr<bool>,
    pub smoke_test: Attr<SmokeTestObject>,
    pub verification: Attr<Vec<Attr<String>>>,
    pub target: Attr<BTreeMap<String, Attr<String>>>,
    pub network: Attr<NetworkObject>,
    pub external_id: Attr<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NetworkObject {
    pub vpc_id: Attr<String>,
    pub subnet_ids: Attr<Vec<Attr<String>>>,
    pub security_group_ids: Attr<Vec<Attr<String>>>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SmokeTestObject {
    pub runscope_trigger_parameter: Attr<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FlywayBlock {
    pub locations: Attr<Vec<Attr<String>>>,
    pub image: Attr<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageState {
    pub name: String,
    pub actions: Vec<String>,
}

/// Reads known values; marks the result incomplete on the first unknown.
struct Known {
    complete: bool,
}

impl Known {
    fn value<T: Clone>(&mut self, attr: &Attr<T>) -> Option<T> {
        match attr {
            Attr::Known(v) => Some(v.clone()),
            Attr::Unknown => {
                self.complete = false;
                None
            }
            Attr::Null => None,
        }
    }

    fn string_or(&mut self, attr: &Attr<String>, default: &str) -> String {
        self.value(attr).unwrap_or_else(|| default.to_string())
    }

    fn map(&mut self, attr: &Attr<BTreeMap<String, Attr<String>>>) -> BTreeMap<String, String> {
        self.value(attr).unwrap_or_default().iter().filter_map(|(k, v)| self.value(v).map(|v| (k.clone(), v))).collect()
    }

    fn list(&mut self, attr: &Attr<Vec<Attr<String>>>) -> Vec<String> {
        self.value(attr).unwrap_or_default().iter().filter_map(|v| self.value(v)).collect()
    }
}

/// The spec a configuration describes, checked. `Ok(None)` while some value
/// is unknown (it is checked once known); errors carry attribute paths.
pub fn to_spec(state: &ServicePipelineState) -> Result<Option<ServiceSpec>, Diagnostics> {
    let (spec, complete, mut diags) = described(state);
    if !complete {
        return if diags.has_errors() { Err(diags) } else { Ok(None) };
    }
    // Without a kind, the checks that depend on it would only mislead.
    let Some(spec) = spec else { return Err(diags) };
    for error in validate(&spec) {
        let steps = error
            .path
            .0
            .iter()
            .map(|step| match step {
                FieldStep::Field(name) => PathStep::Attribute(name.to_string()),
                FieldStep::Index(index) => PathStep::Index(*index as i64),
                FieldStep::Key(key) => PathStep::Key(key.clone()),
            })
            .collect();
        diags.attribute_error(AttributePath(steps), "Invalid service pipeline", error.message);
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(Some(spec))
    }
}

/// The spec a stored state describes, as it was applied: not checked
/// again, since the rules may have grown since (a state of provider 0.1.0
/// has no `artifact_key_arn`), and the prior state is only what exists.
/// `None` when some value is unknown or the kind is not one.
pub fn stored_spec(state: &ServicePipelineState) -> Option<ServiceSpec> {
    match described(state) {
        (Some(spec), true, _) => Some(spec),
        _ => None,
    }
}

/// The spec the planned state describes where its pipeline's shape — the
/// stages and project names — is known, though other values (a deploy
/// role's or key's ARN made in the same apply) may not be yet: unknown
/// values read as empty, which no name depends on.
pub fn shape_spec(state: &ServicePipelineState) -> Option<ServiceSpec> {
    let environments = state.environment.known()?;
    let envs_known = environments.iter().all(|env| {
        env.name.known().is_some()
            && !env.approval.is_unknown()
            && !env.migrate.is_unknown()
            && !env.smoke_test.is_unknown()
            && !env.verification.is_unknown()
            && env.verification.known().is_none_or(|commands| commands.iter().all(|c| !c.is_unknown()))
    });
    let shape_known = state.name.known().is_some()
        && state.kind.known().is_some()
        && !state.flyway.is_unknown()
        && !state.build.is_unknown()
        && envs_known;
    if !shape_known {
        return None;
    }
    described(state).0
}

/// The spec a state describes with unknown values read as empty or
/// default, whether every value was known, and the problems found on the
/// way (an unknown kind). `None` when the kind is not one.
fn described(state: &ServicePipelineState) -> (Option<ServiceSpec>, bool, Diagnostics) {
    let mut diags = Diagnostics::new();
    let mut known = Known { complete: true };
    let kind_name = known.value(&state.kind).unwrap_or_default();
    let kind = Kind::from_name(&kind_name);
    if kind.is_none() && known.complete {
        let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        diags.attribute_error(
            AttributePath::attr("kind"),
            "Invalid kind",
            format!("{kind_name:?} is not a kind; use one of {}.", kinds.join(", ")),
        );
    }
    let source = known.value(&state.source).unwrap_or_default();
    let build = known.value(&state.build).unwrap_or_default();
    let environments = known.value(&state.environment).unwrap_or_default();
    let spec = ServiceSpec {
        name: known.value(&state.name).unwrap_or_default(),
        kind: kind.unwrap_or(Kind::Fargate),
        source: Source {
            connection_arn: known.value(&source.connection_arn).unwrap_or_default(),
            repository: known.value(&source.repository).unwrap_or_default(),
            branch: known.value(&source.branch).unwrap_or_default(),
        },
        artifact_bucket: known.value(&state.artifact_bucket).unwrap_or_default(),
        artifact_key_arn: known.value(&state.artifact_key_arn),
        build: Build {
            image: known.string_or(&build.image, Build::DEFAULT_IMAGE),
            compute_type: known.string_or(&build.compute_type, Build::DEFAULT_COMPUTE_TYPE),
            buildspec: known.string_or(&build.buildspec, Build::DEFAULT_BUILDSPEC),
            environment: known.map(&build.environment),
            secrets: known.map(&build.secrets),
            cache: match Cache::from_name(&known.string_or(&build.cache, Cache::default().name())) {
                Some(cache) => cache,
                None => {
                    let other = known.string_or(&build.cache, "");
                    diags.attribute_error(
                        AttributePath::attr("build").attribute("cache"),
                        "Invalid cache",
                        format!("{other:?} is not a cache mode; use none, local or s3."),
                    );
                    Cache::None
                }
            },
        },
        environments: environments
            .iter()
            .map(|env| Environment {
                name: known.value(&env.name).unwrap_or_default(),
                account_id: known.value(&env.account_id).unwrap_or_default(),
                deploy_role_arn: known.value(&env.deploy_role_arn).unwrap_or_default(),
                approval: known.value(&env.approval).unwrap_or(false),
                migrate: known.value(&env.migrate).unwrap_or(false),
                smoke_test: known.value(&env.smoke_test).map(|smoke| SmokeTest {
                    runscope_trigger_parameter: known.value(&smoke.runscope_trigger_parameter).unwrap_or_default(),
                }),
                verification: known.list(&env.verification),
                target: known.map(&env.target),
                network: known.value(&env.network).map(|n| Network {
                    vpc_id: known.value(&n.vpc_id).unwrap_or_default(),
                    subnet_ids: known.list(&n.subnet_ids),
                    security_group_ids: known.list(&n.security_group_ids),
                }),
            })
            .collect(),
        approval_topic_arn: known.value(&state.approval_topic_arn),
        flyway: known.value(&state.flyway).map(|f| Flyway {
            locations: known.list(&f.locations),
            image: known.string_or(&f.image, Flyway::DEFAULT_IMAGE),
        }),
        tags: known.map(&state.tags),
    };
    (kind.map(|_| spec), known.complete, diags)
}

/// The state of the configuration arguments describing `spec`, as a read or
/// import reports it. Where a configuration can say the same thing two ways
/// (an absent map or an empty one, an absent `build` block or one with every
/// default), the form in `prior` is kept; without one, the absent form.
/// Computed attributes are left for the caller.
pub fn from_spec(spec: &ServiceSpec, prior: &ServicePipelineState) -> ServicePipelineState {
    let known = |value: &str| Attr::Known(value.to_string());
    let prior_build = prior.build.known();
    let prior_environments = prior.environment.known().map(Vec::as_slice).unwrap_or_default();
    let build = if spec.build == Build::default() && prior_build.is_none() {
        Attr::Null
    } else {
        Attr::Known(BuildBlock {
            image: known(&spec.build.image),
            compute_type: known(&spec.build.compute_type),
            buildspec: known(&spec.build.buildspec),
            environment: map_like(&spec.build.environment, prior_build.map(|b| &b.environment)),
            secrets: map_like(&spec.build.secrets, prior_build.map(|b| &b.secrets)),
            cache: known(spec.build.cache.name()),
        })
    };
    let environment = spec
        .environments
        .iter()
        .enumerate()
        .map(|(i, env)| {
            let prior = prior_environments.get(i).filter(|p| p.name.known() == Some(&env.name));
            EnvironmentBlock {
                name: known(&env.name),
                account_id: known(&env.account_id),
                deploy_role_arn: known(&env.deploy_role_arn),
                approval: Attr::Known(env.approval),
                migrate: Attr::Known(env.migrate),
                smoke_test: env
                    .smoke_test
                    .as_ref()
                    .map(|smoke| SmokeTestObject {
                        runscope_trigger_parameter: known(&smoke.runscope_trigger_parameter),
                    })
                    .into(),
                verification: if env.verification.is_empty() && prior.is_none_or(|p| p.verification.known().is_none()) {
                    Attr::Null
                } else {
                    Attr::Known(env.verification.iter().map(|c| known(c)).collect())
                },
                target: Attr::Known(env.target.iter().map(|(k, v)| (k.clone(), known(v))).collect()),
                network: env
                    .network
                    .as_ref()
                    .map(|n| NetworkObject {
                        vpc_id: known(&n.vpc_id),
                        subnet_ids: Attr::Known(n.subnet_ids.iter().map(|id| known(id)).collect()),
                        security_group_ids: Attr::Known(n.security_group_ids.iter().map(|id| known(id)).collect()),
                    })
                    .into(),
                // Not in AWS's answers: the configuration's, kept.
                external_id: prior.map(|p| p.external_id.clone()).unwrap_or(Attr::Null),
            }
        })
        .collect();
    ServicePipelineState {
        name: known(&spec.name),
        kind: known(spec.kind.name()),
        artifact_bucket: known(&spec.artifact_bucket),
        artifact_key_arn: spec.artifact_key_arn.clone().into(),
        // Not in AWS: the configuration's, or (imported) its default.
        force_destroy: if prior.force_destroy.is_null() { Attr::Known(false) } else { prior.force_destroy.clone() },
        approval_topic_arn: spec.approval_topic_arn.clone().into(),
        tags: map_like(&spec.tags, Some(&prior.tags)),
        source: Attr::Known(SourceBlock {
            connection_arn: known(&spec.source.connection_arn),
            repository: known(&spec.source.repository),
            branch: known(&spec.source.branch),
        }),
        build,
        environment: Attr::Known(environment),
        flyway: spec
            .flyway
            .as_ref()
            .map(|f| FlywayBlock {
                locations: Attr::Known(f.locations.iter().map(|l| known(l)).collect()),
                image: known(&f.image),
            })
            .into(),
        ..prior.clone()
    }
}

/// A map attribute: null when empty, unless `prior` held an empty map.
fn map_like(
    values: &BTreeMap<String, String>,
    prior: Option<&Attr<BTreeMap<String, Attr<String>>>>,
) -> Attr<BTreeMap<String, Attr<String>>> {
    if values.is_empty() && prior.and_then(Attr::known).is_none() {
        Attr::Null
    } else {
        Attr::Known(values.iter().map(|(k, v)| (k.clone(), Attr::Known(v.clone()))).collect())
    }
}

/// The stages a spec's pipeline will have, as the `stages` attribute shows them.
pub fn plan_stages(spec: &ServiceSpec) -> Vec<StageState> {
    shape(spec)
        .stages
        .iter()
        .map(|stage| StageState {
            name: stage.name.clone(),
            actions: stage.actions.iter().map(|a| a.name.clone()).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::from_value;
    use crate::types::service_pipeline::schema;
    use crate::value::from_json;
    use serde_json::json;

    /// A configuration as Terraform sends it (unset attributes null).
    fn config(json: serde_json::Value) -> ServicePipelineState {
        let ty = schema().value_type().clone();
        let value = from_json(&json, &ty).expect("fits the schema");
        from_value(&value, &ty).expect("decodes")
    }

    fn ebook_api() -> serde_json::Value {
        json!({
            "name": "ebook-api",
            "kind": "lambda",
            "artifact_bucket": "bokbasen-pipeline-artifacts",
            "artifact_key_arn": "arn:aws:kms:eu-north-1:111111111111:key/0a1b2c3d-0000-4000-8000-000000000001",
            "source": {
                "connection_arn": "arn:aws:codestar-connections:eu-north-1:111111111111:connection/abc",
                "repository": "bokbasen/ebook-api",
                "branch": "main"
            },
            "environment": [
                { "name": "test", "account_id": "222222222222",
                  "deploy_role_arn": "arn:aws:iam::222222222222:role/bokbasen-deployer",
                  "target": { "function": "ebook-api-test" } },
                { "name": "production", "account_id": "444444444444",
                  "deploy_role_arn": "arn:aws:iam::444444444444:role/bokbasen-deployer", "approval": true,
                  "smoke_test": { "runscope_trigger_parameter": "/config/ebook-api_production/runscope-trigger" },
                  "target": { "function": "ebook-api-production" } }
            ]
        })
    }

    #[test]
    fn a_configuration_becomes_a_spec_with_defaults() {
        let spec = to_spec(&config(ebook_api())).unwrap().expect("all known");
        assert_eq!(spec.kind, Kind::Lambda);
        assert_eq!(spec.build.image, Build::DEFAULT_IMAGE);
        assert_eq!(spec.build.cache, Cache::None);
        assert_eq!(spec.environments.len(), 2);
        assert!(spec.environments[1].approval && !spec.environments[0].approval);
        let stages = plan_stages(&spec);
        let names: Vec<&str> = stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Source", "Build", "test", "production"]);
        assert_eq!(stages[3].actions, ["Approve", "Deploy", "SmokeTest"]);
    }

    #[test]
    fn a_spec_reads_back_as_the_configuration_that_made_it() {
        let mut json = ebook_api();
        json["build"] = json!({ "environment": {}, "cache": "local" });
        json["tags"] = json!({ "team": "ebooks" });
        let configured = config(json);
        let spec = to_spec(&configured).unwrap().unwrap();
        // With the configuration as prior state: the same arguments, defaults filled in.
        let read = from_spec(&spec, &configured);
        assert_eq!(to_spec(&read).unwrap().unwrap(), spec);
        let build = read.build.known().unwrap();
        assert_eq!(build.environment, Attr::Known(BTreeMap::new()), "an empty map stays empty");
        assert_eq!(build.image, Attr::Known(Build::DEFAULT_IMAGE.to_string()), "defaults are known");
        assert_eq!(read.environment.known().unwrap()[0].verification, Attr::Null);
        // Imported (nothing prior): absent forms, and the same spec.
        let imported = from_spec(&spec, &ServicePipelineState::default());
        assert_eq!(to_spec(&imported).unwrap().unwrap(), spec);
        assert_eq!(imported.build.known().unwrap().environment, Attr::Null);
        let mut plain = spec.clone();
        plain.build = Build::default();
        assert!(from_spec(&plain, &ServicePipelineState::default()).build.is_null(), "all defaults: no block");
    }

    #[test]
    fn unknown_values_postpone_the_spec() {
        let mut state = config(ebook_api());
        state.artifact_bucket = Attr::Unknown;
        assert!(to_spec(&state).unwrap().is_none());
    }

    #[test]
    fn the_shape_is_known_before_the_deploy_roles_and_key_are() {
        // Made in the same apply: the deploy target's role and the store's key are unknown at plan.
        let mut state = config(ebook_api());
        state.artifact_key_arn = Attr::Unknown;
        if let Attr::Known(envs) = &mut state.environment {
            envs[0].deploy_role_arn = Attr::Unknown;
        }
        assert!(to_spec(&state).unwrap().is_none(), "not checkable yet");
        let spec = shape_spec(&state).expect("the names are known");
        let names: Vec<String> = plan_stages(&spec).into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["Source", "Build", "test", "production"]);
        // A stage's actions depend on `approval`: while it is unknown, so is the shape.
        if let Attr::Known(envs) = &mut state.environment {
            envs[1].approval = Attr::Unknown;
        }
        assert!(shape_spec(&state).is_none());
    }

    #[test]
    fn a_stored_state_is_taken_as_it_was_applied_without_todays_checks() {
        // Provider 0.1.0 stored cross-account pipelines without an artifact key: still updatable and destroyable.
        let mut json = ebook_api();
        json.as_object_mut().unwrap().remove("artifact_key_arn");
        let stored = config(json);
        assert!(to_spec(&stored).is_err(), "today's rules refuse it as a configuration");
        assert_eq!(stored_spec(&stored).map(|s| s.artifact_key_arn), Some(None));
    }

    #[test]
    fn errors_point_at_the_attribute() {
        let mut json = ebook_api();
        json["kind"] = json!("kubernetes");
        json["environment"][0]["target"] = json!({ "cluster": "test" });
        let diags = to_spec(&config(json)).unwrap_err();
        let paths: Vec<String> = diags.iter().map(|d| d.path.as_ref().unwrap().to_string()).collect();
        assert_eq!(paths, ["kind"], "only the kind, not checks that depend on it");

        let mut json = ebook_api();
        json["environment"][1]["deploy_role_arn"] = json!("arn:aws:iam::999999999999:role/x");
        json["environment"][0]["target"] = json!({ "cluster": "test" });
        json["build"] = json!({ "cache": "disk" });
        let paths: Vec<String> =
            to_spec(&config(json)).unwrap_err().iter().map(|d| d.path.as_ref().unwrap().to_string()).collect();
        assert!(paths.contains(&"build.cache".to_string()), "{paths:?}");
        assert!(paths.contains(&"environment[1].deploy_role_arn".to_string()), "{paths:?}");
        assert!(paths.contains(&"environment[0].target".to_string()), "{paths:?}");
        assert!(paths.contains(&r#"environment[0].target["cluster"]"#.to_string()), "{paths:?}");
    }

    #[test]
    fn the_cross_account_arguments_are_refused_at_their_attribute() {
        let mut json = ebook_api();
        json["artifact_key_arn"] = json!("alias/bokbasen-artifacts");
        json["environment"][0]["network"] =
            json!({ "vpc_id": "vpc-0a1b2c3d", "subnet_ids": ["subnet-x"], "security_group_ids": [] });
        json["flyway"] = json!({ "locations": ["filesystem:db"], "image": "" });
        let paths: Vec<String> =
            to_spec(&config(json)).unwrap_err().iter().map(|d| d.path.as_ref().unwrap().to_string()).collect();
        for path in [
            "artifact_key_arn",
            "environment[0].network.subnet_ids[0]",
            "environment[0].network.security_group_ids",
            "flyway.image",
        ] {
            assert!(paths.contains(&path.to_string()), "{path} in {paths:?}");
        }
        // Without a key, the environments in other accounts are refused, naming the first.
        let mut json = ebook_api();
        json.as_object_mut().unwrap().remove("artifact_key_arn");
        let diags = to_spec(&config(json)).unwrap_err();
        let problem = diags.iter().next().unwrap();
        assert_eq!(problem.path.as_ref().unwrap().to_string(), "artifact_key_arn");
        assert!(problem.detail.contains("222222222222"), "{}", problem.detail);
    }

    #[test]
    fn schema_is_described() {
        fn check(block: &crate::framework::Block) {
            assert!(!block.description.is_empty());
            for attr in &block.attributes {
                assert!(!attr.description.is_empty(), "{}", attr.name);
            }
            for nested in &block.blocks {
                check(&nested.block);
            }
        }
        check(schema().block());
    }
}
