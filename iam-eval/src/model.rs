//! The vocabulary: what a caller asks ([`Request`], [`Principal`], [`NamedPolicy`]) and what it is
//! told ([`Decision`], [`StatementRef`], [`Missing`], [`Error`]).

use std::collections::BTreeMap;
use std::fmt;

/// A policy document with the name it is reported under ("build-role", "artifact-bucket").
#[derive(Clone, Debug, PartialEq)]
pub struct NamedPolicy {
    pub name: String,
    pub document: serde_json::Value,
}

impl NamedPolicy {
    pub fn new(name: impl Into<String>, document: serde_json::Value) -> Self {
        NamedPolicy { name: name.into(), document }
    }
}

/// Who makes the request.
///
/// A role stands for its sessions: AWS names the role session as the caller, but bokbasen's
/// policies name roles, and a policy naming a role matches every session of it
/// ("AWS JSON policy elements: Principal", IAM role principals).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// `arn:aws:iam::ACCOUNT:role/path/name`, with the account it belongs to.
    Role { arn: String, account: String },
    /// `arn:aws:iam::ACCOUNT:user/path/name`, with the account it belongs to.
    User { arn: String, account: String },
    /// A service principal such as `codebuild.amazonaws.com`.
    Service(String),
}

impl Principal {
    /// A role from its ARN; the account is read from the ARN.
    pub fn role(arn: impl Into<String>) -> Result<Self, Error> {
        let arn = arn.into();
        let account = iam_arn_account(&arn, "role/")?;
        Ok(Principal::Role { arn, account })
    }

    /// A user from its ARN; the account is read from the ARN.
    pub fn user(arn: impl Into<String>) -> Result<Self, Error> {
        let arn = arn.into();
        let account = iam_arn_account(&arn, "user/")?;
        Ok(Principal::User { arn, account })
    }

    pub fn service(name: impl Into<String>) -> Self {
        Principal::Service(name.into())
    }

    /// The account of a role or user; a service principal belongs to no account.
    pub fn account(&self) -> Option<&str> {
        match self {
            Principal::Role { account, .. } | Principal::User { account, .. } => Some(account),
            Principal::Service(_) => None,
        }
    }

    /// The ARN of a role or user.
    pub fn arn(&self) -> Option<&str> {
        match self {
            Principal::Role { arn, .. } | Principal::User { arn, .. } => Some(arn),
            Principal::Service(_) => None,
        }
    }
}

fn iam_arn_account(arn: &str, kind: &str) -> Result<String, Error> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "iam", "", account, resource]
            if !partition.is_empty() && is_account_id(account) && resource.starts_with(kind) =>
        {
            Ok(account.to_string())
        }
        _ => Err(Error::InvalidRequest(format!("`{arn}` is not an IAM {} ARN", kind.trim_end_matches('/')))),
    }
}

pub(crate) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// One AWS call as the authorizer sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub principal: Principal,
    /// `service:Operation`, e.g. `s3:GetObject`.
    pub action: String,
    /// The ARN of the resource acted on (`*` for calls on no resource).
    pub resource: String,
    /// The account owning the resource. Needed where the ARN has no account (S3 buckets and
    /// objects); otherwise read from the ARN, and if both are given they must agree.
    pub resource_account: Option<String>,
    /// Condition keys and their values (`aws:SecureTransport` => `["true"]`). Key names are
    /// case-insensitive. `aws:PrincipalArn`, `aws:PrincipalAccount` and
    /// `aws:PrincipalServiceName` are filled in from `principal` unless given here.
    pub context: BTreeMap<String, Vec<String>>,
}

impl Request {
    pub fn new(principal: Principal, action: impl Into<String>, resource: impl Into<String>) -> Self {
        Request {
            principal,
            action: action.into(),
            resource: resource.into(),
            resource_account: None,
            context: BTreeMap::new(),
        }
    }

    /// Sets the account owning the resource.
    pub fn owned_by(mut self, account: impl Into<String>) -> Self {
        self.resource_account = Some(account.into());
        self
    }

    /// Adds a condition key with its values.
    pub fn with(mut self, key: impl Into<String>, values: &[&str]) -> Self {
        self.context.entry(key.into()).or_default().extend(values.iter().map(|v| v.to_string()));
        self
    }
}

