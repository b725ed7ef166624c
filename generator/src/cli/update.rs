//! `bokbasen update SERVICE | --all`: services to the catalogue's template
//! version, local edits kept.

use std::process::ExitCode;

use anyhow::Result;
use bokbasen_generator::inputs::Given;
use bokbasen_generator::service;
use bokbasen_generator::update::{self, UpdateReport, UpdateRequest};
use serde::Serialize;

use super::args::{Global, UpdateArgs};
use super::output::{serde_name, sorted_keys, Report, Text};
use super::terminal;

/// Exit code of an update that left conflicts to resolve.
const EXIT_CONFLICTS: u8 = 3;

/// What the update did to each service. Fields in alphabetical order, and
/// the reports' keys sorted too: the JSON has always had them so.
#[derive(Serialize)]
pub struct Updated {
    /// Services already at the catalogue's version.
    current: Vec<String>,
    dry_run: bool,
    /// With `--all`: `service: error` for each service that could not be updated.
    failed: Vec<String>,
    #[serde(serialize_with = "sorted_keys")]
    updated: Vec<UpdateReport>,
}

pub fn run(global: &Global, args: &UpdateArgs) -> Result<Updated> {
    let given = Given::default().with_sets(&args.set)?;
    let request =
        UpdateRequest { to: args.to.as_ref(), allow_major: args.allow_major, dry_run: args.dry_run, given: &given };
    let catalogue = super::catalogue(global)?;
    let folders = if args.all {
        service::list(&global.out)?
    } else {
        vec![super::existing_service(global, args.service.as_deref().unwrap_or_default())?]
    };
    let bar = terminal::progress(folders.len());
    let mut result = Updated { current: Vec::new(), dry_run: args.dry_run, failed: Vec::new(), updated: Vec::new() };
    for folder in &folders {
        let name = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        bar.set_message(name.clone());
        let outcome = service::read_answers(folder)
            .and_then(|answers| catalogue.get(&answers.template).cloned())
            .and_then(|template| update::update(folder, &template, &request, terminal::prompt));
        match outcome {
            Ok(Some(report)) => result.updated.push(report),
            Ok(None) => result.current.push(name),
            Err(e) if args.all => result.failed.push(format!("{name}: {e:#}")),
            Err(e) => return Err(e),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(result)
}

impl Report for Updated {
    fn text(&self) -> Text {
        let mut text = Text::default();
        for report in &self.updated {
            text.line(format_args!("{}: {} {} → {}", report.service, report.template, report.from, report.to));
            for (path, outcome) in &report.files {
                text.line(format_args!("  {:<28} {path}", serde_name(outcome).replace('_', " ")));
            }
            for path in report.conflicts() {
                text.line(format_args!(
                    "  conflict to resolve: services/{}/{path} (look for <<<<<<< your edit)",
                    report.service
                ));
            }
        }
        for name in &self.current {
            text.line(format_args!("{name}: already at the catalogue's version"));
        }
        for failure in &self.failed {
            text.error_line(format_args!("failed: {failure}"));
        }
        text
    }

    /// Failures first, then conflicts (3), else success.
    fn exit_code(&self) -> ExitCode {
        if !self.failed.is_empty() {
            return ExitCode::FAILURE;
        }
        let conflicts: usize = self.updated.iter().map(|r| r.conflicts().len()).sum();
        if conflicts > 0 {
            ExitCode::from(EXIT_CONFLICTS)
        } else {
            ExitCode::SUCCESS
        }
    }
}

#[cfg(test)]
mod tests {
    use bokbasen_generator::update::FileOutcome;

    use super::*;

    fn updated(failed: &[&str], outcome: FileOutcome) -> Updated {
        let report = UpdateReport {
            service: "ebook-api".into(),
            template: "fargate-service".into(),
            from: "1.0.0".into(),
            to: "1.1.0".into(),
            files: [("main.tf".to_string(), FileOutcome::Merged), ("config/test.yml".to_string(), outcome)].into(),
        };
        Updated {
            current: vec!["isbn-lookup".into()],
            dry_run: false,
            failed: failed.iter().map(|f| f.to_string()).collect(),
            updated: vec![report],
        }
    }

    #[test]
    fn json_keys_are_sorted_at_every_depth() {
        let json = serde_json::to_string(&updated(&[], FileOutcome::Conflict)).unwrap();
        assert_eq!(
            json,
            "{\"current\":[\"isbn-lookup\"],\"dry_run\":false,\"failed\":[],\"updated\":[{\"files\":\
             {\"config/test.yml\":\"conflict\",\"main.tf\":\"merged\"},\"from\":\"1.0.0\",\"service\":\"ebook-api\",\
             \"template\":\"fargate-service\",\"to\":\"1.1.0\"}]}"
        );
    }

    #[test]
    fn conflicts_exit_3_and_failures_go_to_stderr_and_exit_1() {
        let conflicted = updated(&[], FileOutcome::Conflict);
        assert_eq!(conflicted.exit_code(), ExitCode::from(EXIT_CONFLICTS));
        let text = conflicted.text();
        assert!(text.stdout.contains("  conflict to resolve: services/ebook-api/config/test.yml"), "{text:?}");
        assert!(text.stdout.ends_with("isbn-lookup: already at the catalogue's version\n"), "{text:?}");
        assert_eq!(text.stderr, "");
        assert_eq!(updated(&[], FileOutcome::Updated).exit_code(), ExitCode::SUCCESS);
        let failed = updated(&["broken: no answers"], FileOutcome::Conflict);
        assert_eq!(failed.exit_code(), ExitCode::FAILURE);
        assert_eq!(failed.text().stderr, "failed: broken: no answers\n");
    }
}
