//! bokbasen's Terraform modules (`modules/` of this repository, built into
//! the binary) written into a service that requires the provider from a
//! private address.
//!
//! Terraform identifies a provider by its whole address, and a module can
//! only name it literally in `required_providers`: a root module requiring
//! `app.terraform.io/ORG/bokbasen` cannot call modules that require
//! `bokbasen/bokbasen`. So when a service's `provider_source` is not the
//! public address and its `modules_source` is left at the public modules
//! (which name the public address), the service gets its own copy of the
//! modules under `modules/`, naming its address, and calls them there. A
//! team with its own copy of the modules sets `modules_source` to it and
//! keeps its address in it.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use include_dir::{include_dir, Dir};
use serde_json::{json, Value};

use crate::catalogue::Template;
use crate::inputs::Values;

static MODULES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../modules");

/// The provider's public address, as the modules name it.
pub const PUBLIC_SOURCE: &str = "bokbasen/bokbasen";
/// The input naming the address a service requires the provider from.
pub const PROVIDER_SOURCE: &str = "provider_source";
/// The input naming where the modules are.
pub const MODULES_SOURCE: &str = "modules_source";
/// Where a service's own copy of the modules is, as `modules_source` says it.
pub const VENDORED: &str = "./modules";

/// The inputs to render with: `values`, with `modules_source` pointing at the
/// service's own modules when they must be written ([`files`]); `None` when
/// the service calls the modules where `modules_source` says.
pub fn vendoring(template: &Template, values: &Values) -> Option<Values> {
    let source = values.get(PROVIDER_SOURCE)?.as_str()?;
    let public_modules = template.input(MODULES_SOURCE)?.default.as_ref()?;
    if is_public(source) || values.get(MODULES_SOURCE) != Some(public_modules) {
        return None;
    }
    let mut values = values.clone();
    values.insert(MODULES_SOURCE.into(), json!(VENDORED));
    Some(values)
}

/// `bokbasen/bokbasen` in any of the forms Terraform reads as the public registry's.
fn is_public(source: &str) -> bool {
    let source = source.to_ascii_lowercase();
    source == PUBLIC_SOURCE || source.strip_prefix("registry.terraform.io/") == Some(PUBLIC_SOURCE)
}

/// Every module file, path under the service (`modules/service-pipeline/main.tf`)
/// → contents, each naming `provider_source`.
pub fn files(provider_source: &str) -> Result<BTreeMap<String, String>> {
    let public = format!("source = \"{PUBLIC_SOURCE}\"");
    let private = format!("source = {}", Value::String(provider_source.into()));
    let mut out = BTreeMap::new();
    for file in all_files(&MODULES) {
        let path = file.path().to_string_lossy().into_owned();
        let text = file.contents_utf8().ok_or_else(|| anyhow!("modules/{path} is not UTF-8"))?;
        // Each module's `required_providers` names the provider once.
        if path.ends_with("main.tf") && text.matches(&public).count() != 1 {
            bail!("modules/{path} does not name the provider as `{public}` exactly once; its address cannot be set");
        }
        out.insert(format!("modules/{path}"), text.replace(&public, &private));
    }
    if out.is_empty() {
        bail!("no modules are built into bokbasen");
    }
    Ok(out)
}

/// Every file under `dir`, at any depth.
fn all_files<'a>(dir: &'a Dir<'a>) -> Vec<&'a include_dir::File<'a>> {
    dir.entries()
        .iter()
        .flat_map(|entry| match entry {
            include_dir::DirEntry::Dir(dir) => all_files(dir),
            include_dir::DirEntry::File(file) => vec![file],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_names_the_given_address_and_nothing_else_changes() {
        let files = files("app.terraform.io/bokbasen-platform/bokbasen").unwrap();
        assert!(files.contains_key("modules/service-pipeline/main.tf"), "{:?}", files.keys());
        assert!(files.contains_key("modules/service-config/main.tf"), "{:?}", files.keys());
        for (path, text) in &files {
            let original = MODULES.get_file(path.strip_prefix("modules/").unwrap()).unwrap().contents_utf8().unwrap();
            assert!(!text.contains("\"bokbasen/bokbasen\""), "{path}");
            assert_eq!(
                text.replace("\"app.terraform.io/bokbasen-platform/bokbasen\"", "\"bokbasen/bokbasen\""),
                original,
                "{path}: only the address changes"
            );
        }
    }

    #[test]
    fn the_public_address_in_any_form_is_not_vendored() {
        for public in
            ["bokbasen/bokbasen", "registry.terraform.io/bokbasen/bokbasen", "Registry.Terraform.io/Bokbasen/Bokbasen"]
        {
            assert!(is_public(public), "{public}");
        }
        assert!(!is_public("app.terraform.io/org/bokbasen"));
        assert!(!is_public("other/bokbasen"));
    }
}
