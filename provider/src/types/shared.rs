//! What the types (and the provider block) share, in Terraform's terms: the
//! arguments that place a service's parameters in SSM with their checks and
//! import IDs, tags and external IDs checked at their attribute paths, maps
//! between state and plain values, and what a failed create says about what
//! it made. The rules themselves live in `bokbasen_pipeline` (`checks`,
//! `parameters`); this module only puts them at attribute paths.
//!
//! A leaf of the top layer: it imports no type and not the provider.

use std::collections::{BTreeMap, BTreeSet};

use bokbasen_pipeline::checks::{check_external_id, tag_problems, MAX_TAGS};
use bokbasen_pipeline::names::OWNER_TAG;
use bokbasen_pipeline::parameters::{ConfigLocation, Tier, DEFAULT_PREFIX, DEFAULT_SEPARATOR};
use serde::{Deserialize, Serialize};

use crate::aws::ownership::{self, Foreign};
use crate::aws::Step;
use crate::framework::{Attr, Attribute, Block, Diagnostics};
use crate::value::{AttributePath, Type};

/// What a failed create says about removing what it made: the rule is that
/// a failed create leaves no orphans, or says plainly that it may have.
pub fn cleanup_note(cleanup: Step) -> String {
    match cleanup {
        Ok(()) => "Everything created by this attempt was removed again.".to_string(),
        Err(err) => format!(
            "Removing what was created also failed ({err}); parts may remain. Run the apply again to complete it, or remove them by hand."
        ),
    }
}

/// The arguments that say where a service's parameters are.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LocationArgs {
    pub service: Attr<String>,
    pub environment: Attr<String>,
    pub prefix: Attr<String>,
    pub separator: Attr<String>,
}

impl LocationArgs {
    /// The location once every part is known.
    pub fn known(&self) -> Option<ConfigLocation> {
        Some(ConfigLocation {
            prefix: self.prefix.known().cloned().unwrap_or_else(|| DEFAULT_PREFIX.into()),
            separator: self.separator.known().cloned().unwrap_or_else(|| DEFAULT_SEPARATOR.into()),
            service: self.service.known()?.clone(),
            environment: self.environment.known()?.clone(),
        })
        .filter(|_| !self.prefix.is_unknown() && !self.separator.is_unknown())
    }

    pub fn from_location(location: &ConfigLocation) -> Self {
        LocationArgs {
            service: Attr::Known(location.service.clone()),
            environment: Attr::Known(location.environment.clone()),
            prefix: Attr::Known(location.prefix.clone()),
            separator: Attr::Known(location.separator.clone()),
        }
    }

    /// Problems of the known parts, each at its argument.
    pub fn check(&self, diags: &mut Diagnostics) {
        let probe = ConfigLocation {
            prefix: self.prefix.known().cloned().unwrap_or_else(|| DEFAULT_PREFIX.into()),
            separator: self.separator.known().cloned().unwrap_or_else(|| DEFAULT_SEPARATOR.into()),
            service: self.service.known().cloned().unwrap_or_else(|| "service".into()),
            environment: self.environment.known().cloned().unwrap_or_else(|| "env".into()),
        };
        for (field, message) in probe.problems() {
            let known = match field {
                "prefix" => self.prefix.known().is_some(),
                "separator" => self.separator.known().is_some(),
                "service" => self.service.known().is_some(),
                _ => self.environment.known().is_some(),
            };
            if known {
                diags.attribute_error(AttributePath::attr(field), format!("Invalid {field}"), message);
            }
        }
    }

    /// `service/environment`, the import ID.
    pub fn id(&self) -> Option<String> {
        Some(format!("{}/{}", self.service.known()?, self.environment.known()?))
    }
}

/// Splits an import ID `service/environment[/key]` with the default layout.
pub fn parse_id(id: &str, parts: usize, example: &str, diags: &mut Diagnostics) -> Option<Vec<String>> {
    let split: Vec<String> = id.splitn(parts, '/').map(str::to_string).collect();
    if split.len() != parts || split.iter().any(String::is_empty) {
        diags.error(
            "Invalid import ID",
            format!("{id:?} is not an import ID of this resource; write it as `{example}`."),
        );
        return None;
    }
    Some(split)
}

/// Adds `service`, `environment`, `prefix` and `separator` to `block`.
/// In resources, a change of any of them moves the parameters: replace.
pub fn location_attributes(block: Block, resource: bool) -> Block {
    let replace = |a: Attribute| if resource { a.requires_replace() } else { a };
    let optional = |name: &str, default: &str| {
        if resource {
            Attribute::optional(name, Type::String).default(default)
        } else {
            Attribute::optional(name, Type::String)
        }
    };
    block
        .attribute(replace(Attribute::required("service", Type::String)).description("Service name, as in `bokbasen_service_pipeline` (1–40 lowercase letters, digits and `-`)."))
        .attribute(replace(Attribute::required("environment", Type::String)).description("Environment, e.g. `test`, `stage`, `production` (Spring's profile)."))
        .attribute(replace(optional("prefix", DEFAULT_PREFIX)).description(format!("First levels of the path. Defaults to `{DEFAULT_PREFIX}`, which Spring Cloud AWS and Spring Cloud Config Server's `awsparamstore` backend read without settings.")))
        .attribute(replace(optional("separator", DEFAULT_SEPARATOR)).description(format!("Between service and environment (Spring's `profile-separator`). Defaults to `{DEFAULT_SEPARATOR}`.")))
}

/// A map whose every element is known.
pub fn known_map(map: &Attr<BTreeMap<String, Attr<String>>>) -> Option<BTreeMap<String, String>> {
    match map {
        Attr::Null => Some(BTreeMap::new()),
        Attr::Unknown => None,
        Attr::Known(items) => items.iter().map(|(k, v)| Some((k.clone(), v.known()?.clone()))).collect(),
    }
}

