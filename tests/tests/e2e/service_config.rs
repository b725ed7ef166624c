//! `bokbasen_service_config` and `bokbasen_service_secret` end to end: the
//! registry examples applied against the local AWS endpoint; an update of
//! one key in place; drift made out of band shown on the key it changed;
//! import; destroy leaving nothing; bad input refused at plan with its path
//! and nothing written; and a planted secret that appears in no state, plan,
//! `show -json` or trace log while SSM holds it encrypted; a tier that
//! cannot go back from Advanced to Standard refused at plan.
//!
//! The endpoint enforces IAM: Terraform signs as the caller holding the
//! documented policy, which allows SSM under `/config/*` in the tooling
//! account; set-up and checks run as the administrator (`aws.boto3`).

use bokbasen_e2e::{terraform_binaries, workspace_root, LocalAws, TerraformBinary, TerraformRun, WorkDir};
use serde_json::{json, Value};

const PROVIDER: &str = r#"
terraform {
  required_providers {
    bokbasen = {
      source = "bokbasen/bokbasen"
    }
  }
}

variable "endpoint_url" {
  type = string
}

provider "bokbasen" {
  region       = "eu-north-1"
  endpoint_url = var.endpoint_url

  default_tags {
    tags = { managed-by = "terraform" }
  }
}
"#;

fn example(resource: &str) -> String {
    let path = workspace_root().join("examples/resources").join(resource).join("resource.tf");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Runs Terraform commands with the endpoint variable.
struct Session<'a> {
    work: &'a WorkDir,
    endpoint: String,
}

impl Session<'_> {
    fn run(&self, args: &[&str]) -> TerraformRun {
        // Options go before positional arguments (`import ADDR ID`).
        let var = format!("endpoint_url={}", self.endpoint);
        let mut all: Vec<&str> = vec![args[0]];
        if !matches!(args[0], "show" | "state" | "output") {
            all.extend(["-no-color", "-var", &var]);
        }
        all.extend(&args[1..]);
        self.work.run(&all)
    }

    fn write(&self, name: &str, contents: &str) {
        std::fs::write(self.work.path().join(name), contents).expect("write configuration");
    }
}

/// Every parameter under `/config` in the account: name → {type, value (decrypted), version, tags}.
fn parameters(aws: &LocalAws) -> Value {
    aws.boto3(
        r#"
ssm = client("ssm")
found = {}
for page in ssm.get_paginator("get_parameters_by_path").paginate(Path="/config", Recursive=True, WithDecryption=True):
    for p in page["Parameters"]:
        tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=p["Name"])["TagList"]
        found[p["Name"]] = {"type": p["Type"], "value": p["Value"], "version": p["Version"],
                            "tags": {t["Key"]: t["Value"] for t in tags}}
print(json.dumps(found))
"#,
    )
}

fn put_parameter(aws: &LocalAws, name: &str, value: &str, secure: bool) {
    let kind = if secure { "SecureString" } else { "String" };
    let key = if secure { ", KeyId=\"alias/aws/ssm\"" } else { "" };
    aws.boto3(&format!(
        "client(\"ssm\").put_parameter(Name={name:?}, Value={value:?}, Type={kind:?}, Overwrite=True{key})\nprint('{{}}')"
    ));
}

const PREFIX: &str = "/config/ebook-api_test/";

