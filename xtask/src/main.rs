//! `cargo xtask <command>`: the developer entry points.
//!
//! - `setup`: installs the pinned Terraform and the local AWS endpoint into `.tools/`;
//! - `demo`:  builds the provider and the CLI, starts the local AWS endpoint, applies
//!   `examples/caller-identity` (directly and through an assumed role in another
//!   account), then takes a `fargate-service` from `bokbasen new` through apply,
//!   `secret set`, `config publish` and `graph`; destroys, stops the endpoint;
//! - `test`:  `setup`, then every test in the workspace (extra arguments go to `cargo test`);
//! - `bench`: start-up time to the handshake line and memory of the release provider;
//! - `bench pipelines [count]`: AWS calls per service pipeline create/read/delete and wall
//!   times for `count` pipelines;
//! - `bench refresh [count]`: what a refreshing `terraform plan` of `count` lambda pipelines
//!   costs (AWS calls per pipeline, provider CPU and memory, wall times, state size) next to
//!   `count` hashicorp/null resources;
//! - `bench generator [count]`: `bokbasen --help` start-up, and `count` services made,
//!   listed as outdated and upgraded;
//! - `release VERSION [...]`: the signed provider packages, the CLI archive and, on
//!   request, a static registry and a network mirror in `dist/` (see `release.rs`);
//! - `publish-hcp VERSION [...]`: those packages into an HCP Terraform private registry.

mod bench;
mod bench_generator;
mod bench_pipelines;
mod bench_refresh;
mod cross;
mod demo;
mod publish_hcp;
mod release;
mod setup;

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    // Copied under a provider's name, this binary is `bench refresh`'s rusage shim.
    if let Some(code) = bench_refresh::run_as_shim() {
        return code;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::run(),
        Some("demo") => setup::run().and_then(|()| demo::run()),
        Some("test") => setup::run().and_then(|()| test(&args[1..])),
        Some("bench") if args.get(1).map(String::as_str) == Some("pipelines") => {
            setup::run().and_then(|()| bench_pipelines::run(&args[2..]))
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("refresh") => {
            setup::run().and_then(|()| bench_refresh::run(&args[2..]))
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("generator") => bench_generator::run(&args[2..]),
        Some("bench") => bench::run(&args[1..]),
        Some("release") => release::run(&args[1..]),
        Some("publish-hcp") => publish_hcp::run(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <setup | demo | test [cargo test args] | bench [runs] | bench pipelines [count] | bench refresh [count] | bench generator [count] | release VERSION [--platforms P,...] [--registry-url URL] [--namespace NS] [--mirror HOST/NAMESPACE] | publish-hcp VERSION [--organization ORG] [--dist DIR]>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err}");
            ExitCode::FAILURE
        }
    }
}

pub type Result<T = ()> = std::result::Result<T, String>;

/// Runs a command, failing with its name when it fails.
pub fn run_command(command: &mut Command) -> Result {
    let status = command.status().map_err(|e| format!("could not run {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed with {status}"))
    }
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn test(extra: &[String]) -> Result {
    let root = bokbasen_e2e::workspace_root();
    run_command(cargo().args(["build", "-p", "terraform-provider-bokbasen"]).current_dir(&root))?;
    run_command(cargo().args(["test", "--workspace"]).args(extra).current_dir(&root))
}
