//! Shared helpers for the integration tests: the accounts of notes13/design.md and short
//! constructors for policies and principals.
#![allow(dead_code)]

use bokbasen_iam_eval::{NamedPolicy, Principal, StatementRef};
use serde_json::{json, Value};

/// Tooling/pipeline account.
pub const TOOLING: &str = "123456789012";
/// Test environment account.
pub const TEST: &str = "222222222222";
/// Production account.
pub const PRODUCTION: &str = "444444444444";

/// A role under bokbasen's `/bokbasen/` path.
pub fn role(account: &str, name: &str) -> Principal {
    Principal::role(format!("arn:aws:iam::{account}:role/bokbasen/{name}")).unwrap()
}

pub fn role_arn(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role/bokbasen/{name}")
}

/// A policy document from its statements.
pub fn policy(name: &str, statements: Value) -> NamedPolicy {
    NamedPolicy::new(name, json!({"Version": "2012-10-17", "Statement": statements}))
}

pub fn at(policy: &str, index: usize, sid: Option<&str>) -> StatementRef {
    StatementRef { policy: policy.to_string(), index, sid: sid.map(str::to_string) }
}
