//! The resource: makes the deployer (and DevOps) role match, reads them
//! back for drift, removes them — each role only when it is the target's
//! own (`aws::ownership`).
//!
//! Before anything changes, both roles are looked up ([`survey`]): a role
//! the apply wants that exists and is not the target's (no marker of it,
//! not in its state) stops the apply with nothing changed. What an attempt
//! creates is recorded before the call that may create it ([`Failure::made`]),
//! so a failed create removes exactly that; delete removes only the target's
//! own roles and leaves others' alone with a warning.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use bokbasen_pipeline::check_environment_name;
use bokbasen_pipeline::names::{deployer_role_name, devops_role_name};
use bokbasen_pipeline::target::{
    deployer_role, devops_role, kinds_tag, observe_deployer, observe_devops, read_only_policy_arn, ObservedTarget,
    KINDS_TAG,
};

use super::{check, known_set, schema, state_set, target, upgrade, DeployTargetState, SCHEMA_VERSION, TYPE_NAME};
use crate::aws::ownership::{owner_marker, refusal, Foreign, Holder, OWNER_TAG};
use crate::aws::roles::{ensure_role, read_role, remove_role, role_arn, role_tags, ObservedRole};
use crate::aws::{tags, AwsContext, Step};
use crate::framework::{Attr, Diagnostics, Resource, Schema};
use crate::types::shared::{known_map, state_map, warn_left_alone};

pub struct DeployTargetResource;

/// The roles of a deploy target, in the order they are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Role {
    Deployer,
    Devops,
}

impl Role {
    const ALL: [Role; 2] = [Role::Deployer, Role::Devops];

    fn name(self, environment: &str) -> String {
        match self {
            Role::Deployer => deployer_role_name(environment),
            Role::Devops => devops_role_name(environment),
        }
    }

    fn object(self, environment: &str) -> String {
        format!("IAM role {}", self.name(environment))
    }
}

/// The marker of what the deploy target of `environment` makes.
pub(super) fn marker(environment: &str) -> String {
    owner_marker(TYPE_NAME, environment)
}

/// The roles `state` lists: the target's by its state.
pub(super) fn claimed(state: &DeployTargetState) -> BTreeSet<Role> {
    let Some(environment) = state.environment.known() else { return BTreeSet::new() };
    let lists = |arn: &Attr<String>, role: Role| {
        arn.known().is_some_and(|arn| arn.ends_with(&format!("/{}", role.name(environment))))
    };
    let mut claimed = BTreeSet::new();
    if lists(&state.deployer_role_arn, Role::Deployer) {
        claimed.insert(Role::Deployer);
    }
    if lists(&state.devops_role_arn, Role::Devops) {
        claimed.insert(Role::Devops);
    }
    claimed
}

/// The roles as IAM holds them: who holds each that exists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Survey {
    pub environment: String,
    pub account: String,
    pub found: BTreeMap<Role, Holder>,
}

impl Survey {
    /// The role exists and is the target's.
    pub fn own(&self, role: Role) -> bool {
        self.found.get(&role) == Some(&Holder::This)
    }

    /// The role exists and is not the target's.
    pub fn foreign(&self, role: Role) -> Option<Foreign> {
        let owner = match self.found.get(&role)? {
            Holder::This => return None,
            Holder::Unmarked => None,
            Holder::Other(owner) => Some(owner.clone()),
        };
        Some(Foreign { object: role.object(&self.environment), account: self.account.clone(), owner })
    }

    /// The roles among `wanted` that exist and are not the target's: an
    /// apply that wants them changes nothing.
    pub fn refused(&self, wanted: &[Role]) -> Vec<Foreign> {
        wanted.iter().filter_map(|role| self.foreign(*role)).collect()
    }

    /// The target's own roles, in the order they are removed.
    pub fn own_roles(&self) -> Vec<Role> {
        Role::ALL.into_iter().rev().filter(|role| self.own(*role)).collect()
    }

    /// Every role that exists and is not the target's.
    pub fn others(&self) -> Vec<Foreign> {
        self.refused(&Role::ALL)
    }
}

/// Looks up both roles of `environment` with their tags.
async fn survey(aws: &AwsContext, environment: &str, account: &str, claimed: &BTreeSet<Role>) -> Step<Survey> {
    let marker = marker(environment);
    let mut found = BTreeMap::new();
    for role in Role::ALL {
        if let Some(tags) = role_tags(aws, &role.name(environment)).await? {
            found.insert(role, Holder::of(&tags, &marker, claimed.contains(&role)));
        }
    }
    Ok(Survey { environment: environment.to_string(), account: account.to_string(), found })
}

