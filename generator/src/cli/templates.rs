//! `bokbasen templates` and `bokbasen templates show NAME`.

use anyhow::Result;
use bokbasen_generator::catalogue::Manifest;
use bokbasen_generator::inputs;
use serde::Serialize;

use super::args::Global;
use super::output::{serde_name, Report, Text};

/// The catalogue's templates, by name.
#[derive(Serialize)]
#[serde(transparent)]
pub struct TemplateList {
    templates: Vec<Summary>,
}

/// One template in the list. Fields in alphabetical order: the JSON has
/// always listed them so.
#[derive(Serialize)]
struct Summary {
    description: String,
    kind: String,
    name: String,
    version: semver::Version,
}

pub fn list(global: &Global) -> Result<TemplateList> {
    let catalogue = super::catalogue(global)?;
    let templates = catalogue
        .templates
        .into_values()
        .map(|t| Summary {
            description: t.manifest.description,
            kind: t.manifest.kind,
            name: t.manifest.name,
            version: t.manifest.version,
        })
        .collect();
    Ok(TemplateList { templates })
}

impl Report for TemplateList {
    fn text(&self) -> Text {
        let mut text = Text::default();
        for t in &self.templates {
            text.line(format_args!("{:<18} {:<8} {}", t.name, t.version, t.description));
        }
        text.line("\n`bokbasen templates show NAME` lists a template's inputs.");
        text
    }
}

/// One template: its manifest, with every input.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Shown {
    manifest: Manifest,
}

pub fn show(global: &Global, name: &str) -> Result<Shown> {
    let catalogue = super::catalogue(global)?;
    let template = catalogue.get(name)?;
    Ok(Shown { manifest: template.manifest.clone() })
}

impl Report for Shown {
    fn text(&self) -> Text {
        let manifest = &self.manifest;
        let mut text = Text::default();
        text.line(format_args!(
            "{} {} ({} pipeline)\n{}\n\nInputs:",
            manifest.name, manifest.version, manifest.kind, manifest.description
        ));
        for input in &manifest.inputs {
            let need = match &input.default {
                None => "required".to_string(),
                Some(default) => format!("default {}", inputs::example_text(default)),
            };
            text.line(format_args!("  {} ({}, {need})", input.name, serde_name(&input.kind)));
            text.line(format_args!("      {}", input.description));
            if !input.allowed.is_empty() {
                text.line(format_args!("      one of: {}", input.allowed.join(", ")));
            }
            if let Some(pattern) = &input.pattern {
                text.line(format_args!("      pattern: {pattern}"));
            }
            text.line(format_args!("      e.g. --set {}={}", input.name, inputs::example_text(&input.example)));
        }
        text
    }
}
