//! A release, rehearsed: every call AWS makes on a service's behalf while one
//! commit goes from the repository to Production, each weighed against the
//! documents bokbasen writes by IAM's own evaluation rules
//! ([`bokbasen_iam_eval`]): identity policies, role trust, the artifact
//! bucket's and key's policies and the ECR repository's policy, within one
//! account and across accounts.
//!
//! The local endpoint the end-to-end suites run against enforces none of
//! these documents, so "the test passed" says nothing about whether a real
//! organisation would release. This module is the pure, fast answer:
//! [`rehearse`] lists, per action of the pipeline, who acts (CodePipeline's
//! role, a deploy role, a CodeBuild project's role, ECS's task execution
//! role) in which account, what each call is, and which statement allows it
//! or why it is denied. `bokbasen explain` prints it; the tests require
//! every call of every kind to be allowed and every generated statement to
//! be needed by some call.
//!
//! # What is modelled
//!
//! - [`Organisation`]: the service, its artifact store, and one deploy target
//!   per environment account ([`Organisation::for_spec`] builds exactly what
//!   the examples deploy).
//! - [`documents`]: every document bokbasen writes for it, named ("ebook-api-build
//!   (identity)", "bokbasen-deployer-test (trust)", "artifact bucket policy"),
//!   and the documents bokbasen does not write but a release depends on, named
//!   as such ([`Author::Aws`]): the ECS task execution role's managed policy,
//!   the default key policy of the key SecureStrings are kept under, and AWS's
//!   own `aws/s3` key when the spec has no customer-managed artifact key.
//!   Documents a team writes itself (the repository policy of a private
//!   Flyway copy) are passed in [`Organisation::external`].
//! - [`calls`]: per action, the calls with principal, action, resource, the
//!   account owning it and the condition keys AWS sends (`aws:SecureTransport`
//!   on S3, `kms:ViaService` and `kms:CallerAccount` on KMS calls made through
//!   S3 and SSM, `iam:PassedToService` on PassRole, `s3:ResourceAccount`).
//!
//! Not modelled: SCPs, permissions boundaries, KMS grants, S3 Block Public
//! Access and ACLs (see the evaluator's crate documentation), and the calls
//! services make with their own service-linked roles.

use std::collections::{BTreeMap, BTreeSet};

use bokbasen_iam_eval::{evaluate, Decision, Error, NamedPolicy, Principal, Request, ResourcePolicyKind};
use serde_json::{json, Value};

use crate::names::{
    artifact_folder, build_role_name, cache_location, ecr_image_repository, environment_role_name, log_group,
    pipeline_name, pipeline_role_name, repository_name, role_arn,
};
use crate::policy::{build_role, environment_role, pipeline_role, repository_policy, Region};
use crate::shape::{shape, ActionKind, Project, VariableValue, Where};
use crate::store::{bucket_policy, key_policy, ArtifactStore};
use crate::target::{deployer_role, DeployTarget};
use crate::{Kind, ProjectPurpose, ServiceSpec};

/// The key id the rehearsal gives AWS's own `aws/s3` key of the pipeline
/// account (its real id differs per account; only its policy matters here).
pub const AWS_S3_KEY_ID: &str = "aws-managed-aws-s3";

/// The key id the rehearsal gives the customer-managed key SecureStrings are
/// kept under in each account (made by the team, not by bokbasen).
pub const PARAMETERS_KEY_ID: &str = "parameters";

/// What a release runs in: one service, its artifact store and the deploy
/// target of each environment account.
#[derive(Clone, Debug, PartialEq)]
pub struct Organisation {
    pub spec: ServiceSpec,
    pub region: Region,
    /// The account the pipeline, its roles, the artifact store and the ECR
    /// repository are in: the connection's.
    pub pipeline_account: String,
    pub store: ArtifactStore,
    pub targets: Vec<DeployTarget>,
    /// Documents neither bokbasen nor AWS writes that the release depends on
    /// (a team's repository policy on a private image copy).
    pub external: Vec<Document>,
}