/// How the target of `environment` takes roles over that are not its own.
fn hand_over(environment: &str) -> String {
    format!(
        "If they are this deploy target's, hand them over with `terraform import ADDRESS {environment}` (ADDRESS: this resource's address in your configuration, e.g. `bokbasen_deploy_target.{underscored}`; Terraform does not tell the provider its address): the next apply then rewrites them and tags them `{OWNER_TAG} = {marker}`. Otherwise remove or rename them (the names follow from `environment`).",
        underscored = environment.replace('-', "_"),
        marker = marker(environment),
    )
}

/// What an apply made the roles: the account, the deployer's ARN, the
/// DevOps role's (when wanted), and roles of others left alone.
pub(super) struct Applied {
    account: String,
    deployer: String,
    devops: Option<String>,
    left_alone: Vec<Foreign>,
}

/// Why [`ensure`] stopped, and the roles this attempt made before it did.
pub(super) struct Failure {
    error: String,
    made: Vec<Role>,
    /// Refused before anything was changed: roles of other owners exist.
    refused: bool,
    account: String,
}

/// Makes the roles match `state`. First both roles are looked up: when one
/// the state wants exists and is not the target's (neither its marker nor
/// in `claimed`, its state), nothing is changed.
async fn ensure(aws: &AwsContext, state: &DeployTargetState, claimed: &BTreeSet<Role>) -> Result<Applied, Failure> {
    let failed = |error: String| Failure { error, made: Vec::new(), refused: false, account: String::new() };
    let (account, region) = aws.whereabouts().await.map_err(failed)?;
    let target = target(state, &account).ok_or_else(|| failed("the configuration still has unknown values".into()))?;
    let environment = target.environment.clone();
    let wants_devops = state.devops_read_only.known() == Some(&true);
    let survey = survey(aws, &environment, &account, claimed).await.map_err(failed)?;
    let wanted: &[Role] = if wants_devops { &Role::ALL } else { &[Role::Deployer] };
    let foreign = survey.refused(wanted);
    if !foreign.is_empty() {
        let error = refusal(&marker(&environment), &foreign, &hand_over(&environment));
        return Err(Failure { error, made: Vec::new(), refused: true, account });
    }

    let mut made = Vec::new();
    let mut tags = tags::with_defaults(aws, &known_map(&state.tags).unwrap_or_default());
    tags.insert(OWNER_TAG.into(), marker(&environment));
    let changes = async {
        let mut deployer_tags = tags.clone();
        deployer_tags.insert(KINDS_TAG.into(), kinds_tag(&target));
        if !survey.own(Role::Deployer) {
            made.push(Role::Deployer);
        }
        let docs = deployer_role(&target, &region);
        let deployer = ensure_role(aws, &Role::Deployer.name(&environment), &docs, &deployer_tags, &[]).await?;
        let mut left_alone = Vec::new();
        let devops = if wants_devops {
            if !survey.own(Role::Devops) {
                made.push(Role::Devops);
            }
            let principals = known_set(&state.devops_principals).unwrap_or_default();
            let docs = devops_role(&principals, target.external_id.as_deref());
            let managed = [read_only_policy_arn(&region)];
            Some(ensure_role(aws, &Role::Devops.name(&environment), &docs, &tags, &managed).await?)
        } else {
            if survey.own(Role::Devops) {
                remove_role(aws, &Role::Devops.name(&environment)).await?;
            }
            left_alone.extend(survey.foreign(Role::Devops));
            None
        };
        Ok::<_, String>((deployer, devops, left_alone))
    }
    .await;
    match changes {
        Ok((deployer, devops, left_alone)) => Ok(Applied { account, deployer, devops, left_alone }),
        Err(error) => Err(Failure { error, made, refused: false, account }),
    }
}

/// Deletes exactly `roles` of `environment` (already gone is fine), the
/// DevOps role first; answers the roles left when one could not be removed.
async fn remove(aws: &AwsContext, environment: &str, roles: &[Role]) -> Result<(), (String, Vec<Role>)> {
    let mut roles = roles.to_vec();
    roles.sort_by(|a, b| b.cmp(a));
    for (i, role) in roles.iter().enumerate() {
        if let Err(error) = remove_role(aws, &role.name(environment)).await {
            return Err((error, roles[i..].to_vec()));
        }
    }
    Ok(())
}

/// Who holds a role found by read: the target by its marker or by `claimed`
/// (its state listing it); with `take_all` (import) an unmarked role too.
fn whose(role: &ObservedRole, environment: &str, claimed: bool, take_all: bool) -> Holder {
    match Holder::of(&role.tags, &marker(environment), claimed) {
        Holder::Unmarked if take_all => Holder::This,
        holder => holder,
    }
}

