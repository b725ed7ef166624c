//! `bokbasen_service_config`: a service's non-secret configuration for one
//! environment, as `String` parameters under the path Spring reads
//! (`/config/{service}_{environment}/{key}`).
//!
//! State mirrors what is under the path: a key changed, removed or added
//! out of band shows as a change of `values` on that key. SecureStrings
//! under the same path are secrets (`bokbasen_service_secret`) and are
//! neither read nor touched here.

use std::collections::BTreeMap;

use async_trait::async_trait;
use bokbasen_pipeline::parameters::{check_arn_length, check_key, check_name, check_value, ConfigLocation, Tier};
use serde::{Deserialize, Serialize};

use super::layout::{
    check_tags, known_map, location_attributes, own_tags, parse_id, state_map, tags_attribute, wanted_tags,
    LocationArgs,
};
use crate::aws::parameters::{self, Put, Stored};
use crate::aws::{AwsContext, Step};
use crate::framework::{Attr, Attribute, Block, Diagnostics, Resource, Schema};
use crate::value::{AttributePath, Type};

pub const TYPE_NAME: &str = "bokbasen_service_config";

pub struct ServiceConfig;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ServiceConfigState {
    pub service: Attr<String>,
    pub environment: Attr<String>,
    pub prefix: Attr<String>,
    pub separator: Attr<String>,
    pub values: Attr<BTreeMap<String, Attr<String>>>,
    pub tier: Attr<String>,
    pub tags: Attr<BTreeMap<String, Attr<String>>>,
    pub id: Attr<String>,
    pub path: Attr<String>,
    pub parameter_arns: Attr<BTreeMap<String, String>>,
    pub spring_config_import: Attr<String>,
}

impl ServiceConfigState {
    pub fn location_args(&self) -> LocationArgs {
        LocationArgs {
            service: self.service.clone(),
            environment: self.environment.clone(),
            prefix: self.prefix.clone(),
            separator: self.separator.clone(),
        }
    }

    fn tier(&self) -> Tier {
        self.tier.known().and_then(|t| Tier::from_name(t)).unwrap_or(Tier::Standard)
    }

    /// The computed attributes that follow from the location alone.
    pub fn locate(&mut self, location: &ConfigLocation) {
        self.id = Attr::Known(format!("{}/{}", location.service, location.environment));
        self.path = Attr::Known(location.path());
        self.spring_config_import = Attr::Known(location.spring_config_import());
    }
}

/// Shared with the data source: what `path`, `parameter_arns` and
/// `spring_config_import` say.
pub fn computed_attributes(block: Block) -> Block {
    block
        .attribute(Attribute::computed("id", Type::String).use_state_for_unknown().description("`service/environment`."))
        .attribute(Attribute::computed("path", Type::String).use_state_for_unknown().description("The parameter path, e.g. `/config/ebook-api_test`."))
        .attribute(Attribute::computed("parameter_arns", Type::map(Type::String)).description("ARN of each key's parameter, for IAM policies."))
        .attribute(Attribute::computed("spring_config_import", Type::String).use_state_for_unknown().description("The line a Spring Boot application (Spring Cloud AWS 3) puts in `application.properties` to load the path: `spring.config.import=aws-parameterstore:/config/ebook-api_test/`."))
}

fn schema() -> Schema {
    let tiers: Vec<String> = Tier::ALL.iter().map(|t| format!("`{}`", t.name())).collect();
    let block = location_attributes(
        Block::new("A service's non-secret configuration for one environment, as SSM `String` parameters at `{prefix}/{service}{separator}{environment}/{key}` — the layout Spring Cloud AWS and Spring Cloud Config Server read without settings. Keys added, changed or removed outside Terraform show in the plan. Secrets under the same path belong to `bokbasen_service_secret` and are left alone. SSM's limits (name characters and length, 15 levels, 4 KB values on the Standard tier) are checked at plan time.\n\nImport with `service/environment` (default prefix and separator).")
            .attribute(Attribute::required("values", Type::map(Type::String)).description("Key → value. Keys use `a-zA-Z0-9_.-`, dots kept as written (`spring.datasource.url`), `/` for levels. Values are 1 byte to 4 KB (8 KB with `tier = \"Advanced\"`)."))
            .attribute(Attribute::optional("tier", Type::String).default(Tier::Standard.name()).description(format!("Parameter tier: {}. Defaults to `Standard`; `Advanced` holds values up to 8 KB and is charged per parameter.", tiers.join(" or "))))
            .attribute(tags_attribute()),
        true,
    );
    Schema::new(computed_attributes(block))
}

