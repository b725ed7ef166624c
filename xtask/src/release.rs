//! `cargo xtask release VERSION [--registry-url URL] [--namespace NS] [--mirror HOST/NAMESPACE]`:
//! builds the provider and the `bokbasen` CLI in release mode for this
//! machine's platform and writes `dist/` (the `bokbasen-release` crate
//! makes each file):
//!
//! - `terraform-provider-bokbasen_VERSION_OS_ARCH.zip`, `..._manifest.json`,
//!   `..._SHA256SUMS` and its detached signature `..._SHA256SUMS.sig`, by the
//!   GPG key `BOKBASEN_GPG_KEY` names (passphrase in `BOKBASEN_GPG_PASSPHRASE`);
//! - `bokbasen_VERSION_OS_ARCH.tar.gz` (the CLI, its completions, its man
//!   page) and `bokbasen_VERSION_SHA256SUMS`;
//! - with `--registry-url`, `dist/registry/`: the provider registry protocol
//!   as static files for that URL, the provider at `HOST/NS/bokbasen` (NS
//!   defaults to `bokbasen`); with `--mirror`, `dist/mirror/`: a network mirror.
//!
//! Each binary is checked to need nothing beyond the system's C library.
//! Only this machine's platform is built: other targets need their Rust
//! standard library and a linker for them (README, "Installing").

use std::path::{Path, PathBuf};

use bokbasen_e2e::workspace_root;
use bokbasen_release::sign::SigningKey;
use bokbasen_release::{check_version, cli, linkage, mirror, package, registry, Platform};

use crate::{cargo, run_command, Result};

const USAGE: &str =
    "usage: cargo xtask release VERSION [--registry-url https://HOST[/PATH]] [--namespace NS] [--mirror HOST/NAMESPACE]";

struct Options {
    version: String,
    registry_url: Option<String>,
    namespace: String,
    mirror: Option<(String, String)>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let mut args = args.iter();
        let version = args.next().filter(|v| !v.starts_with("--")).ok_or(USAGE)?.clone();
        let mut options = Options { version, registry_url: None, namespace: "bokbasen".into(), mirror: None };
        while let Some(flag) = args.next() {
            let mut value = || args.next().cloned().ok_or_else(|| format!("{flag} needs a value; {USAGE}"));
            match flag.as_str() {
                "--registry-url" => options.registry_url = Some(value()?),
                "--namespace" => options.namespace = value()?,
                "--mirror" => {
                    let address = value()?;
                    let (host, namespace) = address
                        .split_once('/')
                        .filter(|(host, namespace)| {
                            !host.is_empty() && !namespace.is_empty() && !namespace.contains('/')
                        })
                        .ok_or_else(|| {
                            format!("--mirror {address:?} must be HOST/NAMESPACE, e.g. registry.example.com/platform")
                        })?;
                    options.mirror = Some((host.to_owned(), namespace.to_owned()));
                }
                other => return Err(format!("unknown option {other:?}; {USAGE}")),
            }
        }
        Ok(options)
    }
}

pub fn run(args: &[String]) -> Result {
    let options = Options::parse(args)?;
    check_version(&options.version)?;
    // Everything that can be refused is, before a build of a quarter of an hour.
    let key = SigningKey::from_env()?;
    let public_key = key.public_key()?;
    let platform = Platform::host().ok_or("this machine's platform is not one Terraform installs providers for")?;

    let root = workspace_root();
    eprintln!("xtask: building the provider and the CLI for release ({platform})");
    run_command(
        cargo()
            .args(["build", "--release", "-p", "terraform-provider-bokbasen", "-p", "bokbasen-generator"])
            .current_dir(&root),
    )?;
    let release = root.join("target").join("release");
    let provider = release.join("terraform-provider-bokbasen");
    let cli_binary = release.join("bokbasen");
    for binary in [&provider, &cli_binary] {
        let libraries = linkage::check_portable(binary)?;
        eprintln!("xtask: {} links {}", binary.display(), libraries.join(", "));
    }

    let dist = root.join("dist");
    let packages = package::write(&dist, &options.version, &[(platform, &provider)])?;
    key.sign_detached(&packages.sums)?;
    let archive = cli::write_archive(&dist, &options.version, platform, &cli_binary)?;

    let mut written: Vec<PathBuf> = packages.zips.iter().map(|z| z.path.clone()).collect();
    written.extend([packages.manifest.clone(), packages.sums.clone(), packages.signature(), archive]);
    written.push(dist.join(format!("bokbasen_{}_SHA256SUMS", options.version)));
    if let Some(url) = &options.registry_url {
        let tree = registry::write_static(&dist.join("registry"), url, &options.namespace, &packages, &public_key)?;
        eprintln!("xtask: registry for {url} in {} (serve .well-known/ at the host's root)", tree.display());
    }
    if let Some((host, namespace)) = &options.mirror {
        let at = mirror::write_network(&dist.join("mirror"), host, namespace, &packages)?;
        eprintln!("xtask: network mirror of {host}/{namespace}/bokbasen in {}", at.display());
    }
    println!("dist/ for {} ({platform}), signed by GPG key {}:", options.version, public_key.key_id);
    for file in written {
        println!("  {:<60}{:>10}", file_name(&file), size(&file));
    }
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn size(path: &Path) -> String {
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() >= 1 << 20 => format!("{:.1} MiB", meta.len() as f64 / (1 << 20) as f64),
        Ok(meta) => format!("{:.1} KiB", meta.len() as f64 / 1024.0),
        Err(_) => "missing".into(),
    }
}
