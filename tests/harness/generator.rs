//! The `bokbasen` CLI, built from this checkout, run the way a developer
//! runs it: its own working directory, no AWS settings but those given.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::tools::cargo_built;

/// `cargo build` of the CLI once per test process (a no-op when current).
pub fn bokbasen_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| cargo_built("bokbasen-generator", "bokbasen"))
}

/// What one `bokbasen` command did.
#[derive(Debug)]
pub struct CliRun {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CliRun {
    pub fn success(self) -> CliRun {
        assert_eq!(self.code, 0, "{self}");
        self
    }

    pub fn failure(self) -> CliRun {
        assert_ne!(self.code, 0, "expected a failure: {self}");
        self
    }
}

impl std::fmt::Display for CliRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "bokbasen {} exited {}\n--- stdout\n{}\n--- stderr\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }
}

/// Runs `bokbasen ARGS` in `dir` with `env` (and no other AWS or bokbasen
/// settings), feeding `stdin` (not a terminal, so nothing is prompted).
pub fn bokbasen(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> CliRun {
    let mut command = Command::new(bokbasen_binary());
    command.args(args).current_dir(dir).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("AWS_") || key.starts_with("BOKBASEN_") {
            command.env_remove(key.as_ref());
        }
    }
    command.env("AWS_EC2_METADATA_DISABLED", "true").env("HOME", dir);
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("run bokbasen");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    let output = child.wait_with_output().expect("wait for bokbasen");
    CliRun {
        args: args.iter().map(|a| a.to_string()).collect(),
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
