//! `cargo xtask release VERSION [--platforms P,…] [--registry-url URL] [--namespace NS] [--mirror HOST/NAMESPACE]`:
//! builds the provider and the `bokbasen` CLI in release mode for each
//! platform (default linux_amd64 and linux_arm64, with `cross`: zig,
//! against glibc 2.17) and writes `dist/` (the `bokbasen-release` crate
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
//! Each binary is checked to need nothing beyond the system's C library,
//! and no glibc newer than 2.17. darwin is not built (zig links no macOS
//! frameworks); a darwin zip already in `dist/` joins the sums (README,
//! "Installing").

use std::path::{Path, PathBuf};

use bokbasen_e2e::workspace_root;
use bokbasen_release::sign::SigningKey;
use bokbasen_release::{check_version, cli, linkage, mirror, package, registry, Platform};

use crate::cross::{Cross, OLDEST_GLIBC};
use crate::Result;

const USAGE: &str = "usage: cargo xtask release VERSION [--platforms linux_amd64,linux_arm64] [--registry-url https://HOST[/PATH]] [--namespace NS] [--mirror HOST/NAMESPACE]";

struct Options {
    version: String,
    platforms: Vec<Platform>,
    registry_url: Option<String>,
    namespace: String,
    mirror: Option<(String, String)>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let mut args = args.iter();
        let version = args.next().filter(|v| !v.starts_with("--")).ok_or(USAGE)?.clone();
        let mut options = Options {
            version,
            platforms: vec![Platform::LINUX_AMD64, Platform::LINUX_ARM64],
            registry_url: None,
            namespace: "bokbasen".into(),
            mirror: None,
        };
        while let Some(flag) = args.next() {
            let mut value = || args.next().cloned().ok_or_else(|| format!("{flag} needs a value; {USAGE}"));
            match flag.as_str() {
                "--registry-url" => options.registry_url = Some(value()?),
                "--platforms" => {
                    let names = value()?;
                    options.platforms = names
                        .split(',')
                        .map(|name| {
                            Platform::named(name).ok_or_else(|| {
                                format!("--platforms: {name:?} is not one of linux_amd64, linux_arm64, darwin_amd64, darwin_arm64")
                            })
                        })
                        .collect::<Result<_>>()?;
                }
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
    let host = Platform::host().ok_or("this machine's platform is not one Terraform installs providers for")?;
    if !options.platforms.contains(&host) {
        return Err(format!(
            "--platforms must include this machine's {host}: its CLI writes the completions and man page"
        ));
    }
    for platform in &options.platforms {
        crate::cross::target(*platform)?;
    }

    let cross = Cross::install(&options.platforms)?;
    let mut built = Vec::new();
    for platform in &options.platforms {
        eprintln!(
            "xtask: building the provider and the CLI for release ({platform}, glibc {}.{})",
            OLDEST_GLIBC.0, OLDEST_GLIBC.1
        );
        let folder = cross.build(*platform, &["terraform-provider-bokbasen", "bokbasen-generator"])?;
        let (provider, cli) = (folder.join("terraform-provider-bokbasen"), folder.join("bokbasen"));
        for binary in [&provider, &cli] {
            let linkage = linkage::check_portable(binary, Some(OLDEST_GLIBC))?;
            eprintln!("xtask: {} needs {linkage}", binary.display());
        }
        built.push((*platform, provider, cli));
    }

    let root = workspace_root();
    let dist = root.join("dist");
    let providers: Vec<(Platform, &Path)> = built.iter().map(|(p, provider, _)| (*p, provider.as_path())).collect();
    let packages = package::write(&dist, &options.version, &providers)?;
    key.sign_detached(&packages.sums)?;
    let runnable = built.iter().find(|(p, _, _)| *p == host).map(|(_, _, cli)| cli.clone()).expect("the host is built");
    let mut archives = Vec::new();
    for (platform, _, cli) in &built {
        archives.push(cli::write_archive(&dist, &options.version, *platform, cli, &runnable)?);
    }

    let mut written: Vec<PathBuf> = packages.zips.iter().map(|z| z.path.clone()).collect();
    written.extend([packages.manifest.clone(), packages.sums.clone(), packages.signature()]);
    written.extend(archives);
    written.push(dist.join(format!("bokbasen_{}_SHA256SUMS", options.version)));
    if let Some(url) = &options.registry_url {
        let tree = registry::write_static(&dist.join("registry"), url, &options.namespace, &packages, &public_key)?;
        eprintln!("xtask: registry for {url} in {} (serve .well-known/ at the host's root)", tree.display());
    }
    if let Some((host, namespace)) = &options.mirror {
        let at = mirror::write_network(&dist.join("mirror"), host, namespace, &packages)?;
        eprintln!("xtask: network mirror of {host}/{namespace}/bokbasen in {}", at.display());
    }
    let platforms: Vec<String> = packages.zips.iter().map(|z| z.platform.to_string()).collect();
    println!("dist/ for {} ({}), signed by GPG key {}:", options.version, platforms.join(", "), public_key.key_id);
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
