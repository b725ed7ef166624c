//! The generic planning rules every resource gets.
//!
//! Terraform proposes a new state: the configuration, with computed
//! attributes the configuration leaves unset carried over from the prior
//! state. From that the provider decides which computed values become
//! "known after apply" and which changes force a replacement.

use super::{Block, Nesting};
use crate::value::{AttributePath, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct PlannedChange {
    pub planned: Value,
    pub requires_replace: Vec<AttributePath>,
}

/// Plans a create (`prior` null), an update, or a destroy (`proposed` null).
///
/// - Attributes with a default that the configuration leaves unset are
///   planned at their default, always (also when nothing else changed, so
///   an imported value that differs from the default shows as a change).
/// - On create every other computed attribute the configuration does not set is unknown.
/// - On update, when anything changed, such attributes become unknown too,
///   unless marked `use_state_for_unknown` (then the prior value stays).
/// - Attributes marked `requires_replace` whose planned value differs from
///   the prior one are reported, so Terraform plans a replacement.
pub fn plan_change(block: &Block, prior: &Value, proposed: &Value, config: &Value) -> PlannedChange {
    if proposed.is_null() {
        return PlannedChange { planned: Value::Null, requires_replace: Vec::new() };
    }
    let creating = prior.is_null();
    let mut planned = proposed.clone();
    apply_defaults(block, &mut planned, config);
    let changed = creating || prior != &planned;
    if changed {
        mark_unknown(block, &mut planned, config, creating);
    }
    let mut requires_replace = Vec::new();
    if !creating {
        find_replacements(block, prior, &planned, &AttributePath::root(), &mut requires_replace);
    }
    PlannedChange { planned, requires_replace }
}

fn is_configured(config: &Value, name: &str) -> bool {
    config.attribute(name).is_some_and(|v| !v.is_null())
}

/// Calls `visit` with each nested block's schema, planned value and configuration.
fn for_each_nested(
    block: &Block,
    planned: &mut Value,
    config: &Value,
    mut visit: impl FnMut(&Block, &mut Value, &Value),
) {
    let Value::Object(values) = planned else { return };
    for nested in &block.blocks {
        let (Some(value), config) = (values.get_mut(&nested.name), config.attribute(&nested.name)) else { continue };
        let config = config.unwrap_or(&Value::Null);
        match (nested.nesting, value) {
            (Nesting::Single | Nesting::Group, value @ Value::Object(_)) => visit(&nested.block, value, config),
            (Nesting::List, Value::List(items)) => {
                for (i, item) in items.iter_mut().enumerate() {
                    let item_config = match config {
                        Value::List(configs) => configs.get(i).unwrap_or(&Value::Null),
                        _ => &Value::Null,
                    };
                    visit(&nested.block, item, item_config);
                }
            }
            _ => {}
        }
    }
}

fn apply_defaults(block: &Block, planned: &mut Value, config: &Value) {
    if let Value::Object(values) = planned {
        for attr in &block.attributes {
            if let Some(default) = attr.default.as_ref().filter(|_| !is_configured(config, &attr.name)) {
                values.insert(attr.name.clone(), default.clone());
            }
        }
    }
    for_each_nested(block, planned, config, apply_defaults);
}

fn mark_unknown(block: &Block, planned: &mut Value, config: &Value, creating: bool) {
    let Value::Object(values) = planned else { return };
    for attr in block.attributes.iter().filter(|a| a.is_computed() && a.default.is_none()) {
        if !is_configured(config, &attr.name) && (creating || !attr.use_state_for_unknown) {
            values.insert(attr.name.clone(), Value::Unknown);
        }
    }
    for_each_nested(block, planned, config, |block, value, config| mark_unknown(block, value, config, creating));
}

fn find_replacements(
    block: &Block,
    prior: &Value,
    planned: &Value,
    path: &AttributePath,
    out: &mut Vec<AttributePath>,
) {
    for attr in block.attributes.iter().filter(|a| a.requires_replace) {
        let before = prior.attribute(&attr.name).unwrap_or(&Value::Null);
        let after = planned.attribute(&attr.name).unwrap_or(&Value::Null);
        if before != after {
            out.push(path.attribute(&attr.name));
        }
    }
    for nested in block.blocks.iter().filter(|b| matches!(b.nesting, Nesting::Single | Nesting::Group)) {
        if let (Some(before), Some(after)) = (prior.attribute(&nested.name), planned.attribute(&nested.name)) {
            find_replacements(&nested.block, before, after, &path.attribute(&nested.name), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::{Attribute, NestedBlock};
    use crate::value::{object, Type};

    fn block() -> Block {
        Block::new("")
            .attribute(Attribute::required("name", Type::String).requires_replace())
            .attribute(Attribute::optional("description", Type::String))
            .attribute(Attribute::computed("arn", Type::String).use_state_for_unknown())
            .attribute(Attribute::computed("version", Type::Number))
            .attribute(Attribute::optional_computed("region", Type::String))
            .block(NestedBlock::new(
                "settings",
                Nesting::Single,
                Block::new("")
                    .attribute(Attribute::optional("mode", Type::String).requires_replace())
                    .attribute(Attribute::computed("id", Type::String)),
            ))
    }

    fn state(name: &str, description: &str, mode: &str) -> Value {
        object([
            ("name", name.into()),
            ("description", description.into()),
            ("arn", "arn:1".into()),
            ("version", 1.into()),
            ("region", "eu-north-1".into()),
            ("settings", object([("mode", mode.into()), ("id", "s-1".into())])),
        ])
    }

    fn config_of(value: &Value) -> Value {
        let mut config = value.clone();
        for name in ["arn", "version", "region"] {
            *config.attribute_mut(name).unwrap() = Value::Null;
        }
        *config.attribute_mut("settings").unwrap().attribute_mut("id").unwrap() = Value::Null;
        config
    }

    #[test]
    fn create_marks_unset_computed_attributes_unknown() {
        let proposed = config_of(&state("svc", "d", "a"));
        let plan = plan_change(&block(), &Value::Null, &proposed, &proposed);
        for name in ["arn", "version", "region"] {
            assert_eq!(plan.planned.attribute(name), Some(&Value::Unknown), "{name}");
        }
        assert_eq!(plan.planned.attribute("settings").unwrap().attribute("id"), Some(&Value::Unknown));
        assert!(plan.requires_replace.is_empty());
    }

    #[test]
    fn no_change_plans_the_prior_state() {
        let prior = state("svc", "d", "a");
        let plan = plan_change(&block(), &prior, &prior, &config_of(&prior));
        assert_eq!(plan.planned, prior);
        assert!(plan.requires_replace.is_empty());
    }

    #[test]
    fn update_keeps_use_state_for_unknown_attributes() {
        let prior = state("svc", "d", "a");
        let proposed = state("svc", "changed", "a");
        let plan = plan_change(&block(), &prior, &proposed, &config_of(&proposed));
        assert_eq!(plan.planned.attribute("arn"), Some(&Value::from("arn:1")));
        assert_eq!(plan.planned.attribute("version"), Some(&Value::Unknown));
        assert!(plan.requires_replace.is_empty());
    }

    #[test]
    fn replacing_changes_are_reported_with_their_paths() {
        let prior = state("svc", "d", "a");
        let proposed = state("svc2", "d", "b");
        let plan = plan_change(&block(), &prior, &proposed, &config_of(&proposed));
        let paths: Vec<String> = plan.requires_replace.iter().map(ToString::to_string).collect();
        assert_eq!(paths, ["name", "settings.mode"]);
    }

    #[test]
    fn destroy_plans_null() {
        let plan = plan_change(&block(), &state("a", "b", "c"), &Value::Null, &Value::Null);
        assert_eq!(plan.planned, Value::Null);
    }

    #[test]
    fn defaults_are_planned_whenever_the_configuration_leaves_them_unset() {
        let block = Block::new("").attribute(Attribute::required("name", Type::String)).block(NestedBlock::new(
            "build",
            Nesting::List,
            Block::new("").attribute(Attribute::optional("cache", Type::String).default("none")),
        ));
        let with =
            |cache: Value| object([("name", "svc".into()), ("build", Value::List(vec![object([("cache", cache)])]))]);
        // Create: the default, known at plan.
        let plan = plan_change(&block, &Value::Null, &with(Value::Null), &with(Value::Null));
        assert_eq!(plan.planned, with("none".into()));
        // Imported with another value, configuration silent: back to the default.
        let plan = plan_change(&block, &with("local".into()), &with("local".into()), &with(Value::Null));
        assert_eq!(plan.planned, with("none".into()));
        // Configured: the configuration wins.
        let plan = plan_change(&block, &with("none".into()), &with("s3".into()), &with("s3".into()));
        assert_eq!(plan.planned, with("s3".into()));
    }
}
