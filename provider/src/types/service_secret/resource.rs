//! The resource: makes the secret's metadata match (writing a value only
//! when one is given), reads the metadata back, never the value.

use std::collections::BTreeMap;

use async_trait::async_trait;
use bokbasen_pipeline::parameters::{check_arn_length, ConfigLocation, Tier, DEFAULT_KMS_KEY};

use super::{check, schema, set_hint, ServiceSecretState, TYPE_NAME};
use crate::aws::parameters::{self, Metadata, Put};
use crate::aws::{tags, AwsContext, Step};
use crate::framework::{Attr, Diagnostics, Resource, Schema};
use crate::types::shared::{check_tier_change, cleanup_note, known_map, parse_id, state_map, LocationArgs};
use crate::value::AttributePath;

pub struct ServiceSecret;

/// What apply needs known.
struct Wanted {
    name: String,
    kms_key_id: String,
    description: Option<String>,
    tier: Tier,
    tags: BTreeMap<String, String>,
}

fn wanted(state: &ServiceSecretState, diags: &mut Diagnostics) -> Option<Wanted> {
    check(state, diags);
    let (Some(name), Some(kms_key_id), Some(tags)) = (
        state.parameter_name(),
        state.kms_key_id.known().cloned().or(Some(DEFAULT_KMS_KEY.to_string())),
        known_map(&state.tags),
    ) else {
        diags.error("Provider bug: unknown values at apply", "The secret's configuration still has unknown values.");
        return None;
    };
    (!diags.has_errors()).then(|| Wanted {
        name,
        kms_key_id,
        description: state.description.known().cloned(),
        tier: state.tier(),
        tags,
    })
}

/// Writes the secret: the new value when given, else the stored one again
/// (to apply a new key, description or tier). `Ok(false)` when there is no
/// value anywhere yet.
async fn write(aws: &AwsContext, wanted: &Wanted, new_value: Option<&str>) -> Step<bool> {
    let stored;
    let value = match new_value {
        Some(value) => value,
        None => match parameters::secret_value(aws, &wanted.name).await? {
            Some(value) => {
                stored = value;
                stored.as_str()
            }
            None => return Ok(false),
        },
    };
    let put = Put {
        name: &wanted.name,
        value,
        secure_with: Some(&wanted.kms_key_id),
        tier: wanted.tier,
        description: wanted.description.as_deref(),
    };
    parameters::put(aws, put).await?;
    Ok(true)
}

async fn sync_tags(aws: &AwsContext, wanted: &Wanted) -> Step {
    parameters::sync_tags(aws, &wanted.name, &tags::with_defaults(aws, &wanted.tags)).await
}

/// Whether the stored metadata differs from what is wanted.
fn stale(found: &Metadata, wanted: &Wanted) -> bool {
    !found.secure
        || found.key_id.as_deref() != Some(wanted.kms_key_id.as_str())
        || found.description.as_deref().unwrap_or_default() != wanted.description.as_deref().unwrap_or_default()
        || found.tier.as_deref().is_some_and(|t| t != wanted.tier.name())
}

/// State as AWS has it, with a warning when no value is set.
async fn observe(aws: &AwsContext, mut state: ServiceSecretState, diags: &mut Diagnostics) -> Step<ServiceSecretState> {
    let Some(location) = state.location.known() else { return Ok(state) };
    let Some(key) = state.key.known().cloned() else { return Ok(state) };
    let name = location.parameter_name(&key);
    state.locate();
    if state.arn.known().is_none() {
        let (account, region) = aws.whereabouts().await?;
        state.arn = Attr::Known(parameters::arn(&region.partition, &region.region, &account, &name));
    }
    let Some(found) = parameters::describe(aws, &name).await? else {
        state.version = Attr::Known(0);
        diags.attribute_warning(
            AttributePath::attr("version"),
            "Secret has no value yet",
            format!("{name} does not exist in SSM yet, so nothing can read it. Set it with {}, or with `value_wo` on Terraform 1.11 and later.", set_hint(&state)),
        );
        return Ok(state);
    };
    if !found.secure {
        diags.attribute_warning(
            AttributePath::attr("name"),
            "Secret stored unencrypted",
            format!(
                "{name} is a plain String parameter, not a SecureString. Delete it and set it again with {}.",
                set_hint(&state)
            ),
        );
    }
    let prior_tags = known_map(&state.tags).unwrap_or_default();
    let stored_tags = parameters::tags(aws, &name).await?;
    if stored_tags != tags::with_defaults(aws, &prior_tags) {
        state.tags = state_map(tags::without_defaults(aws, stored_tags, &prior_tags), &state.tags);
    }
    state.version = Attr::Known(found.version);
    state.kms_key_id = found.key_id.map(Attr::Known).unwrap_or(state.kms_key_id);
    state.description = match (found.description, &state.description) {
        (Some(d), _) => Attr::Known(d),
        (None, Attr::Known(d)) if d.is_empty() => state.description.clone(),
        (None, _) => Attr::Null,
    };
    if let Some(tier) = found.tier.as_deref().and_then(Tier::from_name) {
        state.tier = Attr::Known(tier.name().into());
    }
    Ok(state)
}

