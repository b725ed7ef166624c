//! Building release binaries for several Linux platforms from one machine,
//! against an old glibc so they run on old and new distributions alike:
//! `cargo zigbuild` with zig as the C compiler and linker. Installed on
//! demand, like `setup`'s tools: zig from PyPI (`ziglang`) into
//! `.tools/zig/`, cargo-zigbuild from crates.io into `.tools/cargo-zigbuild/`,
//! and each target's Rust standard library through rustup.

use std::path::PathBuf;
use std::process::Command;

use bokbasen_e2e::tools::{tools_dir, workspace_root};
use bokbasen_release::Platform;

use crate::{cargo, run_command, Result};

const ZIGLANG: &str = "ziglang==0.17.1";
const CARGO_ZIGBUILD: &str = "0.24.1";
/// The oldest glibc the binaries run on: 2.17 is Rust's own floor (CentOS 7,
/// Amazon Linux 2, Ubuntu 14.04 and everything after).
pub const OLDEST_GLIBC: (u32, u32) = (2, 17);

/// The Rust target of a Linux platform.
pub fn target(platform: Platform) -> Result<&'static str> {
    match platform {
        Platform::LINUX_AMD64 => Ok("x86_64-unknown-linux-gnu"),
        Platform::LINUX_ARM64 => Ok("aarch64-unknown-linux-gnu"),
        other => Err(format!("{other} is not built: zig links Linux binaries only (no macOS frameworks)")),
    }
}

/// The tools, installed.
pub struct Cross {
    zigbuild: PathBuf,
    /// The folder holding `zig`, put first on PATH for cargo-zigbuild.
    zig_dir: PathBuf,
}

impl Cross {
    pub fn install(platforms: &[Platform]) -> Result<Cross> {
        let targets = platforms.iter().map(|p| target(*p)).collect::<Result<Vec<_>>>()?;
        let venv = tools_dir().join("zig");
        let python = venv.join("bin").join("python");
        if !python.exists() {
            eprintln!("xtask: installing zig ({ZIGLANG} from PyPI) into {}", venv.display());
            run_command(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        }
        run_command(Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            ZIGLANG,
        ]))?;
        let located = Command::new(&python)
            .args(["-c", "import os, ziglang; print(os.path.dirname(ziglang.__file__))"])
            .output()
            .map_err(|e| format!("find zig: {e}"))?;
        let zig_dir = PathBuf::from(String::from_utf8_lossy(&located.stdout).trim());
        if !zig_dir.join("zig").is_file() {
            return Err(format!("the {ZIGLANG} package holds no zig binary in {}", zig_dir.display()));
        }
        let root = tools_dir().join("cargo-zigbuild");
        let zigbuild = root.join("bin").join("cargo-zigbuild");
        let current = Command::new(&zigbuild).arg("--version").output().ok();
        if !current.is_some_and(|o| String::from_utf8_lossy(&o.stdout).contains(CARGO_ZIGBUILD)) {
            eprintln!("xtask: installing cargo-zigbuild {CARGO_ZIGBUILD} into {}", root.display());
            run_command(
                cargo()
                    .args(["install", "--quiet", "--locked", "cargo-zigbuild", "--version", CARGO_ZIGBUILD, "--root"])
                    .arg(&root),
            )?;
        }
        run_command(Command::new("rustup").args(["target", "add"]).args(&targets))?;
        Ok(Cross { zigbuild, zig_dir })
    }

    /// Builds `packages` in release mode for `platform` against [`OLDEST_GLIBC`];
    /// the folder holding the binaries.
    pub fn build(&self, platform: Platform, packages: &[&str]) -> Result<PathBuf> {
        let target = target(platform)?;
        let (major, minor) = OLDEST_GLIBC;
        let path = std::env::join_paths(
            std::iter::once(self.zig_dir.clone())
                .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
        )
        .map_err(|e| e.to_string())?;
        let mut build = Command::new(&self.zigbuild);
        build.args(["zigbuild", "--release", "--target", &format!("{target}.{major}.{minor}")]);
        for package in packages {
            build.args(["-p", package]);
        }
        run_command(build.env("PATH", path).current_dir(workspace_root()))?;
        Ok(release_dir(target))
    }
}

fn release_dir(target: &str) -> PathBuf {
    workspace_root().join("target").join(target).join("release")
}
