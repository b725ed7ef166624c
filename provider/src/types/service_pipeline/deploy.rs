//! The AWS side of a service pipeline: makes the accounts match a
//! [`PipelineShape`], reads it back, removes it. Orchestration only: names
//! come from `bokbasen_pipeline::names`, requests from `convert`, calls
//! from `crate::aws`, whose object is whose from `aws::ownership`.
//!
//! A pipeline is a set of [`Part`]s named after the service. Before changing
//! anything, every part is looked up ([`survey`]): one that exists and is
//! not the resource's (no marker of it, not in its state) stops the apply
//! with nothing changed. The resource's own parts are updated, missing ones
//! created ("ensure"), so an apply that failed half way, or was killed,
//! completes on the next one. What an attempt creates is recorded as it
//! goes ([`Failure::made`]), so a failed create removes exactly that.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::future::try_join_all;

use bokbasen_pipeline::names::{
    build_role_name, builds_glob, environment_projects_glob, environment_role_name, pipeline_name, pipeline_role_name,
    repository_name, SERVICE_TAG,
};
use bokbasen_pipeline::{
    build_role, environment_role, image_lifecycle, pipeline_role, project_name, repository_policy, shape, Observed,
    PipelineShape, Project, ProjectPurpose, ServiceSpec, Where,
};

use super::accounts::Accounts;
use super::convert::{declaration, observed_declaration, observed_project, project_definition};
use super::schema::TYPE_NAME;
use crate::aws::ownership::{owner_marker, refusal, Foreign, Holder, OWNER_TAG};
use crate::aws::roles::{self, ensure_role, remove_role, role_arn};
use crate::aws::{codebuild, codepipeline, ecr, tags, AwsContext, Step};

/// What exists once a spec is deployed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployed {
    pub arn: String,
    pub version: i64,
    pub role_arns: BTreeMap<String, String>,
    pub ecr_repository_url: String,
    /// Project names by key: `build`, `<env>/<purpose>`.
    pub projects: BTreeMap<String, String>,
}

impl Deployed {
    /// Nothing exists.
    pub fn is_empty(&self) -> bool {
        self.arn.is_empty()
            && self.role_arns.is_empty()
            && self.ecr_repository_url.is_empty()
            && self.projects.is_empty()
    }
}

/// The keys `role_arns` has once `spec` is deployed: `pipeline`, `build`,
/// and each environment that runs projects.
pub fn role_keys(spec: &ServiceSpec) -> BTreeSet<String> {
    let shape = shape(spec);
    let mut keys = BTreeSet::from(["pipeline".to_string(), "build".to_string()]);
    keys.extend(
        spec.environments
            .iter()
            .map(|e| e.name.clone())
            .filter(|env| shape.projects.iter().any(|p| p.runs_in == Where::Environment(env.clone()))),
    );
    keys
}

/// The key of a project in `codebuild_projects`: `build`, or `<env>/<purpose>`.
pub fn project_key(project: &Project) -> String {
    match &project.runs_in {
        Where::Pipeline => "build".to_string(),
        Where::Environment(env) => format!("{env}/{}", project.purpose.suffix()),
    }
}

/// The tags of every part: the provider's defaults, the service's own,
/// [`SERVICE_TAG`] and the resource's [`OWNER_TAG`] marker.
fn tags(aws: &AwsContext, spec: &ServiceSpec) -> BTreeMap<String, String> {
    let mut tags = tags::with_defaults(aws, &spec.tags);
    tags.insert(SERVICE_TAG.into(), spec.name.clone());
    tags.insert(OWNER_TAG.into(), marker(spec));
    tags
}

/// The inverse of [`tags`]: the service's own tags among `all`, told apart
/// from the provider's defaults by `own` (the state's tags).
fn service_tags(
    aws: &AwsContext,
    mut all: BTreeMap<String, String>,
    own: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    all.remove(SERVICE_TAG);
    all.remove(OWNER_TAG);
    tags::without_defaults(aws, all, own)
}

