//! The command line as clap parses it: every command, argument, help text
//! and example. What a command does with its arguments is in its own module.

use std::path::PathBuf;

use bokbasen_generator::graph::Format;
use bokbasen_generator::secret;
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "bokbasen", version, about = "A new microservice's release pipeline, configuration and secrets, from a template.", long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args)]
pub struct Global {
    /// Template catalogue folder (default: the catalogue built into bokbasen).
    #[arg(long, global = true, env = "BOKBASEN_TEMPLATES", value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// The platform repository: services live in DIR/services/<service>/.
    #[arg(long, global = true, default_value = ".", value_name = "DIR")]
    pub out: PathBuf,
    /// Machine-readable output (JSON on stdout).
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum Command {
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
    New(NewArgs),
    /// Upgrade services to the catalogue's template version, keeping local edits.
    #[command(
        after_help = "Examples:\n  bokbasen update ebook-api\n  bokbasen update ebook-api --to 1.1.0 --dry-run\n  bokbasen update --all --allow-major\n\nConflicting edits get conflict markers and are listed; the exit code is 3 until they are resolved."
    )]
    Update(UpdateArgs),
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
    Graph(GraphArgs),
    /// Rehearse a release: per action, who runs it in which account and which policy statement allows each call AWS makes, or why it would be denied.
    #[command(
        after_help = "Examples:\n  bokbasen explain ebook-api\n  bokbasen explain ebook-api --json | jq '.steps[].calls[] | select(.allowed | not)'\n\nThe documents weighed are the ones bokbasen writes (roles, deploy targets, artifact store, ECR repository policy) and the AWS managed ones a release depends on. The exit code is 4 when a call would be denied."
    )]
    Explain(ExplainArgs),
    /// Print the shell completion script for SHELL.
    #[command(
        after_help = "Examples:\n  bokbasen completions bash > ~/.local/share/bash-completion/completions/bokbasen\n  bokbasen completions zsh > ~/.zfunc/_bokbasen    # a folder on $fpath\n  bokbasen completions fish > ~/.config/fish/completions/bokbasen.fish"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), from the same definitions as --help.
    #[command(
        after_help = "Examples:\n  bokbasen man | man -l -\n  bokbasen man > /usr/local/share/man/man1/bokbasen.1"
    )]
    Man,
}

#[derive(Subcommand)]
pub enum TemplatesCommand {
    /// One template: description, version and every input.
    Show { name: String },
}

// The argument structs below carry no doc comment of their own: the
// command's help text is the doc comment of its variant above.

#[derive(Args)]
pub struct NewArgs {
    /// Template name (see `bokbasen templates`).
    pub template: String,
    /// The service's name: lowercase letters, digits and `-`, e.g. ebook-api.
    pub service: String,
    /// An input value, NAME=VALUE (lists: a,b,c). Repeatable; wins over --values.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// A YAML file of input values.
    #[arg(long, value_name = "FILE")]
    pub values: Option<PathBuf>,
    /// Replace an existing service folder (its edits are lost).
    #[arg(long)]
    pub force: bool,
    /// Render and check, write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args)]
pub struct UpdateArgs {
    /// The service to update (or --all).
    #[arg(required_unless_present = "all")]
    pub service: Option<String>,
    /// Every service under --out.
    #[arg(long, conflicts_with = "service")]
    pub all: bool,
    /// The version to update to; the catalogue must have it.
    #[arg(long, value_name = "VERSION")]
    pub to: Option<semver::Version>,
    /// Allow a new major version.
    #[arg(long)]
    pub allow_major: bool,
    /// Values for inputs the new version adds, NAME=VALUE.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Show what would change, write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args)]
pub struct GraphArgs {
    pub service: String,
    #[arg(long, value_enum, default_value = "mermaid")]
    pub format: Format,
    /// Write to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Args)]
pub struct ExplainArgs {
    pub service: String,
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Write {service}.yml and {service}-{env}.yml into a Spring Cloud Config git repository and commit them.
    #[command(
        after_help = "Examples:\n  bokbasen config publish ebook-api --config-repo ../config-repo\n  bokbasen config publish ebook-api --env test --config-repo ../config-repo --author 'Kari <kari@example.org>'"
    )]
    Publish(PublishArgs),
}

#[derive(Args)]
pub struct PublishArgs {
    pub service: String,
    /// One environment (default: all of the service's).
    #[arg(long = "env", value_name = "ENV")]
    pub environment: Option<String>,
    /// The Spring Cloud Config git repository (a local clone).
    #[arg(long, value_name = "PATH")]
    pub config_repo: PathBuf,
    /// A folder inside the repository, as in the server's search-paths.
    #[arg(long, value_name = "DIR")]
    pub path: Option<PathBuf>,
    /// Commit author, "Name <email>" (default: git's configured identity).
    #[arg(long)]
    pub author: Option<String>,
    /// Show the files and message, write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Subcommand)]
pub enum SecretCommand {
    /// Store a secret as an SSM SecureString; the value comes from stdin, or a hidden prompt on a terminal.
    #[command(
        after_help = "Examples:\n  printf %s \"$DB_PASSWORD\" | bokbasen secret set ebook-api test spring.datasource.password\n  bokbasen secret set ebook-api production runscope-trigger      # prompts, without echo\n\nThe value is never an argument: arguments show in `ps` and shell history."
    )]
    Set(SetArgs),
    /// A service's secrets in one environment: names and versions, never values.
    #[command(
        after_help = "Examples:\n  bokbasen secret list ebook-api test\n  bokbasen secret list ebook-api production --json"
    )]
    List(ListArgs),
}

#[derive(Args)]
pub struct SetArgs {
    pub service: String,
    pub environment: String,
    pub key: String,
    /// KMS key id, ARN or alias.
    #[arg(long, default_value = secret::DEFAULT_KMS_KEY)]
    pub kms_key: String,
    /// SSM path prefix (Spring's default: /config).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Read and check the value, say where it would go, store nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// A value given as an argument, accepted only to refuse it without echoing it.
    #[arg(hide = true, num_args = 0..)]
    pub value_argument: Vec<String>,
    /// As `value_argument`, for the `--value` a user may guess.
    #[arg(long = "value", hide = true, num_args = 0..=1)]
    pub value_option: Option<Option<String>>,
}

#[derive(Args)]
pub struct ListArgs {
    pub service: String,
    pub environment: String,
    #[arg(long)]
    pub prefix: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
