//! The decision: explicit denies first, then which allows the request needs.

use crate::condition::{all_hold, Context};
use crate::glob;
use crate::model::{Decision, Error, Missing, NamedPolicy, Principal, Request, ResourcePolicyKind, StatementRef};
use crate::parse::{self, Actions, Effect, PrincipalEntry, Resources, Side, Statement};

/// How a resource policy statement's `Principal` matched the caller.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Reach {
    No,
    /// Through the caller's account (`"AWS": "ACCOUNT"` or `arn:...:root`): "This delegates
    /// authority to the account" ("AWS JSON policy elements: Principal", AWS account
    /// principals); the account's identity policies must then allow the caller too.
    Account,
    /// The caller itself: its role or user ARN, its service, or `*`.
    Direct,
}

fn reach(entries: &[PrincipalEntry], principal: &Principal) -> Reach {
    entries
        .iter()
        .map(|entry| match (entry, principal) {
            (PrincipalEntry::Anyone, _) => Reach::Direct,
            (PrincipalEntry::Service(s), Principal::Service(name)) if s == name => Reach::Direct,
            (PrincipalEntry::Arn(a), p) if p.arn() == Some(a.as_str()) => Reach::Direct,
            (PrincipalEntry::Account(a), p) if p.account() == Some(a.as_str()) => Reach::Account,
            _ => Reach::No,
        })
        .max()
        .unwrap_or(Reach::No)
}

/// Whether a statement is about this action on this resource under this context (ignoring
/// `Principal`).
fn applies(statement: &Statement, request: &Request, context: &Context) -> bool {
    let action = match &statement.actions {
        Actions::Action(list) => list.iter().any(|p| glob::action(p, &request.action)),
        Actions::NotAction(list) => !list.iter().any(|p| glob::action(p, &request.action)),
    };
    let resource = match &statement.resources {
        Resources::Resource(list) => list.iter().any(|p| glob::arn(p, &request.resource)),
        Resources::NotResource(list) => !list.iter().any(|p| glob::arn(p, &request.resource)),
        Resources::Attached => true,
    };
    action && resource && all_hold(&statement.conditions, context)
}

/// The account owning the resource: given, or read from the ARN; both must agree.
fn resource_account(request: &Request) -> Result<Option<String>, Error> {
    let from_arn = request.resource.split(':').nth(4).filter(|a| !a.is_empty()).map(str::to_string);
    match (&request.resource_account, from_arn) {
        (Some(given), Some(arn)) if *given != arn => Err(Error::InvalidRequest(format!(
            "resource_account {given} disagrees with the account {arn} in `{}`",
            request.resource
        ))),
        (Some(given), _) => Ok(Some(given.clone())),
        (None, arn) => Ok(arn),
    }
}

/// Requests whose resource policy is mandatory whatever kind the caller passed: assuming a role
/// (its trust policy) and using a KMS key (its key policy).
fn strict_by_request(request: &Request) -> bool {
    let action = request.action.to_ascii_lowercase();
    let parts: Vec<&str> = request.resource.splitn(6, ':').collect();
    let kms_key = matches!(parts.as_slice(), ["arn", _, "kms", _, _, resource] if resource.starts_with("key/"));
    action.starts_with("sts:assumerole") || kms_key
}

fn missing(identity_allows: bool, resource_allows: bool) -> Missing {
    match (identity_allows, resource_allows) {
        (true, _) => Missing::ResourcePolicy,
        (false, true) => Missing::Identity,
        (false, false) => Missing::Both,
    }
}

