//! The module layers ARCHITECTURE.md states, checked against the code: each
//! module of the provider, the pipeline crate and the generator library may
//! name (with `crate::` or `super::`) only the modules its row allows, so
//! no module imports from one above it and no two import each other.
//!
//! Units are modules (`aws`) or, for folders whose parts are layers of
//! their own, a module's child (`types::shared`, `shape::model`); `*`
//! stands for every child not listed by name (`types::*`: each type). A
//! module's own tests (`#[cfg(test)]` to the end of its file) may use
//! anything, as integration tests do. A module missing from its crate's
//! table fails the test, so a new module gets a row.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `(unit, the units it may name)`.
type Table = &'static [(&'static str, &'static [&'static str])];

const PROVIDER: Table = &[
    ("value", &[]),
    ("framework", &["value"]),
    ("plugin", &["framework", "value"]),
    ("aws", &[]),
    ("types::shared", &["aws", "framework", "value"]),
    ("types::*", &["types::shared", "aws", "framework", "value"]),
    ("types", &["types::*", "aws", "framework"]),
    ("provider", &["types", "types::shared", "aws", "framework", "value"]),
    ("docs", &["provider", "framework", "value"]),
];

const PIPELINE: Table = &[
    ("checks", &[]),
    ("names", &["checks"]),
    ("parameters", &["names"]),
    ("spec", &["parameters"]),
    ("shape::model", &["names", "spec"]),
    ("shape", &["shape::model", "names", "spec"]),
    ("validate", &["checks", "names", "shape", "spec"]),
    ("policy", &["names", "shape", "spec"]),
    ("target", &["checks", "names", "policy", "spec"]),
    ("store", &["checks", "names", "policy"]),
    ("permissions", &["names", "policy", "store"]),
    ("rehearsal", &["checks", "names", "parameters", "policy", "shape", "spec", "store", "target"]),
    ("recover", &["shape", "names", "spec"]),
];

const GENERATOR: Table = &[
    ("language", &[]),
    ("inputs", &[]),
    ("catalogue", &["inputs", "language"]),
    ("render", &["catalogue", "inputs", "language"]),
    ("graph", &[]),
    ("secret", &[]),
    ("modules", &["catalogue", "inputs"]),
    ("service", &["catalogue", "inputs", "render", "graph", "modules"]),
    ("update", &["catalogue", "inputs", "render", "service"]),
    ("config", &["service", "graph"]),
];

const RELEASE: Table = &[
    ("package", &[]),
    ("sign", &[]),
    ("linkage", &[]),
    ("cli", &[]),
    ("registry", &["package", "sign"]),
    ("mirror", &["package", "registry"]),
    ("hcp", &["package", "sign"]),
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace holds tests/").to_path_buf()
}

/// Every `.rs` file under `dir` with its module path (`types/shared.rs` → `types::shared`).
fn modules(src: &Path, dir: &Path, out: &mut Vec<(Vec<String>, PathBuf)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("readable source folder").flatten().collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            modules(src, &path, out);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let relative = path.strip_prefix(src).unwrap().with_extension("");
        let mut segments: Vec<String> = relative.iter().map(|s| s.to_string_lossy().into_owned()).collect();
        if segments.last().is_some_and(|s| s == "mod") {
            segments.pop();
        }
        out.push((segments, path));
    }
}

/// The code of a file without comments and without its tests module.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines().map(|line| line.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

/// Every path named after `crate::` or `super::` (brace groups expanded),
/// resolved to an absolute module path.
fn named_paths(text: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for (start, anchor) in text.match_indices("crate::").chain(text.match_indices("super::")) {
        if text[..start].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        // `super` is the parent module, for `a/b.rs` and `a/b/mod.rs` alike (both are `a::b`).
        let base = match anchor {
            "crate::" => Vec::new(),
            _ => module[..module.len().saturating_sub(1)].to_vec(),
        };
        let rest = &text[start + anchor.len()..];
        for tail in expand(rest) {
            let mut path = base.clone();
            path.extend(tail);
            found.push(path);
        }
    }
    found
}

/// The paths a `use`-style tail spells: `a::b`, `a::{b, c::d}`, `{a, b}`.
fn expand(rest: &str) -> Vec<Vec<String>> {
    let rest = rest.trim_start();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut depth = 1;
        let mut end = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = i;
                break;
            }
        }
        let mut items = Vec::new();
        let (mut level, mut item_start) = (0, 0);
        let group = &inner[..end];
        for (i, c) in group.char_indices() {
            match c {
                '{' => level += 1,
                '}' => level -= 1,
                ',' if level == 0 => {
                    items.push(&group[item_start..i]);
                    item_start = i + 1;
                }
                _ => {}
            }
        }
        items.push(&group[item_start..]);
        return items.into_iter().filter(|i| !i.trim().is_empty()).flat_map(expand).collect();
    }
    let ident: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    if ident.is_empty() || ident == "self" {
        return vec![Vec::new()];
    }
    let after = &rest[ident.len()..];
    match after.strip_prefix("::") {
        Some(more) => expand(more).into_iter().map(|tail| [vec![ident.clone()], tail].concat()).collect(),
        None => vec![vec![ident]],
    }
}

