//! Terraform Registry documentation, rendered from the schemas so it cannot
//! drift from the code.
//!
//! The layout is the one the registry reads (and `tfplugindocs` writes):
//! `docs/index.md` for the provider, `docs/data-sources/<name>.md` and
//! `docs/resources/<name>.md` (type names without the `bokbasen_` prefix),
//! each with an example taken from `examples/` in the same layout:
//!
//! | page                        | example                                              |
//! |-----------------------------|------------------------------------------------------|
//! | `docs/index.md`             | `examples/provider/provider.tf`                      |
//! | `docs/data-sources/<n>.md`  | `examples/data-sources/<type>/data-source.tf`        |
//! | `docs/resources/<n>.md`     | `examples/resources/<type>/resource.tf` (+ `import.sh`) |
//!
//! Rendering is pure: [`render_all`] takes the schemas and a way to look up
//! example files, and returns the pages. The test below compares them with
//! the committed files; regenerate those with
//! `BOKBASEN_UPDATE_DOCS=1 cargo test -p terraform-provider-bokbasen docs`.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;

use crate::framework::{Block, Mode, NestedBlock, Nesting, Provider, Schema, Server};
use crate::value::Type;

/// The provider's local name, as in `provider "bokbasen" {}`.
pub const PROVIDER_NAME: &str = "bokbasen";

/// The binary (and repository) name the registry shows in page titles.
const BINARY_NAME: &str = "terraform-provider-bokbasen";

/// The command that rewrites the generated files.
pub const UPDATE_COMMAND: &str = "BOKBASEN_UPDATE_DOCS=1 cargo test -p terraform-provider-bokbasen docs";

/// One generated file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// Relative to the workspace root, e.g. `docs/data-sources/caller_identity.md`.
    pub path: String,
    pub content: String,
}

/// What a page documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Provider,
    DataSource,
    Resource,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Provider => "Provider",
            Kind::DataSource => "Data Source",
            Kind::Resource => "Resource",
        }
    }
}

/// The page for a type (ignored for the provider), relative to the workspace root.
pub fn doc_path(kind: Kind, type_name: &str) -> String {
    let short = type_name.strip_prefix(&format!("{PROVIDER_NAME}_")).unwrap_or(type_name);
    match kind {
        Kind::Provider => "docs/index.md".to_string(),
        Kind::DataSource => format!("docs/data-sources/{short}.md"),
        Kind::Resource => format!("docs/resources/{short}.md"),
    }
}

/// The example configuration for a type (ignored for the provider),
/// relative to the workspace root.
pub fn example_path(kind: Kind, type_name: &str) -> String {
    match kind {
        Kind::Provider => "examples/provider/provider.tf".to_string(),
        Kind::DataSource => format!("examples/data-sources/{type_name}/data-source.tf"),
        Kind::Resource => format!("examples/resources/{type_name}/resource.tf"),
    }
}

/// The `terraform import` example for a resource, relative to the workspace root.
pub fn import_example_path(type_name: &str) -> String {
    format!("examples/resources/{type_name}/import.sh")
}

/// Every page: the provider's, then data sources', then resources', each in
/// type-name order. `example` returns the contents of a file under the
/// workspace root (given the relative path), or `None` when it does not
/// exist; pages without an example simply have no "Example Usage".
pub fn render_all<P: Provider>(server: &Server<P>, example: impl Fn(&str) -> Option<String>) -> Vec<Page> {
    let mut pages = vec![Page {
        path: doc_path(Kind::Provider, PROVIDER_NAME),
        content: render_page(
            Kind::Provider,
            PROVIDER_NAME,
            server.provider_schema(),
            example(&example_path(Kind::Provider, PROVIDER_NAME)).as_deref(),
            None,
        ),
    }];
    for (name, schema) in server.data_source_schemas() {
        pages.push(Page {
            path: doc_path(Kind::DataSource, name),
            content: render_page(
                Kind::DataSource,
                name,
                schema,
                example(&example_path(Kind::DataSource, name)).as_deref(),
                None,
            ),
        });
    }
    for (name, schema) in server.resource_schemas() {
        pages.push(Page {
            path: doc_path(Kind::Resource, name),
            content: render_page(
                Kind::Resource,
                name,
                schema,
                example(&example_path(Kind::Resource, name)).as_deref(),
                example(&import_example_path(name)).as_deref(),
            ),
        });
    }
    pages.push(Page { path: PERMISSIONS_GUIDE.into(), content: permissions_guide() });
    pages
}

