//! The resource: writes the values under the path, reads back what is
//! there for drift, removes the keys it wrote.

use std::collections::BTreeMap;

use async_trait::async_trait;
use bokbasen_pipeline::parameters::{check_arn_length, ConfigLocation, Tier};

use super::{check, schema, ServiceConfigState, TYPE_NAME};
use crate::aws::parameters::{self, Put, Stored};
use crate::aws::{tags, AwsContext, Step};
use crate::framework::{Attr, Diagnostics, Resource, Schema};
use crate::types::shared::{check_tier_change, cleanup_note, known_map, parse_id, state_map, LocationArgs};
use crate::value::AttributePath;

pub struct ServiceConfig;

/// Everything known at apply: the location, the values, the own tags.
struct Wanted {
    location: ConfigLocation,
    values: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
}

fn wanted(state: &ServiceConfigState, diags: &mut Diagnostics) -> Option<Wanted> {
    check(state, diags);
    let (Some(location), Some(Some(values)), Some(tags)) =
        (state.location.known(), state.values.known().map(|_| known_map(&state.values)), known_map(&state.tags))
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
    let tags = tags::with_defaults(aws, &wanted.tags);
    let mut written = Vec::new();
    for key in put {
        let name = wanted.location.parameter_name(key);
        let request = Put { name: &name, value: &wanted.values[*key], secure_with: None, tier, description: None };
        parameters::put(aws, request).await.map_err(|err| (written.clone(), err))?;
        written.push(name);
    }
    for key in tag {
        let name = wanted.location.parameter_name(key);
        parameters::sync_tags(aws, &name, &tags).await.map_err(|err| (written.clone(), err))?;
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
    let wanted = tags::with_defaults(aws, &prior_tags);
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
        Some(observed) => state_map(tags::without_defaults(aws, observed, &prior_tags), &prior.tags),
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
    state.location = LocationArgs::from_location(location);
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
        if let Some(location) = planned.location.known() {
            planned.locate(&location);
        }
        if let Some(prior) = prior {
            let same = prior.path.known().is_some() && prior.path.known() == planned.path.known();
            check_tier_change(&prior.tier, &planned.tier, same, diags);
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
            let cleanup = cleanup_note(parameters::delete(aws, &written).await);
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
        let Some(location) = current.location.known() else {
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
        let Some(location) = prior.location.known() else { return };
        let names: Vec<String> =
            known_map(&prior.values).unwrap_or_default().keys().map(|k| location.parameter_name(k)).collect();
        if let Err(err) = parameters::delete(aws, &names).await {
            diags.error("Deleting the configuration failed", err);
        }
    }

    async fn import(&self, _aws: &AwsContext, id: &str, diags: &mut Diagnostics) -> Option<ServiceConfigState> {
        let parts = parse_id(id, 2, "service/environment", diags)?;
        let location = ConfigLocation::new(&parts[0], &parts[1]);
        // Read does the rest.
        Some(ServiceConfigState {
            location: LocationArgs::from_location(&location),
            tier: Attr::Known(Tier::Standard.name().into()),
            ..ServiceConfigState::default()
        })
    }
}
