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

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::checks::arn_account;
use crate::names::{environment_projects_glob, environment_roles_glob, pipeline_roles_glob, role_arn};
use crate::policy::{allow, find_roles, list_for_refresh, pass_role, policy, Region, RoleDocuments, MANAGE_ROLE};
use crate::Kind;

/// What a platform engineer declares for one environment account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployTarget {
    /// `test`, `stage`, `production`.
    pub environment: String,
    /// The account the roles are made in.
    pub account_id: String,
    /// The kinds of service deployed here. Fargate and static sites deploy
    /// with CodePipeline's own actions, through this role, and add those
    /// permissions; the other kinds deploy from a project whose role the
    /// service pipeline writes. Kept in the role's [`KINDS_TAG`].
    pub kinds: BTreeSet<KindName>,
    /// The accounts whose bokbasen pipeline roles (`/bokbasen/*-pipeline`)
    /// run deploys through the role: trust by account and role name, so it
    /// needs no pipeline to exist first and keeps its size as services come.
    pub pipeline_account_ids: BTreeSet<String>,
    /// Who runs Terraform for the pipelines: creates the environment's
    /// CodeBuild projects and their roles through the deployer role.
    pub provisioner_arns: BTreeSet<String>,
    /// Required of every caller when set.
    pub external_id: Option<String>,
    /// The pipelines' artifact bucket, read by deploy actions.
    pub artifact_bucket: Option<String>,
    /// The key the artifacts are encrypted with, which those reads decrypt.
    pub artifact_key_arn: Option<String>,
}

/// A kind by name, ordered, so sets of kinds are deterministic.
pub type KindName = &'static str;

const PIPELINES_SID: &str = "Pipelines";
const PROVISIONERS_SID: &str = "Provisioners";
const ARTIFACTS_SID: &str = "ReadArtifacts";
const ARTIFACT_KEY_SID: &str = "DecryptArtifacts";
const DEVOPS_SID: &str = "DevOps";

/// The Sid of a kind's deploy statements.
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

/// Trust in principals by their ARN (`aws:PrincipalArn`, wildcards allowed)
/// rather than by naming them as principals. IAM refuses a principal that
/// does not exist yet and stores the unique ID of one that does, so a role
/// re-created later would silently lose the trust; a condition on the ARN
/// has neither problem. The principal is the accounts' root: any identity
/// there, if its own policies allow `sts:AssumeRole` and its ARN matches.
fn trust_statement(sid: &str, principal_arns: &BTreeSet<String>, external_id: Option<&str>) -> Value {
    let roots: BTreeSet<String> = principal_arns
        .iter()
        .filter_map(|arn| {
            let partition = arn.split(':').nth(1)?;
            Some(format!("arn:{partition}:iam::{}:root", arn_account(arn)?))
        })
        .collect();
    let mut condition = json!({ "ArnLike": { "aws:PrincipalArn": principal_arns.iter().collect::<Vec<_>>() } });
    if let Some(external_id) = external_id {
        condition["StringEquals"] = json!({ "sts:ExternalId": external_id });
    }
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": { "AWS": roots.into_iter().collect::<Vec<_>>() },
        "Action": "sts:AssumeRole",
        "Condition": condition,
    })
}