fn config_lifecycle(tf: &TerraformBinary) {
    let aws = LocalAws::start();
    let work = aws.workdir(tf, &[("provider.tf", PROVIDER), ("main.tf", &example("bokbasen_service_config"))]);
    let tf = Session { work: &work, endpoint: aws.endpoint() };
    let context = |what: &str| format!("Terraform {}: {what}", work.terraform().version);
    work.init();

    // Create: every key a String parameter in Spring's layout, tagged.
    let plan = tf.run(&["plan"]);
    assert!(
        plan.stdout.contains("spring.config.import=aws-parameterstore:/config/ebook-api_test/"),
        "{}\n{plan}",
        context("known at plan")
    );
    tf.run(&["apply", "-auto-approve"]).success();
    let stored = parameters(&aws);
    let names: Vec<&String> = stored.as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        ["catalogue.page-size", "feature/new-checkout", "spring.datasource.url", "spring.datasource.username"]
            .map(|k| format!("{PREFIX}{k}"))
            .iter()
            .collect::<Vec<_>>(),
        "{}",
        context("created")
    );
    let page_size = &stored[format!("{PREFIX}catalogue.page-size")];
    assert_eq!(page_size["type"], "String");
    assert_eq!(page_size["value"], "50");
    assert_eq!(
        page_size["tags"],
        json!({"managed-by": "terraform", "team": "ebooks", "bokbasen:owner": "bokbasen_service_config/ebook-api/test"}),
        "{}",
        context("tagged, with the owner marker")
    );
    let outputs = work.outputs();
    assert_eq!(outputs["spring_config_import"], "spring.config.import=aws-parameterstore:/config/ebook-api_test/");
    let replan = tf.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(replan.code, 0, "{}\n{replan}", context("second plan is empty"));

    // Update one key: planned on that key, in place; the others are not rewritten.
    tf.write("main.tf", &example("bokbasen_service_config").replace("\"50\"", "\"100\""));
    let plan = tf.run(&["plan"]);
    assert!(
        plan.stdout.contains("\"catalogue.page-size\"") && plan.stdout.contains("\"50\" -> \"100\""),
        "{}\n{plan}",
        context("update plan")
    );
    assert!(plan.stdout.contains("1 to change, 0 to destroy"), "{}\n{plan}", context("in place"));
    tf.run(&["apply", "-auto-approve"]).success();
    let stored = parameters(&aws);
    assert_eq!(stored[format!("{PREFIX}catalogue.page-size")]["value"], "100");
    assert_eq!(stored[format!("{PREFIX}catalogue.page-size")]["version"], 2);
    assert_eq!(
        stored[format!("{PREFIX}spring.datasource.url")]["version"],
        1,
        "{}",
        context("unchanged keys untouched")
    );

    // Drift out of band: a changed key, a key added by hand, and a secret (left alone).
    put_parameter(&aws, &format!("{PREFIX}spring.datasource.username"), "intruder", false);
    put_parameter(&aws, &format!("{PREFIX}added.by.hand"), "surprise", false);
    put_parameter(&aws, &format!("{PREFIX}spring.datasource.password"), "kept-secret-42", true);
    let drift = tf.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(drift.code, 2, "{}\n{drift}", context("drift plan"));
    assert!(drift.stdout.contains("\"intruder\" -> \"ebook_api\""), "{}\n{drift}", context("changed key"));
    assert!(drift.stdout.contains("\"added.by.hand\""), "{}\n{drift}", context("added key"));
    assert!(
        !drift.stdout.contains("password") && !drift.stdout.contains("kept-secret-42"),
        "{}\n{drift}",
        context("secrets are not configuration")
    );
    // The added key is not this resource's: the apply that would delete it is refused, nothing changed.
    let refused = tf.run(&["apply", "-auto-approve"]);
    assert_ne!(refused.code, 0, "{}\n{refused}", context("added key not deleted"));
    assert!(refused.stderr.contains(&format!("{PREFIX}added.by.hand")), "{}\n{refused}", context("named"));
    let stored = parameters(&aws);
    assert_eq!(stored[format!("{PREFIX}spring.datasource.username")]["value"], "intruder");
    assert_eq!(stored[format!("{PREFIX}added.by.hand")]["value"], "surprise", "{}", context("added key kept"));
    // Removed by hand, the apply repairs the changed key.
    aws.boto3(&format!("client('ssm').delete_parameter(Name='{PREFIX}added.by.hand')\nprint('{{}}')"));
    tf.run(&["apply", "-auto-approve"]).success();
    let stored = parameters(&aws);
    assert_eq!(stored[format!("{PREFIX}spring.datasource.username")]["value"], "ebook_api");
    assert_eq!(tf.run(&["plan", "-detailed-exitcode"]).code, 0, "{}", context("repaired"));

    // The data source reads it back for other modules: values, and secrets by key only.
    let data_source = workspace_root().join("examples/data-sources/bokbasen_service_config/data-source.tf");
    tf.write("data.tf", &std::fs::read_to_string(data_source).unwrap());
    tf.run(&["apply", "-auto-approve"]).success();
    let outputs = work.outputs();
    assert_eq!(
        outputs["database_url"],
        "jdbc:postgresql://ebooks.test.internal:5432/ebooks",
        "{}",
        context("data source")
    );
    assert_eq!(outputs["secret_keys"], json!(["spring.datasource.password"]), "{}", context("data source secrets"));
    std::fs::remove_file(work.path().join("data.tf")).unwrap();

    // Import by service/environment, then nothing to change.
    tf.run(&["state", "rm", "bokbasen_service_config.ebook_api_test"]).success();
    tf.run(&["import", "bokbasen_service_config.ebook_api_test", "ebook-api/test"]).success();
    assert_no_resource_changes(&tf.run(&["plan"]), &context("plan after import"));

    // Destroy: no configuration left; the secret under the path is not ours and stays.
    tf.run(&["destroy", "-auto-approve"]).success();
    let left: Vec<String> = parameters(&aws).as_object().unwrap().keys().cloned().collect();
    assert_eq!(left, [format!("{PREFIX}spring.datasource.password")], "{}", context("after destroy"));
}

