//! The generator CLI end to end: every template rendered and accepted by the
//! real Terraform, and a fargate service taken from `bokbasen new` through
//! `terraform apply` against the local AWS endpoint, with its secret set,
//! its configuration published to a Spring Cloud Config repository, and its
//! pipeline drawn from the same shape that was applied.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use bokbasen_e2e::local_aws::ACCOUNT_ACCESS_ROLE;
use bokbasen_e2e::{
    bokbasen, deploy_targets_configuration, terraform_binaries, workspace_root, LocalAws, TerraformBinary, WorkDir,
    ENVIRONMENTS,
};
use serde_json::Value;

/// Each template with the service the samples make of it.
const TEMPLATES: [(&str, &str); 5] = [
    ("fargate-service", "ebook-api"),
    ("lambda-function", "isbn-lookup"),
    ("batch-job", "onix-import"),
    ("api-gateway", "audiobook-api"),
    ("static-site", "school-portal"),
];

fn modules() -> String {
    workspace_root().join("modules").display().to_string()
}

fn sample_values(template: &str) -> PathBuf {
    workspace_root().join("examples").join("generator").join(format!("{template}.yml"))
}

/// `bokbasen new` of a template's sample into a fresh working directory whose
/// Terraform runs in the service's folder.
fn generate(terraform: &TerraformBinary, template: &str, service: &str, extra: &[&str]) -> WorkDir {
    let work = WorkDir::new(terraform, &[]).in_subdir(&format!("services/{service}"));
    let values = sample_values(template);
    let modules_source = format!("modules_source={}", modules());
    let mut args = vec!["new", template, service, "--values", values.to_str().unwrap(), "--set", &modules_source];
    for set in extra {
        args.extend(["--set", set]);
    }
    bokbasen(work.path(), &args, &[], "").success();
    work
}

fn fmt_and_validate(work: &WorkDir) {
    work.run(&["fmt", "-check", "-recursive", "-diff", "-no-color"]).success();
    work.run(&["init", "-backend=false", "-input=false", "-no-color"]).success();
    let validate = work.run(&["validate", "-json", "-no-color"]);
    let report: Value = serde_json::from_str(&validate.stdout).unwrap_or_else(|e| panic!("{e}: {validate}"));
    assert_eq!(report["valid"], true, "{validate}");
}

#[test]
fn every_template_renders_a_module_terraform_accepts() {
    let pinned = terraform_binaries().remove(0);
    for (template, service) in TEMPLATES {
        let work = generate(&pinned, template, service, &[]);
        fmt_and_validate(&work);
        let spec = std::fs::read_to_string(work.terraform_dir().join("service.yml")).unwrap();
        assert!(spec.contains(&format!("name: \"{service}\"")), "{template}: {spec}");
    }
    // State in S3, and in HCP Terraform (a `cloud` block needs Terraform 1.1 or later).
    let s3 =
        generate(&pinned, "lambda-function", "isbn-lookup", &["backend=s3", "state_bucket=bokbasen-terraform-state"]);
    fmt_and_validate(&s3);
    let versions = std::fs::read_to_string(s3.terraform_dir().join("versions.tf")).unwrap();
    assert!(versions.contains("backend \"s3\"") && versions.contains("services/isbn-lookup.tfstate"), "{versions}");
    for (index, terraform) in terraform_binaries().into_iter().enumerate() {
        let cloud =
            generate(&terraform, "fargate-service", "ebook-api", &["backend=cloud", "cloud_organization=bokbasen"]);
        let versions = std::fs::read_to_string(cloud.terraform_dir().join("versions.tf")).unwrap();
        assert!(
            versions.contains("organization = \"bokbasen\"") && versions.contains("required_version = \">= 1.1\""),
            "{versions}"
        );
        assert!(versions.contains("tags = [\"ebook-api\", \"bokbasen\"]"), "{versions}");
        // The pinned 1.0.3 comes first and predates `cloud`; later ones are 1.5 or newer.
        if index == 0 {
            cloud.run(&["fmt", "-check", "-recursive", "-no-color"]).success();
        } else {
            fmt_and_validate(&cloud);
        }
    }
}

