//! Tags, the same way for every kind of AWS object bokbasen writes: the
//! provider's default tags under an object's own, the way back from what
//! AWS holds to the object's own tags, and what to send to make an object's
//! tags exactly the wanted ones. Each service module applies the last with
//! its own tag and untag calls.

use std::collections::BTreeMap;

use super::AwsContext;

/// The tags an object gets: the provider's `default_tags` under its own.
pub fn with_defaults(aws: &AwsContext, own: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut tags = aws.default_tags.clone();
    tags.extend(own.clone());
    tags
}

/// The inverse of [`with_defaults`]: an object's own tags among those AWS
/// holds. A key equal to a default tag counts as the object's own only
/// when `prior` (its state) says so.
pub fn without_defaults(
    aws: &AwsContext,
    mut observed: BTreeMap<String, String>,
    prior: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    observed.retain(|key, value| prior.contains_key(key) || aws.default_tags.get(key) != Some(value));
    observed
}

/// What turns an object's `current` tags into exactly `wanted`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagChanges {
    /// Keys to untag.
    pub remove: Vec<String>,
    /// Tags to set: new keys and changed values.
    pub set: BTreeMap<String, String>,
}

impl TagChanges {
    pub fn between(current: &BTreeMap<String, String>, wanted: &BTreeMap<String, String>) -> TagChanges {
        TagChanges {
            remove: current.keys().filter(|k| !wanted.contains_key(*k)).cloned().collect(),
            set: wanted
                .iter()
                .filter(|(k, v)| current.get(*k) != Some(*v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn changes_remove_stale_keys_and_set_only_what_differs() {
        let current = tags(&[("team", "books"), ("stale", "x"), ("same", "1")]);
        let wanted = tags(&[("team", "audio"), ("same", "1"), ("new", "y")]);
        let changes = TagChanges::between(&current, &wanted);
        assert_eq!(changes.remove, ["stale"]);
        assert_eq!(changes.set, tags(&[("new", "y"), ("team", "audio")]));
        assert_eq!(TagChanges::between(&wanted, &wanted), TagChanges::default());
    }
}