#[test]
fn config_lifecycle_on_every_terraform() {
    for tf in terraform_binaries() {
        config_lifecycle(&tf);
    }
}

/// Bad keys, names, paths, sizes and tags: `terraform validate` and `plan`
/// fail, each diagnostic pointing at the attribute (its source line), and
/// nothing reaches SSM.
#[test]
fn invalid_configuration_is_refused_at_plan_with_its_path() {
    let tf_binary = terraform_binaries().remove(0);
    let aws = LocalAws::start();
    let deep_key = vec!["level"; 14].join("/");
    let config = format!(
        r#"
resource "bokbasen_service_config" "bad" {{
  service     = "ebook-api"
  environment = "test"
  values = {{
    "ok.key"     = "fine"
    "with space" = "x"
    "too.big"    = "{big}"
    "{deep_key}" = "deep"
  }}
  tags = {{
    "aws:owner" = "me"
  }}
}}

resource "bokbasen_service_config" "reserved" {{
  service     = "Ebook_API"
  environment = "test"
  prefix      = "/ssm-config"
  values      = {{ a = "b" }}
}}

resource "bokbasen_service_secret" "bad" {{
  service     = "ebook-api"
  environment = "test"
  key         = "pass word"
  tier        = "Premium"
}}
"#,
        big = "x".repeat(4097)
    );
    let work = aws.workdir(&tf_binary, &[("provider.tf", PROVIDER), ("main.tf", &config)]);
    let tf = Session { work: &work, endpoint: aws.endpoint() };
    work.init();
    let plan = tf.run(&["plan"]);
    assert_ne!(plan.code, 0, "{plan}");
    let said = plan.stderr.clone();
    for expected in [
        "Invalid configuration key",
        "\"with space\" = \"x\"",
        "Configuration value refused by SSM",
        "\"too.big\"",
        "the Standard tier holds at most 4096",
        "16 levels deep; SSM allows at most 15",
        "Invalid tags",
        "\"aws:owner\" = \"me\"",
        "Invalid service",
        "service     = \"Ebook_API\"",
        "Invalid prefix",
        "reserves",
        "Invalid secret key",
        "Invalid tier",
    ] {
        assert!(said.contains(expected), "missing {expected:?}\n{plan}");
    }
    // A refused value is described, never quoted (Terraform shows the source line itself).
    assert!(!said.contains(&format!("\"{}\" is", "x".repeat(100))), "{plan}");
    assert_eq!(parameters(&aws), json!({}), "nothing was written");
}