/// A free-text input carrying quotes, `${...}` and `%{...}` stays a string:
/// Terraform reads the module, and the value arrives literally.
#[test]
fn hostile_free_text_stays_a_string() {
    let pinned = terraform_binaries().remove(0);
    let hostile = r#"Says "hi" ${file("/etc/passwd")} %{ if true }x%{ endif } \n"#;
    let set = format!("description={hostile}");
    let work = generate(&pinned, "lambda-function", "isbn-lookup", &[&set]);
    fmt_and_validate(&work);
    // Terraform's own reading of the rendered string, compared without writing HCL here.
    let expected = base64::engine::general_purpose::STANDARD.encode(hostile);
    let console =
        work.run_with_input(&["console", "-no-color"], &format!("local.description == base64decode(\"{expected}\")\n"));
    assert_eq!(console.success().stdout.trim(), "true");
    let shared = std::fs::read_to_string(work.terraform_dir().join("config/shared.yml")).unwrap();
    assert_eq!(yaml_map(&shared)["info.app.description"], hostile);
}

fn parameters_in(aws: &LocalAws, account: &str, path: &str) -> Value {
    aws.boto3(&format!(
        r#"
ssm = client("ssm", assume("{account}"))
found = {{}}
for page in ssm.get_paginator("get_parameters_by_path").paginate(Path="{path}", Recursive=True, WithDecryption=True):
    for p in page["Parameters"]:
        found[p["Name"]] = {{"type": p["Type"], "value": p["Value"]}}
print(json.dumps(found))
"#
    ))
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git").arg("-C").arg(dir).args(args).output().expect("run git");
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Every file under `dir`, for looking for a secret.
fn all_text(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.push((path, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    out
}

#[test]
fn fargate_service_from_new_to_applied_pipeline_config_and_secret() {
    let pinned = terraform_binaries().remove(0);
    let aws = LocalAws::start();
    let endpoint = format!("endpoint_url={}", aws.endpoint());
    // The organisation's side, as the platform team has it: a deploy target in each environment
    // account trusting the caller, and the caller writing configuration there through the role AWS
    // Organizations makes.
    let targets = aws.workdir(&pinned, &[("main.tf", &deploy_targets_configuration(&["fargate"], &ENVIRONMENTS))]);
    targets.init();
    targets.run(&["apply", "-auto-approve", "-input=false", "-no-color", "-var", &endpoint]).success();
    let provisioning_role = format!("provisioning_role={ACCOUNT_ACCESS_ROLE}");
    let work = generate(&pinned, "fargate-service", "ebook-api", &[&provisioning_role]).aws(&aws);
    let platform = work.path().to_path_buf();

    // Apply: the pipeline in the tooling account, configuration in each environment's account.
    work.init();
    work.run(&["apply", "-auto-approve", "-input=false", "-no-color", "-var", &endpoint]).success();
    let outputs = work.outputs();
    assert!(
        outputs["pipeline_arn"].as_str().unwrap().ends_with(":codepipeline:eu-north-1:123456789012:ebook-api"),
        "{outputs:?}"
    );
    let test_config = parameters_in(&aws, "222222222222", "/config/ebook-api_test");
    assert_eq!(test_config["/config/ebook-api_test/spring.application.name"]["value"], "ebook-api");
    assert_eq!(test_config["/config/ebook-api_test/server.port"]["value"], "8080");
    assert_eq!(test_config["/config/ebook-api_test/logging.level.root"]["value"], "INFO");
    let production = parameters_in(&aws, "444444444444", "/config/ebook-api_production");
    assert_eq!(production["/config/ebook-api_production/logging.level.root"]["value"], "WARN");
    assert!(
        parameters_in(&aws, "123456789012", "/config").as_object().unwrap().is_empty(),
        "config only in environment accounts"
    );
    let plan = work.run(&["plan", "-detailed-exitcode", "-input=false", "-no-color", "-var", &endpoint]);
    assert_eq!(plan.code, 0, "a second plan is empty: {plan}");

    // The picture is the applied shape: same stages, same actions, in order.
    let graph = bokbasen(&platform, &["graph", "ebook-api", "--format", "mermaid"], &[], "").success();
    let mut position = 0;
    for stage in outputs["stages"].as_array().unwrap() {
        let name = stage["name"].as_str().unwrap();
        let at = graph.stdout[position..]
            .find(&format!("[\"{name}\"]"))
            .unwrap_or_else(|| panic!("stage {name} in order:\n{}", graph.stdout));
        position += at;
        for action in stage["actions"].as_array().unwrap() {
            let action = action.as_str().unwrap();
            let at = graph.stdout[position..]
                .find(action)
                .unwrap_or_else(|| panic!("{name}/{action} in order:\n{}", graph.stdout));
            position += at;
        }
    }
    assert!(graph.stdout.contains("333333333333") && graph.stdout.contains("{{\"Approve"), "{}", graph.stdout);
    bokbasen(&platform, &["graph", "ebook-api", "--format", "svg", "--output", "pipeline.svg"], &[], "").success();
    assert!(std::fs::read_to_string(platform.join("pipeline.svg")).unwrap().starts_with("<svg"));

    // A secret, from stdin, with the Test account's credentials as a developer has them.
    let secret = "s3cr3t-Gx8#q!password-for-ebook-api";
    let developer = aws.developer_env("222222222222");
    let env: Vec<(&str, &str)> = developer.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let dry = bokbasen(
        &platform,
        &["secret", "set", "ebook-api", "test", "spring.datasource.password", "--dry-run"],
        &env,
        secret,
    );
    assert!(dry.success().stdout.contains("Would store /config/ebook-api_test/spring.datasource.password"));
    let none = parameters_in(&aws, "222222222222", "/config/ebook-api_test");
    assert!(none.get("/config/ebook-api_test/spring.datasource.password").is_none(), "--dry-run stored it");
    let too_big = "x".repeat(4097);
    let refused =
        bokbasen(&platform, &["secret", "set", "ebook-api", "test", "spring.datasource.password"], &env, &too_big)
            .failure();
    assert!(refused.stderr.contains("4097 bytes") && !refused.stderr.contains(&too_big), "{refused}");
    let set = bokbasen(
        &platform,
        &["secret", "set", "ebook-api", "test", "spring.datasource.password"],
        &env,
        &format!("{secret}\n"),
    );
    let set = set.success();
    assert!(set.stdout.contains("/config/ebook-api_test/spring.datasource.password"), "{set}");
    let stored = &parameters_in(&aws, "222222222222", "/config/ebook-api_test")
        ["/config/ebook-api_test/spring.datasource.password"];
    assert_eq!(stored["type"], "SecureString");
    assert_eq!(stored["value"], secret, "the SecureString holds the value, without the line end");
    let listed = bokbasen(&platform, &["secret", "list", "ebook-api", "test", "--json"], &env, "").success();
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    let keys: Vec<&str> = listed.as_array().unwrap().iter().map(|s| s["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["spring.datasource.password"]);
    assert_eq!(listed[0]["version"], 1);

    // A secret made by the CLI lacks the description and tags Terraform gives it:
    // the next apply adds them, keeping the value, and then there is nothing to do.
    // It runs with Terraform's trace log, which must not hold the value either.
    let trace = platform.join("terraform-trace.log");
    let trace_env = [("TF_LOG", "trace"), ("TF_LOG_PATH", trace.to_str().unwrap())];
    work.run_with_env(&["apply", "-auto-approve", "-input=false", "-no-color", "-var", &endpoint], &trace_env)
        .success();
    let trace_log = std::fs::read_to_string(&trace).unwrap();
    assert!(trace_log.contains("spring.datasource.password"), "the trace log shows the provider's work on the secret");
    assert!(!trace_log.contains(secret), "the secret is in the TF_LOG=trace log");
    let stored = &parameters_in(&aws, "222222222222", "/config/ebook-api_test")
        ["/config/ebook-api_test/spring.datasource.password"];
    assert_eq!(stored["value"], secret);
    let plan = work.run(&["plan", "-detailed-exitcode", "-input=false", "-no-color", "-var", &endpoint]);
    assert_eq!(plan.code, 0, "{plan}");

    // Configuration to Spring Cloud Config: named as Spring looks for it, committed with who and what.
    let repo = tempfile::tempdir().unwrap();
    git(repo.path(), &["init", "--quiet"]);
    git(repo.path(), &["config", "user.name", "Kari Nordmann"]);
    git(repo.path(), &["config", "user.email", "kari@bokbasen.example"]);
    let repo_arg = repo.path().to_str().unwrap();
    bokbasen(&platform, &["config", "publish", "ebook-api", "--config-repo", repo_arg], &[], "").success();
    let files = git(repo.path(), &["show", "--name-only", "--format=", "HEAD"]);
    let mut files: Vec<&str> = files.lines().filter(|l| !l.is_empty()).collect();
    files.sort();
    assert_eq!(files, ["ebook-api-production.yml", "ebook-api-stage.yml", "ebook-api-test.yml", "ebook-api.yml"]);
    let message = git(repo.path(), &["log", "-1", "--format=%B%n%an"]);
    for expected in ["ebook-api", "fargate-service 1.0.0", "Kari Nordmann <kari@bokbasen.example>"] {
        assert!(message.contains(expected), "{expected} in {message}");
    }
    // The same keys and values as SSM got for Test (shared keys merged under the environment's).
    let shared: serde_json::Map<String, Value> =
        yaml_map(&std::fs::read_to_string(repo.path().join("ebook-api.yml")).unwrap());
    let test: serde_json::Map<String, Value> =
        yaml_map(&std::fs::read_to_string(repo.path().join("ebook-api-test.yml")).unwrap());
    let mut published = shared;
    published.extend(test);
    let ssm_keys: Vec<String> = test_config
        .as_object()
        .unwrap()
        .keys()
        .map(|name| name.trim_start_matches("/config/ebook-api_test/").to_string())
        .collect();
    let mut published_keys: Vec<String> = published.keys().cloned().collect();
    published_keys.sort();
    assert_eq!(published_keys, ssm_keys);
    for (key, value) in &published {
        assert_eq!(&test_config[format!("/config/ebook-api_test/{key}")]["value"], value, "{key}");
    }
    // Publishing again changes nothing and commits nothing.
    let again = bokbasen(&platform, &["config", "publish", "ebook-api", "--config-repo", repo_arg], &[], "").success();
    assert!(again.stdout.contains("nothing to commit"), "{again}");
    assert_eq!(git(repo.path(), &["rev-list", "--count", "HEAD"]).trim(), "1");

    // The secret is nowhere on disk: not in the service, its state, or the config repository's history.
    let history = git(repo.path(), &["log", "-p", "--all"]);
    assert!(!history.contains(secret));
    for (path, text) in all_text(&platform).into_iter().chain(all_text(repo.path())) {
        assert!(!text.contains(secret), "the secret is in {}", path.display());
    }
    assert!(!graph.stdout.contains(secret) && !set.stdout.contains(secret) && !set.stderr.contains(secret));

    // Destroy leaves no configuration or secret behind.
    work.run(&["destroy", "-auto-approve", "-input=false", "-no-color", "-var", &endpoint]).success();
    for (account, env) in [("222222222222", "test"), ("333333333333", "stage"), ("444444444444", "production")] {
        let left = parameters_in(&aws, account, &format!("/config/ebook-api_{env}"));
        assert!(left.as_object().unwrap().is_empty(), "{env}: {left}");
    }
}

/// A published file: a flat YAML map of scalars, read as text as Spring does.
fn yaml_map(text: &str) -> serde_json::Map<String, Value> {
    let map: std::collections::BTreeMap<String, serde_yaml_ng::Value> =
        serde_yaml_ng::from_str(text).expect("a YAML map");
    map.into_iter()
        .map(|(key, value)| {
            let text = match value {
                serde_yaml_ng::Value::String(s) => s,
                serde_yaml_ng::Value::Number(n) => n.to_string(),
                serde_yaml_ng::Value::Bool(b) => b.to_string(),
                other => panic!("{key} is not a scalar: {other:?}"),
            };
            (key, Value::String(text))
        })
        .collect()
}

/// `bokbasen explain`: every generated service's release is allowed call by
/// call by the documents bokbasen writes; a service.yml edited to deploy
/// through a role the deploy target did not make is explained with the
/// denied calls, and the exit code says so.
#[test]
fn explain_shows_every_call_of_a_generated_service_allowed_and_names_a_denial() {
    let pinned = terraform_binaries().remove(0);
    for (template, service) in TEMPLATES {
        let work = generate(&pinned, template, service, &[]);
        let run = bokbasen(work.path(), &["--json", "explain", service], &[], "").success();
        let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run}"));
        assert_eq!(report["denied"], 0, "{template}: {run}");
        assert!(report["allowed"].as_u64().unwrap() > 50, "{template}: {run}");
        let steps = report["steps"].as_array().unwrap();
        let actions: Vec<&str> = steps.iter().map(|s| s["action"].as_str().unwrap()).collect();
        assert_eq!(actions[..2], ["Source", "Build"], "{template}");
        for step in steps {
            for call in step["calls"].as_array().unwrap() {
                assert!(call["verdict"].as_str().unwrap().starts_with("allowed by "), "{template}: {call}");
            }
        }
        if template != "fargate-service" {
            continue;
        }
        let text = bokbasen(work.path(), &["explain", service], &[], "").success();
        assert!(text.stdout.contains("test / Deploy: runs as arn:aws:iam::222222222222:role/bokbasen/bokbasen-deployer-test in account 222222222222"), "{text}");
        assert!(text.stdout.contains(" and artifact bucket policy#EnvironmentsReadArtifacts"), "{text}");
        // Validation takes any role of the environment's account; the rehearsal knows no trust for this one.
        let spec_path = work.terraform_dir().join("service.yml");
        let spec = std::fs::read_to_string(&spec_path).unwrap();
        let edited = spec.replace("role/bokbasen/bokbasen-deployer-test", "role/deployer");
        assert_ne!(spec, edited);
        std::fs::write(&spec_path, edited).unwrap();
        let denied = bokbasen(work.path(), &["--json", "explain", service], &[], "");
        assert_eq!(denied.code, 4, "{denied}");
        let report: Value = serde_json::from_str(&denied.stdout).unwrap();
        assert!(report["denied"].as_u64().unwrap() > 0);
        for step in report["steps"].as_array().unwrap() {
            for call in step["calls"].as_array().unwrap().iter().filter(|c| c["allowed"] == false) {
                assert_eq!(step["stage"], "test", "{call}");
                assert!(call["verdict"].as_str().unwrap().starts_with("DENIED: "), "{call}");
            }
        }
        let text = bokbasen(work.path(), &["explain", service], &[], "");
        assert_eq!(text.code, 4);
        assert!(text.stdout.contains("DENIED: implicitly denied: the resource policy does not allow it (no trust policy of arn:aws:iam::222222222222:role/deployer is known: not a role bokbasen makes)"), "{text}");
        assert!(text.stderr.contains("would be denied"), "{text}");
    }
}
