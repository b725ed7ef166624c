//! Least-privilege IAM documents for a service's pipeline: what CodePipeline
//! and each CodeBuild project may touch, scoped to this service's artifacts,
//! repository, parameters, projects and deploy roles. Pure: the provider
//! supplies the partition and region, and creates the roles.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::names::{artifact_folder, cache_location, log_group, pipeline_name, repository_name, ProjectPurpose};
use crate::shape::{PipelineShape, VariableValue, Where};
use crate::{Cache, Environment, Kind, Network, ServiceSpec};

/// Where ARNs point: the partition and region of the pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    pub partition: String,
    pub region: String,
}

/// A role to create: who may assume it and what it may do.
#[derive(Clone, Debug, PartialEq)]
pub struct RoleDocuments {
    pub trust: Value,
    pub policy: Value,
}

fn trust(service: &str) -> Value {
    // A single string principal: lists are valid IAM, but some emulators refuse them.
    json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Principal": { "Service": service }, "Action": "sts:AssumeRole" }]
    })
}

pub(crate) fn policy(statements: Vec<Value>) -> Value {
    json!({ "Version": "2012-10-17", "Statement": statements })
}

pub(crate) fn allow(sid: &str, actions: &[&str], resources: Vec<String>) -> Value {
    json!({ "Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources })
}

/// What the provider does to a role it manages (`aws::roles` in the
/// provider): create it, rewrite its trust and its one inline policy, read
/// them back, tag it, delete it.
pub(crate) const MANAGE_ROLE: &[&str] = &[
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePolicy",
    "iam:GetRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:TagRole",
    "iam:UntagRole",
];

/// `iam:GetRole` on roles named like `globs` in any path: the provider looks
/// a role up by name before it exists, when IAM cannot know its path.
pub(crate) fn find_roles(sid: &str, region: &Region, account: &str, globs: &[&str]) -> Value {
    let roles = globs.iter().map(|glob| format!("arn:{}:iam::{account}:role/{glob}", region.partition)).collect();
    allow(sid, &["iam:GetRole"], roles)
}

/// What a refresh lists instead of asking for each part: the roles under
/// bokbasen's path (`iam:ListRoles`) and the account's CodeBuild project
/// names (`codebuild:ListProjects`). Neither action has a resource type
/// (Service Authorization Reference, IAM and CodeBuild), so only `*` grants
/// them; they answer names, ARNs and trust documents, never policies, tags
/// or a project's settings.
pub(crate) fn list_for_refresh(sid: &str) -> Value {
    allow(sid, &["iam:ListRoles", "codebuild:ListProjects"], vec!["*".to_string()])
}

/// Passing `roles` to the services `to`, and to nothing else.
pub(crate) fn pass_role(sid: &str, roles: Vec<String>, to: &[&str]) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["iam:PassRole"],
        "Resource": roles,
        "Condition": { "StringEquals": { "iam:PassedToService": to } },
    })
}

impl Region {
    /// `arn:{partition}:{service}:{region}:{account}:{resource}`.
    pub fn arn(&self, service: &str, account: &str, resource: &str) -> String {
        format!("arn:{}:{service}:{}:{account}:{resource}", self.partition, self.region)
    }

    pub(crate) fn s3(&self, path: &str) -> String {
        format!("arn:{}:s3:::{path}", self.partition)
    }
}

fn artifact_statements(spec: &ServiceSpec, region: &Region, write: bool) -> Vec<Value> {
    let folder = artifact_folder(&pipeline_name(&spec.name));
    let objects = region.s3(&format!("{}/{folder}/*", spec.artifact_bucket));
    let object_actions: &[&str] = if write {
        &["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"]
    } else {
        &["s3:GetObject", "s3:GetObjectVersion"]
    };
    let mut statements = vec![
        allow("ArtifactObjects", object_actions, vec![objects]),
        allow(
            "ArtifactBucket",
            &["s3:GetBucketLocation", "s3:GetBucketVersioning"],
            vec![region.s3(&spec.artifact_bucket)],
        ),
    ];
    if let Some(key) = &spec.artifact_key_arn {
        // SSE-KMS: reading an object decrypts its data key, writing one makes a data key.
        let key_actions: &[&str] = if write { &["kms:Decrypt", "kms:GenerateDataKey"] } else { &["kms:Decrypt"] };
        statements.push(allow("ArtifactKey", key_actions, vec![key.clone()]));
    }
    statements
}

/// The source action clones through the connection, and so does the build
/// (`CODEBUILD_CLONE_REF` hands it a reference, not the files).
fn use_connection(spec: &ServiceSpec) -> Value {
    allow(
        "UseConnection",
        &["codestar-connections:UseConnection", "codeconnections:UseConnection"],
        vec![spec.source.connection_arn.clone()],
    )
}

