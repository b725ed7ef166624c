//! Policy documents into statements, checked whole before anything is evaluated: an element
//! this evaluator does not implement is an [`Error::Unsupported`] wherever it sits, never a
//! statement silently skipped.

use serde_json::{Map, Value};

use crate::model::{is_account_id, Error, NamedPolicy, StatementRef};

/// Which kind of document a policy is; decides whether `Principal` is required or forbidden.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// Attached to a role or user: no `Principal` ("AWS JSON policy elements: Principal": you
    /// cannot use it in an identity-based policy); `Resource` or `NotResource` required.
    Identity,
    /// Attached to a resource (bucket, repository, key, role trust): `Principal` required;
    /// without `Resource` the statement is about the resource it is attached to (trust policies
    /// have none).
    Resource,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

pub(crate) enum Actions {
    Action(Vec<String>),
    NotAction(Vec<String>),
}

pub(crate) enum Resources {
    Resource(Vec<String>),
    NotResource(Vec<String>),
    /// No element: the resource the policy is attached to.
    Attached,
}

/// One entry of a `Principal` element.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PrincipalEntry {
    /// `"*"` or `{"AWS": "*"}`: everyone.
    Anyone,
    /// `{"AWS": "123456789012"}` or `{"AWS": "arn:aws:iam::123456789012:root"}`: the account,
    /// which delegates to its identity policies.
    Account(String),
    /// `{"AWS": "arn:aws:iam::ACCOUNT:role/..."}` or `.../user/...`: that principal exactly.
    Arn(String),
    /// `{"Service": "codebuild.amazonaws.com"}`.
    Service(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operator {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    /// `ArnEquals` and `ArnLike`, which AWS documents as behaving identically.
    ArnLike,
    Bool,
    /// The `Null` check: value `true` means "the key is absent".
    Null,
}

pub(crate) struct Condition {
    pub operator: Operator,
    /// `StringNotEquals`, `StringNotLike`, `ArnNotEquals`, ...
    pub negated: bool,
    pub if_exists: bool,
    /// Lower-cased: condition key names are case-insensitive.
    pub key: String,
    pub values: Vec<String>,
}

pub(crate) struct Statement {
    pub at: StatementRef,
    pub effect: Effect,
    /// `None` in identity policies.
    pub principal: Option<Vec<PrincipalEntry>>,
    pub actions: Actions,
    pub resources: Resources,
    pub conditions: Vec<Condition>,
}

struct Ctx<'a> {
    policy: &'a str,
    index: Option<usize>,
}

impl Ctx<'_> {
    fn invalid(&self, reason: impl Into<String>) -> Error {
        Error::InvalidPolicy { policy: self.policy.to_string(), statement: self.index, reason: reason.into() }
    }
    fn unsupported(&self, what: impl Into<String>) -> Error {
        Error::Unsupported { policy: self.policy.to_string(), statement: self.index, what: what.into() }
    }
}

pub(crate) fn policy(policy: &NamedPolicy, side: Side) -> Result<Vec<Statement>, Error> {
    let ctx = Ctx { policy: &policy.name, index: None };
    let doc = policy.document.as_object().ok_or_else(|| ctx.invalid("a policy document is a JSON object"))?;
    for (key, value) in doc {
        match key.as_str() {
            "Version" => match value.as_str() {
                Some("2012-10-17") | Some("2008-10-17") => {}
                _ => return Err(ctx.invalid(format!("unknown Version {value}"))),
            },
            "Id" | "Statement" => {}
            other => return Err(ctx.invalid(format!("unknown top-level element `{other}`"))),
        }
    }
    let statements = match doc.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect::<Vec<_>>(),
        Some(one @ Value::Object(_)) => vec![one],
        Some(_) => return Err(ctx.invalid("`Statement` is an object or a list of objects")),
        None => return Err(ctx.invalid("no `Statement`")),
    };
    statements.into_iter().enumerate().map(|(index, value)| statement(&policy.name, index, value, side)).collect()
}

