//! `bokbasen_service_config`: a service's non-secret configuration for one
//! environment, as `String` parameters under the path Spring reads
//! (`/config/{service}_{environment}/{key}`).
//!
//! State mirrors what is under the path: a key changed, removed or added
//! out of band shows as a change of `values` on that key. SecureStrings
//! under the same path are secrets (`bokbasen_service_secret`) and are
//! neither read nor touched here.
//!
//! Ownership: the resource writes and deletes only its own parameters —
//! those its state holds (`values` but `unowned_keys`), and those carrying
//! its marker `bokbasen:owner = bokbasen_service_config/<service>/<env>`,
//! which every parameter it creates gets. A key found under the path that
//! is neither shows in `values` (drift) and in `unowned_keys`; an apply
//! that would write or delete it is refused, and import takes it over.

use std::collections::BTreeMap;

mod data_source;
mod resource;

use bokbasen_pipeline::parameters::{check_key, check_name, check_value, ConfigLocation, Tier};
pub use data_source::ServiceConfigData;
pub use resource::ServiceConfig;
use serde::{Deserialize, Serialize};

use bokbasen_pipeline::names::owner_marker;

use super::shared::{
    check_owner_tag_free, check_tags, check_tier, location_attributes, tags_attribute, tier_of, LocationArgs,
};
use crate::framework::{Attr, Attribute, Block, Diagnostics, Schema};
use crate::value::{AttributePath, Type};

pub const TYPE_NAME: &str = "bokbasen_service_config";

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ServiceConfigState {
    /// `service`, `environment`, `prefix`, `separator`.
    #[serde(flatten)]
    pub location: LocationArgs,
    pub values: Attr<BTreeMap<String, Attr<String>>>,
    pub tier: Attr<String>,
    pub tags: Attr<BTreeMap<String, Attr<String>>>,
    pub id: Attr<String>,
    pub path: Attr<String>,
    pub parameter_arns: Attr<BTreeMap<String, String>>,
    pub spring_config_import: Attr<String>,
    /// Keys under the path that are not this resource's (shown in `values`
    /// as drift). Null in states written before it existed: all theirs.
    #[serde(default)]
    pub unowned_keys: Attr<Vec<Attr<String>>>,
}

/// The marker of the configuration at `location`: `bokbasen_service_config/service/environment`.
pub fn marker(location: &ConfigLocation) -> String {
    owner_marker(TYPE_NAME, &format!("{}/{}", location.service, location.environment))
}

impl ServiceConfigState {
    fn tier(&self) -> Tier {
        tier_of(&self.tier)
    }

    /// The computed attributes that follow from the location alone.
    pub fn locate(&mut self, location: &ConfigLocation) {
        self.id = LocationArgs::from_location(location).id().into();
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
        Block::new("A service's non-secret configuration for one environment, as SSM `String` parameters at `{prefix}/{service}{separator}{environment}/{key}` — the layout Spring Cloud AWS and Spring Cloud Config Server read without settings. Keys added, changed or removed outside Terraform show in the plan. Every parameter it creates carries `bokbasen:owner = bokbasen_service_config/<service>/<environment>`; an apply writes or deletes only its own (marked, or held in its state), so a key added by hand shows in the plan but an apply that would overwrite or delete it is refused until it is imported (or removed by hand). Secrets under the same path belong to `bokbasen_service_secret` and are left alone. SSM's limits (name characters and length, 15 levels, 4 KB values on the Standard tier) are checked at plan time.\n\nImport with `service/environment` (default prefix and separator).")
            .attribute(Attribute::required("values", Type::map(Type::String)).description("Key → value. Keys use `a-zA-Z0-9_.-`, dots kept as written (`spring.datasource.url`), `/` for levels. Values are 1 byte to 4 KB (8 KB with `tier = \"Advanced\"`)."))
            .attribute(Attribute::optional("tier", Type::String).default(Tier::Standard.name()).description(format!("Parameter tier: {}. Defaults to `Standard`; `Advanced` holds values up to 8 KB and is charged per parameter.", tiers.join(" or "))))
            .attribute(tags_attribute())
            .attribute(Attribute::computed("unowned_keys", Type::set(Type::String)).description("Keys found under the path that this resource did not write and has not imported (no `bokbasen:owner` marker of its own). They show in `values` as drift, but an apply never overwrites or deletes them: it is refused, naming them. `terraform import` takes them over.")),
        true,
    );
    Schema::new(computed_attributes(block))
}

/// Every problem with the known parts of a configuration, at its path.
fn check(state: &ServiceConfigState, diags: &mut Diagnostics) {
    state.location.check(diags);
    check_tags(&state.tags, &AttributePath::attr("tags"), diags);
    check_owner_tag_free(&state.tags, &AttributePath::attr("tags"), diags);
    check_tier(&state.tier, diags);
    let Attr::Known(values) = &state.values else { return };
    let location = state.location.known().filter(|l| l.problems().is_empty());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Resource;

    fn state(values: &[(&str, &str)]) -> ServiceConfigState {
        ServiceConfigState {
            location: LocationArgs {
                service: Attr::Known("ebook-api".into()),
                environment: Attr::Known("test".into()),
                prefix: Attr::Known("/config".into()),
                separator: Attr::Known("_".into()),
            },
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
        unknown.location.service = Attr::Unknown;
        assert!(error_paths(&unknown).is_empty());
    }

    #[test]
    fn the_owner_marker_is_refused_as_a_user_tag_at_its_key() {
        let mut tagged = state(&[("a", "1")]);
        tagged.tags = Attr::Known(BTreeMap::from([(
            "bokbasen:owner".to_string(),
            Attr::Known("bokbasen_service_config/other/test".into()),
        )]));
        let mut diags = Diagnostics::new();
        check(&tagged, &mut diags);
        let shown = format!("{diags:?}");
        assert!(shown.contains("Reserved tag"), "{shown}");
        assert_eq!(error_paths(&tagged), [format!("{:?}", AttributePath::attr("tags").key("bokbasen:owner"))]);
        let full: BTreeMap<String, Attr<String>> =
            (0..50).map(|i| (format!("t{i}"), Attr::Known("x".into()))).collect();
        tagged.tags = Attr::Known(full);
        assert_eq!(error_paths(&tagged).len(), 1, "50 tags leave no room for the marker");
        assert_eq!(marker(&tagged.location.known().unwrap()), "bokbasen_service_config/ebook-api/test");
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
