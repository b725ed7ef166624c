//! `bokbasen_service_secret`: one secret of a service in one environment,
//! a `SecureString` at `/config/{service}_{environment}/{key}` encrypted
//! with a KMS key. Terraform manages that the secret exists and its
//! metadata; the value never enters plan, state or logs. It is set by
//! `bokbasen secret set` (stdin, through the AWS SDK) or, on Terraform 1.11
//! and later, through the write-only `value_wo`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use bokbasen_pipeline::parameters::{
    check_arn_length, check_key, check_name, check_value, ConfigLocation, Tier, DEFAULT_KMS_KEY, MAX_DESCRIPTION,
};
use serde::{Deserialize, Serialize};

use super::layout::{
    check_tags, known_map, location_attributes, own_tags, parse_id, state_map, tags_attribute, wanted_tags,
    LocationArgs,
};
use crate::aws::parameters::{self, Metadata, Put};
use crate::aws::{AwsContext, Step};
use crate::framework::{Attr, Attribute, Block, Diagnostics, Resource, Schema};
use crate::value::{AttributePath, Type};

pub const TYPE_NAME: &str = "bokbasen_service_secret";

pub struct ServiceSecret;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ServiceSecretState {
    pub service: Attr<String>,
    pub environment: Attr<String>,
    pub prefix: Attr<String>,
    pub separator: Attr<String>,
    pub key: Attr<String>,
    pub description: Attr<String>,
    pub kms_key_id: Attr<String>,
    pub tier: Attr<String>,
    pub tags: Attr<BTreeMap<String, Attr<String>>>,
    /// Write-only: present only while applying, from the configuration.
    pub value_wo: Attr<String>,
    pub value_wo_version: Attr<i64>,
    pub id: Attr<String>,
    pub name: Attr<String>,
    pub arn: Attr<String>,
    pub version: Attr<i64>,
}

