//! Every name bokbasen gives an AWS object, and every glob a policy matches
//! such names with, in one place.
//!
//! A service's own roles name its objects exactly (`{service}-build` and so
//! on). The deploy target's roles serve every service of an environment, so
//! they match by globs instead: `*-{env}-*` projects, `/bokbasen/*-{env}-cb`
//! roles, `{prefix}/*{separator}{env}/*` parameters. A name and the glob
//! that must match it are written side by side here, and
//! `tests/names.rs` checks for sample services that every name is matched
//! by the glob its policy uses, and by nothing of another service or
//! environment. Renaming one without the other fails that test instead of
//! a release.
//!
//! Environments are told apart by their accounts as much as by their names:
//! policy resources carry the account, and each environment has an account
//! of its own. A glob by environment name alone is not exact (`*-test-*`
//! also matches the stage project of a service called `app-test-x`), so two
//! environments sharing one account would not be kept apart by it.
//!
//! Names are bounded so that every derived name fits AWS: a service name is
//! at most 40 characters and an environment name at most 20, so
//! `{service}-{environment}-cb` stays within IAM's 64 characters.

use std::sync::LazyLock;

use regex_lite::Regex;

use crate::checks::regex;

/// The steps a pipeline runs as CodeBuild projects, with what their action
/// and project are called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectPurpose {
    Build,
    Migrate,
    Deploy,
    Invalidate,
    SmokeTest,
    Verify,
}

impl ProjectPurpose {
    pub const ALL: [ProjectPurpose; 6] = [
        ProjectPurpose::Build,
        ProjectPurpose::Migrate,
        ProjectPurpose::Deploy,
        ProjectPurpose::Invalidate,
        ProjectPurpose::SmokeTest,
        ProjectPurpose::Verify,
    ];

    /// The name of the pipeline action that runs the project.
    pub fn action(self) -> &'static str {
        match self {
            ProjectPurpose::Build => "Build",
            ProjectPurpose::Migrate => "Migrate",
            ProjectPurpose::Deploy => "Deploy",
            ProjectPurpose::Invalidate => "Invalidate",
            ProjectPurpose::SmokeTest => "SmokeTest",
            ProjectPurpose::Verify => "Verify",
        }
    }

    pub fn from_action(name: &str) -> Option<ProjectPurpose> {
        ProjectPurpose::ALL.into_iter().find(|p| p.action() == name)
    }

    /// The last part of the project's name, e.g. `smoke-test`.
    pub fn suffix(self) -> &'static str {
        match self {
            ProjectPurpose::Build => "build",
            ProjectPurpose::Migrate => "migrate",
            ProjectPurpose::Deploy => "deploy",
            ProjectPurpose::Invalidate => "invalidate",
            ProjectPurpose::SmokeTest => "smoke-test",
            ProjectPurpose::Verify => "verify",
        }
    }
}

/// IAM path of every role bokbasen creates.
pub const ROLE_PATH: &str = "/bokbasen/";

/// The tag that marks every object of a service pipeline with its service.
pub const SERVICE_TAG: &str = "bokbasen:service";

/// The tag that marks every object bokbasen creates with the resource that
/// made it ([`owner_marker`]). An object of a wanted name is taken over only
/// with this resource's marker (left by an interrupted apply); without it,
/// or with another's, it is not bokbasen's to change or delete.
pub const OWNER_TAG: &str = "bokbasen:owner";

/// The value of [`OWNER_TAG`] on what the Terraform resource `type_name`
/// with id `id` made, e.g. `bokbasen_service_pipeline/ebook-api`.
pub fn owner_marker(type_name: &str, id: &str) -> String {
    format!("{type_name}/{id}")
}

/// CodePipeline keeps a pipeline's artifacts in a folder of the artifact
/// bucket named after the first 20 characters of the pipeline's name.
pub const ARTIFACT_FOLDER_CHARS: usize = 20;

// At least 2 characters: the service's ECR repository is named after it, and ECR names take 2–256.
static SERVICE_NAME: LazyLock<Regex> = LazyLock::new(|| regex(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$"));
static ENVIRONMENT_NAME: LazyLock<Regex> = LazyLock::new(|| regex(r"^[a-z]([a-z0-9-]{0,18}[a-z0-9])?$"));

/// A service name as every bokbasen object uses it: it becomes part of
/// pipeline, project, role, repository and parameter names.
pub fn check_service_name(name: &str) -> Result<(), String> {
    if SERVICE_NAME.is_match(name) {
        return Ok(());
    }
    Err(format!("{name:?} is not a service name: use 2–40 lowercase letters, digits and `-`, starting with a letter and not ending with `-`, e.g. `ebook-api`."))
}

/// An environment name (`test`, `stage`, `production`).
pub fn check_environment_name(name: &str) -> Result<(), String> {
    if ENVIRONMENT_NAME.is_match(name) {
        return Ok(());
    }
    Err(format!("{name:?} is not an environment name: 1–20 lowercase letters, digits and `-`, e.g. `test`."))
}

static ECR_IMAGE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"^(?<account>[0-9]{12})\.dkr\.ecr\.(?<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/(?<repository>[a-z0-9._/-]+)([:@].*)?$",
    )
});

/// The repository ARN of an image in a private ECR registry, which
/// CodeBuild pulls with the project's role; `None` for other registries.
pub fn ecr_image_repository(image: &str, partition: &str) -> Option<String> {
    let c = ECR_IMAGE.captures(image)?;
    Some(format!("arn:{partition}:ecr:{}:{}:repository/{}", &c["region"], &c["account"], &c["repository"]))
}

