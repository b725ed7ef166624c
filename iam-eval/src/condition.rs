//! The `Condition` element against a request's context.
//!
//! "IAM JSON policy elements: Condition" and "...: Condition operators":
//! - every operator block in a statement must hold, and every key within a block (AND);
//! - several values for one key match if any of them matches (OR);
//! - a key absent from the request makes a positive operator false, and a negated one
//!   (`StringNotEquals`, `StringNotLike`, `ArnNotLike`, ...) true;
//! - `...IfExists` makes an absent key true, whatever the operator;
//! - `Null` with `true` holds when the key is absent, with `false` when it is present.
//!
//! A context key given with several values (not a multivalued key in AWS's sense, which needs
//! the set operators this evaluator rejects) matches a positive operator when any of its values
//! does; a negated operator is the exact negation of its positive form.

use std::collections::BTreeMap;

use crate::glob;
use crate::model::{Principal, Request};
use crate::parse::{Condition, Operator};

/// The request's condition keys, lower-cased, with the principal's own keys filled in.
pub(crate) struct Context {
    keys: BTreeMap<String, Vec<String>>,
}

impl Context {
    /// "AWS global condition context keys": `aws:PrincipalArn` (for a role session, the role's
    /// ARN) and `aws:PrincipalAccount` are present for IAM principals, `aws:PrincipalServiceName`
    /// for a service principal. Values given in the request win.
    pub(crate) fn of(request: &Request) -> Context {
        let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (key, values) in &request.context {
            keys.entry(key.to_ascii_lowercase()).or_default().extend(values.iter().cloned());
        }
        let mut derive = |key: &str, value: &str| {
            keys.entry(key.to_string()).or_insert_with(|| vec![value.to_string()]);
        };
        match &request.principal {
            Principal::Role { arn, account } | Principal::User { arn, account } => {
                derive("aws:principalarn", arn);
                derive("aws:principalaccount", account);
            }
            Principal::Service(name) => derive("aws:principalservicename", name),
        }
        keys.retain(|_, values| !values.is_empty());
        Context { keys }
    }

    fn get(&self, key: &str) -> Option<&[String]> {
        self.keys.get(key).map(Vec::as_slice)
    }
}

/// Whether every condition of a statement holds.
pub(crate) fn all_hold(conditions: &[Condition], context: &Context) -> bool {
    conditions.iter().all(|c| holds(c, context))
}

fn holds(condition: &Condition, context: &Context) -> bool {
    let present = context.get(&condition.key);
    if condition.operator == Operator::Null {
        let wants_absent = condition.values[0].eq_ignore_ascii_case("true");
        return present.is_none() == wants_absent;
    }
    let Some(request_values) = present else {
        return condition.if_exists || condition.negated;
    };
    let any = request_values.iter().any(|r| condition.values.iter().any(|p| value_matches(condition.operator, p, r)));
    any != condition.negated
}

fn value_matches(operator: Operator, policy: &str, request: &str) -> bool {
    match operator {
        Operator::StringEquals => policy == request,
        Operator::StringEqualsIgnoreCase => policy.to_lowercase() == request.to_lowercase(),
        Operator::StringLike => glob::like(policy, request),
        Operator::ArnLike => glob::arn(policy, request),
        Operator::Bool => {
            // The policy value was checked to be a boolean; a request value that is not one
            // matches neither.
            (request.eq_ignore_ascii_case("true") || request.eq_ignore_ascii_case("false"))
                && policy.eq_ignore_ascii_case(request)
        }
        Operator::Null => unreachable!("Null is decided on presence alone"),
    }
}
