//! The main job, end to end on this machine: the provider, built from this
//! checkout, applies `examples/caller-identity` against the local AWS
//! endpoint, first as the caller, then through an assumed role in another
//! account; then gives the fargate service of `examples/service-pipeline/fargate`
//! its release pipeline across three accounts, and cleans up after itself.

use bokbasen_e2e::{terraform_binaries, LocalAws, WorkDir};

use crate::Result;

const TEST_ACCOUNT_ROLE: &str = "arn:aws:iam::222222222222:role/bokbasen-deploy";

pub fn run() -> Result {
    let terraform = terraform_binaries().remove(0);
    eprintln!("demo: starting the local AWS endpoint");
    let aws = LocalAws::start();
    println!("Local AWS endpoint: {}", aws.endpoint());
    println!("Terraform:          {} ({})", terraform.version, terraform.path.display());

    let work = WorkDir::from_example(&terraform, "caller-identity");
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

    eprintln!("demo: applying examples/service-pipeline/fargate");
    let service = WorkDir::from_example(&terraform, "service-pipeline/fargate");
    step(&service, &["init", "-input=false", "-no-color"])?;
    step(&service, &["apply", "-auto-approve", "-input=false", "-no-color", "-var", &endpoint])?;
    let outputs = service.outputs();
    println!("\nRelease pipeline of ebook-api ({}):", outputs["arn"].as_str().unwrap_or_default());
    for stage in outputs["stages"].as_array().into_iter().flatten() {
        let actions: Vec<&str> = stage["actions"].as_array().into_iter().flatten().filter_map(|a| a.as_str()).collect();
        println!("  {:<11} {}", stage["name"].as_str().unwrap_or_default(), actions.join(" → "));
    }
    println!("CodeBuild projects:");
    for (purpose, name) in outputs["codebuild_projects"].as_object().into_iter().flatten() {
        println!("  {purpose:<22} {}", name.as_str().unwrap_or_default());
    }
    step(&service, &["destroy", "-auto-approve", "-input=false", "-no-color", "-var", &endpoint])?;
    println!("\nDestroyed; stopping the local AWS endpoint.");
    Ok(())
}

fn step(work: &WorkDir, args: &[&str]) -> Result {
    let run = work.run(args);
    if run.code == 0 {
        Ok(())
    } else {
        Err(run.to_string())
    }
}