impl Organisation {
    /// The organisation the examples build for `spec`: the artifact store of
    /// the pipeline account (the connection ARN's) shared with the
    /// environment accounts, and a deploy target per environment trusting
    /// the pipeline account, deploying the spec's kind, reading the spec's
    /// bucket with the spec's key, with the default configuration layout.
    pub fn for_spec(spec: &ServiceSpec, region: &Region) -> Organisation {
        let pipeline_account = crate::checks::arn_account(&spec.source.connection_arn).unwrap_or_default().to_string();
        let environment_accounts: BTreeSet<String> =
            spec.environments.iter().map(|e| e.account_id.clone()).filter(|a| *a != pipeline_account).collect();
        let store = ArtifactStore {
            bucket: spec.artifact_bucket.clone(),
            tooling_account: pipeline_account.clone(),
            environment_accounts,
        };
        let targets = spec
            .environments
            .iter()
            .map(|env| DeployTarget {
                environment: env.name.clone(),
                account_id: env.account_id.clone(),
                kinds: BTreeSet::from([spec.kind.name()]),
                pipeline_account_ids: BTreeSet::from([pipeline_account.clone()]),
                provisioner_arns: BTreeSet::new(),
                external_id: None,
                artifact_bucket: Some(spec.artifact_bucket.clone()),
                artifact_key_arn: spec.artifact_key_arn.clone(),
            })
            .collect();
        Organisation {
            spec: spec.clone(),
            region: region.clone(),
            pipeline_account,
            store,
            targets,
            external: Vec::new(),
        }
    }

    /// The key the artifacts are encrypted with: the spec's, or AWS's own
    /// `aws/s3` key of the pipeline account.
    pub fn artifact_key(&self) -> String {
        match &self.spec.artifact_key_arn {
            Some(key) => key.clone(),
            None => self.region.arn("kms", &self.pipeline_account, &format!("key/{AWS_S3_KEY_ID}")),
        }
    }

    fn repository_arn(&self) -> String {
        self.region.arn("ecr", &self.pipeline_account, &format!("repository/{}", repository_name(&self.spec.name)))
    }

    fn role(&self, account: &str, name: &str) -> String {
        role_arn(&self.region.partition, account, name)
    }

    /// A role bokbasen does not make, in an environment account.
    fn foreign_role(&self, account: &str, name: &str) -> String {
        format!("arn:{}:iam::{account}:role/{name}", self.region.partition)
    }
}

/// What a document is attached to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attached {
    /// An identity policy of the role with this ARN.
    Identity(String),
    /// The trust policy of the role with this ARN.
    Trust(String),
    /// The policy of the S3 bucket with this name.
    Bucket(String),
    /// The key policy of the KMS key with this ARN.
    Key(String),
    /// The policy of the ECR repository with this ARN.
    Repository(String),
}

/// Who writes a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Author {
    Bokbasen,
    /// AWS: a managed policy or a key policy AWS sets; modelled here.
    Aws,
    /// The team, outside bokbasen ([`Organisation::external`]).
    Team,
}

/// One policy document with its name and where it is attached.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// How reports cite it: "ebook-api-build (identity)".
    pub name: String,
    pub attached: Attached,
    pub author: Author,
    pub document: Value,
}

fn last_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn doc(name: String, attached: Attached, document: Value) -> Document {
    Document { name, attached, author: Author::Bokbasen, document }
}

fn role_documents(arn: &str, docs: crate::RoleDocuments) -> [Document; 2] {
    let name = last_name(arn);
    [
        doc(format!("{name} (identity)"), Attached::Identity(arn.to_string()), docs.policy),
        doc(format!("{name} (trust)"), Attached::Trust(arn.to_string()), docs.trust),
    ]
}

/// Every document of the organisation: bokbasen's, AWS's that the release
/// depends on, and the team's ([`Organisation::external`]).
pub fn documents(org: &Organisation) -> Vec<Document> {
    let spec = &org.spec;
    let region = &org.region;
    let pa = org.pipeline_account.as_str();
    let shape = shape(spec);
    let mut out = Vec::new();
    out.extend(role_documents(&org.role(pa, &pipeline_role_name(&spec.name)), pipeline_role(spec, &shape, region, pa)));
    out.extend(role_documents(&org.role(pa, &build_role_name(&spec.name)), build_role(spec, &shape, region, pa)));
    for env in &spec.environments {
        if let Some(docs) = environment_role(spec, &shape, region, env) {
            out.extend(role_documents(&org.role(&env.account_id, &environment_role_name(&spec.name, &env.name)), docs));
        }
    }
    for target in &org.targets {
        // The deployer of the target, at the ARN the spec names for the environment.
        let Some(env) = spec.environments.iter().find(|e| e.name == target.environment) else { continue };
        let arn = org.role(&target.account_id, &crate::names::deployer_role_name(&target.environment));
        if env.deploy_role_arn == arn {
            out.extend(role_documents(&arn, deployer_role(target, region)));
        }
    }
    out.push(doc(
        "artifact bucket policy".into(),
        Attached::Bucket(org.store.bucket.clone()),
        bucket_policy(&org.store, region),
    ));
    if let Some(key) = &spec.artifact_key_arn {
        out.push(doc("artifact key policy".into(), Attached::Key(key.clone()), key_policy(&org.store, region)));
    }
    if spec.kind.builds_image() {
        if let Some(policy) = repository_policy(spec, region, pa) {
            out.push(doc(
                format!("{} repository policy", repository_name(&spec.name)),
                Attached::Repository(org.repository_arn()),
                policy,
            ));
        }
    }
    out.extend(aws_documents(org));
    out.extend(org.external.iter().cloned());
    out
}