fn trust(statements: Vec<Value>) -> Value {
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// Only bokbasen's pipeline roles in the pipeline accounts, and the named
/// provisioners, may assume the deployer. The external ID binds only the
/// provisioners: a pipeline action has no field for one.
pub fn deployer_role(target: &DeployTarget, region: &Region) -> RoleDocuments {
    let pipeline_roles: BTreeSet<String> = target
        .pipeline_account_ids
        .iter()
        .map(|account| role_arn(&region.partition, account, pipeline_roles_glob()))
        .collect();
    let mut trusted = vec![trust_statement(PIPELINES_SID, &pipeline_roles, None)];
    if !target.provisioner_arns.is_empty() {
        trusted.push(trust_statement(PROVISIONERS_SID, &target.provisioner_arns, target.external_id.as_deref()));
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
        allow("ManageProjectRoles", MANAGE_ROLE, vec![project_role.clone()]),
        find_roles("FindProjectRoles", region, account, &[&environment_roles_glob(env)]),
        list_for_refresh("ListForRefresh"),
        pass_role("PassProjectRoles", vec![project_role], &["codebuild.amazonaws.com"]),
    ];
    // The deploy actions read the build's artifact (the steps read parameters with their own roles).
    if let Some(bucket) = &target.artifact_bucket {
        statements.push(allow(
            ARTIFACTS_SID,
            &["s3:GetObject", "s3:GetObjectVersion"],
            vec![region.s3(&format!("{bucket}/*"))],
        ));
    }
    if let Some(key) = &target.artifact_key_arn {
        statements.push(allow(ARTIFACT_KEY_SID, &["kms:Decrypt"], vec![key.clone()]));
    }
    for kind in Kind::ALL.into_iter().filter(|k| target.kinds.contains(k.name())) {
        statements.extend(kind_statements(kind, region, account));
    }
    statements
}

/// The deployer role's tag naming the kinds deployed to the environment
/// (`:`-separated: IAM tag values take no commas), how they are read back
/// when no statement shows them.
pub const KINDS_TAG: &str = "bokbasen:kinds";

/// The value of [`KINDS_TAG`] for `target`.
pub fn kinds_tag(target: &DeployTarget) -> String {
    Kind::ALL.into_iter().map(Kind::name).filter(|k| target.kinds.contains(k)).collect::<Vec<_>>().join(":")
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
            // A new task definition is tagged like the one it replaces.
            allow(
                &format!("{sid}TagTaskDefinitions"),
                &["ecs:TagResource"],
                vec![region.arn("ecs", account, "task-definition/*")],
            ),
            // Task and execution roles go to ECS tasks; a service's role to ECS itself.
            pass_role(&format!("{sid}PassTaskRoles"), any_role, &["ecs-tasks.amazonaws.com", "ecs.amazonaws.com"]),
        ],
        // Deployed from a project in the environment, whose role the service pipeline writes.
        Kind::Lambda | Kind::Batch | Kind::ApiGateway => Vec::new(),
        Kind::StaticSite => vec![json!({
            "Sid": sid,
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": [region.s3("*")],
            // Buckets have no account in their ARN: only this account's.
            "Condition": { "StringEquals": { "s3:ResourceAccount": account } },
        })],
    }
}

