//! The command line of the `bokbasen` binary; it belongs to the binary, not
//! to the `bokbasen_generator` library, whose modules do the work.
//!
//! `args` is what clap parses; each command has a module that runs it and
//! returns a typed result (`output::Report`: JSON through `Serialize`, a text
//! form, an exit code), which `main` prints once; `terminal` is the prompts
//! and progress bars the commands use on a terminal.

pub mod args;
mod config;
mod explain;
mod graph;
mod manual;
mod new;
mod outdated;
pub mod output;
mod secret;
mod templates;
mod terminal;
mod update;

use std::path::PathBuf;

use anyhow::{bail, Result};
use bokbasen_generator::catalogue::Catalogue;
use bokbasen_generator::service;

use args::{Cli, Command, ConfigCommand, Global, SecretCommand, TemplatesCommand};
use output::Print;

/// Runs the command `cli` names; its result is printed by the caller.
pub fn run(cli: Cli) -> Result<Box<dyn Print>> {
    let global = &cli.global;
    Ok(match cli.command {
        Command::Templates { show: None } => Box::new(templates::list(global)?),
        Command::Templates { show: Some(TemplatesCommand::Show { name }) } => Box::new(templates::show(global, &name)?),
        Command::New(args) => Box::new(new::run(global, &args)?),
        Command::Update(args) => Box::new(update::run(global, &args)?),
        Command::Outdated => Box::new(outdated::run(global)?),
        Command::Config { command: ConfigCommand::Publish(args) } => Box::new(config::publish(global, &args)?),
        Command::Secret { command: SecretCommand::Set(args) } => secret::set(&args)?,
        Command::Secret { command: SecretCommand::List(args) } => Box::new(secret::list(&args)?),
        Command::Graph(args) => Box::new(graph::run(global, &args)?),
        Command::Explain(args) => Box::new(explain::run(global, &args)?),
        Command::Completions { shell } => Box::new(manual::completions(shell)),
        Command::Man => Box::new(manual::man_page()?),
    })
}

/// The catalogue `--templates` names, or the built-in one.
fn catalogue(global: &Global) -> Result<Catalogue> {
    Catalogue::load(global.templates.as_deref())
}

/// The folder of a service that exists under `--out`.
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