/// The documents AWS writes that a release depends on, as AWS documents them.
pub fn aws_documents(org: &Organisation) -> Vec<Document> {
    let region = &org.region;
    let mut out = Vec::new();
    let mut accounts: BTreeSet<&str> = org.spec.environments.iter().map(|e| e.account_id.as_str()).collect();
    accounts.insert(&org.pipeline_account);
    for account in accounts {
        // SecureStrings are kept under `aws/ssm` unless the team names a key
        // (`bokbasen secret set --kms-key`). The rehearsal takes the stricter
        // case, the one `DecryptParameters` exists for: a customer-managed key
        // the team made with KMS's default key policy: the account's root may do
        // everything, which delegates to the account's IAM policies (AWS KMS
        // developer guide, "Default key policy": "Allows access to the AWS
        // account and enables IAM policies"). Under SSM's own `aws/ssm` key
        // no identity policy would be needed; the customer key is the
        // stricter case and the one `DecryptParameters` exists for.
        out.push(Document {
            name: format!("parameters key policy in {account} (KMS default key policy)"),
            attached: Attached::Key(region.arn("kms", account, &format!("key/{PARAMETERS_KEY_ID}"))),
            author: Author::Aws,
            document: json!({"Version": "2012-10-17", "Statement": [{
                "Sid": "Enable IAM User Permissions", "Effect": "Allow",
                "Principal": {"AWS": format!("arn:{}:iam::{account}:root", region.partition)},
                "Action": "kms:*", "Resource": "*"}]}),
        });
    }
    if org.spec.artifact_key_arn.is_none() {
        // AWS managed keys (`aws/s3`) have policies AWS writes and nobody can
        // change: any principal of the account, through the service, and no
        // other account (AWS KMS developer guide, "AWS managed keys"; the
        // CodePipeline guide on cross-account pipelines: "you cannot use the
        // default AWS managed key" for artifacts read by another account).
        out.push(Document {
            name: "aws/s3 key policy (AWS managed key)".into(),
            attached: Attached::Key(org.artifact_key()),
            author: Author::Aws,
            document: json!({"Version": "2012-10-17", "Statement": [{
                "Sid": "Allow access through S3 for all principals in the account that are authorized to use S3",
                "Effect": "Allow", "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {
                    "kms:CallerAccount": org.pipeline_account,
                    "kms:ViaService": format!("s3.{}.amazonaws.com", region.region)}}}]}),
        });
    }
    if org.spec.kind.builds_image() {
        for env in &org.spec.environments {
            // ECS and Batch pull the image with the task execution role, which
            // holds AWS's managed AmazonECSTaskExecutionRolePolicy (Amazon ECS
            // developer guide, "Amazon ECS task execution IAM role"; AWS Batch
            // user guide, "AWS Batch IAM execution role").
            out.push(Document {
                name: format!("{} (AWS managed AmazonECSTaskExecutionRolePolicy)", execution_role_name(&org.spec.name)),
                attached: Attached::Identity(org.foreign_role(&env.account_id, &execution_role_name(&org.spec.name))),
                author: Author::Aws,
                document: json!({"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow",
                    "Action": ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability",
                        "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage", "logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": "*"}]}),
            });
        }
    }
    out
}

/// The service's task (or job) execution role in an environment account,
/// made by the team with the service (not by bokbasen).
fn execution_role_name(service: &str) -> String {
    format!("{service}-execution")
}

/// One call AWS makes on the service's behalf.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub request: Request,
    /// The resource's own policy and how it takes part; `None` for a
    /// resource without one (a parameter, a log group, a project).
    pub resource_policy: Option<(Attached, ResourcePolicyKind)>,
}

impl Call {
    /// The caller: a role ARN or a service principal.
    pub fn principal(&self) -> String {
        match &self.request.principal {
            Principal::Service(name) => name.clone(),
            p => p.arn().unwrap_or_default().to_string(),
        }
    }

