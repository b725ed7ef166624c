//! Throttling and transport faults: 20 lambda pipelines, each released to
//! one environment account through a shared deploy target (applied first,
//! without faults), are applied, refreshed and destroyed while the endpoint
//! answers 30 % of the requests with a throttling error, a 500, a 503 or a
//! reset connection. Each command must end as it does without faults: the
//! apply makes exactly the objects a fault-free apply makes (per service,
//! tags included) and the same state, the refresh finds nothing to change,
//! and the destroy leaves only the deploy target.
//!
//! The provider's own retries do it (`max_retries` is not set here): what
//! users get by default. Each phase reports its requests, the faults by mode
//! (each fault met costs one retry) and its wall time; the refresh also its
//! fault-free time, measured just before.
//!
//! A second test refuses one environment's deploy role to the provider: only
//! the pipelines released through it fail their refresh.

use std::time::Instant;

use bokbasen_e2e::local_aws::{Storm, StormMode, StormReport};
use bokbasen_e2e::organisation::ARTIFACT_KEY_ARN;
use bokbasen_e2e::{deploy_targets_configuration, terraform_binaries, Inventory, LocalAws, Session, ENVIRONMENTS};
use serde_json::Value;

/// How many pipelines the storm meets.
const SERVICES: usize = 20;

/// The share of requests faulted.
const RATE: f64 = 0.3;

/// The storm's seed (the issue's number): the same requests in the same
/// order meet the same faults, though Terraform's parallelism orders them
/// differently from run to run.
const SEED: u64 = 14;

/// The service whose state is compared with a fault-free apply of it alone.
const REFERENCE: &str = "storm-01";

/// What the expected objects call a service, whatever its name.
const SERVICE: &str = "<service>";

const CONFIGURATION: &str = concat!(
    bokbasen_e2e::terraform_settings!(),
    r#"
variable "services" {
  type = set(string)
}

provider "bokbasen" {
  region       = "eu-north-1"
  endpoint_url = var.endpoint_url
}

resource "bokbasen_service_pipeline" "service" {
  for_each = var.services

  name             = each.key
  kind             = "lambda"
  artifact_bucket  = "bokbasen-pipeline-artifacts"
  artifact_key_arn = "__KEY__"

  source {
    connection_arn = "arn:aws:codestar-connections:eu-north-1:123456789012:connection/0a1b2c3d"
    repository     = "bokbasen/${each.key}"
    branch         = "main"
  }

  environment {
    name            = "test"
    account_id      = "222222222222"
    deploy_role_arn = "arn:aws:iam::222222222222:role/bokbasen/bokbasen-deployer-test"
    target          = { function = "${each.key}-test" }
  }
}
"#
);

fn services() -> Vec<String> {
    (1..=SERVICES).map(|n| format!("storm-{n:02}")).collect()
}

/// `services` as the HCL of `var.services`.
fn services_var(names: &[String]) -> String {
    serde_json::json!(names).to_string()
}

/// The objects of `inventory` that `base` (the deploy target's) does not
/// hold, as strings, with `service` replaced by [`SERVICE`], sorted.
fn objects_of(inventory: &Inventory, base: &Inventory, service: &str) -> Vec<String> {
    let mut objects: Vec<String> = inventory
        .objects()
        .iter()
        .filter(|object| !base.objects().contains(object))
        .filter(|object| object.to_string().contains(service))
        .map(|object| object.to_string().replace(service, SERVICE))
        .collect();
    objects.sort();
    objects
}

/// The state attributes of the pipeline `service`.
fn pipeline_state(session: &Session, service: &str) -> Value {
    let address = format!("bokbasen_service_pipeline.service[\"{service}\"]");
    session
        .state()
        .into_iter()
        .find(|instance| instance.address == address)
        .unwrap_or_else(|| panic!("{address} is not in state: {:?}", session.state_addresses()))
        .attributes
}

