//! `cargo xtask publish-hcp VERSION [--organization ORG] [--dist DIR]`:
//! publishes the provider packages `cargo xtask release VERSION` left in
//! `dist/` to an HCP Terraform (or Terraform Enterprise) private registry,
//! in the documented sequence (`bokbasen_release::hcp`).
//!
//! From the environment: `TFE_TOKEN` (a token allowed to manage the private
//! registry; never printed), `TFE_HOSTNAME` (default `app.terraform.io`),
//! `TFE_ORGANIZATION` (or `--organization`), and `BOKBASEN_GPG_KEY`, the
//! key that signed the release, whose public half the registry needs.
//! The provider's address is then `TFE_HOSTNAME/ORG/bokbasen`.

use std::path::PathBuf;

use bokbasen_e2e::workspace_root;
use bokbasen_release::sign::SigningKey;
use bokbasen_release::{hcp, package};

use crate::Result;

const USAGE: &str = "usage: cargo xtask publish-hcp VERSION [--organization ORG] [--dist DIR]";

pub fn run(args: &[String]) -> Result {
    let mut args = args.iter();
    let version = args.next().filter(|v| !v.starts_with("--")).ok_or(USAGE)?.clone();
    let mut organization = std::env::var("TFE_ORGANIZATION").ok();
    let mut dist = workspace_root().join("dist");
    while let Some(flag) = args.next() {
        let value = args.next().cloned().ok_or_else(|| format!("{flag} needs a value; {USAGE}"))?;
        match flag.as_str() {
            "--organization" => organization = Some(value),
            "--dist" => dist = PathBuf::from(value),
            other => return Err(format!("unknown option {other:?}; {USAGE}")),
        }
    }
    let organization = organization.ok_or("name the organization: --organization ORG or TFE_ORGANIZATION")?;
    let hostname = std::env::var("TFE_HOSTNAME").unwrap_or_else(|_| "app.terraform.io".into());
    let token = std::env::var("TFE_TOKEN").map_err(|_| {
        "TFE_TOKEN is not set: a user or team token that may manage the organization's private registry".to_owned()
    })?;
    let packages = package::read(&dist, &version)?;
    if !packages.signature().exists() {
        return Err(format!(
            "{} is missing: `cargo xtask release {version}` signs the sums",
            packages.signature().display()
        ));
    }
    let key = SigningKey::from_env()?.public_key()?;
    let registry = hcp::Registry::new(&hostname, &organization, &token)?;
    let published = registry.publish(&packages, &key)?;
    for step in &published.steps {
        println!("{step}");
    }
    println!("published {hostname}/{organization}/bokbasen {version}");
    Ok(())
}