/// The guide to the permissions bokbasen needs and grants.
pub const PERMISSIONS_GUIDE: &str = "docs/guides/permissions.md";

/// The permissions guide, rendered from the documents the code writes
/// (`bokbasen_pipeline::permissions` and `::target`) for sample accounts,
/// so it cannot drift from them.
fn permissions_guide() -> String {
    use bokbasen_pipeline::parameters::DEFAULT_PREFIX;
    use bokbasen_pipeline::permissions::{provisioner_policy, Provisioner};
    use bokbasen_pipeline::target::{deployer_role, DeployTarget};
    use bokbasen_pipeline::{Kind as ServiceKind, Region};

    let region = Region { partition: "aws".into(), region: "eu-north-1".into() };
    let pretty = |value: &serde_json::Value| serde_json::to_string_pretty(value).expect("JSON");
    let provisioner = Provisioner {
        account: "123456789012".into(),
        config_prefix: DEFAULT_PREFIX.into(),
        environment_admin_role: Some("OrganizationAccountAccessRole".into()),
    };
    let target = DeployTarget {
        environment: "test".into(),
        account_id: "222222222222".into(),
        kinds: ServiceKind::ALL.into_iter().map(ServiceKind::name).collect(),
        pipeline_account_ids: ["123456789012".to_string()].into(),
        provisioner_arns: ["arn:aws:iam::123456789012:role/terraform".to_string()].into(),
        external_id: Some("EXTERNAL-ID".into()),
        artifact_bucket: Some("bokbasen-pipeline-artifacts".into()),
        artifact_key_arn: Some("arn:aws:kms:eu-north-1:123456789012:key/0a1b2c3d-0000-4000-8000-000000000001".into()),
    };
    let deployer = deployer_role(&target, &region);
    format!(
        "---\npage_title: \"Permissions\"\nsubcategory: \"Guides\"\ndescription: |-\n  What the identity running Terraform needs, and what bokbasen_deploy_target grants.\n---\n\n\
# Permissions\n\n\
Generated from the documents the provider writes; the samples use the tooling account `123456789012`, \
a Test account `222222222222` and region `eu-north-1`.\n\n\
## The identity that runs Terraform (tooling account)\n\n\
The least policy for `bokbasen_service_pipeline`, `bokbasen_service_config`, `bokbasen_service_secret` and \
`bokbasen_artifact_store` in the tooling account. Each environment account is reached through its deploy target's \
deployer role, which must list this identity in `provisioner_arns`. `AdministerEnvironments` is only needed to apply \
the deploy targets from the same configuration (through `OrganizationAccountAccessRole`, which AWS Organizations \
makes in member accounts); leave it out when others apply them. The end-to-end tests run as an IAM user with exactly \
this policy against an endpoint that enforces it.\n\n```json\n{}\n```\n\n\
## What `bokbasen_deploy_target` grants (each environment account)\n\n\
The deployer role's trust: bokbasen's pipeline roles (`/bokbasen/*-pipeline`) of the pipeline accounts, and the \
provisioners, by account and `aws:PrincipalArn` (no role needs to exist first, and a role made anew keeps its trust); \
the external ID binds the provisioners only, as a pipeline action cannot send one.\n\n```json\n{}\n```\n\n\
Its permissions, here with every kind: the environment's projects and their roles (by the names every bokbasen \
pipeline uses), the environment's configuration, the artifacts and their key, and each kind's deploy.\n\n```json\n{}\n```\n",
        pretty(&provisioner_policy(&provisioner, &region)),
        pretty(&deployer.trust),
        pretty(&deployer.policy),
    )
}

