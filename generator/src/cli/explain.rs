//! `bokbasen explain SERVICE`: the release rehearsal of the service's
//! `service.yml` (`bokbasen_pipeline::rehearsal`): per action, who runs it in
//! which account, and for each call AWS makes on the service's behalf the
//! statement that allows it, or why it would be denied. The organisation is
//! the one the examples build: the artifact store of the connection's
//! account shared with the environment accounts, and a deploy target per
//! environment.

use std::process::ExitCode;

use anyhow::{anyhow, Context as _, Result};
use bokbasen_generator::{graph, service};
use bokbasen_pipeline::rehearsal::{rehearse, Organisation, Rehearsal};
use bokbasen_pipeline::{Region, ServiceSpec};
use serde::Serialize;

use super::args::{ExplainArgs, Global};
use super::output::{Report, Text};

/// The exit code when some call would be denied.
pub const EXIT_DENIED: u8 = 4;

#[derive(Serialize)]
pub struct Explanation {
    pub service: String,
    pub pipeline_account: String,
    pub allowed: usize,
    pub denied: usize,
    pub steps: Vec<StepOut>,
}

#[derive(Serialize)]
pub struct StepOut {
    pub stage: String,
    pub action: String,
    pub runs_as: String,
    pub account: String,
    pub calls: Vec<CallOut>,
}

#[derive(Serialize)]
pub struct CallOut {
    /// A role ARN or a service principal.
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub resource_account: Option<String>,
    pub allowed: bool,
    /// "allowed by <document>#<Sid>[ and <document>#<Sid>]" or "DENIED: <why>".
    pub verdict: String,
}

/// The partition and region of the pipeline: its connection ARN's.
fn region_of(spec: &ServiceSpec) -> Result<Region> {
    let parts: Vec<&str> = spec.source.connection_arn.split(':').collect();
    match parts.as_slice() {
        ["arn", partition, _, region, _, _] if !partition.is_empty() && !region.is_empty() => {
            Ok(Region { partition: partition.to_string(), region: region.to_string() })
        }
        _ => Err(anyhow!("source.connection_arn {:?} is not a connection ARN", spec.source.connection_arn)),
    }
}

pub fn explanation(spec: &ServiceSpec) -> Result<Explanation> {
    let org = Organisation::for_spec(spec, &region_of(spec)?);
    Ok(from_rehearsal(spec, &org, &rehearse(&org)))
}

fn from_rehearsal(spec: &ServiceSpec, org: &Organisation, rehearsal: &Rehearsal) -> Explanation {
    let (allowed, denied) = rehearsal.counts();
    Explanation {
        service: spec.name.clone(),
        pipeline_account: org.pipeline_account.clone(),
        allowed,
        denied,
        steps: rehearsal
            .steps
            .iter()
            .map(|step| StepOut {
                stage: step.stage.clone(),
                action: step.action.clone(),
                runs_as: step.runs_as.clone(),
                account: step.account.clone(),
                calls: step
                    .calls
                    .iter()
                    .map(|c| CallOut {
                        principal: c.call.principal(),
                        action: c.call.request.action.clone(),
                        resource: c.call.request.resource.clone(),
                        resource_account: c.call.resource_account(),
                        allowed: c.allowed(),
                        verdict: c.verdict(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

pub fn run(global: &Global, args: &ExplainArgs) -> Result<Explanation> {
    let folder = super::existing_service(global, &args.service)?;
    let path = folder.join(service::SERVICE_SPEC);
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let spec = graph::parse_spec(&text).with_context(|| path.display().to_string())?;
    explanation(&spec)
}

impl Report for Explanation {
    fn text(&self) -> Text {
        let mut text = Text::default();
        for step in &self.steps {
            text.line(format!(
                "{} / {}: runs as {} in account {}",
                step.stage, step.action, step.runs_as, step.account
            ));
            for call in &step.calls {
                let by =
                    if call.principal == step.runs_as { String::new() } else { format!(" (as {})", call.principal) };
                text.line(format!("  {} on {}{by}: {}", call.action, call.resource, call.verdict));
            }
        }
        text.line(format!("{} calls allowed, {} denied", self.allowed, self.denied));
        if self.denied > 0 {
            text.error_line(format!(
                "{} call(s) of {}'s release would be denied by AWS; see DENIED above",
                self.denied, self.service
            ));
        }
        text
    }

    fn exit_code(&self) -> ExitCode {
        if self.denied > 0 {
            ExitCode::from(EXIT_DENIED)
        } else {
            ExitCode::SUCCESS
        }
    }
}