/// The unit a path belongs to, by the table; `None` for paths outside every
/// unit (the crate root). A child counts as a unit of its own only when it
/// is a module (one of `modules`), not an item such as `types::resources`.
fn unit_of(path: &[String], table: Table, modules: &[Vec<String>]) -> Option<String> {
    let (first, second) = (path.first()?, path.get(1));
    if let Some(second) = second.filter(|second| modules.iter().any(|m| m[..] == [first.clone(), (*second).clone()])) {
        let exact = format!("{first}::{second}");
        if table.iter().any(|(unit, _)| *unit == exact) {
            return Some(exact);
        }
        if table.iter().any(|(unit, _)| *unit == format!("{first}::*")) {
            return Some(format!("{first}::*/{second}"));
        }
    }
    table.iter().any(|(unit, _)| unit == first).then(|| first.clone())
}

/// Whether `unit` may name `other`: itself, or a row entry (`types::*` covers each type).
fn allowed(unit: &str, other: &str, table: Table) -> bool {
    if unit == other {
        return true;
    }
    let row = unit.split('/').next().unwrap_or(unit);
    let other_row = other.split('/').next().unwrap_or(other);
    let allows = table.iter().find(|(u, _)| *u == row).map(|(_, allows)| *allows).unwrap_or_default();
    allows.contains(&other_row)
}

/// `pub use module::{Item, …}` in the crate root: which module an item named
/// at the root (`crate::Kind`) comes from.
fn root_exports(root: &str) -> BTreeMap<String, String> {
    let mut exports = BTreeMap::new();
    for statement in code(root).split(';') {
        let Some(used) = statement.trim().strip_prefix("pub use ") else { continue };
        for path in expand(used) {
            if let (Some(module), Some(item)) = (path.first(), path.last()) {
                if path.len() > 1 {
                    exports.insert(item.clone(), module.clone());
                }
            }
        }
    }
    exports
}

fn check_crate(crate_dir: &str, root: &str, skip: &[&str], table: Table) -> Vec<String> {
    let src = workspace().join(crate_dir).join("src");
    let exports = root_exports(&std::fs::read_to_string(src.join(root)).unwrap());
    let mut files = Vec::new();
    modules(&src, &src, &mut files);
    let known: Vec<Vec<String>> = files.iter().map(|(module, _)| module.clone()).collect();
    let mut problems = Vec::new();
    for (module, file) in files {
        if module.is_empty() || module.len() == 1 && (module[0] == "lib" || module[0] == "main") {
            continue;
        }
        if skip.iter().any(|s| module.first().is_some_and(|m| m == s)) {
            continue;
        }
        let Some(unit) = unit_of(&module, table, &known) else {
            problems.push(format!("{}: module {} has no row in the table", file.display(), module.join("::")));
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for mut path in named_paths(&code(&text), &module) {
            if let Some(module) = path.first().and_then(|first| exports.get(first)) {
                path.insert(0, module.clone());
            }
            let Some(other) = unit_of(&path, table, &known) else { continue };
            if !allowed(&unit, &other, table) {
                problems.push(format!("{}: {unit} may not name {other} ({})", file.display(), path.join("::")));
            }
        }
    }
    problems
}

#[test]
fn the_provider_looks_only_down() {
    let problems = check_crate("provider", "lib.rs", &[], PROVIDER);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_pipeline_crate_has_no_import_circle() {
    let problems = check_crate("pipeline", "lib.rs", &[], PIPELINE);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_generator_library_has_no_import_circle() {
    // `cli/` belongs to the binary (main.rs), which uses the library from outside.
    let problems = check_crate("generator", "lib.rs", &["cli"], GENERATOR);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_release_crate_has_no_import_circle() {
    let problems = check_crate("release", "lib.rs", &[], RELEASE);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_sees_what_a_module_names() {
    let module = vec!["types".to_string(), "service_config".to_string(), "resource".to_string()];
    let paths = named_paths(
        "use super::{check, TYPE_NAME};\nuse crate::aws::{tags, AwsContext};\nlet x = crate::provider::thing();",
        &module,
    );
    let shown: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        shown,
        [
            "aws::tags",
            "aws::AwsContext",
            "provider::thing",
            "types::service_config::check",
            "types::service_config::TYPE_NAME"
        ]
    );
    let known: Vec<Vec<String>> = [vec!["types", "service_config"], vec!["types", "deploy_target"], vec!["types"]]
        .iter()
        .map(|m| m.iter().map(|s| s.to_string()).collect())
        .collect();
    let unit = unit_of(&module, PROVIDER, &known).unwrap();
    assert_eq!(unit, "types::*/service_config");
    assert!(allowed(&unit, &unit_of(&paths[0], PROVIDER, &known).unwrap(), PROVIDER));
    let provider = unit_of(&paths[2], PROVIDER, &known).unwrap();
    assert!(!allowed(&unit, &provider, PROVIDER), "a type may not name the provider");
    let other_type = unit_of(&["types".into(), "deploy_target".into()], PROVIDER, &known).unwrap();
    assert!(!allowed(&unit, &other_type, PROVIDER), "a type may not name another type");
    assert!(allowed(&unit, "types::shared", PROVIDER));
    let registry = unit_of(&["types".into(), "resources".into()], PROVIDER, &known).unwrap();
    assert_eq!(registry, "types", "an item of a folder module is that module's");
}
