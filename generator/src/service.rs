//! A generated service's folder, `<out>/services/<service>/`: the rendered
//! files, the answers that made them (`.bokbasen/answers.yml`) and the
//! render as it was made (`.bokbasen/base/`), which `bokbasen update` merges
//! against. Terraform reads only the folder's own `.tf` files, so the
//! hidden copy never becomes configuration.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::catalogue::Template;
use crate::inputs::Values;
use crate::render::Renderer;

pub const SERVICES: &str = "services";
pub const ANSWERS: &str = ".bokbasen/answers.yml";
pub const BASE: &str = ".bokbasen/base";
/// The pipeline spec of the service, read by its Terraform and by `bokbasen graph`.
pub const SERVICE_SPEC: &str = "service.yml";
/// Per-environment configuration (`config/<env>.yml`), shared keys, and secret names.
pub const CONFIG_DIR: &str = "config";
pub const SHARED_CONFIG: &str = "config/shared.yml";
pub const SECRETS: &str = "config/secrets.yml";

/// `.bokbasen/answers.yml`: what to render again on update.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answers {
    pub template: String,
    pub version: semver::Version,
    pub service: String,
    /// The bokbasen that rendered it.
    pub generator: String,
    pub inputs: Values,
}

impl Answers {
    pub fn to_yaml(&self) -> String {
        let body = serde_yaml_ng::to_string(self).unwrap_or_default();
        format!("# Written by bokbasen: the template and inputs this service was rendered from.\n# `bokbasen update {}` renders it again with a newer template version and merges.\n{body}", self.service)
    }
}

/// The folder of `service` under `out`, after checking that the name is
/// DNS-safe (and so cannot climb out with `..` or `/`).
pub fn folder(out: &Path, service: &str) -> Result<PathBuf> {
    bokbasen_pipeline::check_service_name(service).map_err(|e| anyhow!("SERVICE: {e}"))?;
    Ok(out.join(SERVICES).join(service))
}

/// Everything `new` writes for one service, rendered in memory first.
pub struct Rendered {
    pub answers: Answers,
    /// Output path → contents, as the template made them.
    pub files: BTreeMap<String, String>,
}

impl Rendered {
    pub fn render(template: &Template, renderer: &Renderer, service: &str, inputs: Values) -> Result<Rendered> {
        // A private provider address with the public modules: the service gets its own copy.
        let files = match crate::modules::vendoring(template, &inputs) {
            Some(vendoring) => {
                let mut files = renderer.render(service, &vendoring)?;
                let source = vendoring[crate::modules::PROVIDER_SOURCE].as_str().unwrap_or_default();
                files.extend(crate::modules::files(source)?);
                files
            }
            None => renderer.render(service, &inputs)?,
        };
        check_spec(service, files.get(SERVICE_SPEC))?;
        let answers = Answers {
            template: template.manifest.name.clone(),
            version: template.manifest.version.clone(),
            service: service.to_string(),
            generator: env!("CARGO_PKG_VERSION").to_string(),
            inputs,
        };
        Ok(Rendered { answers, files })
    }

    /// The folder's whole contents: the files, their pristine copy, the answers.
    pub fn folder_contents(&self) -> BTreeMap<String, String> {
        let mut all = self.files.clone();
        for (path, text) in &self.files {
            all.insert(format!("{BASE}/{path}"), text.clone());
        }
        all.insert(ANSWERS.to_string(), self.answers.to_yaml());
        all
    }
}

/// The rendered pipeline spec must be one the provider accepts: checked with
/// the same validation, so a bad input combination fails here with its field.
pub fn check_spec(service: &str, spec: Option<&String>) -> Result<()> {
    let Some(text) = spec else { return Ok(()) };
    let spec = crate::graph::parse_spec(text).with_context(|| format!("{SERVICE_SPEC} as rendered"))?;
    if spec.name != service {
        bail!("{SERVICE_SPEC}: name is `{}`, not the service `{service}`", spec.name);
    }
    let problems = bokbasen_pipeline::validate(&spec);
    if !problems.is_empty() {
        let lines: Vec<String> = problems.iter().map(|p| format!("  {}: {}", p.path, p.message)).collect();
        bail!("the inputs make a pipeline the provider would refuse:\n{}", lines.join("\n"));
    }
    Ok(())
}