fn statement(policy: &str, index: usize, value: &Value, side: Side) -> Result<Statement, Error> {
    let ctx = Ctx { policy, index: Some(index) };
    let map = value.as_object().ok_or_else(|| ctx.invalid("a statement is a JSON object"))?;
    for key in map.keys() {
        match key.as_str() {
            "Sid" | "Effect" | "Principal" | "Action" | "NotAction" | "Resource" | "NotResource" | "Condition" => {}
            "NotPrincipal" => return Err(ctx.unsupported("NotPrincipal")),
            other => return Err(ctx.invalid(format!("unknown element `{other}`"))),
        }
    }
    let sid = match map.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ctx.invalid("`Sid` is a string")),
    };
    let effect = match map.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => return Err(ctx.invalid("`Effect` is \"Allow\" or \"Deny\"")),
    };
    let principal = match (side, map.get("Principal")) {
        (Side::Identity, Some(_)) => return Err(ctx.invalid("an identity policy has no `Principal`")),
        (Side::Identity, None) => None,
        (Side::Resource, None) => return Err(ctx.invalid("a resource policy statement needs a `Principal`")),
        (Side::Resource, Some(p)) => Some(principal_element(&ctx, p)?),
    };
    let actions = match (map.get("Action"), map.get("NotAction")) {
        (Some(a), None) => Actions::Action(action_list(&ctx, a)?),
        (None, Some(a)) => Actions::NotAction(action_list(&ctx, a)?),
        _ => return Err(ctx.invalid("exactly one of `Action` and `NotAction`")),
    };
    let resources = match (map.get("Resource"), map.get("NotResource")) {
        (Some(r), None) => Resources::Resource(resource_list(&ctx, r)?),
        (None, Some(r)) => Resources::NotResource(resource_list(&ctx, r)?),
        (None, None) if side == Side::Resource => Resources::Attached,
        _ => return Err(ctx.invalid("exactly one of `Resource` and `NotResource`")),
    };
    let conditions = match map.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(block)) => condition_block(&ctx, block)?,
        Some(_) => return Err(ctx.invalid("`Condition` is an object")),
    };
    Ok(Statement {
        at: StatementRef { policy: policy.to_string(), index, sid },
        effect,
        principal,
        actions,
        resources,
        conditions,
    })
}

/// A string or a non-empty list of strings.
fn strings(ctx: &Ctx, value: &Value, element: &str) -> Result<Vec<String>, Error> {
    let list = match value {
        Value::String(s) => return Ok(vec![s.clone()]),
        Value::Array(list) if !list.is_empty() => list,
        _ => return Err(ctx.invalid(format!("`{element}` is a string or a non-empty list of strings"))),
    };
    list.iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| ctx.invalid(format!("`{element}` is a string or a non-empty list of strings")))
        })
        .collect()
}

fn no_variables(ctx: &Ctx, value: &str, element: &str) -> Result<(), Error> {
    if value.contains("${") {
        return Err(ctx.unsupported(format!("policy variable in {element} `{value}`")));
    }
    Ok(())
}

fn action_list(ctx: &Ctx, value: &Value) -> Result<Vec<String>, Error> {
    let actions = strings(ctx, value, "Action")?;
    for a in &actions {
        let well_formed =
            a == "*" || a.split_once(':').is_some_and(|(service, name)| !service.is_empty() && !name.is_empty());
        if !well_formed {
            return Err(ctx.invalid(format!("action `{a}` is not `*` or `service:Action`")));
        }
    }
    Ok(actions)
}

fn resource_list(ctx: &Ctx, value: &Value) -> Result<Vec<String>, Error> {
    let resources = strings(ctx, value, "Resource")?;
    for r in &resources {
        no_variables(ctx, r, "Resource")?;
        if r != "*" && !r.starts_with("arn:") {
            return Err(ctx.invalid(format!("resource `{r}` is not `*` or an ARN")));
        }
    }
    Ok(resources)
}

/// "AWS JSON policy elements: Principal": `"*"`, or an object of `AWS` (accounts, roles,
/// users, `*`) and `Service` entries. Wildcards inside a principal are not allowed.
fn principal_element(ctx: &Ctx, value: &Value) -> Result<Vec<PrincipalEntry>, Error> {
    let map = match value {
        Value::String(s) if s == "*" => return Ok(vec![PrincipalEntry::Anyone]),
        Value::Object(map) if !map.is_empty() => map,
        _ => return Err(ctx.invalid("`Principal` is \"*\" or an object")),
    };
    let mut entries = Vec::new();
    for (kind, value) in map {
        let values = strings(ctx, value, "Principal")?;
        match kind.as_str() {
            "AWS" => {
                for v in values {
                    entries.push(aws_principal(ctx, &v)?);
                }
            }
            "Service" => {
                for v in values {
                    if v.contains('*') || v.contains('?') {
                        return Err(ctx.invalid(format!("a service principal takes no wildcard: `{v}`")));
                    }
                    entries.push(PrincipalEntry::Service(v));
                }
            }
            "Federated" | "CanonicalUser" => return Err(ctx.unsupported(format!("{kind} principals"))),
            other => return Err(ctx.invalid(format!("unknown principal type `{other}`"))),
        }
    }
    Ok(entries)
}

