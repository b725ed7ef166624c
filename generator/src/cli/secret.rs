//! `bokbasen secret set | list`: a service's secrets in SSM.

use anyhow::{bail, Context as _, Result};
use bokbasen_generator::secret::{self, Listed, SecretTarget, SetOutcome};
use bokbasen_pipeline::names::OWNER_TAG;
use serde::Serialize;

use super::args::{ListArgs, SetArgs};
use super::output::{Print, Report, Text};
use super::terminal;

/// The secret stored; the JSON is `secret::SetOutcome`.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Stored {
    outcome: SetOutcome,
}

impl Report for Stored {
    fn text(&self) -> Text {
        let o = &self.outcome;
        let mut text = format!("Stored {} (SecureString, {}), version {}.\n", o.name, o.kms_key, o.version);
        if o.marker.is_none() {
            text.push_str(&format!(
                "It existed without bokbasen's {OWNER_TAG} tag, so it keeps none: its bokbasen_service_secret takes it over only if its state already holds it, or after `terraform import ADDRESS {}` (ADDRESS: that resource's address).\n",
                o.resource_id
            ));
        }
        Text::stdout(text)
    }
}

/// Stores the secret, or with `--dry-run` says where it would go (a note in
/// text form only, whatever `--json` says).
pub fn set(args: &SetArgs) -> Result<Box<dyn Print>> {
    let SetArgs { service, environment, key, .. } = args;
    if !args.value_argument.is_empty() || args.value_option.is_some() {
        bail!(
            "`secret set` takes the value from stdin or a hidden prompt, never as an argument: arguments show in \
             `ps` and stay in shell history. Nothing was stored and the argument is not repeated here; treat \
             the value as exposed and remove it from your shell history.\n\
             Fix: printf %s \"$VALUE\" | bokbasen secret set {service} {environment} {key}"
        );
    }
    let target = SecretTarget::new(service, environment, key, args.prefix.as_deref())?;
    let value = terminal::secret_value(&target.name())?;
    if args.dry_run {
        secret::check(&value)?;
        let note = format!("Would store {} (SecureString, {}).\n", target.name(), args.kms_key);
        return Ok(Box::new(Text::stdout(note)));
    }
    let outcome = runtime()?.block_on(secret::set(&target, &value, &args.kms_key))?;
    drop(value);
    Ok(Box::new(Stored { outcome }))
}

/// A service's secrets in one environment; the JSON is their list.
#[derive(Serialize)]
#[serde(transparent)]
pub struct SecretList {
    secrets: Vec<Listed>,
    /// The SSM path listed.
    #[serde(skip)]
    path: String,
}

pub fn list(args: &ListArgs) -> Result<SecretList> {
    let target = SecretTarget::new(&args.service, &args.environment, "", args.prefix.as_deref())?;
    let secrets = runtime()?.block_on(secret::list(&target))?;
    Ok(SecretList { secrets, path: target.location.path() })
}

impl Report for SecretList {
    fn text(&self) -> Text {
        let mut text = Text::default();
        if self.secrets.is_empty() {
            text.line(format_args!("No secrets under {}/.", self.path));
            return text;
        }
        text.line(format_args!("{:<40} {:>7}  LAST MODIFIED", "KEY", "VERSION"));
        for s in &self.secrets {
            text.line(format_args!(
                "{:<40} {:>7}  {}",
                s.key,
                s.version,
                s.last_modified.as_deref().unwrap_or_default()
            ));
        }
        text
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")
}
