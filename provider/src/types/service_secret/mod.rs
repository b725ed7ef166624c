//! `bokbasen_service_secret`: one secret of a service in one environment,
//! a `SecureString` at `/config/{service}_{environment}/{key}` encrypted
//! with a KMS key. Terraform manages that the secret exists and its
//! metadata; the value never enters plan, state or logs. It is set by
//! `bokbasen secret set` (stdin, through the AWS SDK) or, on Terraform 1.11
//! and later, through the write-only `value_wo`.
//!
//! Ownership: the parameter is this resource's when it carries its marker
//! `bokbasen:owner = bokbasen_service_secret/<service>/<env>/<key>` (which
//! the resource and `bokbasen secret set` both write when they create it),
//! or when the state recorded it existing (`version` above 0: made before
//! markers, or imported). Any other parameter of the name is refused.

use std::collections::BTreeMap;

mod resource;

use bokbasen_pipeline::parameters::{check_key, check_name, check_value, Tier, DEFAULT_KMS_KEY, MAX_DESCRIPTION};
pub use resource::ServiceSecret;
use serde::{Deserialize, Serialize};

use bokbasen_pipeline::names::owner_marker;

use super::shared::{
    check_owner_tag_free, check_tags, check_tier, location_attributes, tags_attribute, tier_of, LocationArgs,
};
use crate::framework::{Attr, Attribute, Block, Diagnostics, Schema};
use crate::value::{AttributePath, Type};

pub const TYPE_NAME: &str = "bokbasen_service_secret";

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ServiceSecretState {
    /// `service`, `environment`, `prefix`, `separator`.
    #[serde(flatten)]
    pub location: LocationArgs,
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
    fn tier(&self) -> Tier {
        tier_of(&self.tier)
    }

    /// The parameter name, once location and key are known.
    fn parameter_name(&self) -> Option<String> {
        Some(self.location.known()?.parameter_name(self.key.known()?))
    }

    /// This secret's owner marker, once location and key are known:
    /// `bokbasen_service_secret/<id>`.
    fn marker(&self) -> Option<String> {
        Some(owner_marker(TYPE_NAME, &format!("{}/{}", self.location.id()?, self.key.known()?)))
    }

    /// Whether the state holds the parameter as existing (and so as this
    /// resource's, marked or not).
    fn claimed(&self) -> bool {
        self.version.known().is_some_and(|v| *v > 0)
    }

    fn locate(&mut self) {
        if let (Some(id), Some(key), Some(name)) = (self.location.id(), self.key.known(), self.parameter_name()) {
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
        part(&state.location.service, "SERVICE"),
        part(&state.location.environment, "ENV"),
        part(&state.key, "KEY")
    )
}

fn schema() -> Schema {
    let block = location_attributes(
        Block::new("One secret of a service in one environment: a `SecureString` at `{prefix}/{service}{separator}{environment}/{key}`, encrypted with `kms_key_id`, next to the service's configuration, where Spring reads it. Terraform manages that it exists and its metadata (description, key, tier, tags, `version`); **its value is never in the plan, the state or the logs**. Set the value with `bokbasen secret set SERVICE ENV KEY` (from stdin), or on Terraform 1.11 and later with the write-only `value_wo` and `value_wo_version`. A secret without a value yet is reported with how to set it. The parameter carries `bokbasen:owner = bokbasen_service_secret/<service>/<environment>/<key>`, which `bokbasen secret set` writes too, so a value set beforehand is taken over; a parameter of that name without it (or with another resource's) is refused, naming the `terraform import` that takes it over.\n\nImport with `service/environment/key` (default prefix and separator).")
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
    let args = &state.location;
    args.check(diags);
    check_tags(&state.tags, &AttributePath::attr("tags"), diags);
    check_owner_tag_free(&state.tags, &AttributePath::attr("tags"), diags);
    if let Some(key) = state.key.known() {
        if let Err(message) = check_key(key) {
            diags.attribute_error(AttributePath::attr("key"), "Invalid secret key", message);
        } else if let Some(location) = args.known().filter(|l| l.problems().is_empty()) {
            if let Err(message) = check_name(&location.parameter_name(key)) {
                diags.attribute_error(AttributePath::attr("key"), "Parameter name refused by SSM", message);
            }
        }
    }
    check_tier(&state.tier, diags);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> ServiceSecretState {
        ServiceSecretState {
            location: LocationArgs {
                service: Attr::Known("ebook-api".into()),
                environment: Attr::Known("test".into()),
                ..LocationArgs::default()
            },
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
        assert_eq!(
            secret.marker().as_deref(),
            Some("bokbasen_service_secret/ebook-api/test/spring.datasource.password"),
            "the marker names the resource's id, as `bokbasen secret set` writes it"
        );
        assert_eq!(Some(format!("{TYPE_NAME}/{}", secret.id.known().unwrap())), secret.marker());
        let mut diags = Diagnostics::new();
        secret.value_wo_version = Attr::Known(2);
        check(&secret, &mut diags);
        assert!(!diags.has_errors() && !diags.is_empty(), "a version without a value is a warning");
    }

    #[test]
    fn the_owner_marker_is_no_user_tag() {
        let mut secret = state();
        secret.tags = Attr::Known(BTreeMap::from([("bokbasen:owner".to_string(), Attr::Known("mine".into()))]));
        let mut diags = Diagnostics::new();
        check(&secret, &mut diags);
        let paths: Vec<_> = diags.iter().filter_map(|d| d.path.clone()).collect();
        assert_eq!(paths, [AttributePath::attr("tags").key("bokbasen:owner")], "{diags:?}");
    }
}
