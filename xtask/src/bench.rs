//! Start-up benchmark: Terraform starts a provider process 3–5 times per
//! command, so the time from exec to the handshake line and the process's
//! memory matter. Builds the release binary, starts it as Terraform does
//! (cookie, protocol versions, a P-521 client certificate) `runs` times,
//! and reports the distribution of start-up times and the resident memory.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{cargo, run_command, Result};

const DEFAULT_RUNS: usize = 50;

pub fn run(args: &[String]) -> Result {
    let runs = match args.first() {
        Some(n) => n.parse().map_err(|_| format!("runs must be a number, got {n:?}"))?,
        None => DEFAULT_RUNS,
    };
    let root = bokbasen_e2e::workspace_root();
    run_command(cargo().args(["build", "--release", "-p", "terraform-provider-bokbasen"]).current_dir(&root))?;
    let binary = root.join("target/release/terraform-provider-bokbasen");
    let client_cert = terraform_like_client_certificate()?;

    let mut startup = Vec::with_capacity(runs);
    let mut rss_kib = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let mut child = Command::new(&binary)
            .env("TF_PLUGIN_MAGIC_COOKIE", "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2")
            .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
            .env("PLUGIN_CLIENT_CERT", &client_cert)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line).map_err(|e| e.to_string())?;
        let elapsed = started.elapsed();
        if !line.starts_with("1|5|tcp|") {
            let _ = child.kill();
            return Err(format!("unexpected handshake line {line:?}"));
        }
        rss_kib.push(resident_kib(child.id()).unwrap_or(0));
        let _ = child.kill();
        let _ = child.wait();
        startup.push(elapsed);
    }
    startup.sort();
    rss_kib.sort();
    println!("terraform-provider-bokbasen (release), {runs} starts, exec to handshake line:");
    println!("  {}", spread(&startup));
    println!(
        "  resident memory after the handshake: median {} KiB, max {} KiB",
        rss_kib[rss_kib.len() / 2],
        rss_kib[rss_kib.len() - 1]
    );
    Ok(())
}

/// Min, median, p95 and max of sorted durations, in milliseconds.
pub fn spread(sorted: &[Duration]) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pick = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
    format!(
        "min {:.2} ms  median {:.2} ms  p95 {:.2} ms  max {:.2} ms",
        ms(sorted[0]),
        ms(pick(0.5)),
        ms(pick(0.95)),
        ms(sorted[sorted.len() - 1])
    )
}

/// VmRSS of a process, from /proc.
fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A self-signed ECDSA P-521 CA certificate, as Terraform's go-plugin makes.
fn terraform_like_client_certificate() -> Result<String> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).map_err(|e| e.to_string())?;
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).map_err(|e| e.to_string())?;
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    Ok(params.self_signed(&key).map_err(|e| e.to_string())?.pem())
}
