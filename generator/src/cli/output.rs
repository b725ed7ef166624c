//! How a command's result reaches the user: once, after the command is done,
//! as text or (with `--json`) as JSON on stdout, with the result's exit code.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use serde::{Serialize, Serializer};

/// A command's result: its `Serialize` is the JSON form, `text` the text form.
pub trait Report: Serialize {
    /// The text form: stdout, and stderr for what went wrong along the way.
    fn text(&self) -> Text;

    /// The exit code, the same in text and JSON form.
    fn exit_code(&self) -> ExitCode {
        ExitCode::SUCCESS
    }
}

/// Text for stdout and stderr, printed as it is (no newline added).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Text {
    pub stdout: String,
    pub stderr: String,
}

impl Text {
    /// Text for stdout only.
    pub fn stdout(stdout: String) -> Text {
        Text { stdout, stderr: String::new() }
    }

    /// Adds `line` and a newline to stdout.
    pub fn line(&mut self, line: impl std::fmt::Display) {
        let _ = writeln!(self.stdout, "{line}");
    }

    /// Adds `line` and a newline to stderr.
    pub fn error_line(&mut self, line: impl std::fmt::Display) {
        let _ = writeln!(self.stderr, "{line}");
    }
}

/// What `cli::run` hands back: printed by `main`, once.
pub trait Print {
    /// Prints the result as text, or as JSON when `json` is set and the
    /// result has a JSON form; returns its exit code.
    fn print(&self, json: bool) -> Result<ExitCode>;
}

impl<R: Report> Print for R {
    fn print(&self, json: bool) -> Result<ExitCode> {
        if json {
            println!("{}", serde_json::to_string_pretty(self)?);
        } else {
            self.text().emit();
        }
        Ok(self.exit_code())
    }
}

/// A result with no JSON form (a picture, a dry run's note): `--json` leaves
/// it as text.
impl Print for Text {
    fn print(&self, _json: bool) -> Result<ExitCode> {
        self.emit();
        Ok(ExitCode::SUCCESS)
    }
}

impl Text {
    fn emit(&self) {
        print!("{}", self.stdout);
        eprint!("{}", self.stderr);
    }
}

/// Serialises `value` with its map keys sorted, at every depth, as JSON
/// built with `serde_json::json!` has them (the `preserve_order` feature is
/// off): for results whose JSON was always so.
pub fn sorted_keys<T: Serialize, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serde_json::to_value(value).map_err(serde::ser::Error::custom)?.serialize(serializer)
}

/// The name serde gives a unit variant, as in the JSON (`snake_case` enums
/// in text form); empty for anything else.
pub fn serde_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}
