//! Shell completions and the man page, generated from the clap definitions
//! in `args`, so they never disagree with `--help`. Release archives carry
//! both (`cargo xtask release`).

use anyhow::Result;
use clap::CommandFactory as _;

use super::args::Cli;
use super::output::Text;

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Text {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "bokbasen", &mut script);
    Text::stdout(String::from_utf8_lossy(&script).into_owned())
}

/// `bokbasen(1)`: the synopsis, every option and, as sections, every
/// command with its own options and examples.
pub fn man_page() -> Result<Text> {
    let command = Cli::command();
    let mut page = Vec::new();
    let man = clap_mangen::Man::new(command.clone());
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    for sub in command.get_subcommands().filter(|c| !c.is_hide_set()) {
        render_command(&mut page, &format!("bokbasen {}", sub.get_name()), sub)?;
    }
    man.render_version_section(&mut page)?;
    Ok(Text::stdout(String::from_utf8_lossy(&page).into_owned()))
}

/// One command as a section: its about, usage, arguments and examples, then
/// its own subcommands the same way.
fn render_command(page: &mut Vec<u8>, path: &str, command: &clap::Command) -> Result<()> {
    use std::io::Write as _;
    writeln!(page, ".SH \"{}\"", path.to_uppercase())?;
    if let Some(about) = command.get_about() {
        writeln!(page, "{}", roff_text(&about.to_string()))?;
    }
    let mut command = command.clone().bin_name(path);
    let usage = command.render_usage().to_string();
    writeln!(page, ".PP\n.nf\n{}\n.fi", roff_text(&usage))?;
    for arg in command.get_arguments().filter(|a| !a.is_hide_set() && !a.is_global_set() && a.get_id() != "help") {
        let name = match (arg.get_long(), arg.get_short()) {
            (Some(long), _) => format!("--{long}"),
            (None, Some(short)) => format!("-{short}"),
            (None, None) => {
                arg.get_value_names().and_then(|v| v.first()).map_or(arg.get_id().to_string(), |v| v.to_string())
            }
        };
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        writeln!(page, ".TP\n\\fB{}\\fR\n{}", roff_text(&name), roff_text(&help))?;
    }
    if let Some(after) = command.get_after_help() {
        writeln!(page, ".PP\n.nf\n{}\n.fi", roff_text(&after.to_string()))?;
    }
    for sub in command.get_subcommands().filter(|c| !c.is_hide_set() && c.get_name() != "help") {
        render_command(page, &format!("{path} {}", sub.get_name()), sub)?;
    }
    Ok(())
}

/// `text` with roff's control characters escaped: a backslash, and a line
/// starting with `.` or `'` (which roff would read as a request).
fn roff_text(text: &str) -> String {
    text.replace('\\', "\\e")
        .lines()
        .map(|line| if line.starts_with(['.', '\'']) { format!("\\&{line}") } else { line.to_owned() })
        .collect::<Vec<_>>()
        .join("\n")
}
