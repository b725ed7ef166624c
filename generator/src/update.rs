//! `bokbasen update`: render a service again with a newer template version
//! and merge three ways, file by file: the render it was made from (base),
//! the developer's files (ours) and the new render (theirs). Local edits
//! survive, template changes arrive, and where both touched the same lines
//! the file gets conflict markers and is listed; nothing is dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::catalogue::Template;
use crate::inputs::{Given, InputSpec, Values};
use crate::render::Renderer;
use crate::service::{self, Rendered, BASE};

/// What happened to one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileOutcome {
    /// Unedited locally: now the new render.
    Updated,
    /// New in this template version.
    Added,
    /// Removed from the template and unedited locally.
    Removed,
    /// Both sides changed it; the changes did not overlap.
    Merged,
    /// Overlapping changes: conflict markers in the file.
    Conflict,
    /// Edited locally but removed from the template: kept as it is.
    KeptRemovedFromTemplate,
}

#[derive(Clone, Debug, Serialize)]
pub struct UpdateReport {
    pub service: String,
    pub template: String,
    pub from: String,
    pub to: String,
    /// Changed files only, by path.
    pub files: BTreeMap<String, FileOutcome>,
}

impl UpdateReport {
    pub fn conflicts(&self) -> Vec<&str> {
        self.files.iter().filter(|(_, o)| **o == FileOutcome::Conflict).map(|(p, _)| p.as_str()).collect()
    }
}

/// How far an update may go.
pub struct UpdateRequest<'a> {
    pub to: Option<&'a semver::Version>,
    pub allow_major: bool,
    pub dry_run: bool,
    pub given: &'a Given,
}

/// Updates the service in `folder` to `template` (the catalogue's version,
/// which `request.to` must match when given). Returns `None` when the service
/// is already at that version.
pub fn update(
    folder: &Path,
    template: &Template,
    request: &UpdateRequest,
    ask: impl FnMut(&InputSpec) -> Result<Option<serde_json::Value>>,
) -> Result<Option<UpdateReport>> {
    let answers = service::read_answers(folder)?;
    let manifest = &template.manifest;
    if answers.template != manifest.name {
        bail!("{} was made from template `{}`, not `{}`", folder.display(), answers.template, manifest.name);
    }
    if let Some(to) = request.to {
        if *to != manifest.version {
            bail!(
                "template {} {to} is not in this catalogue, which has {}; point --templates at a catalogue checkout that has {to}",
                manifest.name,
                manifest.version
            );
        }
    }
    let (from, to) = (&answers.version, &manifest.version);
    if from == to {
        return Ok(None);
    }
    if to < from {
        bail!(
            "{} is at {} {from}, newer than the catalogue's {to}; bokbasen does not downgrade",
            answers.service,
            manifest.name
        );
    }
    if to.major != from.major && !request.allow_major {
        bail!(
            "{} {from} → {to} is a major version: its inputs or layout may change. Read the template's notes, then pass --allow-major",
            manifest.name
        );
    }
    let inputs: Values =
        crate::inputs::resolve(&manifest.inputs, &answers.service, request.given, &answers.inputs, ask)?;
    let renderer = Renderer::new(template)?;
    let new = Rendered::render(template, &renderer, &answers.service, inputs)?;
    let base = service::read_tree(&folder.join(BASE))?;
    let mut report = UpdateReport {
        service: answers.service.clone(),
        template: manifest.name.clone(),
        from: from.to_string(),
        to: to.to_string(),
        files: BTreeMap::new(),
    };
    let mut changes: Vec<(String, Change)> = Vec::new();
    let paths: BTreeSet<&String> = base.keys().chain(new.files.keys()).collect();
    let labels = Labels { ours: "your edit".into(), theirs: format!("{} {to}", manifest.name) };
    for path in paths {
        let ours = std::fs::read_to_string(folder.join(path)).ok();
        if let Some((outcome, change)) = merge_file(base.get(path), ours.as_deref(), new.files.get(path), &labels) {
            report.files.insert(path.clone(), outcome);
            changes.push((path.clone(), change));
        }
    }
    if !request.dry_run {
        for (path, change) in &changes {
            match change {
                Change::Write(text) => service::write_file(&folder.join(path), text)?,
                Change::Delete => std::fs::remove_file(folder.join(path))?,
                Change::Keep => {}
            }
        }
        // The new render becomes the base of the next update (swapped in whole), and the answers follow.
        service::write_new(&folder.join(BASE), &new.files, true)?;
        service::write_file(&folder.join(service::ANSWERS), &new.answers.to_yaml())?;
    }
    Ok(Some(report))
}

