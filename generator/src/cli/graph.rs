//! `bokbasen graph SERVICE`: the service's pipeline as a picture.

use anyhow::{Context as _, Result};
use bokbasen_generator::graph;
use bokbasen_generator::service;

use super::args::{Global, GraphArgs};
use super::output::Text;

/// The picture on stdout, or nothing when `--output` took it. A picture has
/// no JSON form: `--json` leaves it as it is.
pub fn run(global: &Global, args: &GraphArgs) -> Result<Text> {
    let folder = super::existing_service(global, &args.service)?;
    let path = folder.join(service::SERVICE_SPEC);
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let spec = graph::parse_spec(&text).with_context(|| path.display().to_string())?;
    let picture = graph::draw(&spec, args.format);
    match &args.output {
        Some(file) => {
            service::write_file(file, &picture)?;
            Ok(Text::default())
        }
        None => Ok(Text::stdout(picture)),
    }
}
