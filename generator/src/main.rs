//! `bokbasen`: the command line. Parsing, prompts, progress and output
//! live here; what each command does lives in the library.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context as _, Result};
use bokbasen_generator::catalogue::{Catalogue, Template};
use bokbasen_generator::config;
use bokbasen_generator::graph::{self, Format};
use bokbasen_generator::inputs::{self, Given, InputSpec};
use bokbasen_generator::render::Renderer;
use bokbasen_generator::secret::{self, SecretTarget};
use bokbasen_generator::service::{self, Rendered};
use bokbasen_generator::update::{self, UpdateReport, UpdateRequest};
use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};

/// Exit code of an update that left conflicts to resolve.
const EXIT_CONFLICTS: u8 = 3;

#[derive(Parser)]
#[command(name = "bokbasen", version, about = "A new microservice's release pipeline, configuration and secrets, from a template.", long_about = None)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// Template catalogue folder (default: the catalogue built into bokbasen).
    #[arg(long, global = true, env = "BOKBASEN_TEMPLATES", value_name = "DIR")]
    templates: Option<PathBuf>,
    /// The platform repository: services live in DIR/services/<service>/.
    #[arg(long, global = true, default_value = ".", value_name = "DIR")]
    out: PathBuf,
    /// Machine-readable output (JSON on stdout).
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// List the templates, or show one with its inputs.
    #[command(
        after_help = "Examples:\n  bokbasen templates\n  bokbasen templates show fargate-service\n  bokbasen templates show lambda-function --json"
    )]
    Templates {
        #[command(subcommand)]
        show: Option<TemplatesCommand>,
    },
    /// Generate a new service's Terraform module from a template.
    #[command(
        after_help = "Examples:\n  bokbasen new fargate-service ebook-api --values ebook-api.yml\n  bokbasen new lambda-function isbn-lookup --set team=catalogue --set test_account=222222222222 ...\n  bokbasen new static-site school-portal --values answers.yml --dry-run --json\n\nMissing inputs are asked for on a terminal; elsewhere they are an error naming each."
    )]
    New {
        /// Template name (see `bokbasen templates`).
        template: String,
        /// The service's name: lowercase letters, digits and `-`, e.g. ebook-api.
        service: String,
        /// An input value, NAME=VALUE (lists: a,b,c). Repeatable; wins over --values.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        /// A YAML file of input values.
        #[arg(long, value_name = "FILE")]
        values: Option<PathBuf>,
        /// Replace an existing service folder (its edits are lost).
        #[arg(long)]
        force: bool,
        /// Render and check, write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Upgrade services to the catalogue's template version, keeping local edits.
    #[command(
        after_help = "Examples:\n  bokbasen update ebook-api\n  bokbasen update ebook-api --to 1.1.0 --dry-run\n  bokbasen update --all --allow-major\n\nConflicting edits get conflict markers and are listed; the exit code is 3 until they are resolved."
    )]
    Update {
        /// The service to update (or --all).
        #[arg(required_unless_present = "all")]
        service: Option<String>,
        /// Every service under --out.
        #[arg(long, conflicts_with = "service")]
        all: bool,
        /// The version to update to; the catalogue must have it.
        #[arg(long, value_name = "VERSION")]
        to: Option<semver::Version>,
        /// Allow a new major version.
        #[arg(long)]
        allow_major: bool,
        /// Values for inputs the new version adds, NAME=VALUE.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        /// Show what would change, write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// List services whose template is behind the catalogue.
    #[command(after_help = "Examples:\n  bokbasen outdated\n  bokbasen outdated --out ../platform --json")]
    Outdated,
    /// A service's configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// A service's secrets in SSM (values only ever from stdin or a hidden prompt).
    Secret {
        #[command(subcommand)]
        command: SecretCommand,
    },
    /// Draw a service's pipeline: stages, actions, accounts, approval gates.
    #[command(
        after_help = "Examples:\n  bokbasen graph ebook-api --format mermaid\n  bokbasen graph ebook-api --format svg --output ebook-api.svg\n  bokbasen graph ebook-api --format dot | dot -Tpng > ebook-api.png"
    )]
    Graph {
        service: String,
        #[arg(long, value_enum, default_value = "mermaid")]
        format: Format,
        /// Write to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum TemplatesCommand {
    /// One template: description, version and every input.
    Show { name: String },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Write {service}.yml and {service}-{env}.yml into a Spring Cloud Config git repository and commit them.
    #[command(
        after_help = "Examples:\n  bokbasen config publish ebook-api --config-repo ../config-repo\n  bokbasen config publish ebook-api --env test --config-repo ../config-repo --author 'Kari <kari@example.org>'"
    )]
    Publish {
        service: String,
        /// One environment (default: all of the service's).
        #[arg(long = "env", value_name = "ENV")]
        environment: Option<String>,
        /// The Spring Cloud Config git repository (a local clone).
        #[arg(long, value_name = "PATH")]
        config_repo: PathBuf,
        /// A folder inside the repository, as in the server's search-paths.
        #[arg(long, value_name = "DIR")]
        path: Option<PathBuf>,
        /// Commit author, "Name <email>" (default: git's configured identity).
        #[arg(long)]
        author: Option<String>,
        /// Show the files and message, write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum SecretCommand {
    /// Store a secret as an SSM SecureString; the value comes from stdin, or a hidden prompt on a terminal.
    #[command(
        after_help = "Examples:\n  printf %s \"$DB_PASSWORD\" | bokbasen secret set ebook-api test spring.datasource.password\n  bokbasen secret set ebook-api production runscope-trigger      # prompts, without echo\n\nThe value is never an argument: arguments show in `ps` and shell history."
    )]
    Set {
        service: String,
        environment: String,
        key: String,
        /// KMS key id, ARN or alias.
        #[arg(long, default_value = secret::DEFAULT_KMS_KEY)]
        kms_key: String,
        /// SSM path prefix (Spring's default: /config).
        #[arg(long)]
        prefix: Option<String>,
        /// Read and check the value, say where it would go, store nothing.
        #[arg(long)]
        dry_run: bool,
        /// A value given as an argument, accepted only to refuse it without echoing it.
        #[arg(hide = true, num_args = 0..)]
        value_argument: Vec<String>,
        /// As `value_argument`, for the `--value` a user may guess.
        #[arg(long = "value", hide = true, num_args = 0..=1)]
        value_option: Option<Option<String>>,
    },
    /// A service's secrets in one environment: names and versions, never values.
    #[command(
        after_help = "Examples:\n  bokbasen secret list ebook-api test\n  bokbasen secret list ebook-api production --json"
    )]
    List {
        service: String,
        environment: String,
        #[arg(long)]
        prefix: Option<String>,
    },
}

