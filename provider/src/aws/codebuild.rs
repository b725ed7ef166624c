//! CodeBuild calls: find a project, make one match its definition (create
//! or update), delete one. What a definition holds is decided above (the
//! service pipeline's `convert`); here are only the requests.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use aws_sdk_codebuild::error::ProvideErrorMetadata;
use aws_sdk_codebuild::types as cb;
use bokbasen_pipeline::names::glob_matches;

use super::reuse::{Batches, UntilWrite};
use super::{failed, retry, AwsContext, Step};

/// A project as bokbasen writes it: the parts CreateProject and
/// UpdateProject both take.
#[derive(Clone, Debug)]
pub struct ProjectDefinition {
    pub name: String,
    pub source: cb::ProjectSource,
    pub artifacts: cb::ProjectArtifacts,
    pub environment: cb::ProjectEnvironment,
    pub cache: cb::ProjectCache,
    pub service_role: String,
    /// The KMS key of the project's output artifacts.
    pub encryption_key: Option<String>,
    pub vpc_config: Option<cb::VpcConfig>,
    pub tags: Vec<cb::Tag>,
}

/// What a refresh reads of a project: the parts bokbasen writes. CodeBuild
/// answers much more (ARN, dates, logs, artifacts, tags, …), and a process
/// keeps an answer for every project of a workspace's accounts ([`Known`]):
/// kept whole, they cost about 4 MiB of peak memory in a refresh of 200
/// pipelines (`cargo xtask bench refresh`).
#[derive(Clone, Debug, PartialEq)]
pub struct FoundProject {
    pub name: String,
    pub image: String,
    pub compute_type: String,
    pub privileged: bool,
    pub cache: Option<cb::CacheType>,
    pub buildspec: String,
    pub variables: Vec<cb::EnvironmentVariable>,
    pub encryption_key: Option<String>,
    pub vpc_config: Option<cb::VpcConfig>,
}

impl From<cb::Project> for FoundProject {
    fn from(project: cb::Project) -> FoundProject {
        let environment = project.environment;
        FoundProject {
            name: project.name.unwrap_or_default(),
            image: environment.as_ref().map(|e| e.image.clone()).unwrap_or_default(),
            compute_type: environment.as_ref().map(|e| e.compute_type.as_str().to_string()).unwrap_or_default(),
            privileged: environment.as_ref().and_then(|e| e.privileged_mode).unwrap_or(false),
            cache: project.cache.map(|c| c.r#type),
            buildspec: project.source.and_then(|s| s.buildspec).unwrap_or_default(),
            variables: environment.and_then(|e| e.environment_variables).unwrap_or_default(),
            encryption_key: project.encryption_key,
            vpc_config: project.vpc_config,
        }
    }
}

/// The project `name`, if it exists.
pub async fn find_project(aws: &AwsContext, name: &str) -> Step<Option<cb::Project>> {
    let found = aws
        .codebuild()
        .batch_get_projects()
        .names(name)
        .send()
        .await
        .map_err(failed(format!("reading CodeBuild project {name}")))?;
    Ok(found.projects.unwrap_or_default().into_iter().find(|p| p.name() == Some(name)))
}

/// After this many calls to an account for projects in one process, its
/// project names are listed (`ListProjects`) and every later call fills its
/// 100 names with ones not asked yet: a workspace of many pipelines then
/// reads each account's projects in about one call per 100, while one of a
/// single pipeline never pays for the listing.
const LIST_AFTER_CALLS: usize = 3;

/// BatchGetProjects takes at most 100 names.
pub const MAX_NAMES: usize = 100;

/// What this process knows of one account's CodeBuild projects, kept until
/// it writes anything (`reuse::Writes`): answers by name (`None`: no such
/// project), the globs questions came with, the calls made; and the
/// questions on their way to AWS together.
#[derive(Debug)]
pub struct Known {
    state: Mutex<KnownState>,
    names: UntilWrite<Arc<Vec<String>>>,
    batches: Batches<Arc<FoundProject>>,
}

impl Default for Known {
    fn default() -> Known {
        Known { state: Mutex::default(), names: UntilWrite::default(), batches: Batches::new(MAX_NAMES) }
    }
}

#[derive(Debug, Default)]
struct KnownState {
    /// The count of writes these answers hold for.
    writes: u64,
    answers: BTreeMap<String, Option<Arc<FoundProject>>>,
    globs: BTreeSet<String>,
    calls: usize,
}

impl Known {
    /// The answers, forgotten if the process wrote since they were given.
    fn state(&self, writes: u64) -> MutexGuard<'_, KnownState> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.writes != writes {
            *state = KnownState { writes, ..KnownState::default() };
        }
        state
    }
}

