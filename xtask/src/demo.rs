//! The main job, end to end on this machine: the provider, built from this
//! checkout, applies `examples/caller-identity` against the local AWS
//! endpoint, first as the caller, then through an assumed role in another
//! account, and cleans up after itself.

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
