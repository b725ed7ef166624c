//! Generator benchmark: `bokbasen --help` start-up, and a platform
//! repository of `count` services (500 by default) made with `bokbasen new`
//! from every template in turn, listed with `outdated` and upgraded with one
//! `update --all` after every template gains a patch version. Release build,
//! wall time as a developer or CI job sees it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::bench::spread;
use crate::{cargo, run_command, Result};

const DEFAULT_COUNT: usize = 500;
const HELP_RUNS: usize = 50;
const TEMPLATES: [&str; 5] = ["fargate-service", "lambda-function", "batch-job", "api-gateway", "static-site"];

pub fn run(args: &[String]) -> Result {
    let count = match args.first() {
        Some(n) => n.parse().map_err(|_| format!("count must be a number, got {n:?}"))?,
        None => DEFAULT_COUNT,
    };
    let root = bokbasen_e2e::workspace_root();
    run_command(
        cargo().args(["build", "--release", "-p", "bokbasen-generator", "--bin", "bokbasen"]).current_dir(&root),
    )?;
    let binary = root.join("target/release/bokbasen");

    let mut help = Vec::with_capacity(HELP_RUNS);
    for _ in 0..HELP_RUNS {
        let started = Instant::now();
        bokbasen(&binary, &root, &["--help"])?;
        help.push(started.elapsed());
    }
    help.sort();
    println!("bokbasen --help (release), {HELP_RUNS} runs: {}", spread(&help));

    let platform = tempfile::tempdir().map_err(|e| e.to_string())?;
    let catalogue = tempfile::tempdir().map_err(|e| e.to_string())?;
    run_command(Command::new("cp").arg("-r").arg(root.join("templates/.")).arg(catalogue.path()))?;
    let with_catalogue = |args: &[&str]| {
        let mut all = vec![
            "--templates",
            catalogue.path().to_str().unwrap_or_default(),
            "--out",
            platform.path().to_str().unwrap_or_default(),
        ];
        all.extend_from_slice(args);
        all.into_iter().map(str::to_string).collect::<Vec<_>>()
    };

    let started = Instant::now();
    let mut each = Vec::with_capacity(count);
    for i in 0..count {
        let template = TEMPLATES[i % TEMPLATES.len()];
        let values = root.join("examples/generator").join(format!("{template}.yml"));
        let service = format!("service-{i:04}");
        let args = with_catalogue(&["new", template, &service, "--values", values.to_str().unwrap_or_default()]);
        let one = Instant::now();
        bokbasen(&binary, &root, &args.iter().map(String::as_str).collect::<Vec<_>>())?;
        each.push(one.elapsed());
    }
    let total = started.elapsed();
    each.sort();
    println!(
        "bokbasen new × {count} (5 templates in turn): {:.2} s in all; per service {}",
        total.as_secs_f64(),
        spread(&each)
    );

    for template in TEMPLATES {
        let manifest = catalogue.path().join(template).join("template.yml");
        let text = std::fs::read_to_string(&manifest).map_err(|e| e.to_string())?;
        std::fs::write(&manifest, text.replace("version: 1.0.0", "version: 1.0.1")).map_err(|e| e.to_string())?;
    }
    let outputs = catalogue.path().join("_shared/files/outputs.tf.hbs");
    let mut text = std::fs::read_to_string(&outputs).map_err(|e| e.to_string())?;
    text.push_str("\noutput \"role_arns\" {\n  value = module.pipeline.role_arns\n}\n");
    std::fs::write(&outputs, text).map_err(|e| e.to_string())?;

    let started = Instant::now();
    let listed = bokbasen(
        &binary,
        &root,
        &with_catalogue(&["outdated", "--json"]).iter().map(String::as_str).collect::<Vec<_>>(),
    )?;
    let outdated = serde_json::from_str::<serde_json::Value>(&listed).map_err(|e| e.to_string())?;
    println!(
        "bokbasen outdated over {count} services: {:.2} s ({} behind)",
        started.elapsed().as_secs_f64(),
        outdated.as_array().map(Vec::len).unwrap_or(0)
    );
    let started = Instant::now();
    bokbasen(&binary, &root, &with_catalogue(&["update", "--all"]).iter().map(String::as_str).collect::<Vec<_>>())?;
    println!(
        "bokbasen update --all over {count} services (three-way merge of every file): {:.2} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn bokbasen(binary: &Path, dir: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new(binary)
        .args(args)
        .current_dir(dir)
        .env("CI", "true")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!("bokbasen {args:?}: {}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