/// One line of the report: requests, faults by mode, wall time.
fn report_line(phase: &str, report: &StormReport, seconds: f64, extra: &str) -> String {
    let faults: Vec<String> =
        StormMode::ALL.iter().map(|&mode| format!("{} {}", mode.as_wire(), report.injected.get(mode))).collect();
    format!(
        "| {phase} | {} | {} ({}) | {seconds:.1} s | {extra} |",
        report.requests,
        report.injected.total(),
        faults.join(", ")
    )
}

#[test]
fn pipelines_converge_through_a_storm_of_throttling_and_transport_faults() {
    let suite = Instant::now();
    let tf = terraform_binaries().remove(0);
    let aws = LocalAws::start();

    // The shared deploy target, without faults.
    let mut targets =
        Session::new(&aws, &tf, &[("main.tf", &deploy_targets_configuration(&["lambda"], &ENVIRONMENTS[..1]))]);
    targets.set_var("endpoint_url", &aws.endpoint());
    targets.apply();
    let base = targets.inventory();

    let configuration = CONFIGURATION.replace("__KEY__", ARTIFACT_KEY_ARN);
    let mut session = Session::new(&aws, &tf, &[("main.tf", &configuration)]);

    // The reference: one service applied and destroyed without faults, what
    // each of the twenty must become.
    session.set_var("services", &services_var(&[REFERENCE.to_owned()]));
    aws.reset_calls();
    let started = Instant::now();
    session.apply();
    let reference_seconds = started.elapsed().as_secs_f64();
    let reference_calls = aws.call_totals().total;
    let reference = session.inventory();
    let expected = objects_of(&reference, &base, REFERENCE);
    assert!(!expected.is_empty(), "the reference service made nothing:\n{reference}");
    let reference_state = pipeline_state(&session, REFERENCE);
    aws.reset_calls();
    session.destroy();
    let reference_destroy_calls = aws.call_totals().total;
    base.assert_unchanged(&session.inventory(), "the reference's destroy");

    let names = services();
    session.set_var("services", &services_var(&names));
    let mut lines = vec![
        "| phase | requests | faults (by mode) | wall time | fault-free |".to_owned(),
        "|---|---|---|---|---|".to_owned(),
    ];
    let mut failures = Vec::new();

    // Apply.
    aws.start_storm(&Storm::new(RATE, SEED).modes(&StormMode::ALL));
    let started = Instant::now();
    let applied = session.run(&["apply", "-auto-approve", "-no-color", "-input=false"]);
    let seconds = started.elapsed().as_secs_f64();
    let report = aws.stop_storm();
    lines.push(report_line(
        "apply",
        &report,
        seconds,
        &format!(
            "1 service: {reference_calls} requests, {reference_seconds:.1} s (×{SERVICES}: {} requests)",
            reference_calls * SERVICES as u64
        ),
    ));
    eprintln!("{}", lines.last().unwrap());
    if applied.code != 0 {
        eprintln!("{}", lines.join("\n"));
        panic!("the apply did not converge through the storm ({report:?}):\n{applied}");
    }
    let found = session.inventory();
    for name in &names {
        let got = objects_of(&found, &base, name);
        if got != expected {
            failures.push(format!("{name}: objects {got:#?}, expected as without faults {expected:#?}"));
        }
    }
    let in_state = session.state_addresses().len();
    if in_state != SERVICES {
        failures.push(format!("{in_state} pipelines in state, not {SERVICES}"));
    }
    if session.state().iter().any(|instance| instance.tainted) {
        failures.push("a pipeline is tainted after the storm's apply".to_owned());
    }
    let state = pipeline_state(&session, REFERENCE);
    if state != reference_state {
        failures.push(format!(
            "{REFERENCE}'s state differs from a fault-free apply's:\nstorm: {state:#}\nfault-free: {reference_state:#}"
        ));
    }

    // Refresh: the same plan without faults, then in the storm.
    aws.reset_calls();
    let started = Instant::now();
    session.plan_is_empty();
    let calm = (started.elapsed().as_secs_f64(), aws.call_totals().total);
    // A refresh asks nothing it knows already: the account once per identity,
    // and no ECR repository of a kind that has no image.
    let refreshed = aws.calls();
    let asked = |operation: &str| refreshed.get(operation).copied().unwrap_or(0);
    if asked("ecr:DescribeRepositories") != 0 {
        failures.push(format!("a refresh of lambda pipelines read ECR: {refreshed:?}"));
    }
    if asked("sts:GetCallerIdentity") >= SERVICES as u64 {
        failures.push(format!("the account is asked per pipeline, not per process and identity: {refreshed:?}"));
    }
    // Each account's roles are listed once; the projects of concurrent reads
    // are asked for together (per pipeline, one call per account otherwise).
    if asked("iam:ListRoles") > 2 {
        failures.push(format!("roles are listed more than once per account: {refreshed:?}"));
    }
    if asked("codebuild:BatchGetProjects") >= SERVICES as u64 {
        failures.push(format!("projects are read per pipeline, not together: {refreshed:?}"));
    }
    aws.start_storm(&Storm::new(RATE, SEED + 1).modes(&StormMode::ALL));
    let started = Instant::now();
    let plan = session.run(&["plan", "-detailed-exitcode", "-no-color", "-input=false"]);
    let seconds = started.elapsed().as_secs_f64();
    let report = aws.stop_storm();
    lines.push(report_line("refresh (plan)", &report, seconds, &format!("{} requests, {:.1} s", calm.1, calm.0)));
    eprintln!("{}", lines.last().unwrap());
    if plan.code != 0 {
        failures.push(format!("the plan in the storm is not empty (exit {}):\n{plan}", plan.code));
    }

    // Destroy.
    aws.start_storm(&Storm::new(RATE, SEED + 2).modes(&StormMode::ALL));
    let started = Instant::now();
    let destroyed = session.run(&["destroy", "-auto-approve", "-no-color", "-input=false"]);
    let seconds = started.elapsed().as_secs_f64();
    let report = aws.stop_storm();
    lines.push(report_line(
        "destroy",
        &report,
        seconds,
        &format!(
            "1 service: {reference_destroy_calls} requests (×{SERVICES}: {})",
            reference_destroy_calls * SERVICES as u64
        ),
    ));
    eprintln!("{}", lines.last().unwrap());
    if destroyed.code != 0 {
        failures.push(format!("the destroy did not converge through the storm:\n{destroyed}"));
    }
    let left = base.diff(&session.inventory());
    if !left.is_empty() {
        failures.push(format!("the destroy left (beside the deploy target):\n{left}"));
    }

    eprintln!("{}", lines.join("\n"));
    eprintln!("fault storm suite: {:.1} s", suite.elapsed().as_secs_f64());
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n\n"));
}