async fn observe_or_report(
    aws: &AwsContext,
    state: ServiceSecretState,
    what: &str,
    diags: &mut Diagnostics,
) -> Option<ServiceSecretState> {
    match observe(aws, state.clone(), diags).await {
        Ok(observed) => Some(observed),
        Err(err) => {
            diags.error(format!("{what} the secret failed"), err);
            Some(state)
        }
    }
}

#[async_trait]
impl Resource for ServiceSecret {
    type Data = AwsContext;
    type State = ServiceSecretState;

    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: &ServiceSecretState, diags: &mut Diagnostics) {
        check(config, diags);
    }

    async fn modify_plan(
        &self,
        prior: Option<&ServiceSecretState>,
        planned: &mut ServiceSecretState,
        diags: &mut Diagnostics,
    ) {
        check(planned, diags);
        planned.locate();
        if let Some(prior) = prior {
            let same = prior.name.known().is_some() && prior.name.known() == planned.name.known();
            check_tier_change(&prior.tier, &planned.tier, same, diags);
        }
    }

    async fn create(
        &self,
        aws: &AwsContext,
        planned: ServiceSecretState,
        diags: &mut Diagnostics,
    ) -> Option<ServiceSecretState> {
        let wanted = wanted(&planned, diags)?;
        let (account, region) = match aws.whereabouts().await {
            Ok(found) => found,
            Err(err) => {
                diags.error("Creating the secret failed", err);
                return None;
            }
        };
        let arn = parameters::arn(&region.partition, &region.region, &account, &wanted.name);
        if let Err(message) = check_arn_length(&arn) {
            diags.attribute_error(AttributePath::attr("key"), "Parameter name refused by SSM", message);
            return None;
        }
        // A value set beforehand (`bokbasen secret set`) is adopted, its metadata brought in line.
        let existing = match parameters::describe(aws, &wanted.name).await {
            Ok(found) => found,
            Err(err) => {
                diags.error("Creating the secret failed", err);
                return None;
            }
        };
        let result = async {
            let exists = match (planned.value_wo.known(), &existing) {
                (Some(value), _) => write(aws, &wanted, Some(value)).await?,
                (None, Some(found)) if stale(found, &wanted) => write(aws, &wanted, None).await?,
                (None, found) => found.is_some(),
            };
            if exists {
                sync_tags(aws, &wanted).await?;
            }
            Ok::<_, String>(())
        }
        .await;
        if let Err(err) = result {
            // Only a parameter this apply created is removed; an adopted one stays.
            let cleanup = if existing.is_none() {
                cleanup_note(parameters::delete(aws, std::slice::from_ref(&wanted.name)).await)
            } else {
                "The secret that existed before keeps its value.".to_string()
            };
            diags.error("Creating the secret failed", format!("{err}\n\n{cleanup}"));
            return None;
        }
        let mut state = planned;
        state.arn = Attr::Known(arn);
        observe_or_report(aws, state, "Reading back", diags).await
    }

    async fn read(
        &self,
        aws: &AwsContext,
        current: ServiceSecretState,
        diags: &mut Diagnostics,
    ) -> Option<ServiceSecretState> {
        observe_or_report(aws, current, "Reading", diags).await
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: ServiceSecretState,
        planned: ServiceSecretState,
        diags: &mut Diagnostics,
    ) -> Option<ServiceSecretState> {
        let wanted = wanted(&planned, diags)?;
        let new_value = planned.value_wo.known().filter(|_| prior.value_wo_version != planned.value_wo_version);
        let metadata_changed = prior.kms_key_id != planned.kms_key_id
            || prior.description != planned.description
            || prior.tier != planned.tier;
        let result = async {
            let exists = if new_value.is_some() || metadata_changed {
                write(aws, &wanted, new_value.map(String::as_str)).await?
            } else {
                parameters::describe(aws, &wanted.name).await?.is_some()
            };
            if exists {
                sync_tags(aws, &wanted).await?;
            }
            Ok::<_, String>(())
        }
        .await;
        if let Err(err) = result {
            diags.error("Updating the secret failed", err);
            return observe_or_report(aws, prior, "Reading back", diags).await;
        }
        let mut state = planned;
        state.arn = prior.arn;
        observe_or_report(aws, state, "Reading back", diags).await
    }

    async fn delete(&self, aws: &AwsContext, prior: ServiceSecretState, diags: &mut Diagnostics) {
        let Some(name) = prior.parameter_name() else { return };
        if let Err(err) = parameters::delete(aws, &[name]).await {
            diags.error("Deleting the secret failed", err);
        }
    }

    async fn import(&self, _aws: &AwsContext, id: &str, diags: &mut Diagnostics) -> Option<ServiceSecretState> {
        let parts = parse_id(id, 3, "service/environment/key", diags)?;
        Some(ServiceSecretState {
            location: LocationArgs::from_location(&ConfigLocation::new(&parts[0], &parts[1])),
            key: Attr::Known(parts[2].clone()),
            kms_key_id: Attr::Known(DEFAULT_KMS_KEY.into()),
            tier: Attr::Known(Tier::Standard.name().into()),
            ..ServiceSecretState::default()
        })
    }
}
