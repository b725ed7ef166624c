//! The provider and `bokbasen_caller_identity` end to end, with each
//! Terraform the suite knows (the pinned 1.0.3, and a newer one on PATH):
//! init, plan, apply, a plan with no changes, destroy; cross-account via
//! `assume_role`; bad provider arguments; the schema as Terraform shows it;
//! and secrets kept out of trace logs.
//!
//! The endpoint enforces IAM: Terraform signs as the `bokbasen-terraform`
//! user holding the documented caller policy, so the roles assumed exist and
//! trust it, as in AWS: `OrganizationAccountAccessRole` (which AWS
//! Organizations makes, and the policy's `AdministerEnvironments` lets the
//! caller assume) and a deployer role requiring an external ID.

use bokbasen_e2e::local_aws::{ACCOUNT_ACCESS_ROLE, CALLER_USER, TOOLING_ACCOUNT};
use bokbasen_e2e::{terraform_binaries, LocalAws, WorkDir};

const TEST_ACCOUNT: &str = "222222222222";

/// The Test account's administrator role, as AWS Organizations makes it.
fn account_access_role() -> String {
    format!("arn:aws:iam::{TEST_ACCOUNT}:role/{ACCOUNT_ACCESS_ROLE}")
}

/// The caller's own ARN: what a run without `assume_role` acts as.
fn caller_arn() -> String {
    format!("arn:aws:iam::{TOOLING_ACCOUNT}:user/{CALLER_USER}")
}

/// `terraform plan -detailed-exitcode`: 0 means no changes, 2 changes.
const NO_CHANGES: i32 = 0;
const CHANGES: i32 = 2;

fn var(name: &str, value: &str) -> String {
    format!("{name}={value}")
}

/// A configuration with the given provider block body and the data source.
fn config_with_provider(body: &str) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    bokbasen = {{ source = "bokbasen/bokbasen" }}
  }}
}}

provider "bokbasen" {{
{body}
}}

data "bokbasen_caller_identity" "current" {{}}

output "account_id" {{ value = data.bokbasen_caller_identity.current.account_id }}
"#
    )
}

#[test]
fn init_plan_apply_replan_destroy() {
    for tf in terraform_binaries() {
        let aws = LocalAws::start();
        let work = aws.workdir_from_example(&tf, "caller-identity");
        let endpoint = var("endpoint_url", &aws.endpoint());
        work.init();

        let plan = work.run(&["plan", "-detailed-exitcode", "-no-color", "-var", &endpoint]);
        assert_eq!(plan.code, CHANGES, "Terraform {}: first plan adds the outputs\n{plan}", tf.version);

        work.run(&["apply", "-auto-approve", "-no-color", "-var", &endpoint]).success();
        let outputs = work.outputs();
        assert_eq!(outputs["account_id"], TOOLING_ACCOUNT, "Terraform {}", tf.version);
        assert_eq!(outputs["arn"], caller_arn().as_str(), "Terraform {}: the caller itself", tf.version);
        assert!(!outputs["user_id"].as_str().unwrap().is_empty());

        let replan = work.run(&["plan", "-detailed-exitcode", "-no-color", "-var", &endpoint]);
        assert_eq!(replan.code, NO_CHANGES, "Terraform {}: nothing changed\n{replan}", tf.version);

        work.run(&["destroy", "-auto-approve", "-no-color", "-var", &endpoint]).success();
        let state = work.run(&["state", "list", "-no-color"]);
        assert!(state.stdout.trim().is_empty(), "Terraform {}: state after destroy: {state}", tf.version);
    }
}

#[test]
fn assume_role_reports_the_other_account() {
    for tf in terraform_binaries() {
        let aws = LocalAws::start();
        let work = aws.workdir_from_example(&tf, "caller-identity");
        work.init();
        let role = account_access_role();
        let args = ["-var", &var("endpoint_url", &aws.endpoint()), "-var", &var("role_arn", &role)];
        work.run(&[&["apply", "-auto-approve", "-no-color"][..], &args].concat()).success();
        let outputs = work.outputs();
        assert_eq!(outputs["account_id"], TEST_ACCOUNT, "Terraform {}", tf.version);
        assert_eq!(
            outputs["arn"],
            format!("arn:aws:sts::{TEST_ACCOUNT}:assumed-role/{ACCOUNT_ACCESS_ROLE}/bokbasen-terraform"),
            "Terraform {}",
            tf.version
        );
        // The role exists, so its ID (the first half of user_id) is stable
        // across sessions, as in AWS: nothing changes.
        let replan = work.run(&[&["plan", "-detailed-exitcode", "-no-color"][..], &args].concat());
        assert_eq!(replan.code, NO_CHANGES, "Terraform {}: nothing changed\n{replan}", tf.version);
        work.run(&[&["destroy", "-auto-approve", "-no-color"][..], &args].concat()).success();
    }
}

