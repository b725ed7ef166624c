//! The inline buildspecs bokbasen writes, and the way back from one to its
//! commands (for `recover`).

use std::fmt::Write as _;

/// An inline buildspec running `commands` in its build phase.
pub(super) fn buildspec(commands: &[&str]) -> String {
    let mut yaml = String::from("version: 0.2\nphases:\n  build:\n    commands:\n");
    for command in commands {
        let _ = writeln!(yaml, "      - {}", yaml_string(command));
    }
    yaml
}

/// The commands of a buildspec written by [`buildspec`]; `None` for any
/// other buildspec (edited by hand, or not ours).
pub(crate) fn buildspec_commands(yaml: &str) -> Option<Vec<String>> {
    let body = yaml.strip_prefix("version: 0.2\nphases:\n  build:\n    commands:\n")?;
    body.lines()
        .map(|line| {
            let quoted = line.strip_prefix("      - \"")?.strip_suffix('"')?;
            let mut command = String::new();
            let mut chars = quoted.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => command.push(chars.next()?),
                    '"' => return None,
                    c => command.push(c),
                }
            }
            Some(command)
        })
        .collect()
}

/// A YAML double-quoted scalar.
fn yaml_string(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}