/// How a resource policy takes part in the decision.
///
/// "Determining whether a request is allowed or denied within an account": for most resources
/// an allow in either the identity policy or the resource policy is enough within one account;
/// "IAM role trust policies and KMS key policies are exceptions", they must allow the principal
/// themselves. Whatever kind a caller passes, a request on a KMS key ARN or for an
/// `sts:AssumeRole*` action is evaluated with the strict rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourcePolicyKind {
    /// S3 bucket policy, ECR repository policy and the like.
    Generic,
    /// A role's trust policy, for `sts:AssumeRole` on the role.
    RoleTrust,
    /// A KMS key policy.
    KmsKey,
}

/// The statement that decided, for messages like "allowed by build-role#PushImage".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementRef {
    /// The [`NamedPolicy::name`] of the policy holding the statement.
    pub policy: String,
    /// The statement's position in the policy, from 0.
    pub index: usize,
    pub sid: Option<String>,
}

impl fmt::Display for StatementRef {
    /// `policy#Sid`, or `policy#[index]` for a statement without a Sid.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.sid {
            Some(sid) => write!(f, "{}#{}", self.policy, sid),
            None => write!(f, "{}#[{}]", self.policy, self.index),
        }
    }
}

/// Which side failed to allow an implicitly denied request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    /// The resource side allowed or was not needed; no identity policy allows the request.
    Identity,
    /// The identity side allowed or was not needed; the resource policy (or key or trust
    /// policy) does not allow it, or none was given where one is required.
    ResourcePolicy,
    /// Neither side allows it. Within one account, for a resource with a generic resource
    /// policy, either allow alone would have been enough.
    Both,
}

/// The outcome of [`crate::evaluate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed. `identity` and `resource` name the first allowing statement on each side that
    /// allowed (both are set where both sides allow, whether or not both were needed).
    Allowed { identity: Option<StatementRef>, resource: Option<StatementRef> },
    /// A `Deny` statement applies; it overrides every allow.
    ExplicitDeny(StatementRef),
    /// No allow was found on the side(s) the request needs.
    ImplicitDeny { missing: Missing },
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allowed { .. })
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Allowed { identity: Some(i), resource: Some(r) } => write!(f, "allowed by {i} and {r}"),
            Decision::Allowed { identity: Some(s), resource: None }
            | Decision::Allowed { identity: None, resource: Some(s) } => write!(f, "allowed by {s}"),
            Decision::Allowed { identity: None, resource: None } => write!(f, "allowed"),
            Decision::ExplicitDeny(s) => write!(f, "explicitly denied by {s}"),
            Decision::ImplicitDeny { missing: Missing::Identity } => {
                write!(f, "implicitly denied: no identity policy allows it")
            }
            Decision::ImplicitDeny { missing: Missing::ResourcePolicy } => {
                write!(f, "implicitly denied: the resource policy does not allow it")
            }
            Decision::ImplicitDeny { missing: Missing::Both } => {
                write!(f, "implicitly denied: neither an identity policy nor the resource policy allows it")
            }
        }
    }
}

/// Why a request could not be evaluated. Never turned into an allow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The policy uses something this evaluator does not implement (NotPrincipal, set operators,
    /// policy variables, numeric or date operators, ...). `statement` is the index, when known.
    Unsupported { policy: String, statement: Option<usize>, what: String },
    /// The policy is not a valid policy of its kind.
    InvalidPolicy { policy: String, statement: Option<usize>, reason: String },
    /// The request itself is malformed or incomplete.
    InvalidRequest(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |policy: &str, statement: &Option<usize>| match statement {
            Some(i) => format!("{policy}, statement {i}"),
            None => policy.to_string(),
        };
        match self {
            Error::Unsupported { policy, statement, what } => {
                write!(f, "{}: unsupported by the evaluator: {what}", at(policy, statement))
            }
            Error::InvalidPolicy { policy, statement, reason } => {
                write!(f, "{}: invalid policy: {reason}", at(policy, statement))
            }
            Error::InvalidRequest(reason) => write!(f, "invalid request: {reason}"),
        }
    }
}

impl std::error::Error for Error {}