    /// The account owning the resource, where known.
    pub fn resource_account(&self) -> Option<String> {
        self.request
            .resource_account
            .clone()
            .or_else(|| self.request.resource.split(':').nth(4).filter(|a| !a.is_empty()).map(str::to_string))
    }
}

/// One call and what IAM decides.
#[derive(Clone, Debug, PartialEq)]
pub struct CallReport {
    pub call: Call,
    pub decision: Result<Decision, Error>,
    /// Why a denial happened where the decision alone does not say (a
    /// resource policy the organisation does not have).
    pub note: Option<String>,
}

impl CallReport {
    pub fn allowed(&self) -> bool {
        self.decision.as_ref().is_ok_and(Decision::is_allowed)
    }

    /// "allowed by doc#Sid[ and doc#Sid]" or "DENIED: why".
    pub fn verdict(&self) -> String {
        match &self.decision {
            Ok(d) if d.is_allowed() => d.to_string(),
            Ok(d) => match &self.note {
                Some(note) => format!("DENIED: {d} ({note})"),
                None => format!("DENIED: {d}"),
            },
            Err(e) => format!("DENIED: not evaluated: {e}"),
        }
    }
}

/// One pipeline action and the calls it makes.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The stage's name (`Source`, `Build`, an environment).
    pub stage: String,
    /// The action's name (`Deploy`, `SmokeTest`).
    pub action: String,
    /// Who runs the action: the pipeline's role, or the deploy role it assumes.
    pub runs_as: String,
    /// The account the action acts in.
    pub account: String,
    pub calls: Vec<Call>,
}

/// A step with its decisions.
#[derive(Clone, Debug, PartialEq)]
pub struct StepReport {
    pub stage: String,
    pub action: String,
    pub runs_as: String,
    pub account: String,
    pub calls: Vec<CallReport>,
}

/// Every step of a release with every call's decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Rehearsal {
    pub steps: Vec<StepReport>,
}

impl Rehearsal {
    /// Every call with its step.
    pub fn calls(&self) -> impl Iterator<Item = (&StepReport, &CallReport)> {
        self.steps.iter().flat_map(|s| s.calls.iter().map(move |c| (s, c)))
    }

    pub fn denied(&self) -> Vec<(&StepReport, &CallReport)> {
        self.calls().filter(|(_, c)| !c.allowed()).collect()
    }

    /// How many calls are allowed and how many denied.
    pub fn counts(&self) -> (usize, usize) {
        let denied = self.denied().len();
        (self.calls().count() - denied, denied)
    }

    pub fn all_allowed(&self) -> bool {
        self.calls().all(|(_, c)| c.allowed())
    }
}

/// The release of `org` against its own documents.
pub fn rehearse(org: &Organisation) -> Rehearsal {
    rehearse_with(org, &documents(org))
}

/// The release of `org` against `documents` (its own, changed, or another
/// version's).
pub fn rehearse_with(org: &Organisation, documents: &[Document]) -> Rehearsal {
    let steps = calls(org)
        .into_iter()
        .map(|step| StepReport {
            stage: step.stage,
            action: step.action,
            runs_as: step.runs_as,
            account: step.account,
            calls: step.calls.into_iter().map(|call| weigh(call, documents)).collect(),
        })
        .collect();
    Rehearsal { steps }
}

fn named(d: &Document) -> NamedPolicy {
    NamedPolicy::new(d.name.clone(), d.document.clone())
}

/// One call weighed against `documents`: the principal's identity policies
/// and the resource's own policy, if the call's resource has one.
pub fn weigh(call: Call, documents: &[Document]) -> CallReport {
    let identity: Vec<NamedPolicy> = match call.request.principal.arn() {
        Some(arn) => {
            documents.iter().filter(|d| d.attached == Attached::Identity(arn.to_string())).map(named).collect()
        }
        None => Vec::new(),
    };
    let resource = call
        .resource_policy
        .as_ref()
        .and_then(|(at, kind)| documents.iter().find(|d| &d.attached == at).map(|d| (named(d), *kind)));
    let decision = evaluate(&call.request, &identity, resource.as_ref().map(|(p, k)| (p, *k)));
    let note = match (&decision, &call.resource_policy, &resource) {
        (Ok(d), Some((at, _)), None) if !d.is_allowed() => Some(match at {
            Attached::Trust(arn) => format!("no trust policy of {arn} is known: not a role bokbasen makes"),
            Attached::Key(arn) => format!("the organisation has no policy for key {arn}"),
            Attached::Bucket(b) => format!("bucket {b} has no bucket policy"),
            Attached::Repository(arn) => format!("repository {arn} has no repository policy"),
            Attached::Identity(_) => String::new(),
        }),
        (Ok(d), _, _) if !d.is_allowed() && identity.is_empty() && call.request.principal.arn().is_some() => {
            Some(format!("no identity policy of {} is known", call.principal()))
        }
        _ => None,
    };
    CallReport { call, decision, note }
}