/// The projects among `names` that exist, by name; `glob` (as the policy
/// granting them names them) matches them. Asked together with the other
/// resources' questions to this account within a moment
/// ([`super::reuse::Batches`]), and answered from what this process already
/// knows when it can ([`Known`]): one BatchGetProjects for many pipelines.
pub async fn find_projects(
    aws: &AwsContext,
    names: &[String],
    glob: &str,
) -> Step<BTreeMap<String, Arc<FoundProject>>> {
    let known = aws.known_projects();
    let writes = aws.writes().count();
    let (mut found, missing, list) = {
        let mut state = known.state(writes);
        state.globs.insert(glob.to_string());
        let mut found = BTreeMap::new();
        let mut missing = Vec::new();
        for name in names {
            match state.answers.get(name) {
                Some(answer) => found.extend(answer.clone().map(|project| (name.clone(), project))),
                None => missing.push(name.clone()),
            }
        }
        (found, missing, state.calls >= LIST_AFTER_CALLS)
    };
    if missing.is_empty() {
        return Ok(found);
    }
    let listed = match list {
        true => Some(known.names.get(aws.writes(), project_names(aws)).await?),
        false => None,
    };
    let codebuild = aws.codebuild();
    let known = Arc::clone(&known);
    let fetch = move |mut names: Vec<String>| async move {
        if let Some(listed) = &listed {
            let state = known.state(writes);
            let unasked = listed.iter().filter(|name| {
                !state.answers.contains_key(*name)
                    && !names.contains(name)
                    && state.globs.iter().any(|glob| glob_matches(glob, name))
            });
            let room = MAX_NAMES.saturating_sub(names.len());
            let unasked: Vec<String> = unasked.take(room).cloned().collect();
            names.extend(unasked);
        }
        let answered = codebuild
            .batch_get_projects()
            .set_names(Some(names.clone()))
            .send()
            .await
            .map_err(failed(format!("reading CodeBuild projects {}", names.join(", "))))?;
        let found: BTreeMap<String, Arc<FoundProject>> = answered
            .projects
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| Some((p.name.clone()?, Arc::new(FoundProject::from(p)))))
            .collect();
        let mut state = known.state(writes);
        for name in names {
            let answer = found.get(&name).cloned();
            state.answers.insert(name, answer);
        }
        state.calls += 1;
        Ok(found)
    };
    found.extend(aws.known_projects().batches.get(&missing, fetch).await?);
    Ok(found)
}

/// The account's project names (empty when listing them is denied, as to a
/// deploy target applied by an older version until its next apply).
async fn project_names(aws: &AwsContext) -> Step<Arc<Vec<String>>> {
    let listed = aws.codebuild().list_projects().into_paginator().items().send().collect::<Result<Vec<_>, _>>().await;
    match listed {
        Ok(names) => Ok(Arc::new(names)),
        Err(err) if err.as_service_error().and_then(|e| e.code()) == Some("AccessDeniedException") => {
            Ok(Arc::default())
        }
        Err(err) => Err(failed("listing the CodeBuild projects")(err)),
    }
}

/// Makes the project match `definition`: updated when it exists, created
/// when it does not.
pub async fn ensure_project(aws: &AwsContext, definition: ProjectDefinition) -> Step {
    let exists = find_project(aws, &definition.name).await?.is_some();
    let codebuild = aws.codebuild();
    let ProjectDefinition {
        name,
        source,
        artifacts,
        environment,
        cache,
        service_role,
        encryption_key,
        vpc_config,
        tags,
    } = definition;
    // Both requests take the same parts under the same names, on builders of different types.
    macro_rules! with_parts {
        ($request:expr) => {
            $request
                .name(&name)
                .source(source)
                .artifacts(artifacts)
                .environment(environment)
                .cache(cache)
                .service_role(service_role)
                .set_encryption_key(encryption_key)
                .set_tags(Some(tags))
        };
    }
    // CodeBuild checks the service role on both calls; a role just written may not pass yet.
    if exists {
        // UpdateProject keeps a VPC configuration it is not given; an empty
        // one takes it away (AWS CloudFormation coverage roadmap #445, aws-cdk #22733).
        let vpc_config = vpc_config.unwrap_or_else(|| cb::VpcConfig::builder().build());
        let request = with_parts!(codebuild.update_project()).vpc_config(vpc_config);
        retry::while_propagating(&format!("codebuild:UpdateProject {name}"), || request.clone().send())
            .await
            .map_err(failed(format!("updating CodeBuild project {name}")))?;
    } else {
        let request = with_parts!(codebuild.create_project()).set_vpc_config(vpc_config);
        retry::while_propagating(&format!("codebuild:CreateProject {name}"), || request.clone().send())
            .await
            .map_err(failed(format!("creating CodeBuild project {name}")))?;
    }
    Ok(())
}

/// Deletes the project `name`; CodeBuild answers a name that does not
/// exist with success.
pub async fn delete_project(aws: &AwsContext, name: &str) -> Step {
    aws.codebuild()
        .delete_project()
        .name(name)
        .send()
        .await
        .map_err(failed(format!("deleting CodeBuild project {name}")))?;
    Ok(())
}
