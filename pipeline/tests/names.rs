//! Every name bokbasen gives an object is matched by the resource the policy
//! that needs it grants, and by nothing of another service or environment.
//!
//! Sample services of every kind are deployed (on paper) into one pipeline
//! account and an account per environment, as a platform team lays them
//! out. Their objects are named with `bokbasen_pipeline::names` and the
//! shape; the grants are the policies' `Resource` entries, matched with
//! IAM's wildcards (`*`, `?`). A renamed object whose glob was not renamed
//! along fails here.

use std::collections::{BTreeMap, BTreeSet};

use bokbasen_pipeline::names::{
    artifact_folder, build_project_name, build_role_name, cache_location, deployer_role_arn, environment_project_name,
    environment_role_name, log_group, pipeline_name, pipeline_role_name, repository_name, role_arn,
};
use bokbasen_pipeline::parameters::{DEFAULT_PREFIX, DEFAULT_SEPARATOR};
use bokbasen_pipeline::target::{deployer_role, DeployTarget};
use bokbasen_pipeline::{
    build_role, environment_role, pipeline_role, shape, validate, Build, Cache, Environment, Flyway, Kind, Region,
    RoleDocuments, ServiceSpec, SmokeTest, Source, VariableValue, Where,
};
use serde_json::Value;

const PIPELINE_ACCOUNT: &str = "111111111111";
const BUCKET: &str = "bokbasen-pipeline-artifacts";
const ARTIFACT_KEY: &str = "arn:aws:kms:eu-north-1:111111111111:key/0a1b2c3d-0000-4000-8000-000000000001";
const ENVIRONMENTS: [(&str, &str); 3] =
    [("test", "222222222222"), ("stage", "333333333333"), ("production", "444444444444")];

fn region() -> Region {
    Region { partition: "aws".into(), region: "eu-north-1".into() }
}

