//! The resource: writes the values under the path, reads back what is
//! there for drift, removes the keys it wrote. Only its own parameters are
//! written or deleted: an apply first decides every key ([`decide`]) and
//! is refused, with nothing written, when one of them is someone else's.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use bokbasen_pipeline::parameters::{check_arn_length, ConfigLocation, Tier, DEFAULT_PREFIX, DEFAULT_SEPARATOR};

use super::{check, marker, schema, ServiceConfigState, TYPE_NAME};
use crate::aws::ownership::{refusal, Foreign, Holder, OWNER_TAG};
use crate::aws::parameters::{self, Put, Stored};
use crate::aws::{tags, AwsContext, Step};
use crate::framework::{Attr, Diagnostics, Resource, Schema};
use crate::types::shared::{
    check_tier_change, cleanup_note, known_map, known_set, parse_id, state_map, state_set, LocationArgs,
};
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
/// before anything is written. Returns the account.
async fn check_arns(aws: &AwsContext, wanted: &Wanted, diags: &mut Diagnostics) -> Option<String> {
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
    (!diags.has_errors()).then_some(account)
}

/// The keys `state` holds as this resource's: its values but the unowned.
fn claimed(state: &ServiceConfigState) -> BTreeSet<String> {
    let unowned = known_set(&state.unowned_keys).unwrap_or_default();
    match &state.values {
        Attr::Known(values) => values.keys().filter(|k| !unowned.contains(*k)).cloned().collect(),
        _ => BTreeSet::new(),
    }
}

/// The `String` parameters under the path, by key (SecureStrings are secrets).
async fn present(aws: &AwsContext, location: &ConfigLocation) -> Step<BTreeMap<String, Stored>> {
    Ok(parameters::list_path(aws, &location.path())
        .await?
        .into_iter()
        .filter(|p| !p.secure)
        .filter_map(|p| Some((location.key_of(&p.name)?.to_string(), p)))
        .collect())
}

/// Whose each present, unclaimed parameter is, by its tags: one
/// ListTagsForResource per such key, none for what the state holds.
async fn holders(
    aws: &AwsContext,
    location: &ConfigLocation,
    present: &BTreeMap<String, Stored>,
    claimed: &BTreeSet<String>,
) -> Step<BTreeMap<String, Holder>> {
    let marker = marker(location);
    let mut found = BTreeMap::new();
    for (key, p) in present.iter().filter(|(k, _)| !claimed.contains(*k)) {
        found.insert(key.clone(), Holder::of(&parameters::tags(aws, &p.name).await?, &marker, false));
    }
    Ok(found)
}

/// What an apply does with each key, decided before anything is written.
#[derive(Debug, Default, PartialEq, Eq)]
struct Changes {
    /// Missing keys: created with their tags (marker included) in one call.
    create: Vec<String>,
    /// This resource's parameters whose value (or tier) changes.
    overwrite: Vec<String>,
    /// Existing ones whose tags are made exactly the wanted ones: all when
    /// the tags change, and those taken over by their marker.
    retag: Vec<String>,
    /// Claimed ones rewritten without a tag change: they get the marker
    /// (a parameter from before markers has none).
    mark: Vec<String>,
    /// This resource's parameters no longer wanted.
    delete: Vec<String>,
    /// Someone else's parameters the apply would write or delete.
    refused: Vec<(String, Holder)>,
}