impl ServiceSecretState {
    fn location_args(&self) -> LocationArgs {
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

    /// The parameter name, once location and key are known.
    fn parameter_name(&self) -> Option<String> {
        Some(self.location_args().known()?.parameter_name(self.key.known()?))
    }

    fn locate(&mut self) {
        if let (Some(id), Some(key), Some(name)) = (self.location_args().id(), self.key.known(), self.parameter_name())
        {
            self.id = Attr::Known(format!("{id}/{key}"));
            self.name = Attr::Known(name);
        }
    }
}

/// How to set a value without Terraform, for messages.
fn set_hint(state: &ServiceSecretState) -> String {
    let part = |a: &Attr<String>, placeholder: &str| a.known().cloned().unwrap_or_else(|| placeholder.to_string());
    format!(
        "`bokbasen secret set {} {} {}` (reads the value from stdin or a prompt)",
        part(&state.service, "SERVICE"),
        part(&state.environment, "ENV"),
        part(&state.key, "KEY")
    )
}

fn schema() -> Schema {
    let block = location_attributes(
        Block::new("One secret of a service in one environment: a `SecureString` at `{prefix}/{service}{separator}{environment}/{key}`, encrypted with `kms_key_id`, next to the service's configuration, where Spring reads it. Terraform manages that it exists and its metadata (description, key, tier, tags, `version`); **its value is never in the plan, the state or the logs**. Set the value with `bokbasen secret set SERVICE ENV KEY` (from stdin), or on Terraform 1.11 and later with the write-only `value_wo` and `value_wo_version`. A secret without a value yet is reported with how to set it.\n\nImport with `service/environment/key` (default prefix and separator).")
            .attribute(Attribute::required("key", Type::String).requires_replace().description("The secret's key, e.g. `spring.datasource.password` or `flyway/password`; `a-zA-Z0-9_.-`, `/` for levels."))
            .attribute(Attribute::optional("description", Type::String).description("What the secret is for, shown in the SSM console (at most 1024 characters)."))
            .attribute(Attribute::optional("kms_key_id", Type::String).default(DEFAULT_KMS_KEY).description(format!("KMS key (ID, ARN or alias) that encrypts the value. Defaults to `{DEFAULT_KMS_KEY}`. Changing it re-encrypts the stored value in place."))) 
            .attribute(Attribute::optional("tier", Type::String).default(Tier::Standard.name()).description("`Standard` (values up to 4 KB) or `Advanced` (8 KB). Defaults to `Standard`."))
            .attribute(tags_attribute())
            .attribute(Attribute::optional("value_wo", Type::String).write_only("set the value with `bokbasen secret set SERVICE ENV KEY`, which reads it from stdin").description("The value, write-only (Terraform 1.11 and later): sent to AWS during apply, never stored in plan or state. Written when the secret is created and whenever `value_wo_version` changes. Refused on older Terraform, which would store it."))
            .attribute(Attribute::optional("value_wo_version", Type::Number).description("Change this number to write `value_wo` again (Terraform cannot see changes of a write-only value)."))
            .attribute(Attribute::computed("id", Type::String).use_state_for_unknown().description("`service/environment/key`."))
            .attribute(Attribute::computed("name", Type::String).use_state_for_unknown().description("The parameter name, e.g. `/config/ebook-api_test/spring.datasource.password`."))
            .attribute(Attribute::computed("arn", Type::String).use_state_for_unknown().description("The parameter's ARN, for IAM policies."))
            .attribute(Attribute::computed("version", Type::Number).description("The parameter's version in SSM: grows with every write; `0` while no value is set.")),
        true,
    );
    Schema::new(block)
}

fn check(state: &ServiceSecretState, diags: &mut Diagnostics) {
    let args = state.location_args();
    args.check(diags);
    check_tags(&state.tags, diags);
    if let Some(key) = state.key.known() {
        if let Err(message) = check_key(key) {
            diags.attribute_error(AttributePath::attr("key"), "Invalid secret key", message);
        } else if let Some(location) = args.known().filter(|l| l.problems().is_empty()) {
            if let Err(message) = check_name(&location.parameter_name(key)) {
                diags.attribute_error(AttributePath::attr("key"), "Parameter name refused by SSM", message);
            }
        }
    }
    if let Some(tier) = state.tier.known() {
        if Tier::from_name(tier).is_none() {
            diags.attribute_error(
                AttributePath::attr("tier"),
                "Invalid tier",
                format!("{tier:?} is not a parameter tier; use `Standard` or `Advanced`."),
            );
        }
    }
    if let Some(description) = state.description.known() {
        if description.chars().count() > MAX_DESCRIPTION {
            diags.attribute_error(
                AttributePath::attr("description"),
                "Description too long",
                format!("SSM keeps at most {MAX_DESCRIPTION} characters of description."),
            );
        }
    }
    if state.kms_key_id.known().is_some_and(|k| k.trim().is_empty()) {
        diags.attribute_error(
            AttributePath::attr("kms_key_id"),
            "Invalid KMS key",
            format!("Name a KMS key, or leave `kms_key_id` out for `{DEFAULT_KMS_KEY}`."),
        );
    }
    // Never quoted: the problem says only the size.
    if let Some(value) = state.value_wo.known() {
        if let Err(problem) = check_value(value, state.tier()) {
            diags.attribute_error(AttributePath::attr("value_wo"), "Secret value refused by SSM", problem.to_string());
        }
    }
    if state.value_wo.is_null() && state.value_wo_version.known().is_some() {
        diags.attribute_warning(
            AttributePath::attr("value_wo_version"),
            "Nothing to write",
            "`value_wo_version` only has an effect together with `value_wo`.",
        );
    }
}

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
    let current = parameters::tags(aws, &wanted.name).await?;
    parameters::sync_tags(aws, &wanted.name, &current, &wanted_tags(aws, &wanted.tags)).await
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
    let Some(location) = state.location_args().known() else { return Ok(state) };
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
    let tags = parameters::tags(aws, &name).await?;
    if tags != wanted_tags(aws, &prior_tags) {
        state.tags = state_map(own_tags(aws, tags, &prior_tags), &state.tags);
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
        _prior: Option<&ServiceSecretState>,
        planned: &mut ServiceSecretState,
        diags: &mut Diagnostics,
    ) {
        check(planned, diags);
        planned.locate();
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
                super::cleanup_note(parameters::delete(aws, std::slice::from_ref(&wanted.name)).await)
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
        let args = LocationArgs::from_location(&ConfigLocation::new(&parts[0], &parts[1]));
        Some(ServiceSecretState {
            service: args.service,
            environment: args.environment,
            prefix: args.prefix,
            separator: args.separator,
            key: Attr::Known(parts[2].clone()),
            kms_key_id: Attr::Known(DEFAULT_KMS_KEY.into()),
            tier: Attr::Known(Tier::Standard.name().into()),
            ..ServiceSecretState::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> ServiceSecretState {
        ServiceSecretState {
            service: Attr::Known("ebook-api".into()),
            environment: Attr::Known("test".into()),
            key: Attr::Known("spring.datasource.password".into()),
            tier: Attr::Known("Standard".into()),
            kms_key_id: Attr::Known(DEFAULT_KMS_KEY.into()),
            ..ServiceSecretState::default()
        }
    }

    #[test]
    fn a_refused_value_is_described_not_quoted() {
        let mut secret = state();
        let value = "hunter2-".repeat(600);
        secret.value_wo = Attr::Known(value.clone());
        let mut diags = Diagnostics::new();
        check(&secret, &mut diags);
        let shown = format!("{diags:?}");
        assert!(diags.has_errors());
        assert!(shown.contains("4800 bytes") && !shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn names_and_hints_follow_the_layout() {
        let mut secret = state();
        secret.locate();
        assert_eq!(secret.id, Attr::Known("ebook-api/test/spring.datasource.password".into()));
        assert_eq!(secret.name, Attr::Known("/config/ebook-api_test/spring.datasource.password".into()));
        assert!(set_hint(&secret).contains("bokbasen secret set ebook-api test spring.datasource.password"));
        let mut diags = Diagnostics::new();
        secret.value_wo_version = Attr::Known(2);
        check(&secret, &mut diags);
        assert!(!diags.has_errors() && !diags.is_empty(), "a version without a value is a warning");
    }
}