/// One object of a service pipeline: what it is, its name, and the
/// environment whose account it lives in (`None`: the pipeline's), with the
/// deploy role it is reached through, so the same name in another account
/// is another part.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Part {
    pub kind: PartKind,
    pub name: String,
    pub place: Where,
    pub through: Option<String>,
}

/// In the order they are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PartKind {
    Role,
    Repository,
    Project,
    Pipeline,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            PartKind::Role => "IAM role",
            PartKind::Repository => "ECR repository",
            PartKind::Project => "CodeBuild project",
            PartKind::Pipeline => "CodePipeline pipeline",
        };
        write!(f, "{kind} {}", self.name)
    }
}

impl Part {
    fn new(kind: PartKind, name: String, spec: &ServiceSpec, place: Where) -> Part {
        let through = match &place {
            Where::Pipeline => None,
            Where::Environment(env) => {
                spec.environments.iter().find(|e| &e.name == env).map(|e| e.deploy_role_arn.clone())
            }
        };
        Part { kind, name, place, through }
    }
}

/// Every part `spec` has, in the order they are made.
pub fn parts(spec: &ServiceSpec) -> Vec<Part> {
    let shape = shape(spec);
    let role = |name, place| Part::new(PartKind::Role, name, spec, place);
    let mut parts =
        vec![role(pipeline_role_name(&spec.name), Where::Pipeline), role(build_role_name(&spec.name), Where::Pipeline)];
    for env in &spec.environments {
        if shape.projects.iter().any(|p| p.runs_in == Where::Environment(env.name.clone())) {
            parts.push(role(environment_role_name(&spec.name, &env.name), Where::Environment(env.name.clone())));
        }
    }
    if spec.kind.builds_image() {
        parts.push(Part::new(PartKind::Repository, repository_name(&spec.name), spec, Where::Pipeline));
    }
    for project in &shape.projects {
        parts.push(Part::new(PartKind::Project, project.name.clone(), spec, project.runs_in.clone()));
    }
    parts.push(Part::new(PartKind::Pipeline, shape.name.clone(), spec, Where::Pipeline));
    parts
}

/// The key of a role part in `role_arns`: `pipeline`, `build` or its environment.
fn role_key(spec: &ServiceSpec, part: &Part) -> String {
    match &part.place {
        Where::Pipeline if part.name == pipeline_role_name(&spec.name) => "pipeline".to_string(),
        Where::Pipeline => "build".to_string(),
        Where::Environment(env) => env.clone(),
    }
}

/// The parts of `spec` that a state of it, listing `deployed`, records as
/// existing: the resource's by its state.
pub fn listed(spec: &ServiceSpec, deployed: &Deployed) -> BTreeSet<Part> {
    let projects: BTreeSet<&String> = deployed.projects.values().collect();
    parts(spec)
        .into_iter()
        .filter(|part| match (&part.kind, &part.place) {
            (PartKind::Role, _) => deployed
                .role_arns
                .get(&role_key(spec, part))
                .is_some_and(|arn| arn.ends_with(&format!("/{}", part.name))),
            (PartKind::Repository, _) => !deployed.ecr_repository_url.is_empty(),
            (PartKind::Project, _) => projects.contains(&part.name),
            (PartKind::Pipeline, _) => !deployed.arn.is_empty(),
        })
        .collect()
}

/// The marker of what the pipeline of `spec` makes.
pub fn marker(spec: &ServiceSpec) -> String {
    owner_marker(TYPE_NAME, &spec.name)
}

/// The parts of `spec` as AWS holds them: which exist and are the
/// resource's (its marker, or `claimed` by its state), and which exist but
/// are someone else's.
pub struct Survey {
    pub own: BTreeSet<Part>,
    pub foreign: Vec<(Part, Foreign)>,
}