/// Names in the conflict markers.
struct Labels {
    ours: String,
    theirs: String,
}

/// What to do with one file.
#[derive(Debug, PartialEq, Eq)]
enum Change {
    Write(String),
    Delete,
    Keep,
}

/// One file's outcome and change, or `None` when the file stays as it is.
fn merge_file(
    base: Option<&String>,
    ours: Option<&str>,
    theirs: Option<&String>,
    labels: &Labels,
) -> Option<(FileOutcome, Change)> {
    let base = base.map(String::as_str);
    let theirs = theirs.map(String::as_str);
    match (base, ours, theirs) {
        _ if ours == theirs => None,
        // The template did not change it: whatever is there (edited or deleted) stays.
        (b, _, t) if b == t => None,
        (Some(b), Some(o), Some(t)) if b == o => Some((FileOutcome::Updated, Change::Write(t.to_string()))),
        (None, None, Some(t)) => Some((FileOutcome::Added, Change::Write(t.to_string()))),
        (Some(b), Some(o), None) if b == o => Some((FileOutcome::Removed, Change::Delete)),
        (_, Some(_), None) => Some((FileOutcome::KeptRemovedFromTemplate, Change::Keep)),
        (_, None, None) => None,
        // Both changed it, or one side deleted what the other changed: merge, an absent file as empty.
        (b, o, Some(t)) => Some(match diffy::merge(b.unwrap_or(""), o.unwrap_or(""), t) {
            Ok(merged) => (FileOutcome::Merged, Change::Write(merged)),
            Err(conflicted) => (FileOutcome::Conflict, Change::Write(relabel(&conflicted, labels))),
        }),
    }
}

/// diffy marks conflicts `<<<<<<< ours` / `||||||| original` / `>>>>>>> theirs`;
/// say whose side is whose.
fn relabel(text: &str, labels: &Labels) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, end) = line.strip_suffix('\n').map(|b| (b, "\n")).unwrap_or((line, ""));
        match body {
            "<<<<<<< ours" => out.push_str(&format!("<<<<<<< {}{end}", labels.ours)),
            "||||||| original" => out.push_str(&format!("||||||| previous template{end}")),
            ">>>>>>> theirs" => out.push_str(&format!(">>>>>>> {}{end}", labels.theirs)),
            _ => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Labels {
        Labels { ours: "your edit".into(), theirs: "t 1.1.0".into() }
    }

    fn merge(base: Option<&str>, ours: Option<&str>, theirs: Option<&str>) -> Option<(FileOutcome, Change)> {
        merge_file(base.map(str::to_string).as_ref(), ours, theirs.map(str::to_string).as_ref(), &labels())
    }

    #[test]
    fn edits_survive_and_template_changes_arrive() {
        let base = "a = 1\nb = 2\nc = 3\n";
        let ours = "a = 10\nb = 2\nc = 3\n";
        let theirs = "a = 1\nb = 2\nc = 30\n";
        use Change::*;
        assert_eq!(
            merge(Some(base), Some(ours), Some(theirs)),
            Some((FileOutcome::Merged, Write("a = 10\nb = 2\nc = 30\n".into())))
        );
        assert_eq!(merge(Some(base), Some(base), Some(theirs)), Some((FileOutcome::Updated, Write(theirs.into()))));
        assert_eq!(merge(Some(base), Some(ours), Some(base)), None);
        assert_eq!(merge(None, None, Some(theirs)), Some((FileOutcome::Added, Write(theirs.into()))));
        assert_eq!(merge(Some(base), Some(base), None), Some((FileOutcome::Removed, Delete)));
        assert_eq!(merge(Some(base), Some(ours), None), Some((FileOutcome::KeptRemovedFromTemplate, Keep)));
        // Deleted locally and unchanged by the template: stays deleted.
        assert_eq!(merge(Some(base), None, Some(base)), None);
    }

    #[test]
    fn overlapping_changes_are_marked_with_both_sides() {
        let Some((FileOutcome::Conflict, Change::Write(text))) =
            merge(Some("a = 1\n"), Some("a = 2\n"), Some("a = 3\n"))
        else {
            panic!("expected a conflict");
        };
        for expected in
            ["<<<<<<< your edit\n", "a = 2\n", "||||||| previous template\n", "a = 1\n", "a = 3\n", ">>>>>>> t 1.1.0\n"]
        {
            assert!(text.contains(expected), "{expected:?} in {text}");
        }
    }
}