/// A build or object id: the rehearsal's calls name one object of each kind.
const ID: &str = "r3hearsal";

/// The calls of every action of the release, in pipeline order.
pub fn calls(org: &Organisation) -> Vec<Step> {
    let shape = shape(&org.spec);
    let calls = Calls { org };
    let mut steps = Vec::new();
    for stage in &shape.stages {
        for action in &stage.actions {
            let env = match &action.runs_in {
                Where::Environment(name) => org.spec.environments.iter().find(|e| &e.name == name),
                Where::Pipeline => None,
            };
            let pipeline_role = calls.pipeline_role();
            let (runs_as, account) = match env {
                Some(env) => (env.deploy_role_arn.clone(), env.account_id.clone()),
                None => (pipeline_role.clone(), org.pipeline_account.clone()),
            };
            let mut list = Vec::new();
            match (action.kind, env) {
                (ActionKind::Source, _) => calls.source(&mut list),
                (ActionKind::ManualApproval, _) => {
                    if let Some(topic) = &org.spec.approval_topic_arn {
                        list.push(calls.call(&pipeline_role, "sns:Publish", topic, None, None));
                    }
                }
                (ActionKind::CodeBuild, _) => {
                    let project_name = action.configuration.get("ProjectName").cloned().unwrap_or_default();
                    if let Some(project) = shape.projects.iter().find(|p| p.name == project_name) {
                        calls.codebuild(&mut list, project, env, &runs_as);
                    }
                }
                (ActionKind::EcsDeploy, Some(env)) => calls.ecs_deploy(&mut list, env, &action.configuration),
                (ActionKind::S3Deploy, Some(env)) => calls.s3_deploy(&mut list, env, &action.configuration),
                (ActionKind::EcsDeploy | ActionKind::S3Deploy, None) => {}
            }
            steps.push(Step { stage: stage.name.clone(), action: action.name.clone(), runs_as, account, calls: list });
        }
    }
    steps
}

struct Calls<'a> {
    org: &'a Organisation,
}

fn principal(arn: &str) -> Principal {
    Principal::role(arn).unwrap_or_else(|_| Principal::Service(arn.to_string()))
}