/// Looks up every part of `spec` with its tags.
pub async fn survey(accounts: &Accounts, spec: &ServiceSpec, claimed: &BTreeSet<Part>) -> Step<Survey> {
    let marker = marker(spec);
    let mut survey = Survey { own: BTreeSet::new(), foreign: Vec::new() };
    for part in parts(spec) {
        let aws = accounts.context(&part.place);
        let tags = match part.kind {
            PartKind::Role => roles::role_tags(aws, &part.name).await?,
            PartKind::Repository => ecr::repository_tags(aws, &part.name).await?,
            PartKind::Project => codebuild::find_project(aws, &part.name)
                .await?
                .map(|p| p.tags.unwrap_or_default().into_iter().filter_map(|t| Some((t.key?, t.value?))).collect()),
            PartKind::Pipeline => match codepipeline::get_pipeline(aws, &part.name).await? {
                Some(found) => Some(codepipeline::tags(aws, &found.arn).await?),
                None => None,
            },
        };
        let Some(tags) = tags else { continue };
        match Holder::of(&tags, &marker, claimed.contains(&part)) {
            Holder::This => {
                survey.own.insert(part);
            }
            holder => {
                let account = match &part.place {
                    Where::Pipeline => accounts.pipeline_account.clone(),
                    Where::Environment(env) => spec
                        .environments
                        .iter()
                        .find(|e| &e.name == env)
                        .map(|e| e.account_id.clone())
                        .unwrap_or_default(),
                };
                let owner = match holder {
                    Holder::Other(owner) => Some(owner),
                    _ => None,
                };
                let foreign = Foreign { object: part.to_string(), account, owner };
                survey.foreign.push((part, foreign));
            }
        }
    }
    Ok(survey)
}

/// Why [`ensure`] stopped, and the parts this attempt made before it did
/// (in the order made), which a failed create removes.
pub struct Failure {
    pub error: String,
    pub made: Vec<Part>,
    /// The resource's parts that existed before this attempt (its marker:
    /// left by an interrupted apply), which it keeps.
    pub found: Vec<Part>,
    /// Refused before anything was changed: parts of other owners exist.
    pub refused: bool,
}

/// Creates or updates every part of `spec`'s pipeline: roles, repository,
/// projects (each in the account it runs in), then the pipeline. First every
/// part is looked up: when any exists that is not the resource's (neither
/// its marker nor listed in `claimed`, its state), nothing is changed.
pub async fn ensure(aws: &AwsContext, spec: &ServiceSpec, claimed: &BTreeSet<Part>) -> Result<Deployed, Failure> {
    let failed = |error: String| Failure { error, made: Vec::new(), found: Vec::new(), refused: false };
    let accounts = Accounts::of(aws, spec).await.map_err(failed)?;
    let survey = survey(&accounts, spec, claimed).await.map_err(failed)?;
    if !survey.foreign.is_empty() {
        let foreign: Vec<Foreign> = survey.foreign.into_iter().map(|(_, f)| f).collect();
        let error = refusal(&marker(spec), &foreign, &hand_over(spec));
        return Err(Failure { error, made: Vec::new(), found: Vec::new(), refused: true });
    }
    let mut made = Vec::new();
    match make(&accounts, spec, &survey.own, &mut made).await {
        Ok(deployed) => Ok(deployed),
        Err(error) => Err(Failure { error, made, found: survey.own.into_iter().collect(), refused: false }),
    }
}

/// How the pipeline of `spec` takes over parts that are not yet its own.
fn hand_over(spec: &ServiceSpec) -> String {
    format!(
        "If they are this service's, hand them over: a pipeline made elsewhere is imported with `terraform import ADDRESS {name}` (ADDRESS: this resource's address in your configuration, e.g. `bokbasen_service_pipeline.{underscored}`; Terraform does not tell the provider its address); a part without its pipeline is handed over by tagging it `{OWNER_TAG} = {marker}`. Otherwise give the service another `name`.",
        name = spec.name,
        underscored = spec.name.replace('-', "_"),
        marker = marker(spec),
    )
}