/// Every problem with the known parts of a configuration, at its path.
fn check(state: &ServiceConfigState, diags: &mut Diagnostics) {
    let args = state.location_args();
    args.check(diags);
    check_tags(&state.tags, diags);
    if let Some(tier) = state.tier.known() {
        if Tier::from_name(tier).is_none() {
            diags.attribute_error(
                AttributePath::attr("tier"),
                "Invalid tier",
                format!("{tier:?} is not a parameter tier; use `Standard` or `Advanced`."),
            );
        }
    }
    let Attr::Known(values) = &state.values else { return };
    let location = args.known().filter(|l| l.problems().is_empty());
    for (key, value) in values {
        let path = AttributePath::attr("values").key(key);
        if let Err(message) = check_key(key) {
            diags.attribute_error(path, "Invalid configuration key", message);
            continue;
        }
        if let Some(location) = &location {
            if let Err(message) = check_name(&location.parameter_name(key)) {
                diags.attribute_error(path.clone(), "Parameter name refused by SSM", message);
            }
        }
        if let Some(value) = value.known() {
            if let Err(problem) = check_value(value, state.tier()) {
                diags.attribute_error(path, "Configuration value refused by SSM", problem.to_string());
            }
        }
    }
}

/// Everything known at apply: the location, the values, the own tags.
struct Wanted {
    location: ConfigLocation,
    values: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
}

fn wanted(state: &ServiceConfigState, diags: &mut Diagnostics) -> Option<Wanted> {
    check(state, diags);
    let (Some(location), Some(Some(values)), Some(tags)) =
        (state.location_args().known(), state.values.known().map(|_| known_map(&state.values)), known_map(&state.tags))
    else {
        diags.error("Provider bug: unknown values at apply", "The configuration still has unknown values.");
        return None;
    };
    (!diags.has_errors()).then_some(Wanted { location, values, tags })
}

/// The full-ARN length check needs the account, known only now; it runs
/// before anything is written.
async fn check_arns(aws: &AwsContext, wanted: &Wanted, diags: &mut Diagnostics) -> Option<()> {
    let (account, region) = match aws.whereabouts().await {
        Ok(found) => found,
        Err(err) => {
            diags.error("Writing the configuration failed", err);
            return None;
        }
    };
    for key in wanted.values.keys() {
        let arn = parameters::arn(&region.partition, &region.region, &account, &wanted.location.parameter_name(key));
        if let Err(message) = check_arn_length(&arn) {
            diags.attribute_error(AttributePath::attr("values").key(key), "Parameter name refused by SSM", message);
        }
    }
    (!diags.has_errors()).then_some(())
}

/// Writes the values of `put` and the tags of `tag` (keys of `wanted`);
/// on failure returns the names created so far with the error, so a failed
/// create removes exactly those.
async fn write(
    aws: &AwsContext,
    wanted: &Wanted,
    put: &[&String],
    tag: &[&String],
    tier: Tier,
) -> Result<(), (Vec<String>, String)> {
    let tags = wanted_tags(aws, &wanted.tags);
    let mut written = Vec::new();
    for key in put {
        let name = wanted.location.parameter_name(key);
        let request = Put { name: &name, value: &wanted.values[*key], secure_with: None, tier, description: None };
        parameters::put(aws, request).await.map_err(|err| (written.clone(), err))?;
        written.push(name);
    }
    for key in tag {
        let name = wanted.location.parameter_name(key);
        let current = parameters::tags(aws, &name).await.map_err(|err| (written.clone(), err))?;
        parameters::sync_tags(aws, &name, &current, &tags).await.map_err(|err| (written.clone(), err))?;
    }
    Ok(())
}

/// State from what is under the path; `None` when nothing is.
async fn observe(
    aws: &AwsContext,
    location: &ConfigLocation,
    prior: &ServiceConfigState,
) -> Step<Option<ServiceConfigState>> {
    let stored: Vec<Stored> = parameters::list_path(aws, &location.path()).await?;
    let plain: Vec<(String, Stored)> = stored
        .into_iter()
        .filter(|p| !p.secure)
        .filter_map(|p| Some((location.key_of(&p.name)?.to_string(), p)))
        .collect();
    if plain.is_empty() {
        return Ok(None);
    }
    let prior_tags = known_map(&prior.tags).unwrap_or_default();
    let wanted = wanted_tags(aws, &prior_tags);
    // The tags of the first parameter that differs from what is wanted, if any.
    let mut observed_tags = None;
    for (_, p) in &plain {
        let tags = parameters::tags(aws, &p.name).await?;
        if tags != wanted {
            observed_tags = Some(tags);
            break;
        }
    }
    let tags = match observed_tags {
        Some(tags) => state_map(own_tags(aws, tags, &prior_tags), &prior.tags),
        None => prior.tags.clone(),
    };
    let mut state = ServiceConfigState {
        values: state_map(
            plain.iter().map(|(k, p)| (k.clone(), p.value.clone().unwrap_or_default())).collect(),
            &prior.values,
        ),
        parameter_arns: Attr::Known(plain.iter().map(|(k, p)| (k.clone(), p.arn.clone())).collect()),
        tags,
        tier: if prior.tier.is_null() { Attr::Known(Tier::Standard.name().into()) } else { prior.tier.clone() },
        ..prior.clone()
    };
    let args = LocationArgs::from_location(location);
    (state.service, state.environment, state.prefix, state.separator) =
        (args.service, args.environment, args.prefix, args.separator);
    state.locate(location);
    Ok(Some(state))
}