/// IAM's resource matching: `*` any run of characters, `?` any one.
fn glob(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut p, mut t, mut star, mut resume) = (0, 0, None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            (p, t) = (p + 1, t + 1);
        } else if p < pattern.len() && pattern[p] == '*' {
            (star, resume, p) = (Some(p), t, p + 1);
        } else if let Some(s) = star {
            (p, resume) = (s + 1, resume + 1);
            t = resume;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[test]
fn the_matcher_follows_iam_wildcards() {
    assert!(glob("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y:z"));
    assert!(glob("project/*-test-*", "project/ebook-api-test-deploy"));
    assert!(!glob("project/*-test-*", "project/ebook-api-stage-deploy"));
    assert!(glob("a?c", "abc") && !glob("a?c", "ac") && !glob("abc", "abcd") && glob("*", ""));
}

fn target(kind: Kind, env: &str) -> BTreeMap<String, String> {
    let fields: &[(&str, &str)] = match kind {
        Kind::Fargate => &[("cluster", env), ("service", "app")],
        Kind::Lambda => &[("function", "app")],
        Kind::Batch => &[("job_queue", env), ("job_definition", "app")],
        Kind::ApiGateway => &[("api_id", "a1b2c3"), ("stage", env)],
        Kind::StaticSite => &[("bucket", "site"), ("distribution_id", "E2QWRUHEXAMPLE")],
    };
    fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn spec(name: &str, kind: Kind, cache: Cache) -> ServiceSpec {
    let migrate = kind != Kind::StaticSite;
    let environments = ENVIRONMENTS
        .iter()
        .map(|(env, account)| Environment {
            name: env.to_string(),
            account_id: account.to_string(),
            deploy_role_arn: deployer_role_arn(account, env),
            approval: *env != "test",
            migrate,
            smoke_test: Some(SmokeTest {
                runscope_trigger_parameter: format!("{DEFAULT_PREFIX}/{name}{DEFAULT_SEPARATOR}{env}/runscope-trigger"),
            }),
            verification: vec!["./verify.sh".into()],
            target: target(kind, env),
            network: None,
        })
        .collect();
    let spec = ServiceSpec {
        name: name.into(),
        kind,
        source: Source {
            connection_arn: format!("arn:aws:codestar-connections:eu-north-1:{PIPELINE_ACCOUNT}:connection/abc"),
            repository: format!("bokbasen/{name}"),
            branch: "main".into(),
        },
        artifact_bucket: BUCKET.into(),
        artifact_key_arn: Some(ARTIFACT_KEY.into()),
        build: Build {
            secrets: BTreeMap::from([("TOKEN".into(), format!("/config/{name}_build/token"))]),
            cache,
            ..Build::default()
        },
        environments,
        approval_topic_arn: None,
        flyway: migrate
            .then(|| Flyway { locations: vec!["filesystem:db/migration".into()], image: Flyway::DEFAULT_IMAGE.into() }),
        tags: BTreeMap::new(),
    };
    assert_eq!(validate(&spec), [], "{name} is a valid sample");
    spec
}

/// Services of every kind, with names that contain environment names, one
/// longer than the artifact folder's 20 characters, and two that agree in
/// their first 20.
fn services() -> Vec<ServiceSpec> {
    vec![
        spec("ebook-api", Kind::Fargate, Cache::Local),
        spec("audiobook-streaming-service-v2", Kind::Lambda, Cache::S3),
        spec("audiobook-streaming-service-v3", Kind::Batch, Cache::S3),
        spec("catalogue-search-test", Kind::ApiGateway, Cache::None),
        spec("stage-site", Kind::StaticSite, Cache::S3),
        spec("isbn", Kind::Batch, Cache::Local),
    ]
}

/// An object bokbasen names (or that runs under such a name), by its ARN.
#[derive(Clone, Debug)]
struct Object {
    arn: String,
    /// `None` for a deploy target's objects, which every service shares.
    service: Option<String>,
    /// `None` in the pipeline account.
    environment: Option<String>,
    /// Whether it lies in the artifact bucket, which deploy targets read.
    in_bucket: bool,
    /// The artifact folder it lies in, for objects CodePipeline names.
    artifact_folder: Option<String>,
}

fn account_of(environment: &str) -> &'static str {
    ENVIRONMENTS.iter().find(|(env, _)| *env == environment).map(|(_, account)| *account).unwrap()
}

fn arn(service: &str, account: &str, resource: &str) -> String {
    region_arn(&region(), service, account, resource)
}

fn region_arn(region: &Region, service: &str, account: &str, resource: &str) -> String {
    format!("arn:{}:{service}:{}:{account}:{resource}", region.partition, region.region)
}

fn log_stream(account: &str, project: &str) -> String {
    arn("logs", account, &format!("log-group:{}:log-stream:0f1e2d3c", log_group(project)))
}

fn parameter(account: &str, name: &str) -> String {
    arn("ssm", account, &format!("parameter{name}"))
}

/// What one service's release stack names, each with what must be allowed
/// on it: `(object, [(role, action)])`.
fn objects(spec: &ServiceSpec) -> Vec<(Object, Vec<(&'static str, &'static str)>)> {
    let shape = shape(spec);
    let service = spec.name.clone();
    let object = |arn: String, environment: Option<&str>| Object {
        arn,
        service: Some(service.clone()),
        environment: environment.map(str::to_string),
        in_bucket: false,
        artifact_folder: None,
    };
    let mut made = vec![
        (object(role_arn("aws", PIPELINE_ACCOUNT, &pipeline_role_name(&service)), None), Vec::new()),
        (object(role_arn("aws", PIPELINE_ACCOUNT, &build_role_name(&service)), None), Vec::new()),
    ];
    let folder = artifact_folder(&pipeline_name(&service));
    for artifact in ["source", "build"] {
        let mut artifact = object(format!("arn:aws:s3:::{BUCKET}/{folder}/{artifact}/Xy12AbC"), None);
        artifact.in_bucket = true;
        artifact.artifact_folder = Some(folder.clone());
        let reads = [("pipeline", "s3:PutObject"), ("build", "s3:PutObject"), ("environment", "s3:GetObject")];
        made.push((artifact, [&reads[..], &[("deployer", "s3:GetObject")]].concat()));
    }
    if spec.build.cache == Cache::S3 {
        let cache = cache_location(&spec.artifact_bucket, &service);
        let mut cached = object(format!("arn:aws:s3:::{cache}/0a1b2c"), None);
        cached.in_bucket = true;
        made.push((cached, vec![("build", "s3:GetObject"), ("build", "s3:PutObject")]));
    }
    if spec.kind.builds_image() {
        let repository = arn("ecr", PIPELINE_ACCOUNT, &format!("repository/{}", repository_name(&service)));
        made.push((object(repository, None), vec![("build", "ecr:PutImage")]));
    }
    for project in &shape.projects {
        let (account, environment, runs_it) = match &project.runs_in {
            Where::Pipeline => {
                assert_eq!(project.name, build_project_name(&service));
                (PIPELINE_ACCOUNT, None, vec![("pipeline", "codebuild:StartBuild")])
            }
            Where::Environment(env) => {
                assert_eq!(project.name, environment_project_name(&service, env, project.purpose));
                let manage = vec![("deployer", "codebuild:StartBuild"), ("deployer", "codebuild:UpdateProject")];
                (account_of(env), Some(env.as_str()), manage)
            }
        };
        let role = if environment.is_some() { "environment" } else { "build" };
        made.push((object(arn("codebuild", account, &format!("project/{}", project.name)), environment), runs_it));
        made.push((object(log_stream(account, &project.name), environment), vec![(role, "logs:PutLogEvents")]));
        for variable in &project.variables {
            if let VariableValue::Parameter(name) = &variable.value {
                made.push((object(parameter(account, name), environment), vec![(role, "ssm:GetParameters")]));
            }
        }
    }
    for env in &spec.environments {
        let account = account_of(&env.name);
        let deployer = Object { service: None, ..object(env.deploy_role_arn.clone(), Some(&env.name)) };
        made.push((deployer, vec![("pipeline", "sts:AssumeRole")]));
        if environment_role(spec, &shape, &region(), env).is_some() {
            let role = role_arn("aws", account, &environment_role_name(&service, &env.name));
            made.push((
                object(role, Some(&env.name)),
                vec![("deployer", "iam:PassRole"), ("deployer", "iam:PutRolePolicy")],
            ));
        }
    }
    made
}

/// A role's grants: its policy's statements as (actions, resources), but
/// resource `*`, which stands for actions AWS cannot scope (and is checked
/// in `target.rs`).
#[derive(Debug)]
struct Grant {
    role: &'static str,
    /// The service whose own role this is; `None` for a deploy target's.
    service: Option<String>,
    environment: Option<String>,
    statements: Vec<Statement>,
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many.iter().filter_map(|r| r.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// A statement as (actions, resources, not-resources); a statement with
/// `NotResource` reaches every object its patterns do not match.
type Statement = (Vec<String>, Vec<String>, Vec<String>);

fn statements(documents: &RoleDocuments) -> Vec<Statement> {
    let statements = documents.policy["Statement"].as_array().cloned().unwrap_or_default();
    statements
        .iter()
        .map(|s| {
            (
                strings(&s["Action"]),
                strings(&s["Resource"]).into_iter().filter(|r| r != "*").collect(),
                strings(&s["NotResource"]),
            )
        })
        .collect()
}

fn grants(services: &[ServiceSpec]) -> Vec<Grant> {
    let region = region();
    let mut grants = Vec::new();
    for spec in services {
        let shape = shape(spec);
        let own = |role, environment: Option<&str>, documents: &RoleDocuments| Grant {
            role,
            service: Some(spec.name.clone()),
            environment: environment.map(str::to_string),
            statements: statements(documents),
        };
        grants.push(own("pipeline", None, &pipeline_role(spec, &shape, &region, PIPELINE_ACCOUNT)));
        grants.push(own("build", None, &build_role(spec, &shape, &region, PIPELINE_ACCOUNT)));
        for env in &spec.environments {
            if let Some(documents) = environment_role(spec, &shape, &region, env) {
                grants.push(own("environment", Some(&env.name), &documents));
            }
        }
    }
    for (env, account) in ENVIRONMENTS {
        let target = DeployTarget {
            environment: env.into(),
            account_id: account.into(),
            kinds: Kind::ALL.into_iter().map(Kind::name).collect(),
            pipeline_account_ids: BTreeSet::from([PIPELINE_ACCOUNT.into()]),
            provisioner_arns: BTreeSet::new(),
            external_id: None,
            artifact_bucket: Some(BUCKET.into()),
            artifact_key_arn: Some(ARTIFACT_KEY.into()),
        };
        grants.push(Grant {
            role: "deployer",
            service: None,
            environment: Some(env.into()),
            statements: statements(&deployer_role(&target, &region)),
        });
    }
    grants
}

/// Whether `grant` allows `action` (any action when `None`) on `object`.
fn grants_it(grant: &Grant, action: Option<&str>, object: &Object) -> bool {
    grant.statements.iter().any(|(actions, resources, not_resources)| {
        action.is_none_or(|action| actions.iter().any(|a| glob(a, action)))
            && (resources.iter().any(|resource| glob(resource, &object.arn))
                || (!not_resources.is_empty()
                    // An action only ever applies to its own service's resources.
                    && actions.iter().any(|a| a.split(':').next() == object.arn.split(':').nth(2))
                    && !not_resources.iter().any(|r| glob(r, &object.arn))))
    })
}

#[test]
fn every_name_is_matched_by_the_grant_that_needs_it() {
    let services = services();
    let grants = grants(&services);
    for spec in &services {
        for (object, needed_by) in objects(spec) {
            for (role, action) in needed_by {
                let reaching = grants.iter().filter(|g| g.role == role).filter(|g| {
                    let own_service = g.service.is_none() || object.service.is_none() || g.service == object.service;
                    // The pipeline and build roles act in the pipeline account but reach every environment's role
                    // and the artifacts; an environment's roles stay in that environment.
                    let own_environment = match (&g.environment, &object.environment) {
                        (Some(grant), Some(env)) => grant == env,
                        (Some(_), None) => object.artifact_folder.is_some(),
                        (None, _) => true,
                    };
                    own_service && own_environment
                });
                let reaching: Vec<&Grant> = reaching.collect();
                assert!(!reaching.is_empty(), "no {role} grant in scope for {}", object.arn);
                for grant in reaching {
                    assert!(
                        grants_it(grant, Some(action), &object),
                        "the {role} role of {:?}/{:?} may not {action} {}\n{:#?}",
                        grant.service,
                        grant.environment,
                        object.arn,
                        grant.statements
                    );
                }
            }
        }
    }
}

#[test]
fn no_grant_reaches_another_service_or_environment() {
    let services = services();
    let grants = grants(&services);
    let objects: Vec<Object> = services.iter().flat_map(|s| objects(s).into_iter().map(|(o, _)| o)).collect();
    let mut shared_folders = 0;
    for grant in &grants {
        for object in objects.iter().filter(|o| grants_it(grant, None, o)) {
            let other_service = grant.service.is_some() && object.service.is_some() && grant.service != object.service;
            let other_environment =
                matches!((&grant.environment, &object.environment), (Some(grant), Some(env)) if grant != env);
            if other_service {
                // CodePipeline's rule, not bokbasen's: pipelines whose names agree in their first 20 characters
                // share an artifact folder. Only that may reach across services.
                let own_folder = artifact_folder(&pipeline_name(grant.service.as_deref().unwrap_or_default()));
                assert_eq!(object.artifact_folder.as_ref(), Some(&own_folder), "{grant:?} reaches {object:?}");
                shared_folders += 1;
            }
            assert!(!other_environment, "the {} role of {:?} reaches {object:?}", grant.role, grant.environment);
            if grant.role == "deployer" {
                assert!(object.environment.is_some() || object.in_bucket, "the deployer reaches {object:?}");
            }
        }
    }
    // The two audiobook services: each one's pipeline, build and environment roles reach the other's two artifacts.
    assert_eq!(shared_folders, 2 * (2 + 3) * 2, "only the services alike in 20 characters share artifacts");
}
