//! What `bokbasen_service_pipeline` costs: the AWS calls one resource makes
//! to create, read (refresh) and delete, counted at the local endpoint, and
//! the wall time of plan, apply, refresh and destroy for many pipelines.
//!
//! Runs the release provider through the pinned Terraform against moto, so
//! the times include moto's own latency; the call counts are what AWS would
//! see. `cargo xtask bench pipelines [count]` (default 50).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bokbasen_e2e::{terraform_binaries, LocalAws, TerraformRun};

use crate::{cargo, run_command, Result};

const DEFAULT_COUNT: usize = 50;

pub fn run(args: &[String]) -> Result {
    let count = match args.first() {
        Some(n) => n.parse().map_err(|_| format!("count must be a number, got {n:?}"))?,
        None => DEFAULT_COUNT,
    };
    let root = bokbasen_e2e::workspace_root();
    run_command(cargo().args(["build", "--release", "-p", "terraform-provider-bokbasen"]).current_dir(&root))?;
    // The harness installs this binary instead of building a debug one.
    std::env::set_var("BOKBASEN_PROVIDER_BIN", root.join("target/release/terraform-provider-bokbasen"));
    let terraform = terraform_binaries().remove(0);
    println!("Terraform {}, release provider, local AWS endpoint (moto)\n", terraform.version);

    // One pipeline: the fargate example (3 environments in 3 accounts, 11
    // projects). The artifact store and the deploy targets it needs are
    // made first and removed last, uncounted; the read is the example's
    // whole refresh (store, 3 deploy targets, 4 caller identities, pipeline).
    let aws = LocalAws::start();
    let endpoint = format!("endpoint_url={}", aws.endpoint());
    let one = aws.workdir_from_example(&terraform, "service-pipeline/fargate");
    one.init();
    let around = [
        "-target=bokbasen_deploy_target.test",
        "-target=bokbasen_deploy_target.stage",
        "-target=bokbasen_deploy_target.production",
    ];
    let mut args = vec!["apply", "-auto-approve"];
    args.extend(around);
    args.extend(["-no-color", "-input=false", "-var", &endpoint]);
    check(one.run(&args), &args)?;
    println!("AWS calls for one fargate pipeline (test, stage, production):");
    for (operation, args) in [
        ("create", vec!["apply", "-auto-approve"]),
        ("read", vec!["plan", "-detailed-exitcode"]),
        // Without the refresh a destroy does first, which is a read.
        ("delete", vec!["destroy", "-auto-approve", "-refresh=false", "-target=bokbasen_service_pipeline.service"]),
    ] {
        aws.reset_calls();
        let mut args = args.clone();
        args.extend(["-no-color", "-input=false", "-var", &endpoint]);
        check(one.run(&args), &args)?;
        report(operation, &aws.calls());
    }
    let args = ["destroy", "-auto-approve", "-no-color", "-input=false", "-var", &endpoint];
    check(one.run(&args), &args)?;

    // Many pipelines in one configuration.
    let aws = LocalAws::start();
    let endpoint = format!("endpoint_url={}", aws.endpoint());
    let many = aws.workdir(&terraform, &[("main.tf", &many_pipelines(Kind::Fargate, count))]);
    many.init();
    println!("\nWall time for {count} pipelines:");
    for (step, args) in [
        ("plan (create)", vec!["plan"]),
        ("apply", vec!["apply", "-auto-approve"]),
        ("plan (refresh, no changes)", vec!["plan", "-detailed-exitcode"]),
        ("destroy", vec!["destroy", "-auto-approve"]),
    ] {
        let mut args = args.clone();
        args.extend(["-no-color", "-input=false", "-var", &endpoint]);
        let started = Instant::now();
        check(many.run(&args), &args)?;
        println!("  {step:<28} {}", seconds(started.elapsed()));
    }
    Ok(())
}

/// A failure, or a request the endpoint refused, is an error.
pub fn check(run: TerraformRun, args: &[&str]) -> Result {
    if run.code == 0 && run.denials.is_empty() {
        Ok(())
    } else {
        Err(format!("terraform {} failed:\n{run}", args.join(" ")))
    }
}

fn seconds(elapsed: Duration) -> String {
    format!("{:.1} s", elapsed.as_secs_f64())
}

