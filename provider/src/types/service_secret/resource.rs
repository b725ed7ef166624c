//! The resource: makes the secret's metadata match (writing a value only
//! when one is given), reads the metadata back, never the value. It writes
//! and deletes only its own parameter (see the module's ownership rule).

use std::collections::BTreeMap;

use async_trait::async_trait;
use bokbasen_pipeline::parameters::{check_arn_length, ConfigLocation, Tier, DEFAULT_KMS_KEY};

use super::{check, schema, set_hint, ServiceSecretState, TYPE_NAME};
use crate::aws::ownership::{refusal, Foreign, Holder, OWNER_TAG};
use crate::aws::parameters::{self, Metadata, Put};
use crate::aws::{tags, AwsContext, Step};
use crate::framework::{Attr, Diagnostics, Resource, Schema};
use crate::types::shared::{check_tier_change, known_map, parse_id, state_map, LocationArgs};
use crate::value::AttributePath;

pub struct ServiceSecret;

/// What apply needs known.
struct Wanted {
    name: String,
    /// `service/environment/key`, the import ID.
    id: String,
    marker: String,
    kms_key_id: String,
    description: Option<String>,
    tier: Tier,
    tags: BTreeMap<String, String>,
}

fn wanted(state: &ServiceSecretState, diags: &mut Diagnostics) -> Option<Wanted> {
    check(state, diags);
    let (Some(name), Some(id), Some(marker), Some(kms_key_id), Some(tags)) = (
        state.parameter_name(),
        state.location.id().zip(state.key.known()).map(|(id, key)| format!("{id}/{key}")),
        state.marker(),
        state.kms_key_id.known().cloned().or(Some(DEFAULT_KMS_KEY.to_string())),
        known_map(&state.tags),
    ) else {
        diags.error("Provider bug: unknown values at apply", "The secret's configuration still has unknown values.");
        return None;
    };
    (!diags.has_errors()).then(|| Wanted {
        name,
        id,
        marker,
        kms_key_id,
        description: state.description.known().cloned(),
        tier: state.tier(),
        tags,
    })
}

/// The tags the parameter carries: the own over the defaults, and the marker.
fn all_tags(aws: &AwsContext, wanted: &Wanted) -> BTreeMap<String, String> {
    let mut all = tags::with_defaults(aws, &wanted.tags);
    all.insert(OWNER_TAG.to_string(), wanted.marker.clone());
    all
}

/// Creates the secret with `value` and every tag in one call; fails when
/// the name is taken (nothing is overwritten).
async fn create_new(aws: &AwsContext, wanted: &Wanted, value: &str) -> Step {
    let tags = all_tags(aws, wanted);
    parameters::put(aws, put_of(wanted, value, Some(&tags))).await.map(|_| ())
}

/// The put of `value` as `wanted`: created with `tags`, or with `None`
/// overwriting the parameter.
fn put_of<'a>(wanted: &'a Wanted, value: &'a str, tags: Option<&'a BTreeMap<String, String>>) -> Put<'a> {
    Put {
        name: &wanted.name,
        value,
        secure_with: Some(&wanted.kms_key_id),
        tier: wanted.tier,
        description: wanted.description.as_deref(),
        create_with_tags: tags,
    }
}

/// Whose the existing parameter is, by its tags (`claimed`: the state holds it).
async fn holder(aws: &AwsContext, wanted: &Wanted, claimed: bool) -> Step<Holder> {
    Ok(Holder::of(&parameters::tags(aws, &wanted.name).await?, &wanted.marker, claimed))
}

/// The refusal of a parameter that is not this secret's.
async fn refuse(aws: &AwsContext, wanted: &Wanted, holder: Holder, diags: &mut Diagnostics) {
    let account = match aws.whereabouts().await {
        Ok((account, _)) => account,
        Err(_) => "(unknown)".to_string(),
    };
    let foreign = Foreign {
        object: format!("SSM parameter {}", wanted.name),
        account,
        owner: match holder {
            Holder::Other(owner) => Some(owner),
            _ => None,
        },
    };
    diags.error("Parameter that is not this secret's", refused_message(wanted, &foreign));
}

