//! The template catalogue: one folder per template, each with a manifest
//! (`template.yml`) and the handlebars files it renders (`files/`).
//!
//! The catalogue built into the binary is this repository's `templates/`;
//! a platform team points `--templates` (or `BOKBASEN_TEMPLATES`) at its own.
//! `_shared/` is not a template but what templates have in common:
//! `inputs.yml` (inputs every template has: accounts, source, backend),
//! `files/` (files every template renders: the Terraform module, the
//! pipeline spec, the configuration files) and `partials/` (handlebars
//! partials, `{{> spec_environment}}`). A template holds only what is its
//! own: its manifest, its inputs (one named like a shared input replaces it,
//! e.g. with another default), its files and partials (same path or name:
//! the template's wins), such as `partials/target.hbs`, its deploy target.
//!
//! One catalogue holds one version of each template, as a git checkout of the
//! catalogue does: older versions live in its history, and `bokbasen update`
//! needs only the render it made last (kept beside the service).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use include_dir::{include_dir, Dir};
use serde::{Deserialize, Serialize};

use crate::inputs::InputSpec;
use crate::language::Language;

static BUILT_IN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../templates");

/// The manifest's file name inside a template folder.
pub const MANIFEST: &str = "template.yml";
/// The folder of a template's rendered files.
pub const FILES: &str = "files";
/// Rendered files end in this; the output path drops it.
pub const TEMPLATE_SUFFIX: &str = ".hbs";
/// What templates share: inputs and partials.
pub const SHARED: &str = "_shared";
const SHARED_INPUTS: &str = "inputs.yml";
const PARTIALS: &str = "partials/";

/// `template.yml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub version: semver::Version,
    pub description: String,
    /// The pipeline kind the rendered service gets (`fargate`, `lambda`, ...).
    pub kind: String,
    pub inputs: Vec<InputSpec>,
}

/// A template: its manifest (with the shared inputs first), its files
/// (output path → handlebars source) and the catalogue's partials.
#[derive(Clone, Debug)]
pub struct Template {
    pub manifest: Manifest,
    pub files: BTreeMap<String, String>,
    pub partials: BTreeMap<String, String>,
}

impl Template {
    pub fn input(&self, name: &str) -> Option<&InputSpec> {
        self.manifest.inputs.iter().find(|i| i.name == name)
    }
}

/// Where the templates come from, said in messages.
#[derive(Clone, Debug)]
pub enum Source {
    BuiltIn,
    Folder(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::BuiltIn => f.write_str("the built-in catalogue"),
            Source::Folder(path) => write!(f, "the catalogue at {}", path.display()),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Catalogue {
    pub source: Source,
    /// By name.
    pub templates: BTreeMap<String, Template>,
}

impl Catalogue {
    /// The catalogue at `folder`, or the built-in one.
    pub fn load(folder: Option<&Path>) -> Result<Catalogue> {
        let (source, mut entries) = match folder {
            Some(folder) => (Source::Folder(folder.to_path_buf()), read_folder(folder)?),
            None => (Source::BuiltIn, read_built_in()),
        };
        let shared = Shared::parse(entries.remove(SHARED).unwrap_or_default())
            .with_context(|| format!("{SHARED}/ in {source}"))?;
        let mut templates = BTreeMap::new();
        for (name, files) in entries {
            let template =
                parse_template(&name, files, &shared).with_context(|| format!("template `{name}` in {source}"))?;
            templates.insert(name, template);
        }
        Ok(Catalogue { source, templates })
    }

    /// The named template, or an error that lists what there is.
    pub fn get(&self, name: &str) -> Result<&Template> {
        self.templates.get(name).ok_or_else(|| {
            let names: Vec<&str> = self.templates.keys().map(String::as_str).collect();
            anyhow!(
                "unknown template `{name}`: {} has {}. Run `bokbasen templates` to see what each is for.",
                self.source,
                names.join(", ")
            )
        })
    }
}

/// Template folder name → (path inside the folder → contents).
type RawTemplates = BTreeMap<String, BTreeMap<String, String>>;

fn read_built_in() -> RawTemplates {
    let mut templates = RawTemplates::new();
    for dir in BUILT_IN.dirs() {
        let name = dir.path().to_string_lossy().into_owned();
        let mut files = BTreeMap::new();
        collect_built_in(dir, dir.path(), &mut files);
        templates.insert(name, files);
    }
    templates
}

fn collect_built_in(dir: &Dir<'static>, root: &Path, out: &mut BTreeMap<String, String>) {
    for file in dir.files() {
        let relative = file.path().strip_prefix(root).unwrap_or(file.path());
        // The catalogue is checked by the tests; a non-UTF-8 file there is a build mistake, shown at use.
        out.insert(slash_path(relative), file.contents_utf8().unwrap_or_default().to_string());
    }
    for sub in dir.dirs() {
        collect_built_in(sub, root, out);
    }
}

fn read_folder(folder: &Path) -> Result<RawTemplates> {
    let entries = std::fs::read_dir(folder)
        .with_context(|| format!("cannot read the template catalogue {}; pass --templates DIR", folder.display()))?;
    let mut templates = RawTemplates::new();
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let mut files = BTreeMap::new();
        collect_folder(&entry.path(), &entry.path(), &mut files)?;
        templates.insert(name, files);
    }
    Ok(templates)
}

fn collect_folder(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_folder(&path, root, out)?;
        } else {
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            out.insert(slash_path(path.strip_prefix(root)?), text);
        }
    }
    Ok(())
}