/// The DevOps role reads the account through `ReadOnlyAccess`; this inline
/// policy narrows it further: no secret values (SecureString decryption,
/// Secrets Manager) and no data in S3 objects or DynamoDB items.
pub fn devops_role(principals: &BTreeSet<String>, external_id: Option<&str>) -> RoleDocuments {
    // Like the deployer's: by ARN, so the team's roles may be made later or anew.
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
    pub pipeline_account_ids: BTreeSet<String>,
    pub provisioner_arns: BTreeSet<String>,
    pub external_id: Option<String>,
    pub kinds: BTreeSet<KindName>,
    pub artifact_bucket: Option<String>,
    pub artifact_key_arn: Option<String>,
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

/// The inverse of [`deployer_role`] for the arguments its documents and
/// tags carry.
pub fn observe_deployer(trust: &Value, policy: &Value, tags: &BTreeMap<String, String>) -> ObservedTarget {
    let mut observed = ObservedTarget::default();
    for statement in statements(trust) {
        match statement["Sid"].as_str() {
            Some(PROVISIONERS_SID) => observed.provisioner_arns.extend(trusted_arns(statement)),
            // Only a trust in this form counts: one naming pipeline roles as principals (provider
            // 0.1.0's) shows as no account, so the next apply rewrites it.
            _ => observed.pipeline_account_ids.extend(
                strings(&statement["Condition"]["ArnLike"]["aws:PrincipalArn"])
                    .iter()
                    .filter(|arn| arn.ends_with(&format!("{}{}", crate::names::ROLE_PATH, pipeline_roles_glob())))
                    .filter_map(|arn| arn_account(arn))
                    .map(str::to_string),
            ),
        }
        if let Some(id) = statement["Condition"]["StringEquals"]["sts:ExternalId"].as_str() {
            observed.external_id = Some(id.to_string());
        }
    }
    let tagged = tags.get(KINDS_TAG).map(String::as_str).unwrap_or_default();
    observed.kinds = Kind::ALL.into_iter().map(Kind::name).filter(|k| tagged.split(':').any(|t| t == *k)).collect();
    for statement in statements(policy) {
        let Some(sid) = statement["Sid"].as_str() else { continue };
        if sid == ARTIFACT_KEY_SID {
            observed.artifact_key_arn = strings(&statement["Resource"]).into_iter().next();
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

/// Whom a trust statement admits: the ARNs of its `aws:PrincipalArn`
/// condition, or (a document written otherwise) its principals.
fn trusted_arns(statement: &Value) -> BTreeSet<String> {
    let by_arn = strings(&statement["Condition"]["ArnLike"]["aws:PrincipalArn"]);
    if by_arn.is_empty() {
        strings(&statement["Principal"]["AWS"])
    } else {
        by_arn
    }
}

/// The principals a DevOps role trusts, read back.
pub fn observe_devops(trust: &Value) -> BTreeSet<String> {
    statements(trust).into_iter().flat_map(trusted_arns).collect()
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
            pipeline_account_ids: BTreeSet::from(["123456789012".into()]),
            provisioner_arns: BTreeSet::from(["arn:aws:iam::123456789012:role/terraform".into()]),
            external_id: Some("ext-123".into()),
            artifact_bucket: Some("bokbasen-artifacts".into()),
            artifact_key_arn: Some(
                "arn:aws:kms:eu-north-1:123456789012:key/0a1b2c3d-0000-4000-8000-000000000001".into(),
            ),
        }
    }

    fn resources(policy: &Value) -> Vec<String> {
        statements(policy).into_iter().flat_map(|s| strings(&s["Resource"])).collect()
    }

    #[test]
    fn deploy_permissions_follow_the_kinds_that_deploy_through_the_role() {
        // Lambda, Batch and API Gateway deploy from a project with its own role: nothing here.
        let only_lambda = deployer_role(&target(&[Kind::Lambda, Kind::Batch, Kind::ApiGateway]), &region());
        let text = only_lambda.policy.to_string();
        assert!(!text.contains("lambda:") && !text.contains("batch:") && !text.contains("apigateway:"), "{text}");
        assert!(!text.contains("ecs:UpdateService") && !text.contains("s3:PutObject"));
        let all = deployer_role(&target(&Kind::ALL), &region()).policy.to_string();
        for action in ["ecs:UpdateService", "ecs:TagResource", "s3:PutObject"] {
            assert!(all.contains(action), "{action} missing");
        }
        // Nor does the deployer read configuration: each step reads its own with its project's role.
        assert!(!all.contains("ssm:") && !all.contains("cloudfront:"));
        assert_eq!(kinds_tag(&target(&Kind::ALL)), "fargate:lambda:batch:api_gateway:static_site");
    }

    #[test]
    fn resources_stay_in_the_account_and_environment() {
        let target = target(&Kind::ALL);
        let docs = deployer_role(&target, &region());
        for arn in resources(&docs.policy) {
            // The one resource of the pipeline account: the key its artifacts are read with.
            let scoped = arn == "*"
                || Some(&arn) == target.artifact_key_arn.as_ref()
                || arn.contains(":222222222222:")
                || arn.contains("::222222222222:")
                || arn.starts_with("arn:aws:s3:::");
            assert!(scoped, "{arn} reaches outside the account");
        }
        let policy = docs.policy.to_string();
        assert!(policy.contains("project/*-test-*"));
        assert!(policy.contains("role/bokbasen/*-test-cb"));
        // Wildcard resources only where AWS offers no resource scoping.
        let wildcard: Vec<String> = statements(&docs.policy)
            .into_iter()
            .filter(|s| strings(&s["Resource"]).contains("*"))
            .filter_map(|s| s["Sid"].as_str().map(str::to_string))
            .collect();
        assert_eq!(wildcard, ["ListForRefresh", "DeployFargateTaskDefinitions"]);
    }

    #[test]
    fn trust_is_by_account_and_principal_arn_and_the_external_id_binds_provisioners_only() {
        let docs = deployer_role(&target(&[Kind::Fargate]), &region());
        let trust = statements(&docs.trust);
        assert_eq!(trust.len(), 2);
        // Account roots as principals: nothing named need exist, nothing is stored by unique ID.
        for statement in &trust {
            assert_eq!(
                strings(&statement["Principal"]["AWS"]),
                BTreeSet::from(["arn:aws:iam::123456789012:root".into()])
            );
        }
        assert_eq!(
            strings(&trust[0]["Condition"]["ArnLike"]["aws:PrincipalArn"]),
            BTreeSet::from(["arn:aws:iam::123456789012:role/bokbasen/*-pipeline".into()])
        );
        assert!(trust[0]["Condition"].get("StringEquals").is_none(), "CodePipeline cannot send an external id");
        assert_eq!(trust[1]["Condition"]["StringEquals"]["sts:ExternalId"], "ext-123");
        assert_eq!(
            strings(&trust[1]["Condition"]["ArnLike"]["aws:PrincipalArn"]),
            BTreeSet::from(["arn:aws:iam::123456789012:role/terraform".into()])
        );
        // The document does not grow with services: 50 pipeline accounts stay under IAM's 2,048 characters.
        let mut many = target(&[Kind::Fargate]);
        many.pipeline_account_ids = (0..8).map(|i| format!("10000000000{i}")).collect();
        assert!(deployer_role(&many, &region()).trust.to_string().len() < 2048);
        let mut without = target(&[Kind::Fargate]);
        without.external_id = None;
        without.provisioner_arns.clear();
        let trust = deployer_role(&without, &region()).trust;
        assert_eq!(statements(&trust).len(), 1);
        assert!(!trust.to_string().contains("ExternalId"));
    }

    #[test]
    fn arguments_are_read_back_from_the_documents() {
        for kinds in [vec![Kind::Lambda], Kind::ALL.to_vec(), vec![Kind::StaticSite, Kind::ApiGateway]] {
            let target = target(&kinds);
            let docs = deployer_role(&target, &region());
            let tags = BTreeMap::from([(KINDS_TAG.to_string(), kinds_tag(&target))]);
            let observed = observe_deployer(&docs.trust, &docs.policy, &tags);
            assert_eq!(observed.kinds, target.kinds);
            assert_eq!(observed.pipeline_account_ids, target.pipeline_account_ids);
            assert_eq!(observed.artifact_key_arn, target.artifact_key_arn);
            assert_eq!(observed.provisioner_arns, target.provisioner_arns);
            assert_eq!(observed.external_id, target.external_id);
            assert_eq!(observed.artifact_bucket, target.artifact_bucket);
        }
    }

    #[test]
    fn a_trust_naming_pipeline_roles_as_principals_reads_as_no_pipeline_account() {
        // Provider 0.1.0's trust: role ARNs as principals. Read as trusting no account, the next
        // apply rewrites it in today's form, which new pipeline roles can assume.
        let legacy = json!({ "Version": "2012-10-17", "Statement": [{
            "Sid": "Pipelines", "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": { "AWS": ["arn:aws:iam::123456789012:role/bokbasen/ebook-api-pipeline"] },
        }]});
        assert!(observe_deployer(&legacy, &json!({}), &BTreeMap::new()).pipeline_account_ids.is_empty());
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