/// `state rm` also drops outputs, which the plan then re-adds: only
/// resource changes count.
fn assert_no_resource_changes(plan: &TerraformRun, what: &str) {
    assert_eq!(plan.code, 0, "{what}\n{plan}");
    assert!(
        !plan.stdout.contains(" will be ") && !plan.stdout.contains(" must be "),
        "{what}: no resource changes\n{plan}"
    );
}

/// How the trace log, plan output, state and `show -json` are searched.
fn assert_nowhere(secret: &str, work: &WorkDir, log: &std::path::Path, runs: &[&TerraformRun], what: &str) {
    let state = std::fs::read_to_string(work.path().join("terraform.tfstate")).expect("state");
    assert!(!state.contains(secret), "{what}: secret in terraform.tfstate");
    let shown = work.run(&["show", "-json", "-no-color"]).success();
    assert!(!shown.stdout.contains(secret), "{what}: secret in show -json");
    for run in runs {
        assert!(!run.output().contains(secret), "{what}: secret in the output of terraform {}", run.args.join(" "));
    }
    let log = std::fs::read_to_string(log).expect("trace log");
    assert!(log.contains("bokbasen"), "{what}: the trace log holds the provider's lines");
    assert!(!log.contains(secret), "{what}: secret in the TF_LOG=trace log");
}

