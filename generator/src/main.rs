//! `bokbasen`: the command line. It parses the arguments, runs the command
//! and prints its result once, as text or `--json`; the commands are in
//! `cli/` (the binary's), what they do in the `bokbasen_generator` library.

mod cli;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    // Output piped into `head` ends quietly, as other command-line tools do,
    // instead of panicking on the closed pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = cli::args::Cli::parse();
    let json = cli.global.json;
    match cli::run(cli).and_then(|result| result.print(json)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