/// Decides each key. `present`: what is under the path (key → value);
/// `claimed`: what the state holds; `holders`: whose the other present
/// keys are; `planned_removal`: keys the plan removes from `values`.
fn decide(
    wanted: &BTreeMap<String, String>,
    present: &BTreeMap<String, Option<String>>,
    claimed: &BTreeSet<String>,
    holders: &BTreeMap<String, Holder>,
    planned_removal: &BTreeSet<String>,
    new_tier: bool,
    new_tags: bool,
) -> Changes {
    let mut changes = Changes::default();
    let holder = |key: &String| holders.get(key).cloned().unwrap_or(Holder::Unmarked);
    let ours = |key: &String| claimed.contains(key) || holder(key) == Holder::This;
    for (key, value) in wanted {
        let Some(current) = present.get(key) else {
            changes.create.push(key.clone());
            continue;
        };
        if !ours(key) {
            changes.refused.push((key.clone(), holder(key)));
            continue;
        }
        let rewrite = new_tier || current.as_deref() != Some(value.as_str());
        if rewrite {
            changes.overwrite.push(key.clone());
        }
        if new_tags || !claimed.contains(key) {
            changes.retag.push(key.clone());
        } else if rewrite {
            changes.mark.push(key.clone());
        }
    }
    for key in present.keys().filter(|k| !wanted.contains_key(*k)) {
        if ours(key) {
            changes.delete.push(key.clone());
        } else if planned_removal.contains(key) {
            changes.refused.push((key.clone(), holder(key)));
        }
        // Anything else is not ours and not in the plan: left alone.
    }
    changes
}

/// The refusal: each parameter named with its account and owner, nothing
/// changed, and the ways out.
fn refused_message(location: &ConfigLocation, account: &str, refused: &[(String, Holder)]) -> String {
    let foreign: Vec<Foreign> = refused
        .iter()
        .map(|(key, holder)| Foreign {
            object: format!("SSM parameter {}", location.parameter_name(key)),
            account: account.to_string(),
            owner: match holder {
                Holder::Other(owner) => Some(owner.clone()),
                _ => None,
            },
        })
        .collect();
    let id = format!("{}/{}", location.service, location.environment);
    let import = if location.prefix == DEFAULT_PREFIX && location.separator == DEFAULT_SEPARATOR {
        format!(
            "If the unmarked ones are this configuration's, take them over with `terraform import ADDRESS {id}` (ADDRESS: this resource's address in your configuration, e.g. `bokbasen_service_config.{}_{}`; Terraform does not tell the provider its address): import takes every String parameter under {} and the next apply marks them.",
            location.service.replace('-', "_"),
            location.environment.replace('-', "_"),
            location.path()
        )
    } else {
        format!(
            "Import takes only the default prefix `{DEFAULT_PREFIX}` and separator `{DEFAULT_SEPARATOR}`, so for {} there is no import.",
            location.path()
        )
    };
    let list: Vec<String> = foreign.iter().map(|f| format!("  - {f}")).collect();
    format!(
        "Parameters under {} that {} would write or delete are not its own:\n{}\nNothing was written or deleted.\n\n{import} A parameter of another bokbasen resource stays with it. Otherwise rename: choose other keys in `values`, or move or delete those parameters outside Terraform.",
        location.path(),
        marker(location),
        list.join("\n")
    )
}

/// Carries out `changes`; on failure returns the names created so far
/// with the error, so a failed create removes exactly those.
async fn write(aws: &AwsContext, wanted: &Wanted, changes: &Changes, tier: Tier) -> Result<(), (Vec<String>, String)> {
    let marker = marker(&wanted.location);
    let mut tags = tags::with_defaults(aws, &wanted.tags);
    tags.insert(OWNER_TAG.to_string(), marker.clone());
    let name = |key: &String| wanted.location.parameter_name(key);
    let mut created = Vec::new();
    for key in &changes.create {
        let name = name(key);
        let value = &wanted.values[key];
        let request =
            Put { name: &name, value, secure_with: None, tier, description: None, create_with_tags: Some(&tags) };
        parameters::put(aws, request).await.map_err(|err| (created.clone(), err))?;
        created.push(name);
    }
    let fail = |err: String| (created.clone(), err);
    for key in &changes.overwrite {
        let name = name(key);
        let request = Put {
            name: &name,
            value: &wanted.values[key],
            secure_with: None,
            tier,
            description: None,
            create_with_tags: None,
        };
        parameters::put(aws, request).await.map_err(fail)?;
    }
    for key in &changes.retag {
        parameters::sync_tags(aws, &name(key), &tags).await.map_err(fail)?;
    }
    let mark = BTreeMap::from([(OWNER_TAG.to_string(), marker)]);
    for key in &changes.mark {
        parameters::add_tags(aws, &name(key), &mark).await.map_err(fail)?;
    }
    let removed: Vec<String> = changes.delete.iter().map(name).collect();
    parameters::delete(aws, &removed).await.map_err(fail)
}