fn refused_message(wanted: &Wanted, foreign: &Foreign) -> String {
    let import = if foreign.owner.is_none() {
        format!("If it is this secret, take it over with `terraform import ADDRESS {}` (ADDRESS: this resource's address in your configuration, e.g. `bokbasen_service_secret.db_password`; Terraform does not tell the provider its address; import IDs assume the default prefix and separator); the next apply marks it. ", wanted.id)
    } else {
        String::new()
    };
    refusal(
        &wanted.marker,
        std::slice::from_ref(foreign),
        &format!("{import}Otherwise rename: choose another `key` (or delete the parameter outside Terraform)."),
    )
    .replace("nothing was created.", "nothing was written.")
}

/// Writes the secret: the new value when given, else the stored one again
/// (to apply a new key, description or tier), overwriting. `Ok(false)`
/// when there is no value anywhere yet.
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
    parameters::put(aws, put_of(wanted, value, None)).await?;
    Ok(true)
}

async fn sync_tags(aws: &AwsContext, wanted: &Wanted) -> Step {
    parameters::sync_tags(aws, &wanted.name, &all_tags(aws, wanted)).await
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
    let mut stored_tags = parameters::tags(aws, &name).await?;
    let marker = state.marker().unwrap_or_default();
    match stored_tags.remove(OWNER_TAG) {
        Some(owner) if owner != marker => {
            return Err(format!(
                "{name} carries {OWNER_TAG} = {owner}: it belongs to that resource, not to this secret ({marker}). Choose another `key`, or remove this resource from the state (`terraform state rm`)."
            ))
        }
        Some(_) => {}
        None if state.claimed() => {}
        None => {
            // Someone else's: not taken over, shown as no value of this secret's.
            state.version = Attr::Known(0);
            diags.attribute_warning(
                AttributePath::attr("version"),
                "Parameter is not this secret's",
                format!("{name} exists, but bokbasen did not make it (it has no {OWNER_TAG} tag) and this resource's state does not hold it, so it is not taken over: an apply that writes it is refused. If it is this secret, import it: `terraform import ADDRESS {}` (ADDRESS: this resource's address).", state.id.known().cloned().unwrap_or_default()),
            );
            return Ok(state);
        }
    }
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
        // A value set beforehand with this secret's marker (`bokbasen secret set`, or an
        // interrupted apply) is taken over, its metadata brought in line; nothing else is.
        let existing = async {
            match parameters::describe(aws, &wanted.name).await? {
                Some(found) => Ok::<_, String>(Some((found, holder(aws, &wanted, false).await?))),
                None => Ok(None),
            }
        }
        .await;
        let existing = match existing {
            Ok(found) => found,
            Err(err) => {
                diags.error("Creating the secret failed", format!("{err}\n\nNothing was written."));
                return None;
            }
        };
        match existing {
            Some((_, holder)) if holder != Holder::This => {
                refuse(aws, &wanted, holder, diags).await;
                return None;
            }
            Some((found, _)) => {
                let result = async {
                    let exists = match planned.value_wo.known() {
                        Some(value) => write(aws, &wanted, Some(value)).await?,
                        None if stale(&found, &wanted) => write(aws, &wanted, None).await?,
                        None => true,
                    };
                    if exists {
                        sync_tags(aws, &wanted).await?;
                    }
                    Ok::<_, String>(())
                }
                .await;
                if let Err(err) = result {
                    diags.error(
                        "Creating the secret failed",
                        format!("{err}\n\nThe secret that existed before keeps its value, and its {OWNER_TAG} marker: the next apply takes it over again."),
                    );
                    return None;
                }
            }
            None => {
                if let Some(value) = planned.value_wo.known() {
                    // One call: nothing exists half made if it fails.
                    if let Err(err) = create_new(aws, &wanted, value).await {
                        diags.error("Creating the secret failed", format!("{err}\n\nNothing was created."));
                        return None;
                    }
                }
            }
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
        enum Outcome {
            Done,
            Refused(Holder),
        }
        let result = async {
            if !prior.claimed() {
                // The state holds no parameter: what is there now decides whose it is.
                if parameters::describe(aws, &wanted.name).await?.is_none() {
                    if let Some(value) = new_value {
                        create_new(aws, &wanted, value).await?;
                    }
                    return Ok(Outcome::Done);
                }
                let holder = holder(aws, &wanted, false).await?;
                if holder != Holder::This {
                    return Ok(Outcome::Refused(holder));
                }
            }
            let exists = if new_value.is_some() || metadata_changed {
                write(aws, &wanted, new_value.map(String::as_str)).await?
            } else {
                parameters::describe(aws, &wanted.name).await?.is_some()
            };
            if exists {
                sync_tags(aws, &wanted).await?;
            }
            Ok::<_, String>(Outcome::Done)
        }
        .await;
        match result {
            Ok(Outcome::Done) => {}
            Ok(Outcome::Refused(holder)) => {
                refuse(aws, &wanted, holder, diags).await;
                return None;
            }
            Err(err) => {
                diags.error("Updating the secret failed", err);
                return observe_or_report(aws, prior, "Reading back", diags).await;
            }
        }
        let mut state = planned;
        state.arn = prior.arn;
        observe_or_report(aws, state, "Reading back", diags).await
    }

    async fn delete(&self, aws: &AwsContext, prior: ServiceSecretState, diags: &mut Diagnostics) {
        let (Some(name), Some(marker)) = (prior.parameter_name(), prior.marker()) else { return };
        // Held by the state, or (made since the last refresh) carrying this secret's marker.
        let ours = prior.claimed() || {
            match parameters::describe(aws, &name).await {
                Ok(None) => false,
                Ok(Some(_)) => match parameters::tags(aws, &name).await {
                    Ok(tags) => Holder::of(&tags, &marker, false) == Holder::This,
                    Err(err) => {
                        diags.error("Deleting the secret failed", err);
                        return;
                    }
                },
                Err(err) => {
                    diags.error("Deleting the secret failed", err);
                    return;
                }
            }
        };
        if !ours {
            return;
        }
        if let Err(err) = parameters::delete(aws, &[name]).await {
            diags.error("Deleting the secret failed", err);
        }
    }

    /// Import takes over the parameter (the next apply marks it), unless it
    /// carries another resource's marker.
    async fn import(&self, aws: &AwsContext, id: &str, diags: &mut Diagnostics) -> Option<ServiceSecretState> {
        let parts = parse_id(id, 3, "service/environment/key", diags)?;
        let mut state = ServiceSecretState {
            location: LocationArgs::from_location(&ConfigLocation::new(&parts[0], &parts[1])),
            key: Attr::Known(parts[2].clone()),
            kms_key_id: Attr::Known(DEFAULT_KMS_KEY.into()),
            tier: Attr::Known(Tier::Standard.name().into()),
            ..ServiceSecretState::default()
        };
        let (Some(name), Some(marker)) = (state.parameter_name(), state.marker()) else { return Some(state) };
        let found = async {
            match parameters::describe(aws, &name).await? {
                Some(found) => Ok::<_, String>(Some((found.version, parameters::tags(aws, &name).await?))),
                None => Ok(None),
            }
        }
        .await;
        match found {
            Err(err) => {
                diags.error("Importing the secret failed", err);
                None
            }
            Ok(Some((_, tags))) if matches!(Holder::of(&tags, &marker, false), Holder::Other(_)) => {
                let owner = tags.get(OWNER_TAG).cloned().unwrap_or_default();
                diags.error(
                    "Import refused",
                    format!("{name} carries {OWNER_TAG} = {owner}: it belongs to that resource, not to {marker}, and is not imported."),
                );
                None
            }
            // The state holds it from now on; read does the rest.
            Ok(found) => {
                state.version = Attr::Known(found.map(|(version, _)| version).unwrap_or(0));
                Some(state)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_names_the_parameter_its_account_and_the_way_out() {
        let wanted = Wanted {
            name: "/config/ebook-api_test/db".into(),
            id: "ebook-api/test/db".into(),
            marker: "bokbasen_service_secret/ebook-api/test/db".into(),
            kms_key_id: DEFAULT_KMS_KEY.into(),
            description: None,
            tier: Tier::Standard,
            tags: BTreeMap::new(),
        };
        let unmarked =
            Foreign { object: format!("SSM parameter {}", wanted.name), account: "222222222222".into(), owner: None };
        let text = refused_message(&wanted, &unmarked);
        for expected in [
            "SSM parameter /config/ebook-api_test/db in account 222222222222 has no bokbasen:owner tag",
            "nothing was written",
            "`terraform import ADDRESS ebook-api/test/db`",
            "ADDRESS: this resource's address",
            "choose another `key`",
        ] {
            assert!(text.contains(expected), "{expected:?} in {text}");
        }
        let other = Foreign { owner: Some("bokbasen_service_config/ebook-api/test".into()), ..unmarked };
        let text = refused_message(&wanted, &other);
        assert!(text.contains("belongs to bokbasen_service_config/ebook-api/test"), "{text}");
        assert!(!text.contains("terraform import"), "import would refuse another's parameter: {text}");
    }
}