fn slash_path(path: &Path) -> String {
    path.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// `_shared/`: inputs, files and partials every template gets.
#[derive(Default)]
struct Shared {
    inputs: Vec<InputSpec>,
    parts: Parts,
}

impl Shared {
    fn parse(mut files: BTreeMap<String, String>) -> Result<Shared> {
        let inputs: Vec<InputSpec> = match files.remove(SHARED_INPUTS) {
            Some(text) => {
                serde_yaml_ng::from_str(&text).with_context(|| format!("{SHARED_INPUTS} is not a list of inputs"))?
            }
            None => Vec::new(),
        };
        // Checked (and their patterns compiled) once here, not once per template.
        for input in &inputs {
            input.check_definition().with_context(|| format!("{SHARED_INPUTS}: input `{}`", input.name))?;
        }
        Ok(Shared { inputs, parts: Parts::parse(files)? })
    }
}

/// Rendered files (output path → source) and partials (name → source).
#[derive(Clone, Default)]
struct Parts {
    files: BTreeMap<String, String>,
    partials: BTreeMap<String, String>,
}

impl Parts {
    fn parse(files: BTreeMap<String, String>) -> Result<Parts> {
        let mut parts = Parts::default();
        let file_prefix = format!("{FILES}/");
        for (path, text) in files {
            let (inside, into) = if let Some(inside) = path.strip_prefix(&file_prefix) {
                (inside, &mut parts.files)
            } else if let Some(inside) = path.strip_prefix(PARTIALS) {
                (inside, &mut parts.partials)
            } else {
                continue;
            };
            let Some(name) = inside.strip_suffix(TEMPLATE_SUFFIX) else {
                bail!("{path}: template files and partials end in {TEMPLATE_SUFFIX}");
            };
            if path.starts_with(&file_prefix) {
                Language::of(name)?;
            }
            check_escaped(&path, &text)?;
            into.insert(name.to_string(), text);
        }
        Ok(parts)
    }
}

fn check_escaped(path: &str, text: &str) -> Result<()> {
    if text.contains("{{{") || text.contains("{{&") {
        bail!("{path}: unescaped expressions ({{{{{{ }}}}}} or {{{{& }}}}) would let an input inject code");
    }
    Ok(())
}

fn parse_template(folder_name: &str, mut files: BTreeMap<String, String>, shared: &Shared) -> Result<Template> {
    let manifest_text = files.remove(MANIFEST).ok_or_else(|| anyhow!("has no {MANIFEST}"))?;
    let mut manifest: Manifest =
        serde_yaml_ng::from_str(&manifest_text).with_context(|| format!("{MANIFEST} is not a valid manifest"))?;
    if manifest.name != folder_name {
        bail!("{MANIFEST} names it `{}`; the folder and the name must agree", manifest.name);
    }
    for own in &manifest.inputs {
        own.check_definition().with_context(|| format!("{MANIFEST}: input `{}`", own.name))?;
    }
    let mut inputs = shared.inputs.clone();
    for own in std::mem::take(&mut manifest.inputs) {
        match inputs.iter_mut().find(|shared| shared.name == own.name) {
            Some(shared) => *shared = own,
            None => inputs.push(own),
        }
    }
    manifest.inputs = inputs;
    if bokbasen_pipeline::Kind::from_name(&manifest.kind).is_none() {
        bail!("{MANIFEST}: kind `{}` is not a pipeline kind", manifest.kind);
    }
    for input in &manifest.inputs {
        for condition in input.required_when.keys() {
            if !manifest.inputs.iter().any(|i| &i.name == condition) {
                bail!("{MANIFEST}: input `{}` is required_when `{condition}`, which is not an input", input.name);
            }
        }
    }
    let own = Parts::parse(files)?;
    let mut parts = shared.parts.clone();
    parts.files.extend(own.files);
    parts.partials.extend(own.partials);
    if parts.files.is_empty() {
        bail!("has no files under {FILES}/");
    }
    Ok(Template { manifest, files: parts.files, partials: parts.partials })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Renderer;
    use crate::service::{Rendered, SERVICE_SPEC};

    #[test]
    fn the_built_in_catalogue_is_this_repositorys_templates_folder() {
        let built_in = Catalogue::load(None).unwrap();
        let folder = Catalogue::load(Some(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates"))).unwrap();
        assert_eq!(built_in.templates.keys().collect::<Vec<_>>(), folder.templates.keys().collect::<Vec<_>>());
        for (name, template) in &built_in.templates {
            assert_eq!(template.files, folder.templates[name].files, "{name}");
            assert_eq!(template.partials, folder.templates[name].partials, "{name}");
        }
    }

    /// Defaults, else examples: every template renders to a pipeline the
    /// provider's validation accepts, of the kind its manifest says.
    #[test]
    fn every_template_renders_its_examples_into_a_valid_pipeline() {
        let catalogue = Catalogue::load(None).unwrap();
        assert_eq!(catalogue.templates.len(), 5);
        for template in catalogue.templates.values() {
            let values = template
                .manifest
                .inputs
                .iter()
                .map(|i| (i.name.clone(), i.default_for("ebook-api").unwrap_or_else(|| i.example.clone())))
                .collect();
            let renderer = Renderer::new(template).unwrap();
            let rendered = Rendered::render(template, &renderer, "ebook-api", values)
                .unwrap_or_else(|e| panic!("{}: {e:#}", template.manifest.name));
            let spec = crate::graph::parse_spec(&rendered.files[SERVICE_SPEC]).unwrap();
            assert_eq!(spec.kind.name(), template.manifest.kind);
            for path in ["main.tf", "versions.tf", "config/test.yml", "config/secrets.yml"] {
                assert!(rendered.files.contains_key(path), "{} lacks {path}", template.manifest.name);
            }
        }
    }

    #[test]
    fn a_template_that_could_bypass_escaping_is_refused_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("t");
        std::fs::create_dir_all(t.join("files")).unwrap();
        std::fs::write(t.join(MANIFEST), "name: t\nversion: 1.0.0\ndescription: T\nkind: lambda\ninputs: []\n")
            .unwrap();
        std::fs::write(t.join("files/main.tf.hbs"), "a = \"{{{service}}}\"\n").unwrap();
        let err = format!("{:#}", Catalogue::load(Some(dir.path())).unwrap_err());
        assert!(err.contains("unescaped"), "{err}");
        std::fs::write(t.join("files/main.tf.hbs"), "a = 1\n").unwrap();
        std::fs::write(t.join("files/run.sh.hbs"), "echo\n").unwrap();
        let err = format!("{:#}", Catalogue::load(Some(dir.path())).unwrap_err());
        assert!(err.contains("run.sh"), "{err}");
    }
}