/// How read back treats keys under the path that are not this resource's.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unowned {
    /// Refresh: in `values` too, so the plan shows them (drift).
    Drift,
    /// After an apply whose plan left `unowned_keys` unknown: listed there only.
    Listed,
    /// After an apply whose plan kept `unowned_keys`: kept as planned
    /// (what appeared since shows at the next refresh).
    AsPlanned,
}

/// State from what is under the path: `owned` are this resource's keys;
/// `None` when none of them is there. A parameter of the state carrying
/// another resource's marker is refused (an error).
async fn observe(
    aws: &AwsContext,
    location: &ConfigLocation,
    prior: &ServiceConfigState,
    owned: &BTreeSet<String>,
    unowned: Unowned,
) -> Step<Option<ServiceConfigState>> {
    let present = present(aws, location).await?;
    let (mine, others): (BTreeMap<String, Stored>, BTreeMap<String, Stored>) =
        present.into_iter().partition(|(k, _)| owned.contains(k));
    if mine.is_empty() {
        return Ok(None);
    }
    let marker = marker(location);
    let prior_tags = known_map(&prior.tags).unwrap_or_default();
    let wanted = tags::with_defaults(aws, &prior_tags);
    // The tags of the first parameter that differs from what is wanted, if any
    // (the marker aside: it never shows in `tags`).
    let mut observed_tags = None;
    for p in mine.values() {
        let mut tags = parameters::tags(aws, &p.name).await?;
        match tags.remove(OWNER_TAG) {
            Some(owner) if owner != marker => {
                return Err(format!(
                    "SSM parameter {} carries {OWNER_TAG} = {owner}: it belongs to that resource, not to {marker}. Remove it from this configuration's state (`terraform state rm`) or hand it back by tagging it {OWNER_TAG} = {marker}.",
                    p.name
                ))
            }
            _ => {}
        }
        if observed_tags.is_none() && tags != wanted {
            observed_tags = Some(tags);
        }
    }
    let tags = match observed_tags {
        Some(observed) => state_map(tags::without_defaults(aws, observed, &prior_tags), &prior.tags),
        None => prior.tags.clone(),
    };
    let shown: BTreeMap<&String, &Stored> =
        mine.iter().chain(others.iter().filter(|_| unowned == Unowned::Drift)).collect();
    let unowned_keys = match unowned {
        Unowned::AsPlanned => prior.unowned_keys.clone(),
        _ => state_set(others.keys().cloned().collect(), &prior.unowned_keys),
    };
    let mut state = ServiceConfigState {
        values: state_map(
            shown.iter().map(|(k, p)| (k.to_string(), p.value.clone().unwrap_or_default())).collect(),
            &prior.values,
        ),
        parameter_arns: Attr::Known(shown.iter().map(|(k, p)| (k.to_string(), p.arn.clone())).collect()),
        tags,
        tier: if prior.tier.is_null() { Attr::Known(Tier::Standard.name().into()) } else { prior.tier.clone() },
        unowned_keys,
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
    owned: &BTreeSet<String>,
    unowned: Unowned,
    what: &str,
    diags: &mut Diagnostics,
) -> Option<ServiceConfigState> {
    match observe(aws, location, &state, owned, unowned).await {
        Ok(Some(observed)) => Some(observed),
        Ok(None) => None,
        Err(err) => {
            diags.error(format!("{what} the configuration failed"), err);
            Some(state)
        }
    }
}

/// Everything an apply decides before it writes: `None` (with an error)
/// when it must not go on.
async fn prepare(
    aws: &AwsContext,
    wanted: &Wanted,
    prior: Option<&ServiceConfigState>,
    new_tier: bool,
    new_tags: bool,
    diags: &mut Diagnostics,
) -> Option<(Changes, BTreeSet<String>, BTreeMap<String, Holder>)> {
    let account = check_arns(aws, wanted, diags).await?;
    let claimed = prior.map(claimed).unwrap_or_default();
    let found = async {
        let present = present(aws, &wanted.location).await?;
        let holders = holders(aws, &wanted.location, &present, &claimed).await?;
        Ok::<_, String>((present, holders))
    }
    .await;
    let (present, holders) = match found {
        Ok(found) => found,
        Err(err) => {
            diags.error("Writing the configuration failed", format!("{err}\n\nNothing was written."));
            return None;
        }
    };
    let planned_removal: BTreeSet<String> = prior
        .and_then(|p| p.values.known())
        .map(|v| v.keys().filter(|k| !wanted.values.contains_key(*k)).cloned().collect())
        .unwrap_or_default();
    let values: BTreeMap<String, Option<String>> = present.into_iter().map(|(k, p)| (k, p.value)).collect();
    let changes = decide(&wanted.values, &values, &claimed, &holders, &planned_removal, new_tier, new_tags);
    if !changes.refused.is_empty() {
        diags.error(
            "Parameters that are not this configuration's",
            refused_message(&wanted.location, &account, &changes.refused),
        );
        return None;
    }
    Some((changes, claimed, holders))
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
        // Unowned keys are known after an apply only when there were none.
        let unowned = prior.map(|p| known_set(&p.unowned_keys).unwrap_or_default());
        planned.unowned_keys = match (prior, &unowned) {
            (Some(prior), Some(keys)) if keys.is_empty() => prior.unowned_keys.clone(),
            _ => Attr::Unknown,
        };
        // Said now, refused at apply (unless a key turns out to carry this resource's marker).
        let (Some(keys), Some(prior_values), Attr::Known(planned_values)) =
            (unowned, prior.and_then(|p| known_map(&p.values)), &planned.values)
        else {
            return;
        };
        for key in keys {
            if planned_values.get(&key).map(|v| v.known()) != Some(prior_values.get(&key)) {
                diags.attribute_warning(
                    AttributePath::attr("values").key(&key),
                    "Not this configuration's parameter",
                    format!("The parameter of {key:?} was not written by this resource and is not in its state: the apply will refuse to change or delete it, unless it carries this resource's {OWNER_TAG} marker. Import the configuration to take it over."),
                );
            }
        }
    }

    async fn create(
        &self,
        aws: &AwsContext,
        planned: ServiceConfigState,
        diags: &mut Diagnostics,
    ) -> Option<ServiceConfigState> {
        let wanted = wanted(&planned, diags)?;
        let (changes, claimed, holders) = prepare(aws, &wanted, None, false, false, diags).await?;
        if let Err((created, err)) = write(aws, &wanted, &changes, planned.tier()).await {
            let cleanup = parameters::delete(aws, &created).await;
            let failed = cleanup.is_err();
            diags.error("Writing the configuration failed", format!("{err}\n\n{}", cleanup_note(cleanup)));
            if !failed {
                return None;
            }
            // What is left is recorded (tainted), so nothing is orphaned.
            let mut owned = claimed;
            owned.extend(holders.into_iter().filter(|(_, h)| *h == Holder::This).map(|(k, _)| k));
            owned.extend(created.iter().filter_map(|n| wanted.location.key_of(n)).map(str::to_string));
            return observe_or_report(aws, &wanted.location, planned, &owned, Unowned::Listed, "Reading back", diags)
                .await;
        }
        let owned: BTreeSet<String> = wanted.values.keys().cloned().collect();
        observe_or_report(aws, &wanted.location, planned, &owned, Unowned::Listed, "Reading back", diags).await
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
        let owned = claimed(&current);
        observe_or_report(aws, &location, current, &owned, Unowned::Drift, "Reading", diags).await
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: ServiceConfigState,
        planned: ServiceConfigState,
        diags: &mut Diagnostics,
    ) -> Option<ServiceConfigState> {
        let wanted = wanted(&planned, diags)?;
        let new_tier = prior.tier.known() != planned.tier.known();
        // Every key's tags are made exact, not only when `tags` changes: after
        // an update that failed half way keys can differ, which the one `tags`
        // attribute cannot show (one ListTagsForResource per key, at apply only).
        let new_tags = true;
        let (changes, _, _) = prepare(aws, &wanted, Some(&prior), new_tier, new_tags, diags).await?;
        let unowned = if planned.unowned_keys.is_unknown() { Unowned::Listed } else { Unowned::AsPlanned };
        if let Err((_, err)) = write(aws, &wanted, &changes, planned.tier()).await {
            diags.error(
                "Updating the configuration failed",
                format!(
                    "{err}\n\nKeys already written keep their new values; run the apply again to complete the change."
                ),
            );
            // State follows AWS: the framework records what a read finds now.
            return None;
        }
        let owned: BTreeSet<String> = wanted.values.keys().cloned().collect();
        observe_or_report(aws, &wanted.location, planned, &owned, unowned, "Reading back", diags).await
    }

    async fn delete(&self, aws: &AwsContext, prior: ServiceConfigState, diags: &mut Diagnostics) {
        let Some(location) = prior.location.known() else { return };
        let mut keys = claimed(&prior);
        // Unowned keys go too when they carry this resource's marker (an interrupted apply's).
        let unowned = known_set(&prior.unowned_keys).unwrap_or_default();
        if !unowned.is_empty() {
            let found = async {
                let present = present(aws, &location).await?;
                holders(aws, &location, &present, &keys).await
            }
            .await;
            match found {
                Ok(holders) => keys.extend(holders.into_iter().filter(|(_, h)| *h == Holder::This).map(|(k, _)| k)),
                Err(err) => {
                    diags.error("Deleting the configuration failed", err);
                    return;
                }
            }
        }
        let names: Vec<String> = keys.iter().map(|k| location.parameter_name(k)).collect();
        if let Err(err) = parameters::delete(aws, &names).await {
            diags.error("Deleting the configuration failed", err);
        }
    }

    /// Import takes over every `String` parameter under the path (the next
    /// apply marks them), but none carrying another resource's marker.
    async fn import(&self, aws: &AwsContext, id: &str, diags: &mut Diagnostics) -> Option<ServiceConfigState> {
        let parts = parse_id(id, 2, "service/environment", diags)?;
        let location = ConfigLocation::new(&parts[0], &parts[1]);
        let own = marker(&location);
        let found = async {
            let present = present(aws, &location).await?;
            let holders = holders(aws, &location, &present, &BTreeSet::new()).await?;
            let others: Vec<(String, Holder)> =
                holders.into_iter().filter(|(_, h)| matches!(h, Holder::Other(_))).collect();
            let account = if others.is_empty() { String::new() } else { aws.whereabouts().await?.0 };
            Ok::<_, String>((present, others, account))
        }
        .await;
        let (present, others, account) = match found {
            Ok(found) => found,
            Err(err) => {
                diags.error("Importing the configuration failed", err);
                return None;
            }
        };
        if !others.is_empty() {
            let foreign: Vec<Foreign> = others
                .into_iter()
                .map(|(key, holder)| Foreign {
                    object: format!("SSM parameter {}", location.parameter_name(&key)),
                    account: account.clone(),
                    owner: match holder {
                        Holder::Other(owner) => Some(owner),
                        _ => None,
                    },
                })
                .collect();
            diags.error(
                "Import refused",
                refusal(
                    &own,
                    &foreign,
                    "Import takes a path only when no parameter under it belongs to another resource.",
                )
                .replace("nothing was created.", "nothing was imported."),
            );
            return None;
        }
        // Read does the rest: every key found is this resource's now.
        Some(ServiceConfigState {
            location: LocationArgs::from_location(&location),
            tier: Attr::Known(Tier::Standard.name().into()),
            values: Attr::Known(
                present.into_iter().map(|(k, p)| (k, Attr::Known(p.value.unwrap_or_default()))).collect(),
            ),
            ..ServiceConfigState::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn present(pairs: &[(&str, &str)]) -> BTreeMap<String, Option<String>> {
        pairs.iter().map(|(k, v)| (k.to_string(), Some(v.to_string()))).collect()
    }

    fn set(keys: &[&str]) -> BTreeSet<String> {
        keys.iter().map(|k| k.to_string()).collect()
    }

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn a_create_writes_what_is_missing_and_refuses_what_is_not_its_own() {
        let wanted = map(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]);
        let holders = BTreeMap::from([
            ("b".to_string(), Holder::Unmarked),
            ("c".to_string(), Holder::This),
            ("d".to_string(), Holder::Other("bokbasen_service_config/x/test".into())),
            ("stray".to_string(), Holder::Unmarked),
            ("left".to_string(), Holder::This),
        ]);
        let found = present(&[("b", "old"), ("c", "3"), ("d", "4"), ("stray", "s"), ("left", "l")]);
        let changes = decide(&wanted, &found, &set(&[]), &holders, &set(&[]), false, false);
        assert_eq!(changes.create, keys(&["a"]));
        assert_eq!(changes.overwrite, Vec::<String>::new(), "c carries our marker and the value already");
        assert_eq!(changes.retag, keys(&["c"]), "taken over by its marker: tags made exact");
        assert_eq!(changes.delete, keys(&["left"]), "an interrupted apply's parameter, no longer wanted");
        assert_eq!(
            changes.refused,
            [
                ("b".to_string(), Holder::Unmarked),
                ("d".to_string(), Holder::Other("bokbasen_service_config/x/test".into()))
            ],
            "stray is neither wanted nor planned: left alone"
        );
    }

    #[test]
    fn an_update_changes_only_its_own_and_refuses_removing_what_it_never_held() {
        let wanted = map(&[("a", "new"), ("b", "2")]);
        let found = present(&[("a", "old"), ("b", "2"), ("gone", "x"), ("by-hand", "y")]);
        let claimed = set(&["a", "b", "gone"]);
        let holders = BTreeMap::from([("by-hand".to_string(), Holder::Unmarked)]);
        let removal = set(&["gone", "by-hand"]);
        let changes = decide(&wanted, &found, &claimed, &holders, &removal, false, false);
        assert_eq!(changes.overwrite, keys(&["a"]));
        assert_eq!(changes.mark, keys(&["a"]), "a rewritten claimed parameter gets the marker");
        assert!(changes.retag.is_empty() && changes.create.is_empty());
        assert_eq!(changes.delete, keys(&["gone"]));
        assert_eq!(changes.refused, [("by-hand".to_string(), Holder::Unmarked)]);

        // Without the planned removal (not in the refreshed state), it is simply left alone.
        let changes = decide(&wanted, &found, &claimed, &holders, &set(&["gone"]), true, true);
        assert!(changes.refused.is_empty());
        assert_eq!(changes.overwrite, keys(&["a", "b"]), "a new tier rewrites every key");
        assert_eq!(changes.retag, keys(&["a", "b"]), "new tags: every key's tags made exact");
        assert!(changes.mark.is_empty());
    }

    #[test]
    fn the_refusal_names_parameter_account_owner_and_the_import_command() {
        let location = ConfigLocation::new("ebook-api", "test");
        let refused = [
            ("a".to_string(), Holder::Unmarked),
            ("b".to_string(), Holder::Other("bokbasen_service_config/ebook-api/other".into())),
        ];
        let text = refused_message(&location, "222222222222", &refused);
        for expected in [
            "SSM parameter /config/ebook-api_test/a in account 222222222222 has no bokbasen:owner tag",
            "SSM parameter /config/ebook-api_test/b in account 222222222222 belongs to bokbasen_service_config/ebook-api/other",
            "Nothing was written or deleted.",
            "`terraform import ADDRESS ebook-api/test`",
            "ADDRESS: this resource's address",
            "rename",
        ] {
            assert!(text.contains(expected), "{expected:?} in {text}");
        }
        let mut elsewhere = location.clone();
        elsewhere.prefix = "/apps".into();
        assert!(!refused_message(&elsewhere, "1", &refused).contains("terraform import"));
    }
}
