//! Running the real Terraform CLI against the freshly built provider.
//!
//! The provider is installed into a filesystem mirror (the layout
//! `terraform init` reads offline) under `target/e2e/`, and every run gets its
//! own CLI configuration, `HOME` and plugin directory: nothing is read from
//! or written to the user's `~/.terraformrc` or `~/.terraform.d`.

use std::collections::BTreeSet;
use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::local_aws::{Denial, EndpointLink, LocalAws, EXAMPLE_KEYS};
use crate::tools::{cargo_built, target_dir, workspace_root, TerraformBinary};

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
        MIRROR.get_or_init(|| ProviderMirror::install(&provider_binary()))
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

/// `cargo build` of the provider binary, so tests never run a stale one;
/// its path (`BOKBASEN_PROVIDER_BIN` names another).
pub fn provider_binary() -> PathBuf {
    if let Some(binary) = std::env::var_os("BOKBASEN_PROVIDER_BIN") {
        return PathBuf::from(binary);
    }
    cargo_built(PROVIDER_BINARY, PROVIDER_BINARY)
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
        let mut running = self.start(args, extra);
        let mut stdin = running.child.stdin.take().expect("piped stdin");
        stdin.write_all(input.unwrap_or_default().as_bytes()).expect("write terraform's stdin");
        drop(stdin);
        running.wait()
    }

    /// Starts `terraform ARGS` as [`WorkDir::run`] would, without waiting:
    /// for tests that stop Terraform or its provider mid-command. Stdin is
    /// closed.
    pub fn spawn(&self, args: &[&str]) -> RunningTerraform {
        self.spawn_with_env(args, &[])
    }

    /// [`WorkDir::spawn`] with extra variables for this command only, as
    /// [`WorkDir::run_with_env`].
    pub fn spawn_with_env(&self, args: &[&str], extra: &[(&str, &str)]) -> RunningTerraform {
        let mut running = self.start(args, extra);
        drop(running.child.stdin.take());
        running
    }

    /// The one place a Terraform process is started: a clean,
    /// self-contained environment, stdout and stderr read as it runs (a
    /// full pipe would stall it), stdin left to the caller.
    fn start(&self, args: &[&str], extra: &[(&str, &str)]) -> RunningTerraform {
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
        let stdout = read_in_background(child.stdout.take().expect("piped stdout"));
        let stderr = read_in_background(child.stderr.take().expect("piped stderr"));
        RunningTerraform {
            child,
            args: args.iter().map(|a| a.to_string()).collect(),
            stdout,
            stderr,
            endpoint: self.endpoint,
            denied_before,
            providers_seen: BTreeSet::new(),
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

/// A Terraform command started by [`WorkDir::spawn`] and not yet waited for.
pub struct RunningTerraform {
    child: Child,
    args: Vec<String>,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
    endpoint: Option<EndpointLink>,
    /// How many denials the endpoint had recorded when the command started.
    denied_before: usize,
    /// Every provider process found so far: once Terraform is killed they
    /// are no longer its descendants, yet still to be killed.
    providers_seen: BTreeSet<u32>,
}

impl RunningTerraform {
    /// Terraform's process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The bokbasen provider processes Terraform started and that still run:
    /// its descendants whose executable's name starts with
    /// `terraform-provider-bokbasen`.
    pub fn provider_pids(&mut self) -> Vec<u32> {
        let found = descendants(self.pid()).into_iter().filter(|&pid| is_provider(pid)).collect::<Vec<_>>();
        self.providers_seen.extend(&found);
        found
    }

    /// Waits up to `timeout` until Terraform has started a provider; its
    /// process IDs, or an empty list when none came.
    pub fn wait_for_providers(&mut self, timeout: Duration) -> Vec<u32> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self.provider_pids();
            if !found.is_empty() || Instant::now() >= deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILLs Terraform, which can then neither clean up nor stop its
    /// providers: what a lost CI runner does. Terraform 1.0 re-executes
    /// itself under panicwrap: the process started only waits, its child
    /// does the work and starts the providers; both are killed, the worker
    /// first (killed after its parent, it could no longer be found under
    /// it). The providers found by then are remembered for
    /// [`RunningTerraform::kill_providers`]. Returns the process IDs killed.
    pub fn kill_terraform(&mut self) -> Vec<u32> {
        self.provider_pids();
        let root = self.pid();
        let terraform = executable(root);
        let mut killed: Vec<u32> =
            descendants(root).into_iter().filter(|&pid| terraform.is_some() && executable(pid) == terraform).collect();
        for &pid in &killed {
            sigkill(pid);
        }
        // `Child::kill` is SIGKILL on Unix; the child is not reaped until `wait`.
        let _ = self.child.kill();
        killed.push(root);
        killed
    }

    /// SIGKILLs every provider process found now or before (by
    /// [`RunningTerraform::provider_pids`] or the kill of Terraform); those
    /// gone already are skipped, and a process ID taken since by another
    /// program is left alone.
    pub fn kill_providers(&mut self) {
        self.provider_pids();
        for &pid in &self.providers_seen {
            if is_running(pid) && is_provider(pid) {
                sigkill(pid);
            }
        }
    }

    /// Every provider process this command had (found by
    /// [`RunningTerraform::provider_pids`] or on a kill) that still runs.
    pub fn providers_running(&self) -> Vec<u32> {
        self.providers_seen.iter().copied().filter(|&pid| is_running(pid) && is_provider(pid)).collect()
    }

    /// Waits for Terraform to end (killed or not); what it did. A killed
    /// Terraform's `code` is -1.
    pub fn wait(mut self) -> TerraformRun {
        let status = self.child.wait().expect("wait for terraform");
        let stdout = self.stdout.join().expect("read terraform's stdout");
        let stderr = self.stderr.join().expect("read terraform's stderr");
        TerraformRun {
            args: self.args,
            code: status.code().unwrap_or(-1),
            stdout,
            stderr,
            // Those recorded since the run began (a count, as the launcher keeps them oldest first).
            denials: self
                .endpoint
                .map(|e| e.denials().into_iter().skip(self.denied_before).collect())
                .unwrap_or_default(),
            unsigned: self.endpoint.is_none(),
        }
    }
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// `/proc/PID/stat`'s fields after the command name: state, parent, ….
/// The name is in parentheses and may hold spaces, so split after the last `)`.
fn proc_stat(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Whether `pid` is a process that has not ended: a zombie has, and only
/// waits for its parent to reap it.
fn is_running(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|fields| fields.first().map(String::as_str) != Some("Z"))
}

/// Every process below `root` in the process tree, as /proc has it now.
fn descendants(root: u32) -> Vec<u32> {
    let mut children: std::collections::BTreeMap<u32, Vec<u32>> = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if let Some(parent) = proc_stat(pid).and_then(|f| f.get(1).and_then(|p| p.parse::<u32>().ok())) {
            children.entry(parent).or_default().push(pid);
        }
    }
    let mut found = Vec::new();
    let mut next = vec![root];
    while let Some(pid) = next.pop() {
        for &child in children.get(&pid).map(Vec::as_slice).unwrap_or_default() {
            found.push(child);
            next.push(child);
        }
    }
    found
}

/// Whether `pid` runs the provider binary (installed by `terraform init` as
/// `terraform-provider-bokbasen_vVERSION`).
fn is_provider(pid: u32) -> bool {
    executable(pid)
        .and_then(|path| path.file_name().map(|name| name.to_string_lossy().into_owned()))
        .is_some_and(|name| name.starts_with(PROVIDER_BINARY))
}

/// The executable `pid` runs. `/proc/PID/comm` is cut at 15 characters, so
/// the executable's path is read, or failing that argv[0].
fn executable(pid: u32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok().or_else(|| {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let argv0 = cmdline.split(|&b| b == 0).next()?;
        Some(PathBuf::from(String::from_utf8_lossy(argv0).into_owned()))
    })
}

fn sigkill(pid: u32) {
    // SAFETY: kill(2) with a process ID and a signal number has no memory effects.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
}