pub(crate) fn evaluate(
    request: &Request,
    identity: &[NamedPolicy],
    resource_policy: Option<(&NamedPolicy, ResourcePolicyKind)>,
) -> Result<Decision, Error> {
    check_request(request)?;
    let context = Context::of(request);
    let principal = &request.principal;
    let is_service = matches!(principal, Principal::Service(_));

    // Parse everything first, so an unsupported element anywhere is an error, not a skip.
    let mut identity_statements = Vec::new();
    for policy in identity {
        identity_statements.extend(parse::policy(policy, Side::Identity)?);
    }
    let resource = match resource_policy {
        Some((policy, kind)) => Some((parse::policy(policy, Side::Resource)?, kind)),
        None => None,
    };
    let resource_account = resource_account(request)?;
    if resource.is_some() && resource_account.is_none() && !is_service {
        return Err(Error::InvalidRequest(format!(
            "the account owning `{}` is unknown: set resource_account",
            request.resource
        )));
    }
    // "AWS services ... evaluated against the resource policy": a service principal has no
    // identity policies of its own in the account.
    let identity_statements: &[Statement] = if is_service { &[] } else { &identity_statements };
    let resource_statements: &[Statement] = resource.as_ref().map(|(s, _)| s.as_slice()).unwrap_or(&[]);

    // "Policy evaluation logic": an explicit deny in any applicable policy overrides any allow.
    // A deny naming an account applies to every principal of it.
    let mut denies = identity_statements
        .iter()
        .filter(|s| s.effect == Effect::Deny && applies(s, request, &context))
        .chain(resource_statements.iter().filter(|s| {
            s.effect == Effect::Deny
                && reach(s.principal.as_deref().unwrap_or_default(), principal) != Reach::No
                && applies(s, request, &context)
        }));
    if let Some(deny) = denies.next() {
        return Ok(Decision::ExplicitDeny(deny.at.clone()));
    }

    let identity_allow: Option<StatementRef> = identity_statements
        .iter()
        .find(|s| s.effect == Effect::Allow && applies(s, request, &context))
        .map(|s| s.at.clone());
    let resource_allow = |wanted: Reach| -> Option<StatementRef> {
        resource_statements
            .iter()
            .find(|s| {
                s.effect == Effect::Allow
                    && reach(s.principal.as_deref().unwrap_or_default(), principal) == wanted
                    && applies(s, request, &context)
            })
            .map(|s| s.at.clone())
    };
    let direct = resource_allow(Reach::Direct);
    let through_account = resource_allow(Reach::Account);
    let any_resource = direct.clone().or_else(|| through_account.clone());

    let allowed = |identity, resource| Ok(Decision::Allowed { identity, resource });
    let denied = |missing| Ok(Decision::ImplicitDeny { missing });

    // A service principal: the resource policy alone decides.
    if is_service {
        return match direct {
            Some(r) => allowed(None, Some(r)),
            None => denied(Missing::ResourcePolicy),
        };
    }

    // "Cross-account policy evaluation logic": the identity policy in the caller's account and
    // the resource policy in the resource's account must both allow.
    let cross_account = resource_account.as_deref().is_some_and(|a| Some(a) != principal.account());
    if cross_account {
        return match (identity_allow, any_resource) {
            (Some(i), Some(r)) => allowed(Some(i), Some(r)),
            (i, r) => denied(missing(i.is_some(), r.is_some())),
        };
    }

    let strict = strict_by_request(request)
        || matches!(resource, Some((_, ResourcePolicyKind::RoleTrust | ResourcePolicyKind::KmsKey)));
    if strict {
        // "Key policies in AWS KMS": without the key policy's permission, IAM policies that
        // allow have no effect; a key policy allowing the account root enables them. Role trust
        // policies are the same exception ("Determining whether a request is allowed or denied
        // within an account").
        return match (direct, through_account, identity_allow) {
            (Some(r), _, i) => allowed(i, Some(r)),
            (None, Some(r), Some(i)) => allowed(Some(i), Some(r)),
            (None, Some(_), None) => denied(Missing::Identity),
            (None, None, i) => denied(missing(i.is_some(), false)),
        };
    }

    // Within one account, for most resources: an allow in the identity policy or one in the
    // resource policy naming the caller itself is enough. A resource policy allowing only the
    // account delegates to the identity policies.
    match (identity_allow, direct) {
        (Some(i), _) => allowed(Some(i), any_resource),
        (None, Some(r)) => allowed(None, Some(r)),
        (None, None) if through_account.is_some() => denied(Missing::Identity),
        (None, None) if resource.is_some() => denied(Missing::Both),
        (None, None) => denied(Missing::Identity),
    }
}

fn check_request(request: &Request) -> Result<(), Error> {
    if request.action.split_once(':').is_none_or(|(s, a)| s.is_empty() || a.is_empty()) {
        return Err(Error::InvalidRequest(format!("action `{}` is not `service:Operation`", request.action)));
    }
    if request.action.contains('*') || request.action.contains('?') {
        return Err(Error::InvalidRequest(format!("action `{}` is a pattern, not one call", request.action)));
    }
    match &request.principal {
        Principal::Role { arn, account } | Principal::User { arn, account } => {
            let in_arn = arn.split(':').nth(4).unwrap_or_default();
            if in_arn != account {
                return Err(Error::InvalidRequest(format!("principal `{arn}` is not in account {account}")));
            }
        }
        Principal::Service(name) if name.is_empty() => {
            return Err(Error::InvalidRequest("empty service principal".to_string()))
        }
        Principal::Service(_) => {}
    }
    Ok(())
}
