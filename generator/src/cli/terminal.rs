//! The terminal: prompts for missing inputs, the hidden prompt for a secret,
//! progress bars. Off a terminal (a pipe, CI) nothing is asked or drawn.

use std::io::IsTerminal as _;

use anyhow::{anyhow, Result};
use bokbasen_generator::inputs::{self, InputSpec};
use bokbasen_generator::secret;
use serde_json::Value;

/// Asks for a missing input on a terminal; elsewhere it stays missing (and is reported).
pub fn prompt(spec: &InputSpec) -> Result<Option<Value>> {
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

/// A secret's value: typed twice without echo on a terminal, else read from stdin.
pub fn secret_value(name: &str) -> Result<String> {
    if std::io::stdin().is_terminal() {
        dialoguer::Password::new()
            .with_prompt(format!("Value of {name}"))
            .with_confirmation("Again", "The two entries differ")
            .interact()
            .map_err(|e| anyhow!("reading the secret: {e}"))
    } else {
        secret::value_from_reader(std::io::stdin().lock())
    }
}

/// A progress bar on a terminal, nothing in CI or a pipe.
pub fn progress(length: usize) -> indicatif::ProgressBar {
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