/// Pipelines released to `test` only, and to `test` then `stage`, through
/// the deploy targets of [`deploy_targets_configuration`].
const TWO_ROUTES: &str = concat!(
    bokbasen_e2e::terraform_settings!(),
    bokbasen_e2e::local_provider!(),
    r#"
locals {
  deploy_roles = {
    test  = { account_id = "222222222222", arn = "arn:aws:iam::222222222222:role/bokbasen/bokbasen-deployer-test" }
    stage = { account_id = "333333333333", arn = "arn:aws:iam::333333333333:role/bokbasen/bokbasen-deployer-stage" }
  }
  services = {
    "ebook-01" = ["test"]
    "ebook-02" = ["test"]
    "audio-01" = ["test", "stage"]
    "audio-02" = ["test", "stage"]
  }
}

resource "bokbasen_service_pipeline" "service" {
  for_each = local.services

  name             = each.key
  kind             = "lambda"
  artifact_bucket  = "bokbasen-pipeline-artifacts"
  artifact_key_arn = "__KEY__"

  source {
    connection_arn = "arn:aws:codestar-connections:eu-north-1:123456789012:connection/0a1b2c3d"
    repository     = "bokbasen/${each.key}"
    branch         = "main"
  }

  dynamic "environment" {
    for_each = each.value
    content {
      name            = environment.value
      account_id      = local.deploy_roles[environment.value].account_id
      deploy_role_arn = local.deploy_roles[environment.value].arn
      target          = { function = "${each.key}-${environment.value}" }
    }
  }
}
"#
);