/// One page. `name` is the type name (the provider's name for the provider);
/// `import` is only used for resources.
pub fn render_page(kind: Kind, name: &str, schema: &Schema, example: Option<&str>, import: Option<&str>) -> String {
    let description = schema.block().description.trim();
    let (page_title, title) = match kind {
        Kind::Provider => (format!("{name} Provider"), format!("{name} Provider")),
        _ => (format!("{name} {} - {BINARY_NAME}", kind.label()), format!("{name} ({})", kind.label())),
    };
    let mut out = String::new();
    out.push_str("---\n");
    let _ = writeln!(out, "# Generated by provider/src/docs.rs from the provider's schemas; do not edit.");
    let _ = writeln!(out, "# Regenerate: {UPDATE_COMMAND}");
    let _ = writeln!(out, "page_title: {page_title:?}");
    out.push_str("subcategory: \"\"\n");
    out.push_str("description: |-\n");
    for line in description.lines() {
        if line.trim().is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "  {line}");
        }
    }
    out.push_str("---\n\n");
    let _ = writeln!(out, "# {title}\n");
    if !description.is_empty() {
        let _ = writeln!(out, "{description}\n");
    }
    if schema.block().deprecated {
        out.push_str("~> **Deprecated:** this will be removed in a future version.\n\n");
    }
    if let Some(example) = example {
        out.push_str("## Example Usage\n\n");
        let _ = writeln!(out, "```terraform\n{}\n```\n", example.trim_end());
    }
    out.push_str("<!-- schema generated from the provider's code -->\n");
    out.push_str("## Schema\n");
    render_schema(&mut out, schema.block());
    if kind == Kind::Resource {
        if let Some(import) = import {
            out.push_str("\n## Import\n\n");
            out.push_str("Import is supported using the following syntax:\n\n");
            let _ = writeln!(out, "```shell\n{}\n```", import.trim_end());
        }
    }
    out
}

/// Which list of a schema an attribute or block appears in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    Required,
    Optional,
    ReadOnly,
}

impl Group {
    const ALL: [Group; 3] = [Group::Required, Group::Optional, Group::ReadOnly];

    fn title(self) -> &'static str {
        match self {
            Group::Required => "Required",
            Group::Optional => "Optional",
            Group::ReadOnly => "Read-Only",
        }
    }

    fn of_mode(mode: Mode) -> Group {
        match mode {
            Mode::Required => Group::Required,
            Mode::Optional | Mode::OptionalComputed => Group::Optional,
            Mode::Computed => Group::ReadOnly,
        }
    }

    fn of_block(nested: &NestedBlock) -> Group {
        if block_is_read_only(&nested.block) {
            Group::ReadOnly
        } else if nested.min_items > 0 {
            Group::Required
        } else {
            Group::Optional
        }
    }
}

/// A block the user cannot write: everything in it is set by the provider.
fn block_is_read_only(block: &Block) -> bool {
    (!block.attributes.is_empty() || !block.blocks.is_empty())
        && block.attributes.iter().all(|a| a.mode == Mode::Computed)
        && block.blocks.iter().all(|b| block_is_read_only(&b.block))
}