/// The CodePipeline service role, in the pipeline account.
pub fn pipeline_role(
    spec: &ServiceSpec,
    shape: &PipelineShape,
    region: &Region,
    pipeline_account: &str,
) -> RoleDocuments {
    let mut statements = artifact_statements(spec, region, true);
    statements.push(use_connection(spec));
    let builds: Vec<String> = shape
        .projects
        .iter()
        .filter(|p| p.runs_in == Where::Pipeline)
        .map(|p| region.arn("codebuild", pipeline_account, &format!("project/{}", p.name)))
        .collect();
    statements.push(allow("RunBuilds", &["codebuild:StartBuild", "codebuild:BatchGetBuilds"], builds));
    let deploy_roles: BTreeSet<String> = spec.environments.iter().map(|e| e.deploy_role_arn.clone()).collect();
    if !deploy_roles.is_empty() {
        statements.push(allow("ActInEnvironments", &["sts:AssumeRole"], deploy_roles.into_iter().collect()));
    }
    if let Some(topic) = &spec.approval_topic_arn {
        statements.push(allow("NotifyApprovers", &["sns:Publish"], vec![topic.clone()]));
    }
    RoleDocuments { trust: trust("codepipeline.amazonaws.com"), policy: policy(statements) }
}

/// Logs, artifacts and the exact SSM parameters of the projects running in `account`.
fn codebuild_common(
    spec: &ServiceSpec,
    shape: &PipelineShape,
    region: &Region,
    runs_in: &Where,
    account: &str,
) -> Vec<Value> {
    let projects: Vec<_> = shape.projects.iter().filter(|p| &p.runs_in == runs_in).collect();
    let logs = projects
        .iter()
        .flat_map(|p| {
            let group = format!("log-group:{}", log_group(&p.name));
            [region.arn("logs", account, &group), region.arn("logs", account, &format!("{group}:*"))]
        })
        .collect();
    let mut statements =
        vec![allow("Logs", &["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], logs)];
    statements.extend(artifact_statements(spec, region, *runs_in == Where::Pipeline));
    let parameters: BTreeSet<String> = projects
        .iter()
        .flat_map(|p| &p.variables)
        .filter_map(|v| match &v.value {
            VariableValue::Parameter(name) => Some(region.arn("ssm", account, &format!("parameter{name}"))),
            _ => None,
        })
        .collect();
    if !parameters.is_empty() {
        statements.push(allow("ReadParameters", &["ssm:GetParameters"], parameters.into_iter().collect()));
        // SecureStrings under a customer-managed key need the key too (the
        // `aws/ssm` key's policy already allows its account's callers via SSM).
        statements.push(json!({
            "Sid": "DecryptParameters",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": [region.arn("kms", account, "key/*")],
            "Condition": { "StringEquals": { "kms:ViaService": format!("ssm.{}.amazonaws.com", region.region) } },
        }));
    }
    statements
}

/// The build project's role, in the pipeline account.
pub fn build_role(spec: &ServiceSpec, shape: &PipelineShape, region: &Region, pipeline_account: &str) -> RoleDocuments {
    let mut statements = codebuild_common(spec, shape, region, &Where::Pipeline, pipeline_account);
    statements.push(use_connection(spec));
    if spec.kind.builds_image() {
        statements.push(allow("EcrLogin", &["ecr:GetAuthorizationToken"], vec!["*".into()]));
        statements.push(allow(
            "PushImage",
            &[
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:CompleteLayerUpload",
                "ecr:GetDownloadUrlForLayer",
                "ecr:InitiateLayerUpload",
                "ecr:PutImage",
                "ecr:UploadLayerPart",
            ],
            vec![region.arn("ecr", pipeline_account, &format!("repository/{}", repository_name(&spec.name)))],
        ));
    }
    if let Some(pull) = private_image_pull(shape, &Where::Pipeline, region) {
        // A build image in a private registry is pulled with this role, like
        // the environments' step images; container kinds log in already.
        let login_needed = !spec.kind.builds_image();
        statements.extend(pull.into_iter().filter(|s| login_needed || s["Sid"] != "StepImageLogin"));
    }
    if spec.build.cache == Cache::S3 {
        // The cache is the build's own, outside the artifact folder.
        let cache = cache_location(&spec.artifact_bucket, &spec.name);
        statements.push(allow("BuildCache", &["s3:GetObject", "s3:PutObject"], vec![region.s3(&format!("{cache}/*"))]));
    }
    RoleDocuments { trust: trust("codebuild.amazonaws.com"), policy: policy(statements) }
}

/// The role of the projects that run in one environment's account; `None`
/// when the environment has no such project.
pub fn environment_role(
    spec: &ServiceSpec,
    shape: &PipelineShape,
    region: &Region,
    env: &Environment,
) -> Option<RoleDocuments> {
    let here = Where::Environment(env.name.clone());
    let purposes: Vec<ProjectPurpose> =
        shape.projects.iter().filter(|p| p.runs_in == here).map(|p| p.purpose).collect();
    if purposes.is_empty() {
        return None;
    }
    let account = env.account_id.as_str();
    let target = |field: &str| env.target.get(field).cloned().unwrap_or_default();
    let mut statements = codebuild_common(spec, shape, region, &here, account);
    if purposes.contains(&ProjectPurpose::Deploy) {
        // Fargate and static sites deploy with native actions, through the deploy role.
        statements.extend(match spec.kind {
            Kind::Lambda => Some(allow(
                "Deploy",
                &["lambda:UpdateFunctionCode", "lambda:GetFunction", "lambda:GetFunctionConfiguration"],
                vec![region.arn("lambda", account, &format!("function:{}", target("function")))],
            )),
            Kind::Batch => Some(allow(
                "Deploy",
                &["batch:DescribeJobDefinitions", "batch:RegisterJobDefinition"],
                vec!["*".into()], // Batch does not scope these actions to resources.
            )),
            Kind::ApiGateway => Some(allow(
                "Deploy",
                &["apigateway:PUT", "apigateway:POST"],
                vec![
                    format!("arn:{}:apigateway:{}::/restapis/{}", region.partition, region.region, target("api_id")),
                    format!("arn:{}:apigateway:{}::/restapis/{}/*", region.partition, region.region, target("api_id")),
                ],
            )),
            Kind::Fargate | Kind::StaticSite => None,
        });
    }
    if spec.kind == Kind::Batch && purposes.contains(&ProjectPurpose::Deploy) {
        // The new revision keeps the job and execution roles, which registering passes.
        // Any role but bokbasen's own (other steps' and services'), in any
        // account: a role can only be passed within its own account anyway.
        statements.push(json!({
            "Sid": "PassJobRoles",
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "NotResource": [crate::names::role_arn(&region.partition, "*", "*")],
        }));
    }
    if purposes.contains(&ProjectPurpose::Invalidate) {
        statements.push(allow(
            "Invalidate",
            &["cloudfront:CreateInvalidation"],
            vec![format!("arn:{}:cloudfront::{account}:distribution/{}", region.partition, target("distribution_id"))],
        ));
    }
    if let Some(network) = &env.network {
        statements.extend(network_statements(network, region, account));
    }
    if let Some(pull) = private_image_pull(shape, &here, region) {
        statements.extend(pull);
    }
    Some(RoleDocuments { trust: trust("codebuild.amazonaws.com"), policy: policy(statements) })
}

/// What CodeBuild does with a project's role to place a step in a VPC: an
/// elastic network interface in one of the subnets, and the lookups before.
fn network_statements(network: &Network, region: &Region, account: &str) -> Vec<Value> {
    let subnets: Vec<String> =
        network.subnet_ids.iter().map(|id| region.arn("ec2", account, &format!("subnet/{id}"))).collect();
    vec![
        allow(
            "VpcLookups",
            &[
                "ec2:CreateNetworkInterface",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DeleteNetworkInterface",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeVpcs",
            ],
            vec!["*".into()], // EC2 does not scope these to resources.
        ),
        json!({
            "Sid": "VpcNetworkInterface",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkInterfacePermission"],
            "Resource": [region.arn("ec2", account, "network-interface/*")],
            "Condition": {
                "StringEquals": { "ec2:AuthorizedService": "codebuild.amazonaws.com" },
                "ArnEquals": { "ec2:Subnet": subnets },
            },
        }),
    ]
}

/// A step image in a private ECR repository (a Flyway copy) is pulled with
/// the project's role (`imagePullCredentialsType` SERVICE_ROLE).
fn private_image_pull(shape: &PipelineShape, here: &Where, region: &Region) -> Option<Vec<Value>> {
    let repositories: BTreeSet<String> = shape
        .projects
        .iter()
        .filter(|p| &p.runs_in == here)
        .filter_map(|p| crate::names::ecr_image_repository(&p.image, &region.partition))
        .collect();
    if repositories.is_empty() {
        return None;
    }
    Some(vec![
        allow("StepImageLogin", &["ecr:GetAuthorizationToken"], vec!["*".into()]),
        allow(
            "PullStepImages",
            &["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            repositories.into_iter().collect(),
        ),
    ])
}

/// The service's ECR repository policy: each environment account may pull
/// its images (the ECS task execution role or Batch's in that account, which
/// its own identity policy must also allow: cross-account needs both).
pub fn repository_policy(spec: &ServiceSpec, region: &Region, pipeline_account: &str) -> Option<Value> {
    let accounts: BTreeSet<&str> =
        spec.environments.iter().map(|e| e.account_id.as_str()).filter(|a| *a != pipeline_account).collect();
    if accounts.is_empty() {
        return None;
    }
    let principals: Vec<String> = accounts.iter().map(|a| format!("arn:{}:iam::{a}:root", region.partition)).collect();
    Some(json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "EnvironmentsPull",
            "Effect": "Allow",
            "Principal": { "AWS": principals },
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        }]
    }))
}

/// Images kept in a service's ECR repository; older ones expire.
const KEEP_IMAGES: u32 = 50;

/// The lifecycle policy of a service's ECR repository: keep the last
/// [`KEEP_IMAGES`] images.
pub fn image_lifecycle() -> Value {
    json!({
        "rules": [{
            "rulePriority": 1,
            "description": format!("Keep the last {KEEP_IMAGES} images"),
            "selection": { "tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": KEEP_IMAGES },
            "action": { "type": "expire" }
        }]
    })
}