fn secret_lifecycle(tf_binary: &TerraformBinary) {
    let aws = LocalAws::start();
    let log = tempfile::NamedTempFile::new().expect("log file");
    let work = aws
        .workdir(tf_binary, &[("provider.tf", PROVIDER), ("main.tf", &example("bokbasen_service_secret"))])
        .env("TF_LOG", "trace")
        .env("TF_LOG_PATH", &log.path().to_string_lossy());
    let tf = Session { work: &work, endpoint: aws.endpoint() };
    let context = |what: &str| format!("Terraform {}: {what}", tf_binary.version);
    let name = format!("{PREFIX}spring.datasource.password");
    work.init();

    // Planted as `bokbasen secret set` does: a SecureString with the secret resource's owner marker.
    let planted = format!("pl4nted-{}-Sekret", std::process::id());
    let marker = "bokbasen_service_secret/ebook-api/test/spring.datasource.password";
    aws.boto3(&format!(
        "client('ssm').put_parameter(Name={name:?}, Value={planted:?}, Type='SecureString', KeyId='alias/aws/ssm', Tags=[{{'Key': 'bokbasen:owner', 'Value': {marker:?}}}])\nprint('{{}}')"
    ));
    let plan = tf.run(&["plan"]);
    let apply = tf.run(&["apply", "-auto-approve"]).success();
    let stored = parameters(&aws);
    assert_eq!(stored[&name]["type"], "SecureString", "{}", context("encrypted"));
    assert_eq!(stored[&name]["value"], planted.as_str(), "{}", context("value kept"));
    assert_eq!(
        stored[&name]["tags"],
        json!({"managed-by": "terraform", "team": "ebooks", "bokbasen:owner": marker}),
        "{}",
        context("tagged")
    );
    let state = std::fs::read_to_string(work.path().join("terraform.tfstate")).unwrap();
    assert!(
        state.contains("\"version\": 2"),
        "{}: adopting wrote the description (version 2)\n{state}",
        context("state")
    );
    let replan = tf.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(replan.code, 0, "{}\n{replan}", context("second plan"));

    // A new description re-encrypts the stored value in place; the value never surfaces.
    tf.write("main.tf", &example("bokbasen_service_secret").replace("Password of the", "Login password of the"));
    let update = tf.run(&["apply", "-auto-approve"]).success();
    assert_eq!(parameters(&aws)[&name]["value"], planted.as_str(), "{}", context("kept through re-encryption"));
    assert_nowhere(&planted, &work, log.path(), &[&plan, &apply, &replan, &update], &context("planted secret"));

    // Drift: the description changed out of band is shown and repaired.
    aws.boto3(&format!(
        "ssm = client('ssm')\nv = ssm.get_parameter(Name={name:?}, WithDecryption=True)['Parameter']['Value']\nssm.put_parameter(Name={name:?}, Value=v, Type='SecureString', KeyId='alias/aws/ssm', Overwrite=True, Description='changed by hand')\nprint('{{}}')"
    ));
    let drift = tf.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(drift.code, 2, "{}\n{drift}", context("drift"));
    assert!(
        drift.stdout.contains("\"changed by hand\" -> \"Login password"),
        "{}\n{drift}",
        context("drift on description")
    );

    // Import by service/environment/key.
    tf.run(&["apply", "-auto-approve"]).success();
    tf.run(&["state", "rm", "bokbasen_service_secret.ebook_api_db_password"]).success();
    tf.run(&["import", "bokbasen_service_secret.ebook_api_db_password", "ebook-api/test/spring.datasource.password"])
        .success();
    assert_no_resource_changes(&tf.run(&["plan"]), &context("plan after import"));

    // A secret nobody has set yet: the apply says how to set it.
    tf.write(
        "unset.tf",
        r#"
resource "bokbasen_service_secret" "unset" {
  service     = "ebook-api"
  environment = "test"
  key         = "flyway/password"
}
"#,
    );
    let unset = tf.run(&["apply", "-auto-approve"]).success();
    let said = unset.output().split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(said.contains("Secret has no value yet"), "{}\n{unset}", context("unset secret"));
    assert!(
        said.contains("bokbasen secret set ebook-api test flyway/password"),
        "{}\n{unset}",
        context("how to set it")
    );
    assert!(parameters(&aws).get(format!("{PREFIX}flyway/password")).is_none());

    // Write-only value: Terraform 1.11+ sends it without keeping it; older Terraform is refused.
    let write_only = r#"
variable "runscope_trigger" {
  type      = string
  sensitive = true
}

variable "trigger_version" {
  type    = number
  default = 1
}

resource "bokbasen_service_secret" "runscope_trigger" {
  service          = "ebook-api"
  environment      = "test"
  key              = "runscope-trigger"
  value_wo         = var.runscope_trigger
  value_wo_version = var.trigger_version
}
"#;
    tf.write("write_only.tf", write_only);
    let trigger_name = format!("{PREFIX}runscope-trigger");
    let first = format!("https://api.runscope.com/radar/{}-first/trigger", std::process::id());
    let work_wo = |value: &str, version: &str, args: &[&str]| {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.splice(
            1..1,
            [
                "-no-color",
                "-var",
                &format!("endpoint_url={}", aws.endpoint()),
                "-var",
                &format!("trigger_version={version}"),
            ]
            .map(String::from),
        );
        // Through the environment, as a pipeline would pass it: not on a command line.
        work.run_with_env(&all.iter().map(String::as_str).collect::<Vec<_>>(), &[("TF_VAR_runscope_trigger", value)])
    };
    let supports_write_only = {
        let mut parts = tf_binary.version.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (1, 11)
    };
    if supports_write_only {
        let plan = work_wo(&first, "1", &["plan"]);
        let apply = work_wo(&first, "1", &["apply", "-auto-approve"]).success();
        let stored = parameters(&aws);
        assert_eq!(stored[&trigger_name]["type"], "SecureString");
        assert_eq!(stored[&trigger_name]["value"], first.as_str(), "{}", context("written through value_wo"));
        let second = format!("https://api.runscope.com/radar/{}-second/trigger", std::process::id());
        let rotate = work_wo(&second, "2", &["apply", "-auto-approve"]).success();
        let stored = parameters(&aws);
        assert_eq!(stored[&trigger_name]["value"], second.as_str(), "{}", context("rotated by value_wo_version"));
        assert_eq!(stored[&trigger_name]["version"], 2);
        assert_nowhere(&first, &work, log.path(), &[&plan, &apply, &rotate], &context("value_wo"));
        assert_nowhere(&second, &work, log.path(), &[&rotate], &context("rotated value_wo"));
    } else {
        let refused = work_wo(&first, "1", &["plan"]);
        assert_ne!(refused.code, 0, "{refused}");
        let said = refused.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            said.contains("Write-only argument needs Terraform 1.11 or later"),
            "{}\n{refused}",
            context("refused")
        );
        assert!(said.contains("bokbasen secret set"), "{}\n{refused}", context("the alternative is named"));
        assert!(!refused.output().contains(&first), "{}", context("not quoted"));
        assert!(parameters(&aws).get(&trigger_name).is_none(), "{}", context("nothing written"));
        std::fs::remove_file(work.path().join("write_only.tf")).unwrap();
    }

    // Destroy removes every secret the configuration declared.
    if supports_write_only {
        work_wo(&first, "2", &["destroy", "-auto-approve"]).success();
    } else {
        tf.run(&["destroy", "-auto-approve"]).success();
    }
    assert_eq!(parameters(&aws), json!({}), "{}", context("nothing left"));
}