/// [`ensure`]'s changes, recording in `made` each part before the call that
/// may create it (a part whose creation failed half way may exist).
async fn make(accounts: &Accounts, spec: &ServiceSpec, own: &BTreeSet<Part>, made: &mut Vec<Part>) -> Step<Deployed> {
    let shape = shape(spec);
    let tags = tags(&accounts.pipeline, spec);
    let (region, account) = (&accounts.region, accounts.pipeline_account.as_str());
    let mut creating = |part: Part| {
        if !own.contains(&part) {
            made.push(part);
        }
    };
    let role = |name: String, place: Where| Part::new(PartKind::Role, name, spec, place);
    let mut role_arns = BTreeMap::new();

    let name = pipeline_role_name(&spec.name);
    creating(role(name.clone(), Where::Pipeline));
    let arn = ensure_role(&accounts.pipeline, &name, &pipeline_role(spec, &shape, region, account), &tags, &[]).await?;
    role_arns.insert("pipeline".to_string(), arn);
    let name = build_role_name(&spec.name);
    creating(role(name.clone(), Where::Pipeline));
    let arn = ensure_role(&accounts.pipeline, &name, &build_role(spec, &shape, region, account), &tags, &[]).await?;
    role_arns.insert("build".to_string(), arn);
    for env in &spec.environments {
        if let Some(docs) = environment_role(spec, &shape, region, env) {
            let name = environment_role_name(&spec.name, &env.name);
            creating(role(name.clone(), Where::Environment(env.name.clone())));
            let arn = ensure_role(accounts.environment(&env.name), &name, &docs, &tags, &[]).await?;
            role_arns.insert(env.name.clone(), arn);
        }
    }

    let ecr_repository_url = if spec.kind.builds_image() {
        let name = repository_name(&spec.name);
        creating(Part::new(PartKind::Repository, name.clone(), spec, Where::Pipeline));
        let lifecycle = image_lifecycle().to_string();
        let pulls = repository_policy(spec, region, account).map(|p| p.to_string());
        ecr::ensure_repository(&accounts.pipeline, &name, &tags, &lifecycle, pulls.as_deref()).await?
    } else {
        String::new()
    };

    let mut projects = BTreeMap::new();
    for project in &shape.projects {
        let role = match &project.runs_in {
            Where::Pipeline => &role_arns["build"],
            Where::Environment(env) => &role_arns[env],
        };
        let definition = project_definition(spec, project, role, &ecr_repository_url, &tags)?;
        creating(Part::new(PartKind::Project, project.name.clone(), spec, project.runs_in.clone()));
        codebuild::ensure_project(accounts.context(&project.runs_in), definition).await?;
        projects.insert(project_key(project), project.name.clone());
    }

    creating(Part::new(PartKind::Pipeline, shape.name.clone(), spec, Where::Pipeline));
    let (arn, version) = ensure_pipeline(accounts, spec, &shape, &role_arns["pipeline"], &tags).await?;
    Ok(Deployed { arn, version, role_arns, ecr_repository_url, projects })
}

/// Creates the pipeline or updates it and its tags; returns its ARN and version.
async fn ensure_pipeline(
    accounts: &Accounts,
    spec: &ServiceSpec,
    shape: &PipelineShape,
    role_arn: &str,
    tags: &BTreeMap<String, String>,
) -> Step<(String, i64)> {
    let aws = &accounts.pipeline;
    let declared = declaration(spec, shape, role_arn)?;
    match codepipeline::get_pipeline(aws, &shape.name).await? {
        Some(found) => {
            let version = codepipeline::update_pipeline(aws, declared).await?;
            codepipeline::sync_tags(aws, &found.arn, tags).await?;
            Ok((found.arn, version))
        }
        None => {
            let version = codepipeline::create_pipeline(aws, declared, tags).await?;
            // CreatePipeline does not answer with the ARN; it is formed as AWS forms it.
            Ok((accounts.region.arn("codepipeline", &accounts.pipeline_account, &shape.name), version))
        }
    }
}

/// The service pipeline named `name` as AWS holds it.
pub struct Found {
    /// In the shape's terms, for [`bokbasen_pipeline::recover`].
    pub observed: Observed,
    /// What exists of the parts; a missing one is left out.
    pub deployed: Deployed,
    /// Every stage with its action names, as declared (also actions the
    /// shape has no kind for, so the `stages` attribute shows them).
    pub stages: Vec<(String, Vec<String>)>,
}

