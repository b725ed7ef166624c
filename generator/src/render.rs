//! Rendering a template for one service: strict handlebars (an unknown
//! variable is an error, never an empty string), with every `{{value}}`
//! escaped for the language of the file it lands in. Templates put values
//! inside double quotes; the escape keeps them there, so no input can end
//! the string and write code (`"`, `\`, newlines, and HCL's `${`/`%{`
//! interpolation are all escaped). Templates cannot opt out: `{{{ }}}` is
//! refused when the catalogue loads. Which language a file is, and its
//! escape, is `crate::language`'s.

use std::collections::BTreeMap;

use anyhow::{anyhow, Context as _, Result};
use handlebars::{handlebars_helper, Handlebars};
use serde_json::{json, Value};

use crate::catalogue::Template;
use crate::inputs::Values;
use crate::language::Language;

/// The terraform module source of one of bokbasen's modules under `base`,
/// keeping a query (`?ref=v0.1.0`) at the end: `git::…//modules?ref=x` →
/// `git::…//modules/service-pipeline?ref=x`.
pub fn module_source(base: &str, module: &str) -> String {
    let (path, query) = base.split_once('?').map(|(p, q)| (p, Some(q))).unwrap_or((base, None));
    let joined = format!("{}/{module}", path.trim_end_matches('/'));
    match query {
        Some(query) => format!("{joined}?{query}"),
        None => joined,
    }
}

handlebars_helper!(module_source_helper: |base: str, module: str| module_source(base, module));
handlebars_helper!(deployer_role_arn: |account: str, environment: str|
    bokbasen_pipeline::names::deployer_role_arn(account, environment));
handlebars_helper!(config_path: |service: str, environment: str|
    bokbasen_pipeline::parameters::ConfigLocation::new(service, environment).path());

/// A template compiled once, rendered for many services.
pub struct Renderer<'t> {
    template: &'t Template,
    hcl: Handlebars<'static>,
    yaml: Handlebars<'static>,
    markdown: Handlebars<'static>,
}

impl<'t> Renderer<'t> {
    pub fn new(template: &'t Template) -> Result<Renderer<'t>> {
        let mut renderer = Renderer {
            template,
            hcl: registry(Language::Hcl.escape()),
            yaml: registry(Language::Yaml.escape()),
            markdown: registry(Language::Markdown.escape()),
        };
        for (name, source) in &template.partials {
            for language in [Language::Hcl, Language::Yaml, Language::Markdown] {
                renderer
                    .registry_mut(language)
                    .register_partial(name, source)
                    .with_context(|| format!("partial _shared/partials/{name}.hbs"))?;
            }
        }
        for (path, source) in &template.files {
            renderer
                .registry_mut(Language::of(path)?)
                .register_template_string(path, source)
                .with_context(|| format!("template {}: files/{path}.hbs", template.manifest.name))?;
        }
        Ok(renderer)
    }

    fn registry_mut(&mut self, language: Language) -> &mut Handlebars<'static> {
        match language {
            Language::Hcl => &mut self.hcl,
            Language::Yaml => &mut self.yaml,
            Language::Markdown => &mut self.markdown,
        }
    }

    fn registry(&self, language: Language) -> &Handlebars<'static> {
        match language {
            Language::Hcl => &self.hcl,
            Language::Yaml => &self.yaml,
            Language::Markdown => &self.markdown,
        }
    }

    /// Every file of the template for `service`: output path → contents.
    /// Rendered YAML is parsed back, so a template mistake is found here, not
    /// by the Terraform or Spring that reads it later.
    pub fn render(&self, service: &str, values: &Values) -> Result<BTreeMap<String, String>> {
        let manifest = &self.template.manifest;
        let context = context(service, manifest, values);
        let mut out = BTreeMap::new();
        for path in self.template.files.keys() {
            let language = Language::of(path)?;
            let text = self
                .registry(language)
                .render(path, &context)
                .map_err(|e| anyhow!("template {} {}: files/{path}.hbs: {e}", manifest.name, manifest.version))?;
            if language == Language::Yaml {
                serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text).map_err(|e| {
                    anyhow!(
                        "template {} {}: {path} is not valid YAML after rendering: {e}",
                        manifest.name,
                        manifest.version
                    )
                })?;
            }
            out.insert(path.clone(), text);
        }
        Ok(out)
    }
}