/// State from the roles in AWS; `None` when the deployer role is gone (or
/// is not the target's). Roles are the target's by marker or by `prior`
/// listing them; with `take_all` (import) every role found is. A deployer
/// carrying another resource's marker is refused, and so is such a DevOps
/// role on import; on read that one is not the target's, as if absent.
async fn observe(aws: &AwsContext, prior: &DeployTargetState, take_all: bool) -> Step<Option<DeployTargetState>> {
    let Some(environment) = prior.environment.known().cloned() else { return Ok(None) };
    let claimed = claimed(prior);
    let belongs = |owner: String, role: &ObservedRole| {
        format!("IAM role {} belongs to {owner} ({OWNER_TAG}), not to the deploy target {environment}", role.arn)
    };
    let Some(deployer) = read_role(aws, &deployer_role_name(&environment)).await? else { return Ok(None) };
    match whose(&deployer, &environment, claimed.contains(&Role::Deployer), take_all) {
        Holder::This => {}
        Holder::Unmarked => return Ok(None),
        Holder::Other(owner) => return Err(belongs(owner, &deployer)),
    }
    let devops = match read_role(aws, &devops_role_name(&environment)).await? {
        Some(devops) => match whose(&devops, &environment, claimed.contains(&Role::Devops), take_all) {
            Holder::This => Some(devops),
            Holder::Other(owner) if take_all => return Err(belongs(owner, &devops)),
            _ => None,
        },
        None => None,
    };
    let mut deployer_tags = deployer.tags;
    let observed: ObservedTarget =
        observe_deployer(&deployer.trust, deployer.policy.as_ref().unwrap_or(&serde_json::Value::Null), &deployer_tags);
    deployer_tags.remove(KINDS_TAG);
    deployer_tags.remove(OWNER_TAG);
    let prior_tags = known_map(&prior.tags).unwrap_or_default();
    let account = deployer.arn.split(':').nth(4).unwrap_or_default().to_string();
    Ok(Some(DeployTargetState {
        environment: Attr::Known(environment.clone()),
        kinds: state_set(observed.kinds.into_iter().map(str::to_string).collect(), &prior.kinds),
        pipeline_account_ids: state_set(observed.pipeline_account_ids, &prior.pipeline_account_ids),
        provisioner_arns: state_set(observed.provisioner_arns, &prior.provisioner_arns),
        external_id: observed.external_id.into(),
        artifact_bucket: observed.artifact_bucket.into(),
        artifact_key_arn: observed.artifact_key_arn.into(),
        devops_read_only: Attr::Known(devops.is_some()),
        devops_principals: state_set(
            devops.as_ref().map(|d| observe_devops(&d.trust)).unwrap_or_default(),
            &prior.devops_principals,
        ),
        tags: state_map(tags::without_defaults(aws, deployer_tags, &prior_tags), &prior.tags),
        id: Attr::Known(environment),
        account_id: Attr::Known(account),
        deployer_role_arn: Attr::Known(deployer.arn),
        devops_role_arn: devops.map(|d| d.arn).into(),
    }))
}

fn applied(mut state: DeployTargetState, applied: &Applied) -> DeployTargetState {
    state.id = state.environment.clone();
    state.account_id = Attr::Known(applied.account.clone());
    state.deployer_role_arn = Attr::Known(applied.deployer.clone());
    state.devops_role_arn = applied.devops.clone().into();
    state
}

/// The state of a create that could not remove all it made: the roles of
/// `left` that still exist, or `None` when none does.
async fn left_by_failed_create(
    aws: &AwsContext,
    mut planned: DeployTargetState,
    account: String,
    left: &[Role],
) -> Step<Option<DeployTargetState>> {
    let environment = planned.environment.known().cloned().unwrap_or_default();
    let mut arns = BTreeMap::new();
    for role in left {
        if let Some(arn) = role_arn(aws, &role.name(&environment)).await? {
            arns.insert(*role, arn);
        }
    }
    if arns.is_empty() {
        return Ok(None);
    }
    planned.id = planned.environment.clone();
    planned.account_id = Attr::Known(account);
    // Empty: no deployer of this target's exists (a read then finds the target gone).
    planned.deployer_role_arn = Attr::Known(arns.remove(&Role::Deployer).unwrap_or_default());
    planned.devops_role_arn = arns.remove(&Role::Devops).into();
    Ok(Some(planned))
}