/// Reads the service pipeline named `name` back from AWS: the pipeline, the
/// projects its actions run (in the account each action acts in), its roles
/// and repository. `None` when there is no such pipeline. `own_tags` are the
/// tags the service itself sets, told apart from the provider's defaults.
/// `may_have_image`: false when the state's kind builds no image (as it
/// requires replacement, AWS cannot have made it one that does), so no ECR
/// call is made.
pub async fn observe(
    aws: &AwsContext,
    name: &str,
    own_tags: &BTreeMap<String, String>,
    may_have_image: bool,
) -> Step<Option<Found>> {
    let Some(pipeline) = codepipeline::get_pipeline(aws, &pipeline_name(name)).await? else { return Ok(None) };
    let pipeline_tags = codepipeline::tags(aws, &pipeline.arn).await?;
    if let Holder::Other(owner) = Holder::of(&pipeline_tags, &owner_marker(TYPE_NAME, name), false) {
        return Err(format!("the pipeline {name} belongs to {owner} ({OWNER_TAG}), not to this resource"));
    }
    let declared = observed_declaration(&pipeline.declaration);
    let accounts = Accounts::through(aws, declared.deploy_roles.clone()).await?;

    // Each account's projects in one question, all accounts at once: the
    // questions of concurrent reads become one call per account.
    let mut asked: BTreeMap<&Where, Vec<(String, ProjectPurpose)>> = BTreeMap::new();
    for action in declared.stages.iter().flat_map(|s| &s.actions) {
        if let (Some(project), Some(purpose)) = (project_name(action), ProjectPurpose::from_action(&action.name)) {
            asked.entry(&action.runs_in).or_default().push((project.to_string(), purpose));
        }
    }
    let accounts = &accounts;
    let answers = try_join_all(asked.iter().map(|(place, wanted)| {
        let names: Vec<String> = wanted.iter().map(|(name, _)| name.clone()).collect();
        let glob = match place {
            Where::Pipeline => builds_glob().to_string(),
            Where::Environment(env) => environment_projects_glob(env),
        };
        async move { codebuild::find_projects(accounts.context(place), &names, &glob).await }
    }))
    .await?;
    let mut projects = BTreeMap::new();
    let mut project_keys = BTreeMap::new();
    for ((place, wanted), mut found) in asked.iter().zip(answers) {
        for (name, purpose) in wanted {
            if let Some(found) = found.remove(name) {
                let found = observed_project(&found, *purpose, place);
                project_keys.insert(project_key(&found), found.name.clone());
                projects.insert(found.name.clone(), found);
            }
        }
    }

    let mut role_arns = BTreeMap::new();
    for (key, role) in [("pipeline", pipeline_role_name(name)), ("build", build_role_name(name))] {
        if let Some(arn) = roles::listed_role_arn(aws, &role).await? {
            role_arns.insert(key.to_string(), arn);
        }
    }
    for env in declared.deploy_roles.keys() {
        if let Some(arn) = roles::listed_role_arn(accounts.environment(env), &environment_role_name(name, env)).await? {
            role_arns.insert(env.clone(), arn);
        }
    }
    let ecr_repository_url = match may_have_image {
        true => ecr::repository_url(aws, &repository_name(name)).await?.unwrap_or_default(),
        false => String::new(),
    };

    let deployed = Deployed {
        arn: pipeline.arn,
        version: declared.version,
        role_arns,
        ecr_repository_url,
        projects: project_keys,
    };
    let observed = Observed {
        name: name.to_string(),
        artifact_bucket: declared.artifact_bucket,
        artifact_key_arn: declared.artifact_key_arn,
        stages: declared.stages,
        projects,
        deploy_roles: declared.deploy_roles,
        tags: service_tags(aws, pipeline_tags, own_tags),
    };
    Ok(Some(Found { observed, deployed, stages: declared.stage_names }))
}

/// What [`remove`] could not remove: the error, and the parts left.
pub struct Unremoved {
    pub error: String,
    pub left: Vec<Part>,
}

