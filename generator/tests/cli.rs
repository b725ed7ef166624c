//! The `bokbasen` binary as a developer meets it, without AWS or Terraform:
//! bad input refused by name with nothing written, upgrades that keep local
//! edits and mark conflicts, configuration published to a git repository.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_bokbasen");

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn sample(template: &str) -> String {
    repo_root().join("examples/generator").join(format!("{template}.yml")).display().to_string()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Runs bokbasen in `dir` with stdin closed (not a terminal: nothing is prompted).
fn bokbasen(dir: &Path, args: &[&str]) -> Run {
    let output: Output = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("BOKBASEN_TEMPLATES")
        .env("CI", "true")
        .stdin(Stdio::null())
        .output()
        .expect("run bokbasen");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn ok(dir: &Path, args: &[&str]) -> Run {
    let run = bokbasen(dir, args);
    assert_eq!(run.code, 0, "{args:?}: {run:?}");
    run
}

/// Fails, says each of `expected` on stderr, and leaves `dir` as it was.
fn refused(dir: &Path, args: &[&str], expected: &[&str]) -> Run {
    let before = snapshot(dir);
    let run = bokbasen(dir, args);
    assert_ne!(run.code, 0, "{args:?} should fail: {run:?}");
    for text in expected {
        assert!(run.stderr.contains(text), "{args:?}: {text:?} in {run:?}");
    }
    assert_eq!(snapshot(dir), before, "{args:?} wrote something");
    run
}

/// Every file under `dir` with its contents.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.push((path.clone(), Vec::new()));
                stack.push(path);
            } else {
                files.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

fn new_fargate(dir: &Path, extra: &[&str]) -> Run {
    let values = sample("fargate-service");
    let mut args = vec!["new", "fargate-service", "ebook-api", "--values", &values];
    args.extend(extra);
    ok(dir, &args)
}

#[test]
fn bad_input_is_refused_by_name_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let values = sample("fargate-service");
    let new = |service: &'static str, extra: &[&'static str]| {
        let mut args: Vec<String> =
            vec!["new".into(), "fargate-service".into(), service.into(), "--values".into(), values.clone()];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let check = |args: Vec<String>, expected: &[&str]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(d, &args, expected);
    };

    refused(
        d,
        &["new", "fargate", "ebook-api"],
        &["unknown template `fargate`", "fargate-service", "bokbasen templates"],
    );
    check(new("Ebook_API", &[]), &["SERVICE:", "\"Ebook_API\" is not a service name"]);
    check(new("../escape", &[]), &["SERVICE:", "\"../escape\""]);
    check(new("a/b", &[]), &["SERVICE:"]);
    refused(
        d,
        &["new", "fargate-service", "ebook-api"],
        &["input `team` is required", "Fix: --set team=ebooks", "input `test_account` is required"],
    );
    check(
        new("ebook-api", &["--set", "test_account=12345"]),
        &["input `test_account`", "does not match the pattern [0-9]{12}", "--set test_account=222222222222"],
    );
    check(new("ebook-api", &["--set", "container_port=http"]), &["input `container_port`", "not a whole number"]);
    check(new("ebook-api", &["--set", "backend=consul"]), &["input `backend`", "not one of none, s3, cloud"]);
    check(new("ebook-api", &["--set", "colour=red"]), &["there is no input `colour`"]);
    check(new("ebook-api", &["--set", "backend=s3"]), &["input `state_bucket` is required when backend is s3"]);
    check(new("ebook-api", &["--set", "noequals"]), &["--set noequals: expected name=value"]);
    // Injection attempts: a value that would end its string and write code or keys.
    check(
        new("ebook-api", &["--set", "description=x\"\n}\nresource \"aws_iam_user\" \"evil\" {\n  name = \"evil"]),
        &["input `description`", "control character"],
    );
    check(new("ebook-api", &["--set", "team=ebooks\"\nadmin: true"]), &["input `team`"]);
    let injected = d.join("injected.yml");
    std::fs::write(&injected, "description: \"ok\\nflyway: {locations: [evil]}\"\n").unwrap();
    refused(
        d,
        &["new", "fargate-service", "ebook-api", "--values", injected.to_str().unwrap(), "--set", "team=ebooks"],
        &["input `description`", "control character"],
    );
    std::fs::write(&injected, "- not\n- a map\n").unwrap();
    refused(
        d,
        &["new", "fargate-service", "ebook-api", "--values", injected.to_str().unwrap()],
        &["--values", "not a YAML map"],
    );
    std::fs::remove_file(&injected).unwrap();
    assert!(!d.join("services").exists());

    // An existing service is never overwritten without --force.
    new_fargate(d, &[]);
    let main_tf = d.join("services/ebook-api/main.tf");
    std::fs::write(&main_tf, "# my edit\n").unwrap();
    check(new("ebook-api", &[]), &["services/ebook-api exists", "bokbasen update", "--force"]);
    assert_eq!(std::fs::read_to_string(&main_tf).unwrap(), "# my edit\n");
    new_fargate(d, &["--force"]);
    assert!(std::fs::read_to_string(&main_tf).unwrap().contains("module \"pipeline\""));
    // No staging folders left behind.
    let leftovers: Vec<_> = std::fs::read_dir(d.join("services")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(leftovers, ["ebook-api"]);
}

#[test]
fn dry_run_and_json_write_nothing_and_describe_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let values = sample("static-site");
    let run = ok(dir.path(), &["--json", "new", "static-site", "school-portal", "--values", &values, "--dry-run"]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["written"], false);
    assert!(json["files"].as_array().unwrap().iter().any(|f| f == "service.yml"));
    assert!(!dir.path().join("services").exists());
}