fn aws_principal(ctx: &Ctx, value: &str) -> Result<PrincipalEntry, Error> {
    if value == "*" {
        return Ok(PrincipalEntry::Anyone);
    }
    // "You cannot use a wildcard to match part of a principal name or ARN."
    if value.contains('*') || value.contains('?') {
        return Err(ctx.invalid(format!("a principal takes no partial wildcard: `{value}`")));
    }
    if is_account_id(value) {
        return Ok(PrincipalEntry::Account(value.to_string()));
    }
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "iam", "", account, resource] if !partition.is_empty() && is_account_id(account) => {
            if *resource == "root" {
                Ok(PrincipalEntry::Account(account.to_string()))
            } else if resource.starts_with("role/") || resource.starts_with("user/") {
                Ok(PrincipalEntry::Arn(value.to_string()))
            } else {
                Err(ctx.unsupported(format!("principal `{value}`")))
            }
        }
        ["arn", _, "sts", ..] => Err(ctx.unsupported(format!("session principal `{value}`"))),
        _ => Err(ctx.unsupported(format!("principal `{value}` (only `*`, account IDs and role, user or root ARNs)"))),
    }
}

/// "IAM JSON policy elements: Condition operators". Supported: the string operators (with
/// `IgnoreCase`), the ARN operators, `Bool`, `Null`, and `...IfExists` on all but `Null`.
/// Set operators (`ForAnyValue:`, `ForAllValues:`), numeric, date, IP and binary operators are
/// reported as unsupported.
fn condition_block(ctx: &Ctx, block: &Map<String, Value>) -> Result<Vec<Condition>, Error> {
    let mut conditions = Vec::new();
    for (written, keys) in block {
        if written.contains(':') {
            return Err(ctx.unsupported(format!("set operator `{written}`")));
        }
        let (base, if_exists) = match written.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (written.as_str(), false),
        };
        let (operator, negated) = match base {
            "StringEquals" => (Operator::StringEquals, false),
            "StringNotEquals" => (Operator::StringEquals, true),
            "StringEqualsIgnoreCase" => (Operator::StringEqualsIgnoreCase, false),
            "StringNotEqualsIgnoreCase" => (Operator::StringEqualsIgnoreCase, true),
            "StringLike" => (Operator::StringLike, false),
            "StringNotLike" => (Operator::StringLike, true),
            "ArnEquals" | "ArnLike" => (Operator::ArnLike, false),
            "ArnNotEquals" | "ArnNotLike" => (Operator::ArnLike, true),
            "Bool" => (Operator::Bool, false),
            "Null" if !if_exists => (Operator::Null, false),
            "Null" => return Err(ctx.invalid("`Null` takes no `IfExists`")),
            _ => return Err(ctx.unsupported(format!("condition operator `{written}`"))),
        };
        let keys = keys.as_object().ok_or_else(|| ctx.invalid(format!("`{written}` maps condition keys to values")))?;
        if keys.is_empty() {
            return Err(ctx.invalid(format!("`{written}` names no condition key")));
        }
        for (key, value) in keys {
            let values = condition_values(ctx, value, written)?;
            for v in &values {
                no_variables(ctx, v, "a condition value")?;
                if matches!(operator, Operator::Bool | Operator::Null)
                    && !v.eq_ignore_ascii_case("true")
                    && !v.eq_ignore_ascii_case("false")
                {
                    return Err(ctx.invalid(format!("`{written}` takes \"true\" or \"false\", not `{v}`")));
                }
            }
            if operator == Operator::Null && values.len() != 1 {
                return Err(ctx.invalid("`Null` takes one value"));
            }
            conditions.push(Condition { operator, negated, if_exists, key: key.to_ascii_lowercase(), values });
        }
    }
    Ok(conditions)
}

