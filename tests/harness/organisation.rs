//! The environment accounts' side of an organisation, as the suites need
//! it under the enforcing endpoint: a `bokbasen_deploy_target` per
//! environment account, applied through `OrganizationAccountAccessRole`
//! (what AWS Organizations makes in member accounts), trusting the tooling
//! account's pipelines and the caller that runs Terraform as provisioner.

use crate::local_aws::{ACCOUNT_ACCESS_ROLE, CALLER_USER, TOOLING_ACCOUNT};

/// The start of a suite's configuration, for `concat!` with the rest:
/// bokbasen from the harness's mirror, and `var.endpoint_url`, which every
/// run is given.
#[macro_export]
macro_rules! terraform_settings {
    () => {
        r#"
terraform {
  required_providers {
    bokbasen = { source = "bokbasen/bokbasen" }
  }
}

variable "endpoint_url" {
  type = string
}
"#
    };
}

/// The default `bokbasen` provider block against the local endpoint, for
/// `concat!` after [`terraform_settings!`].
#[macro_export]
macro_rules! local_provider {
    () => {
        r#"
provider "bokbasen" {
  region       = "eu-north-1"
  endpoint_url = var.endpoint_url
}
"#
    };
}

/// The environments the suites deploy to: (name, account).
pub const ENVIRONMENTS: [(&str, &str); 3] =
    [("test", "222222222222"), ("stage", "333333333333"), ("production", "444444444444")];

/// The artifact key the suites' deploy targets and pipelines name.
pub const ARTIFACT_KEY_ARN: &str = "arn:aws:kms:eu-north-1:123456789012:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d";

/// A Terraform configuration (taking `var.endpoint_url`) with a deploy
/// target for `kinds` in each of `environments`.
pub fn deploy_targets_configuration(kinds: &[&str], environments: &[(&str, &str)]) -> String {
    let kinds = kinds.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", ");
    let mut configuration = String::from(crate::terraform_settings!());
    for (environment, account) in environments {
        configuration.push_str(&format!(
            r#"
provider "bokbasen" {{
  alias        = "{environment}"
  region       = "eu-north-1"
  endpoint_url = var.endpoint_url

  assume_role {{
    role_arn = "arn:aws:iam::{account}:role/{ACCOUNT_ACCESS_ROLE}"
  }}
}}

resource "bokbasen_deploy_target" "{environment}" {{
  provider = bokbasen.{environment}

  environment          = "{environment}"
  kinds                = [{kinds}]
  pipeline_account_ids = ["{TOOLING_ACCOUNT}"]
  provisioner_arns     = ["arn:aws:iam::{TOOLING_ACCOUNT}:user/{CALLER_USER}"]
  artifact_bucket      = "bokbasen-pipeline-artifacts"
  artifact_key_arn     = "{ARTIFACT_KEY_ARN}"
}}
"#
        ));
    }
    configuration
}