impl Calls<'_> {
    fn pipeline_role(&self) -> String {
        self.org.role(&self.org.pipeline_account, &pipeline_role_name(&self.org.spec.name))
    }

    fn call(
        &self,
        who: &str,
        action: &str,
        resource: &str,
        owner: Option<&str>,
        policy: Option<(Attached, ResourcePolicyKind)>,
    ) -> Call {
        let mut request = Request::new(principal(who), action, resource);
        request.resource_account = owner.map(str::to_string);
        Call { request, resource_policy: policy }
    }

    fn service_assumes(&self, service: &str, role: &str) -> Call {
        let request = Request::new(Principal::service(service), "sts:AssumeRole", role);
        Call { request, resource_policy: Some((Attached::Trust(role.to_string()), ResourcePolicyKind::RoleTrust)) }
    }

    /// CodePipeline's role assumes an environment's deploy role.
    fn assume_deploy_role(&self, env: &crate::Environment) -> Call {
        self.call(
            &self.pipeline_role(),
            "sts:AssumeRole",
            &env.deploy_role_arn,
            None,
            Some((Attached::Trust(env.deploy_role_arn.clone()), ResourcePolicyKind::RoleTrust)),
        )
    }

    fn bucket(&self) -> &str {
        &self.org.spec.artifact_bucket
    }

    /// An S3 call on the artifact bucket or an object in it, over TLS.
    fn s3(&self, who: &str, action: &str, path: &str, owner: &str, bucket: Option<&str>) -> Call {
        let policy = bucket.map(|b| (Attached::Bucket(b.to_string()), ResourcePolicyKind::Generic));
        let mut call = self.call(who, action, &self.org.region.s3(path), Some(owner), policy);
        call.request = call.request.with("aws:SecureTransport", &["true"]).with("s3:ResourceAccount", &[owner]);
        call
    }

    /// A KMS call S3 or SSM makes with the caller's credentials.
    fn kms(&self, who: &str, action: &str, key: &str, via: &str) -> Call {
        let caller = principal(who).account().unwrap_or_default().to_string();
        let mut call =
            self.call(who, action, key, None, Some((Attached::Key(key.to_string()), ResourcePolicyKind::KmsKey)));
        let via = format!("{via}.{}.amazonaws.com", self.org.region.region);
        call.request = call.request.with("kms:ViaService", &[&via]).with("kms:CallerAccount", &[&caller]);
        call
    }

    /// Reading an artifact: the object, and its data key.
    fn read_artifact(&self, out: &mut Vec<Call>, who: &str, artifact: &str) {
        let folder = artifact_folder(&pipeline_name(&self.org.spec.name));
        let path = format!("{}/{folder}/{artifact}/{ID}", self.bucket());
        out.push(self.s3(who, "s3:GetObject", &path, &self.org.pipeline_account, Some(self.bucket())));
        out.push(self.kms(who, "kms:Decrypt", &self.org.artifact_key(), "s3"));
    }

    /// Writing an artifact: the object, and a data key for it.
    fn write_artifact(&self, out: &mut Vec<Call>, who: &str, artifact: &str) {
        let folder = artifact_folder(&pipeline_name(&self.org.spec.name));
        let path = format!("{}/{folder}/{artifact}/{ID}", self.bucket());
        out.push(self.s3(who, "s3:PutObject", &path, &self.org.pipeline_account, Some(self.bucket())));
        out.push(self.kms(who, "kms:GenerateDataKey", &self.org.artifact_key(), "s3"));
    }

    fn use_connection(&self, who: &str) -> Call {
        let arn = &self.org.spec.source.connection_arn;
        // The action is named after the ARN's service: codestar-connections or codeconnections.
        let service = arn.split(':').nth(2).unwrap_or("codestar-connections");
        self.call(who, &format!("{service}:UseConnection"), arn, None, None)
    }

    fn source(&self, out: &mut Vec<Call>) {
        let role = self.pipeline_role();
        out.push(self.service_assumes("codepipeline.amazonaws.com", &role));
        out.push(self.use_connection(&role));
        // CodePipeline checks its artifact store before it writes to it.
        let bucket = self.bucket().to_string();
        for action in ["s3:GetBucketLocation", "s3:GetBucketVersioning"] {
            out.push(self.s3(&role, action, &bucket, &self.org.pipeline_account, Some(&bucket)));
        }
        self.write_artifact(out, &role, crate::SOURCE_ARTIFACT);
    }

    /// A CodeBuild action: the action's role runs the project, CodeBuild
    /// assumes the project's role, which does the work.
    fn codebuild(&self, out: &mut Vec<Call>, project: &Project, env: Option<&crate::Environment>, runs_as: &str) {
        let org = self.org;
        let account = env.map_or(org.pipeline_account.as_str(), |e| e.account_id.as_str());
        if let Some(env) = env {
            out.push(self.assume_deploy_role(env));
        }
        let project_arn = org.region.arn("codebuild", account, &format!("project/{}", project.name));
        for action in ["codebuild:StartBuild", "codebuild:BatchGetBuilds"] {
            out.push(self.call(runs_as, action, &project_arn, None, None));
        }
        let role = match env {
            Some(env) => org.role(account, &environment_role_name(&org.spec.name, &env.name)),
            None => org.role(account, &build_role_name(&org.spec.name)),
        };
        out.push(self.service_assumes("codebuild.amazonaws.com", &role));
        if project.network.is_some() {
            self.network(out, &role, project, account);
        }
        if let Some(repository) = ecr_image_repository(&project.image, &org.region.partition) {
            self.pull(out, &role, &repository, None);
        }
        let group = format!("log-group:{}", log_group(&project.name));
        out.push(self.call(&role, "logs:CreateLogGroup", &org.region.arn("logs", account, &group), None, None));
        let stream = org.region.arn("logs", account, &format!("{group}:log-stream:{ID}"));
        out.push(self.call(&role, "logs:CreateLogStream", &stream, None, None));
        out.push(self.call(&role, "logs:PutLogEvents", &stream, None, None));
        let bucket = self.bucket().to_string();
        out.push(self.s3(&role, "s3:GetBucketLocation", &bucket, &org.pipeline_account, Some(&bucket)));
        let input =
            if project.purpose == ProjectPurpose::Build { crate::SOURCE_ARTIFACT } else { crate::BUILD_ARTIFACT };
        self.read_artifact(out, &role, input);
        if project.purpose == ProjectPurpose::Build {
            // CODEBUILD_CLONE_REF: the build clones through the connection.
            out.push(self.use_connection(&role));
        }
        for variable in &project.variables {
            if let VariableValue::Parameter(name) = &variable.value {
                let parameter = org.region.arn("ssm", account, &format!("parameter{name}"));
                out.push(self.call(&role, "ssm:GetParameters", &parameter, None, None));
                let key = org.region.arn("kms", account, &format!("key/{PARAMETERS_KEY_ID}"));
                out.push(self.kms(&role, "kms:Decrypt", &key, "ssm"));
            }
        }
        match (project.purpose, env) {
            (ProjectPurpose::Build, _) => self.build(out, &role),
            (ProjectPurpose::Deploy, Some(env)) => self.deploy_step(out, &role, env),
            (ProjectPurpose::Invalidate, Some(env)) => {
                let id = env.target.get("distribution_id").cloned().unwrap_or_default();
                let arn = format!("arn:{}:cloudfront::{account}:distribution/{id}", org.region.partition);
                out.push(self.call(&role, "cloudfront:CreateInvalidation", &arn, None, None));
            }
            _ => {}
        }
    }

    /// What CodeBuild does with the project's role to place a build in a VPC.
    fn network(&self, out: &mut Vec<Call>, role: &str, project: &Project, account: &str) {
        let Some(network) = &project.network else { return };
        for action in [
            "ec2:DescribeDhcpOptions",
            "ec2:DescribeVpcs",
            "ec2:DescribeSubnets",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeNetworkInterfaces",
            "ec2:CreateNetworkInterface",
            "ec2:DeleteNetworkInterface",
        ] {
            out.push(self.call(role, action, "*", None, None));
        }
        let region = &self.org.region;
        let eni = region.arn("ec2", account, &format!("network-interface/eni-{ID}"));
        let subnet = network.subnet_ids.first().map(|s| region.arn("ec2", account, &format!("subnet/{s}")));
        let mut call = self.call(role, "ec2:CreateNetworkInterfacePermission", &eni, None, None);
        call.request = call
            .request
            .with("ec2:AuthorizedService", &["codebuild.amazonaws.com"])
            .with("ec2:Subnet", &[subnet.as_deref().unwrap_or_default()]);
        out.push(call);
    }

    /// Pulling an image from ECR: the registry login, then the layers.
    fn pull(&self, out: &mut Vec<Call>, who: &str, repository: &str, policy: Option<Attached>) {
        out.push(self.call(who, "ecr:GetAuthorizationToken", "*", None, None));
        let policy =
            Some((policy.unwrap_or_else(|| Attached::Repository(repository.to_string())), ResourcePolicyKind::Generic));
        for action in ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"] {
            out.push(self.call(who, action, repository, None, policy.clone()));
        }
    }

    fn build(&self, out: &mut Vec<Call>, role: &str) {
        let org = self.org;
        if org.spec.kind.builds_image() {
            let repository = org.repository_arn();
            out.push(self.call(role, "ecr:GetAuthorizationToken", "*", None, None));
            let policy = Some((Attached::Repository(repository.clone()), ResourcePolicyKind::Generic));
            for action in [
                "ecr:BatchCheckLayerAvailability",
                "ecr:InitiateLayerUpload",
                "ecr:UploadLayerPart",
                "ecr:CompleteLayerUpload",
                "ecr:PutImage",
            ] {
                out.push(self.call(role, action, &repository, None, policy.clone()));
            }
        }
        if org.spec.build.cache == crate::Cache::S3 {
            let path = format!("{}/{ID}", cache_location(self.bucket(), &org.spec.name));
            let bucket = self.bucket().to_string();
            out.push(self.s3(role, "s3:GetObject", &path, &org.pipeline_account, Some(&bucket)));
            out.push(self.kms(role, "kms:Decrypt", &org.artifact_key(), "s3"));
            out.push(self.s3(role, "s3:PutObject", &path, &org.pipeline_account, Some(&bucket)));
            out.push(self.kms(role, "kms:GenerateDataKey", &org.artifact_key(), "s3"));
        }
        self.write_artifact(out, role, crate::BUILD_ARTIFACT);
    }

    /// The Deploy project of the kinds bokbasen deploys with CodeBuild.
    fn deploy_step(&self, out: &mut Vec<Call>, role: &str, env: &crate::Environment) {
        let org = self.org;
        let region = &org.region;
        let account = env.account_id.as_str();
        let target = |field: &str| env.target.get(field).cloned().unwrap_or_default();
        match org.spec.kind {
            Kind::Lambda => {
                let function = region.arn("lambda", account, &format!("function:{}", target("function")));
                // update-function-code --publish, then the `function-updated` waiter.
                out.push(self.call(role, "lambda:UpdateFunctionCode", &function, None, None));
                out.push(self.call(role, "lambda:GetFunctionConfiguration", &function, None, None));
            }
            Kind::Batch => {
                out.push(self.call(role, "batch:DescribeJobDefinitions", "*", None, None));
                let definition = region.arn("batch", account, &format!("job-definition/{}", target("job_definition")));
                out.push(self.call(role, "batch:RegisterJobDefinition", &definition, None, None));
                // The new revision keeps the job and execution roles: registering passes them.
                for name in [format!("{}-job", org.spec.name), execution_role_name(&org.spec.name)] {
                    let mut call = self.call(role, "iam:PassRole", &org.foreign_role(account, &name), None, None);
                    call.request = call.request.with("iam:PassedToService", &["batch.amazonaws.com"]);
                    out.push(call);
                }
                // Batch's jobs pull the new image with the execution role.
                let execution = org.foreign_role(account, &execution_role_name(&org.spec.name));
                self.pull(out, &execution, &org.repository_arn(), None);
            }
            Kind::ApiGateway => {
                let api =
                    format!("arn:{}:apigateway:{}::/restapis/{}", region.partition, region.region, target("api_id"));
                out.push(self.call(role, "apigateway:PUT", &api, Some(account), None));
                out.push(self.call(role, "apigateway:POST", &format!("{api}/deployments"), Some(account), None));
            }
            Kind::Fargate | Kind::StaticSite => {}
        }
    }

    /// CodePipeline's ECS deploy action, run as the deploy role.
    fn ecs_deploy(&self, out: &mut Vec<Call>, env: &crate::Environment, configuration: &BTreeMap<String, String>) {
        let org = self.org;
        let region = &org.region;
        let account = env.account_id.as_str();
        let role = env.deploy_role_arn.as_str();
        out.push(self.assume_deploy_role(env));
        self.read_artifact(out, role, crate::BUILD_ARTIFACT);
        let get = |key: &str| configuration.get(key).cloned().unwrap_or_default();
        let service = region.arn("ecs", account, &format!("service/{}/{}", get("ClusterName"), get("ServiceName")));
        out.push(self.call(role, "ecs:DescribeServices", &service, None, None));
        out.push(self.call(role, "ecs:DescribeTaskDefinition", "*", None, None));
        out.push(self.call(role, "ecs:RegisterTaskDefinition", "*", None, None));
        let definition = region.arn("ecs", account, &format!("task-definition/{}:2", get("ServiceName")));
        out.push(self.call(role, "ecs:TagResource", &definition, None, None));
        for name in [format!("{}-task", org.spec.name), execution_role_name(&org.spec.name)] {
            let mut call = self.call(role, "iam:PassRole", &org.foreign_role(account, &name), None, None);
            call.request = call.request.with("iam:PassedToService", &["ecs-tasks.amazonaws.com"]);
            out.push(call);
        }
        out.push(self.call(role, "ecs:UpdateService", &service, None, None));
        // The new tasks pull the image from the pipeline account's repository.
        let execution = org.foreign_role(account, &execution_role_name(&org.spec.name));
        self.pull(out, &execution, &org.repository_arn(), None);
    }

    /// CodePipeline's S3 deploy action, run as the deploy role: the build
    /// artifact, extracted into the site's bucket in the environment account.
    fn s3_deploy(&self, out: &mut Vec<Call>, env: &crate::Environment, configuration: &BTreeMap<String, String>) {
        let role = env.deploy_role_arn.as_str();
        out.push(self.assume_deploy_role(env));
        self.read_artifact(out, role, crate::BUILD_ARTIFACT);
        let site = configuration.get("BucketName").cloned().unwrap_or_default();
        out.push(self.s3(role, "s3:PutObject", &format!("{site}/index.html"), &env.account_id, None));
    }
}

/// `documents` with one statement of one document removed: what the
/// mutation test weighs the release against.
pub fn without_statement(documents: &[Document], document: usize, statement: usize) -> Vec<Document> {
    let mut changed = documents.to_vec();
    if let Some(Value::Array(list)) = changed.get_mut(document).and_then(|d| d.document.get_mut("Statement")) {
        if statement < list.len() {
            list.remove(statement);
        }
    }
    changed
}

/// The statements of a document, as a list.
pub fn statements(document: &Value) -> Vec<&Value> {
    match &document["Statement"] {
        Value::Array(list) => list.iter().collect(),
        single @ Value::Object(_) => vec![single],
        _ => Vec::new(),
    }
}