/// `values` as state holds them: null stays null when nothing is there.
pub fn state_map(
    values: BTreeMap<String, String>,
    prior: &Attr<BTreeMap<String, Attr<String>>>,
) -> Attr<BTreeMap<String, Attr<String>>> {
    if values.is_empty() && prior.is_null() {
        Attr::Null
    } else {
        Attr::Known(values.into_iter().map(|(k, v)| (k, Attr::Known(v))).collect())
    }
}

/// A set whose every element is known (null: empty).
pub fn known_set(list: &Attr<Vec<Attr<String>>>) -> Option<BTreeSet<String>> {
    match list {
        Attr::Null => Some(BTreeSet::new()),
        Attr::Unknown => None,
        Attr::Known(items) => items.iter().map(|i| i.known().cloned()).collect(),
    }
}

/// `items` as state holds a set: null stays null when nothing is there.
pub fn state_set(items: BTreeSet<String>, prior: &Attr<Vec<Attr<String>>>) -> Attr<Vec<Attr<String>>> {
    if items.is_empty() && prior.is_null() {
        Attr::Null
    } else {
        Attr::Known(items.into_iter().map(Attr::Known).collect())
    }
}

/// The parameter tier a `tier` argument names; `Standard` while unknown or invalid.
pub fn tier_of(tier: &Attr<String>) -> Tier {
    tier.known().and_then(|t| Tier::from_name(t)).unwrap_or(Tier::Standard)
}

/// Checks a known `tier` argument.
pub fn check_tier(tier: &Attr<String>, diags: &mut Diagnostics) {
    if let Some(Err(message)) = tier.known().map(|t| Tier::parse(t)) {
        diags.attribute_error(AttributePath::attr("tier"), "Invalid tier", message);
    }
}

/// SSM takes a parameter from Standard to Advanced, never back
/// (PutParameter refuses it); a parameter is only Standard again when it is
/// deleted and made anew. Refused at plan, unless the parameters are new
/// ones anyway (`same_parameters` false: another name or path).
pub fn check_tier_change(prior: &Attr<String>, planned: &Attr<String>, same_parameters: bool, diags: &mut Diagnostics) {
    let (Some(prior), Some(planned)) = (prior.known(), planned.known()) else { return };
    if same_parameters && Tier::parse(prior) == Ok(Tier::Advanced) && Tier::parse(planned) == Ok(Tier::Standard) {
        diags.attribute_error(
            AttributePath::attr("tier"),
            "Tier cannot go back to Standard",
            "SSM cannot move a parameter from the Advanced tier back to Standard. Keep `tier = \"Advanced\"`, or delete and re-create the parameters: `terraform apply -replace=<this resource>` (a secret's value must then be set again).",
        );
    }
}

/// Checks known tags (at `path`, e.g. `tags`) against AWS's tag rules.
pub fn check_tags(tags: &Attr<BTreeMap<String, Attr<String>>>, path: &AttributePath, diags: &mut Diagnostics) {
    let Attr::Known(items) = tags else { return };
    let known: BTreeMap<String, String> =
        items.iter().filter_map(|(k, v)| Some((k.clone(), v.known()?.clone()))).collect();
    for (key, message) in tag_problems(&known) {
        let at = match key {
            Some(key) => path.key(&key),
            None => path.clone(),
        };
        diags.attribute_error(at, "Invalid tags", message);
    }
}

/// Refuses `OWNER_TAG` (`bokbasen:owner`) among known user tags at `path`
/// (e.g. `tags`): bokbasen sets it on what it makes, so a configuration
/// could otherwise claim, or disown, an object. Also keeps room for it
/// under AWS's 50 tags.
pub fn check_owner_tag_free(
    tags: &Attr<BTreeMap<String, Attr<String>>>,
    path: &AttributePath,
    diags: &mut Diagnostics,
) {
    let Attr::Known(items) = tags else { return };
    if items.contains_key(OWNER_TAG) {
        diags.attribute_error(
            path.key(OWNER_TAG),
            "Reserved tag",
            format!("`{OWNER_TAG}` is bokbasen's own tag (it marks the resource that made an object); leave it out."),
        );
    }
    if items.len() == MAX_TAGS {
        diags.attribute_error(
            path.clone(),
            "Too many tags",
            format!(
                "{} tags are set; an object takes at most {MAX_TAGS}, one of them bokbasen's `{OWNER_TAG}`.",
                items.len()
            ),
        );
    }
}

/// Checks a known external ID at `path`; the value is never quoted.
pub fn check_external_id_at(external_id: &Attr<String>, path: &AttributePath, diags: &mut Diagnostics) {
    if let Some(Err(message)) = external_id.known().map(|id| check_external_id(id)) {
        diags.attribute_error(path.clone(), "Invalid external ID", message);
    }
}

pub fn tags_attribute() -> Attribute {
    Attribute::optional("tags", Type::map(Type::String)).description(
        "Tags of every parameter, over the provider's `default_tags`. At most 49 (bokbasen adds `bokbasen:owner`, the mark of the resource that made a parameter, which is never shown here and cannot be set); keys may not start with `aws:`.",
    )
}

/// Warns that `what` (e.g. "The deploy target is destroyed") kept the
/// objects with its names that are someone else's.
pub fn warn_left_alone(left_alone: &[Foreign], what: &str, diags: &mut Diagnostics) {
    if left_alone.is_empty() {
        return;
    }
    diags.warning(
        "Objects of other owners were left alone",
        format!("{what}; objects with its names that are not its own were kept:\n{}", ownership::listed(left_alone)),
    );
}