#[async_trait]
impl Resource for DeployTargetResource {
    type Data = AwsContext;
    type State = DeployTargetState;

    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema().with_version(SCHEMA_VERSION)
    }

    fn upgrade_from(&self, version: i64, state: serde_json::Value) -> serde_json::Value {
        upgrade(version, state)
    }

    async fn validate(&self, config: &DeployTargetState, diags: &mut Diagnostics) {
        check(config, diags);
    }

    async fn modify_plan(
        &self,
        prior: Option<&DeployTargetState>,
        planned: &mut DeployTargetState,
        diags: &mut Diagnostics,
    ) {
        check(planned, diags);
        planned.id = planned.environment.clone();
        planned.devops_role_arn =
            match (planned.devops_read_only.known(), prior.and_then(|p| p.devops_role_arn.known())) {
                (Some(false), _) => Attr::Null,
                (Some(true), Some(arn)) => Attr::Known(arn.clone()),
                _ => Attr::Unknown,
            };
    }

    async fn create(
        &self,
        aws: &AwsContext,
        planned: DeployTargetState,
        diags: &mut Diagnostics,
    ) -> Option<DeployTargetState> {
        check(&planned, diags);
        if diags.has_errors() {
            return None;
        }
        let failure = match ensure(aws, &planned, &BTreeSet::new()).await {
            Ok(done) => {
                warn_left_alone(&done.left_alone, "The deploy target is created", diags);
                return Some(applied(planned, &done));
            }
            Err(failure) if failure.refused => {
                diags.error("The deploy target's role names are taken", failure.error);
                return None;
            }
            Err(failure) => failure,
        };
        let environment = planned.environment.known().cloned().unwrap_or_default();
        // Remove exactly what this attempt made; what cannot be removed stays in state.
        let (error, left) = match remove(aws, &environment, &failure.made).await {
            Ok(()) => {
                let note = "Everything this attempt created was removed again; nothing else was touched.";
                diags.error("Creating the deploy target failed", format!("{}\n\n{note}", failure.error));
                return None;
            }
            Err(unremoved) => unremoved,
        };
        let names: Vec<String> = left.iter().map(|role| role.name(&environment)).collect();
        diags.error(
            "Creating the deploy target failed",
            format!(
                "{}\n\nRemoving what this attempt created also failed ({error}). Terraform keeps what is left as this resource, tainted: IAM roles {}. The next apply replaces it; a destroy removes it.",
                failure.error,
                names.join(", ")
            ),
        );
        match left_by_failed_create(aws, planned, failure.account, &left).await {
            Ok(state) => state,
            Err(err) => {
                diags.error(
                    "Reading what is left of the deploy target failed",
                    format!("{err}\n\nThe roles named above remain, each tagged {OWNER_TAG} = {}: the next apply takes them over.", marker(&environment)),
                );
                None
            }
        }
    }

    async fn read(
        &self,
        aws: &AwsContext,
        current: DeployTargetState,
        diags: &mut Diagnostics,
    ) -> Option<DeployTargetState> {
        match observe(aws, &current, false).await {
            Ok(found) => found,
            Err(err) => {
                diags.error("Reading the deploy target failed", err);
                Some(current)
            }
        }
    }

    async fn update(
        &self,
        aws: &AwsContext,
        prior: DeployTargetState,
        planned: DeployTargetState,
        diags: &mut Diagnostics,
    ) -> Option<DeployTargetState> {
        check(&planned, diags);
        if diags.has_errors() {
            return None;
        }
        let error = match ensure(aws, &planned, &claimed(&prior)).await {
            Ok(done) => {
                warn_left_alone(&done.left_alone, "The deploy target is updated", diags);
                return Some(applied(planned, &done));
            }
            Err(failure) if failure.refused => {
                diags.error("The deploy target's role names are taken", failure.error);
                return None;
            }
            Err(failure) => failure.error,
        };
        // Roles may already be changed: the state is what IAM holds now.
        diags.error(
            "Updating the deploy target failed",
            format!("{error}\n\nThe state now records what IAM holds; run the apply again to complete the change."),
        );
        match observe(aws, &prior, false).await {
            Ok(found) => found,
            Err(_) => Some(prior),
        }
    }

    async fn delete(&self, aws: &AwsContext, prior: DeployTargetState, diags: &mut Diagnostics) {
        let Some(environment) = prior.environment.known() else { return };
        let removed = async {
            let (account, _) = aws.whereabouts().await?;
            let survey = survey(aws, environment, &account, &claimed(&prior)).await?;
            remove(aws, environment, &survey.own_roles()).await.map_err(|(error, _)| error)?;
            Ok::<_, String>(survey.others())
        }
        .await;
        match removed {
            Ok(others) => warn_left_alone(&others, "The deploy target is destroyed", diags),
            Err(err) => diags.error(
                "Deleting the deploy target failed",
                format!("{err}\n\nRun the destroy again to remove the rest."),
            ),
        }
    }

    /// Takes the roles found under the environment's names, unless one
    /// carries another resource's marker; the next apply marks them.
    async fn import(&self, aws: &AwsContext, id: &str, diags: &mut Diagnostics) -> Option<DeployTargetState> {
        if let Err(message) = check_environment_name(id) {
            diags.error("Invalid import ID", format!("Import a deploy target by its environment name. {message}"));
            return None;
        }
        let imported = DeployTargetState { environment: Attr::Known(id.to_string()), ..DeployTargetState::default() };
        match observe(aws, &imported, true).await {
            Ok(Some(state)) => Some(state),
            Ok(None) => {
                diags.error(
                    "Cannot import the deploy target",
                    format!("This account has no IAM role {}.", deployer_role_name(id)),
                );
                None
            }
            Err(err) => {
                diags.error("Cannot import the deploy target", format!("{err}. Nothing was imported."));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn survey(found: &[(Role, Holder)]) -> Survey {
        Survey { environment: "test".into(), account: "222222222222".into(), found: found.iter().cloned().collect() }
    }

    #[test]
    fn roles_are_claimed_by_the_arns_state_lists() {
        let mut state = DeployTargetState { environment: Attr::Known("test".into()), ..Default::default() };
        assert!(claimed(&state).is_empty());
        state.deployer_role_arn = Attr::Known("arn:aws:iam::222222222222:role/bokbasen/bokbasen-deployer-test".into());
        state.devops_role_arn = Attr::Known("arn:aws:iam::222222222222:role/bokbasen/bokbasen-devops-stage".into());
        assert_eq!(claimed(&state), BTreeSet::from([Role::Deployer]), "another environment's role is not listed");
        state.devops_role_arn = Attr::Known("arn:aws:iam::222222222222:role/bokbasen/bokbasen-devops-test".into());
        assert_eq!(claimed(&state), BTreeSet::from(Role::ALL));
        state.deployer_role_arn = Attr::Known(String::new());
        assert_eq!(claimed(&state), BTreeSet::from([Role::Devops]), "a failed create's empty deployer ARN");
    }

    #[test]
    fn only_wanted_roles_of_others_refuse_an_apply() {
        let other = Holder::Other("bokbasen_deploy_target/stage".into());
        let found = survey(&[(Role::Deployer, Holder::This), (Role::Devops, other)]);
        assert!(found.refused(&[Role::Deployer]).is_empty(), "the DevOps role is not wanted");
        let refused = found.refused(&Role::ALL);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].object, "IAM role bokbasen-devops-test");
        assert_eq!(refused[0].account, "222222222222");
        assert_eq!(refused[0].owner.as_deref(), Some("bokbasen_deploy_target/stage"));

        let unmarked = survey(&[(Role::Deployer, Holder::Unmarked)]);
        let refused = unmarked.refused(&[Role::Deployer]);
        assert_eq!(refused.len(), 1);
        assert!(refused[0].to_string().contains("has no bokbasen:owner tag"), "{}", refused[0]);
        assert!(survey(&[]).refused(&Role::ALL).is_empty(), "nothing exists");
    }

    #[test]
    fn delete_removes_only_own_roles_devops_first() {
        let found = survey(&[(Role::Deployer, Holder::This), (Role::Devops, Holder::This)]);
        assert_eq!(found.own_roles(), [Role::Devops, Role::Deployer]);
        assert!(found.others().is_empty());
        let mixed = survey(&[(Role::Deployer, Holder::This), (Role::Devops, Holder::Unmarked)]);
        assert_eq!(mixed.own_roles(), [Role::Deployer]);
        assert_eq!(mixed.others().len(), 1);
        assert_eq!(mixed.others()[0].object, "IAM role bokbasen-devops-test");
    }

    #[test]
    fn the_refusal_names_the_import_and_the_marker() {
        let text =
            refusal(&marker("test"), &survey(&[(Role::Deployer, Holder::Unmarked)]).others(), &hand_over("test"));
        assert!(
            text.contains("IAM role bokbasen-deployer-test in account 222222222222 has no bokbasen:owner tag"),
            "{text}"
        );
        assert!(text.contains("Nothing of them was changed"), "{text}");
        assert!(text.contains("terraform import ADDRESS test"), "{text}");
        assert!(text.contains("bokbasen:owner = bokbasen_deploy_target/test"), "{text}");
    }
}