#[test]
fn bad_provider_arguments_fail_plan_naming_the_attribute() {
    let cases = [
        // (provider block body, summary, the source line Terraform points at)
        (r#"region = "Europe""#, "Invalid region", r#"region = "Europe""#),
        ("region = \"eu-north-1\"\n  max_retries = 99", "Invalid max_retries", "max_retries = 99"),
        ("region = \"eu-north-1\"\n  endpoint_url = \"localhost:5000\"", "Invalid endpoint URL", "endpoint_url = \"localhost:5000\""),
        (
            "region = \"eu-north-1\"\n  assume_role {\n    role_arn = \"arn:aws:iam::222222222222:user/x\"\n  }",
            "Invalid role ARN",
            "role_arn = \"arn:aws:iam::222222222222:user/x\"",
        ),
        (
            "region = \"eu-north-1\"\n  assume_role {\n    role_arn = \"arn:aws:iam::222222222222:role/x\"\n    duration = \"3d\"\n  }",
            "Invalid duration",
            "duration = \"3d\"",
        ),
        (
            "region = \"eu-north-1\"\n  endpoints {\n    sts = \"ftp://sts\"\n  }",
            "Invalid endpoint URL",
            "sts = \"ftp://sts\"",
        ),
    ];
    for tf in terraform_binaries() {
        for (body, summary, line) in cases {
            // Refused before any AWS call: no endpoint, no identity.
            let work = WorkDir::new(&tf, &[("main.tf", &config_with_provider(body))]);
            work.init();
            let plan = work.run(&["plan", "-no-color"]);
            assert_eq!(plan.code, 1, "Terraform {}: {summary}\n{plan}", tf.version);
            let output = plan.output();
            assert!(output.contains(summary), "Terraform {}: expected {summary:?}\n{plan}", tf.version);
            // Terraform quotes the attribute's source line when the diagnostic has its path.
            assert!(output.contains(line), "Terraform {}: expected the line {line:?}\n{plan}", tf.version);
        }
    }
}

#[test]
fn providers_schema_shows_config_and_data_source_with_descriptions() {
    for tf in terraform_binaries() {
        // The schema needs no AWS call.
        let work = WorkDir::new(&tf, &[("main.tf", &config_with_provider(r#"region = "eu-north-1""#))]);
        work.init();
        let run = work.run(&["providers", "schema", "-json"]).success();
        let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("schema JSON");
        let provider = &json["provider_schemas"]["registry.terraform.io/bokbasen/bokbasen"];
        let config = &provider["provider"]["block"];
        assert!(config["description"].as_str().is_some_and(|d| !d.is_empty()), "Terraform {}", tf.version);
        for attr in ["region", "profile", "endpoint_url", "max_retries"] {
            let description = config["attributes"][attr]["description"].as_str().unwrap_or_default();
            assert!(!description.is_empty(), "Terraform {}: {attr} has no description", tf.version);
        }
        for block in ["assume_role", "endpoints", "default_tags"] {
            assert!(config["block_types"][block].is_object(), "Terraform {}: no {block} block", tf.version);
        }
        assert_eq!(config["block_types"]["assume_role"]["block"]["attributes"]["external_id"]["sensitive"], true);
        let data_source = &provider["data_source_schemas"]["bokbasen_caller_identity"]["block"];
        for attr in ["account_id", "arn", "user_id"] {
            assert_eq!(data_source["attributes"][attr]["computed"], true, "Terraform {}: {attr}", tf.version);
            assert!(data_source["attributes"][attr]["description"].as_str().is_some_and(|d| !d.is_empty()));
        }
    }
}

#[test]
fn trace_logs_show_the_provider_but_never_secrets() {
    const SECRET: &str = "ext-id-must-not-leak-7f3a";
    for tf in terraform_binaries() {
        let aws = LocalAws::start();
        // A deployer that only the caller may assume, and only with the
        // external ID: the plan succeeding proves the provider sent it.
        let deployer = deployer_requiring_external_id(&aws, SECRET);
        let body = format!(
            "region = \"eu-north-1\"\n  endpoint_url = \"{}\"\n  assume_role {{\n    role_arn = \"{deployer}\"\n    external_id = \"{SECRET}\"\n  }}",
            aws.endpoint()
        );
        let work = aws.workdir(&tf, &[("main.tf", &config_with_provider(&body))]).env("TF_LOG", "trace");
        work.init();
        let plan = work.run(&["plan", "-no-color"]).success();
        let output = plan.output();
        assert!(output.contains("reading data source"), "Terraform {}: provider debug lines are shown", tf.version);
        assert!(output.contains("(sensitive)"), "Terraform {}: the redacted configuration is logged", tf.version);
        assert!(!output.contains(SECRET), "Terraform {}: the external ID leaked into the log", tf.version);
    }
}

#[test]
fn profile_supplies_region_and_credentials_and_per_service_endpoints_win() {
    for tf in terraform_binaries() {
        let aws = LocalAws::start();
        // No region and no keys but the profile's; the global endpoint is
        // dead, so only the STS override can answer.
        let body = |profile: &str| {
            format!(
                "profile = \"{profile}\"\n  endpoint_url = \"http://127.0.0.1:9\"\n  max_retries = 0\n  endpoints {{\n    sts = \"{}\"\n  }}",
                aws.endpoint()
            )
        };
        // The profile holds the caller's keys: the environment holds none.
        let keys = aws.caller_keys();
        let setup = |profile: &str| {
            let work = aws
                .workdir(&tf, &[("main.tf", &config_with_provider(&body(profile)))])
                .without_env("AWS_ACCESS_KEY_ID")
                .without_env("AWS_SECRET_ACCESS_KEY");
            let aws_dir = work.home().join(".aws");
            std::fs::create_dir_all(&aws_dir).unwrap();
            std::fs::write(aws_dir.join("config"), "[profile books]\nregion = eu-west-1\n").unwrap();
            std::fs::write(
                aws_dir.join("credentials"),
                format!("[books]\naws_access_key_id = {}\naws_secret_access_key = {}\n", keys.id, keys.secret),
            )
            .unwrap();
            work.init();
            work
        };

        let work = setup("books");
        work.run(&["apply", "-auto-approve", "-no-color"]).success();
        let state = work.run(&["state", "show", "-no-color", "data.bokbasen_caller_identity.current"]).success();
        assert!(
            state.stdout.contains(&caller_arn()),
            "Terraform {}: the profile's keys are the caller's\n{state}",
            tf.version
        );

        // A profile that does not exist supplies no region: the error says so.
        let plan = setup("nonexistent").run(&["plan", "-no-color"]);
        assert_eq!(plan.code, 1, "Terraform {}: {plan}", tf.version);
        assert!(plan.output().contains("No AWS region is configured"), "Terraform {}: {plan}", tf.version);
    }
}

#[test]
fn an_unreachable_endpoint_fails_with_a_clear_error() {
    for tf in terraform_binaries() {
        let body = "region = \"eu-north-1\"\n  endpoint_url = \"http://127.0.0.1:9\"\n  max_retries = 0";
        // Nothing listens there: no identity is needed.
        let work = WorkDir::new(&tf, &[("main.tf", &config_with_provider(body))]);
        work.init();
        let plan = work.run(&["plan", "-no-color"]);
        assert_eq!(plan.code, 1, "{plan}");
        let output = plan.output();
        assert!(output.contains("Cannot read the caller identity"), "Terraform {}: {plan}", tf.version);
        assert!(output.contains("GetCallerIdentity failed"), "Terraform {}: {plan}", tf.version);
    }
}

/// `/bokbasen/bokbasen-deployer-test` in the Test account, trusted as the
/// deploy targets trust provisioners: the tooling account's root, with
/// `aws:PrincipalArn` the caller and `sts:ExternalId` the given one. Made as
/// the administrator; the caller's documented policy may assume it
/// (`AssumeDeployers`).
fn deployer_requiring_external_id(aws: &LocalAws, external_id: &str) -> String {
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{TOOLING_ACCOUNT}:root")},
            "Action": "sts:AssumeRole",
            "Condition": {
                "ArnEquals": {"aws:PrincipalArn": caller_arn()},
                "StringEquals": {"sts:ExternalId": external_id},
            },
        }],
    });
    let made = aws.boto3(&format!(
        r#"
iam = client("iam", assume("{TEST_ACCOUNT}"))
role = iam.create_role(RoleName="bokbasen-deployer-test", Path="/bokbasen/", AssumeRolePolicyDocument={trust})
print(json.dumps(role["Role"]["Arn"]))
"#,
        trust = serde_json::Value::String(trust.to_string()),
    ));
    made.as_str().expect("role ARN").to_owned()
}