async fn observe_or_report(
    aws: &AwsContext,
    location: &ConfigLocation,
    state: ServiceConfigState,
    what: &str,
    diags: &mut Diagnostics,
) -> Option<ServiceConfigState> {
    match observe(aws, location, &state).await {
        Ok(Some(observed)) => Some(observed),
        Ok(None) => None,
        Err(err) => {
            diags.error(format!("{what} the configuration failed"), err);
            Some(state)
        }
    }
}

#[async_trait]
impl Resource for ServiceConfig {
    type Data = AwsContext;
    type State = ServiceConfigState;

    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: &ServiceConfigState, diags: &mut Diagnostics) {
        check(config, diags);
    }

    async fn modify_plan(
        &self,
        prior: Option<&ServiceConfigState>,
        planned: &mut ServiceConfigState,
        diags: &mut Diagnostics,
    ) {
        check(planned, diags);
        if let Some(location) = planned.location_args().known() {
            planned.locate(&location);
        }
        // ARNs stay as they are unless the set of keys changes.
        let same_keys = match (prior.and_then(|p| p.parameter_arns.known()), planned.values.known()) {
            (Some(arns), Some(values)) => arns.keys().eq(values.keys()),
            _ => false,
        };
        planned.parameter_arns =
            if same_keys { prior.map(|p| p.parameter_arns.clone()).unwrap_or_default() } else { Attr::Unknown };
    }

    async fn create(
        &self,
        aws: &AwsContext,
        planned: ServiceConfigState,
        diags: &mut Diagnostics,
    ) -> Option<ServiceConfigState> {
        let wanted = wanted(&planned, diags)?;
        check_arns(aws, &wanted, diags).await?;
        let keys: Vec<&String> = wanted.values.keys().collect();
        if let Err((written, err)) = write(aws, &wanted, &keys, &keys, planned.tier()).await {
            let cleanup = super::cleanup_note(parameters::delete(aws, &written).await);
            diags.error("Writing the configuration failed", format!("{err}\n\n{cleanup}"));
            return None;
        }
        observe_or_report(aws, &wanted.location, planned, "Reading back", diags).await
    }

    async fn read(
        &self,
        aws: &AwsContext,
        current: ServiceConfigState,
        diags: &mut Diagnostics,
    ) -> Option<ServiceConfigState> {
        let Some(location) = current.location_args().known() else {
            diags.error(
                "Provider bug: no location in state",
                "The configuration's state has no service or environment.",
            );
            return Some(current);
        };
        observe_or_report(aws, &location, current, "Reading", diags).await
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: ServiceConfigState,
        planned: ServiceConfigState,
        diags: &mut Diagnostics,
    ) -> Option<ServiceConfigState> {
        let wanted = wanted(&planned, diags)?;
        check_arns(aws, &wanted, diags).await?;
        let before = known_map(&prior.values).unwrap_or_default();
        let new_tier = prior.tier.known() != planned.tier.known();
        let new_tags = known_map(&prior.tags) != known_map(&planned.tags);
        let changed: Vec<&String> =
            wanted.values.iter().filter(|(k, v)| new_tier || before.get(*k) != Some(*v)).map(|(k, _)| k).collect();
        let retag: Vec<&String> = wanted.values.keys().filter(|k| new_tags || !before.contains_key(*k)).collect();
        let removed: Vec<String> = before
            .keys()
            .filter(|k| !wanted.values.contains_key(*k))
            .map(|k| wanted.location.parameter_name(k))
            .collect();
        let result = match write(aws, &wanted, &changed, &retag, planned.tier()).await {
            Ok(()) => parameters::delete(aws, &removed).await,
            Err((_, err)) => Err(err),
        };
        if let Err(err) = result {
            diags.error(
                "Updating the configuration failed",
                format!(
                    "{err}\n\nKeys already written keep their new values; run the apply again to complete the change."
                ),
            );
            // State follows AWS: what is there now.
            return observe_or_report(aws, &wanted.location, prior, "Reading back", diags).await;
        }
        observe_or_report(aws, &wanted.location, planned, "Reading back", diags).await
    }

    async fn delete(&self, aws: &AwsContext, prior: ServiceConfigState, diags: &mut Diagnostics) {
        let Some(location) = prior.location_args().known() else { return };
        let names: Vec<String> =
            known_map(&prior.values).unwrap_or_default().keys().map(|k| location.parameter_name(k)).collect();
        if let Err(err) = parameters::delete(aws, &names).await {
            diags.error("Deleting the configuration failed", err);
        }
    }

    async fn import(&self, _aws: &AwsContext, id: &str, diags: &mut Diagnostics) -> Option<ServiceConfigState> {
        let parts = parse_id(id, 2, "service/environment", diags)?;
        let location = ConfigLocation::new(&parts[0], &parts[1]);
        let args = LocationArgs::from_location(&location);
        // Read does the rest.
        Some(ServiceConfigState {
            service: args.service,
            environment: args.environment,
            prefix: args.prefix,
            separator: args.separator,
            tier: Attr::Known(Tier::Standard.name().into()),
            ..ServiceConfigState::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(values: &[(&str, &str)]) -> ServiceConfigState {
        ServiceConfigState {
            service: Attr::Known("ebook-api".into()),
            environment: Attr::Known("test".into()),
            prefix: Attr::Known("/config".into()),
            separator: Attr::Known("_".into()),
            tier: Attr::Known("Standard".into()),
            values: Attr::Known(values.iter().map(|(k, v)| (k.to_string(), Attr::Known(v.to_string()))).collect()),
            ..ServiceConfigState::default()
        }
    }

    fn error_paths(state: &ServiceConfigState) -> Vec<String> {
        let mut diags = Diagnostics::new();
        check(state, &mut diags);
        diags.iter().map(|d| format!("{:?}", d.path.clone().unwrap_or_default())).collect()
    }

    #[test]
    fn every_problem_is_reported_at_its_key() {
        let big = "v".repeat(4097);
        let mut bad = state(&[("ok", "fine"), ("with space", "x"), ("too.big", &big), ("empty", "")]);
        bad.tags = Attr::Known(BTreeMap::from([("aws:team".to_string(), Attr::Known("x".into()))]));
        let paths = error_paths(&bad);
        assert_eq!(paths.len(), 4, "{paths:?}");
        for key in ["with space", "too.big", "empty", "aws:team"] {
            assert!(paths.iter().any(|p| p.contains(key)), "{key} missing in {paths:?}");
        }
        assert!(error_paths(&state(&[("spring.datasource.url", "jdbc:x")])).is_empty());
        bad.tier = Attr::Known("Advanced".into());
        bad.values = state(&[("too.big", &big)]).values;
        bad.tags = Attr::Null;
        assert!(error_paths(&bad).is_empty(), "Advanced holds 4097 bytes");
    }

    #[test]
    fn unknown_values_wait_until_they_are_known() {
        let mut unknown = state(&[]);
        unknown.values = Attr::Known(BTreeMap::from([("later".to_string(), Attr::Unknown)]));
        unknown.service = Attr::Unknown;
        assert!(error_paths(&unknown).is_empty());
    }

    #[tokio::test]
    async fn plan_knows_the_path_and_keeps_arns_while_keys_stay() {
        let mut planned = state(&[("a", "1")]);
        ServiceConfig.modify_plan(None, &mut planned, &mut Diagnostics::new()).await;
        assert_eq!(planned.path, Attr::Known("/config/ebook-api_test".into()));
        assert_eq!(
            planned.spring_config_import,
            Attr::Known("spring.config.import=aws-parameterstore:/config/ebook-api_test/".into())
        );
        assert!(planned.parameter_arns.is_unknown());

        let mut prior = planned.clone();
        prior.parameter_arns = Attr::Known(BTreeMap::from([("a".into(), "arn:a".into())]));
        let mut same_keys = state(&[("a", "2")]);
        ServiceConfig.modify_plan(Some(&prior), &mut same_keys, &mut Diagnostics::new()).await;
        assert_eq!(same_keys.parameter_arns, prior.parameter_arns);
        let mut new_key = state(&[("a", "1"), ("b", "2")]);
        ServiceConfig.modify_plan(Some(&prior), &mut new_key, &mut Diagnostics::new()).await;
        assert!(new_key.parameter_arns.is_unknown());
    }
}
