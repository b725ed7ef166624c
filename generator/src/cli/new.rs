//! `bokbasen new TEMPLATE SERVICE`: a new service folder from a template.

use std::path::PathBuf;

use anyhow::Result;
use bokbasen_generator::inputs::{self, Given};
use bokbasen_generator::render::Renderer;
use bokbasen_generator::service::{self, Rendered};
use serde::Serialize;

use super::args::{Global, NewArgs};
use super::output::{Report, Text};
use super::terminal;

/// The service written (or, with `--dry-run`, that would be). Fields in
/// alphabetical order: the JSON has always listed them so.
#[derive(Serialize)]
pub struct Created {
    /// Output paths, relative to the folder.
    files: Vec<String>,
    folder: PathBuf,
    service: String,
    template: String,
    version: semver::Version,
    written: bool,
}

pub fn run(global: &Global, args: &NewArgs) -> Result<Created> {
    let folder = service::folder(&global.out, &args.service)?;
    let catalogue = super::catalogue(global)?;
    let template = catalogue.get(&args.template)?;
    // Before any prompt: an occupied folder is known now.
    service::check_free(&folder, args.force)?;
    let mut given = Given::default();
    if let Some(file) = &args.values {
        given = given.with_file(file)?;
    }
    let given = given.with_sets(&args.set)?;
    let values =
        inputs::resolve(&template.manifest.inputs, &args.service, &given, &Default::default(), terminal::prompt)?;
    let renderer = Renderer::new(template)?;
    let rendered = Rendered::render(template, &renderer, &args.service, values)?;
    let contents = rendered.folder_contents();
    if !args.dry_run {
        service::write_new(&folder, &contents, args.force)?;
    }
    Ok(Created {
        files: rendered.files.into_keys().collect(),
        folder,
        service: args.service.clone(),
        template: template.manifest.name.clone(),
        version: template.manifest.version.clone(),
        written: !args.dry_run,
    })
}

impl Report for Created {
    fn text(&self) -> Text {
        let mut text = Text::default();
        let verb = if self.written { "Wrote" } else { "Would write" };
        text.line(format_args!("{verb} {} from {} {}:", self.folder.display(), self.template, self.version));
        for path in &self.files {
            text.line(format_args!("  {path}"));
        }
        if self.written {
            text.line(format_args!(
                "\nNext: review it, `terraform init && terraform plan` there, and `bokbasen graph {}` to see its pipeline.",
                self.service
            ));
        }
        text
    }
}