/// Condition values: strings, booleans or numbers, alone or in a non-empty list.
fn condition_values(ctx: &Ctx, value: &Value, operator: &str) -> Result<Vec<String>, Error> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(ctx.invalid(format!("`{operator}` values are strings, booleans or numbers"))),
    };
    match value {
        Value::Array(list) if list.is_empty() => Err(ctx.invalid(format!("`{operator}` has an empty value list"))),
        Value::Array(list) => list.iter().map(one).collect(),
        v => Ok(vec![one(v)?]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(side: Side, doc: Value) -> Result<Vec<Statement>, Error> {
        policy(&NamedPolicy::new("p", doc), side)
    }

    #[test]
    fn principals_are_classified() {
        let s = parse(
            Side::Resource,
            json!({"Statement": {"Effect": "Allow", "Action": "s3:GetObject",
                "Principal": {"AWS": ["*", "222222222222", "arn:aws:iam::333333333333:root",
                    "arn:aws:iam::444444444444:role/bokbasen/x-pipeline"],
                    "Service": "codebuild.amazonaws.com"}}}),
        )
        .unwrap();
        assert_eq!(
            s[0].principal.as_deref().unwrap(),
            [
                PrincipalEntry::Anyone,
                PrincipalEntry::Account("222222222222".into()),
                PrincipalEntry::Account("333333333333".into()),
                PrincipalEntry::Arn("arn:aws:iam::444444444444:role/bokbasen/x-pipeline".into()),
                PrincipalEntry::Service("codebuild.amazonaws.com".into()),
            ]
        );
    }

    #[test]
    fn condition_keys_are_lowercased_and_operators_split() {
        let s = parse(
            Side::Identity,
            json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
                "Condition": {"StringNotLikeIfExists": {"AWS:PrincipalArn": ["a", "b"]}, "Bool": {"aws:SecureTransport": true}}}]}),
        )
        .unwrap();
        let c = &s[0].conditions;
        let not_like = c.iter().find(|c| c.operator == Operator::StringLike).unwrap();
        assert!(not_like.negated && not_like.if_exists);
        assert_eq!(not_like.key, "aws:principalarn");
        assert_eq!(not_like.values, ["a", "b"]);
        let b = c.iter().find(|c| c.operator == Operator::Bool).unwrap();
        assert_eq!(b.values, ["true"]);
    }

    #[test]
    fn malformed_and_unsupported_elements_are_errors() {
        let unsupported = |doc: Value, side| matches!(parse(side, doc), Err(Error::Unsupported { .. }));
        let invalid = |doc: Value, side| matches!(parse(side, doc), Err(Error::InvalidPolicy { .. }));
        let stmt = |extra: Value| {
            let mut s = json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"});
            for (k, v) in extra.as_object().unwrap() {
                s[k] = v.clone();
            }
            json!({"Statement": [s]})
        };
        assert!(unsupported(stmt(json!({"NotPrincipal": {"AWS": "123456789012"}})), Side::Resource));
        assert!(unsupported(
            stmt(json!({"Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": "a"}}})),
            Side::Identity
        ));
        assert!(unsupported(stmt(json!({"Condition": {"NumericLessThan": {"s3:max-keys": "10"}}})), Side::Identity));
        assert!(unsupported(stmt(json!({"Resource": "arn:aws:s3:::b/${aws:username}/*"})), Side::Identity));
        assert!(unsupported(
            stmt(json!({"Principal": {"Federated": "cognito-identity.amazonaws.com"}})),
            Side::Resource
        ));
        assert!(unsupported(
            stmt(json!({"Principal": {"AWS": "arn:aws:sts::123456789012:assumed-role/r/s"}})),
            Side::Resource
        ));
        assert!(invalid(stmt(json!({"Principal": "*"})), Side::Identity));
        assert!(invalid(stmt(json!({})), Side::Resource));
        assert!(invalid(stmt(json!({"Effect": "allow"})), Side::Identity));
        assert!(invalid(stmt(json!({"NotAction": "s3:*"})), Side::Identity));
        assert!(invalid(stmt(json!({"Action": "GetObject"})), Side::Identity));
        assert!(invalid(stmt(json!({"Resource": "bucket"})), Side::Identity));
        assert!(invalid(stmt(json!({"Condition": {"Bool": {"aws:SecureTransport": "yes"}}})), Side::Identity));
        assert!(invalid(stmt(json!({"Condition": {"NullIfExists": {"k": "true"}}})), Side::Identity));
        assert!(invalid(stmt(json!({"Principal": {"AWS": "arn:aws:iam::12345678901*:root"}})), Side::Resource));
        assert!(invalid(stmt(json!({"Frobnicate": 1})), Side::Identity));
        assert!(invalid(json!({"Version": "2013-01-01", "Statement": []}), Side::Identity));
        assert!(invalid(json!({"Statements": []}), Side::Identity));
    }
}