/// Writes a folder (a new service, or its pristine render) all at once:
/// into a hidden sibling first, then renamed into place, so a failure leaves
/// nothing half-written. An existing folder is replaced only with `force`.
pub fn write_new(target: &Path, contents: &BTreeMap<String, String>, force: bool) -> Result<()> {
    let parent = target.parent().ok_or_else(|| anyhow!("{} has no parent folder", target.display()))?;
    check_free(target, force)?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    // A temporary folder is private (0700); this one becomes the service's
    // folder, so it is made as `mkdir` would make it, under the user's umask.
    let mut staging = tempfile::Builder::new();
    staging.prefix(".bokbasen-new-");
    if let Some(permissions) = created_with(0o777) {
        staging.permissions(permissions);
    }
    let staging = staging.tempdir_in(parent)?;
    for (path, text) in contents {
        let file = staging.path().join(path);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    }
    let staged = staging.keep();
    let replaced = if target.exists() {
        let old = tempfile::Builder::new().prefix(".bokbasen-old-").tempdir_in(parent)?.keep();
        std::fs::rename(target, &old)?;
        Some(old)
    } else {
        None
    };
    if let Err(e) = std::fs::rename(&staged, target) {
        if let Some(old) = &replaced {
            let _ = std::fs::rename(old, target);
        }
        let _ = std::fs::remove_dir_all(&staged);
        return Err(e).with_context(|| format!("moving the new service into {}", target.display()));
    }
    if let Some(old) = replaced {
        std::fs::remove_dir_all(old)?;
    }
    Ok(())
}

/// A new service may go to `target`: it does not exist, or `force` replaces it.
pub fn check_free(target: &Path, force: bool) -> Result<()> {
    if target.exists() && !force {
        bail!(
            "{} exists; `bokbasen update` upgrades it, or pass --force to replace it (edits there are lost)",
            target.display()
        );
    }
    Ok(())
}

/// Replaces one file's contents atomically (a temporary file renamed over
/// it). The file keeps its mode; a new one gets what the user's umask
/// leaves of 0666, as any editor's file would (a temporary file alone is 0600).
pub fn write_file(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().ok_or_else(|| anyhow!("{} has no parent folder", path.display()))?;
    std::fs::create_dir_all(dir)?;
    let existing = std::fs::metadata(path).ok().map(|meta| meta.permissions());
    let mut builder = tempfile::Builder::new();
    if let Some(permissions) = existing.clone().or_else(|| created_with(0o666)) {
        builder.permissions(permissions);
    }
    let mut file = builder.tempfile_in(dir)?;
    // The umask applies at creation only: an existing file's mode is set as it was.
    if let Some(permissions) = existing {
        file.as_file().set_permissions(permissions)?;
    }
    std::io::Write::write_all(&mut file, text.as_bytes())?;
    file.persist(path).map_err(|e| anyhow!("writing {}: {}", path.display(), e.error))?;
    Ok(())
}

/// The mode `bits` to create a file or folder with, which the system masks
/// with the user's umask; `None` where modes are not Unix's.
fn created_with(bits: u32) -> Option<std::fs::Permissions> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        Some(std::fs::Permissions::from_mode(bits))
    }
    #[cfg(not(unix))]
    {
        let _ = bits;
        None
    }
}

/// The answers of the service in `folder`.
pub fn read_answers(folder: &Path) -> Result<Answers> {
    let path = folder.join(ANSWERS);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow!("{}: {e}; is {} a service made by `bokbasen new`?", path.display(), folder.display()))?;
    serde_yaml_ng::from_str(&text).with_context(|| format!("{} is not an answers file", path.display()))
}

/// Every service under `out/services` that has answers, by name.
pub fn list(out: &Path) -> Result<Vec<PathBuf>> {
    let services = out.join(SERVICES);
    let Ok(entries) = std::fs::read_dir(&services) else { return Ok(Vec::new()) };
    let mut found = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.join(ANSWERS).is_file() {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// Every text file under `root`, by relative `/`-separated path.
pub fn read_tree(root: &Path) -> Result<BTreeMap<String, String>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) -> Result<()> {
        let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
        for entry in entries {
            let path = entry?.path();
            let relative = path.strip_prefix(root)?.to_string_lossy().replace('\\', "/");
            if path.is_dir() {
                walk(&path, root, out)?;
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                out.insert(relative, text);
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out)?;
    Ok(out)
}