#[test]
fn secret_lifecycle_on_every_terraform() {
    for tf in terraform_binaries() {
        secret_lifecycle(&tf);
    }
}

/// SSM cannot move a parameter from the Advanced tier back to Standard
/// (PutParameter refuses it): a configuration applied with
/// `tier = "Advanced"` and then planned with `tier = "Standard"` is refused
/// at plan, at `tier`, and nothing in SSM changes.
#[test]
fn tier_cannot_go_back_from_advanced_to_standard() {
    let tf_binary = terraform_binaries().remove(0);
    let aws = LocalAws::start();
    let config = |tier: &str| {
        format!(
            r#"
resource "bokbasen_service_config" "ebook_api_test" {{
  service     = "ebook-api"
  environment = "test"
  tier        = "{tier}"
  values = {{
    "catalogue.page-size" = "50"
  }}
}}
"#
        )
    };
    let work = aws.workdir(&tf_binary, &[("provider.tf", PROVIDER), ("main.tf", &config("Advanced"))]);
    let tf = Session { work: &work, endpoint: aws.endpoint() };
    work.init();
    tf.run(&["apply", "-auto-approve"]).success();
    let advanced = aws.boto3(
        r#"
found = client("ssm").describe_parameters(ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": ["/config"]}])["Parameters"]
print(json.dumps({p["Name"]: {"tier": p["Tier"], "version": p["Version"]} for p in found}))
"#,
    );
    assert_eq!(
        advanced,
        json!({format!("{PREFIX}catalogue.page-size"): {"tier": "Advanced", "version": 1}}),
        "applied in the Advanced tier"
    );
    let stored = parameters(&aws);

    tf.write("main.tf", &config("Standard"));
    let plan = tf.run(&["plan"]);
    assert_eq!(plan.code, 1, "{plan}");
    let said = plan.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(said.contains("Tier cannot go back to Standard"), "{plan}");
    assert!(said.contains("tier = \"Standard\""), "the diagnostic points at tier\n{plan}");
    let apply = tf.run(&["apply", "-auto-approve"]);
    assert_eq!(apply.code, 1, "{apply}");
    assert!(apply.stderr.contains("Tier cannot go back to Standard"), "{apply}");
    assert_eq!(parameters(&aws), stored, "nothing changed in SSM");
    let still = aws.boto3(
        r#"
found = client("ssm").describe_parameters(ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": ["/config"]}])["Parameters"]
print(json.dumps({p["Name"]: {"tier": p["Tier"], "version": p["Version"]} for p in found}))
"#,
    );
    assert_eq!(still, advanced, "still Advanced, still version 1");
}