/// The stage deploy role's trust without (`"drop"`) or with again
/// (`"restore"`) its statement for provisioners: the provider may then not
/// assume it to read the stage projects.
const STAGE_PROVISIONERS: &str = r#"
iam = client("iam", assume("333333333333"))
doc = iam.get_role(RoleName="bokbasen-deployer-stage")["Role"]["AssumeRolePolicyDocument"]
if MODE == "drop":
    kept = [s for s in doc["Statement"] if s.get("Sid") != "Provisioners"]
    dropped = [s for s in doc["Statement"] if s.get("Sid") == "Provisioners"]
    doc["Statement"] = kept
else:
    doc["Statement"] = doc["Statement"] + SAVED
    dropped = []
iam.update_assume_role_policy(RoleName="bokbasen-deployer-stage", PolicyDocument=json.dumps(doc))
print(json.dumps(dropped))
"#;

/// A deploy role the provider may no longer assume fails the refresh of the
/// pipelines released through it, naming the role, and of no other: those
/// released through the other environment's role refresh cleanly in the
/// same plan, and once the trust is back the whole plan is empty again.
#[test]
fn a_refused_deploy_role_fails_only_the_pipelines_released_through_it() {
    let tf = terraform_binaries().remove(0);
    let aws = LocalAws::start();
    let mut targets =
        Session::new(&aws, &tf, &[("main.tf", &deploy_targets_configuration(&["lambda"], &ENVIRONMENTS[..2]))]);
    targets.set_var("endpoint_url", &aws.endpoint());
    targets.apply();
    let mut session = Session::new(&aws, &tf, &[("main.tf", &TWO_ROUTES.replace("__KEY__", ARTIFACT_KEY_ARN))]);
    session.set_var("endpoint_url", &aws.endpoint());
    session.apply();

    let stage_role = "arn:aws:iam::333333333333:role/bokbasen/bokbasen-deployer-stage";
    let saved = aws.boto3(&format!("MODE = \"drop\"\nSAVED = []\n{STAGE_PROVISIONERS}"));
    assert_eq!(saved.as_array().map(Vec::len), Some(1), "the stage role trusts provisioners: {saved}");
    let endpoint = aws.endpoint();
    let plan = session.workdir().run_with_env(
        &["plan", "-no-color", "-input=false", "-detailed-exitcode"],
        &[("TF_VAR_endpoint_url", endpoint.as_str())],
    );
    assert_eq!(plan.code, 1, "the refresh fails:\n{plan}");
    let failed: std::collections::BTreeSet<&str> = plan
        .stderr
        .lines()
        .filter_map(|line| line.trim().strip_prefix("with bokbasen_service_pipeline.service[\""))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert_eq!(failed, ["audio-01", "audio-02"].into(), "only the pipelines released to stage fail:\n{plan}");
    // Terraform wraps diagnostics at 78 columns.
    let errors = plan.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(errors.contains(&format!("assuming the role {stage_role}")), "the role is named:\n{plan}");
    let refused: std::collections::BTreeSet<(String, String)> =
        plan.denials.iter().map(|d| (d.action.clone(), d.resource.clone())).collect();
    assert_eq!(
        refused,
        [("sts:AssumeRole".to_owned(), stage_role.to_owned())].into(),
        "nothing but the stage role was refused:\n{plan}"
    );

    aws.boto3(&format!("MODE = \"restore\"\nSAVED = {saved}\n{STAGE_PROVISIONERS}"));
    session.plan_is_empty();
}
