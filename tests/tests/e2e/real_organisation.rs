//! The fargate example against a real AWS organisation, opt-in like
//! terraform-provider-aws's `TF_ACC`: it costs money, takes minutes, and
//! needs four accounts. Skipped (and passing, with a note) unless
//! `BOKBASEN_ACC=1` and the four profiles are given:
//!
//! | variable | what |
//! |---|---|
//! | `BOKBASEN_ACC` | `1` to run |
//! | `BOKBASEN_ACC_TOOLING_PROFILE` | profile of the tooling account (pipelines, artifact store) |
//! | `BOKBASEN_ACC_TEST_PROFILE`, `..._STAGE_PROFILE`, `..._PRODUCTION_PROFILE` | profiles of the environment accounts (deploy targets) |
//! | `BOKBASEN_ACC_PROVISIONER_ARN` | optional: the role ARN the deploy targets trust as provisioner; required when the tooling profile is a role session (SSO, assumed role), whose session ARN the deploy target refuses |
//! | `BOKBASEN_ACC_CONNECTION_ARN` | optional: a CodeStar connection in the tooling account (else the example's placeholder ARN there) |
//! | `BOKBASEN_ACC_REGION` | optional: defaults to `eu-north-1` |
//! | `BOKBASEN_ACC_ARTIFACT_BUCKET` | optional: the artifact bucket (globally unique; else `bokbasen-acc-<time>`) |
//!
//! Profiles are read from the caller's `~/.aws` (config, credentials, SSO
//! cache), linked into the run's scratch `HOME`. The run applies
//! `examples/service-pipeline/fargate` through those profiles (instead of
//! `OrganizationAccountAccessRole`), checks that a second plan is empty, and
//! destroys, also when a check fails. Use a sandbox organisation: the deploy
//! targets are `bokbasen-deployer-{test,stage,production}` in each account,
//! adopted if they exist and deleted by the destroy.

use bokbasen_e2e::{terraform_binaries, TerraformRun, WorkDir};

const PROFILES: [(&str, &str); 4] = [
    ("tooling_profile", "BOKBASEN_ACC_TOOLING_PROFILE"),
    ("test_profile", "BOKBASEN_ACC_TEST_PROFILE"),
    ("stage_profile", "BOKBASEN_ACC_STAGE_PROFILE"),
    ("production_profile", "BOKBASEN_ACC_PRODUCTION_PROFILE"),
];

fn setting(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The example's variables for this organisation, or why the run is skipped.
fn variables() -> Result<Vec<String>, String> {
    let missing: Vec<&str> = PROFILES.iter().map(|(_, env)| *env).filter(|env| setting(env).is_none()).collect();
    if setting("BOKBASEN_ACC").as_deref() != Some("1") || !missing.is_empty() {
        return Err(format!(
            "skipped: set BOKBASEN_ACC=1 and {} to apply the fargate example to a real AWS organisation \
             (see tests/tests/e2e/real_organisation.rs)",
            PROFILES.map(|(_, env)| env).join(", ")
        ));
    }
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mut vars: Vec<String> = PROFILES.iter().map(|(var, env)| format!("{var}={}", setting(env).unwrap())).collect();
    vars.push(format!("region={}", setting("BOKBASEN_ACC_REGION").unwrap_or_else(|| "eu-north-1".into())));
    vars.push(format!(
        "artifact_bucket={}",
        setting("BOKBASEN_ACC_ARTIFACT_BUCKET").unwrap_or_else(|| format!("bokbasen-acc-{seconds}"))
    ));
    // Not the example's ebook-api: a name no real service has.
    vars.push(format!("name=acc-{seconds}"));
    // The example's VPC IDs do not exist in these accounts.
    vars.push("test_network=null".into());
    if let Some(arn) = setting("BOKBASEN_ACC_PROVISIONER_ARN") {
        vars.push(format!("provisioner_arn={arn}"));
    }
    if let Some(arn) = setting("BOKBASEN_ACC_CONNECTION_ARN") {
        vars.push(format!("connection_arn={arn}"));
    }
    Ok(vars)
}

/// Destroys what the run made when dropped, so a failed check leaves
/// nothing behind in the organisation (or says what to clean up).
struct DestroyOnDrop<'a> {
    work: &'a WorkDir,
    args: Vec<String>,
}

impl Drop for DestroyOnDrop<'_> {
    fn drop(&mut self) {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let run = self.work.run(&args);
        if run.code != 0 {
            // The working directory goes with the test: keep its state for a destroy by hand.
            let kept = std::env::temp_dir().join(format!("bokbasen-acc-{}.tfstate", std::process::id()));
            let _ = std::fs::copy(self.work.path().join("terraform.tfstate"), &kept);
            eprintln!(
                "THE DESTROY FAILED: objects remain in the organisation. The state is kept at {}; \
                 `terraform destroy -state=...` in examples/service-pipeline/fargate with the same -var's.\n{run}",
                kept.display()
            );
        }
    }
}

fn with_vars<'a>(command: &[&'a str], vars: &'a [String]) -> Vec<&'a str> {
    let mut args: Vec<&str> = command.to_vec();
    args.extend(["-no-color", "-input=false"]);
    for var in vars {
        args.extend(["-var", var.as_str()]);
    }
    args
}

fn check(run: TerraformRun) -> TerraformRun {
    assert_eq!(run.code, 0, "{run}");
    run
}

#[test]
fn fargate_example_in_a_real_organisation() {
    let vars = match variables() {
        Ok(vars) => vars,
        Err(skipped) => {
            println!("{skipped}");
            return;
        }
    };
    let tf = terraform_binaries().remove(0);
    // The caller's own AWS configuration, not the local endpoint's keys.
    let work = WorkDir::from_example(&tf, "service-pipeline/fargate")
        .without_env("AWS_ACCESS_KEY_ID")
        .without_env("AWS_SECRET_ACCESS_KEY");
    let aws_dir = std::env::var_os("HOME").map(|home| std::path::PathBuf::from(home).join(".aws"));
    if let Some(aws_dir) = aws_dir.filter(|d| d.is_dir()) {
        std::os::unix::fs::symlink(&aws_dir, work.home().join(".aws")).expect("link ~/.aws into the scratch HOME");
    }
    work.init();

    let destroy_args = with_vars(&["destroy", "-auto-approve"], &vars).iter().map(|a| a.to_string()).collect();
    let destroy = DestroyOnDrop { work: &work, args: destroy_args };
    check(work.run(&with_vars(&["apply", "-auto-approve"], &vars)));
    let outputs = work.outputs();
    let stages: Vec<&str> = outputs["stages"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(stages, ["Source", "Build", "test", "stage", "production"]);
    let plan = work.run(&with_vars(&["plan", "-detailed-exitcode"], &vars));
    assert_eq!(plan.code, 0, "the second plan is empty in AWS\n{plan}");
    drop(destroy);
    let listed = work.run(&["state", "list"]);
    assert_eq!(listed.stdout.trim(), "", "everything was destroyed\n{listed}");
}