fn registry(escape: fn(&str) -> String) -> Handlebars<'static> {
    let mut handlebars = Handlebars::new();
    handlebars.set_strict_mode(true);
    handlebars.register_escape_fn(escape);
    handlebars.register_helper("module_source", Box::new(module_source_helper));
    handlebars.register_helper("deployer_role_arn", Box::new(deployer_role_arn));
    handlebars.register_helper("config_path", Box::new(config_path));
    handlebars
}

/// What templates see: the inputs by name, `service`, and `template.name`, `.version`, `.kind`.
fn context(service: &str, manifest: &crate::catalogue::Manifest, values: &Values) -> Value {
    let mut context = serde_json::Map::new();
    for (name, value) in values {
        context.insert(name.clone(), value.clone());
    }
    context.insert("service".into(), json!(service));
    context.insert(
        "template".into(),
        json!({ "name": manifest.name, "version": manifest.version.to_string(), "kind": manifest.kind }),
    );
    Value::Object(context)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Manifest;

    fn template(files: &[(&str, &str)]) -> Template {
        let manifest: Manifest = serde_yaml_ng::from_str(
            "name: t\nversion: 1.0.0\ndescription: T\nkind: fargate\ninputs:\n- {name: note, type: string, description: N, example: x}\n",
        )
        .unwrap();
        let files = files.iter().map(|(p, s)| (p.to_string(), s.to_string())).collect();
        Template { manifest, files, partials: BTreeMap::new() }
    }

    fn render(files: &[(&str, &str)], note: &str) -> Result<BTreeMap<String, String>> {
        let template = template(files);
        let values = Values::from([("note".to_string(), json!(note))]);
        Renderer::new(&template)?.render("ebook-api", &values)
    }

    #[test]
    fn values_stay_inside_their_strings() {
        let hostile = "\"\n}\nresource \"x\" \"y\" {\n  a = \"${file(\"/etc/passwd\")}%{ if true }";
        let out =
            render(&[("main.tf", "description = \"{{note}}\"\n"), ("c.yml", "note: \"{{note}}\"\n")], hostile).unwrap();
        let hcl = &out["main.tf"];
        assert_eq!(hcl.lines().count(), 1, "{hcl}");
        assert!(hcl.contains("$${file(") && hcl.contains("%%{ if") && !hcl.contains("\n}"), "{hcl}");
        let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&out["c.yml"]).unwrap();
        assert_eq!(yaml["note"].as_str(), Some(hostile));
    }

    #[test]
    fn unknown_variables_are_errors() {
        let err = render(&[("main.tf", "a = \"{{missing}}\"\n")], "x").unwrap_err().to_string();
        assert!(err.contains("files/main.tf.hbs"), "{err}");
    }

    #[test]
    fn rendered_yaml_is_checked() {
        let err = render(&[("c.yml", "a: [\n")], "x").unwrap_err().to_string();
        assert!(err.contains("c.yml is not valid YAML"), "{err}");
    }

    #[test]
    fn helpers_share_the_pipeline_naming() {
        let out = render(
            &[("main.tf", "a = \"{{deployer_role_arn \"222222222222\" \"test\"}}\"\nb = \"{{config_path service \"test\"}}\"\nc = \"{{module_source \"git::https://x/r.git//modules?ref=v1\" \"service-config\"}}\"\n")],
            "x",
        )
        .unwrap();
        let hcl = &out["main.tf"];
        assert!(hcl.contains("arn:aws:iam::222222222222:role/bokbasen/bokbasen-deployer-test"), "{hcl}");
        assert!(hcl.contains("b = \"/config/ebook-api_test\""), "{hcl}");
        assert!(hcl.contains("git::https://x/r.git//modules/service-config?ref=v1"), "{hcl}");
    }
}
