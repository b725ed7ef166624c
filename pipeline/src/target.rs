//! The roles of one deploy target (a Test, Stage or Production account):
//! the deployer role that pipelines act through, and the read-only role of
//! the DevOps team. Pure, like [`crate::policy`]: documents in, documents
//! out, and the way back from documents read from IAM to the arguments.
//!
//! One deployer role serves every service deployed to the environment, so
//! its permissions are scoped by the naming rules every bokbasen pipeline
//! follows (`{service}-{environment}-{purpose}` projects, `/bokbasen/`
//! roles, `/config/{service}_{environment}` parameters) and by the kinds
//! the account runs, not by service names.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::names::{environment_parameters_glob, environment_projects_glob, environment_roles_glob, role_arn};
use crate::policy::{allow, policy, Region, RoleDocuments};
use crate::Kind;

/// What a platform engineer declares for one environment account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployTarget {
    /// `test`, `stage`, `production`.
    pub environment: String,
    /// The account the roles are made in.
    pub account_id: String,
    /// The kinds of service deployed here; each adds its deploy permissions.
    pub kinds: BTreeSet<KindName>,
    /// Pipeline roles (tooling account) that run deploys through the role.
    pub pipeline_role_arns: BTreeSet<String>,
    /// Who runs Terraform for the pipelines: creates the environment's
    /// CodeBuild projects and their roles through the deployer role.
    pub provisioner_arns: BTreeSet<String>,
    /// Required of every caller when set.
    pub external_id: Option<String>,
    /// The pipelines' artifact bucket, read by deploy actions.
    pub artifact_bucket: Option<String>,
    /// Where services' configuration lives (prefix and separator).
    pub config_prefix: String,
    pub config_separator: String,
}

/// A kind by name, ordered, so sets of kinds are deterministic.
pub type KindName = &'static str;

const PIPELINES_SID: &str = "Pipelines";
const PROVISIONERS_SID: &str = "Provisioners";
const ARTIFACTS_SID: &str = "ReadArtifacts";
const DEVOPS_SID: &str = "DevOps";

/// The Sid of a kind's deploy statement, which is how kinds are read back.
fn deploy_sid(kind: Kind) -> String {
    let camel: String = kind
        .name()
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    format!("Deploy{camel}")
}

/// The AWS managed policy the DevOps role gets.
pub fn read_only_policy_arn(region: &Region) -> String {
    format!("arn:{}:iam::aws:policy/ReadOnlyAccess", region.partition)
}

fn trust_statement(sid: &str, principals: &BTreeSet<String>, external_id: Option<&str>) -> Value {
    let mut statement = json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": { "AWS": principals.iter().collect::<Vec<_>>() },
        "Action": "sts:AssumeRole",
    });
    if let Some(external_id) = external_id {
        statement["Condition"] = json!({ "StringEquals": { "sts:ExternalId": external_id } });
    }
    statement
}

