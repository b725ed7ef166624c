//! A template's typed inputs: their definitions from the manifest, and the
//! values a developer gives (`--set`, `--values`, a prompt), each checked
//! before anything is rendered. An error names the input and the fix.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use anyhow::{anyhow, bail, Result};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Inputs that hold free text are still one line of printable characters:
/// a newline or control character is how a value breaks out of its place in
/// HCL or YAML, so it is refused outright (and the renderer escapes anyway).
const MAX_STRING_CHARS: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    String,
    Integer,
    Boolean,
    /// Strings; `--set name=a,b` or a YAML sequence.
    List,
}

impl InputType {
    fn name(self) -> &'static str {
        match self {
            InputType::String => "string",
            InputType::Integer => "integer",
            InputType::Boolean => "boolean",
            InputType::List => "list of strings",
        }
    }
}

/// One input of a template manifest.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: InputType,
    /// Help text: what the input is for.
    pub description: String,
    /// Absent: the input is required. Strings may name the service as `{service}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// The only values accepted (for lists: for each item).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<String>,
    /// A regular expression the whole value (each item of a list) matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<i64>,
    /// Required after all when these other inputs have these values
    /// (`{backend: s3}`): an empty default does not do then.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub required_when: BTreeMap<String, Value>,
    /// A value that passes, shown in help and used by `templates show`.
    pub example: Value,
    /// `pattern`, anchored and compiled once: a catalogue checks every
    /// input's example and default at load, and shared inputs are many.
    #[serde(skip)]
    whole_pattern: OnceLock<Result<Regex, String>>,
}

/// Input name → checked value, as the templates see it.
pub type Values = BTreeMap<String, Value>;

impl InputSpec {
    pub fn required(&self) -> bool {
        self.default.is_none()
    }

    /// The manifest's own consistency: a bad pattern or an example that its
    /// own rules refuse is the template author's mistake, found at load.
    pub fn check_definition(&self) -> Result<()> {
        if !is_identifier(&self.name) {
            bail!("input names are lowercase letters, digits and `_`, starting with a letter");
        }
        if let Some(Err(e)) = self.whole_pattern() {
            bail!("pattern is not a regular expression: {e}");
        }
        self.check_value(&self.example).map_err(|e| anyhow!("example: {e}"))?;
        if let Some(default) = &self.default {
            // `{service}` stands for a name that passes every service check.
            let default = substitute_service(default, "ebook-api");
            self.check_value(&default).map_err(|e| anyhow!("default: {e}"))?;
        }
        Ok(())
    }

    /// The default for this service, if any.
    pub fn default_for(&self, service: &str) -> Option<Value> {
        self.default.as_ref().map(|d| substitute_service(d, service))
    }