/// A nested schema still to be rendered below the list that links to it.
enum Section<'a> {
    Block { path: Vec<String>, block: &'a Block },
    Object { path: Vec<String>, group: Group, attributes: &'a BTreeMap<String, Type> },
}

fn anchor(prefix: &str, path: &[String]) -> String {
    format!("{prefix}--{}", path.join("--"))
}

/// `## Schema`'s body: the top-level lists as `###` headings, then every
/// nested schema, breadth first.
fn render_schema(out: &mut String, block: &Block) {
    let mut queue = VecDeque::new();
    render_block_lists(out, block, &[], true, &mut queue);
    while let Some(section) = queue.pop_front() {
        match section {
            Section::Block { path, block } => {
                let _ = writeln!(out, "\n<a id=\"{}\"></a>", anchor("nestedblock", &path));
                let _ = writeln!(out, "### Nested Schema for `{}`", path.join("."));
                render_block_lists(out, block, &path, false, &mut queue);
            }
            Section::Object { path, group, attributes } => {
                let _ = writeln!(out, "\n<a id=\"{}\"></a>", anchor("nestedatt", &path));
                let _ = writeln!(out, "### Nested Schema for `{}`", path.join("."));
                let _ = writeln!(out, "\n{}:\n", group.title());
                for (name, ty) in attributes {
                    let mut child = path.clone();
                    child.push(name.clone());
                    let _ = write!(out, "- `{name}` ({})", type_name(ty));
                    if let Some(object) = object_of(ty) {
                        let _ = write!(out, " (see [below for nested schema](#{}))", anchor("nestedatt", &child));
                        queue.push_back(Section::Object { path: child, group, attributes: object });
                    }
                    out.push('\n');
                }
            }
        }
    }
}

/// The Required / Optional / Read-Only lists of one block, queueing the
/// nested schemas they link to.
fn render_block_lists<'a>(
    out: &mut String,
    block: &'a Block,
    path: &[String],
    top_level: bool,
    queue: &mut VecDeque<Section<'a>>,
) {
    enum Item<'a> {
        Attribute(&'a crate::framework::Attribute),
        Block(&'a NestedBlock),
    }
    let mut items: Vec<(Group, &str, Item<'a>)> = block
        .attributes
        .iter()
        .map(|a| (Group::of_mode(a.mode), a.name.as_str(), Item::Attribute(a)))
        .chain(block.blocks.iter().map(|b| (Group::of_block(b), b.name.as_str(), Item::Block(b))))
        .collect();
    items.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    for group in Group::ALL {
        let in_group: Vec<_> = items.iter().filter(|(g, _, _)| *g == group).collect();
        if in_group.is_empty() {
            continue;
        }
        if top_level {
            let _ = writeln!(out, "\n### {}\n", group.title());
        } else {
            let _ = writeln!(out, "\n{}:\n", group.title());
        }
        for (_, name, item) in in_group {
            let mut child = path.to_vec();
            child.push(name.to_string());
            let (flags, description, link) = match item {
                Item::Attribute(attr) => {
                    let mut flags = vec![type_name(&attr.ty)];
                    if attr.sensitive {
                        flags.push("Sensitive".to_string());
                    }
                    if attr.write_only.is_some() {
                        flags.push("Write-only, Terraform 1.11+".to_string());
                    }
                    if attr.deprecated {
                        flags.push("Deprecated".to_string());
                    }
                    let link = object_of(&attr.ty).map(|object| {
                        let link = anchor("nestedatt", &child);
                        queue.push_back(Section::Object { path: child.clone(), group, attributes: object });
                        link
                    });
                    (flags, attr.description.as_str(), link)
                }
                Item::Block(nested) => {
                    let link = anchor("nestedblock", &child);
                    queue.push_back(Section::Block { path: child.clone(), block: &nested.block });
                    let mut flags = block_flags(nested);
                    if nested.block.deprecated {
                        flags.push("Deprecated".to_string());
                    }
                    (flags, nested.block.description.as_str(), Some(link))
                }
            };
            let mut line = format!("- `{name}` ({})", flags.join(", "));
            let description = indent_continuation(description.trim());
            if !description.is_empty() {
                line.push(' ');
                line.push_str(&description);
            }
            if let Some(link) = link {
                let _ = write!(line, " (see [below for nested schema](#{link}))");
            }
            let _ = writeln!(out, "{line}");
        }
    }
}

/// `Block`, `Block List, Max: 1`, … as `tfplugindocs` writes them.
fn block_flags(nested: &NestedBlock) -> Vec<String> {
    let kind = match nested.nesting {
        Nesting::Single | Nesting::Group => "Block",
        Nesting::List => "Block List",
        Nesting::Set => "Block Set",
        Nesting::Map => "Block Map",
    };
    let mut flags = vec![kind.to_string()];
    if !matches!(nested.nesting, Nesting::Single | Nesting::Group) {
        if nested.min_items > 0 {
            flags.push(format!("Min: {}", nested.min_items));
        }
        if nested.max_items > 0 {
            flags.push(format!("Max: {}", nested.max_items));
        }
    }
    flags
}

/// Keeps a multi-line description inside its list item.
fn indent_continuation(text: &str) -> String {
    text.lines()
        .enumerate()
        .map(
            |(i, line)| {
                if i == 0 || line.trim().is_empty() {
                    line.trim_end().to_string()
                } else {
                    format!("  {line}")
                }
            },
        )
        .collect::<Vec<_>>()
        .join("\n")
}

/// The attributes of an object type, directly or as a collection's elements.
fn object_of(ty: &Type) -> Option<&BTreeMap<String, Type>> {
    match ty {
        Type::Object(attributes) => Some(attributes),
        Type::List(element) | Type::Set(element) | Type::Map(element) => object_of(element),
        _ => None,
    }
}

/// A cty type as the registry names it: `String`, `List of String`, `Map of Object`, …
pub fn type_name(ty: &Type) -> String {
    match ty {
        Type::Bool => "Bool".to_string(),
        Type::Number => "Number".to_string(),
        Type::String => "String".to_string(),
        Type::Dynamic => "Dynamic".to_string(),
        Type::List(element) => format!("List of {}", type_name(element)),
        Type::Set(element) => format!("Set of {}", type_name(element)),
        Type::Map(element) => format!("Map of {}", type_name(element)),
        Type::Object(_) => "Object".to_string(),
        Type::Tuple(_) => "Tuple".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::framework::Attribute;
    use crate::provider::BokbasenProvider;

    fn workspace_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    fn server() -> Server<BokbasenProvider> {
        Server::new(BokbasenProvider)
    }

    fn pages() -> Vec<Page> {
        let root = workspace_root();
        render_all(&server(), |path| std::fs::read_to_string(root.join(path)).ok())
    }

    /// Every `.md` file under `dir`, relative to the workspace root.
    fn markdown_files(root: &Path, dir: &Path, found: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                markdown_files(root, &path, found);
            } else if path.extension().is_some_and(|e| e == "md") {
                let relative = path.strip_prefix(root).expect("under the root");
                found.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }

    fn first_difference(expected: &str, actual: &str) -> String {
        let mut expected_lines = expected.lines();
        let mut actual_lines = actual.lines();
        for number in 1.. {
            match (expected_lines.next(), actual_lines.next()) {
                (None, None) => return "only in line endings".to_string(),
                (e, a) if e != a => {
                    return format!("first difference at line {number}:\n    generated: {e:?}\n    on disk:   {a:?}")
                }
                _ => {}
            }
        }
        unreachable!()
    }

    #[test]
    fn docs_match_the_schemas() {
        let root = workspace_root();
        let update = std::env::var("BOKBASEN_UPDATE_DOCS").is_ok_and(|v| !v.is_empty() && v != "0");
        let pages = pages();
        let mut problems = Vec::new();
        for page in &pages {
            let path = root.join(&page.path);
            let on_disk = std::fs::read_to_string(&path).ok();
            if on_disk.as_deref() == Some(page.content.as_str()) {
                continue;
            }
            if update {
                std::fs::create_dir_all(path.parent().expect("a docs directory")).expect("create the docs directory");
                std::fs::write(&path, &page.content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
                eprintln!("docs: wrote {}", page.path);
            } else if let Some(on_disk) = on_disk {
                problems.push(format!("{} is out of date; {}", page.path, first_difference(&page.content, &on_disk)));
            } else {
                problems.push(format!("{} is missing", page.path));
            }
        }
        let mut existing = Vec::new();
        markdown_files(&root, &root.join("docs"), &mut existing);
        for stale in existing.iter().filter(|path| !pages.iter().any(|p| &&p.path == path)) {
            if update {
                std::fs::remove_file(root.join(stale)).unwrap_or_else(|e| panic!("remove {stale}: {e}"));
                eprintln!("docs: removed {stale}");
            } else {
                problems.push(format!("{stale} documents nothing the provider offers"));
            }
        }
        assert!(
            problems.is_empty(),
            "the generated docs differ from the schemas:\n  {}\nRun `{UPDATE_COMMAND}` to regenerate them, and commit the result.",
            problems.join("\n  ")
        );
    }

    fn undescribed(path: &str, block: &Block, missing: &mut Vec<String>) {
        if block.description.trim().is_empty() {
            missing.push(format!("block {path}"));
        }
        for attr in &block.attributes {
            if attr.description.trim().is_empty() {
                missing.push(format!("attribute {path}.{}", attr.name));
            }
        }
        for nested in &block.blocks {
            undescribed(&format!("{path}.{}", nested.name), &nested.block, missing);
        }
    }

    #[test]
    fn docs_every_attribute_and_block_is_described() {
        let server = server();
        let mut missing = Vec::new();
        undescribed(&format!("provider {PROVIDER_NAME:?}"), server.provider_schema().block(), &mut missing);
        for (name, schema) in server.data_source_schemas() {
            undescribed(&format!("data {name:?}"), schema.block(), &mut missing);
        }
        for (name, schema) in server.resource_schemas() {
            undescribed(&format!("resource {name:?}"), schema.block(), &mut missing);
        }
        assert!(
            missing.is_empty(),
            "these have no description (the docs are made from them):\n  {}",
            missing.join("\n  ")
        );
    }

    #[test]
    fn docs_every_type_has_an_example() {
        let root = workspace_root();
        let server = server();
        let mut expected = vec![example_path(Kind::Provider, PROVIDER_NAME)];
        expected.extend(server.data_source_schemas().map(|(name, _)| example_path(Kind::DataSource, name)));
        expected.extend(server.resource_schemas().map(|(name, _)| example_path(Kind::Resource, name)));
        let missing: Vec<_> = expected.into_iter().filter(|path| !root.join(path).is_file()).collect();
        assert!(missing.is_empty(), "examples missing (the docs include them): {missing:?}");
    }

    fn terraform_files(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                terraform_files(&path, found);
            } else if path.extension().is_some_and(|e| e == "tf") {
                found.push(path);
            }
        }
    }

    #[test]
    fn docs_examples_use_only_types_the_provider_offers() {
        let server = server();
        let data_sources: Vec<_> = server.data_source_schemas().map(|(name, _)| name).collect();
        let resources: Vec<_> = server.resource_schemas().map(|(name, _)| name).collect();
        let pattern = regex_lite::Regex::new(r#"(?m)^\s*(data|resource)\s+"([a-z0-9_]+)""#).expect("valid regex");
        let mut files = Vec::new();
        terraform_files(&workspace_root().join("examples"), &mut files);
        assert!(!files.is_empty());
        let mut unknown = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read an example");
            for found in pattern.captures_iter(&text) {
                let (kind, name) = (&found[1], &found[2]);
                let known = if kind == "data" { &data_sources } else { &resources };
                if name.starts_with(&format!("{PROVIDER_NAME}_")) && !known.contains(&name) {
                    unknown.push(format!("{}: {kind} {name:?}", file.display()));
                }
            }
        }
        assert!(unknown.is_empty(), "examples use types the provider does not offer:\n  {}", unknown.join("\n  "));
    }

    #[test]
    fn docs_render_nested_blocks_types_and_import() {
        let schema = Schema::new(
            Block::new("A pipeline.")
                .attribute(Attribute::required("name", Type::String).description("Its name."))
                .attribute(Attribute::optional("token", Type::String).sensitive().description("A token."))
                .attribute(Attribute::optional_computed("tags", Type::map(Type::String)).description("Tags."))
                .attribute(Attribute::computed("ports", Type::set(Type::Number)).description("Ports."))
                .attribute(
                    Attribute::computed(
                        "stages",
                        Type::list(Type::Object(BTreeMap::from([("name".to_string(), Type::String)]))),
                    )
                    .description("Stages."),
                )
                .block(
                    NestedBlock::new(
                        "source",
                        Nesting::List,
                        Block::new("Where the code is.")
                            .attribute(Attribute::required("repository", Type::String).description("Repository.")),
                    )
                    .items(1, 1),
                ),
        );
        let page = render_page(
            Kind::Resource,
            "bokbasen_pipeline",
            &schema,
            Some("resource \"bokbasen_pipeline\" \"x\" {}\n"),
            Some("terraform import bokbasen_pipeline.x x\n"),
        );
        for expected in [
            "page_title: \"bokbasen_pipeline Resource - terraform-provider-bokbasen\"\n",
            "description: |-\n  A pipeline.\n---\n\n# bokbasen_pipeline (Resource)\n\nA pipeline.\n\n## Example Usage\n\n```terraform\nresource \"bokbasen_pipeline\" \"x\" {}\n```\n",
            "### Required\n\n- `name` (String) Its name.\n- `source` (Block List, Min: 1, Max: 1) Where the code is. (see [below for nested schema](#nestedblock--source))\n",
            "### Optional\n\n- `tags` (Map of String) Tags.\n- `token` (String, Sensitive) A token.\n",
            "### Read-Only\n\n- `ports` (Set of Number) Ports.\n- `stages` (List of Object) Stages. (see [below for nested schema](#nestedatt--stages))\n",
            "<a id=\"nestedblock--source\"></a>\n### Nested Schema for `source`\n\nRequired:\n\n- `repository` (String) Repository.\n",
            "<a id=\"nestedatt--stages\"></a>\n### Nested Schema for `stages`\n\nRead-Only:\n\n- `name` (String)\n",
            "## Import\n\nImport is supported using the following syntax:\n\n```shell\nterraform import bokbasen_pipeline.x x\n```\n",
        ] {
            assert!(page.contains(expected), "{expected:?} not in\n{page}");
        }
        assert_eq!(doc_path(Kind::Resource, "bokbasen_pipeline"), "docs/resources/pipeline.md");
        assert_eq!(doc_path(Kind::DataSource, "bokbasen_caller_identity"), "docs/data-sources/caller_identity.md");
    }
}
