//! The main job, end to end on this machine, against the local AWS endpoint:
//! the provider (built from this checkout) applies `examples/caller-identity`
//! as the caller and through an assumed role in another account; then a
//! developer's day with the `bokbasen` CLI: a new service from the
//! `fargate-service` template, applied (its release pipeline in the tooling
//! account, its configuration in the Test, Stage and Production accounts), a
//! secret set from stdin, the configuration published to a Spring Cloud
//! Config repository, and the pipeline drawn. Everything is destroyed after.

use std::path::Path;

use bokbasen_e2e::local_aws::ACCOUNT_ACCESS_ROLE;
use bokbasen_e2e::{
    bokbasen, deploy_targets_configuration, terraform_binaries, workspace_root, LocalAws, WorkDir, ENVIRONMENTS,
};

use crate::Result;

/// What AWS Organizations makes in every member account; the demo's caller may assume it.
const TEST_ACCOUNT_ROLE: &str = "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole";
const SERVICE: &str = "ebook-api";

pub fn run() -> Result {
    let terraform = terraform_binaries().remove(0);
    eprintln!("demo: starting the local AWS endpoint");
    let aws = LocalAws::start();
    println!("Local AWS endpoint: {}", aws.endpoint());
    println!("Terraform:          {} ({})", terraform.version, terraform.path.display());

    // Signed as the endpoint's caller, which holds the documented least policy.
    let work = aws.workdir_from_example(&terraform, "caller-identity");
    eprintln!("demo: building the provider and running terraform init");
    step(&work, &["init", "-input=false", "-no-color"])?;
    let endpoint = format!("endpoint_url={}", aws.endpoint());

    for (title, role) in
        [("As the caller", None), ("Through assume_role into the Test account", Some(TEST_ACCOUNT_ROLE))]
    {
        let mut args = vec!["apply", "-auto-approve", "-input=false", "-no-color", "-var", &endpoint];
        let role_var = role.map(|arn| format!("role_arn={arn}"));
        if let Some(var) = &role_var {
            args.extend(["-var", var]);
        }
        step(&work, &args)?;
        println!("\n{title}:");
        for (name, value) in work.outputs() {
            println!("  {name:<11} = {}", value.as_str().map(str::to_string).unwrap_or(value.to_string()));
        }
    }
    step(&work, &["destroy", "-auto-approve", "-input=false", "-no-color", "-var", &endpoint])?;

    new_service_story(&terraform, &aws, &endpoint)
}