fn trust(statements: Vec<Value>) -> Value {
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// Only the named pipeline roles (and provisioners) may assume the deployer.
pub fn deployer_role(target: &DeployTarget, region: &Region) -> RoleDocuments {
    let external_id = target.external_id.as_deref();
    let mut trusted = vec![trust_statement(PIPELINES_SID, &target.pipeline_role_arns, external_id)];
    if !target.provisioner_arns.is_empty() {
        trusted.push(trust_statement(PROVISIONERS_SID, &target.provisioner_arns, external_id));
    }
    RoleDocuments { trust: trust(trusted), policy: policy(deployer_statements(target, region)) }
}

fn deployer_statements(target: &DeployTarget, region: &Region) -> Vec<Value> {
    let env = &target.environment;
    let account = target.account_id.as_str();
    let project = region.arn("codebuild", account, &format!("project/{}", environment_projects_glob(env)));
    let project_role = role_arn(&region.partition, account, &environment_roles_glob(env));
    let mut statements = vec![
        allow("RunEnvironmentProjects", &["codebuild:StartBuild", "codebuild:BatchGetBuilds"], vec![project.clone()]),
        allow(
            "ManageEnvironmentProjects",
            &[
                "codebuild:BatchGetProjects",
                "codebuild:CreateProject",
                "codebuild:UpdateProject",
                "codebuild:DeleteProject",
            ],
            vec![project],
        ),
        allow(
            "ManageProjectRoles",
            &[
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:GetRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:PutRolePolicy",
                "iam:GetRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:ListRolePolicies",
                "iam:TagRole",
                "iam:UntagRole",
            ],
            vec![project_role.clone()],
        ),
        pass_role("PassProjectRoles", vec![project_role], "codebuild.amazonaws.com"),
    ];
    // Migrations and smoke tests read the environment's configuration of any service.
    let parameters = environment_parameters_glob(&target.config_prefix, &target.config_separator, env);
    statements.push(allow(
        "ReadEnvironmentConfig",
        &["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
        vec![region.arn("ssm", account, &format!("parameter{parameters}"))],
    ));
    statements.push(json!({
        "Sid": "DecryptEnvironmentSecrets",
        "Effect": "Allow",
        "Action": ["kms:Decrypt"],
        "Resource": [region.arn("kms", account, "key/*")],
        "Condition": { "StringEquals": { "kms:ViaService": format!("ssm.{}.amazonaws.com", region.region) } },
    }));
    if let Some(bucket) = &target.artifact_bucket {
        statements.push(allow(
            ARTIFACTS_SID,
            &["s3:GetObject", "s3:GetObjectVersion"],
            vec![region.s3(&format!("{bucket}/*"))],
        ));
    }
    for kind in Kind::ALL.into_iter().filter(|k| target.kinds.contains(k.name())) {
        statements.extend(kind_statements(kind, region, account));
    }
    statements
}

fn pass_role(sid: &str, roles: Vec<String>, to: &str) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["iam:PassRole"],
        "Resource": roles,
        "Condition": { "StringEquals": { "iam:PassedToService": to } },
    })
}

/// What deploying one kind takes, in this account only.
fn kind_statements(kind: Kind, region: &Region, account: &str) -> Vec<Value> {
    let sid = deploy_sid(kind);
    let any_role = vec![format!("arn:{}:iam::{account}:role/*", region.partition)];
    match kind {
        Kind::Fargate => vec![
            allow(
                &sid,
                &["ecs:DescribeServices", "ecs:UpdateService"],
                vec![region.arn("ecs", account, "service/*/*")],
            ),
            // Task definitions and tasks are not scoped by resource for these actions.
            allow(
                &format!("{sid}TaskDefinitions"),
                &["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition", "ecs:DescribeTasks", "ecs:ListTasks"],
                vec!["*".into()],
            ),
            pass_role(&format!("{sid}PassTaskRoles"), any_role, "ecs-tasks.amazonaws.com"),
        ],
        Kind::Lambda => vec![allow(
            &sid,
            &[
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:UpdateFunctionCode",
                "lambda:PublishVersion",
                "lambda:GetAlias",
                "lambda:UpdateAlias",
            ],
            vec![region.arn("lambda", account, "function:*")],
        )],
        Kind::Batch => vec![
            // Batch does not scope job definition actions to resources.
            allow(
                &sid,
                &["batch:DescribeJobDefinitions", "batch:RegisterJobDefinition", "batch:DeregisterJobDefinition"],
                vec!["*".into()],
            ),
            pass_role(&format!("{sid}PassJobRoles"), any_role, "ecs-tasks.amazonaws.com"),
        ],
        Kind::ApiGateway => vec![allow(
            &sid,
            &["apigateway:GET", "apigateway:POST", "apigateway:PATCH"],
            ["/restapis/*/deployments", "/restapis/*/deployments/*", "/restapis/*/stages/*"]
                .iter()
                .map(|path| format!("arn:{}:apigateway:{}::{path}", region.partition, region.region))
                .collect(),
        )],
        Kind::StaticSite => vec![
            json!({
                "Sid": sid,
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": [region.s3("*")],
                // Buckets have no account in their ARN: only this account's.
                "Condition": { "StringEquals": { "s3:ResourceAccount": account } },
            }),
            allow(
                &format!("{sid}Invalidate"),
                &["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"],
                vec![format!("arn:{}:cloudfront::{account}:distribution/*", region.partition)],
            ),
        ],
    }
}