fn main() -> ExitCode {
    // Output piped into `head` ends quietly, as other command-line tools do,
    // instead of panicking on the closed pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let global = &cli.global;
    match cli.command {
        Command::Templates { show: None } => templates(global),
        Command::Templates { show: Some(TemplatesCommand::Show { name }) } => show(global, &name),
        Command::New { template, service, set, values, force, dry_run } => {
            new(global, &template, &service, &set, values.as_deref(), force, dry_run)
        }
        Command::Update { service, all, to, allow_major, set, dry_run } => {
            let given = Given::default().with_sets(&set)?;
            let request = UpdateRequest { to: to.as_ref(), allow_major, dry_run, given: &given };
            update(global, service.as_deref(), all, &request)
        }
        Command::Outdated => outdated(global),
        Command::Config {
            command: ConfigCommand::Publish { service, environment, config_repo, path, author, dry_run },
        } => {
            let folder = existing_service(global, &service)?;
            let request = config::PublishRequest {
                environment: environment.as_deref(),
                repository: &config_repo,
                subfolder: path.as_deref(),
                author: author.as_deref(),
                dry_run,
            };
            let published = config::publish(&folder, &request)?;
            if global.json {
                println!("{}", serde_json::to_string_pretty(&published)?);
            } else {
                match &published.commit {
                    Some(commit) => {
                        println!("Committed {} to {}: {}", published.files.join(", "), config_repo.display(), commit)
                    }
                    None if dry_run => {
                        println!("Would write {} and commit:\n\n{}", published.files.join(", "), published.message)
                    }
                    None => println!("{} already holds this configuration; nothing to commit.", config_repo.display()),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Secret {
            command:
                SecretCommand::Set { service, environment, key, kms_key, prefix, dry_run, value_argument, value_option },
        } => {
            if !value_argument.is_empty() || value_option.is_some() {
                bail!(
                    "`secret set` takes the value from stdin or a hidden prompt, never as an argument: arguments show in \
                     `ps` and stay in shell history. Nothing was stored and the argument is not repeated here; treat \
                     the value as exposed and remove it from your shell history.\n\
                     Fix: printf %s \"$VALUE\" | bokbasen secret set {service} {environment} {key}"
                );
            }
            let target = SecretTarget::new(&service, &environment, &key, prefix.as_deref())?;
            let value = if std::io::stdin().is_terminal() {
                dialoguer::Password::new()
                    .with_prompt(format!("Value of {}", target.name()))
                    .with_confirmation("Again", "The two entries differ")
                    .interact()
                    .map_err(|e| anyhow!("reading the secret: {e}"))?
            } else {
                secret::value_from_reader(std::io::stdin().lock())?
            };
            if dry_run {
                secret::check(&value)?;
                println!("Would store {} (SecureString, {kms_key}).", target.name());
                return Ok(ExitCode::SUCCESS);
            }
            let outcome = runtime()?.block_on(secret::set(&target, &value, &kms_key))?;
            drop(value);
            if global.json {
                println!("{}", serde_json::to_string_pretty(&outcome)?);
            } else {
                println!("Stored {} (SecureString, {}), version {}.", outcome.name, outcome.kms_key, outcome.version);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Secret { command: SecretCommand::List { service, environment, prefix } } => {
            let target = SecretTarget::new(&service, &environment, "", prefix.as_deref())?;
            let listed = runtime()?.block_on(secret::list(&target))?;
            if global.json {
                println!("{}", serde_json::to_string_pretty(&listed)?);
            } else if listed.is_empty() {
                println!("No secrets under {}/.", target.location.path());
            } else {
                println!("{:<40} {:>7}  LAST MODIFIED", "KEY", "VERSION");
                for s in listed {
                    println!("{:<40} {:>7}  {}", s.key, s.version, s.last_modified.unwrap_or_default());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Graph { service, format, output } => {
            let folder = existing_service(global, &service)?;
            let path = folder.join(service::SERVICE_SPEC);
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let spec = graph::parse_spec(&text).with_context(|| path.display().to_string())?;
            let picture = graph::draw(&spec, format);
            match output {
                Some(file) => service::write_file(&file, &picture)?,
                None => print!("{picture}"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")
}

fn catalogue(global: &Global) -> Result<Catalogue> {
    Catalogue::load(global.templates.as_deref())
}

fn existing_service(global: &Global, name: &str) -> Result<PathBuf> {
    let folder = service::folder(&global.out, name)?;
    if !folder.join(service::ANSWERS).is_file() {
        bail!(
            "no service `{name}` under {}; pass --out to the platform repository that has services/{name}/",
            global.out.display()
        );
    }
    Ok(folder)
}

fn templates(global: &Global) -> Result<ExitCode> {
    let catalogue = catalogue(global)?;
    if global.json {
        let list: Vec<Value> = catalogue
            .templates
            .values()
            .map(|t| json!({ "name": t.manifest.name, "version": t.manifest.version.to_string(), "kind": t.manifest.kind, "description": t.manifest.description }))
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        for t in catalogue.templates.values() {
            println!("{:<18} {:<8} {}", t.manifest.name, t.manifest.version, t.manifest.description);
        }
        println!("\n`bokbasen templates show NAME` lists a template's inputs.");
    }
    Ok(ExitCode::SUCCESS)
}

fn show(global: &Global, name: &str) -> Result<ExitCode> {
    let catalogue = catalogue(global)?;
    let template = catalogue.get(name)?;
    let manifest = &template.manifest;
    if global.json {
        println!("{}", serde_json::to_string_pretty(manifest)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} {} ({} pipeline)\n{}\n\nInputs:",
        manifest.name, manifest.version, manifest.kind, manifest.description
    );
    for input in &manifest.inputs {
        let need = match &input.default {
            None => "required".to_string(),
            Some(default) => format!("default {}", inputs::example_text(default)),
        };
        println!("  {} ({}, {need})", input.name, serde_json::to_value(input.kind)?.as_str().unwrap_or_default());
        println!("      {}", input.description);
        if !input.allowed.is_empty() {
            println!("      one of: {}", input.allowed.join(", "));
        }
        if let Some(pattern) = &input.pattern {
            println!("      pattern: {pattern}");
        }
        println!("      e.g. --set {}={}", input.name, inputs::example_text(&input.example));
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks for a missing input on a terminal; elsewhere it stays missing (and is reported).
fn prompt(spec: &InputSpec) -> Result<Option<Value>> {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Ok(None);
    }
    loop {
        let text: String = dialoguer::Input::new()
            .with_prompt(format!("{} ({}; e.g. {})", spec.name, spec.description, inputs::example_text(&spec.example)))
            .interact_text()
            .map_err(|e| anyhow!("reading input `{}`: {e}", spec.name))?;
        match spec.parse(&text) {
            Ok(value) => return Ok(Some(value)),
            Err(e) => eprintln!("{e}"),
        }
    }
}

fn new(
    global: &Global,
    template_name: &str,
    service_name: &str,
    sets: &[String],
    values: Option<&Path>,
    force: bool,
    dry_run: bool,
) -> Result<ExitCode> {
    let folder = service::folder(&global.out, service_name)?;
    let catalogue = catalogue(global)?;
    let template = catalogue.get(template_name)?;
    // Before any prompt: an occupied folder is known now.
    service::check_free(&folder, force)?;
    let mut given = Given::default();
    if let Some(file) = values {
        given = given.with_file(file)?;
    }
    let given = given.with_sets(sets)?;
    let values = inputs::resolve(&template.manifest.inputs, service_name, &given, &Default::default(), prompt)?;
    let rendered = render(template, service_name, values)?;
    let contents = rendered.folder_contents();
    if !dry_run {
        service::write_new(&folder, &contents, force)?;
    }
    if global.json {
        let files: Vec<&String> = rendered.files.keys().collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({ "service": service_name, "folder": folder, "template": template.manifest.name, "version": template.manifest.version.to_string(), "files": files, "written": !dry_run })
            )?
        );
    } else {
        let verb = if dry_run { "Would write" } else { "Wrote" };
        println!("{verb} {} from {} {}:", folder.display(), template.manifest.name, template.manifest.version);
        for path in rendered.files.keys() {
            println!("  {path}");
        }
        if !dry_run {
            println!("\nNext: review it, `terraform init && terraform plan` there, and `bokbasen graph {service_name}` to see its pipeline.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn render(template: &Template, service_name: &str, values: inputs::Values) -> Result<Rendered> {
    let renderer = Renderer::new(template)?;
    Rendered::render(template, &renderer, service_name, values)
}

/// A progress bar on a terminal, nothing in CI or a pipe.
fn progress(length: usize) -> indicatif::ProgressBar {
    let shown = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    if !shown {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(length as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}") {
        bar.set_style(style);
    }
    bar
}

fn update(global: &Global, service_name: Option<&str>, all: bool, request: &UpdateRequest) -> Result<ExitCode> {
    let catalogue = catalogue(global)?;
    let folders = if all {
        service::list(&global.out)?
    } else {
        vec![existing_service(global, service_name.unwrap_or_default())?]
    };
    let bar = progress(folders.len());
    let mut reports: Vec<UpdateReport> = Vec::new();
    let mut failures = Vec::new();
    let mut current = Vec::new();
    for folder in &folders {
        let name = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        bar.set_message(name.clone());
        let outcome = service::read_answers(folder)
            .and_then(|answers| catalogue.get(&answers.template).cloned())
            .and_then(|template| update::update(folder, &template, request, prompt));
        match outcome {
            Ok(Some(report)) => reports.push(report),
            Ok(None) => current.push(name),
            Err(e) if all => failures.push(format!("{name}: {e:#}")),
            Err(e) => return Err(e),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let conflicts: usize = reports.iter().map(|r| r.conflicts().len()).sum();
    if global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({ "updated": reports, "current": current, "failed": failures, "dry_run": request.dry_run })
            )?
        );
    } else {
        for report in &reports {
            println!("{}: {} {} → {}", report.service, report.template, report.from, report.to);
            for (path, outcome) in &report.files {
                println!(
                    "  {:<28} {path}",
                    serde_json::to_value(outcome)?.as_str().unwrap_or_default().replace('_', " ")
                );
            }
            for path in report.conflicts() {
                println!("  conflict to resolve: services/{}/{path} (look for <<<<<<< your edit)", report.service);
            }
        }
        for name in &current {
            println!("{name}: already at the catalogue's version");
        }
        for failure in &failures {
            eprintln!("failed: {failure}");
        }
    }
    if !failures.is_empty() {
        return Ok(ExitCode::FAILURE);
    }
    Ok(if conflicts > 0 { ExitCode::from(EXIT_CONFLICTS) } else { ExitCode::SUCCESS })
}

fn outdated(global: &Global) -> Result<ExitCode> {
    let catalogue = catalogue(global)?;
    let folders = service::list(&global.out)?;
    let bar = progress(folders.len());
    let mut rows = Vec::new();
    for folder in &folders {
        let answers = service::read_answers(folder)?;
        bar.set_message(answers.service.clone());
        let latest = catalogue.templates.get(&answers.template).map(|t| t.manifest.version.clone());
        if latest.as_ref() != Some(&answers.version) {
            rows.push(json!({
                "service": answers.service,
                "template": answers.template,
                "version": answers.version.to_string(),
                "latest": latest.map(|v| v.to_string()),
            }));
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if global.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else if rows.is_empty() {
        println!("All {} services are at their template's catalogue version.", folders.len());
    } else {
        println!("{:<30} {:<18} {:<9} LATEST", "SERVICE", "TEMPLATE", "VERSION");
        for row in &rows {
            println!(
                "{:<30} {:<18} {:<9} {}",
                row["service"].as_str().unwrap_or_default(),
                row["template"].as_str().unwrap_or_default(),
                row["version"].as_str().unwrap_or_default(),
                row["latest"].as_str().unwrap_or("(not in the catalogue)")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