#[test]
fn templates_are_listed_and_shown_with_every_input() {
    let dir = tempfile::tempdir().unwrap();
    let list = ok(dir.path(), &["templates", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["api-gateway", "batch-job", "fargate-service", "lambda-function", "static-site"]);
    let show = ok(dir.path(), &["templates", "show", "fargate-service", "--json"]);
    let show: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    let backend = show["inputs"].as_array().unwrap().iter().find(|i| i["name"] == "backend").unwrap();
    assert_eq!(backend["type"], "string");
    assert_eq!(backend["default"], "none");
    assert_eq!(backend["allowed"], serde_json::json!(["none", "s3", "cloud"]));
    assert!(show["inputs"].as_array().unwrap().iter().all(|i| !i["example"].is_null() && i["description"].is_string()));
    let text = ok(dir.path(), &["templates", "show", "fargate-service"]);
    assert!(
        text.stdout.contains("container_port (integer, default 8080)")
            && text.stdout.contains("e.g. --set team=ebooks"),
        "{text:?}"
    );
    for command in [
        &["new"][..],
        &["update"],
        &["outdated"],
        &["config", "publish"],
        &["secret", "set"],
        &["secret", "list"],
        &["graph"],
        &["templates"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let help = ok(dir.path(), &args);
        assert!(help.stdout.contains("Examples:"), "{command:?} --help: {help:?}");
    }
}

/// A copy of the built-in catalogue that a test can bump.
fn catalogue_copy() -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    let status = Command::new("cp").arg("-r").arg(repo_root().join("templates/.")).arg(copy.path()).status().unwrap();
    assert!(status.success());
    copy
}

fn bump(catalogue: &Path, version: &str) {
    let manifest = catalogue.join("fargate-service/template.yml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let old = text.lines().find(|l| l.starts_with("version: ")).unwrap().to_string();
    std::fs::write(&manifest, text.replace(&old, &format!("version: {version}"))).unwrap();
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from:?} in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn update_keeps_local_edits_brings_template_changes_and_marks_conflicts() {
    let catalogue = catalogue_copy();
    let cat = catalogue.path().to_str().unwrap().to_string();
    let platform = tempfile::tempdir().unwrap();
    let p = platform.path();
    new_fargate(p, &["--templates", &cat]);
    let service = p.join("services/ebook-api");

    // The developer edits: a key of their own in Test, a comment on the pipeline module.
    edit(
        &service.join("config/test.yml"),
        "logging.level.root: \"INFO\"\n",
        "logging.level.root: \"INFO\"\ncatalogue.page-size: \"50\"\n",
    );
    edit(
        &service.join("main.tf"),
        "module \"pipeline\" {\n",
        "# Reviewed by the ebooks team.\nmodule \"pipeline\" {\n",
    );

    // Template 1.1.0: a new output, and a new key for every environment.
    bump(catalogue.path(), "1.1.0");
    let outputs = catalogue.path().join("_shared/files/outputs.tf.hbs");
    let mut text = std::fs::read_to_string(&outputs).unwrap();
    text.push_str("\noutput \"role_arns\" {\n  description = \"The pipeline's IAM roles.\"\n  value       = module.pipeline.role_arns\n}\n");
    std::fs::write(&outputs, text).unwrap();
    edit(
        &catalogue.path().join("_shared/partials/environment_config.hbs"),
        "logging.level.root:",
        "management.tracing.enabled: \"true\"\nlogging.level.root:",
    );

    let outdated = ok(p, &["--templates", &cat, "outdated", "--json"]);
    let outdated: serde_json::Value = serde_json::from_str(&outdated.stdout).unwrap();
    assert_eq!(
        outdated,
        serde_json::json!([{"service": "ebook-api", "template": "fargate-service", "version": "1.0.0", "latest": "1.1.0"}])
    );

    let before = snapshot(p);
    let dry = ok(p, &["--templates", &cat, "update", "ebook-api", "--dry-run"]);
    assert!(dry.stdout.contains("outputs.tf"), "{dry:?}");
    assert_eq!(snapshot(p), before, "--dry-run wrote");
    refused(
        p,
        &["--templates", &cat, "update", "ebook-api", "--to", "1.2.0"],
        &["1.2.0 is not in this catalogue", "has 1.1.0"],
    );

    let update = ok(p, &["--templates", &cat, "update", "ebook-api"]);
    assert!(update.stdout.contains("fargate-service 1.0.0 → 1.1.0"), "{update:?}");
    let test_yml = std::fs::read_to_string(service.join("config/test.yml")).unwrap();
    assert!(
        test_yml.contains("catalogue.page-size: \"50\"") && test_yml.contains("management.tracing.enabled"),
        "{test_yml}"
    );
    let main_tf = std::fs::read_to_string(service.join("main.tf")).unwrap();
    assert!(main_tf.contains("# Reviewed by the ebooks team."), "{main_tf}");
    assert!(std::fs::read_to_string(service.join("outputs.tf")).unwrap().contains("output \"role_arns\""));
    assert!(std::fs::read_to_string(service.join("config/stage.yml")).unwrap().contains("management.tracing.enabled"));
    assert!(std::fs::read_to_string(service.join(".bokbasen/answers.yml")).unwrap().contains("version: 1.1.0"));
    assert_eq!(ok(p, &["--templates", &cat, "outdated", "--json"]).stdout.trim(), "[]");
    assert!(ok(p, &["--templates", &cat, "update", "ebook-api"]).stdout.contains("already at"));

    // 1.2.0 changes the line the developer changed too: a conflict, marked, listed, nothing lost.
    edit(&service.join("config/test.yml"), "logging.level.root: \"INFO\"", "logging.level.root: \"TRACE\"");
    bump(catalogue.path(), "1.2.0");
    edit(
        &catalogue.path().join("_shared/partials/environment_config.hbs"),
        "{{#if (eq env \"production\")}}WARN{{else}}INFO{{/if}}",
        "{{#if (eq env \"production\")}}WARN{{else}}DEBUG{{/if}}",
    );
    let conflicted = bokbasen(p, &["--templates", &cat, "update", "ebook-api"]);
    assert_eq!(conflicted.code, 3, "{conflicted:?}");
    assert!(conflicted.stdout.contains("conflict to resolve: services/ebook-api/config/test.yml"), "{conflicted:?}");
    let test_yml = std::fs::read_to_string(service.join("config/test.yml")).unwrap();
    for expected in [
        "<<<<<<< your edit",
        "logging.level.root: \"TRACE\"",
        "logging.level.root: \"DEBUG\"",
        ">>>>>>> fargate-service 1.2.0",
        "catalogue.page-size: \"50\"",
    ] {
        assert!(test_yml.contains(expected), "{expected:?} in {test_yml}");
    }
    // Unedited environments just take the change.
    assert!(std::fs::read_to_string(service.join("config/stage.yml"))
        .unwrap()
        .contains("logging.level.root: \"DEBUG\""));

    // A major version needs saying so.
    bump(catalogue.path(), "2.0.0");
    refused(p, &["--templates", &cat, "update", "ebook-api"], &["major version", "--allow-major"]);
    let all = ok(p, &["--templates", &cat, "update", "--all", "--allow-major", "--json"]);
    let all: serde_json::Value = serde_json::from_str(&all.stdout).unwrap();
    assert_eq!(all["updated"][0]["to"], "2.0.0", "{all}");
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git").arg("-C").arg(dir).args(args).output().unwrap();
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn config_publish_commits_spring_cloud_config_files_and_refuses_bad_config() {
    let platform = tempfile::tempdir().unwrap();
    let p = platform.path();
    new_fargate(p, &[]);
    let repo = tempfile::tempdir().unwrap();
    let r = repo.path().to_str().unwrap();

    refused(p, &["config", "publish", "ebook-api", "--config-repo", r], &["--config-repo", "not a git repository"]);
    git(repo.path(), &["init", "--quiet"]);
    git(repo.path(), &["config", "user.name", "Kari Nordmann"]);
    git(repo.path(), &["config", "user.email", "kari@bokbasen.example"]);
    refused(
        p,
        &["config", "publish", "ebook-api", "--env", "qa", "--config-repo", r],
        &["--env qa", "test, stage, production"],
    );
    refused(p, &["config", "publish", "isbn-lookup", "--config-repo", r], &["no service `isbn-lookup`", "--out"]);

    ok(
        p,
        &[
            "config",
            "publish",
            "ebook-api",
            "--env",
            "test",
            "--config-repo",
            r,
            "--author",
            "Ola <ola@bokbasen.example>",
        ],
    );
    let files = git(repo.path(), &["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(files.lines().filter(|l| !l.is_empty()).collect::<Vec<_>>(), ["ebook-api-test.yml", "ebook-api.yml"]);
    let log = git(repo.path(), &["log", "-1", "--format=%an <%ae>%n%B"]);
    assert!(log.starts_with("Ola <ola@bokbasen.example>") && log.contains("Template: fargate-service 1.0.0"), "{log}");

    // Config that Spring or SSM would not take, or a secret in a file, is refused by file and key.
    let test_yml = p.join("services/ebook-api/config/test.yml");
    let original = std::fs::read_to_string(&test_yml).unwrap();
    for (bad, expected) in [
        ("spring:\n  datasource:\n    url: x\n", "`spring` is not a single value"),
        ("spring.datasource.password: hunter2\n", "`spring.datasource.password` is a secret"),
        ("\"has space\": x\n", "`has space`"),
    ] {
        std::fs::write(&test_yml, format!("{original}{bad}")).unwrap();
        refused(p, &["config", "publish", "ebook-api", "--config-repo", r], &["config/test.yml", expected]);
        assert!(!git(repo.path(), &["log", "-p"]).contains("hunter2"));
    }
}

#[test]
fn graph_draws_the_generated_service_and_names_what_is_missing() {
    let platform = tempfile::tempdir().unwrap();
    let p = platform.path();
    new_fargate(p, &[]);
    let dot = ok(p, &["graph", "ebook-api", "--format", "dot"]);
    assert!(dot.stdout.starts_with("digraph \"ebook-api (fargate)\""), "{dot:?}");
    assert_eq!(dot.stdout.matches("shape=hexagon").count(), 2, "approvals before stage and production");
    std::fs::write(p.join("services/ebook-api/service.yml"), "name: ebook-api\n").unwrap();
    refused(p, &["graph", "ebook-api"], &["service.yml", "missing field"]);
    refused(p, &["graph", "nope"], &["no service `nope`"]);
}

#[test]
fn a_secret_value_given_as_an_argument_is_refused_without_being_repeated() {
    let dir = tempfile::tempdir().unwrap();
    let value = "hunter2-Zq9-as-an-argument";
    let option = format!("--value={value}");
    for args in [
        &["secret", "set", "ebook-api", "test", "spring.datasource.password", value][..],
        &["secret", "set", "ebook-api", "test", "spring.datasource.password", "--value", value],
        &["secret", "set", "ebook-api", "test", "spring.datasource.password", &option],
    ] {
        let run = refused(
            dir.path(),
            args,
            &["never as an argument", "printf %s \"$VALUE\" | bokbasen secret set ebook-api test"],
        );
        assert!(!run.stderr.contains(value) && !run.stdout.contains(value), "{args:?} repeated the value: {run:?}");
    }
}

#[test]
fn explain_weighs_every_call_of_the_generated_release() {
    let platform = tempfile::tempdir().unwrap();
    let p = platform.path();
    new_fargate(p, &[]);
    let text = ok(p, &["explain", "ebook-api"]);
    assert!(text.stdout.contains("Source / Source: runs as arn:aws:iam::111111111111:role/bokbasen/ebook-api-pipeline in account 111111111111"), "{text:?}");
    assert!(text.stdout.contains("ecr:BatchGetImage on arn:aws:ecr:eu-north-1:111111111111:repository/ebook-api (as arn:aws:iam::222222222222:role/ebook-api-execution): allowed by ebook-api-execution (AWS managed AmazonECSTaskExecutionRolePolicy)#[0] and ebook-api repository policy#EnvironmentsPull"), "{text:?}");
    assert!(!text.stdout.contains("DENIED"), "{text:?}");
    refused(p, &["explain", "nope"], &["no service `nope`"]);
}

/// The commands `bokbasen --help` lists, from the binary itself.
fn listed_commands(dir: &Path) -> Vec<String> {
    let help = ok(dir, &["--help"]).stdout;
    let commands = help.split("Commands:").nth(1).expect("a Commands section").split("\n\n").next().unwrap_or_default();
    // A command's line is indented by two; its wrapped description, by more.
    let named = commands.lines().filter(|l| l.starts_with("  ") && !l[2..].starts_with(' '));
    named.filter_map(|l| l.split_whitespace().next()).filter(|c| *c != "help").map(str::to_owned).collect()
}

#[test]
fn bash_completion_offers_every_command_and_their_options() {
    let dir = tempfile::tempdir().unwrap();
    let script = ok(dir.path(), &["completions", "bash"]).stdout;
    let path = dir.path().join("bokbasen.bash");
    std::fs::write(&path, &script).unwrap();
    // What bash offers after `bokbasen ` and after `bokbasen graph --f`, as a user's Tab would.
    let complete = |words: &str, current: usize| -> Vec<String> {
        let probe = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={current}; COMP_LINE='{words}'; COMP_POINT=${{#COMP_LINE}}; _bokbasen bokbasen \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            path.display()
        );
        let out = Command::new("bash").args(["--norc", "-c", &probe]).output().expect("run bash");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
    };
    let offered = complete("bokbasen ''", 1);
    let commands = listed_commands(dir.path());
    assert!(commands.len() >= 10, "{commands:?}");
    for command in &commands {
        assert!(offered.contains(command), "{command} not offered: {offered:?}");
    }
    let offered = complete("bokbasen graph --f", 2);
    assert_eq!(offered, ["--format"], "{offered:?}");
}

#[test]
fn zsh_and_fish_completions_name_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let commands = listed_commands(dir.path());
    for shell in ["zsh", "fish"] {
        let script = ok(dir.path(), &["completions", shell]).stdout;
        for command in &commands {
            assert!(
                script.contains(&format!("'{command}:")) || script.contains(&format!("-a \"{command}\"")),
                "{shell}: {command}"
            );
        }
    }
    refused(dir.path(), &["completions", "tcsh"], &["invalid value 'tcsh'", "bash", "zsh", "fish"]);
}

#[test]
fn the_man_page_has_a_section_per_command_with_its_examples() {
    let dir = tempfile::tempdir().unwrap();
    let page = ok(dir.path(), &["man"]).stdout;
    assert!(page.starts_with(".ie") || page.starts_with(".TH"), "{}", &page[..page.len().min(200)]);
    assert!(page.contains(".TH bokbasen 1"), "the title names the page and section");
    for command in listed_commands(dir.path()) {
        assert!(page.contains(&format!(".SH \"BOKBASEN {}\"", command.to_uppercase())), "no section for {command}");
    }
    assert!(
        page.contains("bokbasen graph ebook\\-api \\-\\-format mermaid")
            || page.contains("bokbasen graph ebook-api --format mermaid")
    );
    // Rendered by man, when the system has it: no roff warnings.
    let path = dir.path().join("bokbasen.1");
    std::fs::write(&path, &page).unwrap();
    if let Ok(out) = Command::new("man").args(["--warnings", "-l"]).arg(&path).env("MANWIDTH", "100").output() {
        let rendered = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stderr.is_empty(), "roff warnings: {}", String::from_utf8_lossy(&out.stderr));
        assert!(rendered.contains("BOKBASEN SECRET SET"), "{rendered}");
    }
}

/// Runs bokbasen under `umask`, as a user's shell would start it.
fn ok_with_umask(dir: &Path, umask: &str, args: &[&str]) {
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("BOKBASEN_TEMPLATES")
        .stdin(Stdio::null())
        .output()
        .expect("run bokbasen in sh");
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn files_and_folders_get_the_users_umask_and_rewritten_files_keep_their_mode() {
    let values = sample("fargate-service");
    for (umask, file_mode, folder_mode) in [("022", 0o644, 0o755), ("077", 0o600, 0o700), ("002", 0o664, 0o775)] {
        let platform = tempfile::tempdir().unwrap();
        let p = platform.path();
        ok_with_umask(p, umask, &["new", "fargate-service", "ebook-api", "--values", &values]);
        let service = p.join("services/ebook-api");
        assert_eq!(mode(&service), folder_mode, "umask {umask}: the service folder");
        assert_eq!(mode(&service.join("service.yml")), file_mode, "umask {umask}: service.yml");
        ok_with_umask(p, umask, &["graph", "ebook-api", "--format", "svg", "--output", "pipeline.svg"]);
        assert_eq!(mode(&p.join("pipeline.svg")), file_mode, "umask {umask}: the picture");
    }

    // A file made executable by hand stays so when bokbasen writes it again.
    let platform = tempfile::tempdir().unwrap();
    let p = platform.path();
    ok_with_umask(p, "022", &["new", "fargate-service", "ebook-api", "--values", &values]);
    ok_with_umask(p, "022", &["graph", "ebook-api", "--format", "svg", "--output", "pipeline.svg"]);
    std::fs::set_permissions(p.join("pipeline.svg"), std::os::unix::fs::PermissionsExt::from_mode(0o750)).unwrap();
    ok_with_umask(p, "077", &["graph", "ebook-api", "--format", "svg", "--output", "pipeline.svg"]);
    assert_eq!(mode(&p.join("pipeline.svg")), 0o750);
}

#[test]
fn a_catalogue_whose_default_is_a_private_address_gives_services_modules_naming_it() {
    let catalogue = catalogue_copy();
    let inputs = catalogue.path().join("_shared/inputs.yml");
    let text = std::fs::read_to_string(&inputs).unwrap();
    let public = "  default: bokbasen/bokbasen\n";
    assert!(text.contains(public), "the shared inputs hold provider_source's default");
    let private = "app.terraform.io/bokbasen-platform/bokbasen";
    std::fs::write(&inputs, text.replace(public, &format!("  default: {private}\n"))).unwrap();
    let cat = catalogue.path().display().to_string();

    let platform = tempfile::tempdir().unwrap();
    let p = platform.path();
    new_fargate(p, &["--templates", &cat]);
    let service = p.join("services/ebook-api");
    let versions = std::fs::read_to_string(service.join("versions.tf")).unwrap();
    assert!(versions.contains(&format!("source  = \"{private}\"")), "{versions}");
    for module in ["service-pipeline", "service-config"] {
        let main = std::fs::read_to_string(service.join("modules").join(module).join("main.tf")).unwrap();
        assert!(main.contains(&format!("source = \"{private}\"")), "{module}: {main}");
    }
    let main = std::fs::read_to_string(service.join("main.tf")).unwrap();
    assert!(main.contains("source = \"./modules/service-pipeline\""), "{main}");

    // A value the input's pattern refuses is named with its fix, and nothing is written.
    refused(
        p,
        &[
            "new",
            "fargate-service",
            "other-api",
            "--values",
            &sample("fargate-service"),
            "--set",
            "provider_source=https://x/y/bokbasen",
        ],
        &["provider_source"],
    );
    assert!(!p.join("services/other-api").exists());

    // With its own modules_source, a team keeps its copy: nothing is vendored.
    let own = tempfile::tempdir().unwrap();
    new_fargate(
        own.path(),
        &["--templates", &cat, "--set", "modules_source=git::https://git.example.com/platform/modules.git?ref=v1"],
    );
    assert!(!own.path().join("services/ebook-api/modules").exists());
}