/// The DevOps role reads the account through `ReadOnlyAccess`; this inline
/// policy narrows it further: no secret values (SecureString decryption,
/// Secrets Manager) and no data in S3 objects or DynamoDB items.
pub fn devops_role(principals: &BTreeSet<String>, external_id: Option<&str>) -> RoleDocuments {
    RoleDocuments {
        trust: trust(vec![trust_statement(DEVOPS_SID, principals, external_id)]),
        policy: policy(vec![json!({
            "Sid": "NoSecretsOrData",
            "Effect": "Deny",
            "Action": [
                "kms:Decrypt",
                "secretsmanager:GetSecretValue",
                "s3:GetObject",
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:Query",
                "dynamodb:Scan"
            ],
            "Resource": "*",
        })]),
    }
}

/// What a deployer role's documents say, read back from IAM for drift.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedTarget {
    pub pipeline_role_arns: BTreeSet<String>,
    pub provisioner_arns: BTreeSet<String>,
    pub external_id: Option<String>,
    pub kinds: BTreeSet<KindName>,
    pub artifact_bucket: Option<String>,
}

fn strings(value: &Value) -> BTreeSet<String> {
    match value {
        Value::String(s) => BTreeSet::from([s.clone()]),
        Value::Array(items) => items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
        _ => BTreeSet::new(),
    }
}

fn statements(document: &Value) -> Vec<&Value> {
    match &document["Statement"] {
        Value::Array(items) => items.iter().collect(),
        single @ Value::Object(_) => vec![single],
        _ => Vec::new(),
    }
}

/// The inverse of [`deployer_role`] for the arguments a document carries.
pub fn observe_deployer(trust: &Value, policy: &Value) -> ObservedTarget {
    let mut observed = ObservedTarget::default();
    for statement in statements(trust) {
        let principals = strings(&statement["Principal"]["AWS"]);
        match statement["Sid"].as_str() {
            Some(PROVISIONERS_SID) => observed.provisioner_arns.extend(principals),
            _ => observed.pipeline_role_arns.extend(principals),
        }
        if let Some(id) = statement["Condition"]["StringEquals"]["sts:ExternalId"].as_str() {
            observed.external_id = Some(id.to_string());
        }
    }
    for statement in statements(policy) {
        let Some(sid) = statement["Sid"].as_str() else { continue };
        if let Some(kind) = Kind::ALL.into_iter().find(|k| deploy_sid(*k) == sid) {
            observed.kinds.insert(kind.name());
        }
        if sid == ARTIFACTS_SID {
            observed.artifact_bucket = strings(&statement["Resource"])
                .into_iter()
                .next()
                .and_then(|arn| arn.split(":::").nth(1).map(|p| p.trim_end_matches("/*").to_string()));
        }
    }
    observed
}