/// The service's pipeline is named after the service.
pub fn pipeline_name(service: &str) -> String {
    service.to_string()
}

/// The service's ECR repository (container kinds) is named after the service.
pub fn repository_name(service: &str) -> String {
    service.to_string()
}

/// The CodePipeline service role, in the pipeline account.
pub fn pipeline_role_name(service: &str) -> String {
    format!("{service}-pipeline")
}

/// Matches every service's [`pipeline_role_name`]: whom a deployer trusts
/// in a pipeline account.
pub fn pipeline_roles_glob() -> &'static str {
    "*-pipeline"
}

/// The build project's role, in the pipeline account.
pub fn build_role_name(service: &str) -> String {
    format!("{service}-build")
}

/// Matches every service's [`build_role_name`] and [`build_project_name`].
pub fn builds_glob() -> &'static str {
    "*-build"
}

/// The role of a service's projects in one environment's account.
pub fn environment_role_name(service: &str, environment: &str) -> String {
    format!("{service}-{environment}-cb")
}

/// What the deploy target's role matches [`environment_role_name`] with.
pub fn environment_roles_glob(environment: &str) -> String {
    format!("*-{environment}-cb")
}

/// The build project, in the pipeline account.
pub fn build_project_name(service: &str) -> String {
    format!("{service}-build")
}

/// A project that runs in an environment's account, e.g. `ebook-api-test-smoke-test`.
pub fn environment_project_name(service: &str, environment: &str, purpose: ProjectPurpose) -> String {
    format!("{service}-{environment}-{}", purpose.suffix())
}

/// What the deploy target's role matches [`environment_project_name`] with.
pub fn environment_projects_glob(environment: &str) -> String {
    format!("*-{environment}-*")
}

/// Whether `name` matches `glob`, one of the globs above: `*` stands for any
/// run of characters, as in the IAM policies that grant them.
pub fn glob_matches(glob: &str, name: &str) -> bool {
    let mut parts = glob.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// The SSM path of one service's configuration for one environment,
/// `{prefix}/{service}{separator}{environment}` (see [`crate::parameters`]).
pub fn config_path(prefix: &str, service: &str, separator: &str, environment: &str) -> String {
    format!("{}/{service}{separator}{environment}", prefix.trim_end_matches('/'))
}

/// A CodeBuild project's log group.
pub fn log_group(project: &str) -> String {
    format!("/aws/codebuild/{project}")
}

/// The folder CodePipeline keeps a pipeline's artifacts in. Pipelines whose
/// names agree in their first 20 characters share it (an AWS rule).
pub fn artifact_folder(pipeline: &str) -> String {
    pipeline.chars().take(ARTIFACT_FOLDER_CHARS).collect()
}

/// Where a build with the S3 cache keeps it: `{bucket}/{service}/cache`.
pub fn cache_location(bucket: &str, service: &str) -> String {
    format!("{bucket}/{service}/cache")
}

/// The deployer role of an environment account; the environment name keeps
/// it unique per account.
pub fn deployer_role_name(environment: &str) -> String {
    format!("bokbasen-deployer-{environment}")
}

/// The read-only DevOps role of an environment account.
pub fn devops_role_name(environment: &str) -> String {
    format!("bokbasen-devops-{environment}")
}

/// The ARN of a role bokbasen made (all live under [`ROLE_PATH`]).
pub fn role_arn(partition: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:iam::{account}:role{ROLE_PATH}{name}")
}

/// The deployer role's ARN in an environment account (partition `aws`): what
/// a service's `deploy_role_arn` for that environment is.
pub fn deployer_role_arn(account: &str, environment: &str) -> String {
    role_arn("aws", account, &deployer_role_name(environment))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_the_names_they_stand_for_and_no_others() {
        let deploy = environment_project_name("ebook-api", "test", ProjectPurpose::Deploy);
        assert!(glob_matches(&environment_projects_glob("test"), &deploy));
        assert!(!glob_matches(&environment_projects_glob("stage"), &deploy));
        assert!(glob_matches(builds_glob(), &build_project_name("ebook-api")));
        assert!(!glob_matches(builds_glob(), "ebook-api-build-cache"));
        assert!(glob_matches("*", "") && glob_matches("a*", "a") && !glob_matches("*-b", "-"));
        assert!(glob_matches("exact", "exact") && !glob_matches("exact", "exactly"));
    }

    #[test]
    fn the_longest_names_fit_iam() {
        let service = "s".repeat(40);
        let environment = "e".repeat(20);
        assert!(check_service_name(&service).is_ok() && check_environment_name(&environment).is_ok());
        assert!(check_service_name(&"s".repeat(41)).is_err() && check_environment_name(&"e".repeat(21)).is_err());
        assert_eq!(
            ecr_image_repository("123456789012.dkr.ecr.eu-north-1.amazonaws.com/mirror/flyway:10", "aws").as_deref(),
            Some("arn:aws:ecr:eu-north-1:123456789012:repository/mirror/flyway")
        );
        assert_eq!(ecr_image_repository("flyway/flyway:10", "aws"), None);
        // ECR repositories are named after the service and need 2 characters.
        assert!(check_service_name("a").is_err() && check_service_name("ab").is_ok());
        assert_eq!(environment_role_name(&service, &environment).len(), 64);
        assert!(deployer_role_name(&environment).len() <= 64 && devops_role_name(&environment).len() <= 64);
    }

    #[test]
    fn artifact_folders_are_cut_to_twenty_characters() {
        assert_eq!(artifact_folder("ebook-api"), "ebook-api");
        assert_eq!(artifact_folder("audiobook-streaming-service"), "audiobook-streaming-");
    }
}