/// Deletes exactly `parts` of `spec`'s pipeline (already gone is fine):
/// projects, the repository, roles, and the pipeline last. The pipeline is
/// what read finds the rest by, so while anything is left it stays, and a
/// destroy that fails half way is still in state to go on with.
pub async fn remove(aws: &AwsContext, spec: &ServiceSpec, parts: Vec<Part>) -> Result<(), Unremoved> {
    let mut parts = parts;
    parts.sort_by_key(|part| match part.kind {
        PartKind::Project => 0,
        PartKind::Repository => 1,
        PartKind::Role => 2,
        PartKind::Pipeline => 3,
    });
    let accounts = match Accounts::of(aws, spec).await {
        Ok(accounts) => accounts,
        Err(error) => return Err(Unremoved { error, left: parts }),
    };
    for (i, part) in parts.iter().enumerate() {
        let aws = accounts.context(&part.place);
        let removed = match part.kind {
            PartKind::Pipeline => codepipeline::delete_pipeline(aws, &part.name).await,
            PartKind::Project => codebuild::delete_project(aws, &part.name).await,
            PartKind::Repository => ecr::delete_repository(aws, &part.name).await,
            PartKind::Role => remove_role(aws, &part.name).await,
        };
        if let Err(error) = removed {
            return Err(Unremoved { error, left: parts[i..].to_vec() });
        }
    }
    Ok(())
}

/// Deletes every part of `spec`'s pipeline that is the resource's: listed
/// in `claimed` (its state) or carrying its marker. Answers the parts left
/// alone because they are someone else's.
pub async fn remove_own(
    aws: &AwsContext,
    spec: &ServiceSpec,
    claimed: &BTreeSet<Part>,
) -> Result<Vec<Foreign>, Unremoved> {
    let unremoved = |error| Unremoved { error, left: claimed.iter().cloned().collect() };
    let accounts = Accounts::of(aws, spec).await.map_err(unremoved)?;
    let survey = survey(&accounts, spec, claimed).await.map_err(unremoved)?;
    remove(aws, spec, survey.own.into_iter().collect()).await?;
    Ok(survey.foreign.into_iter().map(|(_, f)| f).collect())
}

/// What a state records of `parts` that exist: each part read back (ARNs,
/// the repository URL), the pipeline's ARN empty when it is not among them.
pub async fn deployed_of(aws: &AwsContext, spec: &ServiceSpec, parts: &[Part]) -> Step<Deployed> {
    let accounts = Accounts::of(aws, spec).await?;
    let shape = shape(spec);
    let mut deployed = Deployed {
        arn: String::new(),
        version: 0,
        role_arns: BTreeMap::new(),
        ecr_repository_url: String::new(),
        projects: BTreeMap::new(),
    };
    for part in parts {
        let aws = accounts.context(&part.place);
        match part.kind {
            PartKind::Role => {
                if let Some(arn) = role_arn(aws, &part.name).await? {
                    deployed.role_arns.insert(role_key(spec, part), arn);
                }
            }
            PartKind::Repository => {
                deployed.ecr_repository_url = ecr::repository_url(aws, &part.name).await?.unwrap_or_default();
            }
            PartKind::Project => {
                let project = shape.projects.iter().find(|p| p.name == part.name && p.runs_in == part.place);
                if let Some(project) = project {
                    if codebuild::find_project(aws, &part.name).await?.is_some() {
                        deployed.projects.insert(project_key(project), project.name.clone());
                    }
                }
            }
            PartKind::Pipeline => {
                if let Some(found) = codepipeline::get_pipeline(aws, &part.name).await? {
                    deployed.arn = found.arn;
                }
            }
        }
    }
    Ok(deployed)
}

/// How many images the service's ECR repository holds (none for kinds
/// without one), which destroy keeps unless told otherwise.
pub async fn repository_images(aws: &AwsContext, spec: &ServiceSpec) -> Step<usize> {
    if !spec.kind.builds_image() {
        return Ok(0);
    }
    ecr::image_count(aws, &repository_name(&spec.name)).await
}