    /// A value from the command line or a prompt, converted to the input's type.
    pub fn parse(&self, text: &str) -> Result<Value> {
        let value = match self.kind {
            InputType::String => Value::String(text.to_string()),
            InputType::Integer => Value::from(text.trim().parse::<i64>().map_err(|_| {
                anyhow!("input `{}`: `{}` is not a whole number. Example: {}", self.name, printable(text), self.example)
            })?),
            InputType::Boolean => match text.trim() {
                "true" | "yes" => Value::Bool(true),
                "false" | "no" => Value::Bool(false),
                _ => bail!("input `{}`: `{}` is not true or false", self.name, printable(text)),
            },
            InputType::List => Value::Array(
                text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| Value::String(s.into())).collect(),
            ),
        };
        self.checked(value)
    }

    /// A value from a values file (YAML), which already has a type.
    pub fn accept(&self, value: Value) -> Result<Value> {
        let value = match (self.kind, value) {
            // YAML reads `8080` and `true` as such; for a string input they mean their text.
            (InputType::String, Value::Number(n)) => Value::String(n.to_string()),
            (InputType::String, Value::Bool(b)) => Value::String(b.to_string()),
            (InputType::List, Value::String(s)) => return self.parse(&s),
            (_, value) => value,
        };
        self.checked(value)
    }

    fn checked(&self, value: Value) -> Result<Value> {
        self.check_value(&value).map_err(|e| {
            anyhow!("input `{}`: {e}. Fix: --set {}={}", self.name, self.name, example_text(&self.example))
        })?;
        Ok(value)
    }

    /// Why `value` is not acceptable, without the input's name.
    pub fn check_value(&self, value: &Value) -> Result<(), String> {
        match (self.kind, value) {
            (InputType::String, Value::String(s)) => self.check_text(s),
            (InputType::Integer, Value::Number(n)) => {
                let n = n.as_i64().ok_or_else(|| format!("{n} is not a whole number"))?;
                if let Some(min) = self.minimum.filter(|min| n < *min) {
                    return Err(format!("{n} is below the minimum {min}"));
                }
                if let Some(max) = self.maximum.filter(|max| n > *max) {
                    return Err(format!("{n} is above the maximum {max}"));
                }
                Ok(())
            }
            (InputType::Boolean, Value::Bool(_)) => Ok(()),
            (InputType::List, Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let text = item.as_str().ok_or_else(|| format!("item {i} is not a string"))?;
                    self.check_text(text).map_err(|e| format!("item {i}: {e}"))?;
                }
                Ok(())
            }
            (kind, other) => Err(format!("expected a {}, got {}", kind.name(), describe(other))),
        }
    }

    fn check_text(&self, text: &str) -> Result<(), String> {
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            return Err(format!(
                "contains the control character {:?}; values are one line of printable text",
                c.escape_default().to_string()
            ));
        }
        if text.chars().count() > MAX_STRING_CHARS {
            return Err(format!("is longer than {MAX_STRING_CHARS} characters"));
        }
        if !self.allowed.is_empty() && !self.allowed.iter().any(|a| a == text) {
            return Err(format!("`{text}` is not one of {}", self.allowed.join(", ")));
        }
        if let (Some(pattern), Some(whole)) = (&self.pattern, self.whole_pattern()) {
            if !whole.as_ref().map_err(Clone::clone)?.is_match(text) {
                return Err(format!("`{text}` does not match the pattern {pattern} ({})", self.description));
            }
        }
        Ok(())
    }

    fn whole_pattern(&self) -> Option<&Result<Regex, String>> {
        let pattern = self.pattern.as_ref()?;
        Some(self.whole_pattern.get_or_init(|| Regex::new(&format!("^(?:{pattern})$")).map_err(|e| e.to_string())))
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn substitute_service(value: &Value, service: &str) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace("{service}", service)),
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute_service(v, service)).collect()),
        other => other.clone(),
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// A value as it is typed after `--set name=`.
pub fn example_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(example_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// Text safe to echo in an error: control characters shown escaped.
fn printable(text: &str) -> String {
    text.escape_debug().to_string()
}

/// How a developer gives inputs, in order of precedence (last wins).
#[derive(Debug, Default)]
pub struct Given {
    /// From `--values FILE`.
    pub file: BTreeMap<String, Value>,
    /// From `--set name=value`, in order.
    pub set: Vec<(String, String)>,
}

impl Given {
    /// Parses `--set name=value` arguments.
    pub fn with_sets(mut self, sets: &[String]) -> Result<Given> {
        for set in sets {
            let (name, value) = set
                .split_once('=')
                .ok_or_else(|| anyhow!("--set {}: expected name=value, e.g. --set team=ebooks", printable(set)))?;
            self.set.push((name.trim().to_string(), value.to_string()));
        }
        Ok(self)
    }

    /// Reads a values file: a YAML map of input name to value.
    pub fn with_file(mut self, path: &std::path::Path) -> Result<Given> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow!("--values {}: {e}", path.display()))?;
        let map: BTreeMap<String, Value> = serde_yaml_ng::from_str(&text)
            .map_err(|e| anyhow!("--values {}: not a YAML map of input names to values: {e}", path.display()))?;
        self.file = map;
        Ok(self)
    }
}