/// Total calls, then per service (the endpoint counts `service:Operation`).
fn report(operation: &str, calls: &BTreeMap<String, u64>) {
    let total: u64 = calls.values().sum();
    let mut by_service: BTreeMap<&str, u64> = BTreeMap::new();
    for (key, n) in calls {
        *by_service.entry(key.split(':').next().unwrap_or(key)).or_default() += n;
    }
    let services: Vec<String> = by_service.iter().map(|(s, n)| format!("{s} {n}")).collect();
    println!("  {operation:<7} {total:>4} calls ({})", services.join(", "));
}

/// The kinds the pipeline benchmarks configure.
#[derive(Clone, Copy)]
pub enum Kind {
    Fargate,
    Lambda,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Fargate => "fargate",
            Kind::Lambda => "lambda",
        }
    }

    /// An environment's `target` for the service `each.key`: what the kind
    /// deploys to (docs/resources/service_pipeline.md).
    fn target(self) -> &'static str {
        match self {
            Kind::Fargate => "{ cluster = environment.key, service = each.key }",
            Kind::Lambda => r#"{ function = "${each.key}-${environment.key}" }"#,
        }
    }
}

/// `count` services of `kind`, each released Test → Stage → Production, with
/// the artifact store and a deploy target per environment account they share.
pub fn many_pipelines(kind: Kind, count: usize) -> String {
    let (kind, target) = (kind.name(), kind.target());
    let targets: String = [("test", "222222222222"), ("stage", "333333333333"), ("production", "444444444444")]
        .iter()
        .map(|(env, account)| {
            format!(
                r#"
provider "bokbasen" {{
  alias        = "{env}"
  region       = "eu-north-1"
  endpoint_url = var.endpoint_url
  assume_role {{
    role_arn = "arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
  }}
}}

resource "bokbasen_deploy_target" "{env}" {{
  provider             = bokbasen.{env}
  environment          = "{env}"
  kinds                = ["{kind}"]
  pipeline_account_ids = [data.bokbasen_caller_identity.tooling.account_id]
  provisioner_arns     = [data.bokbasen_caller_identity.tooling.arn]
  artifact_bucket      = bokbasen_artifact_store.artifacts.id
  artifact_key_arn     = bokbasen_artifact_store.artifacts.key_arn
}}
"#
            )
        })
        .collect();
    format!(
        r#"
terraform {{
  required_providers {{
    bokbasen = {{ source = "bokbasen/bokbasen" }}
  }}
}}

variable "endpoint_url" {{}}

provider "bokbasen" {{
  region       = "eu-north-1"
  endpoint_url = var.endpoint_url
}}

data "bokbasen_caller_identity" "tooling" {{}}

resource "bokbasen_artifact_store" "artifacts" {{
  bucket                  = "bokbasen-pipeline-artifacts"
  environment_account_ids = ["222222222222", "333333333333", "444444444444"]
}}
{targets}
locals {{
  deployers = {{
    test       = bokbasen_deploy_target.test.deployer_role_arn
    stage      = bokbasen_deploy_target.stage.deployer_role_arn
    production = bokbasen_deploy_target.production.deployer_role_arn
  }}
}}

resource "bokbasen_service_pipeline" "service" {{
  for_each         = toset([for i in range({count}) : format("service-%02d", i)])
  name             = each.key
  kind             = "{kind}"
  artifact_bucket  = bokbasen_artifact_store.artifacts.id
  artifact_key_arn = bokbasen_artifact_store.artifacts.key_arn

  source {{
    connection_arn = "arn:aws:codestar-connections:eu-north-1:123456789012:connection/0a1b2c3d"
    repository     = "bokbasen/${{each.key}}"
    branch         = "main"
  }}

  dynamic "environment" {{
    for_each = {{ test = "222222222222", stage = "333333333333", production = "444444444444" }}
    content {{
      name            = environment.key
      account_id      = environment.value
      deploy_role_arn = local.deployers[environment.key]
      approval        = environment.key != "test"
      smoke_test      = {{ runscope_trigger_parameter = "/config/${{each.key}}_${{environment.key}}/runscope-trigger" }}
      target          = {target}
    }}
  }}
}}
"#
    )
}