/// A developer's new microservice, from template to pipeline picture.
fn new_service_story(terraform: &bokbasen_e2e::TerraformBinary, aws: &LocalAws, endpoint: &str) -> Result {
    let service = aws.workdir(terraform, &[]).in_subdir(&format!("services/{SERVICE}"));
    let platform = service.path().to_path_buf();
    let values = workspace_root().join("examples/generator/fargate-service.yml");
    let modules = format!("modules_source={}", workspace_root().join("modules").display());
    // The organisation's side, as a platform team has it before any service:
    // a deploy target in each environment account (through the role AWS
    // Organizations makes there), trusting the tooling account's pipelines
    // and the caller as provisioner.
    println!("\nThe organisation's side: a deploy target in the Test, Stage and Production accounts");
    let targets = aws.workdir(terraform, &[("main.tf", &deploy_targets_configuration(&["fargate"], &ENVIRONMENTS))]);
    step(&targets, &["init", "-input=false", "-no-color"])?;
    step(&targets, &["apply", "-auto-approve", "-input=false", "-no-color", "-var", endpoint])?;
    let provisioning_role = format!("provisioning_role={ACCOUNT_ACCESS_ROLE}");
    println!("\nA new service, in a platform repository at {}:", platform.display());
    cli(
        &platform,
        &[
            "new",
            "fargate-service",
            SERVICE,
            "--values",
            &values.display().to_string(),
            "--set",
            &modules,
            "--set",
            &provisioning_role,
        ],
        &[],
        "",
    )?;

    println!("\n$ terraform init && terraform apply   (in services/{SERVICE}, against the local endpoint)");
    step(&service, &["init", "-input=false", "-no-color"])?;
    step(&service, &["apply", "-auto-approve", "-input=false", "-no-color", "-var", endpoint])?;
    let outputs = service.outputs();
    println!("Release pipeline {}:", outputs["pipeline_arn"].as_str().unwrap_or_default());
    for stage in outputs["stages"].as_array().into_iter().flatten() {
        let actions: Vec<&str> = stage["actions"].as_array().into_iter().flatten().filter_map(|a| a.as_str()).collect();
        println!("  {:<11} {}", stage["name"].as_str().unwrap_or_default(), actions.join(" → "));
    }
    println!("Configuration in each environment's account, for application.properties:");
    for (env, line) in outputs["spring_config_import"].as_object().into_iter().flatten() {
        println!("  {env:<11} {}", line.as_str().unwrap_or_default());
    }

    // The developer is signed in to the Test account; the value comes from stdin.
    let developer = aws.developer_env("222222222222");
    let env: Vec<(&str, &str)> = developer.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let password = format!("demo-{}", std::process::id());
    println!("\n(signed in to the Test account 222222222222)");
    cli(&platform, &["secret", "set", SERVICE, "test", "spring.datasource.password"], &env, &password)?;
    cli(&platform, &["secret", "list", SERVICE, "test"], &env, "")?;

    let repo = tempfile::tempdir().map_err(|e| e.to_string())?;
    git(repo.path(), &["init", "--quiet"])?;
    git(repo.path(), &["config", "user.name", "Demo Developer"])?;
    git(repo.path(), &["config", "user.email", "demo@bokbasen.example"])?;
    println!("\nA Spring Cloud Config repository at {}:", repo.path().display());
    cli(&platform, &["config", "publish", SERVICE, "--config-repo", &repo.path().display().to_string()], &[], "")?;
    println!("{}", git(repo.path(), &["log", "--stat", "--format=%h %an%n%n%B"])?.trim_end());

    cli(&platform, &["graph", SERVICE, "--format", "mermaid"], &[], "")?;

    println!("\n$ terraform destroy");
    step(&service, &["destroy", "-auto-approve", "-input=false", "-no-color", "-var", endpoint])?;
    step(&targets, &["destroy", "-auto-approve", "-input=false", "-no-color", "-var", endpoint])?;
    println!("Destroyed; stopping the local AWS endpoint.");
    Ok(())
}

/// Runs and shows `bokbasen ARGS` as a developer would type it.
fn cli(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Result {
    let shown: Vec<String> = args.iter().map(|a| shorten(a)).collect();
    let pipe = if stdin.is_empty() { String::new() } else { "printf %s \"$DB_PASSWORD\" | ".to_string() };
    println!("\n$ {pipe}bokbasen {}", shown.join(" "));
    let run = bokbasen(dir, args, env, stdin);
    print!("{}", run.stdout);
    if run.code == 0 {
        Ok(())
    } else {
        Err(run.to_string())
    }
}

/// Paths inside this checkout, as a developer in it would write them.
fn shorten(arg: &str) -> String {
    let root = format!("{}/", workspace_root().display());
    arg.replace(&root, "")
}

fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let output =
        std::process::Command::new("git").arg("-C").arg(dir).args(args).output().map_err(|e| format!("git: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!("git {args:?}: {}", String::from_utf8_lossy(&output.stderr)))
    }
}

/// Runs `terraform ARGS`; a failure, or a request the endpoint refused, is an error.
fn step(work: &WorkDir, args: &[&str]) -> Result {
    let run = work.run(args);
    if run.code == 0 && run.denials.is_empty() {
        Ok(())
    } else {
        Err(run.to_string())
    }
}
