//! Running the real Terraform CLI against the freshly built provider.
//!
//! The provider is installed into a filesystem mirror (the layout
//! `terraform init` reads offline) under `target/e2e/`, and every run gets its
//! own CLI configuration, `HOME` and plugin directory: nothing is read from
//! or written to the user's `~/.terraformrc` or `~/.terraform.d`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use crate::local_aws::{Denial, EndpointLink, LocalAws, EXAMPLE_KEYS};
use crate::tools::{workspace_root, TerraformBinary};

const PROVIDER_SOURCE: &str = "registry.terraform.io/bokbasen/bokbasen";
const PROVIDER_VERSION: &str = env!("CARGO_PKG_VERSION");
const PROVIDER_BINARY: &str = "terraform-provider-bokbasen";

/// The built provider, installed for Terraform. One per test process.
pub struct ProviderMirror {
    root: PathBuf,
    cli_config: PathBuf,
}

impl ProviderMirror {
    /// Builds the provider (a no-op when it is up to date) and installs it
    /// into this process's mirror.
    pub fn get() -> &'static ProviderMirror {
        static MIRROR: OnceLock<ProviderMirror> = OnceLock::new();
        MIRROR.get_or_init(|| ProviderMirror::install(&build_provider()))
    }

    fn install(binary: &Path) -> ProviderMirror {
        let e2e = target_dir().join("e2e");
        remove_stale_runs(&e2e);
        let root = e2e.join(format!("run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let platform_dir = root.join("mirror").join(PROVIDER_SOURCE).join(PROVIDER_VERSION).join("linux_amd64");
        std::fs::create_dir_all(&platform_dir).expect("create the provider mirror");
        std::fs::copy(binary, platform_dir.join(format!("{PROVIDER_BINARY}_v{PROVIDER_VERSION}")))
            .expect("copy the provider into the mirror");
        let cli_config = root.join("terraform.tfrc");
        let mirror = root.join("mirror");
        std::fs::write(
            &cli_config,
            format!(
                "provider_installation {{\n  filesystem_mirror {{\n    path    = {mirror:?}\n    include = [\"{PROVIDER_SOURCE}\"]\n  }}\n  direct {{\n    exclude = [\"{PROVIDER_SOURCE}\"]\n  }}\n}}\n",
                mirror = mirror.display().to_string()
            ),
        )
        .expect("write the Terraform CLI configuration");
        ProviderMirror { root, cli_config }
    }

    pub fn cli_config(&self) -> &Path {
        &self.cli_config
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"))
}

/// `cargo build` of the provider binary, so tests never run a stale one.
fn build_provider() -> PathBuf {
    if let Some(binary) = std::env::var_os("BOKBASEN_PROVIDER_BIN") {
        return PathBuf::from(binary);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", PROVIDER_BINARY, "--bin", PROVIDER_BINARY])
        .current_dir(workspace_root())
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building the provider failed");
    target_dir().join("debug").join(PROVIDER_BINARY)
}

/// Mirrors of test processes that have ended are removed.
fn remove_stale_runs(e2e: &Path) {
    let Ok(entries) = std::fs::read_dir(e2e) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(pid) = name.strip_prefix("run-") {
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// A Terraform working directory with its own `HOME`, driven by one CLI.
pub struct WorkDir {
    dir: tempfile::TempDir,
    /// Where Terraform runs, relative to `dir` (empty: `dir` itself).
    subdir: PathBuf,
    terraform: TerraformBinary,
    env: Vec<(String, String)>,
    unset: Vec<String>,
    /// The endpoint whose caller the runs sign as ([`WorkDir::aws`]).
    endpoint: Option<EndpointLink>,
}

/// What one Terraform command did.
pub struct TerraformRun {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// What the enforcing endpoint refused during this command, oldest
    /// first (always empty for a [`WorkDir`] not made for an endpoint).
    pub denials: Vec<Denial>,
    /// The run signed with keys no enforcing endpoint knows.
    unsigned: bool,
}

impl TerraformRun {
    /// Panics with the whole output unless the command succeeded and the
    /// enforcing endpoint refused it nothing. The message starts with each
    /// refusal (action, principal, resource, reason): a call the documented
    /// policy does not allow is a finding, whether or not Terraform failed
    /// on it (a refusal the provider swallowed would fail in AWS too).
    pub fn success(self) -> TerraformRun {
        assert!(self.code == 0 && self.denials.is_empty(), "{self}");
        self
    }

    /// Stdout and stderr together, as a user would see them.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Display for TerraformRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.denials.is_empty() {
            writeln!(f, "terraform {}: the enforcing endpoint refused:", self.args.join(" "))?;
            for denial in &self.denials {
                writeln!(f, "  DENIED {denial}")?;
            }
        }
        let output = self.output();
        if self.unsigned && (output.contains("InvalidClientTokenId") || output.contains("security token included")) {
            writeln!(
                f,
                "(this WorkDir signs with keys the enforcing endpoint does not know: make it with \
                 `LocalAws::workdir` or add `.aws(&aws)`)"
            )?;
        }
        write!(
            f,
            "terraform {} exited {}\n--- stdout\n{}\n--- stderr\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }
}

impl WorkDir {
    /// A working directory holding `files` (name, contents), signing with keys
    /// no enforcing endpoint knows: for configurations that reach no AWS
    /// endpoint (validation, schemas, an unreachable endpoint). Against the
    /// local endpoint use [`LocalAws::workdir`], which signs as its caller.
    pub fn new(terraform: &TerraformBinary, files: &[(&str, &str)]) -> WorkDir {
        let dir = tempfile::Builder::new().prefix("bokbasen-e2e-").tempdir().expect("create a working directory");
        for (name, contents) in files {
            std::fs::write(dir.path().join(name), contents).expect("write a configuration file");
        }
        std::fs::create_dir_all(dir.path().join(".home")).expect("create HOME");
        WorkDir {
            dir,
            subdir: PathBuf::new(),
            terraform: terraform.clone(),
            env: Vec::new(),
            unset: Vec::new(),
            endpoint: None,
        }
    }

    /// A working directory holding a copy of `examples/<name>/*.tf`, signing
    /// as nobody: see [`WorkDir::new`] and [`LocalAws::workdir_from_example`].
    pub fn from_example(terraform: &TerraformBinary, name: &str) -> WorkDir {
        let example = workspace_root().join("examples").join(name);
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&example).unwrap_or_else(|e| panic!("read {}: {e}", example.display())) {
            let path = entry.expect("directory entry").path();
            if path.extension().is_some_and(|e| e == "tf") {
                let name = path.file_name().expect("file name").to_string_lossy().to_string();
                files.push((name, std::fs::read_to_string(&path).expect("read example")));
            }
        }
        let files: Vec<(&str, &str)> = files.iter().map(|(n, c)| (n.as_str(), c.as_str())).collect();
        WorkDir::new(terraform, &files)
    }

    /// Runs Terraform in `subdir` of the working directory from now on (a
    /// generated service's folder, e.g. `services/ebook-api`).
    pub fn in_subdir(mut self, subdir: &str) -> WorkDir {
        self.subdir = PathBuf::from(subdir);
        self
    }

    /// Where Terraform runs.
    pub fn terraform_dir(&self) -> PathBuf {
        self.dir.path().join(&self.subdir)
    }

    /// Sets an environment variable for every later command.
    pub fn env(mut self, key: &str, value: &str) -> WorkDir {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Signs Terraform's AWS requests as `aws`'s caller
    /// ([`LocalAws::caller_keys`]): on an enforcing endpoint, the
    /// `bokbasen-terraform` user, holding only the test's caller policy. Each
    /// run then carries what the endpoint refused during it
    /// ([`TerraformRun::denials`]).
    pub fn aws(mut self, aws: &LocalAws) -> WorkDir {
        let keys = aws.caller_keys();
        self.endpoint = Some(aws.link());
        self.env("AWS_ACCESS_KEY_ID", &keys.id).env("AWS_SECRET_ACCESS_KEY", &keys.secret)
    }

    /// Removes a variable the harness would otherwise set (e.g. the access keys).
    pub fn without_env(mut self, key: &str) -> WorkDir {
        self.unset.push(key.to_string());
        self
    }

    /// The `HOME` Terraform and the provider see (for `~/.aws/config`).
    pub fn home(&self) -> PathBuf {
        self.dir.path().join(".home")
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn terraform(&self) -> &TerraformBinary {
        &self.terraform
    }

    /// Runs `terraform ARGS` with a clean, self-contained environment.
    pub fn run(&self, args: &[&str]) -> TerraformRun {
        self.run_with_env(args, &[])
    }

    /// [`WorkDir::run`] with extra variables for this command only (e.g. a
    /// `TF_VAR_` holding a secret, which must not be on a command line).
    pub fn run_with_env(&self, args: &[&str], extra: &[(&str, &str)]) -> TerraformRun {
        self.run_full(args, extra, None)
    }

    /// [`WorkDir::run`] with `input` on stdin (e.g. expressions for `terraform console`).
    pub fn run_with_input(&self, args: &[&str], input: &str) -> TerraformRun {
        self.run_full(args, &[], Some(input))
    }

    fn run_full(&self, args: &[&str], extra: &[(&str, &str)], input: Option<&str>) -> TerraformRun {
        let mirror = ProviderMirror::get();
        let mut command = Command::new(&self.terraform.path);
        command.args(args).current_dir(self.terraform_dir());
        // Nothing from the caller's AWS or Terraform set-up leaks in.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("AWS_") || key.starts_with("TF_") {
                command.env_remove(key.as_ref());
            }
        }
        command
            .env("HOME", self.home())
            .env("TF_CLI_CONFIG_FILE", mirror.cli_config())
            .env("TF_PLUGIN_CACHE_DIR", "")
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            // Keys no enforcing endpoint knows; `WorkDir::aws` gives its caller's.
            .env("AWS_ACCESS_KEY_ID", EXAMPLE_KEYS.0)
            .env("AWS_SECRET_ACCESS_KEY", EXAMPLE_KEYS.1)
            .env("AWS_EC2_METADATA_DISABLED", "true");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        for key in &self.unset {
            command.env_remove(key);
        }
        for (key, value) in extra {
            command.env(key, value);
        }
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let denied_before = self.endpoint.map(|e| e.denials().len()).unwrap_or(0);
        let mut child = command.spawn().expect("run terraform");
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(input.unwrap_or_default().as_bytes()).expect("write terraform's stdin");
        drop(stdin);
        let output: Output = child.wait_with_output().expect("wait for terraform");
        TerraformRun {
            args: args.iter().map(|a| a.to_string()).collect(),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).to_string(),
            // Those recorded since the run began (a count, as the launcher keeps them oldest first).
            denials: self.endpoint.map(|e| e.denials().into_iter().skip(denied_before).collect()).unwrap_or_default(),
            unsigned: self.endpoint.is_none(),
        }
    }

    pub fn init(&self) -> TerraformRun {
        self.run(&["init", "-input=false", "-no-color"]).success()
    }

    /// `terraform output -json`, parsed, as name → value.
    pub fn outputs(&self) -> serde_json::Map<String, serde_json::Value> {
        let run = self.run(&["output", "-json", "-no-color"]).success();
        let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("output -json is JSON");
        json.as_object()
            .expect("outputs object")
            .iter()
            .map(|(name, output)| (name.clone(), output["value"].clone()))
            .collect()
    }
}