/// The principals a DevOps role trusts, read back.
pub fn observe_devops(trust: &Value) -> BTreeSet<String> {
    statements(trust).into_iter().flat_map(|s| strings(&s["Principal"]["AWS"])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region() -> Region {
        Region { partition: "aws".into(), region: "eu-north-1".into() }
    }

    fn target(kinds: &[Kind]) -> DeployTarget {
        DeployTarget {
            environment: "test".into(),
            account_id: "222222222222".into(),
            kinds: kinds.iter().map(|k| k.name()).collect(),
            pipeline_role_arns: BTreeSet::from(["arn:aws:iam::123456789012:role/bokbasen/ebook-api-pipeline".into()]),
            provisioner_arns: BTreeSet::from(["arn:aws:iam::123456789012:role/terraform".into()]),
            external_id: Some("ext-123".into()),
            artifact_bucket: Some("bokbasen-artifacts".into()),
            config_prefix: "/config".into(),
            config_separator: "_".into(),
        }
    }

    fn resources(policy: &Value) -> Vec<String> {
        statements(policy).into_iter().flat_map(|s| strings(&s["Resource"])).collect()
    }

    #[test]
    fn deploy_permissions_follow_the_kinds() {
        let only_lambda = deployer_role(&target(&[Kind::Lambda]), &region()).policy.to_string();
        assert!(only_lambda.contains("lambda:UpdateAlias"));
        assert!(!only_lambda.contains("ecs:UpdateService") && !only_lambda.contains("cloudfront:"));
        let all = deployer_role(&target(&Kind::ALL), &region()).policy.to_string();
        for action in [
            "ecs:UpdateService",
            "batch:RegisterJobDefinition",
            "apigateway:POST",
            "s3:PutObject",
            "cloudfront:CreateInvalidation",
        ] {
            assert!(all.contains(action), "{action} missing");
        }
    }

    #[test]
    fn resources_stay_in_the_account_and_environment() {
        let docs = deployer_role(&target(&Kind::ALL), &region());
        for arn in resources(&docs.policy) {
            let scoped = arn == "*"
                || arn.contains(":222222222222:")
                || arn.contains("::222222222222:")
                || arn.starts_with("arn:aws:apigateway:eu-north-1::/restapis/")
                || arn.starts_with("arn:aws:s3:::");
            assert!(scoped, "{arn} reaches outside the account");
        }
        let policy = docs.policy.to_string();
        assert!(policy.contains("project/*-test-*"));
        assert!(policy.contains("parameter/config/*_test/*"));
        assert!(policy.contains("role/bokbasen/*-test-cb"));
        // Wildcard resources only where AWS offers no resource scoping.
        let wildcard: Vec<String> = statements(&docs.policy)
            .into_iter()
            .filter(|s| strings(&s["Resource"]).contains("*"))
            .filter_map(|s| s["Sid"].as_str().map(str::to_string))
            .collect();
        assert_eq!(wildcard, ["DeployFargateTaskDefinitions", "DeployBatch"]);
    }

    #[test]
    fn only_named_principals_with_the_external_id_are_trusted() {
        let docs = deployer_role(&target(&[Kind::Fargate]), &region());
        let trusted: BTreeSet<String> =
            statements(&docs.trust).into_iter().flat_map(|s| strings(&s["Principal"]["AWS"])).collect();
        assert_eq!(trusted.len(), 2);
        assert!(statements(&docs.trust).iter().all(|s| s["Condition"]["StringEquals"]["sts:ExternalId"] == "ext-123"));
        let mut without = target(&[Kind::Fargate]);
        without.external_id = None;
        without.provisioner_arns.clear();
        let trust = deployer_role(&without, &region()).trust;
        assert_eq!(statements(&trust).len(), 1);
        assert!(trust.to_string().find("Condition").is_none());
    }

    #[test]
    fn arguments_are_read_back_from_the_documents() {
        for kinds in [vec![Kind::Lambda], Kind::ALL.to_vec(), vec![Kind::StaticSite, Kind::ApiGateway]] {
            let target = target(&kinds);
            let docs = deployer_role(&target, &region());
            let observed = observe_deployer(&docs.trust, &docs.policy);
            assert_eq!(observed.kinds, target.kinds);
            assert_eq!(observed.pipeline_role_arns, target.pipeline_role_arns);
            assert_eq!(observed.provisioner_arns, target.provisioner_arns);
            assert_eq!(observed.external_id, target.external_id);
            assert_eq!(observed.artifact_bucket, target.artifact_bucket);
        }
    }

    #[test]
    fn devops_reads_but_not_secrets() {
        let principals = BTreeSet::from(["arn:aws:iam::999999999999:role/devops".to_string()]);
        let docs = devops_role(&principals, None);
        assert_eq!(observe_devops(&docs.trust), principals);
        let deny = &statements(&docs.policy)[0];
        assert_eq!(deny["Effect"], "Deny");
        assert!(strings(&deny["Action"]).contains("kms:Decrypt"));
        assert_eq!(read_only_policy_arn(&region()), "arn:aws:iam::aws:policy/ReadOnlyAccess");
    }
}
