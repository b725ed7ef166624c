//! A small, exact IAM policy evaluator for the documents bokbasen writes.
//!
//! The release rehearsal asks, for every AWS call a release makes (CodePipeline's role starting
//! builds, CodeBuild roles reading parameters and artifacts, a pipeline role assuming a deploy
//! role in another account, ECS pulling an image), whether the identity policies, role trust
//! policies, bucket policies, key policies and repository policies bokbasen generates allow it;
//! `bokbasen explain` prints the statement that decided ("allowed by build-role#PushImage").
//!
//! ```
//! use bokbasen_iam_eval::{evaluate, NamedPolicy, Principal, Request};
//! use serde_json::json;
//!
//! let role = Principal::role("arn:aws:iam::123456789012:role/bokbasen/svc-build").unwrap();
//! let policy = NamedPolicy::new("svc-build", json!({"Version": "2012-10-17", "Statement": [
//!     {"Sid": "PushImage", "Effect": "Allow", "Action": ["ecr:PutImage", "ecr:UploadLayerPart"],
//!      "Resource": "arn:aws:ecr:eu-north-1:123456789012:repository/svc"}]}));
//! let request = Request::new(role, "ecr:PutImage", "arn:aws:ecr:eu-north-1:123456789012:repository/svc");
//! let decision = evaluate(&request, &[policy], None).unwrap();
//! assert_eq!(decision.to_string(), "allowed by svc-build#PushImage");
//! ```
//!
//! # The decision
//!
//! Each rule cites the AWS documentation page it follows.
//!
//! 1. An applicable `Deny` in any identity or resource policy wins ("Policy evaluation logic";
//!    "Determining whether a request is allowed or denied within an account").
//! 2. A service principal (`codepipeline.amazonaws.com` assuming its role) is decided by the
//!    resource policy alone.
//! 3. Across accounts (the principal's account is not the resource's), the identity policy and
//!    the resource policy must both allow ("Cross-account policy evaluation logic"); a resource
//!    policy may name the caller or its whole account.
//! 4. Role trust policies (`sts:AssumeRole*`) and KMS key policies must allow the caller
//!    themselves, or allow its account root, which enables the account's identity policies, and
//!    then an identity policy must allow too. Without such a policy the request is denied
//!    ("Determining whether a request is allowed or denied within an account": role trust and
//!    KMS key policies are the exceptions; "Key policies in AWS KMS"; "Allowing users in other
//!    accounts to use a KMS key"). A KMS key ARN or an `sts:AssumeRole*` action gets these rules
//!    whatever [`ResourcePolicyKind`] is passed.
//! 5. Otherwise, within one account, an allow in an identity policy or one in the resource policy
//!    naming the caller (its role or user ARN, or `*`) is enough; a resource policy naming only
//!    the account delegates to the identity policies ("Policy evaluation logic", evaluating
//!    identity-based policies with resource-based policies; "AWS JSON policy elements:
//!    Principal", AWS account principals). Without a resource policy, a request on a resource
//!    known to be in another account is denied; one whose account is unknown is decided by the
//!    identity policies.
//!
//! # Supported subset
//!
//! - `Version` (2012-10-17, 2008-10-17), `Id`, `Statement` (one or a list), `Sid`, `Effect`.
//! - `Action` / `NotAction`: `*` and `?`, case-insensitive ("IAM JSON policy elements: Action").
//! - `Resource` / `NotResource`: `*` or ARNs with `*`/`?` within segments, a segment-ending `*`
//!   reaching past colons ("IAM JSON policy elements: Resource"). A resource policy statement
//!   without either (a trust policy) is about the resource it is attached to.
//! - `Principal` in resource policies: `"*"`, `{"AWS": "*" | account ID | root ARN | role ARN |
//!   user ARN}`, `{"Service": name}` ("AWS JSON policy elements: Principal"). A role ARN matches
//!   the role's sessions; names are compared exactly (with path).
//! - `Condition` ("IAM JSON policy elements: Condition operators"): `StringEquals`,
//!   `StringNotEquals`, `StringEqualsIgnoreCase`, `StringNotEqualsIgnoreCase`, `StringLike`,
//!   `StringNotLike`, `ArnEquals`, `ArnLike`, `ArnNotEquals`, `ArnNotLike`, `Bool`, each also as
//!   `...IfExists`, and `Null`. Blocks and keys AND, values OR; key names case-insensitive. A
//!   missing key makes a positive operator false and a negated one true; `...IfExists` makes it
//!   true ("...IfExists condition operators"). `aws:PrincipalArn`, `aws:PrincipalAccount` and
//!   `aws:PrincipalServiceName` come from the request's principal unless the context sets them.
//!   Other keys (`aws:SecureTransport`, `iam:PassedToService`, `kms:ViaService`,
//!   `sts:ExternalId`) must be in the request's context to be present.
//!
//! # Out of scope
//!
//! Anything here is an [`Error::Unsupported`] (or [`Error::InvalidPolicy`] for a malformed
//! document), never a silent allow or skip: `NotPrincipal`; `Federated` and `CanonicalUser`
//! principals; session ARNs and unique IDs as principals; set operators (`ForAnyValue:`,
//! `ForAllValues:`); numeric, date, IP address and binary operators; policy variables (`${...}`).
//! Not modelled at all: permissions boundaries, session policies, SCPs and RCPs, KMS grants, VPC
//! endpoint policies, S3 ACLs and Block Public Access, the account root user, and the services'
//! own rules on which operations work across accounts.

mod condition;
mod evaluate;
mod glob;
mod model;
mod parse;

pub use model::{Decision, Error, Missing, NamedPolicy, Principal, Request, ResourcePolicyKind, StatementRef};

/// Decides one request against the caller's identity policies and the resource's policy, if it
/// has one. See the [crate documentation](crate) for the rules.
///
/// `identity` holds every identity policy of the principal (inline and managed); it is ignored
/// for a service principal. `resource_policy` is the bucket, repository, trust or key policy of
/// the resource acted on, with its kind.
pub fn evaluate(
    request: &Request,
    identity: &[NamedPolicy],
    resource_policy: Option<(&NamedPolicy, ResourcePolicyKind)>,
) -> Result<Decision, Error> {
    evaluate::evaluate(request, identity, resource_policy)
}