/// Deletes what `old` had (the parts its state lists, `claimed`) and `new`
/// no longer has: environments, projects, a role in an account left.
pub async fn remove_obsolete(aws: &AwsContext, old: &ServiceSpec, new: &ServiceSpec, claimed: &BTreeSet<Part>) -> Step {
    let kept = parts(new);
    let obsolete = claimed.iter().filter(|part| !kept.contains(part)).cloned().collect();
    remove(aws, old, obsolete).await.map_err(|unremoved| unremoved.error)
}

#[cfg(test)]
mod tests {
    use bokbasen_pipeline::names::deployer_role_arn;
    use bokbasen_pipeline::{Cache, Kind};

    use super::super::convert::tests::spec;
    use super::*;

    fn names(parts: &[Part]) -> Vec<String> {
        parts.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn parts_are_made_roles_first_and_the_pipeline_last_each_in_its_account() {
        let fargate = parts(&spec(Kind::Fargate, Cache::None));
        let kinds: Vec<PartKind> = fargate.iter().map(|p| p.kind).collect();
        assert!(kinds.windows(2).all(|w| w[0] <= w[1]), "{kinds:?}");
        assert_eq!(
            names(&fargate[..5]),
            [
                "IAM role ebook-api-pipeline",
                "IAM role ebook-api-build",
                "IAM role ebook-api-test-cb",
                "IAM role ebook-api-production-cb",
                "ECR repository ebook-api",
            ]
        );
        assert_eq!(fargate.last().unwrap().to_string(), "CodePipeline pipeline ebook-api");
        let test_role = &fargate[2];
        assert_eq!(test_role.place, Where::Environment("test".into()));
        assert_eq!(test_role.through.as_deref(), Some(deployer_role_arn("222222222222", "test").as_str()));
        assert_eq!(fargate[0].through, None, "the pipeline account's parts need no deploy role");
        assert!(!parts(&spec(Kind::Lambda, Cache::None)).iter().any(|p| p.kind == PartKind::Repository));
    }

    #[test]
    fn a_state_claims_exactly_the_parts_it_lists() {
        let spec = spec(Kind::Fargate, Cache::None);
        let deployed = Deployed {
            arn: String::new(),
            version: 0,
            role_arns: BTreeMap::from([
                ("pipeline".into(), "arn:aws:iam::123456789012:role/bokbasen/ebook-api-pipeline".into()),
                ("test".into(), "arn:aws:iam::222222222222:role/bokbasen/ebook-api-test-cb".into()),
            ]),
            ecr_repository_url: "123456789012.dkr.ecr.eu-north-1.amazonaws.com/ebook-api".into(),
            projects: BTreeMap::from([("build".into(), "ebook-api-build".into())]),
        };
        let listed: Vec<Part> = listed(&spec, &deployed).into_iter().collect();
        assert_eq!(
            names(&listed),
            [
                "IAM role ebook-api-pipeline",
                "IAM role ebook-api-test-cb",
                "ECR repository ebook-api",
                "CodeBuild project ebook-api-build",
            ]
        );
        assert!(!deployed.is_empty());
        let nothing = Deployed {
            role_arns: BTreeMap::new(),
            ecr_repository_url: String::new(),
            projects: BTreeMap::new(),
            ..deployed
        };
        assert!(nothing.is_empty() && listed_is_empty(&spec, &nothing));
    }

    fn listed_is_empty(spec: &ServiceSpec, deployed: &Deployed) -> bool {
        listed(spec, deployed).is_empty()
    }

    #[test]
    fn an_environment_moved_to_another_account_has_new_parts_and_leaves_the_old_ones_obsolete() {
        let old = spec(Kind::Lambda, Cache::None);
        let mut new = old.clone();
        new.environments[0].account_id = "333333333333".into();
        new.environments[0].deploy_role_arn = deployer_role_arn("333333333333", "test");
        let kept = parts(&new);
        let obsolete: Vec<String> =
            parts(&old).into_iter().filter(|p| !kept.contains(p)).map(|p| p.to_string()).collect();
        assert_eq!(
            obsolete.len(),
            1 + shape(&old).projects.iter().filter(|p| p.runs_in == Where::Environment("test".into())).count()
        );
        assert_eq!(obsolete[0], "IAM role ebook-api-test-cb");
    }
}