/// Resolves every input of `specs`: given values (checked), then defaults,
/// then `ask` for what is still missing. Unknown names are errors that list
/// the known ones; every problem is reported, not just the first.
pub fn resolve(
    specs: &[InputSpec],
    service: &str,
    given: &Given,
    previous: &Values,
    mut ask: impl FnMut(&InputSpec) -> Result<Option<Value>>,
) -> Result<Values> {
    let mut problems = Vec::new();
    let known = |name: &str| specs.iter().any(|s| s.name == name);
    let names = || specs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
    for name in given.file.keys().chain(given.set.iter().map(|(n, _)| n)) {
        if !known(name) {
            problems.push(format!("there is no input `{name}`; the template's inputs are: {}", names()));
        }
    }
    let mut values = Values::new();
    for spec in specs {
        let from_set = given.set.iter().rev().find(|(n, _)| *n == spec.name).map(|(_, v)| spec.parse(v));
        let from_file = || given.file.get(&spec.name).map(|v| spec.accept(v.clone()));
        let from_previous = || previous.get(&spec.name).map(|v| spec.accept(v.clone()));
        match from_set.or_else(from_file).or_else(from_previous) {
            Some(Ok(value)) => {
                values.insert(spec.name.clone(), value);
            }
            Some(Err(e)) => problems.push(e.to_string()),
            None => {
                if let Some(default) = spec.default_for(service) {
                    values.insert(spec.name.clone(), default);
                }
            }
        }
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    for spec in specs {
        if values.contains_key(&spec.name) {
            continue;
        }
        match ask(spec)? {
            Some(value) => {
                values.insert(spec.name.clone(), value);
            }
            None => problems.push(format!(
                "input `{}` is required ({}). Fix: --set {}={}",
                spec.name,
                spec.description,
                spec.name,
                example_text(&spec.example)
            )),
        }
    }
    for spec in specs {
        let empty = match values.get(&spec.name) {
            Some(Value::String(s)) => s.is_empty(),
            Some(Value::Array(a)) => a.is_empty(),
            _ => false,
        };
        let applies = !spec.required_when.is_empty()
            && spec.required_when.iter().all(|(other, wanted)| values.get(other) == Some(wanted));
        if empty && applies {
            let when: Vec<String> = spec
                .required_when
                .iter()
                .map(|(other, wanted)| format!("{other} is {}", example_text(wanted)))
                .collect();
            problems.push(format!(
                "input `{}` is required when {} ({}). Fix: --set {}={}",
                spec.name,
                when.join(" and "),
                spec.description,
                spec.name,
                example_text(&spec.example)
            ));
        }
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(yaml: &str) -> InputSpec {
        let spec: InputSpec = serde_yaml_ng::from_str(yaml).unwrap();
        spec.check_definition().unwrap();
        spec
    }

    fn team() -> InputSpec {
        spec("name: team\ntype: string\ndescription: The owning team\npattern: '[a-z][a-z0-9-]*'\nexample: ebooks")
    }

    #[test]
    fn values_are_typed_and_checked_with_the_fix() {
        assert_eq!(team().parse("ebooks").unwrap(), json!("ebooks"));
        let err = team().parse("Ebooks!").unwrap_err().to_string();
        assert!(err.contains("input `team`") && err.contains("pattern") && err.contains("--set team=ebooks"), "{err}");
        let port = spec("name: port\ntype: integer\ndescription: Port\nminimum: 1\nmaximum: 65535\nexample: 8080");
        assert_eq!(port.parse("8080").unwrap(), json!(8080));
        assert!(port.parse("0").unwrap_err().to_string().contains("minimum 1"));
        assert!(port.parse("eighty").unwrap_err().to_string().contains("whole number"));
        let flag = spec("name: migrate\ntype: boolean\ndescription: Flyway\nexample: true");
        assert_eq!(flag.parse("no").unwrap(), json!(false));
        let tags = spec("name: tags\ntype: list\ndescription: Tags\nallowed: [a, b]\nexample: [a]");
        assert_eq!(tags.parse("a, b").unwrap(), json!(["a", "b"]));
        assert!(tags.parse("a,c").unwrap_err().to_string().contains("item 1"));
    }

    #[test]
    fn control_characters_are_refused_even_without_a_pattern() {
        let free = spec("name: description\ntype: string\ndescription: Free text\nexample: An API");
        assert!(free.parse("Uses \"quotes\" and ${var.x}").is_ok());
        let err = free.parse("x\"\n}\nresource \"evil\" {").unwrap_err().to_string();
        assert!(err.contains("input `description`") && err.contains("control character"), "{err}");
        assert!(free.accept(json!("a\tb")).is_err());
    }

    #[test]
    fn resolve_reports_unknown_and_missing_inputs_together() {
        let specs = vec![team(), spec("name: branch\ntype: string\ndescription: Branch\ndefault: main\nexample: main")];
        let given = Given::default().with_sets(&["colour=red".into()]).unwrap();
        let err = resolve(&specs, "svc", &given, &Values::new(), |_| Ok(None)).unwrap_err().to_string();
        assert!(err.contains("no input `colour`") && err.contains("team, branch"), "{err}");
        let given = Given::default();
        let err = resolve(&specs, "svc", &given, &Values::new(), |_| Ok(None)).unwrap_err().to_string();
        assert!(err.contains("input `team` is required") && err.contains("--set team=ebooks"), "{err}");
        let values = resolve(&specs, "svc", &given, &Values::new(), |s| Ok(Some(s.example.clone()))).unwrap();
        assert_eq!(values["branch"], json!("main"));
        assert_eq!(values["team"], json!("ebooks"));
    }

    #[test]
    fn required_when_applies_only_under_its_condition() {
        let backend =
            spec("name: backend\ntype: string\ndescription: B\ndefault: none\nallowed: [none, s3]\nexample: s3");
        let bucket = spec("name: state_bucket\ntype: string\ndescription: Bucket\ndefault: ''\nrequired_when: {backend: s3}\nexample: b");
        let specs = vec![backend, bucket];
        let none = |_: &InputSpec| Ok(None);
        assert!(resolve(&specs, "svc", &Given::default(), &Values::new(), none).is_ok());
        let given = Given::default().with_sets(&["backend=s3".into()]).unwrap();
        let err = resolve(&specs, "svc", &given, &Values::new(), none).unwrap_err().to_string();
        assert!(err.contains("`state_bucket` is required when backend is s3"), "{err}");
    }

    #[test]
    fn defaults_name_the_service() {
        let repo = spec("name: repository\ntype: string\ndescription: Repo\ndefault: bokbasen/{service}\nexample: a/b");
        assert_eq!(repo.default_for("isbn-lookup"), Some(json!("bokbasen/isbn-lookup")));
    }

    #[test]
    fn bad_definitions_are_found_at_load() {
        let bad: InputSpec =
            serde_yaml_ng::from_str("name: x\ntype: string\ndescription: X\npattern: '[a-z]+'\nexample: ABC").unwrap();
        assert!(bad.check_definition().unwrap_err().to_string().contains("example"));
    }
}
