//! Killing a Terraform command outright, as a lost CI runner does.
//!
//! Terraform 1.0 runs as two processes: the one started re-executes itself
//! under panicwrap (to catch a crash of the child and print its report) and
//! only waits; the child does the work and starts the providers. A SIGKILL of
//! the process started ([`RunningTerraform::kill_terraform`]) therefore
//! leaves the child running: it finishes the command and writes state as if
//! nothing happened. [`kill_terraform_processes`] kills both, leaving the
//! providers to notice that their Terraform is gone.

use std::path::PathBuf;

use crate::terraform::RunningTerraform;

/// SIGKILLs the Terraform process `run` started and every process below it
/// running the same executable (panicwrap's child), not the providers; the
/// process IDs killed. The providers are recorded first (for
/// [`RunningTerraform::providers_running`]): once their Terraform is dead
/// they are no longer its descendants.
pub fn kill_terraform_processes(run: &mut RunningTerraform) -> Vec<u32> {
    run.provider_pids();
    let root = run.pid();
    let executable = executable(root);
    let mut killed: Vec<u32> = descendants(root)
        .into_iter()
        .filter(|&pid| executable.is_some() && executable == self::executable(pid))
        .collect();
    // The worker first: killed after its parent, it could not be found under it.
    for &pid in &killed {
        // SAFETY: kill(2) with a process ID and a signal number has no memory effects.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGKILL);
        }
    }
    run.kill_terraform();
    killed.insert(0, root);
    killed
}

fn executable(pid: u32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// The parent of `pid`, from `/proc/PID/stat` (the command name is in
/// parentheses and may hold spaces: the fields follow the last `)`).
fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Every process below `root`, as /proc has it now.
fn descendants(root: u32) -> Vec<u32> {
    let all: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, parent(pid)?)))
        .collect();
    let mut found = Vec::new();
    let mut next = vec![root];
    while let Some(pid) = next.pop() {
        for &(child, _) in all.iter().filter(|(_, parent)| *parent == pid) {
            found.push(child);
            next.push(child);
        }
    }
    found
}
